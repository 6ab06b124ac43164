"""A server connection and a wsproto client talking to it in memory, under a fake clock."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from crosswind.protocol.events import NEED_DATA
from crosswind.protocol.limits import Limits
from crosswind.protocol.websocket import WebSocketConnection, screen_upgrade
from crosswind.protocol.websocket.events import Event
from crosswind.protocol.websocket.handshake import Accepted, UpgradeRequest
from wsproto import events as ws
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.extensions import PerMessageDeflate

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
UPGRADE = [
    (b"host", b"example.com"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", KEY),
    (b"sec-websocket-version", b"13"),
]


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def upgrade(*extra: tuple[bytes, bytes]) -> UpgradeRequest:
    request = screen_upgrade("GET", "1.1", [*UPGRADE, *extra])
    assert isinstance(request, UpgradeRequest), request
    return request


def field(accepted: Accepted, name: bytes) -> bytes | None:
    values = [value for key, value in accepted.headers if key.lower() == name.lower()]
    assert len(values) <= 1
    return values[0] if values else None


class Pair:
    """A server connection and a client that offered what the test asks for."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        offer: str | None = None,
        compression: dict[str, Any] | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
    ) -> None:
        self.clock = Clock()
        extra = [] if offer is None else [(b"sec-websocket-extensions", offer.encode())]
        self.accepted = upgrade(*extra).accept(compression_options=compression)
        client_extensions = []
        agreed = field(self.accepted, b"Sec-WebSocket-Extensions")
        if agreed is not None:
            deflate = PerMessageDeflate()
            deflate.finalize(agreed.decode())
            client_extensions.append(deflate)
        self.client = Connection(ConnectionType.CLIENT, client_extensions)
        self.server = WebSocketConnection(
            limits,
            clock=self.clock,
            extensions=self.accepted.extensions,
            subprotocol=self.accepted.subprotocol,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
        )

    def send(self, *events: ws.Event) -> list[Event]:
        """The client sends *events*; the server's events in answer."""
        self.server.receive_data(b"".join(self.client.send(event) for event in events))
        return self.server_events()

    def server_events(self) -> list[Event]:
        found = []
        while (event := self.server.next_event()) is not NEED_DATA:
            found.append(event)
        return found

    def to_client(self, data: bytes) -> list[ws.Event]:
        """What the client makes of bytes from the server."""
        if self.client.state is ConnectionState.CLOSED:
            assert data == b""
            return []
        self.client.receive_data(data)
        return list(self.client.events())

    def flush(self) -> list[ws.Event]:
        """What the client makes of the bytes the server queued on its own."""
        return self.to_client(self.server.data_to_send())


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
) -> bytes:
    """A client frame written out by hand, for what no well-behaved client sends.

    :param rsv: the three reserved bits, 0 to 7 (4 is RSV1).
    :param length: the payload length the header declares, if not the real one.
    """
    declared = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    flag = 0x80 if mask else 0
    if declared < 126:
        head.append(flag | declared)
    elif declared < 1 << 16:
        head.append(flag | 126)
        head += struct.pack("!H", declared)
    else:
        head.append(flag | 127)
        head += struct.pack("!Q", declared)
    if not mask:
        return bytes(head) + payload
    key = b"\x12\x34\x56\x78"
    return bytes(head) + key + bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def closes(events: Sequence[ws.Event]) -> list[tuple[int, str]]:
    return [(int(e.code), e.reason) for e in events if isinstance(e, ws.CloseConnection)]
