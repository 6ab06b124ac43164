"""The trio backend: one task per connection in one nursery per server.

Deadlines are in trio's own clock (``trio.current_time``), which is the
clock handed to the driver, so a deadline from the connection arms
``trio.move_on_at`` directly.  Accepting waits on a
:class:`trio.CapacityLimiter` first, then takes every client the backlog
holds, up to the free slots, before it yields.  With every ``Limits.max_connections``
slot taken, a client arriving makes the server close one connection that
holds its slot without using it (``Server.first_to_shed``); when none does,
new clients wait in the kernel's backlog instead of in memory.

Trio shows a disconnect only to a reader, so while an application waits
for its client to go away (``add_close_callback``) without reading, a
watcher task reads for it: what it reads is kept for the driver, and the
end of the stream is reported at once.
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

import trio
from crosswind.protocol.driver import AccessLog
from crosswind.protocol.exchange import Application
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo, Driver, TransportClosed

from ._common import ServerHandle, announce, peer_name, server_log, tls_info
from ._serve import (
    Runtime,
    ServeOptions,
    Server,
    is_idle,
    is_sheddable,
    serve_with,
)

__all__ = ["TrioServer", "serve", "start_server"]

_RECEIVE_SIZE = 64 * 1024
# A graceful TLS close sends close_notify; a peer that stopped reading must
# not hold the task up for longer than this.
_CLOSE_GRACE = 1.0
# How long a read whose deadline has passed still looks for bytes already here.
_LAST_LOOK = 0.001
# With every connection slot busy, how often to look for one to shed.
_FULL_RETRY = 0.1


class _StreamTransport:
    """A :class:`~crosswind.protocol.transport.Transport` over a trio stream.

    :param nursery: where the disconnect watcher runs.
    """

    __slots__ = (
        "_close_callback",
        "_closed",
        "_eof",
        "_held",
        "_nursery",
        "_receive_scope",
        "_stop_waiting",
        "_tasks",
        "_watcher",
        "driver",
        "info",
        "stream",
    )

    def __init__(
        self, stream: trio.abc.Stream, info: ConnectionInfo, nursery: trio.Nursery
    ) -> None:
        self.stream = stream
        self.info = info
        self.driver: Driver | None = None
        self._nursery = nursery
        self._closed = False
        self._eof = False
        self._held: list[bytes] = []  # what the watcher read, for the next receive
        self._receive_scope: trio.CancelScope | None = None
        self._stop_waiting: Callable[[Driver], bool] | None = None
        self._watcher: _Watcher | None = None
        self._close_callback: Callable[[], None] | None = None
        self._tasks: set[trio.CancelScope] | None = None  # an HTTP/2 connection's streams

    async def receive(self, deadline: float | None) -> bytes:
        if self._watcher is not None:
            await self._stop_watching()
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            return data
        if self._eof:
            return b""
        if self._wait_ends():
            deadline = trio.current_time()  # only bytes already here are still taken
        if deadline is not None:
            # A deadline already past would cancel the read before it looks:
            # this one still takes the bytes already here.
            deadline = max(deadline, trio.current_time() + _LAST_LOOK)
        scope = self._receive_scope = trio.CancelScope(
            deadline=math.inf if deadline is None else deadline
        )
        # trio types a TLS stream's read as bytes or bytearray; bytes() returns
        # bytes as they are, uncopied.
        try:
            with scope:
                return bytes(await self.stream.receive_some(_RECEIVE_SIZE))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""
        finally:
            self._receive_scope = None
        raise TimeoutError

    def stop_waiting(self, condition: Callable[[Driver], bool]) -> None:
        """End the wait for a request while *condition* holds for the driver, now or later.

        As the asyncio backend's: the pending or next receive raises
        :class:`TimeoutError` unless bytes have come.
        """
        self._stop_waiting = condition
        scope = self._receive_scope
        if scope is not None and self._wait_ends():
            scope.cancel()

    def _wait_ends(self) -> bool:
        condition, driver = self._stop_waiting, self.driver
        return condition is not None and driver is not None and condition(driver)

    async def send(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed("connection lost") from exc

    async def send_eof(self) -> None:
        """Shut down the sending side, where the stream can (TLS cannot)."""
        stream = self.stream
        if isinstance(stream, trio.abc.HalfCloseableStream):
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_eof()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_callback = None
        watcher = self._watcher
        if watcher is not None:
            watcher.scope.cancel()
        # aclose() closes the stream even when cancelled or timed out; the
        # grace period only bounds the polite part (TLS close_notify).
        with trio.move_on_after(_CLOSE_GRACE):
            await self.stream.aclose()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self._close_callback = callback
        if callback is not None and self._watcher is None and not self._closed:
            watcher = self._watcher = _Watcher()
            self._nursery.start_soon(self._watch, watcher)

    async def _watch(self, watcher: _Watcher) -> None:
        """Read while the application waits, until the peer closes or the driver reads."""
        try:
            with watcher.scope:
                while not self._eof and sum(map(len, self._held)) < _RECEIVE_SIZE:
                    try:
                        data = bytes(await self.stream.receive_some(_RECEIVE_SIZE))
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        data = b""
                    if data:
                        self._held.append(data)
                    else:
                        self._eof = True
                        callback, self._close_callback = self._close_callback, None
                        if callback is not None and not self._closed:
                            callback()
        finally:
            watcher.done.set()

    async def _stop_watching(self) -> None:
        watcher = self._watcher
        assert watcher is not None
        watcher.scope.cancel()
        await watcher.done.wait()
        self._watcher = None


    # -- crosswind.protocol.transport.Concurrency (HTTP/2) --------------------

    def start_soon(self, async_fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``async_fn()`` in the server's nursery, cancelled with the connection."""
        if self._tasks is None:
            self._tasks = set()
        self._nursery.start_soon(self._run_task, async_fn)

    async def _run_task(self, async_fn: Callable[[], Awaitable[None]]) -> None:
        tasks = self._tasks
        assert tasks is not None
        scope = trio.CancelScope()
        tasks.add(scope)
        try:
            with scope:
                await async_fn()
        except Exception:
            server_log.exception("error serving a stream")
        finally:
            tasks.discard(scope)

    def new_signal(self) -> trio.Event:
        return trio.Event()

    def cancel_tasks(self) -> None:
        """Cancel the tasks :meth:`start_soon` started that are still running."""
        for scope in list(self._tasks or ()):
            scope.cancel()


class _Watcher:
    """A task reading on the driver's behalf (see :meth:`_StreamTransport.set_close_callback`)."""

    __slots__ = ("done", "scope")

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.done = trio.Event()


class _Connection:
    """What shutdown needs to know about one connection task."""

    __slots__ = ("driver", "scope", "transport")

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.driver: Driver | None = None
        self.transport: _StreamTransport | None = None


class TrioServer(Server[_Connection]):
    """A listening server; run it with ``await server.run()`` inside trio.

    :param app: the application.
    :param sock: a bound, listening standard-library socket (see
        :func:`~crosswind.backends._common.bind_socket`); the server owns it.
    :param settings: ``ssl_context``, ``limits`` (``max_connections`` bounds
        accepting), ``shutdown_timeout``, ``engine`` and ``access_log``, as
        for :func:`serve`.
    """

    def __init__(self, app: Application, sock: socket.socket, **settings: Any) -> None:
        super().__init__(app, sock, **settings)
        self._listener = trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        self._slots = trio.CapacityLimiter(self.limits.max_connections)
        self._client_kind = (sock.family, sock.type, sock.proto)
        self._accepting = trio.CancelScope()
        self._stop = trio.Event()
        self._all_closed = trio.Event()
        self._finished = trio.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None  # the connections' nursery, while running

    def request_shutdown(self) -> None:
        """Start a graceful shutdown; callable from any thread, or from trio itself."""
        token = self._token
        if token is None:
            raise RuntimeError("the server is not running")
        # A run that already finished has nothing left to shut down.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(self._stop.set)

    async def shutdown(self) -> None:
        """Shut down gracefully and wait until the server has stopped (from inside trio)."""
        self._stop.set()
        await self._finished.wait()

    async def wait_closed(self) -> None:
        """Wait until a shutdown has completed, without starting one."""
        await self._finished.wait()

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until :meth:`request_shutdown`, then shut down gracefully.

        Works with ``nursery.start(server.run)``: it reports started once
        accepting.
        """
        self._token = trio.lowlevel.current_trio_token()
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._accept_loop, nursery)
                task_status.started(self)
                await self._stop.wait()
                await self.drain()
        finally:
            await self._listener.aclose()
            self._finished.set()

    async def _accept_loop(self, nursery: trio.Nursery) -> None:
        with self._accepting:
            while True:
                borrower = object()
                while not await self._take_slot(borrower):
                    pass
                try:
                    stream = await self._listener.accept()
                except trio.ClosedResourceError:
                    # Shutdown closed the listener before this task saw the
                    # cancellation: accepting is over, the connections are not.
                    self._slots.release_on_behalf_of(borrower)
                    return
                except OSError as exc:  # EMFILE and friends: back off, keep serving
                    self._slots.release_on_behalf_of(borrower)
                    server_log.warning("accept failed: %s", exc)
                    await trio.sleep(0.1)
                    continue
                except BaseException:
                    self._slots.release_on_behalf_of(borrower)
                    raise
                self._start(stream, borrower, nursery)
                self._accept_waiting(nursery)

    def _accept_waiting(self, nursery: trio.Nursery) -> None:
        """Accept every client the backlog holds, up to the free slots, without yielding.

        One client per scheduler pass left a burst of clients in the backlog
        while every connection already accepted had a turn for each of them
        (see ``bench/NOTES.md``).  The batch is bounded by the free slots, and
        the connections already served run once in the next pass, as before.
        """
        slots, sock, kind = self._slots, self.sock, self._client_kind
        while slots.available_tokens:
            try:
                # socket.accept() without its wrapper, which looks the family
                # and type up as enums again for every client.
                fd = sock._accept()[0]  # type: ignore[attr-defined]
            except OSError:
                # Nobody waiting, or an error that the awaited accept in the
                # loop sorts into skipped, backed off from, or the end.
                return
            client = trio.socket.from_stdlib_socket(socket.socket(*kind, fileno=fd))
            borrower = object()
            slots.acquire_on_behalf_of_nowait(borrower)
            self._start(trio.SocketStream(client), borrower, nursery)

    def _start(self, stream: trio.SocketStream, borrower: object, nursery: trio.Nursery) -> None:
        connection = _Connection()
        self.connections.add(connection)
        nursery.start_soon(self._serve_connection, stream, connection, borrower, nursery)

    async def _take_slot(self, borrower: object) -> bool:
        """Take a connection slot for the next client; ``False`` to try again.

        With every slot taken, once a client waits, the first connection in
        line to be shed is closed; when none may be, it looks again shortly,
        as one soon may.
        """
        slots = self._slots
        if slots.available_tokens:
            # Without the checkpoint of acquire_on_behalf_of: the accept that
            # follows is one, and a pass saved is a pass sooner for a burst.
            slots.acquire_on_behalf_of_nowait(borrower)
            return True
        await trio.lowlevel.wait_readable(self._listener.socket)
        victim = self.first_to_shed()
        if victim is None or victim.transport is None:
            with trio.move_on_after(_FULL_RETRY):
                await slots.acquire_on_behalf_of(borrower)
                return True
            return False
        server_log.debug("all connection slots taken: shedding %s", victim.transport.info.peer)
        victim.transport.stop_waiting(is_sheddable)
        await slots.acquire_on_behalf_of(borrower)
        return True

    async def _serve_connection(
        self,
        stream: trio.SocketStream,
        connection: _Connection,
        borrower: object,
        nursery: trio.Nursery,
    ) -> None:
        try:
            with connection.scope:
                transport = await self._open(stream, nursery)
                if transport is None:
                    return
                connection.transport = transport
                driver = connection.driver = self.new_driver(transport, trio.current_time)
                transport.driver = driver
                await driver.run()
        except Exception:
            # A bug here must cost one connection, not the whole server.
            server_log.exception("error serving a connection")
        finally:
            # Cancelled before the driver could close it (shutdown, or a
            # failed handshake): make sure the socket goes.
            transport = connection.transport
            if transport is not None:
                transport.driver = None  # freed with the connection, not by the cycle collector
                transport.cancel_tasks()
                if transport._watcher is not None:
                    transport._watcher.scope.cancel()
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            self.connections.discard(connection)
            self._slots.release_on_behalf_of(borrower)
            if self._stopping and not self.connections:
                self._all_closed.set()

    async def _open(
        self, stream: trio.SocketStream, nursery: trio.Nursery
    ) -> _StreamTransport | None:
        sock = stream.socket
        try:
            peer, local = peer_name(sock.getpeername()), peer_name(sock.getsockname())
        except OSError:
            return None  # the client already left
        if self.ssl_context is None:
            return _StreamTransport(stream, ConnectionInfo(peer=peer, local=local), nursery)
        tls_stream = trio.SSLStream(
            stream, self.ssl_context, server_side=True, https_compatible=True
        )
        with trio.move_on_after(self.limits.header_timeout) as scope:
            try:
                await tls_stream.do_handshake()
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                server_log.debug("TLS handshake with %s failed: %s", peer, exc.__cause__ or exc)
                return None
        if scope.cancelled_caught:
            server_log.debug("TLS handshake with %s timed out", peer)
            return None
        # SSLStream forwards version(), cipher() etc. to its SSL object.
        info = ConnectionInfo(peer=peer, local=local, tls=tls_info(tls_stream))  # type: ignore[arg-type]
        return _StreamTransport(tls_stream, info, nursery)

    # -- the runtime's part of drain() ----------------------------------------

    async def _stop_accepting(self) -> None:
        self._accepting.cancel()
        if self._nursery is not None:
            # The clients already in the backlog connected before the
            # shutdown, and may have sent their request: a closed listener
            # would reset them, so they are taken in and served like the others.
            self._accept_waiting(self._nursery)
        # Closing the listener turns new clients away at once, instead of
        # leaving them in a backlog nobody will accept from.
        await self._listener.aclose()

    async def _settle(self) -> None:
        # Each checkpoint lets trio poll for I/O and run the tasks it woke.
        for _ in range(2):
            await trio.sleep(0)

    async def _close_idle(self, connection: _Connection) -> None:
        if connection.transport is None or connection.driver is None:
            connection.scope.cancel()  # still in its TLS handshake
        else:
            connection.transport.stop_waiting(is_idle)

    async def _wait_closed(self, timeout: float) -> bool:
        if self.connections:
            with trio.move_on_after(timeout):
                await self._all_closed.wait()
        return not self.connections

    async def _cut(self, connections: list[_Connection]) -> None:
        for connection in connections:
            connection.scope.cancel()


class _Trio(Runtime[TrioServer]):
    name = "trio"

    def run(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        trio.run(main)

    @contextlib.asynccontextmanager
    async def serving(
        self, app: Application, sock: socket.socket, options: ServeOptions
    ) -> AsyncIterator[TrioServer]:
        async with trio.open_nursery() as nursery:
            server = TrioServer.from_options(app, sock, options)
            await nursery.start(server.run)
            yield server

    async def serve_until_shutdown(self, server: TrioServer) -> None:
        await server.wait_closed()


async def start_server(
    app: Application,
    host: str = "127.0.0.1",
    port: int = 8888,
    *,
    nursery: trio.Nursery,
    ssl_context: ssl.SSLContext | None = None,
    unix_socket: str | None = None,
    reuse_port: bool = False,
    limits: Limits | None = None,
    shutdown_timeout: float = 30.0,
    engine: str | None = None,
    access_log: AccessLog | None = None,
    sock: socket.socket | None = None,
    server_header: bool = True,
    date_header: bool = True,
    proxy_headers: bool | None = None,
    forwarded_allow_ips: str | Sequence[str] | None = None,
    root_path: str = "",
    http2: bool = False,
) -> TrioServer:
    """Start serving in *nursery*; ``await server.shutdown()`` stops it gracefully.

    :param nursery: the nursery the server runs in; it stays open until the
        server has shut down.
    :param sock: an already listening socket to use instead of binding one.

    Other parameters are those of :func:`serve`.
    """
    options = ServeOptions(
        ssl_context=ssl_context, unix_socket=unix_socket, reuse_port=reuse_port,
        limits=limits or Limits(), shutdown_timeout=shutdown_timeout, engine=engine,
        access_log=access_log, sock=sock, server_header=server_header,
        date_header=date_header,
        proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path, http2=http2,
    )
    server = TrioServer.from_options(app, options.listen(host, port), options)
    await nursery.start(server.run)
    announce(server.sock, "trio", ssl_context is not None)
    return server


def serve(
    app: Application,
    host: str = "127.0.0.1",
    port: int = 8888,
    *,
    started: Callable[[ServerHandle], None] | None = None,
    handle_signals: bool = True,
    **options: Any,
) -> None:
    """Serve *app* until SIGINT/SIGTERM (or ``handle.shutdown()``), then shut down gracefully.

    :param app: the application.
    :param host: address to listen on.
    :param port: port to listen on; ``0`` picks a free one (see the handle).
    :param started: called with a :class:`ServerHandle` once listening.
    :param handle_signals: turn SIGINT/SIGTERM into a graceful shutdown
        (only possible in the main thread; elsewhere it is skipped).
    :param options: ``ssl_context``, ``unix_socket``, ``reuse_port``,
        ``limits``, ``shutdown_timeout``, ``engine``, ``access_log``, ``sock``,
        ``server_header``, ``proxy_headers``, ``forwarded_allow_ips``,
        ``root_path`` as for :func:`start_server`.
    """
    serve_with(
        _Trio(), app, host, port, started=started, handle_signals=handle_signals,
        options=options,
    )
