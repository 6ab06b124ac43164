import os
from unittest import mock

import pytest
import tornado.httputil
import tornado.web
from crosswind.xsrf import (
    check_xsrf,
    decode_xsrf_token,
    encode_xsrf_token,
    new_token,
    submitted_xsrf_value,
)
from hypothesis import given
from hypothesis import strategies as st

TOKEN = bytes(range(16))
NOW = 1_700_000_000.9


def fixed_source(data: bytes):
    def source(n: int) -> bytes:
        assert n == len(data)
        return data

    return source


def tornado_handler(cookie=None, form=None, headers=None, version=2):
    """A real Tornado RequestHandler on an in-memory POST request."""
    app = tornado.web.Application([], xsrf_cookies=True, xsrf_cookie_version=version)
    request_headers = tornado.httputil.HTTPHeaders({"Host": "example.com"})
    if cookie is not None:
        request_headers["Cookie"] = f"_xsrf={cookie}"
    for name, value in (headers or {}).items():
        request_headers[name] = value
    request = tornado.httputil.HTTPServerRequest(
        start_line=tornado.httputil.RequestStartLine("POST", "/", "HTTP/1.1"),
        headers=request_headers,
        connection=mock.Mock(),
    )
    if form is not None:
        request.arguments["_xsrf"] = [form.encode()]
        request.body_arguments["_xsrf"] = [form.encode()]
    return tornado.web.RequestHandler(app, request)


def tornado_accepts(cookie, form=None, headers=None) -> bool:
    try:
        tornado_handler(cookie, form, headers).check_xsrf_cookie()
    except tornado.web.HTTPError as exc:
        assert exc.status_code == 403
        return False
    return True


# --- interop with the real Tornado -------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_tornado_cookie_and_form_token_validate_here(version):
    handler = tornado_handler(version=version)
    form_token = handler.xsrf_token.decode()
    cookie = handler._new_cookie["_xsrf"].value
    assert check_xsrf(cookie, form_token)
    # Our own rendering of the same cookie token is accepted by Tornado too.
    _, raw, _ = decode_xsrf_token(cookie)
    ours = encode_xsrf_token(raw, NOW, token_source=os.urandom).decode()
    assert tornado_accepts(cookie, form=ours)
    assert check_xsrf(cookie, ours)


def test_our_cookie_and_token_pass_tornado_check():
    raw = new_token(os.urandom)
    cookie = encode_xsrf_token(raw, NOW, token_source=os.urandom).decode()
    submitted = encode_xsrf_token(raw, NOW, token_source=os.urandom).decode()
    assert cookie != submitted  # fresh mask each time
    assert tornado_accepts(cookie, form=submitted)
    assert tornado_accepts(cookie, headers={"X-XSRFToken": submitted})
    assert tornado_accepts(cookie, headers={"X-CSRFToken": submitted})
    assert check_xsrf(cookie, submitted)


def test_tornado_decodes_our_token_to_the_same_raw_bytes_and_timestamp():
    rendered = encode_xsrf_token(TOKEN, NOW, token_source=fixed_source(b"\x01\x02\x03\x04"))
    masked = bytes(a ^ b for a, b in zip(TOKEN, b"\x01\x02\x03\x04" * 4, strict=True))
    assert rendered == b"2|01020304|" + masked.hex().encode() + b"|1700000000"
    assert tornado_handler()._decode_xsrf_token(rendered.decode()) == (2, TOKEN, 1700000000)
    assert decode_xsrf_token(rendered) == (2, TOKEN, 1700000000)


def test_v1_tokens_are_bare_hex_and_mix_with_v2():
    v1 = encode_xsrf_token(TOKEN, NOW, version=1, token_source=os.urandom)
    assert v1 == TOKEN.hex().encode()
    assert decode_xsrf_token(v1) == (1, TOKEN, None)
    v2 = encode_xsrf_token(TOKEN, NOW, token_source=os.urandom)
    assert check_xsrf(v1, v2) and check_xsrf(v2, v1)
    assert tornado_accepts(v1.decode(), form=v2.decode())


@pytest.mark.parametrize(
    ("cookie", "submitted"),
    [
        (None, "2|01020304|00|1"),
        ("", ""),
        (TOKEN.hex(), None),
        (TOKEN.hex(), ""),
        (TOKEN.hex(), (b"\xff" * 16).hex()),
        (TOKEN.hex(), "3|01020304|" + TOKEN.hex() + "|1"),
    ],
)
def test_mismatches_and_missing_values_fail_here_and_in_tornado(cookie, submitted):
    assert not check_xsrf(cookie, submitted)
    assert not tornado_accepts(cookie or None, form=submitted)


# --- decoding garbage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        b"",
        "not hex",
        "abc",  # odd length
        "2|0102|" + TOKEN.hex() + "|1",  # short mask
        "2|0102030405|" + TOKEN.hex() + "|1",  # long mask
        "2|01020304|" + TOKEN.hex(),  # missing timestamp
        "2|01020304|" + TOKEN.hex() + "|x",
        "2|01020304||1",  # empty token
        "2|0102030g|" + TOKEN.hex() + "|1",
        "9|01020304|" + TOKEN.hex() + "|1",  # unknown version
        "é" * 4,
        b"\xff\xfe",
    ],
)
def test_garbage_decodes_to_nothing(value):
    assert decode_xsrf_token(value) == (None, None, None)


@given(st.one_of(st.text(max_size=80), st.binary(max_size=80), st.none()))
def test_decoding_never_raises(value):
    version, token, timestamp = decode_xsrf_token(value)
    assert version in (None, 1, 2)
    assert (version is None) == (token is None)
    assert check_xsrf(value, value) == (token is not None)


@given(
    token=st.binary(min_size=1, max_size=32),
    masks=st.lists(st.binary(min_size=4, max_size=4), min_size=2, max_size=2),
    versions=st.lists(st.sampled_from([1, 2]), min_size=2, max_size=2),
)
def test_renderings_of_the_same_token_always_check_equal(token, masks, versions):
    a = encode_xsrf_token(token, NOW, version=versions[0], token_source=fixed_source(masks[0]))
    b = encode_xsrf_token(token, NOW, version=versions[1], token_source=fixed_source(masks[1]))
    assert check_xsrf(a, b)
    assert check_xsrf(a.decode(), b.decode())


@given(
    tokens=st.lists(st.binary(min_size=16, max_size=16), min_size=2, max_size=2, unique=True),
    masks=st.lists(st.binary(min_size=4, max_size=4), min_size=2, max_size=2),
)
def test_different_tokens_never_check_equal(tokens, masks):
    a = encode_xsrf_token(tokens[0], NOW, token_source=fixed_source(masks[0]))
    b = encode_xsrf_token(tokens[1], NOW, token_source=fixed_source(masks[1]))
    assert not check_xsrf(a, b)


# --- helpers ----------------------------------------------------------------------------------


def test_new_token_takes_sixteen_bytes_from_the_source():
    assert new_token(fixed_source(TOKEN)) == TOKEN
    with pytest.raises(ValueError, match="16 bytes"):
        new_token(lambda n: b"short")


def test_encode_rejects_misuse():
    with pytest.raises(ValueError, match="empty"):
        encode_xsrf_token(b"", NOW, token_source=os.urandom)
    with pytest.raises(ValueError, match="version"):
        encode_xsrf_token(TOKEN, NOW, version=3, token_source=os.urandom)
    with pytest.raises(ValueError, match="4 bytes"):
        encode_xsrf_token(TOKEN, NOW, token_source=lambda n: b"12345")


def test_submitted_value_prefers_form_then_xsrf_header_then_csrf_header():
    headers = {"X-XSRFToken": "from-xsrf", "X-CSRFToken": "from-csrf"}
    assert submitted_xsrf_value("from-form", headers.get) == "from-form"
    assert submitted_xsrf_value(None, headers.get) == "from-xsrf"
    assert submitted_xsrf_value("", headers.get) == "from-xsrf"
    assert submitted_xsrf_value(None, {"X-CSRFToken": "from-csrf"}.get) == "from-csrf"
    assert submitted_xsrf_value(None, {}.get) is None
    assert submitted_xsrf_value("  padded \t", {}.get) == "padded"


def test_submitted_value_accepts_lowercased_plain_dicts_and_tornado_headers():
    assert submitted_xsrf_value(None, {"x-csrftoken": "v"}.get) == "v"
    tornado_headers = tornado.httputil.HTTPHeaders({"x-xsrftoken": "t"})
    assert submitted_xsrf_value(None, tornado_headers.get) == "t"


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=4, max_size=4))
def test_tornado_decodes_every_masked_token_like_we_do(token, mask):
    rendered = encode_xsrf_token(token, NOW, token_source=fixed_source(mask)).decode()
    assert decode_xsrf_token(rendered) == (2, token, int(NOW))
    assert tornado_handler()._decode_xsrf_token(rendered) == (2, token, int(NOW))
