"""Generic cases: a server accepts every well-formed frame and representation.

Each sends something valid that a minimal client might never send (padding,
priorities, CONTINUATION, every HPACK representation) and checks that the
server answers as it would to the plainest request.  Sections are RFC 9113's
(and RFC 7541's for the HPACK representations under ``generic/5``).
"""

from __future__ import annotations

from tests.support.h2spec.harness import Connection as C
from tests.support.h2spec.harness import (
    ContinuationFrame,
    DataFrame,
    ErrorCode,
    FrameType,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
    hpack_int,
    hpack_string,
    plain_block,
    raw_frame,
)
from tests.support.h2spec.harness import Setting as S
from tests.support.h2spec.registry import case

__all__: list[str] = []

ANSWER = "a response HEADERS on the stream"


def _priority(
    stream_id: int, depends_on: int = 0, weight: int = 16, exclusive: bool = False
) -> bytes:
    """A PRIORITY frame; *weight* is 1-256 as RFC 9113 counts it."""
    dependency = depends_on | (0x80000000 if exclusive else 0)
    payload = dependency.to_bytes(4, "big") + bytes([weight - 1])
    return raw_frame(FrameType.PRIORITY, 0, stream_id, payload)


# -- 3.4: the connection preface --------------------------------------------


@case("generic", "3.4", "a client connection preface", "the server's SETTINGS, then answers a PING")
def _preface(c: C) -> None:
    c.handshake()
    c.expect_ping_ack(c.ping())


# -- 5.1: stream states ------------------------------------------------------


@case("generic", "5.1", "PRIORITY on an idle stream", "accepted: a PING is still answered")
def _priority_idle(c: C) -> None:
    c.handshake()
    c.send_frames(_priority(3))
    c.expect_ping_ack(c.ping())


@case("generic", "5.1", "WINDOW_UPDATE on a half-closed (remote) stream", ANSWER)
def _window_update_half_closed(c: C) -> None:
    c.handshake()
    c.send_frames(c.headers(1), WindowUpdateFrame(1, window_increment=1))
    c.expect_headers(1)


@case("generic", "5.1", "PRIORITY on a half-closed (remote) stream", ANSWER)
def _priority_half_closed(c: C) -> None:
    c.handshake()
    c.send_frames(c.headers(1), _priority(1, weight=200))
    c.expect_headers(1)


@case(
    "generic",
    "5.1",
    "RST_STREAM on a half-closed (remote) stream",
    "accepted: a PING is answered (or a close)",
)
def _reset_half_closed(c: C) -> None:
    c.handshake()
    c.send_frames(c.headers(1), RstStreamFrame(1, error_code=ErrorCode.CANCEL))
    c.expect_ping_ack_or_close(c.ping())


@case("generic", "5.1", "PRIORITY on a closed stream", "accepted: a PING is answered")
def _priority_closed(c: C) -> None:
    c.handshake()
    c.get(1)
    c.expect_stream_end(1)
    c.send_frames(_priority(1))
    c.expect_ping_ack(c.ping())


# -- 6.1: DATA ---------------------------------------------------------------


@case("generic", "6.1", "a DATA frame", ANSWER)
def _data(c: C) -> None:
    c.handshake()
    c.post(1)
    c.expect_headers(1)


@case("generic", "6.1", "several DATA frames", ANSWER)
def _data_several(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(1, c.encode(c.request("POST")), end_stream=False),
        DataFrame(1, b"one"),
        DataFrame(1, b"two"),
        DataFrame(1, b"three", flags=["END_STREAM"]),
    )
    c.expect_headers(1)


@case("generic", "6.1", "a DATA frame with padding", ANSWER)
def _data_padded(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(1, c.encode(c.request("POST")), end_stream=False),
        DataFrame(1, b"padded", pad_length=8, flags=["PADDED", "END_STREAM"]),
    )
    c.expect_headers(1)


# -- 6.2: HEADERS ------------------------------------------------------------


@case("generic", "6.2", "a HEADERS frame", ANSWER)
def _headers(c: C) -> None:
    c.handshake()
    c.get(1)
    c.expect_headers(1)


@case("generic", "6.2", "a HEADERS frame with padding", ANSWER)
def _headers_padded(c: C) -> None:
    c.handshake()
    block = c.encode(c.request())
    c.send_frames(
        HeadersFrame(1, block, pad_length=16, flags=["PADDED", "END_STREAM", "END_HEADERS"])
    )
    c.expect_headers(1)


@case("generic", "6.2", "a HEADERS frame with priority", ANSWER)
def _headers_priority(c: C) -> None:
    c.handshake()
    block = c.encode(c.request())
    c.send_frames(
        HeadersFrame(
            1,
            block,
            depends_on=0,
            stream_weight=255,
            flags=["PRIORITY", "END_STREAM", "END_HEADERS"],
        )
    )
    c.expect_headers(1)


# -- 6.3: PRIORITY -----------------------------------------------------------


@case("generic", "6.3", "PRIORITY with weight 1, then the request", ANSWER)
def _priority_weight_1(c: C) -> None:
    c.handshake()
    c.send_frames(_priority(1, weight=1))
    c.get(1)
    c.expect_headers(1)


@case("generic", "6.3", "PRIORITY with weight 256, then the request", ANSWER)
def _priority_weight_256(c: C) -> None:
    c.handshake()
    c.send_frames(_priority(1, weight=256))
    c.get(1)
    c.expect_headers(1)


@case("generic", "6.3", "PRIORITY with a stream dependency, then the request", ANSWER)
def _priority_dependency(c: C) -> None:
    c.handshake()
    c.send_frames(_priority(3, depends_on=1))
    c.get(3)
    c.expect_headers(3)


@case("generic", "6.3", "PRIORITY with the exclusive flag, then the request", ANSWER)
def _priority_exclusive(c: C) -> None:
    c.handshake()
    c.send_frames(_priority(3, depends_on=1, exclusive=True))
    c.get(3)
    c.expect_headers(3)


@case("generic", "6.3", "PRIORITY for idle stream 5, then a request on stream 3", ANSWER)
def _priority_higher_idle(c: C) -> None:
    c.handshake()
    c.send_frames(_priority(5))
    c.get(3)
    c.expect_headers(3)


# -- 6.4 to 6.9: the other frame types --------------------------------------


@case("generic", "6.4", "RST_STREAM on an open stream", "accepted: a PING is answered (or a close)")
def _reset(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(1, c.encode(c.request("POST")), end_stream=False),
        RstStreamFrame(1, error_code=ErrorCode.CANCEL),
    )
    c.expect_ping_ack_or_close(c.ping())


@case("generic", "6.5", "a SETTINGS frame", "a SETTINGS ACK")
def _settings(c: C) -> None:
    c.handshake()
    c.send_frames(SettingsFrame(0, settings={S.MAX_CONCURRENT_STREAMS: 50}))
    c.expect_settings_ack()


@case("generic", "6.7", "a PING frame", "a PING ACK with the same payload")
def _ping(c: C) -> None:
    c.handshake()
    c.expect_ping_ack(c.ping(b"\x01\x02\x03\x04\x05\x06\x07\x08"))


@case("generic", "6.8", "a GOAWAY frame", "no error: a PING is answered, or the connection closes")
def _goaway(c: C) -> None:
    c.handshake()
    c.send_frames(
        GoAwayFrame(0, last_stream_id=0, error_code=ErrorCode.NO_ERROR, additional_data=b"bye")
    )
    c.expect_ping_ack_or_close(c.ping())


@case("generic", "6.9", "WINDOW_UPDATE on the connection", "accepted: a PING is answered")
def _window_update_connection(c: C) -> None:
    c.handshake()
    c.send_frames(WindowUpdateFrame(0, window_increment=1))
    c.expect_ping_ack(c.ping())


@case("generic", "6.9", "WINDOW_UPDATE on an open stream", ANSWER)
def _window_update_stream(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(1, c.encode(c.request("POST")), end_stream=False),
        WindowUpdateFrame(1, window_increment=1),
        DataFrame(1, b"body", flags=["END_STREAM"]),
    )
    c.expect_headers(1)


# -- 6.10: CONTINUATION ------------------------------------------------------


@case("generic", "6.10", "a header block in HEADERS and one CONTINUATION", ANSWER)
def _continuation(c: C) -> None:
    c.handshake()
    block = c.encode(c.request())
    c.send_frames(
        c.headers(1, block[:3], end_headers=False),
        ContinuationFrame(1, block[3:], flags=["END_HEADERS"]),
    )
    c.expect_headers(1)


@case("generic", "6.10", "a header block in HEADERS and several CONTINUATIONs", ANSWER)
def _continuations(c: C) -> None:
    c.handshake()
    block = c.encode(c.request(extra=[("x-filler", "y" * 40)]))
    pieces = [block[i : i + 8] for i in range(0, len(block), 8)]
    frames: list[HeadersFrame | ContinuationFrame] = [c.headers(1, pieces[0], end_headers=False)]
    frames += [ContinuationFrame(1, piece) for piece in pieces[1:-1]]
    frames.append(ContinuationFrame(1, pieces[-1], flags=["END_HEADERS"]))
    c.send_frames(*frames)
    c.expect_headers(1)


# -- 8: HTTP message exchanges ----------------------------------------------


@case("generic", "8.1", "a GET request", ANSWER)
def _get(c: C) -> None:
    c.handshake()
    c.get(1)
    c.expect_headers(1)


@case("generic", "8.1", "a HEAD request", "a response HEADERS that ends the stream")
def _head(c: C) -> None:
    c.handshake()
    c.send_frames(c.headers(1, c.encode(c.request("HEAD"))))
    frame = c.expect_headers(1)
    if "END_STREAM" not in frame.flags:
        # A HEAD response has no content (RFC 9110 section 9.3.2): DATA would be wrong.
        c.expect_stream_end(1)


@case("generic", "8.1", "a POST request", ANSWER)
def _post(c: C) -> None:
    c.handshake()
    c.post(1, b"posted")
    c.expect_headers(1)


@case("generic", "8.1", "a POST request with trailers", ANSWER)
def _post_trailers(c: C) -> None:
    c.handshake()
    c.send_frames(
        c.headers(
            1, c.encode(c.request("POST", extra=[("trailer", "x-checksum")])), end_stream=False
        ),
        DataFrame(1, b"body"),
        c.headers(1, c.encode([("x-checksum", "abc")])),
    )
    c.expect_headers(1)


# -- RFC 7541: every field representation -----------------------------------

#: Static table indexes of the request pseudo-header names (RFC 7541 appendix A).
_STATIC_NAME = {":authority": 1, ":method": 2, ":path": 4, ":scheme": 6}
#: The three literal representations: first byte pattern and prefix bits.
_LITERALS = {
    "with incremental indexing": (0x40, 6),
    "without indexing": (0x00, 4),
    "never indexed": (0x10, 4),
}


def _literal_block(c: C, kind: str, indexed_name: bool, huffman: bool) -> bytes:
    """The request's fields, each in the literal representation *kind*."""
    first, prefix = _LITERALS[kind]
    out = bytearray()
    for name, value in c.request():
        if indexed_name:
            out += hpack_int(_STATIC_NAME[name], prefix, first)
        else:
            out += hpack_int(0, prefix, first) + hpack_string(name, huffman)
        out += hpack_string(value, huffman)
    return bytes(out)


def _literal_case(kind: str, indexed_name: bool, huffman: bool) -> None:
    name = "an indexed name" if indexed_name else "a new name"
    title = f"literal fields {kind}, {name}" + (", Huffman-coded" if huffman else "")

    @case("generic", "7541/6.2", title, ANSWER)
    def _body(c: C) -> None:
        c.handshake()
        c.send_frames(c.headers(1, _literal_block(c, kind, indexed_name, huffman)))
        c.expect_headers(1)


@case("generic", "7541/6.1", "indexed fields from the static table", ANSWER)
def _indexed(c: C) -> None:
    c.handshake()
    scheme = 7 if c.target.tls else 6
    # :method GET (2) and :scheme (6 or 7) are whole entries; :path and :authority literal.
    block = bytes([0x80 | 2, 0x80 | scheme]) + plain_block(c.request()[2:])
    c.send_frames(c.headers(1, block))
    c.expect_headers(1)


for _kind in _LITERALS:
    for _indexed_name in (True, False):
        for _huffman in (False, True):
            _literal_case(_kind, _indexed_name, _huffman)


@case("generic", "7541/6.3", "a dynamic table size update at the start of a block", ANSWER)
def _size_update(c: C) -> None:
    c.handshake()
    c.send_frames(c.headers(1, hpack_int(0, 5, 0x20) + plain_block(c.request())))
    c.expect_headers(1)


@case("generic", "7541/6.3", "two dynamic table size updates at the start of a block", ANSWER)
def _size_updates(c: C) -> None:
    c.handshake()
    updates = hpack_int(0, 5, 0x20) + hpack_int(4096, 5, 0x20)
    c.send_frames(c.headers(1, updates + plain_block(c.request())))
    c.expect_headers(1)


@case("generic", "7541/2.3", "a field indexed in one block, referenced from the next", ANSWER)
def _dynamic_reference(c: C) -> None:
    c.handshake()
    # Stream 1 adds x-marker to the dynamic table (index 62); stream 3 uses it.
    entry = hpack_int(0, 6, 0x40) + hpack_string("x-marker") + hpack_string("one")
    c.send_frames(c.headers(1, plain_block(c.request()) + entry))
    c.expect_headers(1)
    c.send_frames(c.headers(3, plain_block(c.request()) + bytes([0x80 | 62])))
    c.expect_headers(3)


@case(
    "generic",
    "5.5",
    "a PING then a frame of an unknown type",
    "the unknown frame ignored: the PING answered",
)
def _unknown_after_ping(c: C) -> None:
    c.handshake()
    data = c.ping()
    c.send_frames(raw_frame(0xEE, 0xFF, 0, b"ignored"))
    c.expect_ping_ack(data)
