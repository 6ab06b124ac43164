"""Fuzz target: raw bytes from a WebSocket client, after the handshake, into a server connection.

Input: the first byte chooses the setup -- bits 0-1 the permessage-deflate offer
(none, or one of three), bit 2 whether the server starts the closing handshake
first, bit 3 whether keep-alive pings run, bits 4-7 how the rest is split; the
rest is what the client sends.

:class:`~crosswind.protocol.websocket.WebSocketConnection` must take any bytes
without raising: a peer's fault ends the connection with a
:class:`~crosswind.protocol.websocket.Closed` carrying the RFC 6455 code
(1002, 1007, 1009; 1006 when the peer goes silent or away), never with an
exception.

Findings: any exception; an event of another type, or a close code other than
those; a message over the limit, or text that is not a ``str``; an event after
the closing one; events that differ between the whole input and the same
bytes split in pieces (the verdict must not depend on how TCP cut them); bytes
from the server that a wsproto client does not read as pongs, pings and at
most one close frame with the right code; queued bytes left once everything
handed out was written.
"""

from __future__ import annotations

from _common import FuzzFinding, split_by
from crosswind.protocol.events import NEED_DATA
from crosswind.protocol.limits import Limits
from crosswind.protocol.websocket import (
    BytesMessage,
    Closed,
    CloseReceived,
    Ping,
    Pong,
    TextMessage,
    UpgradeRequest,
    WebSocketConnection,
    screen_upgrade,
    sendable_close_code,
)
from wsproto import events as ws
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.extensions import PerMessageDeflate

# Small limits so that short inputs reach every size check.
LIMITS = Limits(
    ws_max_message_size=1024,
    ws_max_frame_size=512,
    ws_close_timeout=4.0,
    ws_max_queued_bytes=256,
)
OFFERS = [
    None,
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits=9; server_no_context_takeover",
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
]
UPGRADE = [
    (b"host", b"example.com"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
    (b"sec-websocket-version", b"13"),
]
#: The codes a failed connection closes with (1006: the peer silent or gone).
FAILURE_CODES = {1002, 1007, 1009, 1006}


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _connect(offer: str | None, pings: bool, clock: _Clock) -> tuple[WebSocketConnection, Connection]:
    """A server connection after the handshake, and a wsproto client that agreed to the same."""
    extra = [] if offer is None else [(b"sec-websocket-extensions", offer.encode())]
    request = screen_upgrade("GET", "1.1", [*UPGRADE, *extra])
    if not isinstance(request, UpgradeRequest):
        raise FuzzFinding(f"the handshake was refused: {request!r}")
    accepted = request.accept(compression_options={})
    client_extensions = []
    for name, value in accepted.headers:
        if name.lower() == b"sec-websocket-extensions":
            deflate = PerMessageDeflate()
            deflate.finalize(value.decode())
            client_extensions.append(deflate)
    if (offer is None) != (not client_extensions):
        raise FuzzFinding(f"offer {offer!r} was not accepted as expected")
    server = WebSocketConnection(
        LIMITS,
        clock=clock,
        extensions=accepted.extensions,
        ping_interval=2.0 if pings else None,
        ping_timeout=3.0 if pings else None,
    )
    return server, Connection(ConnectionType.CLIENT, client_extensions)


def _serve(
    pieces: list[bytes], offer: str | None, close_first: bool, pings: bool
) -> list[object]:
    """Feed *pieces* to a fresh server connection; its events, checked one by one."""
    clock = _Clock()
    server, client = _connect(offer, pings, clock)
    events: list[object] = []
    answers: list[ws.Event] = []
    ended = False

    def write(data: bytes) -> None:
        server.mark_written(len(data))
        if client.state is ConnectionState.CLOSED:
            if data:
                raise FuzzFinding("bytes after both close frames")
            return
        client.receive_data(data)
        answers.extend(client.events())

    def drain() -> None:
        nonlocal ended
        while (event := server.next_event()) is not NEED_DATA:
            if ended:
                raise FuzzFinding(f"{event!r} after the closing event")
            _check(event)
            events.append(event)
            ended = isinstance(event, CloseReceived | Closed)
        write(server.data_to_send())

    if close_first:
        write(server.close(1000, "done"))
    for piece in [*pieces, b""]:
        server.receive_data(piece)
        drain()
        if pings:
            clock.now += 1.0
            server.handle_deadline()
            drain()
    if not ended:
        raise FuzzFinding("the transport ended and the connection did not")
    if server.queued_bytes:
        raise FuzzFinding(f"{server.queued_bytes} bytes still queued, all were written")
    _check_answers(answers, events[-1], close_first)
    return events


def _check(event: object) -> None:
    if isinstance(event, TextMessage):
        if not isinstance(event.data, str) or len(event.data.encode()) > LIMITS.ws_max_message_size:
            raise FuzzFinding("a text message over the limit or not decoded")
    elif isinstance(event, BytesMessage):
        if not isinstance(event.data, bytes) or len(event.data) > LIMITS.ws_max_message_size:
            raise FuzzFinding("a binary message over the limit")
    elif isinstance(event, Ping | Pong):
        if len(event.payload) > 125:
            raise FuzzFinding("a control frame over 125 bytes")
    elif isinstance(event, CloseReceived):
        if not (sendable_close_code(event.code) or event.code == 1005):
            raise FuzzFinding(f"close code {event.code} accepted from the peer")
    elif isinstance(event, Closed):
        if event.code not in FAILURE_CODES:
            raise FuzzFinding(f"failed with close code {event.code}")
    else:
        raise FuzzFinding(f"unknown event {event!r}")


def _check_answers(answers: list[ws.Event], last: object, close_first: bool) -> None:
    """What the server wrote, as a client reads it: pings, pongs, and the right close."""
    closes = [a for a in answers if isinstance(a, ws.CloseConnection)]
    if any(not isinstance(a, ws.Ping | ws.Pong | ws.CloseConnection) for a in answers):
        raise FuzzFinding(f"the server wrote something else: {answers!r}")
    if len(closes) > 1:
        raise FuzzFinding(f"more than one close frame: {closes!r}")
    if close_first:
        expected = [(1000, "done")]
    elif isinstance(last, Closed) and last.code != 1006:
        expected = [(last.code, last.reason)]
    elif isinstance(last, CloseReceived):
        # The code echoed (section 5.5.1); a close without one is answered with none.
        expected = [(last.code, "")]
    else:
        expected = []
    if [(int(c.code), c.reason) for c in closes] != expected:
        raise FuzzFinding(f"close frames {closes!r}, expected {expected!r}")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    setup, stream = data[0], data[1:]
    offer = OFFERS[setup & 3]
    close_first = bool(setup & 4)
    pings = bool(setup & 8)
    whole = _serve([stream] if stream else [], offer, close_first, pings=False)
    split = _serve(split_by(stream, setup >> 4), offer, close_first, pings=False)
    if split != whole:
        raise FuzzFinding(f"split input gave {split!r}, whole gave {whole!r}")
    if pings:
        _serve(split_by(stream, setup >> 4), offer, close_first, pings=True)
