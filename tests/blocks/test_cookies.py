import datetime
import time
from unittest import mock

import pytest
import tornado.httputil
import tornado.web
import werkzeug.datastructures
import werkzeug.sansio.http
from crosswind.cookies import (
    delete_cookie_header,
    format_set_cookie,
    parse_cookie_header,
    parse_cookie_pairs,
)
from hypothesis import given
from hypothesis import strategies as st

# -- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2;", {"a": "1", "b": "2"}),
        ('sid="x\\"y"; k=v', {"sid": 'x"y', "k": "v"}),
        ('q="semi\\073colon\\054comma"', {"q": "semi;colon,comma"}),
        ('q="back\\\\slash"', {"q": "back\\slash"}),
        ('q="\\400"', {"q": "400"}),  # not an octal escape (> \377): the digit stands for itself
        ("lonely", {"": "lonely"}),  # no '=': empty name, as browsers and Tornado do
        ("a=b=c", {"a": "b=c"}),
        ("  spaced  =  out  ", {"spaced": "out"}),
        ("a=1; a=2", {"a": "1"}),  # the first (most specific path) wins
        ("=; ;;", {}),
        ('u="only-open', {"u": '"only-open'}),
        ("odd=[]{}()<>@:\\/?", {"odd": "[]{}()<>@:\\/?"}),
        ("", {}),
    ],
)
def test_parse_cookie_header(header, expected):
    assert parse_cookie_header(header) == expected


def test_parse_cookie_header_accepts_bytes_and_none():
    assert parse_cookie_header(b"k=caf\xe9") == {"k": "caf\u00e9"}
    assert parse_cookie_header(None) == {}


_cookie_text = st.text(alphabet=st.sampled_from('ab=; "\\0178\n\t\u00e9'), max_size=40)


@given(_cookie_text)
def test_parsing_matches_tornado_with_first_value_winning(header):
    # Tornado keeps the last duplicate; feeding it the pieces reversed makes it keep the
    # first, so apart from that choice the two parsers must agree on every input.
    reversed_header = ";".join(reversed(header.split(";")))
    assert parse_cookie_header(header) == tornado.httputil.parse_cookie(reversed_header)


@given(_cookie_text)
def test_parsing_with_the_last_value_winning_matches_tornado(header):
    assert parse_cookie_header(header, last_wins=True) == tornado.httputil.parse_cookie(header)


@given(st.text())
def test_parse_cookie_header_never_raises(header):
    result = parse_cookie_header(header)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())


_ADVERSARIAL = [
    lambda n: "a=" + '"' * n,
    lambda n: ";" * n,
    lambda n: "a=\\" * (n // 3),
    lambda n: " " * n,
    lambda n: 'a="' + "\\" * n + '"',
    lambda n: 'a="' + "\\0" * (n // 2) + '"',
    lambda n: "=" * n,
    lambda n: "a" * n,
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("make", _ADVERSARIAL)
def test_a_64_kib_adversarial_header_parses(make):
    # CVE-2024-52804 was a cookie parser going quadratic.  A quadratic parser
    # needs minutes for 64 KiB of these shapes, so the timeout guards against a
    # hang; how the cost grows with size is measured by bench/bench_cookies.py,
    # not asserted here (timings on shared machines are too noisy to assert).
    header = make(64 * 1024)
    result = parse_cookie_header(header)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items())
    assert sum(len(k) + len(v) for k, v in result.items()) <= len(header)


_PAIR_ADVERSARIAL = [
    *_ADVERSARIAL,
    lambda n: 'a="x;' * (n // 5),
    lambda n: 'a="\\";' * (n // 6),
    lambda n: "a" + " " * n + "x",
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("make", _PAIR_ADVERSARIAL)
def test_a_64_kib_adversarial_header_parses_into_pairs(make):
    header = make(64 * 1024)
    pairs = parse_cookie_pairs(header)
    assert sum(len(k) + len(v) for k, v in pairs) <= len(header)


# -- werkzeug's reading, for crosswind.app -------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; flag; b=2; a=3", [("a", "1"), ("flag", ""), ("b", "2"), ("a", "3")]),
        ("=v; a=1", [("a", "1")]),  # no name: skipped
        ("a=two words; b=2", [("b", "2")]),  # a blank inside a bare value breaks the pair
        ('q="semi;colon"; r=1', [("q", "semi;colon"), ("r", "1")]),  # quotes hold a ';'
        ('q="\\303\\251t\\303\\251"', [("q", "\u00e9t\u00e9")]),  # escaped UTF-8 bytes
        # UTF-8 where it is UTF-8, latin-1 for a value that is not
        (b"k=caf\xc3\xa9; l=caf\xe9", [("k", "caf\u00e9"), ("l", "caf\u00e9")]),
        (b'k="\xc3\xa9\\041"; l=\xe9', [("k", "\u00e9!"), ("l", "\u00e9")]),
        (None, []),
    ],
)
def test_parse_cookie_pairs(header, expected):
    assert parse_cookie_pairs(header) == expected


@given(_cookie_text)
def test_pairs_match_werkzeug(header):
    ours = werkzeug.datastructures.MultiDict(parse_cookie_pairs(header))
    assert list(ours.lists()) == list(werkzeug.sansio.http.parse_cookie(header).lists())


@given(st.text())
def test_parse_cookie_pairs_never_raises(header):
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parse_cookie_pairs(header))


# -- Set-Cookie -----------------------------------------------------------------------


def _tornado_set_cookie(name, value, **kwargs):
    request = tornado.httputil.HTTPServerRequest(
        start_line=tornado.httputil.RequestStartLine("GET", "/", "HTTP/1.1"),
        headers=tornado.httputil.HTTPHeaders({"Host": "example.com"}),
        connection=mock.Mock(),
    )
    handler = tornado.web.RequestHandler(tornado.web.Application(), request)
    handler.set_cookie(name, value, **kwargs)
    return handler._new_cookie[name].OutputString()


def _split_set_cookie(header):
    pair, *attributes = header.split(";")
    name, _, value = pair.partition("=")
    parsed = {}
    for attribute in attributes:
        key, _, attribute_value = attribute.strip().partition("=")
        parsed[key.lower()] = attribute_value
    return name, parse_cookie_header(pair)[name], parsed


@pytest.mark.parametrize(
    ("value", "kwargs"),
    [
        ("plain", {}),
        ('needs"quoting;,\\here\u00e9\x7f', {}),
        ("v", {"domain": "example.com", "path": "/app", "httponly": True, "secure": True}),
        ("v", {"samesite": "Strict", "max_age": 3600}),
        ("v", {"expires": 1_700_000_000}),
        ("v", {"expires": datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)}),
        ("", {"path": "/"}),
    ],
)
def test_set_cookie_agrees_with_tornado(value, kwargs):
    ours = _split_set_cookie(format_set_cookie("sid", value, **kwargs))
    theirs = _split_set_cookie(_tornado_set_cookie("sid", value, **kwargs))
    assert ours == theirs


def test_set_cookie_examples():
    assert format_set_cookie("sid", "abc") == "sid=abc; Path=/"
    assert format_set_cookie("sid", "abc", path=None) == "sid=abc"
    assert format_set_cookie("sid", "abc", httponly=True, samesite="lax") == (
        "sid=abc; Path=/; HttpOnly; SameSite=Lax"
    )
    # Base64 padding is a legal cookie-octet, so it is not quoted.
    assert format_set_cookie("t", "YWI=") == "t=YWI=; Path=/"
    assert format_set_cookie("t", b"bytes") == "t=bytes; Path=/"
    assert "Max-Age=0" in format_set_cookie("t", "v", max_age=0)
    assert "Max-Age=90" in format_set_cookie("t", "v", max_age=datetime.timedelta(seconds=90.5))


def test_expires_days_uses_the_given_clock():
    header = format_set_cookie("t", "v", expires_days=1.5, clock=lambda: 1_000_000.0)
    # 1_000_000 s + 1.5 days = 1_129_600 s after the epoch.
    assert "Expires=Wed, 14 Jan 1970 01:46:40 GMT" in header
    with pytest.raises(TypeError, match="clock"):
        format_set_cookie("t", "v", expires_days=1)
    with pytest.raises(TypeError):
        format_set_cookie("t", "v", expires=0, expires_days=1, clock=time.time)


def test_samesite_none_forces_secure_and_partitioned_needs_it():
    header = format_set_cookie("t", "v", samesite="NONE")
    assert header == "t=v; Path=/; Secure; SameSite=None"
    assert format_set_cookie("t", "v", secure=True, partitioned=True).endswith("Secure; Partitioned")
    assert "Partitioned" in format_set_cookie("t", "v", samesite="None", partitioned=True)
    with pytest.raises(ValueError, match="Partitioned requires Secure"):
        format_set_cookie("t", "v", partitioned=True)
    with pytest.raises(ValueError, match="SameSite"):
        format_set_cookie("t", "v", samesite="sometimes")


def test_cookie_prefixes():
    assert "Secure" in format_set_cookie("__Host-id", "v", secure=True)
    assert "Secure" in format_set_cookie("__Secure-id", "v", secure=True, domain="example.com")
    with pytest.raises(ValueError, match="__Secure- prefix requires Secure"):
        format_set_cookie("__Secure-id", "v")
    for kwargs in ({}, {"secure": True, "path": "/app"}, {"secure": True, "domain": "a.com"}):
        with pytest.raises(ValueError, match="__Host- prefix requires Secure, Path=/ and no Domain"):
            format_set_cookie("__host-id", "v", **kwargs)


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", "a\r\nb", "(x)", "caf\u00e9", "a,b"])
def test_names_must_be_tokens(name):
    with pytest.raises(ValueError, match="Invalid cookie name"):
        format_set_cookie(name, "v")


@pytest.mark.parametrize("value", ["a b", "a\r\nSet-Cookie: x=1", "tab\there", "\x00", "nl\n"])
def test_values_with_space_or_control_characters_are_refused_like_tornado(value):
    with pytest.raises(ValueError, match="Invalid cookie 'sid'"):
        format_set_cookie("sid", value)
    with pytest.raises(ValueError, match="Invalid cookie"):
        _tornado_set_cookie("sid", value)


def test_attributes_cannot_smuggle_extra_attributes():
    with pytest.raises(ValueError, match="Path"):
        format_set_cookie("t", "v", path="/; Domain=evil.com")
    with pytest.raises(ValueError, match="Domain"):
        format_set_cookie("t", "v", domain="a.com\r\nX: y")
    with pytest.raises(ValueError, match="latin-1"):
        format_set_cookie("t", "\N{SNOWMAN}")
    with pytest.raises(TypeError):
        format_set_cookie("t", "v", max_age="1; Domain=evil.com")  # type: ignore[arg-type]


def test_delete_cookie_header_expires_the_cookie_now():
    header = delete_cookie_header("sid", path="/app", domain="example.com")
    assert header.startswith("sid=; ")
    _, value, attributes = _split_set_cookie(header)
    assert value == ""
    assert attributes["max-age"] == "0"
    assert attributes["expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert attributes["path"] == "/app" and attributes["domain"] == "example.com"
    assert "Secure" in delete_cookie_header("__Host-sid", secure=True)


_token = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=10).filter(
    lambda name: not name.lower().startswith(("__secure-", "__host-"))
)
_cookie_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=20)


@given(_token, _cookie_value)
def test_set_cookie_round_trips_through_the_cookie_header(name, value):
    header = format_set_cookie(name, value, httponly=True, max_age=60)
    header.encode("latin-1")  # must be sendable as is
    # A browser sends back the part before the first ';'.
    assert parse_cookie_header(header.split(";")[0]) == {name: value}
    assert parse_cookie_header(header)[name] == value
