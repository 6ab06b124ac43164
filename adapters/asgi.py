"""ASGI 3 both ways: crosswind apps under ASGI servers, ASGI apps under crosswind.

:func:`to_asgi` turns any crosswind application into an ASGI 3 callable
(``http``, ``websocket`` and ``lifespan`` scopes; WebSocket routes are
served as :mod:`crosswind.adapters._asgi_websocket` describes).  Each request gets a real
:class:`~crosswind.protocol.exchange.Exchange` fed by an adapter driver (see
:mod:`crosswind.adapters._exchange`): reading the body pulls one
``http.request`` message at a time, so a handler that reads slowly slows the
client down; output goes out as ``http.response.start`` and
``http.response.body`` messages as the handler writes it; an
``http.disconnect`` runs the exchange's close callbacks.

:class:`ASGIContainer` goes the other way: a crosswind application that
serves an ASGI 3 app on the asyncio and trio backends.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, MutableMapping
from typing import Any
from urllib.parse import quote, unquote

from crosswind.errors import LocalProtocolError, RequestError
from crosswind.mount import root_path_of
from crosswind.protocol.events import Request
from crosswind.protocol.exchange import Application, ClientDisconnected, Exchange
from crosswind.protocol.transport import ConnectionInfo, TLSInfo

from ._exchange import (
    DEFAULT_MAX_BODY_SIZE,
    AdapterDriver,
    call_application,
    check_response_headers,
    error_response,
    make_exchange,
)
from ._runtime import Event, Mailbox, current_library, new_event, spawn_scope

__all__ = ["ASGIAdapter", "ASGIContainer", "ClientGone", "to_asgi"]

log = logging.getLogger("crosswind.adapters")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ASGI = {"version": "3.0", "spec_version": "2.3"}
_PATH_SAFE = "/:@!$&'()*+,;=~"


class ClientGone(OSError):
    """Raised by ``send`` once the client has disconnected (as ASGI servers do)."""


async def _call_hooks(app: Any, method: str, hooks: str) -> None:
    """Call ``app.<method>()`` and each of ``app.<hooks>``, awaiting what they return."""
    functions = []
    function = getattr(app, method, None)
    if callable(function):
        functions.append(function)
    functions.extend(getattr(app, hooks, None) or ())
    for function in functions:
        result = function()
        if inspect.isawaitable(result):
            await result


# -- crosswind application -> ASGI ---------------------------------------------


class _ASGIDriver(AdapterDriver):
    """Pulls ``http.request`` messages on demand and sends the response as messages."""

    def __init__(
        self,
        receive: Receive,
        send: Send,
        info: ConnectionInfo,
        *,
        head_only: bool,
        max_body_size: int,
        content_length: int | None,
    ) -> None:
        super().__init__(
            info, head_only=head_only, max_body_size=max_body_size, content_length=content_length
        )
        self._receive = receive
        self._send = send
        self._more_body = True
        self._watched: Exchange | None = None
        self.spawn: Callable[[Callable[[], Awaitable[None]]], None] | None = None

    async def receive_body(self) -> bytes:
        while self._more_body:
            message = await self._receive()
            kind = message["type"]
            if kind == "http.request":
                self._more_body = bool(message.get("more_body", False))
                body = message.get("body", b"")
                if body:
                    return bytes(body)
            elif kind == "http.disconnect":
                self._more_body = False
                self.disconnected = True
                raise ClientDisconnected("the client closed the connection")
        self._start_watching()
        return b""

    async def deliver(self, data: bytes, end: bool, first: bool) -> None:
        send = self._send
        conn = self.conn
        if first:
            await send(
                {
                    "type": "http.response.start",
                    "status": conn.status,
                    "headers": [(name.lower(), value) for name, value in conn.response_headers],
                    "trailers": False,
                }
            )
        if data or end:
            await send({"type": "http.response.body", "body": data, "more_body": not end})

    def watch_disconnect(self, exchange: Exchange) -> None:
        self._watched = exchange
        if not self._more_body or self.conn.request_complete:
            self._start_watching()

    def _start_watching(self) -> None:
        # Only once the body is consumed: until then the handler's own reads
        # are the ones to see an http.disconnect.
        exchange, self._watched = self._watched, None
        if exchange is None or self.spawn is None:
            return

        async def watch() -> None:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    break
            if not exchange.finished:
                self.disconnected = True
                exchange.connection_lost()

        self.spawn(watch)


class ASGIAdapter:
    """A crosswind application as an ASGI 3 callable (see :func:`to_asgi`).

    :param app: the crosswind application; its ``startup()``/``shutdown()``
        methods and ``on_startup``/``on_shutdown`` lists of callables, where
        present, run on the lifespan events.
    :param max_body_size: the request body limit; larger bodies answer ``413``.
    """

    def __init__(self, app: Application, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope.

        :param scope: the connection scope (``http``, ``websocket`` or ``lifespan``).
        :param receive: the server's receive callable.
        :param send: the server's send callable.
        :raises ValueError: a scope type other than those.
        """
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            from ._asgi_websocket import serve_websocket

            await serve_websocket(self.app, scope, receive, send, request_from_scope)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise ValueError(f"crosswind applications do not handle {kind!r} scopes")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request, info, length = request_from_scope(scope)
        except RequestError as error:
            headers, body = error_response(error)
            await send({"type": "http.response.start", "status": error.status_code,
                        "headers": [(name.lower(), value) for name, value in headers]})
            await send({"type": "http.response.body", "body": body})
            return
        driver = _ASGIDriver(
            receive, send, info, head_only=request.method == b"HEAD",
            max_body_size=self.max_body_size, content_length=length,
        )
        exchange = make_exchange(driver, request, time.monotonic())
        failure: BaseException | None = None
        async with spawn_scope() as spawn:
            driver.spawn = spawn
            failure = await call_application(self.app, exchange, driver.conn)
        if failure is not None and not isinstance(failure, ClientDisconnected):
            # The head is out: failing makes the server drop the connection,
            # so the client can tell the response is incomplete.
            raise failure

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "lifespan.startup":
                step, hooks = "startup", "on_startup"
            elif kind == "lifespan.shutdown":
                step, hooks = "shutdown", "on_shutdown"
            else:
                continue
            try:
                await _call_hooks(self.app, step, hooks)
            except Exception as exc:
                log.exception("application %s failed", step)
                await send({"type": f"lifespan.{step}.failed", "message": repr(exc)})
                return
            await send({"type": f"lifespan.{step}.complete"})
            if step == "shutdown":
                return


def to_asgi(app: Application, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> ASGIAdapter:
    """Wrap a crosswind application (anything with ``async def handle(exchange)``) for ASGI.

    :param app: the application.
    :param max_body_size: the request body limit; larger bodies answer ``413``.
    """
    return ASGIAdapter(app, max_body_size=max_body_size)


def request_from_scope(scope: Scope) -> tuple[Request, ConnectionInfo, int | None]:
    """The request head, connection facts and declared body length of an ``http`` scope.

    The path is made relative to ``root_path`` when it starts with it (servers
    differ on whether ``path`` includes it); ``raw_path`` is preferred, so
    percent-escapes reach the application as the client sent them.  The
    length is ``0`` for an HTTP/1 request with neither ``Content-Length``
    nor ``Transfer-Encoding`` (RFC 9112, section 6.3), and ``None`` when only
    the ``http.request`` messages can tell where the body ends.

    :param scope: the ASGI ``http`` scope.
    :raises RequestError: ``Content-Length`` is not a number (400).
    """
    root = scope.get("root_path", "") or ""
    raw_path = scope.get("raw_path")
    if raw_path is None:
        raw = quote(scope["path"].encode("utf-8"), safe=_PATH_SAFE).encode("ascii")
    else:
        raw = bytes(raw_path).partition(b"?")[0]
    path = scope["path"]
    if root:
        raw_root = quote(root.encode("utf-8"), safe=_PATH_SAFE).encode("ascii")
        if raw.startswith(raw_root) and path.startswith(root):
            raw = raw[len(raw_root):]
    raw = raw or b"/"
    query = bytes(scope.get("query_string", b""))
    target = raw + b"?" + query if query else raw
    headers = [(bytes(name).lower(), bytes(value)) for name, value in scope.get("headers", ())]
    http_version = str(scope.get("http_version", "1.1"))
    length: int | None = None
    framed = False
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit():
                raise RequestError("invalid Content-Length", 400)
            length = int(value)
        elif name == b"transfer-encoding":
            framed = True
    if length is None and not framed and http_version in ("1.0", "1.1"):
        # An HTTP/1 request without either header has no body.  Knowing that
        # up front matters: the disconnect watcher only starts once the body
        # is consumed, and a handler of a GET never reads it.  (HTTP/2 has
        # no such marker; there the messages say where the body ends.)
        length = 0
    scheme = scope.get("scheme", "http")
    client = scope.get("client")
    server = scope.get("server")
    request = Request(scope["method"].encode("ascii"), target, headers, http_version.encode("ascii"))
    info = ConnectionInfo(
        peer=(client[0], client[1]) if client else None,
        local=(server[0], server[1] or 0) if server else None,
        tls=TLSInfo() if scheme in ("https", "wss") else None,
        extra={"asgi_scope": scope, "root_path": root},
    )
    return request, info, length


# -- ASGI application -> crosswind -----------------------------------------------


_UNSUPPORTED = object()


class _Call:
    """One ``http`` scope served over an exchange: the app's receive and send."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body_reported = False
        self.done = False  # the response is complete, by the app or by a refusal
        self.disconnected = False
        self.refused = False  # we answered the request ourselves (body too large, ...)
        self._done_event: Event | None = None
        self._listening = False

    async def receive(self) -> Message:
        exchange = self.exchange
        if not self.body_reported and not self.done and not self.disconnected:
            try:
                data = await exchange.read()
            except ClientDisconnected:
                self.disconnected = True
                return {"type": "http.disconnect"}
            except RequestError as error:
                # Refused (too large, malformed, too slow): answer now, since
                # an app that saw an exception would answer 500 instead.
                await self._refuse(error)
                return {"type": "http.disconnect"}
            complete = exchange.body_complete
            self.body_reported = complete
            return {"type": "http.request", "body": data, "more_body": not complete}
        if not self.done and not self.disconnected:
            # Nothing more will come but the end: wait for it.
            if self._done_event is None:
                self._done_event = new_event()
                exchange.add_close_callback(self._done_event.set)
            self._listening = True
            try:
                await self._done_event.wait()
            finally:
                self._listening = False
        return {"type": "http.disconnect"}

    async def _refuse(self, error: RequestError) -> None:
        self.refused = True
        if not self.exchange.response_started:
            headers, body = error_response(error)
            headers.append((b"Connection", b"close"))
            await self.exchange.respond(error.status_code, headers, body)
        self._finish()

    def _finish(self) -> None:
        self.done = True
        if self._done_event is not None:
            self._done_event.set()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        exchange = self.exchange
        if self.disconnected or exchange.client_disconnected:
            self.disconnected = True
            raise ClientGone("the client has disconnected")
        if kind == "http.response.trailers":
            return  # not advertised in the scope, so there is nowhere to put them
        if self.done:
            if self.refused:
                if exchange.finished:
                    return  # our refusal is the answer; the app's reply goes nowhere
                raise ClientGone("the request was refused after the response started")
            raise RuntimeError(f"ASGI message {kind!r} sent after the response completed")
        try:
            if kind == "http.response.start":
                if self.status is not None:
                    raise RuntimeError("http.response.start sent twice")
                self.headers = _response_headers(message)
                self.status = int(message["status"])
            elif kind == "http.response.body":
                await self._body(message)
            else:
                raise RuntimeError(f"unexpected ASGI message {kind!r} for an http scope")
        except ClientDisconnected:
            self.disconnected = True
            self._finish()
            if self._listening:
                # The app is waiting for http.disconnect (what spec 2.3 apps
                # do to stop streaming): it has it now, so let it wind down
                # from there rather than from an exception.
                return
            raise ClientGone("the client has disconnected") from None

    async def _body(self, message: Message) -> None:
        if self.status is None:
            raise RuntimeError("http.response.body sent before http.response.start")
        exchange = self.exchange
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if not exchange.response_started:
            if not more:
                try:
                    await exchange.respond(self.status, self.headers, body)
                finally:
                    self._finish()
                return
            await exchange.start_response(self.status, self.headers)
        if body:
            await exchange.write(body)
        if not more:
            # Only now: an app listening for the end (Starlette streaming)
            # cancels its sender when it hears it.
            try:
                await exchange.end()
            finally:
                self._finish()


def _response_headers(message: Message) -> list[tuple[bytes, bytes]]:
    """The headers of ``http.response.start``, checked as the response writer checks them.

    Refused here, where the app hands them over, rather than when the body follows:
    the error then points at the message that carried them.
    """
    try:
        headers = [(bytes(name), bytes(value)) for name, value in message.get("headers", ())]
    except (TypeError, ValueError):
        raise LocalProtocolError("ASGI response headers must be pairs of byte strings") from None
    return check_response_headers(headers)


class ASGIContainer:
    """A crosswind application that serves an ASGI 3 application.

    Runs on the asyncio and trio backends.  Each request becomes an ``http``
    scope; the body streams to the app as it calls ``receive()`` (the first
    call is what sends ``100 Continue`` to a client that asked for it), and
    the response streams out as the app sends it.  ``receive()`` returns
    ``http.disconnect`` when the client goes away or once the response is
    complete.  :meth:`startup` and :meth:`shutdown` run the app's lifespan
    protocol; apps that do not speak it are served without one.  The headers of
    ``http.response.start`` are held to the response writer's rule: ``send``
    raises :class:`~crosswind.errors.LocalProtocolError` naming a header HTTP
    cannot carry, and an app that lets it through gets a ``500``.

    A WebSocket upgrade request becomes a ``websocket`` scope (spec version
    2.4, with the WebSocket Denial Response extension): ``websocket.accept``
    sends the ``101``, a ``websocket.close`` before it answers ``403``, and
    the server's :class:`~crosswind.protocol.limits.Limits` bound the
    messages.  :mod:`crosswind.adapters._asgi_websocket_host` states the
    rules message by message.

    :param asgi_app: the ASGI 3 application.
    :param ws_per_message_deflate: accept a client's permessage-deflate
        offer (as uvicorn does by default).
    :param ws_ping_interval: seconds between keep-alive pings on a
        WebSocket, or ``None`` for none.
    :param ws_ping_timeout: seconds a ping may go unanswered before the
        connection is given up (``1006``); the interval when ``None``.
    """

    def __init__(
        self,
        asgi_app: ASGIApp,
        *,
        ws_per_message_deflate: bool = True,
        ws_ping_interval: float | None = None,
        ws_ping_timeout: float | None = None,
    ) -> None:
        self.asgi_app = asgi_app
        self.ws_per_message_deflate = ws_per_message_deflate
        self.ws_ping_interval = ws_ping_interval
        self.ws_ping_timeout = (
            None if ws_ping_interval is None else ws_ping_timeout or ws_ping_interval
        )
        #: The lifespan state; each request's scope gets a shallow copy.
        self.state: dict[str, Any] = {}
        self._to_app: Mailbox | None = None
        self._from_app: Mailbox | None = None
        self._lifespan_running = False

    def __repr__(self) -> str:
        return f"<ASGIContainer {self.asgi_app!r}>"

    async def handle(self, exchange: Exchange) -> None:
        """Serve one request with the ASGI application.

        :param exchange: the request.
        """
        if current_library() is None:
            raise RuntimeError(
                "ASGIContainer needs the asyncio or trio backend; serve WSGI apps on threads"
            )
        if _asks_for_websocket(exchange.headers):
            # Imported here: that module builds on this one (ClientGone, the scope).
            from ._asgi_websocket_host import serve_websocket

            await serve_websocket(self, exchange)
            return
        call = _Call(exchange)
        try:
            await self.asgi_app(self.scope(exchange), call.receive, call.send)
        except Exception:
            if call.refused and exchange.finished:
                return  # what the app made of our refusal does not matter
            if call.disconnected or exchange.client_disconnected:
                raise ClientDisconnected("the client closed the connection") from None
            raise
        finally:
            call._finish()
        if not exchange.finished and (
            call.disconnected or call.refused or exchange.client_disconnected
        ):
            # Not the app's fault: no "returned before ending" complaint, just
            # a dropped connection.
            raise ClientDisconnected("the response cannot be completed")

    def scope(self, exchange: Exchange) -> dict[str, Any]:
        """The ASGI ``http`` scope of *exchange*.

        Under a root path (a :class:`~crosswind.mount.Mount` prefix, or the
        server's ``root_path``), ``path`` and ``raw_path`` start with it and
        ``root_path`` holds it, as uvicorn serves them.

        :param exchange: the request.
        """
        info = exchange.info
        peer, local = info.peer, info.local
        root = root_path_of(exchange)
        return {
            "type": "http",
            "asgi": dict(_ASGI),
            "http_version": exchange.http_version,
            "method": exchange.method,
            "scheme": info.scheme,
            "path": root + unquote(exchange.path),
            "raw_path": (root + exchange.path).encode("latin-1"),
            "query_string": exchange.query.encode("latin-1"),
            "root_path": root,
            "headers": list(exchange.headers),
            "client": list(peer) if isinstance(peer, tuple) else None,
            "server": list(local) if isinstance(local, tuple) else
            ([local, None] if isinstance(local, str) else None),
            "state": dict(self.state),
        }

    async def startup(self) -> None:
        """Start the app's lifespan and wait for its startup to complete.

        Call once, from the event loop that will serve requests.

        :raises RuntimeError: the app reported ``lifespan.startup.failed``.
        """
        if self._lifespan_running:
            return
        library = current_library()
        if library is None:
            raise RuntimeError("ASGIContainer.startup() needs a running asyncio or trio loop")
        to_app, from_app = self._to_app, self._from_app = Mailbox(), Mailbox()
        scope = {"type": "lifespan", "asgi": dict(_ASGI), "state": self.state}

        async def send(message: Message) -> None:
            from_app.put(message)

        async def run() -> None:
            try:
                await self.asgi_app(scope, to_app.get, send)
            except Exception as exc:
                # An app without lifespan support typically raises on the
                # unknown scope type: serve it without a lifespan.
                log.debug("ASGI lifespan ended with %r", exc)
            from_app.put(_UNSUPPORTED)

        _spawn_background(library, run)
        self._lifespan_running = True
        to_app.put({"type": "lifespan.startup"})
        reply = await from_app.get()
        if reply is _UNSUPPORTED:
            self._lifespan_running = False
            return
        if reply["type"] == "lifespan.startup.failed":
            self._lifespan_running = False
            raise RuntimeError("ASGI application failed to start: " + reply.get("message", ""))

    async def shutdown(self) -> None:
        """Ask the app's lifespan to shut down and wait until it has.

        :raises RuntimeError: the app reported ``lifespan.shutdown.failed``.
        """
        if not self._lifespan_running or self._to_app is None or self._from_app is None:
            return
        self._lifespan_running = False
        self._to_app.put({"type": "lifespan.shutdown"})
        reply = await self._from_app.get()
        if reply is not _UNSUPPORTED and reply["type"] == "lifespan.shutdown.failed":
            raise RuntimeError("ASGI application failed to shut down: " + reply.get("message", ""))


def _asks_for_websocket(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """``Connection`` names ``upgrade`` and ``Upgrade`` names ``websocket``, as uvicorn decides."""
    upgrade = connection = False
    for name, value in headers:
        if name == b"upgrade":
            upgrade = upgrade or b"websocket" in _tokens(value)
        elif name == b"connection":
            connection = connection or b"upgrade" in _tokens(value)
    return upgrade and connection


def _tokens(value: bytes) -> list[bytes]:
    return [token.strip(b" \t").lower() for token in value.split(b",")]


def _spawn_background(library: str, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # The lifespan task outlives the startup() call that starts it, so it
    # cannot live in a scope of that call.
    if library == "trio":
        import trio

        trio.lowlevel.spawn_system_task(fn)
        return
    import asyncio

    task = asyncio.get_running_loop().create_task(fn())
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[Any] = set()
