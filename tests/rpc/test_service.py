"""crosswind.rpc.Service end to end in memory: the real driver, application and handler.

Certificates are injected as the TLS layer would report them (see
``test_rpc_tls.py`` for real TLS on every backend); tokens are real JWTs
signed with HS256 and RS256 keys made here, checked against a fixed clock.
The :class:`GridHandler` service is shared with the TLS suite.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import jwt
import pytest
from crosswind._sync import run_sync
from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.transport import ConnectionInfo, TLSInfo
from crosswind.rpc import S_ERROR, S_OK, JWTKey, Service, initialize_services, rpc_application
from crosswind.testing import Client, MemoryTransport, Response, parse_responses
from crosswind.web import Application
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

NOW = 1_800_000_000.0
SECRET = "s3cret-s3cret-s3cret-s3cret-0123"  # 32 bytes, the HS256 minimum
OTHER_SECRET = "an0ther-an0ther-an0ther-an0ther!"
AUDIENCE = "grid-service"

ALICE_DN = "/O=Crosswind Test/OU=Users/CN=Alice"
ADMIN_DN = "/O=Crosswind Test/OU=Users/CN=Root Admin"
OPERATOR_DN = "/O=Crosswind Test/OU=Users/CN=Olga Operator"
CA_DN = "/O=Crosswind Test/OU=Test CA"

USERS = {
    ALICE_DN: {"username": "alice", "group": "users", "properties": ["NormalUser"]},
    ADMIN_DN: {"username": "root", "group": "admins", "properties": []},
    OPERATOR_DN: {"username": "olga", "group": "operators", "properties": ["NormalUser"]},
}
GROUPS = {"admins": ["ServiceAdministrator", "NormalUser"]}


class GridHandler(Service):
    """The test service: typed, property-guarded, async and failing exports."""

    BASE_URL = "/Framework"
    DEFAULT_AUTHORIZATION = None

    started: list[dict[str, Any]] = []  # noqa: RUF012 -- records initializeHandler calls
    requests: list[tuple[str, str | None]] = []  # noqa: RUF012

    @classmethod
    def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
        cls.started.append(dict(serviceInfoDict))

    def initializeRequest(self) -> None:  # noqa: N802
        assert self.rpc_call is not None
        user = self.credentials["username"] if self.credentials else None
        self.requests.append((self.rpc_call.method, user))

    auth_add = ["all"]
    types_add = [int, int]

    def export_add(self, a: int, b: int) -> dict[str, Any]:
        return S_OK(a + b)

    auth_scale = ["all"]
    types_scale = [float, (int, None)]

    def export_scale(self, value: float, factor: int | None = None) -> dict[str, Any]:
        return S_OK(value * (2 if factor is None else factor))

    auth_search = ["all"]
    types_search = [str]

    def export_search(
        self, pattern: str, *, limit: int = 10, exact: bool = False
    ) -> dict[str, Any]:
        return S_OK({"pattern": pattern, "limit": limit, "exact": exact})

    auth_greet = ["authenticated"]

    def export_greet(self) -> dict[str, Any]:
        return S_OK(f"hello {self.credentials['username']}")

    auth_resetCounters = ["ServiceAdministrator"]

    def export_resetCounters(self) -> dict[str, Any]:  # noqa: N802
        return S_OK("reset")

    auth_shiftReport = ["group:operators", "ServiceAdministrator"]

    def export_shiftReport(self) -> dict[str, Any]:  # noqa: N802
        return S_OK(f"report for {self.credentials['username']}")

    auth_square = ["NormalUser"]
    types_square = [int]

    async def export_square(self, x: int) -> dict[str, Any]:
        return S_OK(await self._square(x))

    async def _square(self, x: int) -> int:
        return x * x

    auth_fail = ["all"]

    def export_fail(self) -> dict[str, Any]:
        raise RuntimeError("database password is hunter2")

    auth_asyncFail = ["all"]

    async def export_asyncFail(self) -> dict[str, Any]:  # noqa: N802
        raise KeyError("hunter2")

    auth_refuse = ["all"]

    def export_refuse(self) -> dict[str, Any]:
        return S_ERROR("no such file: /tmp/x")

    auth_badResult = ["all"]

    def export_badResult(self) -> Any:  # noqa: N802
        return 42

    auth_notJson = ["all"]

    def export_notJson(self) -> dict[str, Any]:  # noqa: N802
        return S_OK(float("nan"))

    def export_undeclared(self) -> dict[str, Any]:
        return S_OK("should never run")


class OpenByDefaultHandler(Service):
    """A service whose methods fall back to a default policy."""

    DEFAULT_AUTHORIZATION = ["authenticated"]

    def export_hello(self) -> dict[str, Any]:
        return S_OK("hello")


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_public_pem() -> bytes:
    return (
        rsa_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def make_token(
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    payload = {"sub": "bob", "aud": AUDIENCE, "iat": NOW - 60, "exp": NOW + 3600, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm, headers)


def settings(clock: Any = lambda: NOW, **extra: Any) -> dict[str, Any]:
    return {
        "clock": clock,
        "rpc_users": USERS,
        "rpc_groups": GROUPS,
        "rpc_jwt_keys": [JWTKey("HS256", SECRET), JWTKey("RS256", rsa_public_pem())],
        "rpc_jwt_audience": AUDIENCE,
        **extra,
    }


def make_app(**extra: Any) -> Application:
    return rpc_application([GridHandler, OpenByDefaultHandler], **settings(**extra))


def certificate(dn: str, issuer: str = CA_DN) -> dict[str, Any]:
    """A peer certificate in the form ssl.SSLSocket.getpeercert() returns."""
    short = {"O": "organizationName", "OU": "organizationalUnitName", "CN": "commonName"}

    def name(text: str) -> tuple:
        return tuple(((short[a], v),) for a, v in (p.split("=", 1) for p in text[1:].split("/")))

    return {"subject": name(dn), "issuer": name(issuer), "version": 3}


def call(
    app: Application,
    method: str,
    *args: Any,
    path: str = "/Framework/Grid",
    cert: dict[str, Any] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Response:
    """POST one call through the connection driver, as over a TLS connection."""
    body = json.dumps({"method": method, "args": list(args), "kwargs": kwargs}).encode()
    head = {"Host": "grid.test", "Content-Type": "application/json", **(headers or {})}
    if token is not None:
        head["Authorization"] = f"Bearer {token}"
    head["Content-Length"] = str(len(body))
    raw = f"POST {path} HTTP/1.1\r\n".encode() + b"".join(
        f"{k}: {v}\r\n".encode() for k, v in head.items()
    )
    tls = TLSInfo(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", peer_certificate=cert)
    info = ConnectionInfo(peer=("127.0.0.1", 50000), local=("127.0.0.1", 443), tls=tls)
    transport = MemoryTransport([raw + b"\r\n" + body], info)
    run_sync(ConnectionDriver(transport, app, clock=lambda: 0.0).run())
    (response,) = parse_responses(bytes(transport.sent), [b"POST"])
    return response


def result(response: Response) -> dict[str, Any]:
    assert response.headers.get("Content-Type") == "application/json"
    return response.json()


@pytest.fixture(scope="module")
def app() -> Application:
    return make_app()


# -- the protocol ------------------------------------------------------------


def test_a_typed_call_returns_its_result(app: Application) -> None:
    response = call(app, "add", 2, 3)
    assert response.status_code == 200
    assert result(response) == {"OK": True, "Value": 5}


def test_keyword_arguments_reach_the_method(app: Application) -> None:
    response = call(app, "search", "*.root", limit=3, exact=True)
    assert result(response)["Value"] == {"pattern": "*.root", "limit": 3, "exact": True}


def test_an_s_error_result_is_sent_with_200(app: Application) -> None:
    response = call(app, "refuse")
    assert (response.status_code, result(response)) == (200, S_ERROR("no such file: /tmp/x"))


def test_builtin_echo_returns_any_json_value(app: Application) -> None:
    value = {"a": [1, 2.5, None, True, "é"], "b": {}}
    assert result(call(app, "echo", value)) == S_OK(value)


def test_ping_reports_uptime_by_the_application_clock() -> None:
    now = [NOW]

    class PingHandler(Service):
        pass

    app = rpc_application([PingHandler], clock=lambda: now[0])
    now[0] += 90.0
    value = result(call(app, "ping", path="/Ping"))["Value"]
    assert value["name"] == "Ping"
    assert (value["startTime"], value["time"], value["uptime"]) == (NOW, NOW + 90.0, 90.0)
    assert value["version"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'["add", 1, 2]', "JSON object"),
        (b'{"args": []}', '"method"'),
        (b'{"method": "add", "args": {"a": 1}}', '"args"'),
        (b'{"method": "_square", "args": [2]}', "invalid method name"),
    ],
)
def test_malformed_calls_are_400_with_an_s_error(
    app: Application, body: bytes, message: str
) -> None:
    response = Client(app).post(
        "/Framework/Grid", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert result(response)["OK"] is False
    assert message in result(response)["Message"]


@pytest.mark.parametrize(
    "method", ["nonexistent", "post", "finish", "initializeRequest", "square_"]
)
def test_only_exported_methods_can_be_called(app: Application, method: str) -> None:
    response = call(app, method)
    assert response.status_code == 400
    assert result(response) == S_ERROR(f"unknown method {method!r}")


def test_other_verbs_are_405_with_allow_post(app: Application) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = Client(app).request(method, "/Framework/Grid")
        assert response.status_code == 405
        assert response.headers.get("Allow") == "POST"
        assert result(response) == S_ERROR("Method Not Allowed")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_calls_must_be_json_so_browsers_cannot_forge_them(
    app: Application, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"method": "echo", "args": [1]}'
    response = Client(app).post("/Framework/Grid", data=body, headers=headers)
    assert response.status_code == 415
    assert result(response)["OK"] is False


def test_json_with_a_charset_parameter_is_accepted(app: Application) -> None:
    response = call(app, "add", 1, 1, headers={"Content-Type": "application/json; charset=utf-8"})
    assert result(response) == S_OK(2)


def test_xsrf_cookies_setting_does_not_block_calls() -> None:
    class XsrfHandler(Service):
        pass

    app = rpc_application([XsrfHandler], xsrf_cookies=True, cookie_secret="x" * 32)
    assert result(call(app, "echo", "ok", path="/Xsrf")) == S_OK("ok")


# -- argument checks --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "args", "kwargs", "message"),
    [
        ("add", [1, "2"], {}, "argument 2 ('b') of 'add' must be int, not str"),
        ("add", [True, 2], {}, "argument 1 ('a') of 'add' must be int, not bool"),
        ("add", [1.5, 2], {}, "argument 1 ('a') of 'add' must be int, not float"),
        ("add", [1], {}, "'add' is missing argument 2 ('b')"),
        ("add", [], {"a": 1, "b": "x"}, "argument 2 ('b') of 'add' must be int, not str"),
        ("add", [1, 2, 3], {}, "wrong arguments for 'add': too many positional arguments"),
        ("add", [1, 2], {"c": 3}, "wrong arguments for 'add'"),
        ("scale", [1.5, "x"], {}, "argument 2 ('factor') of 'scale' must be int or None, not str"),
        ("search", [["a"]], {}, "argument 1 ('pattern') of 'search' must be str, not list"),
        ("echo", [], {}, "wrong arguments for 'echo'"),
    ],
)
def test_wrong_arguments_are_400_before_the_method_runs(
    app: Application, method: str, args: list, kwargs: dict, message: str
) -> None:
    GridHandler.requests.clear()
    response = call(app, method, *args, **kwargs)
    assert response.status_code == 400
    assert result(response)["OK"] is False
    assert result(response)["Message"].startswith(message)
    assert GridHandler.requests == []  # initializeRequest did not run either


def test_json_numbers_meet_float_and_none_declarations(app: Application) -> None:
    assert result(call(app, "scale", 2)) == S_OK(4)
    assert result(call(app, "scale", 1.5, None)) == S_OK(3.0)
    assert result(call(app, "scale", 1.5, 3)) == S_OK(4.5)


def test_authorization_comes_before_argument_checks(app: Application) -> None:
    # Unauthorized callers learn nothing about signatures: authorization comes first.
    response = call(app, "square", "not a number")
    assert response.status_code == 401


# -- authorization over certificates ----------------------------------------


def test_open_methods_need_no_credentials(app: Application) -> None:
    assert call(app, "add", 1, 2).status_code == 200


def test_protected_method_without_credentials_is_401_with_a_challenge(app: Application) -> None:
    response = call(app, "greet")
    assert response.status_code == 401
    assert result(response) == S_ERROR("authentication required to call 'greet'")
    assert response.headers.get("WWW-Authenticate") == 'Bearer realm="Grid"'


def test_registered_certificate_is_authenticated(app: Application) -> None:
    response = call(app, "greet", cert=certificate(ALICE_DN))
    assert result(response) == S_OK("hello alice")


def test_unregistered_certificate_is_403_for_authenticated_methods(app: Application) -> None:
    stranger = certificate("/O=Crosswind Test/OU=Users/CN=Mallory")
    response = call(app, "greet", cert=stranger)
    assert response.status_code == 403
    assert result(response) == S_ERROR("not authorized to call 'greet'")
    assert response.headers.get("WWW-Authenticate") is None
    assert call(app, "add", 1, 1, cert=stranger).status_code == 200


def test_registered_dn_from_another_ca_is_not_that_user() -> None:
    users = {ALICE_DN: {**USERS[ALICE_DN], "issuer": CA_DN}}
    app = make_app(rpc_users=users)
    assert call(app, "greet", cert=certificate(ALICE_DN)).status_code == 200
    forged = certificate(ALICE_DN, issuer="/O=Evil/CN=Evil CA")
    assert call(app, "greet", cert=forged).status_code == 403


@pytest.mark.parametrize(
    ("dn", "method", "status"),
    [
        (ALICE_DN, "resetCounters", 403),
        (ADMIN_DN, "resetCounters", 200),  # the property comes with the admins group
        (OPERATOR_DN, "resetCounters", 403),
        (ALICE_DN, "shiftReport", 403),
        (OPERATOR_DN, "shiftReport", 200),  # by group
        (ADMIN_DN, "shiftReport", 200),  # by property
        (ALICE_DN, "square", 200),
        (ALICE_DN, "undeclared", 403),
        (ADMIN_DN, "undeclared", 403),
    ],
)
def test_property_and_group_policies(app: Application, dn: str, method: str, status: int) -> None:
    args = [7] if method == "square" else []
    response = call(app, method, *args, cert=certificate(dn))
    assert response.status_code == status
    if status == 403:
        message = result(response)["Message"]
        assert message == f"not authorized to call {method!r}"


def test_a_method_without_a_policy_is_refused_to_everyone(app: Application) -> None:
    assert call(app, "undeclared").status_code == 401
    assert call(app, "undeclared", cert=certificate(ADMIN_DN)).status_code == 403
    assert (
        call(app, "undeclared", token=make_token(properties=["ServiceAdministrator"])).status_code
        == 403
    )


def test_the_default_policy_covers_methods_without_their_own() -> None:
    app = make_app()
    assert call(app, "hello", path="/OpenByDefault").status_code == 401
    response = call(app, "hello", path="/OpenByDefault", cert=certificate(ALICE_DN))
    assert result(response) == S_OK("hello")


def test_an_async_export_runs(app: Application) -> None:
    assert result(call(app, "square", 12, cert=certificate(ALICE_DN))) == S_OK(144)


def test_settings_on_the_class_take_precedence() -> None:
    class StrictHandler(Service):
        rpc_settings = {"rpc_users": {}}  # noqa: RUF012
        auth_hi = ["authenticated"]

        def export_hi(self) -> dict[str, Any]:
            return S_OK("hi")

    app = rpc_application([StrictHandler], **settings())
    assert call(app, "hi", path="/Strict", cert=certificate(ALICE_DN)).status_code == 403


# -- whoami ------------------------------------------------------------------


def test_whoami_anonymous(app: Application) -> None:
    assert result(call(app, "whoami"))["Value"] == {
        "authenticated": False,
        "method": None,
        "username": None,
        "DN": None,
        "issuer": None,
        "group": None,
        "properties": [],
    }


def test_whoami_with_a_certificate(app: Application) -> None:
    assert result(call(app, "whoami", cert=certificate(ADMIN_DN)))["Value"] == {
        "authenticated": True,
        "method": "SSL",
        "username": "root",
        "DN": ADMIN_DN,
        "issuer": CA_DN,
        "group": "admins",
        "properties": ["ServiceAdministrator", "NormalUser"],
    }


def test_whoami_with_a_token(app: Application) -> None:
    token = make_token(sub="bob", group="admins", properties=["Reader"], iss="https://idp.test")
    assert result(call(app, "whoami", token=token))["Value"] == {
        "authenticated": True,
        "method": "JWT",
        "username": "bob",
        "DN": None,
        "issuer": "https://idp.test",
        "group": "admins",
        "properties": ["Reader", "ServiceAdministrator", "NormalUser"],
    }


# -- JWT -------------------------------------------------------------------


def test_hs256_token_authenticates(app: Application) -> None:
    assert result(call(app, "greet", token=make_token())) == S_OK("hello bob")


def test_rs256_token_authenticates(app: Application) -> None:
    token = make_token(rsa_key(), "RS256", sub="carol")
    assert result(call(app, "greet", token=token)) == S_OK("hello carol")


def test_token_properties_authorize(app: Application) -> None:
    assert call(app, "resetCounters", token=make_token()).status_code == 403
    token = make_token(properties="NormalUser ServiceAdministrator")
    assert result(call(app, "resetCounters", token=token)) == S_OK("reset")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (lambda: make_token(exp=NOW - 1), "token has expired"),
        (lambda: make_token(exp=NOW), "token has expired"),
        (lambda: make_token(nbf=NOW + 60), "token is not yet valid"),
        (lambda: make_token(exp=None), "invalid token"),
        (lambda: make_token(aud="another-service"), "token is not meant for this service"),
        (lambda: make_token(aud=None), "invalid token"),
        (lambda: make_token(OTHER_SECRET), "invalid token"),
        (
            lambda: make_token(
                rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"
            ),
            "invalid token",
        ),
        (lambda: make_token(SECRET * 2, "HS384"), "invalid token"),
        (
            lambda: jwt.encode({"sub": "x", "aud": AUDIENCE, "exp": NOW + 60}, None, "none"),
            "invalid token",
        ),
        (lambda: make_token()[:-4] + "AAAA", "invalid token"),
        (lambda: "not-a-jwt", "invalid token"),
        (lambda: make_token(sub=["bob"]), "invalid token"),
    ],
    ids=[
        "expired",
        "expires-now",
        "not-yet-valid",
        "no-exp",
        "wrong-audience",
        "no-audience",
        "forged-hs256",
        "forged-rs256",
        "unpinned-algorithm",
        "alg-none",
        "tampered-signature",
        "garbage",
        "sub-not-a-string",
    ],
)
def test_bad_tokens_are_401_even_for_open_methods(
    app: Application, token: Any, message: str
) -> None:
    bad = token()
    for response in (call(app, "greet", token=bad), call(app, "echo", 1, token=bad)):
        assert response.status_code == 401
        assert result(response) == S_ERROR(message)
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer error=")


def test_key_confusion_hs256_signed_with_the_public_key_is_refused(app: Application) -> None:
    # The classic attack: sign HS256 with the RS256 public key as the secret.
    import hashlib
    import hmac

    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    claims = json.dumps({"sub": "eve", "aud": AUDIENCE, "exp": NOW + 60}).encode()
    signing_input = header + b"." + jwt.utils.base64url_encode(claims)
    signature = hmac.new(rsa_public_pem(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()
    assert call(app, "greet", token=token).status_code == 401


def test_expiry_follows_the_injected_clock() -> None:
    now = [NOW]
    app = make_app(clock=lambda: now[0])
    token = make_token(exp=NOW + 10)
    assert call(app, "greet", token=token).status_code == 200
    now[0] += 10
    response = call(app, "greet", token=token)
    assert (response.status_code, result(response)) == (401, S_ERROR("token has expired"))


def test_issuer_is_checked_when_configured() -> None:
    app = make_app(rpc_jwt_issuer="https://idp.test")
    assert call(app, "greet", token=make_token(iss="https://idp.test")).status_code == 200
    assert call(app, "greet", token=make_token(iss="https://evil.test")).status_code == 401
    assert call(app, "greet", token=make_token()).status_code == 401


def test_custom_claim_names() -> None:
    app = make_app(rpc_jwt_claims={"username": "preferred_username", "properties": "roles"})
    token = make_token(preferred_username="dora", roles=["ServiceAdministrator"])
    assert result(call(app, "greet", token=token)) == S_OK("hello dora")
    assert call(app, "resetCounters", token=token).status_code == 200


def test_a_token_without_a_user_name_is_not_authenticated(app: Application) -> None:
    token = make_token(sub=None, properties=["NormalUser"])
    assert call(app, "greet", token=token).status_code == 403
    assert result(call(app, "square", 3, token=token)) == S_OK(9)


def test_tokens_are_refused_when_no_keys_are_configured() -> None:
    app = make_app(rpc_jwt_keys=None)
    response = call(app, "add", 1, 2, token=make_token())
    assert (response.status_code, result(response)) == (
        401,
        S_ERROR("this service accepts no tokens"),
    )


def test_a_malformed_authorization_header_is_401(app: Application) -> None:
    response = call(app, "add", 1, 2, headers={"Authorization": "Bearer two words"})
    assert response.status_code == 401
    assert call(app, "add", 1, 2, headers={"Authorization": "Basic YTpi"}).status_code == 200


def test_certificate_wins_over_token_in_the_default_order(app: Application) -> None:
    response = call(app, "whoami", cert=certificate(ALICE_DN), token=make_token())
    assert result(response)["Value"]["username"] == "alice"


def test_disabled_methods_are_ignored() -> None:
    class CertOnlyHandler(Service):
        DEFAULT_AUTHENTICATION = ["SSL"]
        auth_hi = ["authenticated"]

        def export_hi(self) -> dict[str, Any]:
            return S_OK("hi")

    class TokenOnlyHandler(CertOnlyHandler):
        DEFAULT_AUTHENTICATION = ["JWT"]

    app = rpc_application([CertOnlyHandler, TokenOnlyHandler], **settings())
    response = call(app, "hi", path="/CertOnly", token=make_token())
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate") is None  # no scheme could help
    assert call(app, "hi", path="/CertOnly", token="garbage").status_code == 401
    assert call(app, "hi", path="/TokenOnly", cert=certificate(ALICE_DN)).status_code == 401
    assert call(app, "hi", path="/TokenOnly", token=make_token()).status_code == 200


# -- failures inside exports -----------------------------------------------


@pytest.mark.parametrize("method", ["fail", "asyncFail"])
def test_an_exception_becomes_s_error_and_a_logged_traceback(
    app: Application, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="crosswind.rpc"):
        response = call(app, method, cert=certificate(ALICE_DN))
    assert response.status_code == 200
    assert result(response) == S_ERROR(
        f"internal error while executing {method!r}; see the server log"
    )
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    (record,) = [r for r in caplog.records if r.name == "crosswind.rpc"]
    assert record.exc_info is not None
    assert f"Grid.{method}" in record.getMessage()
    assert "alice" in record.getMessage()


@pytest.mark.parametrize("method", ["badResult", "notJson"])
def test_an_invalid_result_becomes_s_error(
    app: Application, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="crosswind.rpc"):
        response = call(app, method)
    assert result(response) == S_ERROR(f"{method!r} returned an invalid result")
    assert any(method in r.getMessage() for r in caplog.records)


# -- start-up and per-call hooks -------------------------------------------


def test_initialize_handler_runs_once_per_class() -> None:
    class OnceHandler(Service):
        BASE_URL = "/Data"
        infos: list[dict[str, Any]] = []  # noqa: RUF012

        @classmethod
        def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.infos.append(serviceInfoDict)

    routes = initialize_services([OnceHandler], clock=lambda: 123.0, service_info={"site": "CERN"})
    initialize_services([OnceHandler], clock=lambda: 456.0)
    rpc_application([OnceHandler])
    assert routes == [("/Data/Once", OnceHandler)]
    assert OnceHandler.infos == [
        {"site": "CERN", "serviceName": "Once", "URL": "/Data/Once", "startTime": 123.0}
    ]


def test_a_failed_initialization_stops_start_up_and_can_be_retried() -> None:
    class FlakyHandler(Service):
        attempts = 0

        @classmethod
        def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.attempts += 1
            if cls.attempts == 1:
                raise ConnectionError("database down")

    with pytest.raises(ConnectionError):
        rpc_application([FlakyHandler])
    app = rpc_application([FlakyHandler])
    assert result(call(app, "echo", 1, path="/Flaky")) == S_OK(1)
    assert FlakyHandler.attempts == 2


def test_initialize_request_runs_for_each_authorized_call(app: Application) -> None:
    GridHandler.requests.clear()
    call(app, "add", 1, 2)
    call(app, "greet", cert=certificate(ALICE_DN))
    call(app, "greet")  # refused: no hook
    assert GridHandler.requests == [("add", None), ("greet", "alice")]


def test_initialize_request_failure_fails_the_call(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenHandler(Service):
        async def initializeRequest(self) -> None:  # noqa: N802
            raise OSError("no database")

    app = rpc_application([BrokenHandler])
    with caplog.at_level(logging.ERROR, logger="crosswind.rpc"):
        response = call(app, "echo", 1, path="/Broken")
    assert (response.status_code, result(response)["OK"]) == (200, False)


def test_a_service_routed_directly_initializes_itself_at_its_first_call() -> None:
    class SelfStartingHandler(Service):
        infos: list[dict[str, Any]] = []  # noqa: RUF012

        @classmethod
        def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.infos.append(serviceInfoDict)

    app = Application([(r"/SelfStarting", SelfStartingHandler)], clock=lambda: 77.0)
    assert SelfStartingHandler.infos == []
    for value in (1, 2, 3):
        assert result(call(app, "echo", value, path="/SelfStarting")) == S_OK(value)
    assert SelfStartingHandler.infos == [
        {"serviceName": "SelfStarting", "URL": "/SelfStarting", "startTime": 77.0}
    ]
    assert result(call(app, "ping", path="/SelfStarting"))["Value"]["startTime"] == 77.0


def test_an_async_initialize_handler_is_awaited_once_at_the_first_call() -> None:
    class AsyncStartHandler(Service):
        awaited = 0

        @classmethod
        async def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.awaited += 1

    app = Application([(r"/AsyncStart", AsyncStartHandler)])
    for value in (1, 2):
        assert result(call(app, "echo", value, path="/AsyncStart")) == S_OK(value)
    assert AsyncStartHandler.awaited == 1


def test_a_failed_first_call_initialization_refuses_with_one_log_line_and_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class FlakyStartHandler(Service):
        attempts = 0

        @classmethod
        def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.attempts += 1
            if cls.attempts == 1:
                raise ConnectionError("database down")

    app = Application([(r"/FlakyStart", FlakyStartHandler)])
    with caplog.at_level(logging.INFO):
        response = call(app, "echo", 1, path="/FlakyStart")
    assert response.status_code == 500
    assert result(response) == S_ERROR(
        "service FlakyStart could not initialize itself; see the server log"
    )
    # Besides the access line of the 500, one line says what happened, and no traceback.
    errors = [
        r for r in caplog.records
        if r.levelno >= logging.WARNING and r.name != "crosswind.web.access"
    ]
    assert [r.getMessage() for r in errors] == [
        "Service FlakyStart could not initialize itself: "
        "initializeHandler raised ConnectionError: database down"
    ]
    assert result(call(app, "echo", 2, path="/FlakyStart")) == S_OK(2)
    assert FlakyStartHandler.attempts == 2


def test_a_plain_initialize_handler_returning_an_awaitable_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class ConfusedHandler(Service):
        @classmethod
        def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> Any:  # noqa: N802
            async def later() -> None:
                pass

            return later()

    app = Application([(r"/Confused", ConfusedHandler)])
    with caplog.at_level(logging.ERROR, logger="crosswind.rpc"):
        assert call(app, "echo", 1, path="/Confused").status_code == 500
    assert "declare it async def" in caplog.text


def test_start_up_initialization_is_not_repeated_at_the_first_call() -> None:
    class EagerHandler(Service):
        infos: list[dict[str, Any]] = []  # noqa: RUF012

        @classmethod
        def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.infos.append(serviceInfoDict)

    app = rpc_application([EagerHandler], clock=lambda: 5.0)
    assert result(call(app, "echo", 1, path="/Eager")) == S_OK(1)
    assert EagerHandler.infos == [{"serviceName": "Eager", "URL": "/Eager", "startTime": 5.0}]


def test_services_may_not_share_a_url() -> None:
    class TwinHandler(Service):
        pass

    class Twin(Service):
        pass

    with pytest.raises(ValueError, match="both serve /Twin"):
        initialize_services([TwinHandler, Twin], clock=lambda: 0.0)
    with pytest.raises(TypeError):
        initialize_services([Application], clock=lambda: 0.0)  # type: ignore[list-item]


def test_location_and_base_url() -> None:
    class LocatedHandler(Service):
        BASE_URL = "/WorkloadManagement/"
        DEFAULT_LOCATION = "JobMonitoring"

    assert LocatedHandler.url_path() == "/WorkloadManagement/JobMonitoring"
    assert GridHandler.url_path() == "/Framework/Grid"


# -- declarations are checked when the class is defined --------------------


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"auth_f": "all"}, r"auth_f must be a list"),
        ({"types_f": [bytes]}, r"types_f\[0\] names"),
        ({"types_g": [int]}, "types_g has no method export_g"),
        ({"auth_g": ["all"]}, "auth_g has no method export_g"),
        ({"DEFAULT_AUTHENTICATION": ["SSL", "Kerberos"]}, "Kerberos"),
        ({"DEFAULT_AUTHENTICATION": "SSL"}, "must be a list"),
        ({"DEFAULT_AUTHORIZATION": "authenticated"}, "must be a list"),
    ],
)
def test_malformed_declarations_fail_at_class_definition(attributes: dict, message: str) -> None:
    def export_f(self: Service) -> dict[str, Any]:
        return S_OK()

    with pytest.raises(TypeError, match=message):
        type("BadHandler", (Service,), {"export_f": export_f, **attributes})


# -- the example service ---------------------------------------------------


def test_the_example_job_store() -> None:
    from examples.rpc_service import JobStoreHandler, make_app

    users = {ALICE_DN: USERS[ALICE_DN], ADMIN_DN: USERS[ADMIN_DN]}
    app = make_app(users, SECRET, clock=lambda: NOW)
    path = "/WorkloadManagement/JobStore"
    alice, admin = certificate(ALICE_DN), certificate(ADMIN_DN)
    assert result(call(app, "submit", "echo hi", path=path, cert=alice)) == S_OK(1)
    assert result(call(app, "submit", "sleep 1", 5, path=path, cert=alice)) == S_OK(2)
    assert call(app, "submit", "x", "high", path=path, cert=alice).status_code == 400
    assert call(app, "submit", "echo hi", path=path).status_code == 401
    assert result(call(app, "status", 1, path=path)) == S_ERROR(
        "authentication required to call 'status'"
    )
    bob = make_token(aud="JobStore")
    assert result(call(app, "kill", 1, path=path, token=bob)) == S_ERROR(
        "job 1 belongs to someone else"
    )
    assert result(call(app, "kill", 1, path=path, cert=admin)) == S_OK()
    assert result(call(app, "status", 1, path=path, token=bob)) == S_OK("Killed")
    assert call(app, "purge", path=path, cert=alice).status_code == 403
    assert result(call(app, "purge", path=path, cert=admin)) == S_OK(1)
    assert result(call(app, "listJobs", path=path)) == S_OK(
        [{"id": 2, "owner": "alice", "status": "Waiting"}]
    )
    assert JobStoreHandler.max_jobs_per_user == 10
