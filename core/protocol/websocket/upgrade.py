"""From an accepted handshake to a session: the steps every WebSocket front end shares.

Tornado-style handlers, Flask-style views and any later front end vet the
upgrade their own way (:func:`~.handshake.screen_upgrade`, an origin policy,
a subprotocol choice), then all do the same thing, here, once:

1. take the connection over from HTTP (:meth:`Exchange.detach
   <crosswind.protocol.exchange.Exchange.detach>`);
2. write the ``101 Switching Protocols`` head: the handshake's fields
   (:attr:`.handshake.Accepted.headers`) first, then the caller's own (a
   ``Set-Cookie``, say);
3. build the :class:`~.connection.WebSocketConnection` with the server's
   limits, the driver's clock, the agreed extensions and subprotocol and the
   ping settings, and the :class:`~.session.WebSocketSession` around it.

The caller then runs the session (:meth:`~.session.WebSocketSession.run`)
or pulls its events (:meth:`~.session.WebSocketSession.next_event`).
Nothing here waits except through the stream, so it runs on any backend.

A server that frames WebSocket itself (an ASGI server) has no stream to hand
over.  Its exchange then offers ``open_websocket`` (:class:`SessionOpener`),
and :func:`start_session` lets it open the session its own way, after the
same checks; what comes back has the surface of :class:`Session`, so the
front ends need not know which kind they hold.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Iterable, Sequence
from typing import Protocol

from ...grammar import is_token
from ..exchange import ClientDisconnected, DetachedStream
from ..limits import Limits
from .connection import WebSocketConnection
from .events import Event
from .handshake import Accepted
from .session import SessionHandler, WebSocketSession

__all__ = ["Detachable", "Session", "SessionOpener", "SessionState", "start_session"]

_HEAD = b"HTTP/1.1 101 Switching Protocols\r\n"
# A field value must not end the line or the head early.
_UNSAFE = re.compile(rb"[\r\n\x00]")


class Detachable(Protocol):
    """What :func:`start_session` takes the connection from: an exchange, or a wrapper of one."""

    def detach(self) -> DetachedStream:
        """Stop speaking HTTP on the connection and hand over its stream."""
        ...


class SessionState(Protocol):
    """What a front end reads of a session's connection (a :class:`WebSocketConnection` has it)."""

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol agreed on, or ``None``."""
        ...

    @property
    def close_code(self) -> int | None:
        """The code the connection closed with, or ``None`` while it is open."""
        ...

    @property
    def close_reason(self) -> str | None:
        """The reason that came with :attr:`close_code`, or ``None``."""
        ...

    @property
    def closing(self) -> bool:
        """Our close went out and the connection has not ended yet."""
        ...

    @property
    def closed(self) -> bool:
        """The connection has ended."""
        ...


class Session(Protocol):
    """What :func:`start_session` returns: a :class:`WebSocketSession`, or a server's own.

    The methods mean what :class:`WebSocketSession`'s do; the sends return
    an awaitable that need not be awaited.
    """

    @property
    def connection(self) -> SessionState:
        """The connection's state."""
        ...

    def send_text(self, text: str) -> Awaitable[None]:
        """Send a text message."""
        ...

    def send_bytes(self, data: bytes) -> Awaitable[None]:
        """Send a binary message."""
        ...

    def send_ping(self, payload: bytes = b"") -> Awaitable[None]:
        """Send a ping, where the server lets the application send one."""
        ...

    def close(self, code: int = 1000, reason: str = "") -> Awaitable[None]:
        """Start the closing handshake."""
        ...

    def abort(self) -> None:
        """End the connection at once; the handler still gets its closing event."""
        ...

    async def run(self, handler: SessionHandler) -> None:
        """Hand every event to *handler* until the connection closes."""
        ...

    async def next_event(self) -> Event:
        """The next event, for a caller that pulls them."""
        ...

    async def finish(self, code: int = 1000, reason: str = "") -> None:
        """End a connection served with :meth:`next_event`."""
        ...


class SessionOpener(Protocol):
    """An exchange whose server speaks WebSocket itself, so there is no stream to detach.

    An ASGI server does the framing, and the application exchanges
    ``websocket.*`` messages with it instead of bytes.  Such an exchange
    has this method, and :func:`start_session` calls it in place of
    detaching.
    """

    async def open_websocket(
        self,
        accepted: Accepted,
        *,
        headers: Sequence[tuple[bytes, bytes]],
        max_message_size: int | None,
    ) -> Session | None:
        """Accept the upgrade and return the session, or ``None`` when the client left first.

        :param accepted: the handshake's choices; the server writes the
            handshake's own fields, so only the subprotocol is taken from it.
        :param headers: the caller's own fields for the ``101``, checked already.
        :param max_message_size: the largest message accepted, or ``None``
            for the default.
        """
        ...


async def start_session(
    exchange: Detachable,
    accepted: Accepted,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    max_message_size: int | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
) -> Session | None:
    """Detach, send the ``101`` and return the session, ready to run.

    :param exchange: the upgrade request's exchange; nothing may have been
        sent on it yet.
    :param accepted: what :meth:`UpgradeRequest.accept
        <crosswind.protocol.websocket.handshake.UpgradeRequest.accept>` returned.
    :param headers: more fields for the ``101``, ``(name, value)`` bytes pairs.
    :param max_message_size: the largest message (and frame) accepted, in
        place of the server's ``ws_max_message_size`` and ``ws_max_frame_size``;
        ``None`` keeps the server's limits.
    :param ping_interval: seconds between keep-alive pings, or ``None``.
    :param ping_timeout: seconds a ping may go unanswered, or ``None`` to wait forever.
        Both are ignored by a :class:`SessionOpener`, whose server pings on its own.
    :returns: the session, or ``None`` when the client left before the
        ``101`` could be written (the stream is closed then).
    :raises RuntimeError: the exchange was not served by a connection driver
        (its stream has no clock for the connection's deadlines).
    :raises ValueError: a ping setting that is not positive, or a field
        that could not be sent as it is; these are checked before the
        exchange is detached, so the caller may still answer in HTTP.
    """
    for setting, seconds in (("ping_interval", ping_interval), ("ping_timeout", ping_timeout)):
        if seconds is not None and not seconds > 0:
            raise ValueError(f"{setting} must be a positive number or None, not {seconds!r}")
    extra = tuple(headers)
    head = bytearray(_HEAD)
    for name, value in (*accepted.headers, *extra):
        if not is_token(name) or _UNSAFE.search(value):
            raise ValueError(f"invalid header field {name!r} for the 101 response")
        head += b"%s: %s\r\n" % (name, value)
    head += b"\r\n"
    # getattr, not isinstance: a mounted exchange forwards attributes with
    # __getattr__, which runtime protocol checks do not consult.
    open_websocket = getattr(exchange, "open_websocket", None)
    if open_websocket is not None:
        session: Session | None = await open_websocket(
            accepted, headers=extra, max_message_size=max_message_size
        )
        return session
    stream = exchange.detach()
    try:
        if stream.clock is None:
            raise RuntimeError("a WebSocket needs a stream from a connection driver")
        limits = stream.limits or Limits()
        if max_message_size is not None:
            limits = limits.replace(
                ws_max_message_size=max_message_size, ws_max_frame_size=max_message_size
            )
        connection = WebSocketConnection(
            limits,
            clock=stream.clock,
            extensions=accepted.extensions,
            subprotocol=accepted.subprotocol,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
        )
    except BaseException:
        await stream.close()
        raise
    try:
        await stream.send(bytes(head))
    except ClientDisconnected:
        await stream.close()
        return None
    return WebSocketSession(stream, connection)
