"""ASGI ``websocket`` scopes under :class:`~crosswind.adapters.asgi.ASGIContainer`.

A request that asks to switch to WebSocket (``Connection: upgrade`` with
``Upgrade: websocket``) is served here instead of as an ``http`` scope; any
other request, a plain ``GET`` to a WebSocket route among them, stays an
``http`` scope, as under uvicorn and hypercorn.  The handshake is vetted
by :func:`~crosswind.protocol.websocket.screen_upgrade`, whose refusals
(``400``, ``405``, ``426``) go out before the app is called.  The protocol
layer does the rest (:func:`~crosswind.protocol.websocket.upgrade.start_session`),
so the limits of the server's :class:`~crosswind.protocol.limits.Limits`
hold here as for every other WebSocket front end.

Rules this module keeps, message by message (ASGI spec version 2.4 with
the WebSocket Denial Response extension):

* ``receive()`` gives ``websocket.connect`` first.  Before the app answers
  the handshake, a second ``receive()`` waits for that answer.
* ``websocket.accept`` sends the ``101`` with the app's ``subprotocol``
  (which must be one the client offered) and extra ``headers``, accepting
  the client's permessage-deflate offer unless told not to (uvicorn's
  default).  Messages then arrive as ``websocket.receive`` with ``text``
  or ``bytes``; the next one is read only once the app took the last, so a
  slow app slows its client down instead of filling memory.
* ``websocket.close`` before accepting, or the app returning without
  answering the handshake, refuses it with ``403`` (the spec's answer to a
  denied connection).  The app raising first gets ``500`` from the server,
  as for any request.  ``websocket.http.response.start`` and ``.body``
  instead send a response of the app's own.  ``receive()`` then gives
  ``websocket.disconnect`` with code ``1006``.
* Once accepted, ``websocket.close`` starts the closing handshake with the
  app's ``code`` and ``reason``; ``receive()`` gives ``websocket.disconnect``
  with them at once, and messages the client sends meanwhile are dropped.
  When the client closes, or the connection fails (``1009`` for a message
  over ``ws_max_message_size``, ``1006`` for a lost connection), the
  disconnect carries that code and reason.  A server shutting down closes
  with ``1001``.  After a disconnect, ``receive()`` gives it again, and
  ``send()`` raises :class:`~crosswind.adapters.asgi.ClientGone`.
* The app returning closes the connection with ``1000`` if it is still
  open; the app raising logs the error and closes with ``1011``.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from crosswind.errors import LocalProtocolError
from crosswind.protocol.exchange import ClientDisconnected, Exchange
from crosswind.protocol.websocket import (
    BytesMessage,
    Closed,
    CloseReceived,
    Refusal,
    TextMessage,
    UpgradeRequest,
    WebSocketClosed,
    screen_upgrade,
)
from crosswind.protocol.websocket.session import WebSocketSession
from crosswind.protocol.websocket.upgrade import start_session

from ._exchange import check_response_headers
from ._runtime import Event, Spawn, new_event, spawn_scope
from .asgi import ClientGone, Message

if TYPE_CHECKING:
    from .asgi import ASGIContainer

__all__ = ["serve_websocket"]

log = logging.getLogger("crosswind.adapters")

#: Spec version 2.4: ``reason`` on ``websocket.close`` and ``websocket.disconnect``.
ASGI_WEBSOCKET = {"version": "3.0", "spec_version": "2.4"}

_HANDSHAKE, _OPEN, _DENYING, _ENDED = range(4)
_ABNORMAL = 1006
_INTERNAL_ERROR = 1011
_CLOSE_FIELD = (b"connection", b"close")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")


async def serve_websocket(container: ASGIContainer, exchange: Exchange) -> None:
    """Serve an upgrade request with the container's ASGI app as a ``websocket`` scope.

    :param container: the container; its app, lifespan state and WebSocket settings.
    :param exchange: the upgrade request, nothing sent on it yet.
    :raises Exception: what the app raised before the handshake was answered
        (the server answers ``500``), or while it sent a denial response.
    """
    verdict = screen_upgrade(exchange.method, exchange.http_version, exchange.headers)
    if isinstance(verdict, Refusal):
        body = (verdict.reason + "\n").encode("utf-8")
        await exchange.respond(verdict.status, [_TEXT, *verdict.headers, _CLOSE_FIELD], body)
        return
    scope = container.scope(exchange)
    del scope["method"]
    scope.update(
        type="websocket",
        asgi=dict(ASGI_WEBSOCKET),
        scheme="wss" if scope["scheme"] == "https" else "ws",
        subprotocols=list(verdict.subprotocols),
        extensions={"websocket.http.response": {}},
    )
    failure: BaseException | None = None
    async with spawn_scope() as spawn:
        call = _WebSocketCall(container, exchange, verdict, spawn)
        # The body must not raise (see spawn_scope): outcomes are kept for after it.
        try:
            await container.asgi_app(scope, call.receive, call.send)
        except Exception as exc:
            failure = exc
        try:
            failure = await call.finish(failure)
        except Exception as exc:
            failure = exc
    if failure is not None:
        raise failure


class _WebSocketCall:
    """One ``websocket`` scope: the app's receive and send over the exchange, then the session."""

    def __init__(
        self,
        container: ASGIContainer,
        exchange: Exchange,
        upgrade: UpgradeRequest,
        spawn: Spawn,
    ) -> None:
        self.container = container
        self.exchange = exchange
        self.upgrade = upgrade
        self.spawn = spawn
        self.state = _HANDSHAKE
        self.session: WebSocketSession | None = None
        self._connect_given = False
        self._answered: Event = new_event()  # the handshake has its answer
        self._inbox: deque[Message] = deque()
        #: The last message ``receive()`` gives, again and again; set once.
        self._disconnect: Message | None = None
        self._arrival: Event | None = None  # receive() waits for a message
        self._taken: Event | None = None  # the reader waits for the app to take one
        self._reader_done: Event | None = None
        self._app_closed = False
        self._denial: tuple[int, list[tuple[bytes, bytes]]] = (0, [])  # status, headers

    # -- receive ------------------------------------------------------------

    async def receive(self) -> Message:
        if not self._connect_given:
            self._connect_given = True
            return {"type": "websocket.connect"}
        if self.state == _HANDSHAKE:
            await self._answered.wait()
        while not self._inbox:
            if self._disconnect is not None:
                return dict(self._disconnect)
            self._arrival = new_event()
            try:
                await self._arrival.wait()
            finally:
                self._arrival = None
        message = self._inbox.popleft()
        if not self._inbox and self._taken is not None:
            self._taken.set()
        return message

    def _deliver(self, message: Message) -> None:
        self._inbox.append(message)
        if self._arrival is not None:
            self._arrival.set()

    def _disconnected(self, code: int, reason: str = "") -> None:
        """Record the end of the connection, once; receive() reports it after any queued messages."""
        if self._disconnect is None:
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self.state = _ENDED
        self._answered.set()
        if self._arrival is not None:
            self._arrival.set()
        if self._taken is not None:
            self._taken.set()

    # -- send -----------------------------------------------------------------

    async def send(self, message: Message) -> None:
        kind = message["type"]
        state = self.state
        if state == _HANDSHAKE:
            if kind == "websocket.accept":
                await self._accept(message)
            elif kind == "websocket.close":
                await self._refuse()
            elif kind == "websocket.http.response.start":
                await self._deny(message)
            else:
                raise RuntimeError(
                    f"ASGI message {kind!r} before the handshake was answered: expected"
                    " 'websocket.accept', 'websocket.close' or 'websocket.http.response.start'"
                )
        elif state == _OPEN:
            if kind == "websocket.send":
                await self._send_message(message)
            elif kind == "websocket.close":
                await self._close(message)
            else:
                raise RuntimeError(
                    f"ASGI message {kind!r} on an open WebSocket: expected"
                    " 'websocket.send' or 'websocket.close'"
                )
        elif state == _DENYING:
            if kind != "websocket.http.response.body":
                raise RuntimeError(
                    f"ASGI message {kind!r} during a denial response:"
                    " expected 'websocket.http.response.body'"
                )
            await self._deny_body(message)
        else:
            raise ClientGone("the WebSocket connection is closed")

    async def _accept(self, message: Message) -> None:
        container = self.container
        compression: dict[str, Any] | None = {} if container.ws_per_message_deflate else None
        # ValueError (a subprotocol not offered, a field HTTP cannot carry)
        # reaches the app before anything is sent: the server can still answer.
        accepted = self.upgrade.accept(message.get("subprotocol"), compression)
        fields = _fields(message.get("headers") or ())
        try:
            session = await start_session(
                self.exchange,
                accepted,
                headers=fields,
                ping_interval=container.ws_ping_interval,
                ping_timeout=container.ws_ping_timeout,
            )
        except ValueError:
            raise
        except BaseException:
            self._disconnected(_ABNORMAL)
            raise
        if session is None:
            self._disconnected(_ABNORMAL, "the client left during the handshake")
            raise ClientGone("the client left during the WebSocket handshake")
        if not isinstance(session, WebSocketSession):
            # The reader and the close below work on the detached stream, which
            # only an exchange of a crosswind backend hands over.
            await session.finish(_INTERNAL_ERROR)
            raise RuntimeError("ASGIContainer serves WebSockets on crosswind's own backends only")
        self.session = session
        self.state = _OPEN
        self._answered.set()
        self._reader_done = new_event()
        self.spawn(self._read)

    async def _refuse(self) -> None:
        self._disconnected(_ABNORMAL)
        if not self.exchange.response_started:
            await self.exchange.respond(
                403, [_TEXT, _CLOSE_FIELD], b"WebSocket connection refused\n"
            )

    async def _deny(self, message: Message) -> None:
        status = int(message["status"])
        if not 200 <= status <= 599:
            # A 1xx is not an answer, and 101 would pretend to accept.
            raise LocalProtocolError(f"status {status} cannot deny a WebSocket handshake")
        try:
            headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", ())]
        except (TypeError, ValueError):
            raise LocalProtocolError("ASGI response headers must be pairs of byte strings") from None
        self._denial = (status, [*check_response_headers(headers), _CLOSE_FIELD])
        self.state = _DENYING
        self._answered.set()

    async def _deny_body(self, message: Message) -> None:
        exchange = self.exchange
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if not exchange.response_started:
            status, headers = self._denial
            if not more:
                self._disconnected(_ABNORMAL)
                await exchange.respond(status, headers, body)
                return
            await exchange.start_response(status, headers)
        if body:
            await exchange.write(body)
        if not more:
            self._disconnected(_ABNORMAL)
            await exchange.end()

    async def _send_message(self, message: Message) -> None:
        session = self.session
        assert session is not None
        if self._disconnect is not None:
            raise ClientGone("the WebSocket connection is closed")
        data = message.get("bytes")
        text = message.get("text")
        try:
            if data is not None:
                await session.send_bytes(bytes(data))
            elif text is not None:
                await session.send_text(text)
            else:
                raise RuntimeError("'websocket.send' needs 'bytes' or 'text'")
        except WebSocketClosed:
            raise ClientGone("the WebSocket connection is closed") from None

    async def _close(self, message: Message) -> None:
        session = self.session
        assert session is not None
        if self._disconnect is not None:
            raise ClientGone("the WebSocket connection is closed")
        code = int(message.get("code") or 1000)
        reason = message.get("reason") or ""
        sent = session.close(code, reason)  # ValueError for a code no endpoint may send
        self._app_closed = True
        self._disconnected(code, reason)
        # The reader may be waiting with no deadline: let it take up the
        # close timeout, so a client that never answers is given up on.
        session.stream.interrupt_receive()
        with contextlib.suppress(WebSocketClosed):
            await sent

    # -- the reader --------------------------------------------------------------

    async def _read(self) -> None:
        """Turn the session's events into messages, one ahead of the app at most."""
        session = self.session
        assert session is not None and self._reader_done is not None
        try:
            while True:
                try:
                    event = await session.next_event()
                except WebSocketClosed:
                    break
                if isinstance(event, TextMessage):
                    self._hand_on({"type": "websocket.receive", "text": event.data})
                elif isinstance(event, BytesMessage):
                    self._hand_on({"type": "websocket.receive", "bytes": event.data})
                elif isinstance(event, CloseReceived | Closed):
                    self._disconnected(event.code, event.reason)
                    break
                else:
                    continue  # pings are answered by the session; pongs need nothing
                while self._inbox and self._disconnect is None:
                    self._taken = new_event()
                    try:
                        await self._taken.wait()
                    finally:
                        self._taken = None
        finally:
            self._reader_done.set()

    def _hand_on(self, message: Message) -> None:
        if self._disconnect is None:  # after the app's close, messages are dropped
            self._deliver(message)

    # -- the end ----------------------------------------------------------------------

    async def finish(self, failure: BaseException | None) -> BaseException | None:
        """Complete the scope once the app returned or raised; the failure for the server, if any."""
        state = self.state
        if state == _HANDSHAKE:
            if failure is not None:
                return failure
            log.error("ASGI app returned without answering the WebSocket handshake for %s",
                      self.exchange.path)
            await self._refuse()
            return None
        if state == _DENYING or self.session is None:
            # A denial the app did not complete is the server's to report, as
            # an http response left unfinished.
            self._disconnected(_ABNORMAL)
            if isinstance(failure, ClientGone):
                return ClientDisconnected("the client closed the connection")
            return failure
        session = self.session
        if failure is not None and not isinstance(failure, ClientGone):
            log.error("error in ASGI WebSocket app for %s", self.exchange.path, exc_info=failure)
            code, reason = _INTERNAL_ERROR, "internal error"
        else:
            code, reason = 1000, ""
        with contextlib.suppress(WebSocketClosed):
            if not self._app_closed:
                session.close(code, reason)
                session.stream.interrupt_receive()
        self._disconnected(code, reason)
        assert self._reader_done is not None
        try:
            await self._reader_done.wait()
        finally:
            await session.stream.close()
        return None


def _fields(headers: Iterable[Any]) -> list[tuple[bytes, bytes]]:
    """The extra ``101`` fields of ``websocket.accept``, as bytes pairs."""
    try:
        return [(bytes(name), bytes(value)) for name, value in headers]
    except (TypeError, ValueError):
        raise LocalProtocolError("ASGI response headers must be pairs of byte strings") from None
