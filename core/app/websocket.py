"""WebSocket views for the Flask-style application, in the manner of Quart and Flask-Sock.

``@app.websocket(rule)`` (and ``@blueprint.websocket``) registers a view
that talks to its client through the ``websocket`` global::

    from crosswind.app import App, websocket

    app = App(__name__)

    @app.websocket("/echo")
    async def echo():
        while True:
            await websocket.send(await websocket.receive())

The view runs with the upgrade request's context pushed: ``request``,
``session``, ``g``, ``url_for`` and ``current_app`` work, and the
``before_request`` hooks have run (one that returns a response refuses the
upgrade with it).  The handshake is accepted by :meth:`WebSocket.accept`,
or at the first :meth:`~WebSocket.receive` or :meth:`~WebSocket.send`.

The answers, in order:

* a request that is not a WebSocket upgrade (a plain ``GET``, an HTTP/1.0
  request, a missing or malformed key) -- ``400``; another protocol version
  -- ``426``; a method other than ``GET`` -- ``405``;
* an ``Origin`` that ``WEBSOCKET_ALLOWED_ORIGINS`` refuses -- ``403``.  Any
  origin is accepted by default, as Quart does; see :func:`origin_checker`;
* a view that returns something before accepting -- that response, as
  any view's; one that calls :meth:`~WebSocket.close` before accepting --
  ``403``; one that raises before accepting -- the application's error
  handling, as for any view;
* once accepted: the view returning closes the connection with ``1000``; the
  view raising logs the error and closes with ``1011``.  When the client
  closes, :meth:`~WebSocket.receive` and :meth:`~WebSocket.send` raise
  :class:`WebSocketDisconnect` with its code; a view may let it propagate.

Changes to ``session`` made inside a WebSocket view are not saved: no HTTP
response follows the ``101`` to carry the cookie.

An ``async def`` view works on every backend.  A plain ``def`` view sees a
:class:`BlockingWebSocket`, whose methods block and return their results
(as Flask-Sock's do); that needs a thread per connection, so it is for the
threads backend, and elsewhere its first blocking call raises
:class:`RuntimeError` (the connection then closes with ``1011``).

Settings (``app.config``): ``WEBSOCKET_ALLOWED_ORIGINS``,
``WEBSOCKET_PING_INTERVAL`` (seconds between keep-alive pings, none by
default), ``WEBSOCKET_PING_TIMEOUT`` (seconds a ping may go unanswered; the
interval by default), ``WEBSOCKET_MAX_MESSAGE_SIZE`` (``None``: the
server's ``Limits.ws_max_message_size``; a larger message closes with
``1009``) and ``WEBSOCKET_COMPRESSION`` (``None`` declines
permessage-deflate, ``{}`` accepts it).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import sys
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .._sync import EventLoopRequired, run_sync
from ..protocol.websocket import (
    Refusal,
    UpgradeRequest,
    WebSocketClosed,
    screen_upgrade,
)
from ..protocol.websocket.events import ENDINGS, MESSAGES
from ..protocol.websocket.upgrade import Detachable, Session, start_session
from .ctx import _cv_request, _Proxy, current_app

if TYPE_CHECKING:
    from .app import App
    from .wrappers import Headers, Request, Response

__all__ = [
    "BlockingWebSocket",
    "WebSocket",
    "WebSocketDisconnect",
    "is_upgraded",
    "is_websocket_view",
    "origin_checker",
    "websocket",
    "websocket_route",
    "websocket_view",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: The code of a connection that ended without a close frame (RFC 6455 section 7.4.1).
_ABNORMAL = 1006
_INTERNAL_ERROR = 1011
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}
# What send() takes.
_SENDABLE = (str, bytes, bytearray, memoryview)

_cv_websocket: contextvars.ContextVar[WebSocket | BlockingWebSocket] = contextvars.ContextVar(
    "crosswind.websocket"
)

_NO_WEBSOCKET = """\
Working outside of a WebSocket view.

The websocket global exists only while a view registered with
@app.websocket (or @blueprint.websocket) runs."""


class WebSocketDisconnect(Exception):  # noqa: N818 - the name Starlette and Quart users know
    """The connection has closed: the client closed it, or it was lost.

    :param code: the close code: the client's (``1005`` when its close frame
        had none), ``1006`` when the connection ended without a close frame,
        or the code this side closed with for a fault of the client's
        (``1009`` for a message too big, ``1002``, ``1007``).
    :param reason: the reason that came with the code, possibly empty.
    """

    def __init__(self, code: int = _ABNORMAL, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"WebSocket closed with {self.code}" + (f": {self.reason}" if self.reason else "")


class WebSocket:
    """The connection of the running WebSocket view; the ``websocket`` global in an async view.

    :param request: the upgrade request.
    :param exchange: its exchange, which :meth:`accept` takes over.
    :param upgrade: the vetted upgrade request.
    :param config: the application's configuration.
    """

    def __init__(
        self,
        request: Request,
        exchange: Detachable,
        upgrade: UpgradeRequest,
        config: Mapping[str, Any],
    ) -> None:
        self.request = request
        self._exchange = exchange
        self._upgrade = upgrade
        self._config = config
        self._session: Session | None = None
        self._detached = False
        self._refused = False
        self._our_close: tuple[int, str] | None = None

    # -- what the request said ----------------------------------------------------

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offers, in its order of preference."""
        return list(self._upgrade.subprotocols)

    @property
    def origin(self) -> str | None:
        """The ``Origin`` field, or ``None`` (a client that is not a browser)."""
        return self._upgrade.origin

    @property
    def args(self) -> Any:
        """The query arguments (:attr:`Request.args <crosswind.app.Request.args>`)."""
        return self.request.args

    @property
    def headers(self) -> Headers:
        """The upgrade request's header fields."""
        return self.request.headers

    @property
    def cookies(self) -> Any:
        """The upgrade request's cookies."""
        return self.request.cookies

    @property
    def path(self) -> str:
        """The request path, without the query."""
        return self.request.path

    @property
    def query_string(self) -> bytes:
        """The raw query string."""
        return self.request.query_string

    @property
    def scheme(self) -> str:
        """``wss`` over TLS, ``ws`` otherwise."""
        return "wss" if self.request.scheme == "https" else "ws"

    # -- the connection's state -------------------------------------------------------

    @property
    def accepted(self) -> bool:
        """The ``101`` went out: the connection speaks WebSocket."""
        return self._session is not None

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol :meth:`accept` chose, or ``None``."""
        return None if self._session is None else self._session.connection.subprotocol

    @property
    def close_code(self) -> int | None:
        """The code the connection closed with, once it has; ``None`` before."""
        if self._session is None:
            return _ABNORMAL if self._detached else None
        return self._session.connection.close_code

    # -- the conversation -----------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Accept the upgrade: send the ``101 Switching Protocols``.

        Called by the first :meth:`receive` or :meth:`send` if the view does
        not; a second call does nothing.

        :param subprotocol: one of :attr:`subprotocols`, or ``None`` for none.
        :param headers: more fields for the ``101`` response.
        :raises ValueError: *subprotocol* was not offered, or a field cannot be sent.
        :raises WebSocketDisconnect: the view refused the connection with
            :meth:`close`, or the client left during the handshake.
        """
        if self._session is not None:
            return
        if self._refused or self._detached:
            raise WebSocketDisconnect(_ABNORMAL, "the connection was not accepted")
        config = self._config
        accepted = self._upgrade.accept(subprotocol, config.get("WEBSOCKET_COMPRESSION"))
        if headers is None:
            pairs: Iterable[tuple[str, str]] = ()
        elif isinstance(headers, Mapping):
            pairs = headers.items()
        else:
            pairs = headers
        fields = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]
        interval = config.get("WEBSOCKET_PING_INTERVAL") or None
        timeout = config.get("WEBSOCKET_PING_TIMEOUT")
        if interval is None:
            timeout = None
        elif timeout is None:
            timeout = interval
        else:
            timeout = min(timeout, interval) or None
        try:
            session = await start_session(
                self._exchange,
                accepted,
                headers=fields,
                max_message_size=config.get("WEBSOCKET_MAX_MESSAGE_SIZE"),
                ping_interval=interval,
                ping_timeout=timeout,
            )
        except ValueError:
            raise  # checked before detaching: HTTP can still answer
        except BaseException:
            self._detached = True
            raise
        self._detached = True
        if session is None:
            raise WebSocketDisconnect(_ABNORMAL, "the client left during the handshake")
        self._session = session

    async def receive(self) -> str | bytes:
        """The next message: ``str`` for a text message, ``bytes`` for a binary one.

        :raises WebSocketDisconnect: the connection has closed.
        """
        session = self._session if self._session is not None else await self._open()
        while True:
            try:
                event = await session.next_event()
            except WebSocketClosed:
                raise self._disconnect() from None
            if isinstance(event, MESSAGES):
                return event.data
            if isinstance(event, ENDINGS):
                raise WebSocketDisconnect(event.code, event.reason)
            # Pings are answered already; pongs need nothing.

    async def send(self, data: str | bytes) -> None:
        """Send a message, text for ``str``, binary for ``bytes``; returns once the transport took it.

        :raises TypeError: *data* is neither (see :meth:`send_json`).
        :raises WebSocketDisconnect: the connection is closing or closed.
        """
        if not isinstance(data, _SENDABLE):
            raise TypeError(f"send() takes str or bytes, not {type(data).__name__}; see send_json()")
        session = self._session if self._session is not None else await self._open()
        try:
            if isinstance(data, str):
                await session.send_text(data)
            else:
                await session.send_bytes(bytes(data))
        except WebSocketClosed:
            raise self._disconnect() from None

    async def receive_json(self) -> Any:
        """The next message, parsed as JSON with the application's JSON provider.

        :raises WebSocketDisconnect: the connection has closed.
        :raises ValueError: the message is not JSON.
        """
        return current_app.json.loads(await self.receive())

    async def send_json(self, obj: Any) -> None:
        """Send *obj* as a JSON text message, with the application's JSON provider.

        :raises WebSocketDisconnect: the connection is closing or closed.
        """
        await self.send(current_app.json.dumps(obj))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake; before :meth:`accept`, refuse the upgrade with ``403``.

        Messages the client sends before it answers can still be received;
        after its answer :meth:`receive` raises :class:`WebSocketDisconnect`.
        Closing twice does nothing.

        :param code: a close code an endpoint may send (``1000``, ``1001``,
            ``1008``, ``1011``, ``3000`` to ``4999`` ...).
        :param reason: at most 123 bytes of UTF-8.
        :raises ValueError: the code or the reason cannot be sent.
        """
        session = self._session
        if session is None:
            self._refused = True
            return
        if self._our_close is None and not session.connection.closed:
            self._our_close = (code, reason)
        # A client already gone leaves nothing to close.
        with contextlib.suppress(WebSocketClosed):
            await session.close(code, reason)

    # -- the view's end -------------------------------------------------------------

    async def _open(self) -> Session:
        if self._session is None:
            await self.accept()
        assert self._session is not None
        return self._session

    def _disconnect(self) -> WebSocketDisconnect:
        connection = self._session.connection if self._session is not None else None
        if connection is not None and connection.close_code is not None:
            return WebSocketDisconnect(connection.close_code, connection.close_reason or "")
        if self._our_close is not None:
            return WebSocketDisconnect(*self._our_close)
        return WebSocketDisconnect(_ABNORMAL, "the connection was lost")

    async def _finish(self, code: int, reason: str = "") -> None:
        if self._session is not None:
            await self._session.finish(code, reason)
        elif self._detached and getattr(self._exchange, "open_websocket", None) is None:
            # The handshake broke off half-way: the stream is still ours to close.
            # (Behind a server that frames WebSocket itself, there is no stream.)
            await self._exchange.detach().close()


class BlockingWebSocket:
    """The ``websocket`` global in a plain ``def`` view: :class:`WebSocket`'s methods, blocking.

    Each call returns its result instead of an awaitable, as Flask-Sock's
    ``ws`` object does.  The attributes (:attr:`~WebSocket.args`,
    :attr:`~WebSocket.headers` ...) are the connection's.

    :param connection: the connection.
    """

    def __init__(self, connection: WebSocket) -> None:
        self.connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)

    def accept(
        self,
        subprotocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """See :meth:`WebSocket.accept`."""
        _block(self.connection.accept(subprotocol, headers))

    def receive(self) -> str | bytes:
        """See :meth:`WebSocket.receive`."""
        return _block(self.connection.receive())

    def send(self, data: str | bytes) -> None:
        """See :meth:`WebSocket.send`."""
        _block(self.connection.send(data))

    def receive_json(self) -> Any:
        """See :meth:`WebSocket.receive_json`."""
        return _block(self.connection.receive_json())

    def send_json(self, obj: Any) -> None:
        """See :meth:`WebSocket.send_json`."""
        _block(self.connection.send_json(obj))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """See :meth:`WebSocket.close`."""
        _block(self.connection.close(code, reason))


def _block(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return run_sync(coro)
    except EventLoopRequired:
        raise RuntimeError(
            "a plain def WebSocket view waits by blocking its thread, which only the threads"
            " backend allows; write the view as async def"
        ) from None


#: The connection of the running WebSocket view (Quart's ``websocket``).
websocket: WebSocket = _Proxy(_cv_websocket, None, _NO_WEBSOCKET)  # type: ignore[assignment]


# -- origins --------------------------------------------------------------------------


def origin_checker(
    policy: Any, request: Request
) -> Callable[[str], bool] | None:
    """The ``Origin`` check that ``WEBSOCKET_ALLOWED_ORIGINS`` asks for.

    A page of any site can open a WebSocket to any server, with the user's
    cookies; a server that identifies users by cookie should restrict the
    origins.  The setting is one of:

    * ``None`` (the default) -- any origin, as Quart and Flask-Sock do;
    * ``"same-origin"`` -- the ``Origin`` must name the host the request went
      to (``Host``);
    * an iterable of origins such as ``"https://example.com"`` -- one of them,
      compared without regard to case;
    * a callable taking the ``Origin`` value -- true to accept.

    A request without ``Origin`` is never refused: browsers always send one.

    :param policy: the setting's value.
    :param request: the upgrade request.
    :returns: the check for :func:`~crosswind.protocol.websocket.screen_upgrade`,
        or ``None`` for none.
    """
    if policy is None:
        return None
    if callable(policy):
        check: Callable[[str], bool] = policy
        return check
    if policy == "same-origin":
        host = _canonical(request.scheme, request.host)
        return lambda origin: _origin_host(origin) == host
    if isinstance(policy, str):
        raise TypeError('WEBSOCKET_ALLOWED_ORIGINS is None, "same-origin", a list of origins or a callable')
    allowed = {origin.rstrip("/").lower() for origin in policy}
    return lambda origin: origin.lower() in allowed


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    return _canonical(parts.scheme, parts.netloc)


def _canonical(scheme: str, netloc: str) -> str:
    netloc = netloc.lower()
    default = _DEFAULT_PORTS.get(scheme.lower())
    if default is not None and netloc.endswith(":" + default):
        netloc = netloc[: -len(default) - 1]
    return netloc


# -- the view --------------------------------------------------------------------------


def is_websocket_view(view: object) -> bool:
    """Whether *view* is a WebSocket view (what :func:`websocket_view` made).

    :param view: a function from ``app.view_functions``.
    """
    return getattr(view, "_crosswind_websocket", False) is True


def websocket_route(scaffold: Any, rule: str, options: dict[str, Any]) -> Callable[[F], F]:
    """The decorator behind ``App.websocket`` and ``Blueprint.websocket``.

    :param scaffold: the application or blueprint.
    :param rule: the URL rule.
    :param options: as for ``add_url_rule``, ``endpoint`` too.
    :raises TypeError: *options* name methods: a WebSocket upgrade is a ``GET``.
    """
    if "methods" in options:
        raise TypeError("a WebSocket rule takes no 'methods': the upgrade is a GET request")

    def decorator(f: F) -> F:
        endpoint = options.pop("endpoint", None)
        scaffold.add_url_rule(
            rule, endpoint, websocket_view(f), provide_automatic_options=False, **options
        )
        return f

    return decorator


def websocket_view(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap *func*, a WebSocket view, as an ordinary view that performs the upgrade.

    ``@app.websocket`` does this; use it with ``add_url_rule`` to register a
    view without the decorator.

    :param func: the view, ``async def`` or plain ``def``.
    """
    is_async = inspect.iscoroutinefunction(func)

    @functools.wraps(func)
    async def view(**kwargs: Any) -> Any:
        return await _serve(func, is_async, kwargs)

    view._crosswind_websocket = True  # type: ignore[attr-defined]
    return view


async def _serve(func: Callable[..., Any], is_async: bool, kwargs: dict[str, Any]) -> Any:
    app: App = current_app._get_current_object()  # type: ignore[attr-defined]
    req = _cv_request.get().request
    exchange = req.scope.get("crosswind.exchange")
    if exchange is None:
        raise RuntimeError("a WebSocket view needs a request served by a crosswind server")
    verdict = screen_upgrade(
        exchange.method,
        exchange.http_version,
        exchange.headers,
        origin_checker(app.config.get("WEBSOCKET_ALLOWED_ORIGINS"), req),
    )
    if isinstance(verdict, Refusal):
        return _refusal(app, verdict)
    connection = WebSocket(req, exchange, verdict, app.config)
    token = _cv_websocket.set(connection if is_async else BlockingWebSocket(connection))
    try:
        rv = func(**kwargs)
        if inspect.isawaitable(rv):
            rv = await rv
    except WebSocketDisconnect:
        rv = None
    except Exception:
        if not connection._detached:
            raise  # not upgraded yet: the application's error handling answers
        app.log_exception(sys.exc_info())
        await connection._finish(_INTERNAL_ERROR, "internal error")
        return _upgraded_response(app, req)
    finally:
        _cv_websocket.reset(token)
    if not connection._detached:
        if connection._refused:
            return _refusal(app, Refusal(403, "WebSocket connection refused"))
        if rv is not None:
            return rv
        await connection.accept()
    await connection._finish(1000)
    return _upgraded_response(app, req)


def _refusal(app: App, refusal: Refusal) -> Response:
    response = app.response_class(refusal.reason, status=refusal.status, mimetype="text/plain")
    for name, value in refusal.headers:
        response.headers[name.decode("latin-1")] = value.decode("latin-1")
    return response


def _upgraded_response(app: App, req: Request) -> Response:
    """What the view answers once the connection left HTTP: a ``101`` that is never sent."""
    req.scope["crosswind.detached"] = True
    return app.response_class(status=101)


def is_upgraded(req: Request, status: int) -> bool:
    """Whether the response to *req* went out already as a ``101`` (the app skips sending it).

    :param req: the request.
    :param status: the status of the response about to be sent.
    """
    return status == 101 and bool(req.scope.get("crosswind.detached"))
