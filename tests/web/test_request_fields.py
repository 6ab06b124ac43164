"""Query and form arguments of HTTPServerRequest: exactly what the general form parser
reads (crosswind.forms), as bytes -- whatever shortcut the request takes to get there.

Undecodable text keeps its bytes (Tornado refuses it only when a handler asks for
that argument), and the field limit answers as the parser does.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote_to_bytes

import pytest
from crosswind.errors import RequestError
from crosswind.forms import ESCAPED_SEPARATOR, parse_qs, parse_urlencoded
from crosswind.headers import Headers
from crosswind.web.request import HTTPServerRequest
from hypothesis import given
from hypothesis import strategies as st

# Pieces that exercise separators, escapes (valid, broken, encoding & and =),
# plus signs, UTF-8 and bytes that are not UTF-8.
PIECES = [
    b"a", b"b", b"=", b"&", b"+", b"%", b"2", b"F", b"z", b" ", b"\xc3", b"\xa9", b"\xff",
    b"%C3%A9", b"%FF", b"%2", b"%26", b"%3D", b"%3d", b"%2B",
]
blobs = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)


def reference(raw: str | bytes, parse) -> dict[str, list[bytes]]:
    """What the general parser gives, with Tornado's keep-the-bytes fallback."""
    try:
        fields = parse(raw)
    except RequestError as error:
        if not error.reason.startswith("invalid "):
            raise
        out: dict[str, list[bytes]] = {}
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        for key, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
            name = key.encode("latin-1").decode("utf-8", "replace")
            out.setdefault(name, []).append(value.encode("latin-1"))
        return out
    return {key: [value.encode("utf-8") for value in values] for key, values in fields.lists()}


def form_request(body: bytes, content_type: str) -> HTTPServerRequest:
    request = HTTPServerRequest(
        "POST", "/", "HTTP/1.1", Headers({"Content-Type": content_type}), body=body
    )
    request._parse_body()
    return request


@given(blobs)
def test_query_arguments_are_what_the_query_parser_reads(data: bytes) -> None:
    query = data.decode("latin-1")  # as the exchange decodes the request target
    request = HTTPServerRequest("GET", "/p?" + query)
    assert request.query_arguments == reference(query, parse_qs)
    assert request.arguments == request.query_arguments


@given(blobs, st.sampled_from(["", "; charset=utf-8", "; charset=UTF8", "; charset=latin-1"]))
def test_body_arguments_are_what_the_form_parser_reads(data: bytes, charset: str) -> None:
    request = form_request(data, "application/x-www-form-urlencoded" + charset)
    name = charset.partition("=")[2] or "utf-8"
    expected = reference(data, lambda raw: parse_urlencoded(raw, charset=name))
    assert request.body_arguments == expected
    assert request.arguments == expected


def test_repeated_fields_keep_their_order_and_lists_are_not_shared() -> None:
    request = form_request(b"a=1&b=x+y&a=%C3%A9&c", "application/x-www-form-urlencoded")
    assert request.body_arguments == {"a": [b"1", "é".encode()], "b": [b"x y"], "c": [b""]}
    request.arguments["a"].append(b"more")
    assert request.body_arguments["a"] == [b"1", "é".encode()]


@pytest.mark.parametrize(
    "body", [b"", b"&", b"&&", b"a=1&&b=2", b"&a=1", b"a=1&", b"&a=%21&&b&", b"a=%26&&b"]
)
def test_empty_pieces_are_no_fields(body: bytes) -> None:
    request = form_request(body, "application/x-www-form-urlencoded")
    expected = reference(body, lambda raw: parse_urlencoded(raw, charset="utf-8"))
    assert "" not in expected
    assert request.body_arguments == expected


@pytest.mark.parametrize("fields", [999, 1000, 1001])
def test_the_field_limit_is_the_parsers(fields: int) -> None:
    body = b"&".join(b"f%d=1" % i for i in range(fields))
    query = body.decode()
    if fields <= 1000:
        assert len(form_request(body, "application/x-www-form-urlencoded").body_arguments) == fields
        assert len(HTTPServerRequest("GET", "/?" + query).query_arguments) == fields
        return
    with pytest.raises(RequestError) as raised:
        form_request(body, "application/x-www-form-urlencoded")
    assert raised.value.status_code == 413
    with pytest.raises(RequestError) as raised:
        HTTPServerRequest("GET", "/?" + query)
    assert raised.value.status_code == 400
    # Empty pieces are not fields: many separators alone stay within the limit.
    assert HTTPServerRequest("GET", "/?" + "&" * 1500 + "a=1").query_arguments == {"a": [b"1"]}


@pytest.mark.parametrize(
    ("data", "found"),
    [(b"a=%26", True), (b"a=%3D", True), (b"a=%3d", True), (b"%%2626", True),
     (b"a=%2B%20", False), (b"a=%2", False), (b"a=&b=", False)],
)
def test_escaped_separator_finds_exactly_the_escapes_of_separators(
    data: bytes, found: bool
) -> None:
    # The request's shortcut and the form parser both unescape data whole only when
    # this finds nothing: an escape it missed would split a value in two.
    assert (ESCAPED_SEPARATOR.search(data) is not None) is found
    decoded = unquote_to_bytes(data.replace(b"&", b"").replace(b"=", b""))
    assert found is (b"&" in decoded or b"=" in decoded)
