"""The native engine, the screened head it trusts, and the de-chunking scanner mode."""

from __future__ import annotations

import pytest
from crosswind.errors import RemoteProtocolError, RequestError
from crosswind.protocol.events import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Request,
)
from crosswind.protocol.http1.chunked import ChunkedScanner
from crosswind.protocol.http1.connection import ServerConnection
from crosswind.protocol.http1.engine import DEFAULT_ENGINE, available_engines, make_engine
from crosswind.protocol.http1.head import screen_head
from crosswind.protocol.http1.native_engine import NativeEngine
from crosswind.protocol.limits import Limits
from hypothesis import given
from hypothesis import strategies as st

HOST = b"Host: example.com\r\n"


def native_connection(limits: Limits | None = None) -> ServerConnection:
    return ServerConnection(limits, clock=lambda: 0.0, engine="native")


def events_of(conn: ServerConnection, *reads: bytes) -> list[object]:
    """Every event until the request is complete, feeding *reads* one at a time."""
    pending = list(reads)
    events: list[object] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            conn.receive_data(pending.pop(0) if pending else b"")
            continue
        events.append(event)
        if type(event) in (EndOfMessage, ConnectionClosed):
            return events


# -- the registry --------------------------------------------------------------------------


def test_both_engines_are_registered_and_the_default_is_one_of_them() -> None:
    assert {"native", "h11"} <= set(available_engines())
    assert DEFAULT_ENGINE in available_engines()
    assert isinstance(make_engine("native"), NativeEngine)
    with pytest.raises(ValueError, match="unknown protocol engine 'h2'"):
        make_engine("h2")


# -- events --------------------------------------------------------------------------------


def test_request_event_is_the_screened_head_unchanged() -> None:
    raw = b"GET /a?b=1 HTTP/1.1\r\n" + HOST + b"X-Tab:\tv  w \t\r\n\r\n"
    head = screen_head(raw, Limits())
    request = NativeEngine().receive_head(head)
    assert request == Request(b"GET", b"/a?b=1", [(b"host", b"example.com"),
                                                   (b"x-tab", b"v  w")], b"1.1")
    assert request.headers is head.headers  # handed on, not copied or parsed again


def test_length_body_arrives_as_read_then_ends() -> None:
    conn = native_connection()
    raw = b"POST /p HTTP/1.1\r\n" + HOST + b"Content-Length: 10\r\n\r\n"
    events = events_of(conn, raw + b"abc", b"defg", b"hij" + b"GET / HTTP/1.1\r\n")
    assert events[1:] == [Data(b"abc"), Data(b"defg"), Data(b"hij"), EndOfMessage()]
    assert conn.next_event() is PAUSED
    assert conn.trailing_data == b"GET / HTTP/1.1\r\n"


def test_chunked_body_arrives_de_chunked_with_its_trailers() -> None:
    conn = native_connection()
    raw = (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
           b"4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Sum:  9 \r\nx-B: 2\r\n\r\n")
    events = events_of(conn, raw)
    assert events[1:] == [Data(b"Wikipedia"), EndOfMessage([(b"x-sum", b"9"), (b"x-b", b"2")])]


def test_request_without_body_ends_at_once_and_pipelined_requests_follow() -> None:
    conn = native_connection()
    conn.receive_data(b"GET /1 HTTP/1.1\r\n" + HOST + b"\r\nGET /2 HTTP/1.1\r\n" + HOST + b"\r\n")
    first = conn.next_event()
    assert isinstance(first, Request) and first.target == b"/1"
    assert conn.next_event() == EndOfMessage()
    conn.send_response(200, [(b"Content-Length", b"0")])
    conn.send_end()
    assert conn.start_next_cycle()
    second = conn.next_event()
    assert isinstance(second, Request) and second.target == b"/2"


def test_http_1_9_is_served_as_1_1() -> None:
    conn = native_connection()
    conn.receive_data(b"GET / HTTP/1.9\r\n" + HOST + b"\r\n")
    request = conn.next_event()
    assert isinstance(request, Request) and request.http_version == b"1.1"


def test_chunked_body_over_the_limit_is_413() -> None:
    conn = native_connection(Limits(max_body_size=8))
    raw = (b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n")
    with pytest.raises(RequestError) as caught:
        events_of(conn, raw)
    assert caught.value.status_code == 413


@pytest.mark.parametrize(
    "fields", [b"", b"Content-Length: 0\r\n"], ids=["no-length", "zero-length"]
)
def test_a_head_without_a_body_ends_the_message_by_itself(fields: bytes) -> None:
    engine = NativeEngine()
    engine.receive_head(screen_head(b"GET / HTTP/1.1\r\n" + HOST + fields + b"\r\n", Limits()))
    assert engine.next_event() == EndOfMessage(())
    assert engine.next_event() is PAUSED
    engine.start_next_cycle()
    engine.receive_head(screen_head(b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n\r\n",
                                    Limits()))
    assert engine.next_event() is NEED_DATA  # a body is announced: its end is told


def test_engine_alone_yields_need_data_until_told_the_body_ended() -> None:
    engine = NativeEngine()
    assert engine.next_event() is NEED_DATA
    engine.receive_data(b"ab")
    engine.receive_data(b"cd")
    assert engine.next_event() == Data(b"abcd")
    engine.receive_end([(b"x", b"1")])
    assert engine.next_event() == EndOfMessage([(b"x", b"1")])
    assert engine.next_event() is PAUSED
    engine.start_next_cycle()
    assert engine.next_event() is NEED_DATA


# -- the screened head: what the engine is given ---------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (b"Content-Length: 3, 3\r\n", [(b"content-length", b"3")]),
        (b"Content-Length: 3\r\ncontent-length:3\r\n", [(b"content-length", b"3")]),
        (b"Transfer-Encoding:  Chunked \r\n", [(b"transfer-encoding", b"chunked")]),
        (b"X-A: 1\r\nTransfer-Encoding: chunked\r\n", [(b"x-a", b"1"),
                                                      (b"transfer-encoding", b"chunked")]),
    ],
    ids=["cl-list", "cl-twice", "te-case", "te-plain"],
)
def test_framing_fields_are_reported_in_their_one_meaning(
    fields: bytes, expected: list[tuple[bytes, bytes]]
) -> None:
    head = screen_head(b"POST / HTTP/1.1\r\n" + fields + HOST + b"\r\n", Limits())
    assert head.headers == [*expected, (b"host", b"example.com")]


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /caf\xc3\xa9 HTTP/1.1\r\n" + HOST + b"\r\n",  # target beyond ASCII
        b"GET / HTTP/1.1\r\n" + HOST + b"X-A: 1\r\n\tfolded\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + HOST + b"X A: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + HOST + b": 1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + HOST + b"novalue\r\n\r\n",
    ],
    ids=["non-ascii-target", "obs-fold", "space-in-name", "empty-name", "no-colon"],
)
def test_heads_the_engine_never_sees(raw: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        screen_head(raw, Limits())
    assert caught.value.status_code == 400


_VALUE_BYTES = st.sampled_from([b"a", b"Z", b" ", b"\t", b"\x80", b"\xff", b":", b","])


@given(st.lists(st.tuples(st.sampled_from([b"X-A", b"y", b"Accept"]),
                          st.lists(_VALUE_BYTES, max_size=12).map(b"".join)), max_size=6))
def test_whole_block_parse_matches_a_line_by_line_reading(
    fields: list[tuple[bytes, bytes]],
) -> None:
    raw = b"GET / HTTP/1.1\r\n" + HOST + b"".join(n + b":" + v + b"\r\n" for n, v in fields)
    head = screen_head(raw + b"\r\n", Limits())
    assert head.headers == [(b"host", b"example.com")] + [
        (name.lower(), value.strip(b" \t")) for name, value in fields
    ]


def test_long_runs_of_blanks_in_a_value_parse_in_linear_time() -> None:
    raw = b"GET / HTTP/1.1\r\n" + HOST + b"X: a" + b" \t" * 30000 + b"b" + b" " * 30000
    head = screen_head(raw + b"\r\n\r\n", Limits(max_head_size=200_000))
    assert head.headers[1] == (b"x", b"a" + b" \t" * 30000 + b"b")


# -- ChunkedScanner(decode=True) -----------------------------------------------------------------

_BODY = (b"4 ;a=b\r\nWiki\r\n05;q=\"x y\"\r\npedia\r\nA\r\n0123456789\r\n"
         b"0 ; last\r\nX-T: 1 \r\nY:\r\n\r\nGET /next")


@pytest.mark.parametrize("step", [len(_BODY), 1, 3, 7])
def test_decoding_scanner_emits_data_and_trailers_whatever_the_split(step: int) -> None:
    scanner = ChunkedScanner(decode=True)
    output = b""
    taken = 0
    for start in range(0, len(_BODY), step):
        taken += scanner.scan(_BODY[start : start + step])
        output += scanner.take_output()
    assert scanner.done
    assert _BODY[taken:] == b"GET /next"
    assert output == b"Wikipedia0123456789"
    assert scanner.trailers == [(b"x-t", b"1"), (b"y", b"")]


@pytest.mark.parametrize("decode", [False, True])
@pytest.mark.parametrize("name", [b"Content-Length", b"transfer-encoding"])
def test_framing_fields_are_refused_in_trailers(decode: bool, name: bytes) -> None:
    scanner = ChunkedScanner(decode=decode)
    with pytest.raises(RemoteProtocolError, match="framing field in trailer"):
        scanner.scan(b"0\r\n" + name + b": 5\r\n\r\n")


@pytest.mark.parametrize("octet", [b"\x80", b"a", b" "])
def test_a_bare_cr_and_a_bare_lf_around_a_field_octet_are_refused(octet: bytes) -> None:
    # Deleting the field octet would leave "\r\n": the head's own line ends must count.
    raw = b"GET / HTTP/1.1\r\nHost: a\r" + octet + b"\nX: y\r\n\r\n"
    with pytest.raises(RemoteProtocolError) as caught:
        screen_head(raw, Limits())
    assert caught.value.status_code == 400
