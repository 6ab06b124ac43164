"""request.headers of a served request: the same Headers the constructor builds from the
connection's raw fields, whatever shortcut the request takes -- refusals included."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from crosswind.headers import Headers
from crosswind.protocol.transport import ConnectionInfo
from crosswind.web.request import HTTPServerRequest
from hypothesis import given
from hypothesis import strategies as st

# Field bytes, including what a header may not carry (CR, LF, NUL; a space or nothing at
# all in a name) and obs-text.
ATOMS = [b"a", b"B", b"x-y", b" ", b"\t", b"\xe9", b"\xff", b"\r", b"\n", b"\0", b"1"]
field_bytes = st.lists(st.sampled_from(ATOMS), max_size=4).map(b"".join)
raw_headers = st.lists(st.tuples(field_bytes, field_bytes), max_size=6)


class FakeExchange(SimpleNamespace):
    """What from_exchange reads of an Exchange."""

    def get_header(self, name: bytes, default: bytes | None = None) -> bytes | None:
        return next((value for key, value in self.headers if key == name), default)


def served(raw: list[tuple[bytes, bytes]], *, xheaders: bool = False) -> HTTPServerRequest:
    exchange = FakeExchange(
        method="GET",
        target="/",
        http_version="1.1",
        path="/",
        query="",
        headers=raw,
        info=ConnectionInfo(peer=("10.0.0.1", 4000)),
    )
    return HTTPServerRequest.from_exchange(exchange, clock=lambda: 0.0, xheaders=xheaders)


def outcome(build):
    try:
        headers = build()
    except (ValueError, TypeError) as error:
        return type(error), str(error)
    return headers.items(), {name: headers.get_list(name) for name in headers}


@given(raw_headers)
def test_request_headers_are_the_constructors(raw: list[tuple[bytes, bytes]]) -> None:
    assert outcome(lambda: served(raw).headers) == outcome(lambda: Headers(raw))


@given(raw_headers)
def test_xheaders_requests_build_the_same_headers(raw: list[tuple[bytes, bytes]]) -> None:
    expected = outcome(lambda: Headers(raw))
    if expected[0] in (ValueError, TypeError):
        with pytest.raises(expected[0], match=re.escape(expected[1])):
            served(raw, xheaders=True)
    else:
        assert outcome(lambda: served(raw, xheaders=True).headers) == expected


def test_repeated_and_latin1_fields() -> None:
    raw = [(b"accept", b"a/b"), (b"x-name", b"caf\xe9"), (b"accept", b"c/d")]
    headers = served(raw).headers
    assert headers.get_list("Accept") == ["a/b", "c/d"]
    assert headers["X-Name"] == "café"
    assert headers.items() == [("accept", "a/b"), ("x-name", "café"), ("accept", "c/d")]
