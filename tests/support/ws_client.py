"""A blocking WebSocket client for tests: wsproto over a plain socket.

Usage::

    with WSClient(port, "/echo") as client:
        client.send_text("hi")
        assert client.receive() == TextMessage("hi")

Every read has a timeout, so a server that stays silent fails the test
instead of hanging it.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto import events as ws
from wsproto.extensions import PerMessageDeflate

__all__ = ["WSClient", "raw_request"]

TIMEOUT = 10.0


class WSClient:
    """One client connection, its handshake done in the constructor.

    :param port: the server's port on 127.0.0.1.
    :param path: the request target.
    :param subprotocols: offered in ``Sec-WebSocket-Protocol``.
    :param deflate: offer permessage-deflate.
    :param headers: extra request fields.
    :param auto_pong: answer pings (wsproto leaves it to the caller).
    """

    def __init__(
        self,
        port: int,
        path: str = "/",
        *,
        subprotocols: Sequence[str] = (),
        deflate: bool = False,
        headers: Iterable[tuple[str, str]] = (),
        auto_pong: bool = True,
        timeout: float = TIMEOUT,
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.auto_pong = auto_pong
        self.pending: deque[ws.Event] = deque()
        self.eof = False
        self.sock.sendall(
            self.ws.send(
                ws.Request(
                    host=f"127.0.0.1:{port}",
                    target=path,
                    subprotocols=list(subprotocols),
                    extensions=[PerMessageDeflate()] if deflate else [],
                    extra_headers=[(k.encode(), v.encode()) for k, v in headers],
                )
            )
        )
        #: The handshake's outcome: AcceptConnection or RejectConnection.
        self.handshake = self.next_event()

    def __enter__(self) -> WSClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.sock.close()

    @property
    def accepted(self) -> bool:
        return isinstance(self.handshake, ws.AcceptConnection)

    def send(self, event: ws.Event) -> None:
        self.sock.sendall(self.ws.send(event))

    def send_text(self, text: str) -> None:
        self.send(ws.TextMessage(data=text))

    def send_bytes(self, data: bytes) -> None:
        self.send(ws.BytesMessage(data=data))

    def next_event(self) -> ws.Event | None:
        """The next event; ``None`` once the server closed the TCP connection."""
        while not self.pending:
            if self.eof:
                return None
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                if self.ws.state.name == "CLOSED":
                    return None  # after the closing handshake: nothing to report
            self.ws.receive_data(data or None)
            for event in self.ws.events():
                if isinstance(event, ws.Ping) and self.auto_pong:
                    self.send(event.response())
                self.pending.append(event)
        return self.pending.popleft()

    def receive(self) -> str | bytes | ws.Event | None:
        """The next whole message as ``str`` or ``bytes``, or the next other event.

        Pings are skipped when they are answered automatically.
        """
        parts: list[Any] = []
        while True:
            event = self.next_event()
            if isinstance(event, ws.Ping) and self.auto_pong:
                continue
            if isinstance(event, ws.Message):
                parts.append(event.data)
                if event.message_finished:
                    return "".join(parts) if isinstance(event, ws.TextMessage) else b"".join(parts)
                continue
            return event

    def close(self, code: int = 1000, reason: str = "") -> ws.Event | None:
        """Send a close frame; the server's answer."""
        self.send(ws.CloseConnection(code=code, reason=reason))
        return self.receive()

    def wait_closed(self) -> ws.CloseConnection | None:
        """Read until the server's close frame (answering it) or the end of the stream."""
        while True:
            event = self.next_event()
            if event is None:
                return None
            if isinstance(event, ws.CloseConnection):
                if self.ws.state.name == "REMOTE_CLOSING":
                    self.send(event.response())
                return event


def raw_request(port: int, head: str, timeout: float = TIMEOUT) -> tuple[int, dict[str, str], bytes]:
    """Send a request head as written; the status, the fields (lowercase names) and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode("latin-1"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        top, _, body = data.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = int(fields.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return int(lines[0].split()[1]), fields, body
