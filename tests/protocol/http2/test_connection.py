"""The HTTP/2 server connection, sans-IO, against h2's client side and a hand-moved clock."""

from __future__ import annotations

import pytest
from crosswind.errors import LocalProtocolError
from crosswind.protocol.http2.connection import PREFACE, H2ServerConnection, _FrameCutter
from crosswind.protocol.http2.events import (
    BodyEnded,
    BodyReceived,
    ConnectionEnded,
    RequestReceived,
    StreamClosed,
    StreamFailed,
    WindowOpened,
)
from crosswind.protocol.limits import Limits
from h2 import events as h2events
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hpack import Encoder
from hyperframe.frame import ContinuationFrame, HeadersFrame, PingFrame, RstStreamFrame
from hypothesis import given
from hypothesis import strategies as st

from tests.protocol.http2.pair import Pair


def _of(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def _resets(events: list) -> dict[int, int]:
    return {e.stream_id: e.error_code for e in events if isinstance(e, h2events.StreamReset)}


def _goaway(events: list) -> h2events.ConnectionTerminated | None:
    found = _of(events, h2events.ConnectionTerminated)
    return found[0] if found else None


# -- settings and requests ---------------------------------------------------------


def test_settings_come_from_limits() -> None:
    limits = Limits(
        h2_max_concurrent_streams=7, h2_initial_window_size=12345, h2_max_frame_size=32768,
        h2_max_header_list_size=9000,
    )
    pair = Pair(limits)
    remote = pair.client.remote_settings
    assert remote[SettingCodes.MAX_CONCURRENT_STREAMS] == 7
    assert remote[SettingCodes.INITIAL_WINDOW_SIZE] == 12345
    assert remote[SettingCodes.MAX_FRAME_SIZE] == 32768
    assert remote[SettingCodes.MAX_HEADER_LIST_SIZE] == 9000
    assert pair.client.outbound_flow_control_window == limits.h2_connection_window_size


def test_header_list_limit_follows_max_head_size() -> None:
    pair = Pair(Limits(max_head_size=4096, max_request_line=4096))
    assert pair.client.remote_settings[SettingCodes.MAX_HEADER_LIST_SIZE] == 4096


def test_request_becomes_one_event_with_host_and_joined_cookies() -> None:
    pair = Pair()
    stream_id, events = pair.request(
        b"/a?b=1", headers=[(b"cookie", b"a=1"), (b"accept", b"*/*"), (b"cookie", b"b=2")]
    )
    assert events == [
        RequestReceived(
            stream_id, b"GET", b"/a?b=1",
            [(b"host", b"example.com"), (b"accept", b"*/*"), (b"cookie", b"a=1; b=2")],
            True,
        )
    ]
    assert pair.server.open_streams == 1


def test_body_pieces_then_end() -> None:
    pair = Pair()
    stream_id, events = pair.request(b"/up", b"POST", body=b"hello", end=False)
    assert isinstance(events[0], RequestReceived) and not events[0].end_stream
    assert events[1] == BodyReceived(stream_id, b"hello", 5)
    pair.client.send_data(stream_id, b" world", end_stream=True)
    assert pair.to_server() == [BodyReceived(stream_id, b" world", 6), BodyEnded(stream_id)]


def test_trailers_come_with_the_end() -> None:
    pair = Pair()
    stream_id, _ = pair.request(b"/up", b"POST", body=b"x", end=False)
    pair.client.send_headers(stream_id, [(b"x-sum", b"1")], end_stream=True)
    assert pair.to_server() == [BodyEnded(stream_id, ((b"x-sum", b"1"),))]


# -- flow control reaches the reader ------------------------------------------------


def test_windows_reopen_only_as_the_application_reads() -> None:
    pair = Pair(Limits(h2_initial_window_size=65535, h2_connection_window_size=65535 * 4))
    stream_id, _ = pair.request(b"/up", b"POST", end=False)
    window = pair.client.local_flow_control_window(stream_id)
    assert window == 65535
    for _ in range(3):
        pair.client.send_data(stream_id, b"x" * 16384)
        events = pair.to_server()
        assert [type(e) for e in events] == [BodyReceived]
        pair.to_client()
    # Nothing read: no WINDOW_UPDATE came back, the client must stop.
    assert pair.client.local_flow_control_window(stream_id) == 65535 - 3 * 16384
    pair.server.consumed(stream_id, 3 * 16384)
    pair.to_client()
    assert pair.client.local_flow_control_window(stream_id) == 65535


def test_body_past_max_body_size_fails_the_stream_with_413() -> None:
    pair = Pair(Limits(max_body_size=10))
    stream_id, events = pair.request(b"/up", b"POST", body=b"x" * 8, end=False)
    assert _of(events, BodyReceived)
    pair.client.send_data(stream_id, b"x" * 8)
    events = pair.to_server()
    assert len(events) == 1 and isinstance(events[0], StreamFailed)
    assert events[0].error.status_code == 413
    # What else comes is dropped, and its windows given back at once: the
    # client can go on sending far past the connection's window.
    for _ in range(2 * Limits().h2_connection_window_size // 16384):
        assert pair.client.local_flow_control_window(stream_id) >= 16384
        pair.client.send_data(stream_id, b"y" * 16384)
        assert pair.to_server() == []
        pair.to_client()


def test_a_stream_may_lower_its_body_limit() -> None:
    pair = Pair()
    stream_id, _ = pair.request(b"/up", b"POST", end=False)
    pair.server.set_max_body_size(stream_id, 3)
    pair.client.send_data(stream_id, b"abcd")
    (event,) = pair.to_server()
    assert isinstance(event, StreamFailed) and event.error.status_code == 413


# -- strictness (RFC 9113 section 8) -------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/"),
         (b"Upper", b"x")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/"),
         (b"connection", b"close")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/"),
         (b":bogus", b"x")],
        [(b":method", b"GET"), (b":path", b"/"), (b":scheme", b"http"), (b":authority", b"a"),
         (b"te", b"gzip")],
    ],
    ids=["uppercase", "connection-field", "no-path", "unknown-pseudo", "te-not-trailers"],
)
def test_malformed_requests_never_become_events(fields: list[tuple[bytes, bytes]]) -> None:
    pair = Pair(validate=False)
    pair.client.send_headers(1, fields, end_stream=True)
    events = pair.to_server()
    assert not _of(events, RequestReceived)
    client_events = pair.to_client()
    goaway = _goaway(client_events)
    assert (goaway is not None and goaway.error_code == ErrorCodes.PROTOCOL_ERROR) or _resets(
        client_events
    ) == {1: ErrorCodes.PROTOCOL_ERROR}


_GET = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/")]


@pytest.mark.parametrize(
    "fields",
    [
        [*_GET, (b"X-Upper", b"1")],
        [*_GET, (b"", b"1")],
        [*_GET, (b"x-a:b", b"1")],
        [*_GET, (b"x-a", b" leading")],
        [*_GET, (b"x-a", b"trailing\t")],
        [*_GET, (b"x-a", b"nul\x00")],
        [*_GET, (b"x-a", b"lf\n")],
        [*_GET, (b"keep-alive", b"5")],
        [*_GET, (b"proxy-connection", b"x")],
        [*_GET, (b"transfer-encoding", b"chunked")],
        [*_GET, (b"upgrade", b"h2c")],
        [*_GET, (b"te", b"trailers, deflate")],
        [*_GET, (b":method", b"GET")],
        [(b":method", b"GET"), (b"x-a", b"1"), (b":scheme", b"http"), (b":authority", b"a"),
         (b":path", b"/")],
        [*_GET, (b":status", b"200")],
        [*_GET, (b":protocol", b"websocket")],
        [(b":method", b"GET"), (b":authority", b"a"), (b":path", b"/")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/")],
        [(b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/")],
        [*_GET, (b"host", b"b")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b"host", b"a"),
         (b"host", b"a")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"),
         (b":path", b"/ x\r")],
        [(b":method", b"CONNECT"), (b":authority", b"a:443"), (b":path", b"/")],
        [(b":method", b"CONNECT"), (b":authority", b"a:443"), (b":scheme", b"https")],
    ],
    ids=[
        "uppercase", "empty-name", "colon-in-name", "leading-space", "trailing-tab", "nul",
        "lf", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
        "pseudo-twice", "pseudo-after-regular", "status", "protocol", "no-scheme",
        "no-authority-or-host", "no-method", "host-unlike-authority", "host-twice",
        "empty-path", "control-in-path", "connect-with-path", "connect-with-scheme",
    ],
)
def test_a_malformed_request_resets_its_stream_alone(fields: list[tuple[bytes, bytes]]) -> None:
    # RFC 9113 section 8.1.1: a stream error; HPACK stays in step, so the
    # connection serves the next request.
    pair = Pair(validate=False)
    pair.client.send_headers(1, fields, end_stream=True)
    assert pair.to_server() == []
    client_events = pair.to_client()
    assert _resets(client_events) == {1: ErrorCodes.PROTOCOL_ERROR}
    assert _goaway(client_events) is None
    _, events = pair.request()
    assert _of(events, RequestReceived)


@pytest.mark.parametrize(
    "fields",
    [
        [*_GET, (b"te", b"Trailers")],
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b"host", b"a")],
        [*_GET, (b"host", b"a")],
        [*_GET, (b"x-a", b"in side\tok"), (b"x-b", b"")],
    ],
    ids=["te-trailers", "host-alone", "host-like-authority", "inner-whitespace-and-empty"],
)
def test_well_formed_edge_requests_are_served(fields: list[tuple[bytes, bytes]]) -> None:
    pair = Pair(validate=False)
    pair.client.send_headers(1, fields, end_stream=True)
    (event,) = pair.to_server()
    assert isinstance(event, RequestReceived)
    assert dict(event.headers)[b"host"] == b"a"


@pytest.mark.parametrize(
    "trailer",
    [(b":path", b"/"), (b"X-Sum", b"1"), (b"connection", b"close"), (b"x-sum", b" 1"),
     (b"te", b"gzip")],
    ids=["pseudo", "uppercase", "connection-field", "leading-space", "te"],
)
def test_malformed_trailers_reset_the_stream(trailer: tuple[bytes, bytes]) -> None:
    pair = Pair(validate=False)
    stream_id, _ = pair.request(b"/up", b"POST", body=b"x", end=False)
    pair.client.send_headers(stream_id, [trailer], end_stream=True)
    assert pair.to_server() == [StreamClosed(stream_id, "malformed trailers")]
    client_events = pair.to_client()
    assert _resets(client_events) == {stream_id: ErrorCodes.PROTOCOL_ERROR}
    assert _goaway(client_events) is None
    assert pair.server.open_streams == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [(b"x-a", b"bad\x01value"), (b"x(a)", b"v"), (b"x-a", b"del\x7f")],
)
def test_fields_that_are_not_http_reset_the_stream(name: bytes, value: bytes) -> None:
    pair = Pair(validate=False)
    stream_id, events = pair.request(headers=[(name, value)])
    assert events == []
    assert _resets(pair.to_client()) == {stream_id: ErrorCodes.PROTOCOL_ERROR}
    # The connection goes on.
    _, events = pair.request()
    assert _of(events, RequestReceived)


def test_connect_without_authority_is_refused() -> None:
    pair = Pair(validate=False)
    pair.client.send_headers(1, [(b":method", b"CONNECT"), (b"host", b"example.com:443")])
    assert pair.to_server() == []
    assert _resets(pair.to_client()) == {1: ErrorCodes.PROTOCOL_ERROR}


def test_connect_with_authority_reaches_the_application() -> None:
    pair = Pair(validate=False)
    pair.client.send_headers(1, [(b":method", b"CONNECT"), (b":authority", b"example.com:443")])
    (event,) = pair.to_server()
    assert isinstance(event, RequestReceived)
    assert (event.method, event.target) == (b"CONNECT", b"example.com:443")


def test_path_must_be_origin_form() -> None:
    pair = Pair(validate=False)
    stream_id, events = pair.request(b"http://x/")
    assert events == []
    assert _resets(pair.to_client()) == {stream_id: ErrorCodes.PROTOCOL_ERROR}
    _, events = pair.request(b"*", b"OPTIONS")
    assert _of(events, RequestReceived)


def test_content_length_that_disagrees_with_data_is_an_error() -> None:
    pair = Pair(validate=False)
    stream_id, events = pair.request(
        b"/up", b"POST", headers=[(b"content-length", b"3")], body=b"toolong"
    )
    assert not _of(events, BodyEnded) and not _of(events, BodyReceived)
    assert _of(events, ConnectionEnded)
    goaway = _goaway(pair.to_client())
    assert goaway is not None and goaway.error_code == ErrorCodes.PROTOCOL_ERROR


@pytest.mark.parametrize("together", [True, False], ids=["one-read", "two-reads"])
def test_a_malformed_request_and_its_body_get_the_same_verdict_however_they_are_read(
    together: bool,
) -> None:
    # h2 acts on every frame of a read before this connection sees any: the
    # body would meet a stream h2 still held open, overrun its Content-Length
    # there and end the connection, while read apart it meets the stream the
    # connection had reset.  Frames go to h2 one at a time, so both are a
    # stream error.
    pair = Pair(validate=False)
    fields = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"a"),
              (b":path", b"/"), (b"X-Upper", b"1"), (b"content-length", b"3")]
    pair.client.send_headers(1, fields)
    head = pair.client.data_to_send()
    pair.client.send_data(1, b"toolong")
    body = pair.client.data_to_send()
    events = pair.to_server(head + body) if together else pair.to_server(head) + pair.to_server(body)
    assert not _of(events, ConnectionEnded) and not _of(events, RequestReceived)
    client_events = pair.to_client()
    assert _resets(client_events)[1] == ErrorCodes.PROTOCOL_ERROR
    assert _goaway(client_events) is None
    _, events = pair.request()
    assert _of(events, RequestReceived)


@given(
    payloads=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_the_client_bytes_are_cut_after_each_frame_however_they_arrive(
    payloads: list[int], cuts: list[int]
) -> None:
    frames = [len(p).to_bytes(3, "big") + b"\x00\x00" + b"\x00\x00\x00\x01" + bytes(p)
              for p in (bytes([7]) * n for n in payloads)]
    data = PREFACE + b"".join(frames)
    ends = set()
    position = len(PREFACE)
    for frame in frames:
        position += len(frame)
        ends.add(position)
    cutter = _FrameCutter(len(PREFACE))
    offsets = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    pieces: list[tuple[int, int]] = []
    for start, stop in zip(offsets, offsets[1:], strict=False):
        at = start
        for piece in cutter.split(data[start:stop]):
            pieces.append((at, at + len(piece)))
            at += len(piece)
        assert at == stop  # nothing kept back
    # Every piece but the last of a read ends where a frame (or the preface) ends,
    # and every frame end is a cut.
    cut_points = {end for _, end in pieces}
    assert ends <= cut_points
    for (_, end), following in zip(pieces, pieces[1:], strict=False):
        if end != following[0] or end in offsets:
            continue
        assert end in ends or end == len(PREFACE)


def test_content_length_on_a_request_without_body_is_an_error() -> None:
    pair = Pair(validate=False)
    stream_id, events = pair.request(b"/", b"POST", headers=[(b"content-length", b"4")])
    assert events == []
    assert _resets(pair.to_client()) == {stream_id: ErrorCodes.PROTOCOL_ERROR}


def test_too_many_fields_answer_431_without_passing_them_on() -> None:
    pair = Pair(Limits(max_header_count=3))
    stream_id, events = pair.request(headers=[(b"x-%d" % i, b"v") for i in range(4)])
    assert events[0] == RequestReceived(stream_id, b"GET", b"/", (), True)
    assert isinstance(events[1], StreamFailed) and events[1].error.status_code == 431


# -- stream exhaustion ---------------------------------------------------------------


def test_streams_beyond_the_limit_are_refused_and_the_rest_served() -> None:
    pair = Pair(Limits(h2_max_concurrent_streams=3))
    # h2's client keeps to the limit it was told; this one was not told.
    pair.client.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS] = 100
    pair.client.remote_settings.acknowledge()
    opened = [pair.request(end=True) for _ in range(5)]
    assert [bool(_of(events, RequestReceived)) for _, events in opened] == [True] * 3 + [False] * 2
    assert _resets(pair.to_client()) == {
        opened[3][0]: ErrorCodes.REFUSED_STREAM, opened[4][0]: ErrorCodes.REFUSED_STREAM
    }
    pair.server.send_headers(opened[0][0], [(b":status", b"204")], end_stream=True)
    pair.server.stream_done(opened[0][0])
    _, events = pair.request()
    assert _of(events, RequestReceived)


# -- attacks ---------------------------------------------------------------------------


def test_rapid_reset_ends_the_connection_with_enhance_your_calm() -> None:
    pair = Pair(Limits(h2_max_resets=20))
    for _ in range(21):
        stream_id, _ = pair.request(end=False)
        pair.client.reset_stream(stream_id)
        events = pair.to_server()
    assert _of(events, ConnectionEnded)
    goaway = _goaway(pair.to_client())
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_resets_spread_over_time_are_allowed() -> None:
    pair = Pair(Limits(h2_max_resets=20, h2_flood_window=1.0))
    for i in range(100):
        if i % 10 == 0:
            pair.clock.now += 1.0
        stream_id, _ = pair.request(end=False)
        pair.client.reset_stream(stream_id)
        assert not _of(pair.to_server(), ConnectionEnded)
        assert _of(pair.to_server(), ConnectionEnded) == []
        pair.server.stream_done(stream_id)
    assert not pair.server.closed


def test_client_reset_closes_its_stream() -> None:
    pair = Pair()
    stream_id, _ = pair.request(end=False)
    pair.client.reset_stream(stream_id, ErrorCodes.CANCEL)
    assert pair.to_server() == [StreamClosed(stream_id, "reset by the client")]
    assert pair.server.open_streams == 0


@pytest.mark.parametrize("frame", ["ping", "settings", "empty-data"])
def test_control_frame_floods_end_the_connection(frame: str) -> None:
    pair = Pair(Limits(h2_max_control_frames=50))
    stream_id, _ = pair.request(b"/up", b"POST", end=False)
    for i in range(60):
        if frame == "ping":
            pair.client.ping(b"%08d" % i)
        elif frame == "settings":
            pair.client.update_settings({SettingCodes.ENABLE_PUSH: 0})
        else:
            pair.client.send_data(stream_id, b"")
    events = pair.to_server()
    assert _of(events, ConnectionEnded)
    goaway = _goaway(pair.to_client())
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_pings_at_a_fair_pace_are_answered() -> None:
    pair = Pair(Limits(h2_max_control_frames=50, h2_flood_window=1.0))
    for i in range(200):
        pair.clock.now += 0.1
        pair.client.ping(b"%08d" % i)
        assert pair.to_server() == []
        assert _of(pair.to_client(), h2events.PingAckReceived)


def _raw_headers(pair: Pair, stream_id: int, block: bytes, *, end_headers: bool) -> bytes:
    frame = HeadersFrame(stream_id, block)
    frame.flags.add("END_STREAM")
    if end_headers:
        frame.flags.add("END_HEADERS")
    return frame.serialize()


def test_continuation_flood_is_cut_at_the_header_limit() -> None:
    pair = Pair(Limits(h2_max_header_list_size=16384))
    block = Encoder().encode([(b":method", b"GET"), (b":scheme", b"http"),
                              (b":authority", b"a"), (b":path", b"/")])
    events = pair.to_server(_raw_headers(pair, 1, block, end_headers=False))
    assert events == []
    # Each CONTINUATION is small and valid on its own; h2 alone would hold 64
    # of them whatever their size.
    for _ in range(10):
        events = pair.to_server(ContinuationFrame(1, b"\x00" * 2000).serialize())
        if events:
            break
    assert _of(events, ConnectionEnded)
    goaway = _goaway(pair.to_client())
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_header_block_that_never_ends_times_out() -> None:
    pair = Pair()
    block = Encoder().encode([(b":method", b"GET"), (b":path", b"/")])
    pair.to_server(_raw_headers(pair, 1, block, end_headers=False))
    deadline = pair.server.deadline
    assert deadline == pair.clock.now + Limits().header_timeout
    pair.clock.now = deadline
    assert _of(pair.server.expire(pair.clock.now), ConnectionEnded)
    goaway = _goaway(pair.to_client())
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


def test_hpack_bomb_is_stopped_at_the_decoded_size() -> None:
    pair = Pair(Limits(h2_max_header_list_size=16384))
    encoder = Encoder()
    big = (b"x-big", b"v" * 4000)
    first = encoder.encode([(b":method", b"GET"), (b":scheme", b"http"),
                            (b":authority", b"a"), (b":path", b"/"), big])
    pair.to_server(_raw_headers(pair, 1, first, end_headers=True))
    pair.to_client()
    # Each repetition is one octet on the wire (an index into the table) and
    # 4 KB decoded.
    bomb = encoder.encode([(b":method", b"GET"), (b":scheme", b"http"),
                           (b":authority", b"a"), (b":path", b"/")] + [big] * 100)
    assert len(bomb) < 200
    events = pair.to_server(_raw_headers(pair, 3, bomb, end_headers=True))
    assert not _of(events, RequestReceived)
    goaway = _goaway(pair.to_client())
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM


# -- timers ----------------------------------------------------------------------------


def test_idle_connection_ends_with_goaway() -> None:
    pair = Pair(Limits(idle_timeout=5.0))
    assert pair.server.deadline == pair.clock.now + 5.0
    pair.clock.now += 4.9
    assert pair.server.expire(pair.clock.now) == []
    pair.clock.now += 0.1
    assert pair.server.expire(pair.clock.now) == [ConnectionEnded(False, "idle")]
    goaway = _goaway(pair.to_client())
    assert goaway is not None and goaway.error_code == ErrorCodes.NO_ERROR


def test_no_idle_timer_while_a_stream_is_open() -> None:
    pair = Pair(Limits(idle_timeout=5.0))
    stream_id, _ = pair.request()
    assert pair.server.deadline is None
    pair.server.send_headers(stream_id, [(b":status", b"204")], end_stream=True)
    pair.clock.now += 3
    pair.server.stream_done(stream_id)
    assert pair.server.deadline == pair.clock.now + 5.0


def test_body_that_stops_while_the_application_reads_fails_with_408() -> None:
    pair = Pair(Limits(body_timeout=5.0, body_rate_grace=100.0, min_body_rate=1))
    stream_id, _ = pair.request(b"/up", b"POST", body=b"x", end=False)
    assert pair.server.deadline is None  # nobody reads: the client is not at fault
    pair.server.reading(stream_id, True)
    assert pair.server.deadline == pair.clock.now + 5.0
    pair.clock.now += 5.0
    (event,) = pair.server.expire(pair.clock.now)
    assert isinstance(event, StreamFailed) and event.error.status_code == 408


def test_body_below_the_minimum_rate_fails_after_the_grace() -> None:
    limits = Limits(body_timeout=60.0, body_rate_grace=2.0, min_body_rate=100)
    pair = Pair(limits)
    stream_id, _ = pair.request(b"/up", b"POST", end=False)
    pair.server.reading(stream_id, True)
    for _ in range(5):
        pair.clock.now += 1.0
        pair.client.send_data(stream_id, b"x" * 10)  # 10 bytes/s: a trickle
        pair.to_server()
        events = pair.server.expire(pair.clock.now)
        if events:
            break
    assert isinstance(events[0], StreamFailed) and events[0].error.status_code == 408


def test_zero_window_slow_read_resets_the_stream() -> None:
    pair = Pair(Limits(body_timeout=5.0))
    pair.client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
    pair.to_server()
    pair.to_client()
    stream_id, _ = pair.request()
    pair.server.send_headers(stream_id, [(b":status", b"200")], end_stream=False)
    assert pair.server.send_window(stream_id) == 0
    pair.server.send_blocked(stream_id, True)
    assert pair.server.deadline == pair.clock.now + 5.0
    pair.clock.now += 5.0
    assert pair.server.expire(pair.clock.now) == [
        StreamClosed(stream_id, "the client opened no window")
    ]
    assert _resets(pair.to_client()) == {stream_id: ErrorCodes.CANCEL}
    assert pair.server.open_streams == 0


def test_window_opened_is_reported() -> None:
    pair = Pair()
    stream_id, _ = pair.request()
    pair.client.increment_flow_control_window(100, stream_id)
    assert pair.to_server() == [WindowOpened(stream_id)]


# -- shutting down ---------------------------------------------------------------------


def test_graceful_shutdown_lets_streams_finish_and_refuses_new_ones() -> None:
    pair = Pair()
    stream_id, _ = pair.request()
    pair.server.start_shutdown()
    goaway = _goaway(pair.to_client())
    assert goaway is not None
    assert (goaway.error_code, goaway.last_stream_id) == (ErrorCodes.NO_ERROR, stream_id)
    # The stream in flight is answered after the GOAWAY.
    pair.server.send_headers(stream_id, [(b":status", b"200")], end_stream=False)
    pair.server.send_data(stream_id, b"done", end_stream=True)
    events = pair.to_client()
    assert _of(events, h2events.ResponseReceived) and _of(events, h2events.StreamEnded)


def test_stream_after_the_goaway_is_refused() -> None:
    pair = Pair()
    pair.request()
    pair.server.start_shutdown()
    pair.to_client()
    server = pair.server
    # A client that sent its request before it read the GOAWAY.
    frame = HeadersFrame(3, Encoder().encode(
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/")]
    ))
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    assert server.receive_data(frame.serialize()) == []
    assert b"\x00\x00\x04\x03" in server.data_to_send()  # RST_STREAM's header


def test_client_goaway_lets_its_streams_be_answered_and_pings_acked() -> None:
    pair = Pair()
    stream_id, _ = pair.request()
    pair.client.close_connection()
    ping = PingFrame(0, b"12345678").serialize()
    events = pair.to_server(pair.client.data_to_send() + ping)
    assert events == [ConnectionEnded(True, "the client sent GOAWAY")]
    assert pair.server.shutting_down
    pair.server.send_headers(stream_id, [(b":status", b"204")], end_stream=True)
    sent = pair.server.data_to_send()
    assert sent  # the PING ACK and the response both went out


def test_sending_on_a_reset_stream_is_a_local_error() -> None:
    pair = Pair()
    stream_id, _ = pair.request(end=False)
    pair.to_server(RstStreamFrame(stream_id).serialize())
    with pytest.raises(LocalProtocolError):
        pair.server.send_headers(stream_id, [(b":status", b"200")], end_stream=True)


def test_send_last_queues_a_body_only_when_the_window_takes_it_whole() -> None:
    pair = Pair()
    pair.client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 4})
    pair.to_server()
    pair.to_client()
    stream_id, _ = pair.request()
    pair.server.send_headers(stream_id, [(b":status", b"200")], end_stream=False)
    pair.to_client()
    assert not pair.server.send_last(stream_id, b"12345")
    assert pair.server.data_to_send() == b""  # nothing queued: the caller sends in pieces
    assert pair.server.send_last(stream_id, b"1234")
    events = pair.to_client()
    assert [e.data for e in _of(events, h2events.DataReceived)] == [b"1234"]
    assert _of(events, h2events.StreamEnded)
    with pytest.raises(LocalProtocolError):
        pair.server.send_last(stream_id, b"")


def test_connection_needs_no_clock_reading_beyond_the_one_given() -> None:
    calls = []

    def clock() -> float:
        calls.append(1)
        return 5.0

    server = H2ServerConnection(clock=clock)
    server.initiate()
    assert server.deadline == 5.0 + Limits().idle_timeout
