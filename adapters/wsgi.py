"""WSGI (PEP 3333) both ways: crosswind apps under WSGI servers, WSGI apps under crosswind.

:func:`to_wsgi` turns any crosswind application into a WSGI callable.  Each
request gets a real :class:`~crosswind.protocol.exchange.Exchange` fed by an adapter
driver (see :mod:`crosswind.adapters._exchange`), and the application's
coroutine runs as a task on an asyncio event loop private to the calling
worker thread.  That loop only runs while the WSGI server is waiting for
output: ``__call__`` runs it until the response head is ready, and each
step of the returned iterable runs it until the next body chunk.  So a
response streams chunk by chunk, a slow client slows the handler down
(back-pressure), and an ``async`` handler may await anything asyncio offers.
Why always a loop rather than :func:`crosswind._sync.run_sync` when the
handler happens not to suspend: a handler that merely *looks up* the
running loop (``asyncio.sleep(0.1)`` does) fails without one, so there is
no safe way to start without it, and a coroutine cannot move to a loop
half-way.  What the loop costs a request (``bench/NOTES.md``) is small next to
any WSGI server's own work.
The loop is kept per thread (a ``threading.local``), so threaded WSGI servers
get one loop per worker thread and requests never share one concurrently.

:class:`WSGIContainer` goes the other way: it is a crosswind application
that serves a WSGI app, calling it in a bounded pool of worker threads
under the asyncio and trio backends and directly under the threaded one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from crosswind._sync import run_sync
from crosswind.errors import RequestError
from crosswind.mount import root_path_of
from crosswind.protocol.events import Request
from crosswind.protocol.exchange import Application, ClientDisconnected, Exchange
from crosswind.protocol.status import reason_phrase
from crosswind.protocol.transport import ConnectionInfo, TLSInfo

from ._exchange import (
    DEFAULT_MAX_BODY_SIZE,
    HOP_BY_HOP,
    AdapterDriver,
    call_application,
    check_response_headers,
    error_response,
    make_exchange,
    strip_hop_by_hop,
)
from ._runtime import ThreadRunner, current_library

__all__ = ["WSGIAdapter", "WSGIContainer", "to_wsgi"]

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

_READ_SIZE = 64 * 1024
# Characters a path keeps unescaped when PATH_INFO is turned back into a target.
_PATH_SAFE = "/:@!$&'()*+,;=~"


# -- crosswind application -> WSGI ---------------------------------------------


class _LoopHolder:
    """Owns one thread's event loop and closes it when the thread's locals go."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            loop.close()


_local = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    holder: _LoopHolder | None = getattr(_local, "holder", None)
    if holder is None:
        holder = _local.holder = _LoopHolder()
    return holder.loop


class _WSGIDriver(AdapterDriver):
    """Reads ``wsgi.input`` on demand; parks the handler after each piece of output."""

    def __init__(
        self,
        environ: Environ,
        loop: asyncio.AbstractEventLoop,
        info: ConnectionInfo,
        *,
        head_only: bool,
        max_body_size: int,
        content_length: int | None,
    ) -> None:
        super().__init__(
            info, head_only=head_only, max_body_size=max_body_size, content_length=content_length
        )
        self._input = environ["wsgi.input"]
        self._left = content_length
        # wsgi.input is read in place, never awaited: a plain view may wait for it.
        self.transport.blocking = True
        self.loop = loop
        self.chunks: deque[bytes] = deque()
        #: Completed when the handler has output to collect or has finished.
        self.ready: asyncio.Future[None] | None = None
        #: Completed to let a parked handler go on.
        self.resume: asyncio.Future[None] | None = None
        self.exchange: Exchange | None = None

    async def receive_body(self) -> bytes:
        left = self._left
        if left is None:  # wsgi.input_terminated: read to end of stream
            return bytes(self._input.read(_READ_SIZE))
        if left <= 0:
            return b""
        data = bytes(self._input.read(min(left, _READ_SIZE)))
        if not data:
            self.disconnected = True
            raise ClientDisconnected("the client closed the connection inside the body")
        self._left = left - len(data)
        return data

    async def deliver(self, data: bytes, end: bool, first: bool) -> None:
        if data:
            self.chunks.append(data)
        self.wake()
        if not end:
            # Park until the server asks for more: this is what streams the
            # response and what makes a slow client slow the handler down.
            self.resume = self.loop.create_future()
            await self.resume

    def wake(self) -> None:
        ready = self.ready
        if ready is not None and not ready.done():
            ready.set_result(None)

    def watch_disconnect(self, exchange: Exchange) -> None:
        self.exchange = exchange


class _Response:
    """The WSGI response iterable: each step runs the thread's loop until the next chunk."""

    def __init__(self, app: Application, driver: _WSGIDriver, exchange: Exchange) -> None:
        self._driver = driver
        self._exchange = exchange
        self._failure: BaseException | None = None
        self._closed = False
        loop = driver.loop
        self._task = loop.create_task(self._main(app))
        self._task.add_done_callback(lambda _: driver.wake())

    async def _main(self, app: Application) -> None:
        self._failure = await call_application(app, self._exchange, self._driver.conn)

    @property
    def complete(self) -> bool:
        return self._task.done()

    def step(self) -> None:
        """Let the handler run until it has output or finishes."""
        if asyncio.events._get_running_loop() is not None:
            raise RuntimeError(
                "to_wsgi() cannot run its handler in a thread whose event loop is running; "
                "serve the application with an ASGI server or a crosswind backend instead"
            )
        driver = self._driver
        loop = driver.loop
        driver.ready = loop.create_future()
        resume, driver.resume = driver.resume, None
        if resume is not None and not resume.done():
            resume.set_result(None)
        loop.run_until_complete(driver.ready)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunks = self._driver.chunks
        while True:
            if chunks:
                return chunks.popleft()
            if self._task.done():
                self.raise_failure()
                raise StopIteration
            self.step()

    def raise_failure(self) -> None:
        """Raise what stopped the handler from completing its response, if anything."""
        self._task.result()  # cancellation or KeyboardInterrupt come out here
        failure, self._failure = self._failure, None
        if failure is not None and not isinstance(failure, ClientDisconnected):
            # Raising makes the server drop the connection, so the client
            # can tell that the response is incomplete.
            raise failure

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._task.done():
            return
        driver = self._driver
        driver.disconnected = True
        if driver.exchange is not None:
            driver.exchange.connection_lost()
        resume, driver.resume = driver.resume, None
        if resume is not None and not resume.done():
            # The handler sees the same exception as when a backend's client
            # goes away mid-response.
            resume.set_exception(ClientDisconnected("the WSGI server closed the response"))
        else:
            self._task.cancel()
        driver.ready = None
        with contextlib.suppress(asyncio.CancelledError, ClientDisconnected):
            driver.loop.run_until_complete(self._task)


class WSGIAdapter:
    """A crosswind application as a PEP 3333 callable (see :func:`to_wsgi`).

    :param app: the crosswind application.
    :param max_body_size: the request body limit; larger bodies answer ``413``.
    """

    def __init__(self, app: Application, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        self.app = app
        self.max_body_size = max_body_size

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request.

        A WebSocket upgrade request is answered here with ``501`` and a
        plain-text reason: WSGI has no way to hand the connection over, so
        no code of the application could serve it.

        :param environ: the PEP 3333 environment.
        :param start_response: the server's ``start_response``.
        """
        try:
            request, info, length = request_from_environ(environ)
        except RequestError as error:
            error_headers, body = error_response(error)
            start_response(
                f"{error.status_code} {reason_phrase(error.status_code).decode()}",
                [(name.decode(), value.decode()) for name, value in error_headers],
            )
            return [body]
        if _asks_websocket(request.headers):
            status, fields, body = _NO_WEBSOCKET
            start_response(status, fields)
            return [body]
        loop = _thread_loop()
        driver = _WSGIDriver(
            environ, loop, info, head_only=request.method == b"HEAD",
            max_body_size=self.max_body_size, content_length=length,
        )
        exchange = make_exchange(driver, request, time.monotonic())
        response = _Response(self.app, driver, exchange)
        try:
            while not driver.head_sent and not response.complete:
                response.step()
            if not driver.head_sent:
                response.raise_failure()
                raise ClientDisconnected("the client went away before the response started")
        except BaseException:
            response.close()
            raise
        conn = driver.conn
        reason = (conn.reason or reason_phrase(conn.status)).decode("latin-1")
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in strip_hop_by_hop(conn.response_headers)
        ]
        start_response(f"{conn.status} {reason}", headers)
        if response.complete:
            response.raise_failure()
            # A list lets the server see the whole body at once (and, for a
            # single chunk, know its length).
            return [b"".join(driver.chunks)] if driver.chunks else []
        return response


#: The answer to a WebSocket upgrade: 501, since this deployment lacks the
#: feature (426 would tell the client to change protocols, which it asked to).
_NO_WEBSOCKET_BODY = (
    b"WebSocket needs an ASGI server (app.asgi under uvicorn or hypercorn) or a crosswind"
    b" backend; a WSGI server cannot hand the connection over.\n"
)
_NO_WEBSOCKET = (
    "501 Not Implemented",
    [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(_NO_WEBSOCKET_BODY))),
    ],
    _NO_WEBSOCKET_BODY,
)


def _asks_websocket(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request asks to upgrade to WebSocket (``Upgrade: websocket``)."""
    for name, value in headers:
        if name == b"upgrade" and any(
            token.strip(b" \t").lower() == b"websocket" for token in value.split(b",")
        ):
            return True
    return False


def to_wsgi(app: Application, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> WSGIAdapter:
    """Wrap a crosswind application (anything with ``async def handle(exchange)``) for WSGI.

    :param app: the application.
    :param max_body_size: the request body limit; larger bodies answer ``413``.
    """
    return WSGIAdapter(app, max_body_size=max_body_size)


def request_from_environ(environ: Environ) -> tuple[Request, ConnectionInfo, int | None]:
    """The request head, connection facts and declared body length an environ describes.

    The path is relative to ``SCRIPT_NAME`` (kept as ``info.extra["root_path"]``),
    the way a mounted application expects; ``PATH_INFO`` is percent-encoded
    again to form the target.  The length is ``None`` when the server says
    ``wsgi.input`` ends by itself (``wsgi.input_terminated``).

    :param environ: the PEP 3333 environment.
    :raises RequestError: ``CONTENT_LENGTH`` is not a number (400).
    """
    method = environ["REQUEST_METHOD"]
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe=_PATH_SAFE) or "/"
    query = environ.get("QUERY_STRING", "")
    target = path + "?" + query if query else path
    headers: list[tuple[bytes, bytes]] = []
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        headers.append((b"content-type", content_type.encode("latin-1")))
    length: int | None = 0
    raw_length = environ.get("CONTENT_LENGTH")
    if raw_length:
        if not raw_length.isdigit():
            raise RequestError("invalid Content-Length", 400)
        length = int(raw_length)
        headers.append((b"content-length", raw_length.encode("ascii")))
    elif environ.get("wsgi.input_terminated"):
        length = None
    has_host = False
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            name = key[5:].lower().replace("_", "-").encode("latin-1")
            has_host = has_host or name == b"host"
            headers.append((name, value.encode("latin-1")))
    server_name = environ.get("SERVER_NAME", "")
    server_port = environ.get("SERVER_PORT", "")
    scheme = environ.get("wsgi.url_scheme", "http")
    if not has_host and server_name:
        default_port = "443" if scheme == "https" else "80"
        host = server_name if server_port in ("", default_port) else f"{server_name}:{server_port}"
        headers.append((b"host", host.encode("latin-1")))
    protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    version = protocol[5:] if protocol.startswith("HTTP/") else "1.1"
    request = Request(
        method.encode("latin-1"), target.encode("latin-1"), headers, version.encode("ascii")
    )
    remote = environ.get("REMOTE_ADDR")
    remote_port = environ.get("REMOTE_PORT", "")
    info = ConnectionInfo(
        peer=(remote, int(remote_port) if remote_port.isdigit() else 0) if remote else None,
        local=(server_name, int(server_port) if server_port.isdigit() else 0),
        tls=TLSInfo() if scheme == "https" else None,
        extra={"environ": environ, "root_path": environ.get("SCRIPT_NAME", "")},
    )
    return request, info, length


# -- WSGI application -> crosswind -----------------------------------------------


class _Call:
    """One call of the WSGI app: ``start_response``'s results and the body iterator.

    Everything here runs in the worker thread except where noted.
    """

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.content_length: int | None = None
        self.head_sent = False  # set by the loop side once the head is out
        self.iterable: Iterable[bytes] | None = None
        self.iterator: Iterator[bytes] | None = None
        self.exhausted = False
        self._written: list[bytes] = []
        self._produced = 0

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # break the frame <-> traceback cycle
        elif self.status is not None:
            raise AssertionError("start_response called a second time without exc_info")
        if not isinstance(status, str) or len(status) < 4 or not status[:3].isdigit():
            raise ValueError(f"WSGI status must look like '200 OK', not {status!r}")
        # PEP 3333 asks for the check here, while the application still runs; it is
        # the check the response writer makes, so the answer is the writer's too.
        checked = check_response_headers(headers)
        self.status = status
        self.headers = checked
        self.content_length = None
        for name, value in checked:
            if name.lower() == b"content-length" and value.strip().isdigit():
                self.content_length = int(value)
        return self.write

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise AssertionError("write() called before start_response")
        if data:
            self._written.append(bytes(data))

    def start(self, app: WSGIApp, environ: Environ) -> list[bytes]:
        """Call *app*; return the output up to its first non-empty chunk.

        PEP 3333 lets ``start_response`` be called as late as the first
        iteration, so the head is only known after that.
        """
        self.iterable = result = app(environ, self.start_response)
        if isinstance(result, list | tuple):
            self.exhausted = True
            self.close()
            return self._take_written() + [bytes(chunk) for chunk in result if chunk]
        self.iterator = iter(result)
        return self.pull()

    def pull(self) -> list[bytes]:
        """The next output to write: ``write()`` data, then the next non-empty chunk.

        Once the declared ``Content-Length`` is reached the iterable is run
        to its end and closed before returning: the client has its whole
        answer as soon as those bytes are out, and the app's cleanup must
        not lag behind that.
        """
        out = self._next()
        if (
            not self.exhausted
            and self.content_length is not None
            and self._produced >= self.content_length
        ):
            out += self._next()
        return out

    def _next(self) -> list[bytes]:
        iterator = self.iterator
        assert iterator is not None
        chunk = b""
        for piece in iterator:
            if piece:
                chunk = bytes(piece)
                break
        else:
            self.exhausted = True
            self.close()
        out = self._take_written()
        if chunk:
            out.append(chunk)
        self._produced += sum(len(piece) for piece in out)
        return out

    def _take_written(self) -> list[bytes]:
        written, self._written = self._written, []
        return written

    def close(self) -> None:
        close = getattr(self.iterable, "close", None)
        self.iterable = self.iterator = None
        if close is not None:
            close()


class WSGIContainer:
    """A crosswind application that serves a WSGI application.

    The WSGI app runs in a worker thread -- at most *max_workers* at a time --
    under the asyncio and trio backends; under the threaded backend it runs
    in the connection's own thread.  ``wsgi.input`` is the body as it
    arrives (bounded by ``exchange.max_body_size``): each read fetches the
    next piece from the connection, so an upload is never held whole and the
    client is read no faster than the app reads.  A chunked body has no
    ``CONTENT_LENGTH``; ``wsgi.input_terminated`` says to read it to its end.  Its response streams: each chunk of the
    iterable is written as it comes, and ``close()`` is always called.
    ``start_response`` holds the headers to the response writer's rule (a name
    that is not a token, a value with a control character): it raises
    :class:`~crosswind.errors.LocalProtocolError` naming the header, and an app
    that lets it through gets a ``500``, as it would from any crosswind server.

    :param wsgi_app: the PEP 3333 application.
    :param max_workers: how many WSGI calls may run at once.
    """

    def __init__(self, wsgi_app: WSGIApp, *, max_workers: int = 16) -> None:
        self.wsgi_app = wsgi_app
        self._threads = ThreadRunner(max_workers)

    def __repr__(self) -> str:
        return f"<WSGIContainer {self.wsgi_app!r}>"

    async def handle(self, exchange: Exchange) -> None:
        """Serve one request with the WSGI application.

        :param exchange: the request.
        """
        declared = exchange.get_header(b"content-length")
        if (
            declared is not None
            and declared.strip().isdigit()
            and int(declared) > exchange.max_body_size
        ):
            # Refused before the app runs, as a body read whole would be.
            raise RequestError("request body too large", 413)
        environ = self.environ(exchange)
        stream = environ["wsgi.input"] = _StreamedInput(exchange, _reader_for(exchange))
        call = _Call()
        threads = self._threads
        # Every step of one response runs in the same context, whichever
        # worker thread takes it: a streamed body that reads context
        # variables (Flask's stream_with_context) sees what the app set.
        context = contextvars.copy_context()
        try:
            try:
                out = await threads.run(context.run, call.start, self.wsgi_app, environ)
            except Exception:
                if stream.error is not None:
                    raise stream.error from None
                raise
            (status, reason), headers = _response_head(call)
            if stream.error is not None and status >= 500:
                # The app failed on a body the connection refused (too large,
                # malformed, too slow): the client gets that status, not a 500.
                raise stream.error
            call.head_sent = True
            if call.exhausted:
                await exchange.respond(status, headers, b"".join(out), reason)
                return
            await exchange.start_response(status, headers, reason)
            for piece in out:
                await exchange.write(piece)
            while not call.exhausted:
                for piece in await threads.run(context.run, call.pull):
                    await exchange.write(piece)
            await exchange.end()
        finally:
            if call.iterable is not None:
                await threads.run(context.run, call.close)

    def environ(self, exchange: Exchange, body: bytes | None = None) -> Environ:
        """The PEP 3333 environment for *exchange* with its whole *body*.

        ``SCRIPT_NAME`` is the root path (a mount prefix, or the server's
        ``root_path``; empty at the root) and ``PATH_INFO`` the percent-decoded
        path below it, as latin-1.  Repeated headers are joined with ``,`` (``Cookie`` with
        ``; ``, the separator cookie parsers split on).  Header names with an
        underscore are dropped: ``X_Forwarded_For`` and ``X-Forwarded-For``
        would otherwise become the same ``HTTP_`` key, a known spoofing trick.

        :param exchange: the request.
        :param body: the request body, already read; ``None`` describes the
            body as the headers declare it, for a ``wsgi.input`` the caller
            streams (``handle`` does).
        """
        info = exchange.info
        host_header = exchange.get_header(b"host")
        scheme = info.scheme
        default_port = "443" if scheme == "https" else "80"
        if host_header:
            server_name, server_port = _split_host(host_header.decode("latin-1"), default_port)
        elif isinstance(info.local, tuple):
            server_name, server_port = info.local[0], str(info.local[1])
        else:
            server_name, server_port = "localhost", default_port
        environ: Environ = {
            "REQUEST_METHOD": exchange.method,
            "SCRIPT_NAME": root_path_of(exchange),
            "PATH_INFO": unquote_to_bytes(exchange.path).decode("latin-1"),
            "QUERY_STRING": exchange.query,
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
            "SERVER_PROTOCOL": "HTTP/" + exchange.http_version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": BytesIO(body or b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        if scheme == "https":
            environ["HTTPS"] = "on"
        peer = info.peer
        if isinstance(peer, tuple):
            environ["REMOTE_ADDR"] = peer[0]
            environ["REMOTE_PORT"] = str(peer[1])
        declared = exchange.get_header(b"content-length")
        if body is not None:
            if body or declared is not None:
                environ["CONTENT_LENGTH"] = str(len(body))
        elif declared is not None:
            environ["CONTENT_LENGTH"] = declared.decode("latin-1").strip()
        joined: dict[str, list[str]] = {}
        for name, value in exchange.headers:
            if b"_" in name or name == b"content-length":
                continue
            if name == b"content-type":
                environ["CONTENT_TYPE"] = value.decode("latin-1")
                continue
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            joined.setdefault(key, []).append(value.decode("latin-1"))
        for key, values in joined.items():
            environ[key] = ("; " if key == "HTTP_COOKIE" else ",").join(values)
        return environ


def _reader_for(exchange: Exchange) -> Callable[[], bytes]:
    """How the thread that runs the WSGI app gets the next piece of the body.

    On the threaded backend that thread is the connection's own and its reads
    block, so it reads directly; under asyncio or trio it is a worker thread
    and the read runs on the event loop, which the worker waits for.
    """
    library = current_library()
    if library == "asyncio":
        loop = asyncio.get_running_loop()

        def read_on_loop() -> bytes:
            return asyncio.run_coroutine_threadsafe(exchange.read(), loop).result()

        return read_on_loop
    if library == "trio":
        import trio

        token = trio.lowlevel.current_trio_token()
        return lambda: trio.from_thread.run(exchange.read, trio_token=token)
    return lambda: run_sync(exchange.read())


class _StreamedInput:
    """``wsgi.input`` over the connection: each read takes the next pieces of the body.

    A body over the limit or cut short raises in the WSGI app's ``read``
    (``RequestError`` / ``ClientDisconnected``); werkzeug and most frameworks
    turn that into their own 400 or 413, else the container answers 500.
    """

    def __init__(self, exchange: Exchange, read_piece: Callable[[], bytes]) -> None:
        self._exchange = exchange
        self._read_piece = read_piece
        self._buffer = bytearray()
        self._done = exchange.body_complete
        #: What refused the body, once a read failed on it.
        self.error: RequestError | None = None

    def _fill(self) -> bool:
        if self._done:
            return False
        try:
            piece = self._read_piece()
        except RequestError as error:
            self.error = error
            raise
        if not piece:
            self._done = True
            return False
        self._buffer += piece
        return True

    def _take(self, size: int) -> bytes:
        buffer = self._buffer
        if size < 0 or size >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
            return data
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Read up to *size* bytes (all that is left if ``None`` or negative).

        :param size: the most bytes to return.
        """
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(-1)
        while len(self._buffer) < size and self._fill():
            pass
        return self._take(size)

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, ``\n`` included (at most *size* bytes).

        :param size: the most bytes to return.
        """
        limit = -1 if size is None else size
        start = 0
        while True:
            newline = self._buffer.find(b"\n", start)
            if newline >= 0:
                end = newline + 1
                return self._take(end if limit < 0 else min(end, limit))
            if 0 <= limit <= len(self._buffer):
                return self._take(limit)
            start = len(self._buffer)
            if not self._fill():
                return self._take(limit)

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Read the remaining lines.

        :param hint: stop once this many bytes were read (no bound if not positive).
        """
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


def _split_host(host: str, default_port: str) -> tuple[str, str]:
    if host.startswith("["):  # IPv6 literal
        end = host.find("]")
        name, rest = host[: end + 1], host[end + 1 :]
        return name, rest[1:] if rest.startswith(":") and rest[1:].isdigit() else default_port
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit():
        return name, port
    return host, default_port


def _response_head(call: _Call) -> tuple[tuple[int, bytes], list[tuple[bytes, bytes]]]:
    if call.status is None:
        raise RuntimeError("the WSGI application returned without calling start_response")
    status = call.status
    headers = [(name, value) for name, value in call.headers if name.lower() not in HOP_BY_HOP]
    return (int(status[:3]), status[4:].encode("latin-1")), headers
