"""start_session and the pulled session, over an in-memory transport that never waits."""

from __future__ import annotations

import pytest
from crosswind._sync import run_sync
from crosswind.protocol.exchange import DetachedStream
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import TransportClosed
from crosswind.protocol.websocket import CloseReceived, TextMessage, WebSocketClosed
from crosswind.protocol.websocket.upgrade import start_session
from wsproto import events as ws
from wsproto.connection import Connection, ConnectionType

from .peers import Clock, upgrade


class Transport:
    """Hands out the bytes given to it, one chunk per read, and keeps what is sent."""

    def __init__(self, *incoming: bytes, fail_sends: bool = False) -> None:
        self.incoming = list(incoming)
        self.sent = bytearray()
        self.closed = False
        self.fail_sends = fail_sends

    async def receive(self, deadline: float | None) -> bytes:
        return self.incoming.pop(0) if self.incoming else b""

    async def send(self, data: bytes) -> None:
        if self.fail_sends:
            raise TransportClosed()
        self.sent += data

    async def close(self) -> None:
        self.closed = True


class Exchange:
    def __init__(self, transport: Transport, limits: Limits | None = None) -> None:
        self.transport = transport
        self.limits = limits
        self.detached = 0

    def detach(self) -> DetachedStream:
        self.detached += 1
        return DetachedStream(self.transport, b"", clock=Clock(), limits=self.limits)  # type: ignore[arg-type]


def client_bytes(*events: ws.Event) -> bytes:
    client = Connection(ConnectionType.CLIENT)
    return b"".join(client.send(event) for event in events)


def test_the_101_head_holds_the_handshake_fields_then_the_callers() -> None:
    exchange = Exchange(Transport())
    accepted = upgrade((b"sec-websocket-protocol", b"chat")).accept("chat")
    session = run_sync(start_session(exchange, accepted, headers=[(b"Set-Cookie", b"a=1")]))
    assert session is not None
    head = bytes(exchange.transport.sent)
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
    assert head.endswith(b"Sec-WebSocket-Protocol: chat\r\nSet-Cookie: a=1\r\n\r\n")
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    assert session.connection.subprotocol == "chat"


@pytest.mark.parametrize(
    ("headers", "settings"),
    [
        ([(b"X-Bad", b"a\r\nInjected: 1")], {}),
        ([(b"Bad Name", b"x")], {}),
        ([], {"ping_interval": 0}),
        ([], {"ping_interval": 5, "ping_timeout": -1}),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_detached(
    headers: list[tuple[bytes, bytes]], settings: dict[str, float]
) -> None:
    exchange = Exchange(Transport())
    with pytest.raises(ValueError):
        run_sync(start_session(exchange, upgrade().accept(), headers=headers, **settings))
    assert exchange.detached == 0
    assert exchange.transport.sent == b""


def test_a_client_gone_before_the_101_gives_no_session() -> None:
    exchange = Exchange(Transport(fail_sends=True))
    assert run_sync(start_session(exchange, upgrade().accept())) is None
    assert exchange.transport.closed


def test_the_message_size_replaces_the_servers_limits() -> None:
    exchange = Exchange(Transport(), Limits(ws_max_message_size=10, ws_close_timeout=3))
    session = run_sync(start_session(exchange, upgrade().accept(), max_message_size=99))
    assert session is not None
    limits = session.connection.limits
    assert (limits.ws_max_message_size, limits.ws_max_frame_size) == (99, 99)
    assert limits.ws_close_timeout == 3


def test_a_pulled_session_delivers_messages_then_the_close_once() -> None:
    incoming = client_bytes(ws.TextMessage(data="hi"), ws.CloseConnection(code=4000, reason="done"))
    exchange = Exchange(Transport(incoming))
    session = run_sync(start_session(exchange, upgrade().accept()))
    assert session is not None
    head = len(exchange.transport.sent)
    assert run_sync(session.next_event()) == TextMessage("hi")
    assert run_sync(session.next_event()) == CloseReceived(4000, "done")
    # The echo of the close went out before the event was returned.
    assert bytes(exchange.transport.sent[head:]) == b"\x88\x02\x0f\xa0"
    with pytest.raises(WebSocketClosed):
        run_sync(session.next_event())
    run_sync(session.finish())
    assert exchange.transport.closed


def test_finish_closes_and_waits_for_the_answer() -> None:
    client = Connection(ConnectionType.CLIENT)
    exchange = Exchange(Transport())
    session = run_sync(start_session(exchange, upgrade().accept()))
    assert session is not None
    head = len(exchange.transport.sent)
    # The client answers our close after a message still in flight.
    exchange.transport.incoming = [
        client.send(ws.TextMessage(data="late")) + client.send(ws.CloseConnection(code=1011))
    ]
    run_sync(session.finish(1011, "internal error"))
    client.receive_data(bytes(exchange.transport.sent[head:]))
    assert [type(event) for event in client.events()] == [ws.CloseConnection]
    assert session.connection.close_code == 1011
    assert exchange.transport.closed
