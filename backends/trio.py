"""The trio backend: one task per connection in one nursery per server.

Deadlines are in trio's own clock (``trio.current_time``), which is the
clock handed to the driver, so a deadline from the connection arms
``trio.move_on_at`` directly.  Accepting waits on a
:class:`trio.CapacityLimiter` first, so past ``Limits.max_connections`` new
clients wait in the kernel's backlog instead of in memory.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import trio
from crosswind.protocol.driver import AccessLog, ConnectionDriver
from crosswind.protocol.exchange import Application
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo, TransportClosed

from ._common import ServerHandle, announce, peer_name, server_log, tls_info
from ._serve import Runtime, ServeOptions, Server, serve_with

__all__ = ["TrioServer", "serve", "start_server"]

_RECEIVE_SIZE = 64 * 1024
# A graceful TLS close sends close_notify; a peer that stopped reading must
# not hold the task up for longer than this.
_CLOSE_GRACE = 1.0


class _StreamTransport:
    """A :class:`~crosswind.protocol.transport.Transport` over a trio stream."""

    __slots__ = ("_closed", "info", "stream")

    def __init__(self, stream: trio.abc.Stream, info: ConnectionInfo) -> None:
        self.stream = stream
        self.info = info
        self._closed = False

    async def receive(self, deadline: float | None) -> bytes:
        # trio types a TLS stream's read as bytes or bytearray; bytes() returns
        # bytes as they are, uncopied.
        try:
            if deadline is None:
                return bytes(await self.stream.receive_some(_RECEIVE_SIZE))
            with trio.move_on_at(deadline):
                return bytes(await self.stream.receive_some(_RECEIVE_SIZE))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""
        raise TimeoutError

    async def send(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise TransportClosed("connection lost") from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # aclose() closes the stream even when cancelled or timed out; the
        # grace period only bounds the polite part (TLS close_notify).
        with trio.move_on_after(_CLOSE_GRACE):
            await self.stream.aclose()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        # Trio reports a disconnect only to a reader; the driver reads
        # whenever the application does, which is when it can act on it.
        pass


class _Connection:
    """What shutdown needs to know about one connection task."""

    __slots__ = ("driver", "scope")

    def __init__(self) -> None:
        self.scope = trio.CancelScope()
        self.driver: ConnectionDriver | None = None


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
        self._accepting = trio.CancelScope()
        self._stop = trio.Event()
        self._all_closed = trio.Event()
        self._finished = trio.Event()
        self._token: trio.lowlevel.TrioToken | None = None

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
                await self._slots.acquire_on_behalf_of(borrower)
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
                connection = _Connection()
                self.connections.add(connection)
                nursery.start_soon(self._serve_connection, stream, connection, borrower)

    async def _serve_connection(
        self, stream: trio.SocketStream, connection: _Connection, borrower: object
    ) -> None:
        try:
            with connection.scope:
                transport = await self._open(stream)
                if transport is None:
                    return
                driver = connection.driver = self.new_driver(transport, trio.current_time)
                await driver.run()
        except Exception:
            # A bug here must cost one connection, not the whole server.
            server_log.exception("error serving a connection")
        finally:
            # Cancelled before the driver could close it (shutdown, or a
            # failed handshake): make sure the socket goes.
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            self.connections.discard(connection)
            self._slots.release_on_behalf_of(borrower)
            if self._stopping and not self.connections:
                self._all_closed.set()

    async def _open(self, stream: trio.SocketStream) -> _StreamTransport | None:
        sock = stream.socket
        try:
            peer, local = peer_name(sock.getpeername()), peer_name(sock.getsockname())
        except OSError:
            return None  # the client already left
        if self.ssl_context is None:
            return _StreamTransport(stream, ConnectionInfo(peer=peer, local=local))
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
        return _StreamTransport(tls_stream, info)

    # -- the runtime's part of drain() ----------------------------------------

    async def _stop_accepting(self) -> None:
        self._accepting.cancel()
        # Closing the listener turns new clients away at once, instead of
        # leaving them in a backlog nobody will accept from.
        await self._listener.aclose()

    async def _close_idle(self, connection: _Connection) -> None:
        connection.scope.cancel()

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
        access_log=access_log, sock=sock,
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
        ``limits``, ``shutdown_timeout``, ``engine``, ``access_log``, ``sock``
        as for :func:`start_server`.
    """
    serve_with(
        _Trio(), app, host, port, started=started, handle_signals=handle_signals,
        options=options,
    )
