"""RFC 9113 section 8: HTTP message exchanges.

A malformed request is a stream error of type PROTOCOL_ERROR (section
8.1.1): the server resets that stream and keeps the connection.  Section
numbers are RFC 9113's, which regrouped RFC 7540's 8.1.2.x: field validity is
8.2.1, connection-specific fields 8.2.2, pseudo-header rules 8.3 and 8.3.1,
CONNECT 8.5.  The header blocks are written with :func:`plain_block`, so
nothing between the case and the wire lowercases or drops a field.
"""

from __future__ import annotations

from tests.support.h2spec.harness import Connection as C
from tests.support.h2spec.harness import DataFrame, plain_block, raw_frame
from tests.support.h2spec.harness import ErrorCode as E
from tests.support.h2spec.harness import FrameType as T
from tests.support.h2spec.registry import case

__all__: list[str] = []

MALFORMED = "stream error PROTOCOL_ERROR"


def _malformed(c: C, fields: list[tuple[str, str]], *, stream_id: int = 1) -> None:
    """Send *fields* as a complete request and expect it refused as malformed."""
    c.handshake()
    c.send_frames(c.headers(stream_id, plain_block(fields)))
    c.expect_stream_error(E.PROTOCOL_ERROR)


def _malformed_case(section: str, title: str, build: object) -> None:
    @case("http2", section, title, MALFORMED)
    def _body(c: C) -> None:
        _malformed(c, build(c))  # type: ignore[operator]


def _without(name: str) -> object:
    return lambda c: [field for field in c.request() if field[0] != name]


def _twice(name: str) -> object:
    def build(c: C) -> list[tuple[str, str]]:
        fields = c.request()
        pseudo = [f for f in fields if f[0].startswith(":")]
        regular = [f for f in fields if not f[0].startswith(":")]
        return pseudo + [next(f for f in pseudo if f[0] == name)] + regular

    return build


# -- 8.1: message framing ----------------------------------------------------


@case("http2", "8.1", "a second HEADERS (trailers) without END_STREAM", MALFORMED)
def _trailers_without_end(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(1, plain_block(c.request("POST")), end_stream=False),
        DataFrame(1, b"body"),
        c.headers(1, plain_block([("x-trailer", "1")]), end_stream=False),
    )
    c.expect_stream_error(E.PROTOCOL_ERROR)


@case("http2", "8.1.1", "content-length greater than the DATA received", MALFORMED)
def _content_length_short(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(
            1, plain_block(c.request("POST", extra=[("content-length", "10")])), end_stream=False
        ),
        DataFrame(1, b"test", flags=["END_STREAM"]),
    )
    c.expect_stream_error(E.PROTOCOL_ERROR)


@case("http2", "8.1.1", "content-length smaller than the sum of several DATA frames", MALFORMED)
def _content_length_long(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(
            1, plain_block(c.request("POST", extra=[("content-length", "1")])), end_stream=False
        ),
        DataFrame(1, b"test"),
        DataFrame(1, b"test", flags=["END_STREAM"]),
    )
    c.expect_stream_error(E.PROTOCOL_ERROR)


@case("http2", "8.1.1", "content-length of 4 on a HEADERS that ends the stream", MALFORMED)
def _content_length_no_body(c: C) -> None:
    c.handshake()
    c.send_frames(c.headers(1, plain_block(c.request("POST", extra=[("content-length", "4")]))))
    c.expect_stream_error(E.PROTOCOL_ERROR)


# -- 8.2: fields -------------------------------------------------------------

_malformed_case("8.2.1", "a field name in uppercase", lambda c: c.request(extra=[("X-Upper", "1")]))
_malformed_case(
    "8.2.1", "a field value with a line feed", lambda c: c.request(extra=[("x-split", "a\nb")])
)
_malformed_case("8.2.1", "a field name with a space", lambda c: c.request(extra=[("x bad", "1")]))

for _name, _value in [
    ("connection", "keep-alive"),
    ("keep-alive", "timeout=5"),
    ("proxy-connection", "keep-alive"),
    ("transfer-encoding", "chunked"),
    ("upgrade", "websocket"),
]:
    _malformed_case(
        "8.2.2",
        f"the connection-specific field {_name}",
        lambda c, n=_name, v=_value: c.request(extra=[(n, v)]),
    )

_malformed_case(
    "8.2.2", "te other than trailers", lambda c: c.request(extra=[("te", "trailers, deflate")])
)


@case("http2", "8.2.2", "te: trailers", "a response HEADERS")
def _te_trailers(c: C) -> None:
    c.handshake()
    c.send_frames(c.headers(1, plain_block(c.request(extra=[("te", "trailers")]))))
    c.expect_headers(1)


# -- 8.3: pseudo-header fields -----------------------------------------------

_malformed_case(
    "8.3", "an unknown pseudo-header field", lambda c: c.request(extra=[(":test", "1")])
)
_malformed_case(
    "8.3", "the response pseudo-header :status", lambda c: c.request(extra=[(":status", "200")])
)
_malformed_case(
    "8.3",
    "a pseudo-header field after a regular field",
    lambda c: c.request()[:-1] + [("x-first", "1"), c.request()[-1]],
)


@case("http2", "8.3", "a pseudo-header field in trailers", MALFORMED)
def _pseudo_in_trailers(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(1, plain_block(c.request("POST")), end_stream=False),
        DataFrame(1, b"body"),
        c.headers(1, plain_block([(":method", "POST")])),
    )
    c.expect_stream_error(E.PROTOCOL_ERROR)


_malformed_case(
    "8.3.1", "an empty :path", lambda c: [(n, "" if n == ":path" else v) for n, v in c.request()]
)
_malformed_case("8.3.1", "no :method", _without(":method"))
_malformed_case("8.3.1", "no :scheme", _without(":scheme"))
_malformed_case("8.3.1", "no :path", _without(":path"))
_malformed_case("8.3.1", "two :method fields", _twice(":method"))
_malformed_case("8.3.1", "two :scheme fields", _twice(":scheme"))
_malformed_case("8.3.1", "two :path fields", _twice(":path"))
_malformed_case("8.3.1", "two :authority fields", _twice(":authority"))


@case("http2", "8.3.1", "a :path in asterisk form on OPTIONS", "a response HEADERS")
def _options_asterisk(c: C) -> None:
    c.handshake()
    fields = [(n, "*" if n == ":path" else v) for n, v in c.request("OPTIONS")]
    c.send_frames(c.headers(1, plain_block(fields)))
    c.expect_headers(1)


# -- 8.4: server push --------------------------------------------------------


@case("http2", "8.4", "a PUSH_PROMISE from the client", "connection error PROTOCOL_ERROR")
def _push_promise(c: C) -> None:
    c.handshake()
    c.get(1)
    payload = (2).to_bytes(4, "big") + plain_block(c.request())
    c.send_frames(raw_frame(T.PUSH_PROMISE, 0x4, 1, payload))
    c.expect_connection_error(E.PROTOCOL_ERROR)


# -- 8.5: CONNECT ------------------------------------------------------------

_malformed_case("8.5", "CONNECT without :authority", lambda c: [(":method", "CONNECT")])
_malformed_case(
    "8.5",
    "CONNECT with :scheme and :path",
    lambda c: [(":method", "CONNECT"), *c.request()[1:]],
)
