"""The pure parts of crosswind.rpc: wire format, type checks, policies, DNs, JWT keys."""

from __future__ import annotations

import math

import jwt
import pytest
from crosswind.errors import RequestError
from crosswind.rpc import S_ERROR, S_OK
from crosswind.rpc.auth import (
    AuthenticationError,
    JWTKey,
    JWTVerifier,
    authenticate,
    bearer_token,
    credentials_from_certificate,
    credentials_from_claims,
    distinguished_name,
)
from crosswind.rpc.authorization import authorize, resolve_policy, validate_policy
from crosswind.rpc.protocol import (
    Call,
    decode_call,
    decode_result,
    encode_call,
    encode_result,
    is_method_name,
    normalize_result,
)
from crosswind.rpc.typecheck import check_arguments, matches, validate_type_spec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

SECRET = "0123456789abcdef0123456789abcdef"  # 32 bytes: the HS256 minimum

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
method_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,20}", fullmatch=True)


# -- protocol --------------------------------------------------------------


def test_result_helpers_have_the_grid_shape() -> None:
    assert S_OK(3) == {"OK": True, "Value": 3}
    assert S_OK() == {"OK": True, "Value": None}
    assert S_ERROR("no such file") == {"OK": False, "Message": "no such file"}
    assert S_ERROR(ValueError("bad")) == {"OK": False, "Message": "bad"}


@given(method_names, st.lists(json_values, max_size=4), st.dictionaries(st.text(), json_values))
def test_a_call_survives_the_wire(method: str, args: list, kwargs: dict) -> None:
    assert decode_call(encode_call(method, args, kwargs)) == Call(method, args, kwargs)


@given(json_values)
def test_a_result_survives_the_wire(value: object) -> None:
    assert decode_result(encode_result(S_OK(value))) == S_OK(value)


def test_decoding_fills_in_absent_arguments() -> None:
    assert decode_call(b'{"method": "ping"}') == Call("ping", [], {})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"method": "x", "args": [NaN]}', "not valid JSON"),
        (b'{"method": "x", "args": [Infinity]}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (b'["ping"]', "JSON object"),
        (b"{}", '"method"'),
        (b'{"method": 3}', '"method"'),
        (b'{"method": "_secret"}', "invalid method name"),
        (b'{"method": "a b"}', "invalid method name"),
        (b'{"method": ""}', "invalid method name"),
        (b'{"method": "x", "args": {}}', '"args"'),
        (b'{"method": "x", "kwargs": []}', '"kwargs"'),
    ],
)
def test_malformed_calls_are_refused_with_400(body: bytes, reason: str) -> None:
    with pytest.raises(RequestError) as caught:
        decode_call(body)
    assert caught.value.status_code == 400
    assert reason in caught.value.reason


def test_method_names() -> None:
    assert is_method_name("getFile")
    assert is_method_name("get_file2")
    for bad in ("", "_hidden", "__class__", "a.b", "a-b", "2fast", "x" * 129, None, 3):
        assert not is_method_name(bad)


def test_encoding_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(ValueError, match="method name"):
        encode_call("_private")
    with pytest.raises(ValueError):
        encode_call("f", [math.nan])
    with pytest.raises(TypeError):
        encode_call("f", [object()])
    with pytest.raises(ValueError):
        encode_result(S_OK(math.inf))


def test_results_are_reduced_to_the_protocol_keys() -> None:
    assert normalize_result({"OK": True, "Value": 1, "CallStack": ["x"]}) == S_OK(1)
    assert normalize_result({"OK": False, "Message": "m", "Errno": 2}) == S_ERROR("m")
    for bad in (
        None,
        3,
        [],
        {"Value": 1},
        {"OK": "yes"},
        {"OK": False},
        {"OK": False, "Message": 1},
    ):
        with pytest.raises(TypeError):
            normalize_result(bad)


def test_decoding_a_result_refuses_other_answers() -> None:
    for body in (b"<html>502</html>", b"[]", b'{"OK": 1}', b'{"error": "x"}'):
        with pytest.raises(ValueError):
            decode_result(body)


# -- type checks -------------------------------------------------------------


def test_type_specs_are_normalized() -> None:
    spec = validate_type_spec([str, (int, None), object], "types_f")
    assert spec == ((str,), (int, type(None)), (object,))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("str", "must be a list"),
        (str, "must be a list"),
        ([tuple], "types_f\\[0\\] names"),
        ([str, set], "types_f\\[1\\] names"),
        ([()], "empty tuple"),
        ([(int, bytes)], "bytes"),
    ],
)
def test_malformed_type_specs_are_programmer_errors(spec: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        validate_type_spec(spec, "types_f")


@pytest.mark.parametrize(
    ("value", "accepted", "expected"),
    [
        ("x", (str,), True),
        (1, (int,), True),
        (True, (int,), False),  # JSON true is not the number 1
        (True, (bool,), True),
        (0, (bool,), False),
        (2, (float,), True),  # 2 and 2.0 are the same JSON number
        (2.5, (int,), False),
        (False, (float,), False),
        (None, (type(None),), True),
        (None, (str,), False),
        ([1], (list,), True),
        ({"a": 1}, (dict,), True),
        ({"a": 1}, (list,), False),
        ([], (object,), True),
        (None, (object,), True),
        ("x", (int, str), True),
    ],
)
def test_json_type_matching(value: object, accepted: tuple, expected: bool) -> None:
    assert matches(value, accepted) is expected


@given(json_values)
def test_every_json_value_matches_its_own_type_and_object(value: object) -> None:
    assert matches(value, (type(value),))
    assert matches(value, (object,))


def test_check_arguments_names_the_offending_argument() -> None:
    spec = validate_type_spec([str, int], "types_copy")
    check_arguments("copy", spec, ["a", 1], {}, ["source", "count"])
    check_arguments("copy", spec, ["a"], {"count": 1}, ["source", "count"])
    with pytest.raises(
        RequestError, match=r"argument 2 \('count'\) of 'copy' must be int, not str"
    ):
        check_arguments("copy", spec, ["a", "1"], {}, ["source", "count"])
    with pytest.raises(
        RequestError, match=r"argument 2 \('count'\) of 'copy' must be int, not str"
    ):
        check_arguments("copy", spec, ["a"], {"count": "1"}, ["source", "count"])
    with pytest.raises(RequestError, match=r"'copy' is missing argument 2 \('count'\)"):
        check_arguments("copy", spec, ["a"], {}, ["source", "count"])
    with pytest.raises(RequestError, match=r"argument 1 of 'copy' must be str, not None"):
        check_arguments("copy", spec, [None, 1])
    # A typed parameter with a default may be left out, but not given the wrong type.
    check_arguments("copy", spec, ["a"], {}, ["source", "count"], {"count"})
    with pytest.raises(RequestError, match="must be int, not float"):
        check_arguments("copy", spec, ["a", 1.5], {}, ["source", "count"], {"count"})
    nullable = validate_type_spec([(int, None)], "t")
    with pytest.raises(RequestError, match="must be int or None, not bool"):
        check_arguments("f", nullable, [True])


# -- authorization -----------------------------------------------------------

ALICE = {"username": "alice", "group": "users", "properties": ["NormalUser"]}
ADMIN = {"username": "root", "group": "operators", "properties": ["ServiceAdministrator"]}
UNREGISTERED = {"username": None, "group": None, "properties": []}


@pytest.mark.parametrize(
    ("policy", "credentials", "status"),
    [
        (["all"], None, 200),
        (["ALL"], ALICE, 200),
        (["authenticated"], None, 401),
        (["authenticated"], ALICE, 200),
        (["authenticated"], UNREGISTERED, 403),
        (["ServiceAdministrator"], ALICE, 403),
        (["ServiceAdministrator"], ADMIN, 200),
        (["ServiceAdministrator"], None, 401),
        (["NormalUser", "ServiceAdministrator"], ALICE, 200),
        (["group:operators"], ADMIN, 200),
        (["group:operators"], ALICE, 403),
        (["operators"], ADMIN, 403),  # a group name is not a property
        (["serviceadministrator"], ADMIN, 403),  # properties are case-sensitive
        ([], ALICE, 403),
        (None, ALICE, 403),
        (None, None, 401),
    ],
)
def test_policy_outcomes(policy: list | None, credentials: dict | None, status: int) -> None:
    decision = authorize("reset", policy, credentials)
    assert decision.allowed is (status == 200)
    assert decision.status_code == status


@given(
    st.lists(st.text(min_size=1).filter(lambda s: s.lower() != "all"), max_size=4),
    st.none() | st.lists(st.text(min_size=1), max_size=3),
)
def test_refusals_name_the_method_not_the_policy(policy: list, properties: list | None) -> None:
    credentials = (
        None if properties is None else {"username": "u", "group": None, "properties": properties}
    )
    decision = authorize("getSecrets", policy, credentials)
    if decision.allowed:
        assert properties is not None and (
            "authenticated" in [p.lower() for p in policy] or set(policy) & set(properties)
        )
    else:
        assert decision.status_code == (401 if credentials is None else 403)
        # One fixed sentence naming the method: nothing of the policy can leak
        # (checking for policy words as substrings failed on "then" in
        # "authentication").
        assert decision.reason in (
            "authentication required to call 'getSecrets'",
            "not authorized to call 'getSecrets'",
        )


def test_policy_resolution_falls_back_to_the_default() -> None:
    class Owner:
        auth_read = ["all"]

    assert resolve_policy(Owner, "read", ["authenticated"]) == ("all",)
    assert resolve_policy(Owner, "write", ["authenticated"]) == ("authenticated",)
    assert resolve_policy(Owner, "write", None) is None


def test_malformed_policies_are_programmer_errors() -> None:
    with pytest.raises(TypeError, match=r"\['all'\]"):
        validate_policy("all", "auth_x")
    with pytest.raises(TypeError):
        validate_policy(["all", 3], "auth_x")
    with pytest.raises(TypeError):
        validate_policy([""], "auth_x")
    with pytest.raises(TypeError, match="without a group name"):
        validate_policy(["group:"], "auth_x")
    assert validate_policy(("a", "group:b"), "auth_x") == ("a", "group:b")


# -- distinguished names and certificates -----------------------------------

GRID_SUBJECT = (
    (("domainComponent", "org"),),
    (("domainComponent", "example"),),
    (("organizationName", "Example Grid"),),
    (("organizationalUnitName", "Users"),),
    (("commonName", "Alice Smith"),),
)


def test_dn_uses_the_grid_slash_form_in_certificate_order() -> None:
    assert (
        distinguished_name(GRID_SUBJECT)
        == "/DC=org/DC=example/O=Example Grid/OU=Users/CN=Alice Smith"
    )
    assert distinguished_name(((("countryName", "CH"),), (("1.2.3.4", "x"),))) == "/C=CH/1.2.3.4=x"
    multi = ((("commonName", "a"), ("userId", "b")),)
    assert distinguished_name(multi) == "/CN=a+UID=b"
    assert distinguished_name(()) == ""


def test_dn_escapes_separators_so_values_cannot_forge_attributes() -> None:
    forged = ((("organizationName", "Grid/CN=root"),),)
    genuine = ((("organizationName", "Grid"),), (("commonName", "root"),))
    assert distinguished_name(forged) == r"/O=Grid\/CN=root"
    assert distinguished_name(forged) != distinguished_name(genuine)
    assert distinguished_name(((("commonName", "a+UID=b"),),)) == r"/CN=a\+UID=b"
    assert distinguished_name(((("commonName", "back\\slash"),),)) == r"/CN=back\\slash"


names = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["commonName", "organizationName", "userId"]), st.text(max_size=6)
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
    max_size=4,
).map(tuple)


@given(names, names)
def test_different_names_give_different_dns(first: tuple, second: tuple) -> None:
    if first != second:
        assert distinguished_name(first) != distinguished_name(second)


CERT = {
    "subject": GRID_SUBJECT,
    "issuer": ((("organizationName", "Example Grid"),), (("commonName", "Example CA"),)),
}
DN = "/DC=org/DC=example/O=Example Grid/OU=Users/CN=Alice Smith"
CA_DN = "/O=Example Grid/CN=Example CA"


def test_certificate_credentials_for_a_registered_user() -> None:
    users = {DN: {"username": "alice", "group": "admins", "properties": ["NormalUser"]}}
    groups = {"admins": ["ServiceAdministrator", "NormalUser"]}
    assert credentials_from_certificate(CERT, users, groups) == {
        "method": "SSL",
        "username": "alice",
        "DN": DN,
        "issuer": CA_DN,
        "group": "admins",
        "properties": ["NormalUser", "ServiceAdministrator"],
    }


def test_certificate_credentials_for_an_unregistered_or_missing_certificate() -> None:
    unregistered = credentials_from_certificate(CERT, {})
    assert unregistered is not None
    assert (unregistered["username"], unregistered["DN"], unregistered["properties"]) == (
        None,
        DN,
        [],
    )
    assert credentials_from_certificate(None, {}) is None
    assert credentials_from_certificate({}, {}) is None


def test_a_pinned_issuer_must_match() -> None:
    pinned = {DN: {"username": "alice", "issuer": "/O=Other/CN=Other CA"}}
    assert credentials_from_certificate(CERT, pinned)["username"] is None  # type: ignore[index]
    pinned = {DN: {"username": "alice", "issuer": CA_DN}}
    assert credentials_from_certificate(CERT, pinned)["username"] == "alice"  # type: ignore[index]


def test_malformed_user_entries_are_programmer_errors() -> None:
    for entry in (
        {"group": "g"},
        {"username": "a", "properties": "Admin"},
        {"username": "a", "group": 3},
    ):
        with pytest.raises(TypeError):
            credentials_from_certificate(CERT, {DN: entry})


def test_claim_credentials() -> None:
    claims = {"sub": "bob", "iss": "https://idp", "group": "ops", "properties": "Read Write"}
    assert credentials_from_claims(claims, groups={"ops": ["Operator"]}) == {
        "method": "JWT",
        "username": "bob",
        "DN": None,
        "issuer": "https://idp",
        "group": "ops",
        "properties": ["Read", "Write", "Operator"],
    }
    renamed = credentials_from_claims(
        {"email": "b@x", "roles": ["R"]}, {"username": "email", "properties": "roles"}
    )
    assert (renamed["username"], renamed["properties"]) == ("b@x", ["R"])
    for bad in ({"sub": 3}, {"properties": [1]}, {"group": ["a"]}, {"properties": {"a": 1}}):
        with pytest.raises(AuthenticationError):
            credentials_from_claims(bad)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("Basic dXNlcjpwdw==", None),
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer  abc-_~+/=", "abc-_~+/="),
    ],
)
def test_bearer_token_extraction(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", 'Bearer a"b', "Bearer =abc"])
def test_malformed_bearer_headers_are_401(header: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        bearer_token(header)
    assert caught.value.status_code == 401


def test_authentication_order_and_refusals() -> None:
    users = {DN: {"username": "alice"}}
    token = "a.b.c"
    cert_first = authenticate(
        ["SSL", "JWT"], certificate=CERT, authorization=f"Bearer {token}", users=users
    )
    assert cert_first is not None and cert_first["method"] == "SSL"
    with pytest.raises(AuthenticationError, match="accepts no tokens"):
        authenticate(["JWT", "SSL"], certificate=CERT, authorization=f"Bearer {token}", users=users)
    assert authenticate(["SSL"], certificate=None, authorization=f"Bearer {token}") is None
    assert authenticate(["JWT"], certificate=CERT, authorization=None) is None
    with pytest.raises(ValueError, match="KERBEROS"):
        authenticate(["KERBEROS"], certificate=None, authorization=None)


# -- JWT keys and verification -------------------------------------------


def test_jwt_keys_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        JWTKey("HS256", "short")
    with pytest.raises(ValueError, match="at least 64 bytes"):
        JWTKey("HS512", SECRET)
    with pytest.raises(ValueError, match="unsupported"):
        JWTKey("none", SECRET)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="2048"):
        JWTKey("RS256", weak.public_key())
    assert SECRET not in repr(JWTKey("HS256", SECRET))


def test_an_hmac_key_cannot_be_a_public_key_in_disguise() -> None:
    public_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(jwt.InvalidKeyError):
        JWTKey("HS256", public_pem)


def test_a_verifier_needs_keys_and_an_audience() -> None:
    with pytest.raises(ValueError, match="audience"):
        JWTVerifier([("HS256", SECRET)], audience="", clock=lambda: 0.0)
    with pytest.raises(ValueError, match="at least one key"):
        JWTVerifier([], audience="svc", clock=lambda: 0.0)
    with pytest.raises(TypeError, match="not str"):
        JWTVerifier([SECRET], audience="svc", clock=lambda: 0.0)


@pytest.mark.parametrize(
    ("claims", "outcome"),
    [
        ({"exp": 1000}, "token has expired"),  # exp == now: already expired (RFC 7519 4.1.4)
        ({"exp": 1000.5}, None),
        ({"exp": 2000, "nbf": 1001}, "not yet valid"),
        ({"exp": 2000, "nbf": 1000}, None),
        ({"exp": 2000, "iat": 1500}, "not yet valid"),
        ({"exp": "2000"}, "invalid token"),
        ({"exp": True}, "invalid token"),
        ({}, "invalid token"),  # a token that never expires is refused
    ],
)
def test_time_claims_use_the_injected_clock(claims: dict, outcome: str | None) -> None:
    verifier = JWTVerifier([("HS256", SECRET)], audience="svc", clock=lambda: 1000.0)
    token = jwt.encode({"aud": "svc", **claims}, SECRET, algorithm="HS256")
    if outcome is None:
        assert verifier.verify(token)["aud"] == "svc"
    else:
        with pytest.raises(AuthenticationError, match=outcome):
            verifier.verify(token)


def test_leeway_tolerates_clock_skew() -> None:
    token = jwt.encode({"aud": "svc", "exp": 995, "nbf": 1004}, SECRET, algorithm="HS256")
    JWTVerifier([("HS256", SECRET)], audience="svc", clock=lambda: 1000.0, leeway=10).verify(token)


def test_key_ids_select_the_key() -> None:
    other = "f" * 32
    verifier = JWTVerifier(
        [JWTKey("HS256", SECRET, kid="one"), JWTKey("HS256", other, kid="two")],
        audience="svc",
        clock=lambda: 0.0,
    )
    claims = {"aud": "svc", "exp": 10}
    assert verifier.verify(jwt.encode(claims, other, "HS256", headers={"kid": "two"}))
    with pytest.raises(AuthenticationError, match="invalid token"):
        verifier.verify(jwt.encode(claims, other, "HS256", headers={"kid": "one"}))
