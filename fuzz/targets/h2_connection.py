"""Fuzz target: raw bytes from an HTTP/2 client, after the preface, into a server connection.

Input: the first byte chooses how the rest is split (see ``split_by``); the
rest is what the client sends after ``PRI * HTTP/2.0...``.  A small
application answers every request whose body is complete, in pieces as the
windows allow, so the sending side runs too.

:class:`~crosswind.protocol.http2.connection.H2ServerConnection` must take any
bytes without raising: a peer's fault is a stream reset or a GOAWAY, reported
as events, never an exception.

Findings: any exception; a request event whose method is empty, whose target
is neither origin-form, ``*`` (for ``OPTIONS``) nor the authority of a
``CONNECT``, or whose field names are not lowercase tokens or values hold a
control character; more body bytes on a stream than ``max_body_size``; an
event for a stream that was never opened or was closed; events after the
connection ended; events that differ between the whole input and the same
bytes split in pieces (only the verdict, when the connection ends with an
error: h2 drops the events of a read that ends in one); bytes from the server that are not a sequence of
well-formed frames.
"""

from __future__ import annotations

from _common import FuzzFinding, split_by
from crosswind.errors import LocalProtocolError
from crosswind.grammar import FIELD_OCTETS, is_token
from crosswind.protocol.http2.connection import PREFACE, H2ServerConnection
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
from hyperframe.frame import Frame

# Small limits so that short inputs reach every check.
LIMITS = Limits(
    max_body_size=2048,
    max_head_size=2048,
    max_request_line=1024,
    max_header_count=12,
    h2_max_concurrent_streams=4,
    h2_initial_window_size=1024,
    h2_connection_window_size=4096,
    h2_max_resets=8,
    h2_max_control_frames=16,
)


def _serve(pieces: list[bytes]) -> tuple[list[object], bytes]:
    server = H2ServerConnection(LIMITS, clock=lambda: 0.0)
    server.initiate()
    events: list[object] = []
    out = [server.data_to_send()]
    open_streams: dict[int, int] = {}  # stream -> body bytes so far
    ended = False
    read: list[tuple[int, int]] = []
    complete: list[int] = []
    for piece in [PREFACE, *pieces]:
        for event in server.receive_data(piece):
            if ended:
                raise FuzzFinding(f"{event!r} after the connection ended")
            _check(event, open_streams)
            events.append(event)
            if isinstance(event, ConnectionEnded) and not event.graceful:
                ended = True
            elif isinstance(event, BodyReceived):
                # Given back once everything is in: when an application reads
                # is not how TCP split the bytes, and the verdicts must not
                # depend on the split.
                read.append((event.stream_id, event.flow_length))
            elif isinstance(event, RequestReceived) and event.end_stream or isinstance(event, BodyEnded):
                # Answered once everything is in, for the same reason.
                complete.append(event.stream_id)
                open_streams.pop(event.stream_id, None)
            elif isinstance(event, StreamClosed | StreamFailed):
                open_streams.pop(event.stream_id, None)
                if event.stream_id in complete:
                    complete.remove(event.stream_id)
                server.reset(event.stream_id)
        out.append(server.data_to_send())
    for stream_id, flow_length in read:
        server.consumed(stream_id, flow_length)
    for stream_id in complete:
        _answer(server, stream_id)
    out.append(server.data_to_send())
    return events, b"".join(out)


def _answer(server: H2ServerConnection, stream_id: int) -> None:
    body = b"x" * 3000
    try:
        server.send_headers(stream_id, [(b":status", b"200")], end_stream=False)
        size = min(server.send_window(stream_id), len(body))
        server.send_data(stream_id, body[:size], end_stream=size == len(body))
    except LocalProtocolError:
        # Documented: the client reset the stream (or left) in the same read.
        pass
    server.stream_done(stream_id)


def _check(event: object, open_streams: dict[int, int]) -> None:
    if isinstance(event, RequestReceived):
        if event.stream_id in open_streams or not event.method:
            raise FuzzFinding(f"bad request event {event!r}")
        target = event.target
        if not (
            target[:1] == b"/"
            or (target == b"*" and event.method == b"OPTIONS")
            or (event.method == b"CONNECT" and target)
        ):
            raise FuzzFinding(f"target {target!r} passed on")
        for name, value in event.headers:
            if not is_token(name) or name != name.lower() or value.translate(None, FIELD_OCTETS):
                raise FuzzFinding(f"field {name!r}: {value!r} passed on")
        if not event.end_stream:
            open_streams[event.stream_id] = 0
    elif isinstance(event, BodyReceived):
        if event.stream_id not in open_streams:
            raise FuzzFinding(f"body for a stream not open: {event!r}")
        open_streams[event.stream_id] += len(event.data)
        if open_streams[event.stream_id] > LIMITS.max_body_size:
            raise FuzzFinding("more body than max_body_size passed on")
    elif isinstance(event, BodyEnded | StreamFailed):
        if event.stream_id not in open_streams:
            raise FuzzFinding(f"{event!r} for a stream not open")
    elif not isinstance(event, StreamClosed | WindowOpened | ConnectionEnded):
        raise FuzzFinding(f"unexpected event {event!r}")


def _check_frames(out: bytes) -> None:
    view = memoryview(out)
    while view:
        if len(view) < 9:
            raise FuzzFinding("the server's bytes end inside a frame header")
        frame, length = Frame.parse_frame_header(view[:9])
        if len(view) < 9 + length:
            raise FuzzFinding("the server's bytes end inside a frame")
        frame.parse_body(view[9 : 9 + length])
        view = view[9 + length :]


def _failed(events: list[object]) -> bool:
    return bool(events) and isinstance(events[-1], ConnectionEnded) and not events[-1].graceful


def _key(event: object) -> object:
    # An error compares by identity: compare what it says.
    if isinstance(event, StreamFailed):
        return ("failed", event.stream_id, event.error.status_code)
    return event


def test_one_input(data: bytes) -> None:
    if not data:
        return
    setup, stream = data[0], data[1:]
    whole, out = _serve([stream] if stream else [])
    split, _ = _serve(split_by(stream, setup))
    _check_frames(out)
    if _failed(whole) or _failed(split):
        # h2 drops the events of the frames before a connection error in the
        # same read, so only the verdict is compared: the connection is over
        # either way, and what those frames started with it.
        # Which frame the error is blamed on may differ too (a GOAWAY with an
        # error read alone, or the bad frame behind it in the same read).
        if not (_failed(whole) and _failed(split)):
            raise FuzzFinding(f"split input gave {split[-1:]!r}, whole gave {whole[-1:]!r}")
        return
    if list(map(_key, split)) != list(map(_key, whole)):
        raise FuzzFinding(f"split input gave {split!r}, whole gave {whole!r}")
