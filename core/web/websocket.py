"""Tornado's ``tornado.websocket.WebSocketHandler`` on crosswind.

``from tornado.websocket import WebSocketHandler`` becomes
``from crosswind.websocket import WebSocketHandler``.  The handshake is an
ordinary GET through the handler's life cycle: ``prepare()``,
``get_current_user()``, ``@authenticated``, cookies and arguments work as
they do for any handler, and headers set there (a cookie, say) go out with
the ``101 Switching Protocols``.  ``get()`` then vets the upgrade, in
this order, answering before ``open()`` runs:

* ``400`` -- no ``websocket`` in ``Upgrade``, no ``upgrade`` in
  ``Connection``, an HTTP/1.0 request, a missing or malformed
  ``Sec-WebSocket-Key``, an invalid ``Sec-WebSocket-Protocol``;
* ``426`` with ``Sec-WebSocket-Version: 13`` -- another protocol version;
* ``403`` -- a cross-origin request :meth:`WebSocketHandler.check_origin`
  refuses (the ``Origin`` is compared with ``Host`` first, and
  ``Sec-Fetch-Site`` is honoured, as Tornado 6.6 does).

After the handshake the connection is served by
:class:`~crosswind.protocol.websocket.session.WebSocketSession` on whichever
backend runs the application.  Close codes: the peer's close is echoed with
its code; a message over ``websocket_max_message_size`` closes with ``1009``,
a protocol error with ``1002``, invalid UTF-8 with ``1007``; a server shutdown
closes with ``1001``; :meth:`~WebSocketHandler.close` without a code sends
``1000``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

from .. import escape
from ..protocol.limits import Limits
from ..protocol.websocket import (
    Closed,
    CloseReceived,
    Event,
    Ping,
    Pong,
    Refusal,
    WebSocketClosed,
    screen_upgrade,
)
from ..protocol.websocket.events import MESSAGES
from ..protocol.websocket.upgrade import Session, start_session
from .handler import RequestHandler

if TYPE_CHECKING:
    from .application import Application
    from .request import HTTPServerRequest

__all__ = ["WebSocketClosedError", "WebSocketError", "WebSocketHandler"]

gen_log = logging.getLogger("crosswind.general")
#: The close code of a connection that ended without a close frame; Tornado
#: reports no code for it.
_ABNORMAL = 1006
#: The code a close frame without one is reported with.
_NO_STATUS = 1005
_MAX_MESSAGE_SIZE = Limits().ws_max_message_size


class WebSocketError(Exception):
    """The base of the WebSocket errors (Tornado's name)."""


class WebSocketClosedError(WebSocketError):
    """Raised by sending on a WebSocket connection that is closing or closed."""


class _Written:
    """What :meth:`WebSocketHandler.write_message` returns: await it to wait until sent.

    Not awaiting it is fine: the message goes out anyway, as in Tornado.
    """

    __slots__ = ("_sent",)

    def __init__(self, sent: Awaitable[None]) -> None:
        self._sent = sent

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        try:
            await self._sent
        except WebSocketClosed:
            raise WebSocketClosedError() from None


class WebSocketHandler(RequestHandler):
    """Subclass it and define :meth:`open`, :meth:`on_message` and :meth:`on_close`.

    Route it like any handler; path arguments go to :meth:`open`.  Settings:
    ``websocket_ping_interval`` (seconds between keep-alive pings, none by
    default), ``websocket_ping_timeout`` (seconds a ping may go unanswered
    before the connection is dropped; the interval by default, never longer)
    and ``websocket_max_message_size`` (10 MiB by default).

    :param application: the application serving the request.
    :param request: the upgrade request.
    :param kwargs: the route's keyword arguments, passed to :meth:`initialize`.
    """

    def __init__(
        self, application: Application, request: HTTPServerRequest, **kwargs: Any
    ) -> None:
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.open_args: tuple[Any, ...] = ()
        self.open_kwargs: dict[str, Any] = {}
        self._ws_session: Session | None = None
        self._on_close_called = False
        super().__init__(application, request, **kwargs)

    # -- the handshake -----------------------------------------------------

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Upgrade the connection, run :meth:`open`, then serve messages until it closes.

        Override it only to decorate it (``@authenticated``), calling this one.
        """
        self.open_args = args
        self.open_kwargs = kwargs
        exchange = self.request.exchange
        connection = self.request.connection
        if exchange is None or connection is None:
            raise RuntimeError("a WebSocket needs a request served over a connection")
        verdict = screen_upgrade(exchange.method, exchange.http_version, exchange.headers)
        if isinstance(verdict, Refusal):
            gen_log.debug("WebSocket upgrade refused: %s", verdict.reason)
            self._refuse(verdict)
            return
        problem = self._check_cross_origin(self.check_origin)
        if problem is not None:
            gen_log.debug("Cross origin websockets not allowed: %s", problem)
            self._refuse(Refusal(403, "Cross origin websockets not allowed"))
            return
        offered = list(verdict.subprotocols)
        subprotocol = self.select_subprotocol(offered)
        if subprotocol is not None and subprotocol not in offered:
            raise ValueError(f"select_subprotocol returned {subprotocol!r}, which was not offered")
        accepted = verdict.accept(subprotocol, self.get_compression_options())
        # The handshake is over for the HTTP side: no more close callback
        # (the session hears the client leave), no response to finish.
        connection.set_close_callback(None)
        self._finished = True
        self.clear_header("Content-Type")
        self.set_status(101)
        for cookie in self._new_cookies.values():
            self._headers.add("Set-Cookie", cookie)
        # The handshake's own fields are the helper's to write.
        own = {name.decode("latin-1").lower() for name, _ in accepted.headers}
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in self._headers.items()
            if name.lower() not in own
        ]
        self.application.log_request(self)
        interval, timeout = self._ping_settings()
        session = self._ws_session = await start_session(
            exchange,
            accepted,
            headers=headers,
            max_message_size=self.max_message_size,
            ping_interval=interval,
            ping_timeout=timeout,
        )
        if session is None:
            self._closed()
            return
        opened = self._run_callback(self.open, *args, **kwargs)
        if opened is not None:
            await opened
        await session.run(self)

    def _refuse(self, refusal: Refusal) -> None:
        self.set_status(refusal.status)
        for name, value in refusal.headers:
            self.set_header(name.decode("latin-1"), value.decode("latin-1"))
        self.finish(refusal.reason)

    def _ping_settings(self) -> tuple[float | None, float | None]:
        interval = self.ping_interval or None
        timeout = self.ping_timeout
        if interval is None:
            return None, None
        if timeout is None:
            return interval, interval
        if not timeout:
            return interval, None
        if timeout > interval:
            gen_log.warning(
                "websocket_ping_timeout (%s) cannot be longer than websocket_ping_interval (%s); "
                "using the interval", timeout, interval,
            )
            timeout = interval
        return interval, timeout

    # -- settings ----------------------------------------------------------

    @property
    def ping_interval(self) -> float | None:
        """Seconds between keep-alive pings (``websocket_ping_interval``); ``None`` or 0 for none."""
        value: float | None = self.settings.get("websocket_ping_interval", None)
        return value

    @property
    def ping_timeout(self) -> float | None:
        """Seconds a ping may go unanswered (``websocket_ping_timeout``).

        ``None`` means the ping interval; 0 waits forever; longer than the
        interval is cut to it, as in Tornado 6.5 and later.
        """
        value: float | None = self.settings.get("websocket_ping_timeout", None)
        return value

    @property
    def max_message_size(self) -> int:
        """The largest message accepted, in bytes (``websocket_max_message_size``, 10 MiB).

        A larger one closes the connection with ``1009``.
        """
        value: int = self.settings.get("websocket_max_message_size", _MAX_MESSAGE_SIZE)
        return value

    # -- overridable hooks ---------------------------------------------------

    def open(self, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        """Called once the connection is open, with the route's path arguments; may be async.

        No :meth:`on_message` runs before it has returned.
        """
        return None

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Called with each message, ``str`` for text and ``bytes`` for binary; may be async.

        Messages are handled one at a time, in order: the next waits until
        an ``async`` one is done.
        """
        raise NotImplementedError

    def on_ping(self, data: bytes) -> None:
        """Called when a ping arrives (it is answered already)."""

    def on_pong(self, data: bytes) -> None:
        """Called when a pong arrives."""

    def on_close(self) -> None:
        """Called once when the connection has closed, however it closed.

        :attr:`close_code` and :attr:`close_reason` hold the code and reason
        of the peer's close frame, or of the close that ended a connection
        for a protocol fault; ``None`` when it ended without one.
        """

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        """Pick one of the subprotocols the client offers, or ``None`` for none.

        Called once, with an empty list when none is offered.

        :param subprotocols: in the client's order of preference.
        """
        return None

    def get_compression_options(self) -> dict[str, Any] | None:
        """Return ``{}`` (or ``compression_level`` and ``mem_level``) to accept permessage-deflate.

        ``None``, the default, declines it.
        """
        return None

    def check_origin(self, origin: str) -> bool:
        """Whether to accept a cross-origin connection from *origin*.

        Only asked for requests that look cross-origin: an ``Origin`` whose
        host differs from ``Host`` (or a ``Sec-Fetch-Site`` that says so).
        By default, the ``trusted_origins`` setting decides
        (:meth:`~crosswind.web.RequestHandler.check_trusted_origin`).  Runs
        after :meth:`prepare`, so it may rely on what that did.

        :param origin: the ``Origin`` header, e.g. ``https://example.com``.
        """
        return self.check_trusted_origin(origin)

    # -- sending -------------------------------------------------------------

    def write_message(self, message: str | bytes | dict[str, Any], binary: bool = False) -> _Written:
        """Send a message; a dict is sent as JSON text.

        The message goes out whether or not the result is awaited; awaiting
        it waits until the transport has taken it (flow control).

        :param message: the message.
        :param binary: send a binary message (``str`` is encoded as UTF-8).
        :raises WebSocketClosedError: the connection is closing or closed
            (awaiting the result raises it too when the client went away).
        """
        session = self._ws_session
        if session is None or session.connection.closing or session.connection.closed:
            raise WebSocketClosedError()
        if isinstance(message, dict):
            message = escape.json_encode(message)
        try:
            if binary:
                sent = session.send_bytes(escape.utf8(message))
            else:
                text = message if isinstance(message, str) else message.decode("utf-8")
                sent = session.send_text(text)
        except WebSocketClosed:
            raise WebSocketClosedError() from None
        return _Written(sent)

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping carrying at most 125 bytes; :meth:`on_pong` hears the answer.

        Under an ASGI server it sends nothing: ASGI gives an application no
        way to ping, and the server sends its own keep-alive pings (and
        answers the client's), so :meth:`on_ping` and :meth:`on_pong` are
        never called there.

        :raises WebSocketClosedError: the connection is closing or closed.
        """
        session = self._ws_session
        if session is None:
            raise WebSocketClosedError()
        try:
            session.send_ping(escape.utf8(data))
        except WebSocketClosed:
            raise WebSocketClosedError() from None

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; :meth:`on_close` runs once the client answers.

        :param code: the close code; ``1000`` when ``None``.
        :param reason: a short text for the client.
        """
        session = self._ws_session
        if session is None:
            return
        session.close(1000 if code is None else code, reason or "")

    @property
    def selected_subprotocol(self) -> str | None:
        """The subprotocol :meth:`select_subprotocol` chose, or ``None``."""
        session = self._ws_session
        return None if session is None else session.connection.subprotocol

    def set_nodelay(self, value: bool) -> None:
        """Accepted for compatibility; does nothing.

        Every crosswind backend already sends small messages without delay:
        the asyncio and threaded backends set ``TCP_NODELAY`` on each
        connection, and trio sets it on every stream it opens.

        :param value: ignored.
        """

    # -- the session's side ----------------------------------------------------

    def event_received(self, event: Event) -> Awaitable[None] | None:
        """Dispatch one event of the session to the hooks (the session calls this)."""
        if isinstance(event, MESSAGES):
            return self._run_callback(self.on_message, event.data)
        if isinstance(event, Ping):
            return self._run_callback(self.on_ping, event.payload)
        if isinstance(event, Pong):
            return self._run_callback(self.on_pong, event.payload)
        if isinstance(event, CloseReceived):
            self.close_code = None if event.code == _NO_STATUS else event.code
            self.close_reason = event.reason or None
        elif isinstance(event, Closed) and event.code != _ABNORMAL:
            self.close_code = event.code
            self.close_reason = event.reason or None
        self._closed()
        return None

    def _run_callback(
        self, callback: Callable[..., Awaitable[None] | None], *args: Any, **kwargs: Any
    ) -> Coroutine[Any, Any, None] | None:
        """Call a hook; an exception is logged and drops the connection, as in Tornado."""
        try:
            result = callback(*args, **kwargs)
        except Exception as error:
            self._callback_failed(error)
            return None
        if result is None or not inspect.isawaitable(result):
            return None
        return self._await_callback(result)

    async def _await_callback(self, result: Awaitable[None]) -> None:
        try:
            await result
        except Exception as error:
            self._callback_failed(error)

    def _callback_failed(self, error: Exception) -> None:
        self.log_exception(type(error), error, error.__traceback__)
        if self._ws_session is not None:
            self._ws_session.abort()

    def on_connection_close(self) -> None:
        """Called when the client leaves during the handshake; runs :meth:`on_close`."""
        if self._ws_session is None:
            self._closed()

    def _closed(self) -> None:
        if not self._on_close_called:
            self._on_close_called = True
            self.on_close()
