"""crosswind WebSocket routes under an ASGI server: the ``websocket`` scope.

An ASGI server does the WebSocket framing itself; the application accepts,
sends and closes with ``websocket.*`` messages and reads
``websocket.receive`` and ``websocket.disconnect``.  So there is no stream to
detach: the exchange made for a ``websocket`` scope offers ``open_websocket``
(:class:`~crosswind.protocol.websocket.upgrade.SessionOpener`), which
:func:`~crosswind.protocol.websocket.upgrade.start_session` calls in place of
detaching, and gets back an :class:`ASGIWebSocketSession`, which has the
surface of :class:`~crosswind.protocol.websocket.session.WebSocketSession`.
The Tornado-style and Flask-style front ends run unchanged on top.

The mapping, rule by rule:

* **The handshake is the front end's**, as on a crosswind backend: the
  application sees an ordinary ``GET`` (the scope's fields, with the
  handshake fields an HTTP/2 WebSocket lacks filled in, since the server
  has vetted the handshake already, and the offered subprotocols from the
  scope when its fields lack them), runs ``prepare()``, the origin check
  and the subprotocol choice, and only then sends ``websocket.accept``,
  with the subprotocol and the caller's own fields (a ``Set-Cookie`` from
  ``prepare()``).  The handshake's own fields, ``Date`` and ``Server`` are
  the server's to write.
* **An answer in place of the upgrade** (``403`` for a refused origin, a
  redirect to a login page, a ``404``) goes out as
  ``websocket.http.response.start`` and ``.body`` when the server offers
  that extension in the scope; otherwise as ``websocket.close``, which the
  server answers with ``403``.
* **Messages.**  ``websocket.receive`` becomes a text or binary message; one
  over the size limit closes the connection with ``1009``, as on a backend.
  Sends go out in order through one writer task, so a send that is never
  awaited (Tornado code rarely awaits ``write_message``) still goes out;
  awaiting one waits until the server took it.
* **Pings.**  ASGI has no ping message: the server pings and answers pings
  on its own.  :meth:`ASGIWebSocketSession.send_ping` sends nothing, and no
  ping or pong event is ever reported; the front ends' ping settings do
  not apply (the server's do).
* **Closing.**  The client's close arrives as ``websocket.disconnect`` with
  its code and reason, as far as the server reports them (``1006`` for a
  connection lost without a close frame).  Our close is ``websocket.close``;
  the session then ends at the server's ``websocket.disconnect``, or after
  ``ws_close_timeout``, and reports our own code, since servers differ in
  what they tell of the client's answer.  :meth:`~ASGIWebSocketSession.abort`
  closes with ``1011``: an ASGI application cannot drop the connection.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, MutableMapping, Sequence
from typing import Any

from crosswind.errors import LocalProtocolError
from crosswind.protocol.events import Request
from crosswind.protocol.exchange import Application, Exchange
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo
from crosswind.protocol.websocket import (
    BytesMessage,
    Closed,
    CloseReceived,
    Event,
    TextMessage,
    WebSocketClosed,
    sendable_close_code,
)
from crosswind.protocol.websocket.handshake import Accepted
from crosswind.protocol.websocket.session import SessionHandler

from ._exchange import HOP_BY_HOP, AdapterDriver, call_application, strip_hop_by_hop
from ._runtime import Event as Flag
from ._runtime import current_library, new_event, spawn_scope

__all__ = ["ASGIWebSocketSession", "serve_websocket"]

log = logging.getLogger("crosswind.adapters")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Spawn = Callable[[Callable[[], Awaitable[None]]], None]

#: The extension with which a server lets the application refuse in HTTP.
HTTP_RESPONSE = "websocket.http.response"
_ABNORMAL = 1006
_NO_STATUS = 1005
_INTERNAL_ERROR = 1011
_TOO_BIG = 1009
_MAX_CLOSE_REASON = 123
_OPEN, _CLOSING, _CLOSED = range(3)
# What an HTTP/1.1 upgrade carries and an HTTP/2 one (RFC 8441) does not.
# The key only feeds Sec-WebSocket-Accept, which the server computes.
_STAND_INS = (
    (b"upgrade", b"websocket"),
    (b"connection", b"upgrade"),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
)
# The server writes these in its 101 itself; a second Date makes the
# websockets-based server of uvicorn fail the handshake.
_SERVERS_FIELDS = frozenset(
    {
        b"date",
        b"server",
        b"sec-websocket-accept",
        b"sec-websocket-protocol",
        b"sec-websocket-extensions",
    }
)


async def serve_websocket(
    app: Application,
    scope: Scope,
    receive: Receive,
    send: Send,
    request_from_scope: Callable[[Scope], tuple[Request, ConnectionInfo, int | None]],
) -> None:
    """Serve one ASGI ``websocket`` scope with a crosswind application.

    :param app: the application.
    :param scope: the ``websocket`` scope.
    :param receive: the server's receive callable.
    :param send: the server's send callable.
    :param request_from_scope: reads the request head from an ``http``-like scope.
    """
    if (await receive())["type"] != "websocket.connect":
        return  # the client left before the application could see it
    request, info, _ = request_from_scope({**scope, "method": "GET"})
    info.extra["asgi_scope"] = scope
    present = {name for name, _ in request.headers}
    headers = [*request.headers, *(f for f in _STAND_INS if f[0] not in present)]
    offered = scope.get("subprotocols") or ()
    if offered and b"sec-websocket-protocol" not in present:
        # Some servers (uvicorn's wsproto) give the offer only as the scope's list.
        headers.append((b"sec-websocket-protocol", ", ".join(offered).encode("latin-1")))
    request = request._replace(headers=headers)
    offers_http = HTTP_RESPONSE in (scope.get("extensions") or {})
    driver = _WebSocketDriver(receive, send, info, offers_http=offers_http)
    exchange = WebSocketExchange(driver, request, time.monotonic())  # type: ignore[arg-type]
    async with spawn_scope() as spawn:
        driver.spawn = spawn
        # Failures are logged there, and answered in HTTP before the accept.
        await call_application(app, exchange, driver.conn)
        session = driver.session
        if session is not None:
            if not session.connection.closed:
                session.abort()  # the application returned, or failed, with it open
            await session.drain()


class _WebSocketDriver(AdapterDriver):
    """The exchange's driver: HTTP answers as ``websocket.http.response``, or a refusal."""

    def __init__(self, receive: Receive, send: Send, info: ConnectionInfo, *, offers_http: bool) -> None:
        super().__init__(info, head_only=False, max_body_size=0, content_length=0)
        self.receive = receive
        self.asgi_send = send
        self.offers_http = offers_http
        self.spawn: Spawn | None = None
        self.session: ASGIWebSocketSession | None = None

    async def receive_body(self) -> bytes:
        return b""  # an upgrade request has no body

    async def deliver(self, data: bytes, end: bool, first: bool) -> None:
        send = self.asgi_send
        if not self.offers_http:
            if first:
                await send({"type": "websocket.close", "code": 1000})
            return
        if first:
            conn = self.conn
            headers = [(name.lower(), value) for name, value in strip_hop_by_hop(conn.response_headers)]
            await send({"type": "websocket.http.response.start", "status": conn.status,
                        "headers": headers})
        if data or end:
            await send({"type": "websocket.http.response.body", "body": data, "more_body": not end})


class WebSocketExchange(Exchange):
    """The exchange of a ``websocket`` scope: an HTTP request that may open a session."""

    __slots__ = ()

    async def open_websocket(
        self,
        accepted: Accepted,
        *,
        headers: Sequence[tuple[bytes, bytes]],
        max_message_size: int | None,
    ) -> ASGIWebSocketSession | None:
        """Send ``websocket.accept`` and return the session (see :class:`SessionOpener
        <crosswind.protocol.websocket.upgrade.SessionOpener>`).

        :param accepted: the handshake's choices; only the subprotocol is used.
        :param headers: more fields for the server's ``101``.
        :param max_message_size: the largest message accepted, or ``None``
            for ``Limits.ws_max_message_size``.
        :raises LocalProtocolError: a response was started already.
        """
        driver: _WebSocketDriver = self._driver  # type: ignore[assignment]
        if self.response_started or driver.head_sent:
            raise LocalProtocolError("cannot accept a WebSocket after the response has started")
        # The connection leaves HTTP here: the application owes no response.
        self.status = 101
        self._ended = True
        driver.conn.response_started = driver.conn.response_done = True
        driver.head_sent = True
        fields = [
            (name.lower(), value)
            for name, value in headers
            if name.lower() not in HOP_BY_HOP and name.lower() not in _SERVERS_FIELDS
        ]
        try:
            await driver.asgi_send(
                {"type": "websocket.accept", "subprotocol": accepted.subprotocol, "headers": fields}
            )
        except OSError:
            return None
        limits = Limits()
        if max_message_size is not None:
            limits = limits.replace(ws_max_message_size=max_message_size)
        assert driver.spawn is not None
        session = driver.session = ASGIWebSocketSession(
            driver.receive, driver.asgi_send, driver.spawn,
            subprotocol=accepted.subprotocol, limits=limits,
        )
        return session


class _State:
    """The connection's state as the front ends read it (a :class:`SessionState
    <crosswind.protocol.websocket.upgrade.SessionState>`)."""

    __slots__ = ("close_code", "close_reason", "phase", "subprotocol")

    def __init__(self, subprotocol: str | None) -> None:
        self.subprotocol = subprotocol
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.phase = _OPEN

    @property
    def closing(self) -> bool:
        return self.phase == _CLOSING

    @property
    def closed(self) -> bool:
        return self.phase == _CLOSED


class _Sent:
    """What a send returns: awaiting it waits until the server took the message."""

    __slots__ = ("_mark", "_session")

    def __init__(self, session: ASGIWebSocketSession, mark: int) -> None:
        self._session = session
        self._mark = mark

    def __await__(self) -> Generator[Any, None, None]:
        return self._session._wait_written(self._mark).__await__()


class ASGIWebSocketSession:
    """One accepted WebSocket connection, spoken in ASGI messages.

    :param receive: the server's receive callable.
    :param send: the server's send callable.
    :param spawn: starts the writer task in the scope serving the connection.
    :param subprotocol: the subprotocol accepted, or ``None``.
    :param limits: ``ws_max_message_size``, ``ws_close_timeout`` and
        ``ws_max_queued_bytes`` apply.
    """

    def __init__(
        self,
        receive: Receive,
        send: Send,
        spawn: Spawn,
        *,
        subprotocol: str | None,
        limits: Limits,
    ) -> None:
        self.connection = _State(subprotocol)
        self.limits = limits
        self._receive = receive
        self._send = send
        self._spawn = spawn
        self._outbox: deque[tuple[Message, int]] = deque()
        self._queued = 0  # messages queued, ever
        self._written = 0  # messages the server took, or dropped once it was gone
        self._queued_bytes = 0
        self._writing = False
        self._lost = False
        self._waiters: list[Flag] = []
        self._decided: deque[Event] = deque()  # closing events of our own making
        self._our_close: tuple[int, str] | None = None
        self._close_sent_at = 0.0
        self._ended = False

    # -- sending ---------------------------------------------------------

    def send_text(self, text: str) -> _Sent:
        """Send a text message; await the result to wait until the server took it.

        :raises WebSocketClosed: the connection is closing or closed.
        """
        self._check_open()
        return self._queue({"type": "websocket.send", "text": text}, _size(text))

    def send_bytes(self, data: bytes) -> _Sent:
        """Send a binary message (see :meth:`send_text`).

        :raises WebSocketClosed: the connection is closing or closed.
        """
        self._check_open()
        return self._queue({"type": "websocket.send", "bytes": bytes(data)}, len(data))

    def send_ping(self, payload: bytes = b"") -> _Sent:
        """Send nothing: ASGI lets the server alone ping (and answer pings).

        :param payload: checked as a ping's would be, then dropped.
        :raises ValueError: the payload is longer than 125 bytes.
        :raises WebSocketClosed: the connection is closing or closed.
        """
        if len(payload) > 125:
            raise ValueError("a ping carries at most 125 bytes")
        self._check_open()
        return _Sent(self, self._queued)

    def close(self, code: int = 1000, reason: str = "") -> _Sent:
        """Ask the server to close with *code*; the session ends at its ``websocket.disconnect``.

        Closing a connection that is closing or closed does nothing.

        :param code: a close code an endpoint may send.
        :param reason: at most 123 bytes of UTF-8.
        :raises ValueError: the code or the reason cannot be sent.
        """
        if not sendable_close_code(code):
            raise ValueError(f"close code {code} cannot be sent")
        if len(reason.encode("utf-8")) > _MAX_CLOSE_REASON:
            raise ValueError("a close reason is at most 123 bytes of UTF-8")
        if self.connection.phase != _OPEN:
            return _Sent(self, self._queued)
        self.connection.phase = _CLOSING
        self._our_close = (code, reason)
        self._close_sent_at = time.monotonic()
        return self._queue({"type": "websocket.close", "code": code, "reason": reason}, 0)

    def abort(self) -> None:
        """End the connection now: the server closes it with ``1011``; the handler hears ``1006``."""
        state = self.connection
        if state.phase == _CLOSED:
            return
        if state.phase == _OPEN:
            self._queue({"type": "websocket.close", "code": _INTERNAL_ERROR, "reason": ""}, 0)
        self._end(Closed(_ABNORMAL, "the connection was aborted"))

    def _check_open(self) -> None:
        if self.connection.phase != _OPEN or self._lost:
            raise WebSocketClosed("the WebSocket connection is closed")

    def _queue(self, message: Message, size: int) -> _Sent:
        self._outbox.append((message, size))
        self._queued += 1
        self._queued_bytes += size
        if not self._writing:
            self._writing = True
            self._spawn(self._write_out)
        return _Sent(self, self._queued)

    async def _write_out(self) -> None:
        """The writer: hands the queued messages to the server, in order."""
        try:
            while self._outbox:
                message, size = self._outbox.popleft()
                if not self._lost:
                    try:
                        await self._send(message)
                    except Exception as error:
                        # The server refuses messages once the client is gone
                        # (OSError for some, RuntimeError for others).
                        log.debug("ASGI server refused %s: %r", message["type"], error)
                        self._lost = True
                self._written += 1
                self._queued_bytes -= size
                self._notify()
        finally:
            self._writing = False
            self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for flag in waiters:
            flag.set()

    async def _wait_written(self, mark: int) -> None:
        while self._written < mark and (self._writing or self._outbox):
            flag = new_event()
            self._waiters.append(flag)
            await flag.wait()
        if self._lost:
            raise WebSocketClosed("the connection was lost")

    async def drain(self) -> None:
        """Wait, for at most ``ws_close_timeout``, until the server took every message queued."""
        with contextlib.suppress(WebSocketClosed):
            await _within(self.limits.ws_close_timeout, self._wait_written(self._queued))

    # -- receiving ---------------------------------------------------------

    async def run(self, handler: SessionHandler) -> None:
        """Hand every event to *handler*, the closing one last.

        :param handler: gets the events one at a time, as on a backend.
        """
        try:
            while True:
                event = await self._next()
                result = handler.event_received(event)
                if result is not None:
                    await result
                if isinstance(event, CloseReceived | Closed):
                    return
        finally:
            await self.drain()

    async def next_event(self) -> Event:
        """The next message or the closing event (see :meth:`WebSocketSession.next_event
        <crosswind.protocol.websocket.session.WebSocketSession.next_event>`).

        :raises WebSocketClosed: the closing event was returned already.
        """
        if self._ended:
            raise WebSocketClosed("the WebSocket connection is closed")
        event = await self._next()
        if isinstance(event, CloseReceived | Closed):
            self._ended = True
        return event

    async def finish(self, code: int = 1000, reason: str = "") -> None:
        """End a connection served with :meth:`next_event`: close, then wait for the end.

        :param code: a close code an endpoint may send.
        :param reason: at most 123 bytes of UTF-8.
        :raises ValueError: the code or the reason cannot be sent.
        """
        try:
            self.close(code, reason)
            while not self._ended:
                await self.next_event()
        finally:
            await self.drain()

    async def _next(self) -> Event:
        limits = self.limits
        while True:
            if self._decided:
                return self._decided.popleft()
            if self._queued_bytes > limits.ws_max_queued_bytes:
                # Back-pressure: read no more until the server took our output.
                with contextlib.suppress(WebSocketClosed):
                    await self._wait_written(self._queued)
            if self.connection.phase == _CLOSING:
                left = self._close_sent_at + limits.ws_close_timeout - time.monotonic()
                done, message = await _within(max(left, 0.0), self._receive())
                if not done:
                    self._end(Closed(_ABNORMAL, "the peer did not answer the close"))
                    continue
            else:
                message = await self._receive()
            event = self._event_of(message)
            if self._decided:
                continue  # a close of ours was decided meanwhile (abort): it comes first
            if event is not None:
                return event

    def _event_of(self, message: Message) -> Event | None:
        kind = message["type"]
        if kind == "websocket.receive":
            data = message.get("bytes")
            if data is None:
                text = message.get("text") or ""
                if _size(text) > self.limits.ws_max_message_size:
                    return self._too_big()
                return TextMessage(text)
            if len(data) > self.limits.ws_max_message_size:
                return self._too_big()
            return BytesMessage(bytes(data))
        if kind == "websocket.disconnect":
            if self.connection.phase == _CLOSED:
                return None  # our own end was decided already
            code = int(message.get("code") or _NO_STATUS)
            event: Event
            if self._our_close is not None:
                event = CloseReceived(*self._our_close)
            elif code == _ABNORMAL:
                event = Closed(_ABNORMAL, "the connection was lost")
            else:
                event = CloseReceived(code, message.get("reason") or "")
            self._set_closed(event)
            return event
        return None  # websocket.connect, or a message of an extension we did not ask for

    def _too_big(self) -> Event:
        if self.connection.phase == _OPEN:
            self._queue({"type": "websocket.close", "code": _TOO_BIG, "reason": "message too big"}, 0)
        event = Closed(_TOO_BIG, "message too big")
        self._set_closed(event)
        return event

    def _end(self, event: Closed) -> None:
        self._set_closed(event)
        self._decided.append(event)

    def _set_closed(self, event: CloseReceived | Closed) -> None:
        state = self.connection
        state.phase = _CLOSED
        state.close_code = event.code
        state.close_reason = event.reason


def _size(text: str) -> int:
    """The UTF-8 length of *text*, without encoding it when it is ASCII."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


async def _within(seconds: float, awaitable: Awaitable[Any]) -> tuple[bool, Any]:
    """``(True, result)`` of *awaitable*, or ``(False, None)`` after *seconds*."""
    if current_library() == "trio":
        import trio

        with trio.move_on_after(seconds):
            return True, await awaitable
        return False, None
    import asyncio

    try:
        return True, await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        return False, None
