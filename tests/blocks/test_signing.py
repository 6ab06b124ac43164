import base64

import pytest
import tornado.web
from crosswind.signing import (
    create_signed_value,
    decode_signed_value,
    get_signature_key_version,
)
from hypothesis import assume, given
from hypothesis import strategies as st

NOW = 1_700_000_000.75
DAY = 86400


def clock() -> float:
    return NOW


def at(t: float):
    return lambda: t


secrets = st.one_of(st.text(min_size=1, max_size=40), st.binary(min_size=1, max_size=40))
names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)
values = st.one_of(st.binary(max_size=200), st.text(max_size=100))


def _utf8(value):
    return value.encode() if isinstance(value, str) else value


# --- interop with the real Tornado -------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("value", ["hello", "héllo|wörld", b"\x00\xff\x10", ""])
def test_created_values_are_byte_identical_to_tornado(version, value):
    ours = create_signed_value("s3cret", "session", value, version=version, clock=clock)
    theirs = tornado.web.create_signed_value("s3cret", "session", value, version=version, clock=clock)
    assert ours == theirs


@pytest.mark.parametrize("version", [1, 2])
def test_tornado_values_decode_here(version):
    signed = tornado.web.create_signed_value(b"key", "user", "alice", version=version, clock=clock)
    assert decode_signed_value(b"key", "user", signed, clock=clock) == b"alice"
    assert decode_signed_value(b"key", "user", signed.decode(), clock=clock) == b"alice"


@pytest.mark.parametrize("version", [1, 2])
def test_our_values_decode_in_tornado(version):
    signed = create_signed_value("key", "user", b"\x01bob", version=version, clock=clock)
    assert tornado.web.decode_signed_value("key", "user", signed, clock=clock) == b"\x01bob"


def test_key_versioned_dict_interop_both_ways():
    keys = {0: "old key", 3: "new key"}
    theirs = tornado.web.create_signed_value(keys, "n", "v", clock=clock, key_version=3)
    ours = create_signed_value(keys, "n", "v", clock=clock, key_version=3)
    assert ours == theirs
    assert get_signature_key_version(ours) == 3
    assert decode_signed_value(keys, "n", theirs, clock=clock) == b"v"
    assert tornado.web.decode_signed_value(keys, "n", ours, clock=clock) == b"v"
    # The value names key 3; a dict without it, or with another secret under 3, refuses it.
    assert decode_signed_value({0: "old key"}, "n", ours, clock=clock) is None
    assert decode_signed_value({3: "other"}, "n", ours, clock=clock) is None


def test_single_secret_records_key_version_like_tornado():
    theirs = tornado.web.create_signed_value("k", "n", "v", clock=clock, key_version=5)
    ours = create_signed_value("k", "n", "v", clock=clock, key_version=5)
    assert ours == theirs
    assert get_signature_key_version(ours) == 5
    assert decode_signed_value("k", "n", ours, clock=clock) == b"v"


@given(secret=secrets, name=names, value=values, version=st.sampled_from([1, 2]))
def test_tornado_agrees_on_arbitrary_values(secret, name, value, version):
    theirs = tornado.web.create_signed_value(secret, name, value, version=version, clock=clock)
    assert create_signed_value(secret, name, value, version=version, clock=clock) == theirs
    assert decode_signed_value(secret, name, theirs, clock=clock) == _utf8(value)


# --- properties ----------------------------------------------------------------------------------


@given(
    secret=secrets,
    name=names,
    value=values,
    version=st.sampled_from([1, 2]),
    signed_at=st.integers(min_value=1, max_value=4_000_000_000),
    age=st.floats(min_value=0, max_value=30 * DAY),
)
def test_round_trip(secret, name, value, version, signed_at, age):
    signed = create_signed_value(secret, name, value, version=version, clock=at(signed_at))
    assert signed.isascii()
    decoded = decode_signed_value(secret, name, signed, clock=at(signed_at + age))
    assert decoded == _utf8(value)


@given(
    secret=secrets,
    value=values,
    version=st.sampled_from([1, 2]),
    data=st.data(),
)
def test_any_single_byte_mutation_never_validates(secret, value, version, data):
    signed = create_signed_value(secret, "cookie", value, version=version, clock=clock)
    index = data.draw(st.integers(min_value=0, max_value=len(signed) - 1), label="index")
    replacement = data.draw(st.integers(min_value=0, max_value=255), label="byte")
    assume(signed[index] != replacement)
    mutated = signed[:index] + bytes([replacement]) + signed[index + 1 :]
    assert decode_signed_value(secret, "cookie", mutated, clock=clock) is None


@given(secret=secrets, value=values, version=st.sampled_from([1, 2]), data=st.data())
def test_truncation_never_validates(secret, value, version, data):
    signed = create_signed_value(secret, "cookie", value, version=version, clock=clock)
    cut = data.draw(st.integers(min_value=0, max_value=len(signed) - 1))
    assert decode_signed_value(secret, "cookie", signed[:cut], clock=clock) is None


@given(
    garbage=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300),
        st.from_regex(rb"\A[0-9]{1,4}\|[0-9:|a-zA-Z=+/]{0,200}\Z"),
    ),
    secret=st.one_of(secrets, st.just({0: "a", 1: b"b"})),
    min_version=st.sampled_from([None, 1, 2]),
)
def test_arbitrary_input_never_raises(garbage, secret, min_version):
    assert (
        decode_signed_value(secret, "n", garbage, clock=clock, min_version=min_version) is None
    )
    version = get_signature_key_version(garbage)
    assert version is None or version >= 0


# --- rejections ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_wrong_name_or_secret_is_rejected(version):
    signed = create_signed_value("key", "a", "v", version=version, clock=clock)
    assert decode_signed_value("key", "b", signed, clock=clock) is None
    assert decode_signed_value("other", "a", signed, clock=clock) is None


@pytest.mark.parametrize("version", [1, 2])
def test_expiry_matches_tornado(version):
    signed = create_signed_value("key", "n", "v", version=version, clock=at(NOW))
    fresh, stale = at(NOW + 2 * DAY), at(NOW + 3 * DAY)
    assert decode_signed_value("key", "n", signed, max_age_days=2.5, clock=fresh) == b"v"
    assert decode_signed_value("key", "n", signed, max_age_days=2.5, clock=stale) is None
    assert tornado.web.decode_signed_value("key", "n", signed, 2.5, clock=stale) is None
    # Default lifetime is 31 days.
    assert decode_signed_value("key", "n", signed, clock=at(NOW + 30 * DAY)) == b"v"
    assert decode_signed_value("key", "n", signed, clock=at(NOW + 32 * DAY)) is None


def test_v1_far_future_timestamp_is_rejected_like_tornado():
    signed = create_signed_value("key", "n", "v", version=1, clock=at(NOW + 40 * DAY))
    assert tornado.web.decode_signed_value("key", "n", signed, clock=clock) is None
    assert decode_signed_value("key", "n", signed, clock=clock) is None
    near = create_signed_value("key", "n", "v", version=1, clock=at(NOW + 20 * DAY))
    assert decode_signed_value("key", "n", near, clock=clock) == b"v"


def test_v2_far_future_timestamp_is_rejected():
    signed = create_signed_value("key", "n", "v", clock=at(NOW + 40 * DAY))
    assert decode_signed_value("key", "n", signed, clock=clock) is None


@pytest.mark.parametrize("digits", ["0000", "1234"])
def test_v1_digit_shift_between_value_and_timestamp_is_rejected(digits):
    # The v1 MAC covers payload and timestamp with no separator, so moving
    # trailing digits of the payload into the timestamp keeps the MAC valid.
    # Leading zeros ("0000") and far-future stamps ("1234...") give it away.
    value = b"abc" + base64.b64decode(digits)
    signed = create_signed_value("key", "n", value, version=1, clock=clock)
    payload, stamp, sig = signed.split(b"|")
    assert payload == b"YWJj" + digits.encode()
    shifted = b"|".join([b"YWJj", digits.encode() + stamp, sig])
    assert decode_signed_value("key", "n", signed, clock=clock) == value
    assert tornado.web.decode_signed_value("key", "n", shifted, clock=clock) is None
    assert decode_signed_value("key", "n", shifted, clock=clock) is None


def test_min_version_refuses_v1():
    signed = create_signed_value("key", "n", "v", version=1, clock=clock)
    assert decode_signed_value("key", "n", signed, clock=clock, min_version=1) == b"v"
    assert decode_signed_value("key", "n", signed, clock=clock, min_version=2) is None
    with pytest.raises(ValueError, match="min_version"):
        decode_signed_value("key", "n", signed, clock=clock, min_version=3)


@pytest.mark.parametrize(
    "value",
    [None, "", b"", "3|1:0|1:1|1:n|4:dg==|abc", "héllo", "2|x", "2|1:0|", "1000|a|b", b"\xff|1|2"],
)
def test_missing_garbage_unknown_version_and_non_ascii_give_none(value):
    assert decode_signed_value("key", "n", value, clock=clock) is None


def test_v1_value_with_dict_secret_gives_none():
    signed = create_signed_value("key", "n", "v", version=1, clock=clock)
    assert decode_signed_value({0: "key"}, "n", signed, clock=clock) is None


def test_get_signature_key_version():
    assert get_signature_key_version(create_signed_value("k", "n", "v", clock=clock)) == 0
    assert get_signature_key_version(create_signed_value("k", "n", "v", version=1, clock=clock)) is None
    assert get_signature_key_version("2|garbage") is None
    assert get_signature_key_version(None) is None


def test_programmer_errors_raise_value_error():
    with pytest.raises(ValueError, match="key_version is required"):
        create_signed_value({0: "a"}, "n", "v", clock=clock)
    with pytest.raises(ValueError, match="not a key"):
        create_signed_value({0: "a"}, "n", "v", clock=clock, key_version=1)
    with pytest.raises(ValueError, match="version 1"):
        create_signed_value({0: "a"}, "n", "v", version=1, clock=clock, key_version=0)
    with pytest.raises(ValueError, match="unsupported signed value version"):
        create_signed_value("a", "n", "v", version=3, clock=clock)
    with pytest.raises(ValueError, match="non-negative"):
        create_signed_value("a", "n", "v", clock=clock, key_version=-1)
