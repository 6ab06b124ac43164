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
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from ...grammar import is_token
from ..exchange import ClientDisconnected, DetachedStream
from ..limits import Limits
from .connection import WebSocketConnection
from .handshake import Accepted
from .session import WebSocketSession

__all__ = ["Detachable", "start_session"]

_HEAD = b"HTTP/1.1 101 Switching Protocols\r\n"
# A field value must not end the line or the head early.
_UNSAFE = re.compile(rb"[\r\n\x00]")


class Detachable(Protocol):
    """What :func:`start_session` takes the connection from: an exchange, or a wrapper of one."""

    def detach(self) -> DetachedStream:
        """Stop speaking HTTP on the connection and hand over its stream."""
        ...


async def start_session(
    exchange: Detachable,
    accepted: Accepted,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    max_message_size: int | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
) -> WebSocketSession | None:
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
    head = bytearray(_HEAD)
    for name, value in (*accepted.headers, *headers):
        if not is_token(name) or _UNSAFE.search(value):
            raise ValueError(f"invalid header field {name!r} for the 101 response")
        head += b"%s: %s\r\n" % (name, value)
    head += b"\r\n"
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
