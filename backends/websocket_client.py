"""Tornado's ``websocket_connect`` on asyncio and trio, and a blocking twin for threads.

``from tornado.websocket import websocket_connect`` becomes
``from crosswind.websocket import websocket_connect``::

    conn = await websocket_connect("wss://example.org/chat", subprotocols=["chat"])
    await conn.write_message("hello")
    reply = await conn.read_message()       # None once the connection closed
    conn.close()

The same coroutine runs under asyncio and under trio (which one is found out
when it is called).  :func:`websocket_connect_sync` is the blocking form, for
threads and scripts: its connection's methods block instead of returning
awaitables (named as :func:`crosswind._sync.run_sync` is: the same work,
done synchronously).

Everything but the sockets is shared and sans-IO: the handshake is
:class:`~crosswind.protocol.websocket.client.ClientHandshake`, the connection
a client-side :class:`~crosswind.protocol.websocket.connection.WebSocketConnection`,
served by the same :class:`~crosswind.protocol.websocket.session.WebSocketSession`
as the server's WebSockets.  This module only opens the connection (TCP, TLS
for ``wss://``), moves bytes and keeps time.

The closing handshake ends as RFC 6455 section 7.1.1 asks: once close frames
have crossed, the client waits (up to ``ws_close_timeout``) for the server to
close TCP before closing it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

from crosswind._sync import run_sync
from crosswind.headers import Headers
from crosswind.protocol.events import NEED_DATA
from crosswind.protocol.exchange import DetachedStream
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo, TransportClosed
from crosswind.protocol.websocket import (
    BytesMessage,
    Closed,
    CloseReceived,
    Event,
    TextMessage,
    WebSocketClosed,
    WebSocketConnection,
)
from crosswind.protocol.websocket.client import (
    ClientHandshake,
    Established,
    HandshakeFailed,
    Refused,
)
from crosswind.protocol.websocket.session import WebSocketSession
from crosswind.web.websocket import WebSocketClosedError, WebSocketError

__all__ = [
    "HandshakeFailed",
    "HandshakeResponse",
    "SyncWebSocketClientConnection",
    "WebSocketClientConnection",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandshakeError",
    "WebSocketTimeoutError",
    "websocket_connect",
    "websocket_connect_sync",
]

#: Tornado's ``connect_timeout`` when none is given (its HTTP client default).
DEFAULT_CONNECT_TIMEOUT = 20.0
_RECEIVE_SIZE = 65536
#: Seconds a blocking send may wait for a server that does not read.
_SEND_TIMEOUT = 60.0
log = logging.getLogger("crosswind.websocket")
#: The close code of a connection that ended without a close frame, and of a
#: close frame without one: Tornado reports neither as a code.
_ABNORMAL = 1006
_NO_STATUS = 1005


class WebSocketHandshakeError(WebSocketError):
    """The server answered the upgrade with an ordinary HTTP response (Tornado's ``HTTPClientError``).

    :param code: its status code.
    :param response: the response: :attr:`~HandshakeResponse.code`,
        :attr:`~HandshakeResponse.headers` and :attr:`~HandshakeResponse.body`.
    """

    def __init__(self, code: int, response: HandshakeResponse) -> None:
        super().__init__(f"HTTP {code}: the server refused the WebSocket upgrade")
        self.code = code
        self.response = response


class WebSocketTimeoutError(WebSocketError, TimeoutError):
    """``connect_timeout`` passed before the connection was open, or a read timed out."""


class HandshakeResponse:
    """What the server answered to the upgrade request.

    :param code: the status code.
    :param headers: the response's fields.
    :param body: its body (the first 64 KiB; empty for a ``101``).
    """

    def __init__(self, code: int, headers: Headers, body: bytes = b"") -> None:
        self.code = code
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<HandshakeResponse {self.code}>"


# -- transports ------------------------------------------------------------------


class _Transport(Protocol):
    """What the client needs of a connection, on every runtime (a server transport's subset)."""

    info: ConnectionInfo
    #: Seconds to wait for the server to close TCP before closing it ourselves.
    linger: float

    def clock(self) -> float: ...

    def receive(self, deadline: float | None) -> Awaitable[bytes]: ...

    async def send(self, data: bytes) -> None: ...

    async def close(self) -> None: ...

    def set_close_callback(self, callback: Callable[[], None] | None) -> None: ...


class _AsyncioTransport(asyncio.Protocol):
    """A client connection on asyncio: bytes in a buffer, one reader waiting on a future."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.info = ConnectionInfo()
        self.linger = 0.0
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._eof = False
        self._lost = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused: asyncio.Future[None] | None = None
        self._stop_waiting: Callable[[Any], bool] | None = None

    def clock(self) -> float:
        return self.loop.time()

    # asyncio's callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = self._lost = True
        self._wake()
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def pause_writing(self) -> None:
        self._paused = self.loop.create_future()

    def resume_writing(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def _wake(self, error: BaseException | None = None) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    # the transport

    async def receive(self, deadline: float | None) -> bytes:
        if not self._buffer and not self._eof:
            if self._wait_ends():
                raise TimeoutError
            waiter = self._waiter = self.loop.create_future()
            timer = None if deadline is None else self.loop.call_at(deadline, self._wake, TimeoutError())
            try:
                await waiter
            except TimeoutError:
                if not self._buffer:
                    raise
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def stop_waiting(self, condition: Callable[[Any], bool]) -> None:
        self._stop_waiting = condition
        if self._wait_ends():
            self._wake(TimeoutError())

    def _wait_ends(self) -> bool:
        condition = self._stop_waiting
        return condition is not None and condition(None)

    async def send(self, data: bytes) -> None:
        waiter = self.send_nowait(data)
        if waiter is not None:
            await waiter

    def send_nowait(self, data: bytes) -> Awaitable[None] | None:
        transport = self._transport
        if self._lost or transport is None or transport.is_closing():
            raise TransportClosed("connection lost")
        transport.write(data)
        return self._paused

    async def close(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        try:
            if self.linger and not self._eof:
                # The server closes TCP first (RFC 6455 section 7.1.1).
                deadline = self.loop.time() + self.linger
                with contextlib.suppress(TimeoutError):
                    while not self._eof:
                        await self.receive(deadline)
        finally:
            transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Not needed: the client always has a reader."""


class _TrioTransport:
    """A client connection on trio, over a ``trio.SocketStream`` or ``trio.SSLStream``."""

    def __init__(self, stream: Any) -> None:
        import trio

        self._trio = trio
        self.stream = stream
        self.info = ConnectionInfo()
        self.linger = 0.0
        self._eof = False
        self._closed = False
        self._scope: Any = None
        self._stop_waiting: Callable[[Any], bool] | None = None

    def clock(self) -> float:
        return float(self._trio.current_time())

    async def receive(self, deadline: float | None) -> bytes:
        trio = self._trio
        if self._eof:
            return b""
        if self._wait_ends():
            deadline = trio.current_time()
        scope = self._scope = trio.CancelScope(
            deadline=float("inf") if deadline is None else deadline
        )
        try:
            with scope:
                data = bytes(await self.stream.receive_some(_RECEIVE_SIZE))
                if not data:
                    self._eof = True
                return data
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._eof = True
            return b""
        finally:
            self._scope = None
        raise TimeoutError

    def stop_waiting(self, condition: Callable[[Any], bool]) -> None:
        self._stop_waiting = condition
        if self._scope is not None and self._wait_ends():
            self._scope.cancel()

    def _wait_ends(self) -> bool:
        condition = self._stop_waiting
        return condition is not None and condition(None)

    async def send(self, data: bytes) -> None:
        trio = self._trio
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise TransportClosed("connection lost") from error

    async def close(self) -> None:
        trio = self._trio
        if self._closed:
            return
        self._closed = True
        try:
            if self.linger and not self._eof:
                with trio.move_on_after(self.linger):
                    while await self.receive(None):
                        pass
        finally:
            # Closed even when cancelled (the run ending with the connection open).
            with trio.move_on_after(1.0):
                await self.stream.aclose()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Not needed: the client always has a reader."""


class _ReadTimedOut(Exception):
    """A blocking read reached the caller's timeout (not the connection's deadline)."""


class _SocketTransport:
    """A client connection on a blocking socket; its coroutines never suspend."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.info = ConnectionInfo()
        self.linger = 0.0
        #: Held by every send: threads may send while another reads.
        self.send_lock = threading.RLock()
        #: The caller's own limit for the read in progress, in clock terms.
        self.read_until: float | None = None
        self._eof = False
        self._closed = False
        self._receiving = False
        self._stop_waiting: Callable[[Any], bool] | None = None

    def clock(self) -> float:
        return time.monotonic()

    async def receive(self, deadline: float | None) -> bytes:
        if self._eof:
            return b""
        if self._wait_ends():
            deadline = time.monotonic()
        mine = self.read_until is not None and (deadline is None or self.read_until < deadline)
        if mine:
            deadline = self.read_until
        sock = self.sock
        self._receiving = True
        try:
            sock.settimeout(None if deadline is None else max(deadline - time.monotonic(), 0.0))
            data = sock.recv(_RECEIVE_SIZE)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            if mine:
                raise _ReadTimedOut from None
            raise TimeoutError from None
        except OSError:
            data = b""
        finally:
            self._receiving = False
        if not data:
            if self._wait_ends():
                raise TimeoutError
            self._eof = True
        return data

    def stop_waiting(self, condition: Callable[[Any], bool]) -> None:
        self._stop_waiting = condition
        if self._receiving and self._wait_ends():
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self.sock, socket.SHUT_RD)

    def _wait_ends(self) -> bool:
        condition = self._stop_waiting
        return condition is not None and condition(None)

    async def send(self, data: bytes) -> None:
        self.send_nowait(data)

    def send_nowait(self, data: bytes) -> None:
        try:
            with self.send_lock:
                # The timeout the last read left may be a deadline's few
                # milliseconds; a send gets its own.
                self.sock.settimeout(_SEND_TIMEOUT)
                self.sock.sendall(data)
        except OSError as error:
            raise TransportClosed("connection lost") from error

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.linger and not self._eof:
            deadline = time.monotonic() + self.linger
            self.read_until = None
            with contextlib.suppress(TimeoutError):
                while await self.receive(deadline):
                    pass
        self.sock.close()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Not needed: the client always has a reader."""


# -- opening ---------------------------------------------------------------------


class _Target:
    """Where to connect and what to ask for, from a URL or a Tornado ``HTTPRequest``."""

    def __init__(self, url: Any, headers: Any, ssl_context: ssl.SSLContext | None) -> None:
        if not isinstance(url, str):
            # A request object (Tornado's HTTPRequest): its URL and headers.
            request_headers = getattr(url, "headers", None)
            url = url.url
            if request_headers is not None:
                headers = [*_pairs(request_headers), *_pairs(headers)]
        parts = urlsplit(url)
        scheme = {"ws": "ws", "http": "ws", "wss": "wss", "https": "wss"}.get(parts.scheme)
        if scheme is None or not parts.hostname:
            raise ValueError(f"a WebSocket URL is ws:// or wss:// with a host, not {url!r}")
        self.url = url
        self.tls = scheme == "wss"
        self.host = parts.hostname
        default = 443 if self.tls else 80
        self.port = parts.port or default
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = host if self.port == default else f"{host}:{self.port}"
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.headers = _pairs(headers)
        if self.tls:
            self.ssl_context: ssl.SSLContext | None = ssl_context or ssl.create_default_context()
        elif ssl_context is not None:
            raise ValueError("ssl_context needs a wss:// URL")
        else:
            self.ssl_context = None


def _pairs(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Headers):
        return list(headers.items())
    get_all = getattr(headers, "get_all", None)  # Tornado's HTTPHeaders
    if get_all is not None:
        return [(str(name), str(value)) for name, value in get_all()]
    if isinstance(headers, Mapping):
        return [(str(name), str(value)) for name, value in headers.items()]
    return [(str(name), str(value)) for name, value in headers]


class _Options:
    """The settings of one connection, checked before any socket is opened."""

    def __init__(
        self,
        url: Any,
        *,
        headers: Any,
        connect_timeout: float | None,
        compression_options: Mapping[str, Any] | None,
        ping_interval: float | None,
        ping_timeout: float | None,
        max_message_size: int | None,
        subprotocols: Iterable[str] | None,
        ssl_context: ssl.SSLContext | None,
        limits: Limits | None,
    ) -> None:
        self.target = _Target(url, headers, ssl_context)
        self.connect_timeout = DEFAULT_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
        limits = limits or Limits()
        if max_message_size is not None:
            limits = limits.replace(
                ws_max_message_size=max_message_size, ws_max_frame_size=max_message_size
            )
        self.limits = limits
        interval = ping_interval or None
        self.ping_interval = interval
        self.ping_timeout = ping_timeout or (interval if ping_timeout is None else None)
        for name, value in (("ping_interval", interval), ("ping_timeout", self.ping_timeout)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number or None, not {value!r}")
        self.handshake = ClientHandshake(
            self.target.host_header,
            self.target.target,
            key=os.urandom(16),
            subprotocols=subprotocols or (),
            compression_options=compression_options,
            headers=self.target.headers,
        )


async def _handshake(
    transport: _Transport, options: _Options, deadline: float
) -> tuple[WebSocketSession, Established]:
    """Send the upgrade, read the answer, and build the session over the transport."""
    handshake = options.handshake
    await transport.send(handshake.request())
    while True:
        event = handshake.next_event()
        if event is not NEED_DATA:
            break
        try:
            data = await transport.receive(deadline)
        except TimeoutError:
            raise _timed_out(options) from None
        handshake.receive_data(data)
    if isinstance(event, Refused):
        response = HandshakeResponse(event.status, Headers(event.headers), event.body)
        raise WebSocketHandshakeError(event.status, response)
    assert isinstance(event, Established)
    connection = WebSocketConnection(
        options.limits,
        clock=transport.clock,
        extensions=event.extensions,
        subprotocol=event.subprotocol,
        ping_interval=options.ping_interval,
        ping_timeout=options.ping_timeout,
        client=True,
    )
    stream = DetachedStream(transport, event.leftover, clock=transport.clock, limits=options.limits)
    return WebSocketSession(stream, connection), event


def _timed_out(options: _Options) -> WebSocketTimeoutError:
    return WebSocketTimeoutError(
        f"{options.target.url}: no WebSocket connection within "
        f"connect_timeout ({options.connect_timeout:g} s)"
    )


async def _open_asyncio(options: _Options) -> tuple[_AsyncioTransport, float]:
    loop = asyncio.get_running_loop()
    target = options.target
    deadline = loop.time() + options.connect_timeout
    try:
        async with asyncio.timeout_at(deadline):
            _, protocol = await loop.create_connection(
                _AsyncioTransport,
                target.host,
                target.port,
                ssl=target.ssl_context,
                server_hostname=target.host if target.tls else None,
            )
    except TimeoutError:
        raise _timed_out(options) from None
    sock = protocol._transport.get_extra_info("socket") if protocol._transport else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return protocol, deadline


async def _open_trio(options: _Options) -> tuple[_TrioTransport, float]:
    import trio

    target = options.target
    deadline = trio.current_time() + options.connect_timeout
    with trio.move_on_at(deadline) as scope:
        stream: Any = await trio.open_tcp_stream(target.host, target.port)
        if target.ssl_context is not None:
            stream = trio.SSLStream(stream, target.ssl_context, server_hostname=target.host)
            try:
                await stream.do_handshake()
            except trio.BrokenResourceError as error:
                await trio.aclose_forcefully(stream)
                cause = error.__cause__
                raise (cause if isinstance(cause, ssl.SSLError) else error) from None
    if scope.cancelled_caught:
        raise _timed_out(options)
    return _TrioTransport(stream), deadline


def _open_socket(options: _Options) -> tuple[_SocketTransport, float]:
    target = options.target
    deadline = time.monotonic() + options.connect_timeout
    try:
        sock = socket.create_connection((target.host, target.port), timeout=options.connect_timeout)
    except TimeoutError:
        raise _timed_out(options) from None
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.ssl_context is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock = target.ssl_context.wrap_socket(sock, server_hostname=target.host)
    except TimeoutError:
        sock.close()
        raise _timed_out(options) from None
    except BaseException:
        sock.close()
        raise
    return _SocketTransport(sock), deadline


# -- the asynchronous connection ---------------------------------------------------


class _Written:
    """What a send returns: await it to wait until the transport took the bytes (optional)."""

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


class _Mailbox:
    """Messages waiting for :meth:`WebSocketClientConnection.read_message`, on asyncio or trio."""

    def __init__(self, library: str) -> None:
        self._library = library
        self._items: deque[str | bytes | None] = deque()
        self._waiter: Any = None

    def put(self, item: str | bytes | None) -> None:
        self._items.append(item)
        if self._waiter is not None:
            self._waiter.set()

    async def get(self) -> str | bytes | None:
        while not self._items:
            if self._library == "trio":
                import trio

                self._waiter = trio.Event()
            else:
                self._waiter = asyncio.Event()
            try:
                await self._waiter.wait()
            finally:
                self._waiter = None
        item = self._items[0]
        if item is not None:  # the end stays, for every later read
            self._items.popleft()
        return item


class _ClientBase:
    """What both connection classes share: the session, the close and the sends."""

    def __init__(
        self,
        session: WebSocketSession,
        established: Established,
        url: str,
        transport: _Transport,
    ) -> None:
        self._session = session
        self._transport = transport
        self.url = url
        #: The subprotocol the server chose, or ``None``.
        self.selected_subprotocol = established.subprotocol
        #: The ``101``'s fields.
        self.headers = Headers(established.headers)
        #: The close code of the closing handshake, once closed (``None`` before,
        #: and when the connection ended without one).
        self.close_code: int | None = None
        #: The close reason that came with :attr:`close_code`, or ``None``.
        self.close_reason: str | None = None

    @property
    def protocol(self) -> WebSocketConnection:
        """The sans-IO connection underneath (its limits, extensions, state)."""
        return self._session.connection

    def _note_close(self, event: Event) -> None:
        transport = self._transport
        if isinstance(event, CloseReceived):
            self.close_code = None if event.code == _NO_STATUS else event.code
            self.close_reason = event.reason or None
            transport.linger = self._session.connection.limits.ws_close_timeout
        elif isinstance(event, Closed) and event.code != _ABNORMAL:
            # We failed the connection: our close frame is out; the server
            # answers it and closes TCP.
            self.close_code = event.code
            self.close_reason = event.reason or None
            transport.linger = self._session.connection.limits.ws_close_timeout

    def _send_message(self, message: str | bytes | dict[str, Any], binary: bool) -> Any:
        connection = self._session.connection
        if connection.closing or connection.closed:
            raise WebSocketClosedError()
        if isinstance(message, dict):
            message = json.dumps(message)
        try:
            if binary:
                data = message.encode("utf-8") if isinstance(message, str) else message
                return self._session.send_bytes(data)
            text = message if isinstance(message, str) else message.decode("utf-8")
            return self._session.send_text(text)
        except WebSocketClosed:
            raise WebSocketClosedError() from None

    def _send_ping(self, data: str | bytes) -> Any:
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        try:
            return self._session.send_ping(payload)
        except WebSocketClosed:
            raise WebSocketClosedError() from None


class WebSocketClientConnection(_ClientBase):
    """An open client connection (Tornado's class of the same name); made by :func:`websocket_connect`.

    A task of the running library reads from the server for the whole life of
    the connection, answers its pings, sends the keep-alive pings, and hands
    each message to ``on_message_callback`` or keeps it for :meth:`read_message`.
    """

    def __init__(
        self,
        session: WebSocketSession,
        established: Established,
        url: str,
        transport: _Transport,
        library: str,
        on_message_callback: Callable[[str | bytes | None], Any] | None,
    ) -> None:
        super().__init__(session, established, url, transport)
        self._callback = on_message_callback
        self._mailbox = _Mailbox(library)
        self._library = library
        self._done = asyncio.Event() if library == "asyncio" else _trio_event()
        self._task: Any = None

    def _start(self) -> None:
        if self._library == "asyncio":
            self._task = asyncio.get_running_loop().create_task(self._run())
        else:
            import trio

            # A system task, as asyncio's: it outlives the caller's nursery-less call.
            trio.lowlevel.spawn_system_task(self._run, name=f"websocket client {self.url}")

    async def _run(self) -> None:
        try:
            await self._session.run(self)
        except Exception:  # a bug of ours: the connection is over either way
            log.exception("WebSocket client connection to %s failed", self.url)
            if self._callback is None:
                self._mailbox.put(None)
        finally:
            self._done.set()

    def event_received(self, event: Event) -> Awaitable[None] | None:
        """Take one event from the session (the session calls this)."""
        if isinstance(event, TextMessage | BytesMessage):
            return self._deliver(event.data)
        if isinstance(event, CloseReceived | Closed):
            self._note_close(event)
            return self._deliver(None)
        return None

    def _deliver(self, message: str | bytes | None) -> Awaitable[None] | None:
        callback = self._callback
        if callback is None:
            self._mailbox.put(message)
            return None
        try:
            result = callback(message)
        except Exception:
            self._callback_failed()
            return None
        return self._await_callback(result) if inspect.isawaitable(result) else None

    async def _await_callback(self, result: Awaitable[Any]) -> None:
        try:
            await result
        except Exception:
            self._callback_failed()

    def _callback_failed(self) -> None:
        # As Tornado's handler hooks: logged, and the connection dropped.
        log.exception("on_message_callback failed for %s", self.url)
        self._session.abort()

    def write_message(self, message: str | bytes | dict[str, Any], binary: bool = False) -> _Written:
        """Send a message; a dict is sent as JSON text.

        It goes out whether or not the result is awaited; awaiting it waits
        until the transport has taken it (flow control).

        :param message: the message.
        :param binary: send a binary message (``str`` is encoded as UTF-8).
        :raises WebSocketClosedError: the connection is closing or closed.
        """
        return _Written(self._send_message(message, binary))

    async def read_message(self) -> str | bytes | None:
        """The next message from the server; ``None`` once the connection has closed.

        Not with ``on_message_callback``, which takes every message itself.
        """
        if self._callback is not None:
            raise RuntimeError("messages go to on_message_callback; read_message has none")
        return await self._mailbox.get()

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping of at most 125 bytes; a pong must answer it within ``ping_timeout``.

        :raises WebSocketClosedError: the connection is closing or closed.
        """
        self._send_ping(data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake; the connection ends when the server answers.

        :param code: the close code; ``1000`` when ``None``.
        :param reason: a short text for the server.
        """
        self._session.close(1000 if code is None else code, reason or "")

    async def wait_closed(self) -> None:
        """Wait until the connection has ended and its socket is closed."""
        await self._done.wait()


def _trio_event() -> Any:
    import trio

    return trio.Event()


def _current_library() -> str:
    # As crosswind.adapters._runtime does; trio only counts when imported.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return "asyncio"
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
        else:
            return "trio"
    raise RuntimeError(
        "websocket_connect needs a running asyncio or trio loop; "
        "use websocket_connect_sync in a thread"
    )


async def websocket_connect(
    url: Any,
    *,
    connect_timeout: float | None = None,
    on_message_callback: Callable[[str | bytes | None], Any] | None = None,
    compression_options: Mapping[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int | None = None,
    subprotocols: Iterable[str] | None = None,
    headers: Any = None,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits | None = None,
) -> WebSocketClientConnection:
    """Open a WebSocket connection (Tornado's ``websocket_connect``), under asyncio or trio.

    :param url: ``ws://`` or ``wss://`` URL (``http``/``https`` are taken for
        them), or a request object with ``url`` and ``headers`` (Tornado's
        ``HTTPRequest``).
    :param connect_timeout: seconds allowed for TCP, TLS and the handshake
        together; 20 when ``None``, as Tornado.
    :param on_message_callback: called with each message, then with ``None``
        when the connection closes; :meth:`~WebSocketClientConnection.read_message`
        is not used then.  It may return an awaitable, awaited before the next message.
    :param compression_options: ``None`` for no compression; a mapping
        (``{}`` for defaults, or ``compression_level`` and ``mem_level``)
        offers permessage-deflate.
    :param ping_interval: seconds between keep-alive pings, or ``None``.
    :param ping_timeout: seconds a ping may go unanswered before the
        connection is dropped; the interval when ``None``.
    :param max_message_size: the largest message (and frame) accepted; a
        larger one closes the connection with ``1009``.  10 MiB by default.
    :param subprotocols: subprotocols to offer, in order of preference.
    :param headers: more request fields: a mapping, ``(name, value)`` pairs,
        or a :class:`~crosswind.headers.Headers`.
    :param ssl_context: for ``wss://``: the TLS context (the system's CAs by default).
    :param limits: the WebSocket limits (``ws_close_timeout``, ``ws_max_queued_bytes`` ...).
    :raises WebSocketHandshakeError: the server refused the upgrade (``.code``, ``.response``).
    :raises WebSocketTimeoutError: *connect_timeout* passed.
    :raises HandshakeFailed: the server's ``101`` is not a valid handshake.
    :raises OSError: the connection could not be made (refused, TLS failed ...).
    """
    library = _current_library()
    options = _Options(
        url,
        headers=headers,
        connect_timeout=connect_timeout,
        compression_options=compression_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_message_size=max_message_size,
        subprotocols=subprotocols,
        ssl_context=ssl_context,
        limits=limits,
    )
    transport: _Transport
    if library == "asyncio":
        transport, deadline = await _open_asyncio(options)
    else:
        transport, deadline = await _open_trio(options)
    try:
        session, established = await _handshake(transport, options, deadline)
    except BaseException:
        await _close_now(transport)
        raise
    connection = WebSocketClientConnection(
        session, established, options.target.url, transport, library, on_message_callback
    )
    connection._start()
    return connection


async def _close_now(transport: _Transport) -> None:
    transport.linger = 0.0
    with contextlib.suppress(Exception):
        await transport.close()


# -- the blocking connection -------------------------------------------------------


class SyncWebSocketClientConnection(_ClientBase):
    """A blocking client connection, made by :func:`websocket_connect_sync`.

    The connection is read while a thread is in :meth:`read_message` (or
    iterates over it, or closes it): pings are answered and keep-alive pings
    sent then.  One thread reads at a time; sends may come from any thread.
    Use it as a context manager to close it on the way out.
    """

    def __init__(
        self,
        session: WebSocketSession,
        established: Established,
        url: str,
        transport: _SocketTransport,
    ) -> None:
        super().__init__(session, established, url, transport)
        self._socket = transport
        self._read_lock = threading.Lock()
        self._ended = False

    def write_message(self, message: str | bytes | dict[str, Any], binary: bool = False) -> None:
        """Send a message (a dict as JSON text); returns once the socket took it.

        :param message: the message.
        :param binary: send a binary message (``str`` is encoded as UTF-8).
        :raises WebSocketClosedError: the connection is closing or closed.
        """
        self._send_message(message, binary)
        try:
            run_sync(self._session.flush())
        except WebSocketClosed:
            raise WebSocketClosedError() from None

    def read_message(self, timeout: float | None = None) -> str | bytes | None:
        """Wait for the next message; ``None`` once the connection has closed.

        :param timeout: seconds to wait at most, or ``None`` for as long as it takes.
        :raises WebSocketTimeoutError: *timeout* passed with no message.
        """
        with self._read_lock:
            if self._ended:
                return None
            transport = self._socket
            transport.read_until = None if timeout is None else time.monotonic() + timeout
            try:
                while True:
                    try:
                        event = run_sync(self._session.next_event())
                    except _ReadTimedOut:
                        raise WebSocketTimeoutError(
                            f"no message within {timeout:g} s"
                        ) from None
                    if isinstance(event, TextMessage | BytesMessage):
                        return event.data
                    if isinstance(event, CloseReceived | Closed):
                        self._note_close(event)
                        self._end()
                        return None
            finally:
                transport.read_until = None

    def _end(self) -> None:
        self._ended = True
        run_sync(self._session.finish())

    def __iter__(self) -> Iterator[str | bytes]:
        """The messages, until the connection closes."""
        while True:
            message = self.read_message()
            if message is None:
                return
            yield message

    def ping(self, data: str | bytes = b"") -> None:
        """Send a ping of at most 125 bytes; a pong must answer it within ``ping_timeout``.

        :raises WebSocketClosedError: the connection is closing or closed.
        """
        self._send_ping(data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the connection: send a close frame and wait for the server's answer.

        Messages that arrive meanwhile are dropped.  Closing a closed
        connection does nothing.

        :param code: the close code; ``1000`` when ``None``.
        :param reason: a short text for the server.
        """
        with self._read_lock:
            if self._ended:
                return
            self._session.close(1000 if code is None else code, reason or "")
            while not self._ended:
                event = run_sync(self._session.next_event())
                if isinstance(event, CloseReceived | Closed):
                    self._note_close(event)
                    self._end()

    def __enter__(self) -> SyncWebSocketClientConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def websocket_connect_sync(
    url: Any,
    *,
    connect_timeout: float | None = None,
    compression_options: Mapping[str, Any] | None = None,
    ping_interval: float | None = None,
    ping_timeout: float | None = None,
    max_message_size: int | None = None,
    subprotocols: Iterable[str] | None = None,
    headers: Any = None,
    ssl_context: ssl.SSLContext | None = None,
    limits: Limits | None = None,
) -> SyncWebSocketClientConnection:
    """Open a WebSocket connection and return it, blocking; for threads and scripts.

    The parameters are :func:`websocket_connect`'s, without ``on_message_callback``:
    messages are read with :meth:`~SyncWebSocketClientConnection.read_message`
    or by iterating over the connection.

    :raises WebSocketHandshakeError: the server refused the upgrade.
    :raises WebSocketTimeoutError: *connect_timeout* passed.
    :raises HandshakeFailed: the server's ``101`` is not a valid handshake.
    :raises OSError: the connection could not be made.
    """
    options = _Options(
        url,
        headers=headers,
        connect_timeout=connect_timeout,
        compression_options=compression_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        max_message_size=max_message_size,
        subprotocols=subprotocols,
        ssl_context=ssl_context,
        limits=limits,
    )
    transport, deadline = _open_socket(options)
    try:
        session, established = run_sync(_handshake(transport, options, deadline))
    except BaseException:
        run_sync(_close_now(transport))
        raise
    return SyncWebSocketClientConnection(session, established, options.target.url, transport)

