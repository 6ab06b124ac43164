"""The asyncio backend: ``asyncio.Protocol`` transports driving the shared driver.

Built on protocols rather than streams: a request costs one future and one
``transport.write``.  Response bytes are held back until the event loop's
current turn ends and written then, every connection's together (a response
built from several pieces costs one ``writelines``): the client then wakes
once for all the responses of a turn, not once for each.  A connection
writes at once when 64 KiB wait; one that closes with bytes held back
closes once they are written.  Clients are accepted in the
listening socket's readiness callback, all those waiting at once.  When a client arrives with every
``Limits.max_connections`` slot taken, one connection that holds its
slot without using it is closed to make room (``Server.first_to_shed``);
when none does, the callback is unregistered and new clients wait in the
kernel's backlog instead of in memory.  Each connection is one task, setting it up then
running its driver.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, cast

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

__all__ = ["serve", "start_server"]

# Stop reading from a client that sends faster than the application consumes.
_READ_HIGH_WATER = 256 * 1024
# Write held-back response pieces once this much waits, whatever comes next.
_CORK_LIMIT = 64 * 1024
_NO_INFO = ConnectionInfo()
# Bounds of the interval at which the server checks connection deadlines.
_MIN_TICK = 0.01
_MAX_TICK = 1.0
# With every connection slot busy, how often to look for one to shed.
_FULL_RETRY = 0.1


async def _ready(data: bytes) -> bytes:
    return data


async def _timed_out() -> bytes:
    raise TimeoutError


class _HeldWrites:
    """The connections holding bytes back, written together when the loop's turn ends."""

    __slots__ = ("_loop", "_protocols")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._protocols: list[_Protocol] = []

    def add(self, protocol: _Protocol) -> None:
        """Write *protocol*'s held-back bytes once the callbacks now running are done."""
        if not self._protocols:
            # call_soon from a callback runs in the loop's next turn, before the
            # callbacks of that turn's I/O events.
            self._loop.call_soon(self._write)
        self._protocols.append(protocol)

    def _write(self) -> None:
        protocols, self._protocols = self._protocols, []
        for protocol in protocols:
            protocol._write_pending()


class _Protocol(asyncio.Protocol):
    """One connection: buffers what arrives, hands it to the driver on request."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._loop = server.loop
        self._held_writes: _HeldWrites = server.held_writes
        self._transport: asyncio.Transport | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._eof = False
        self._waiter: asyncio.Future[bytes] | None = None
        self._deadline: float | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        self._pending: list[bytes] = []  # bytes held back until the loop's turn ends
        self._pending_size = 0
        self._close_when_written = False
        self._writing_paused = False
        self._reading_paused = False
        self._close_callback: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[None]] | None = None  # an HTTP/2 connection's streams
        self._stop_waiting: Callable[[Driver], bool] | None = None
        self.info = _NO_INFO  # until connection_made knows the addresses
        # The driver refers back to this protocol (its transport): the link
        # is cut when the connection is done, so that both are freed at once
        # instead of by the cyclic garbage collector, whose full collections
        # set the p99 of Connection: close traffic (see bench/NOTES.md).
        self.driver: Driver | None = None
        #: connection_made starts the driver's task (else _serve runs it).
        self.starts_task = False

    # -- asyncio.Protocol ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports have every method of
        # asyncio.Transport without deriving from it.
        self._transport = cast(asyncio.Transport, transport)
        self.info = ConnectionInfo(
            peer=peer_name(transport.get_extra_info("peername")),
            local=peer_name(transport.get_extra_info("sockname")),
            tls=tls_info(transport.get_extra_info("ssl_object")),
        )
        self._server.start_connection(self)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(data)
            return
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool | None:
        self._set_eof()
        # A client that leaves closes its side: tell an application waiting
        # without reading (a long poll) now, not at its next write.
        self._report_close()
        # Keep the write side open to finish a response (half-close); TLS
        # cannot half-close, and asyncio warns when asked to.
        return None if self.info.tls is not None else True

    @property
    def lost(self) -> bool:
        """No transport (any more): ``connection_lost`` has run, or ``connection_made`` not yet."""
        return self._transport is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.closing.discard(self)
        self._set_eof()
        write_waiter = self._write_waiter
        if write_waiter is not None and not write_waiter.done():
            write_waiter.set_exception(TransportClosed("connection lost"))
        self._transport = None
        self._report_close()

    def _report_close(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            callback()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _set_eof(self) -> None:
        self._eof = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(b"")

    # -- crosswind.protocol.transport.Transport --------------------------------

    def receive(self, deadline: float | None) -> Awaitable[bytes]:
        """The next bytes: a plain call that returns the future it waits on.

        Not a coroutine: awaiting the future directly spares a coroutine and
        a frame to resume for every request that waits for its bytes.
        """
        if self._chunks:
            data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
            self._chunks.clear()
            self._buffered = 0
            if self._reading_paused and self._transport is not None:
                self._reading_paused = False
                self._transport.resume_reading()
            return _ready(data)
        if self._eof:
            return _ready(b"")
        if self._stop_waiting is not None and self._wait_ends():
            return _timed_out()
        waiter = self._loop.create_future()
        self._waiter = waiter
        self._deadline = deadline
        # No timer of its own: the server's sweep checks the deadline (see
        # _Server._sweep).
        return waiter

    def stop_waiting(self, condition: Callable[[Driver], bool]) -> None:
        """End the wait for a request while *condition* holds for the driver, now or later.

        The pending receive, or the next one, raises :class:`TimeoutError`
        unless bytes have arrived; the driver then closes (or answers
        ``408`` to a partial head).  Used to close idle connections at
        shutdown and to shed the longest-waiting one when all slots are taken.
        """
        self._stop_waiting = condition
        waiter = self._waiter
        if waiter is not None and not waiter.done() and self._wait_ends():
            self._waiter = None
            waiter.set_exception(TimeoutError())

    def _wait_ends(self) -> bool:
        condition, driver = self._stop_waiting, self.driver
        return condition is not None and driver is not None and condition(driver)

    def check_deadline(self, now: float) -> None:
        """Fail the pending receive with TimeoutError if its deadline has passed.

        :param now: the time in the terms of the deadline given to receive().
        """
        waiter, deadline = self._waiter, self._deadline
        if waiter is not None and deadline is not None and deadline <= now and not waiter.done():
            self._waiter = None
            waiter.set_exception(TimeoutError())

    async def send(self, data: bytes) -> None:
        waiter = self.send_nowait(data)
        if waiter is not None:
            await waiter

    def send_nowait(self, data: bytes) -> Awaitable[None] | None:
        """Hold *data* back until the loop's turn ends (or 64 KiB wait), then write it.

        Returns an awaitable to wait on while the peer is slow to read.

        Writing every response at once woke the client once per response; held
        writes wake it once per turn (what that saves: ``bench/NOTES.md``).
        """
        transport = self._transport
        if transport is None or transport.is_closing():
            raise TransportClosed("connection closed")
        pending = self._pending
        if not pending:
            self._held_writes.add(self)
        pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _CORK_LIMIT:
            self._write_pending()
        return self._wait_writable() if self._writing_paused else None

    def _write_pending(self) -> None:
        pending = self._pending
        transport = self._transport
        if pending and transport is not None and not transport.is_closing():
            if len(pending) == 1:
                transport.write(pending[0])
            else:
                # Python 3.12+ sends the pieces with one sendmsg, no joined copy.
                transport.writelines(pending)
            if self._close_when_written:
                transport.close()
        pending.clear()
        self._pending_size = 0

    async def _wait_writable(self) -> None:
        waiter = self._loop.create_future()
        self._write_waiter = waiter
        try:
            await waiter
        finally:
            self._write_waiter = None

    async def close(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if self._pending:
                # Closed once the held bytes are written, with the other
                # connections' writes at the end of the turn (see send_nowait and
                # bench/NOTES.md).
                self._close_when_written = True
            else:
                transport.close()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self._close_callback = callback
        if callback is not None and self._eof:
            self._loop.call_soon(self._report_close)  # it left already

    async def send_eof(self) -> None:
        """Write what is held back, then shut down the sending side (not with TLS)."""
        self._write_pending()
        transport = self._transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            with contextlib.suppress(OSError):  # the peer is gone already
                transport.write_eof()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- crosswind.protocol.transport.Concurrency (HTTP/2) ------------------

    def start_soon(self, async_fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``async_fn()`` in a task of its own, held until it ends."""
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = set()
        task: asyncio.Task[None] = self._loop.create_task(async_fn())  # type: ignore[arg-type]
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def new_signal(self) -> asyncio.Event:
        return asyncio.Event()

    def cancel_tasks(self) -> None:
        """Cancel the tasks :meth:`start_soon` started that are still running."""
        for task in list(self._tasks or ()):
            task.cancel()


class _Server(Server[_Protocol]):
    """The listening socket, its connections and the deadline sweep, in the running loop."""

    def __init__(self, app: Application, sock: socket.socket, **settings: Any) -> None:
        super().__init__(app, sock, **settings)
        self.loop = asyncio.get_running_loop()
        self.held_writes = _HeldWrites(self.loop)
        self._active = 0  # accepted clients not yet done, set-up ones included
        self._reading = False  # the listening socket is registered with the loop
        self._backoff: asyncio.TimerHandle | None = None
        self._closed = asyncio.Event()  # set once no connection is left during a shutdown
        self._finished = asyncio.Event()  # set once a shutdown has completed
        self._shutdown_task: asyncio.Task[None] | None = None
        # Done with, but their transport still closing: a TLS close waits for
        # the peer's close_notify, which a client that stays connected never sends.
        self.closing: set[_Protocol] = set()
        self._client_kind = (sock.family, sock.type, sock.proto)
        limits = self.limits
        # How often deadlines are checked: an eighth of the shortest timeout,
        # between 10 ms and 1 s.
        self._tick = max(
            _MIN_TICK,
            min(_MAX_TICK, min(limits.idle_timeout, limits.header_timeout, limits.body_timeout) / 8),
        )
        self._sweeper: asyncio.TimerHandle | None = None
        # The loop's clock, which deadlines are armed in.  The standard loop's
        # time() is time.monotonic() behind a method call: the function itself
        # saves that call, three times per request.
        self.clock: Callable[[], float] = (
            time.monotonic
            if type(self.loop).time is asyncio.BaseEventLoop.time
            else self.loop.time
        )
        # The selector loop's own transport factory (what create_server uses),
        # when there is one and no TLS; otherwise connect_accepted_socket.
        self._make_transport: Callable[..., Any] | None = (
            None if self.ssl_context is not None
            else getattr(self.loop, "_make_socket_transport", None)
        )

    def start(self) -> None:
        self._resume_accepting()

    # -- accepting ---------------------------------------------------------
    #
    # The listening socket stays registered with the loop while accepting is
    # allowed, and clients are accepted in the readiness callback itself.  An
    # accept loop in a task that registered and unregistered a reader around
    # each wait cost two epoll_ctl calls, a future and a second task per
    # client (see bench/NOTES.md).
    # Nothing awaits between accept() and creating the task that serves the
    # client, so a shutdown cannot come in between and lose one.

    def _resume_accepting(self) -> None:
        # Registered even with every slot taken: a client arriving then is
        # what makes room for itself by shedding (see _accept_ready).
        if not self._reading and not self._stopping and self._backoff is None:
            self.loop.add_reader(self.sock.fileno(), self._accept_ready)
            self._reading = True

    def _pause_accepting(self) -> None:
        if self._reading:
            self.loop.remove_reader(self.sock.fileno())
            self._reading = False

    def _accept_ready(self) -> None:
        # Every client the backlog holds, up to the free slots, as asyncio's
        # own servers do: a few per turn left a burst of clients waiting in
        # the backlog for many turns of a busy loop (see bench/NOTES.md).
        limit = self.limits.max_connections
        accepted = 0
        while True:
            if self._active >= limit:
                if accepted:
                    # Whether another client waits is known only when the
                    # socket is next reported readable: stay registered.
                    return
                # A client waits and every slot is taken: shed a connection
                # that holds its slot without using it, if any, and accept
                # once it is gone; meanwhile clients wait in the backlog.
                self._pause_accepting()
                victim = self.first_to_shed()
                if victim is not None:
                    server_log.debug("all %d connection slots taken: shedding %s",
                                     limit, victim.info.peer)
                    victim.stop_waiting(is_sheddable)
                else:
                    # All busy with requests; one may soon wait between
                    # requests without closing, so look again shortly.
                    self._backoff = self.loop.call_later(_FULL_RETRY, self._end_backoff)
                return
            try:
                # socket.accept() without its wrapper, which looks the family and
                # type up as enums again for every client.
                fd = self.sock._accept()[0]  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: back off, keep serving
                server_log.warning("accept failed: %s", exc)
                self._pause_accepting()
                self._backoff = self.loop.call_later(0.1, self._end_backoff)
                return
            client = socket.socket(*self._client_kind, fileno=fd)
            self._active += 1
            accepted += 1
            # (asyncio's transport sets TCP_NODELAY itself.)
            make_transport = self._make_transport
            if make_transport is None:
                self.loop.create_task(self._serve(client))
                continue
            # Plain TCP: the transport is made here and the driver's task starts
            # in connection_made, without connect_accepted_socket's coroutine,
            # waiter future and the two task switches they cost per connection.
            client.setblocking(False)
            protocol = _Protocol(self)
            protocol.starts_task = True
            try:
                make_transport(client, protocol)
            except OSError as exc:
                server_log.debug("connection setup failed: %s", exc)
                client.close()
                self._connection_done(None)

    def _end_backoff(self) -> None:
        self._backoff = None
        self._resume_accepting()

    # -- connections -------------------------------------------------------

    async def _serve(self, client: socket.socket) -> None:
        """Set the connection up, then run its driver in this same task."""
        created: list[_Protocol] = []

        def protocol_factory() -> _Protocol:
            protocol = _Protocol(self)
            created.append(protocol)
            return protocol

        try:
            try:
                await self.loop.connect_accepted_socket(
                    protocol_factory, client, ssl=self.ssl_context,
                    ssl_handshake_timeout=self.limits.header_timeout if self.ssl_context else None,
                )
            except (OSError, ssl.SSLError, TimeoutError) as exc:
                server_log.debug("connection setup failed: %s", exc)
                client.close()
                return
            driver = created[0].driver
            if driver is not None:
                await driver.run()
        finally:
            self._connection_done(created[0] if created else None)

    # -- deadlines ---------------------------------------------------------
    #
    # One timer for the whole server instead of one per connection: it checks
    # every connection waiting for bytes each tick, cheaper than a call_at and a
    # cancel per connection (see bench/NOTES.md); a deadline now fires up to one
    # tick late.

    def _start_sweeping(self) -> None:
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(self._tick, self._sweep)

    def _sweep(self) -> None:
        self._sweeper = None
        now = self.clock()
        for protocol in self.connections:
            protocol.check_deadline(now)
        if self.connections:
            self._start_sweeping()

    def start_connection(self, protocol: _Protocol) -> None:
        driver = self.new_driver(protocol, self.clock)
        protocol.driver = driver
        self.connections.add(protocol)
        self._start_sweeping()
        if protocol.starts_task:
            self.loop.create_task(self._run(protocol, driver))

    async def _run(self, protocol: _Protocol, driver: Driver) -> None:
        """Serve a connection whose transport _accept_ready made."""
        try:
            await driver.run()
        finally:
            self._connection_done(protocol)

    def _connection_done(self, protocol: _Protocol | None) -> None:
        if protocol is not None:
            self.connections.discard(protocol)
            protocol.driver = None  # see _Protocol.driver
            if protocol.info.tls is not None and not protocol.lost:
                self.closing.add(protocol)
        self._active -= 1
        self._resume_accepting()
        if self._stopping and not self.connections:
            self._closed.set()

    # -- shutting down -----------------------------------------------------

    def request_shutdown(self) -> None:
        """Start a graceful shutdown; callable from any thread and from a signal handler."""
        # After the loop has closed there is nothing left to stop.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._shutdown_soon)

    def _shutdown_soon(self) -> None:
        if self._shutdown_task is None and not self._stopping:
            self._shutdown_task = self.loop.create_task(self.shutdown())

    async def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish, then close."""
        if self._stopping:
            await self._finished.wait()
            return
        try:
            await self.drain()
            # Transports finish closing (and close their sockets) in callbacks
            # of the next turns; let them run before the loop may end.
            await self._settle()
            # A TLS transport still waiting for its peer's close_notify would
            # outlive the loop with its socket open: the server is done with it.
            for protocol in list(self.closing):
                protocol.abort()
            if self.closing:
                await self._settle()
        finally:
            self._finished.set()

    async def wait_closed(self) -> None:
        """Wait until a shutdown, requested or awaited, has completed."""
        await self._finished.wait()
        if self._shutdown_task is not None:
            await self._shutdown_task  # raises what the shutdown raised

    def close_listener(self) -> None:
        """Stop accepting and close the listening socket."""
        self._pause_accepting()
        if self._backoff is not None:
            self._backoff.cancel()
            self._backoff = None
        self.sock.close()

    async def _stop_accepting(self) -> None:
        if self._reading:
            # The clients already in the backlog connected before the
            # shutdown, and may have sent their request: a closed listener
            # would reset them, so they are taken in and served like the others.
            self._accept_ready()
        self.close_listener()

    async def _settle(self) -> None:
        # Two turns of the loop: in the first, the readiness of sockets with
        # data is polled and their callbacks queued behind this task; in the
        # second, those callbacks have run.
        for _ in range(2):
            await asyncio.sleep(0)

    async def _close_idle(self, connection: _Protocol) -> None:
        if connection.driver is None:
            await connection.close()
        else:
            connection.stop_waiting(is_idle)

    async def _wait_closed(self, timeout: float) -> bool:
        if self.connections:
            try:
                await asyncio.wait_for(self._closed.wait(), timeout)
            except TimeoutError:
                return False
        return True

    async def _cut(self, connections: list[_Protocol]) -> None:
        for protocol in connections:
            protocol.abort()
            protocol.cancel_tasks()


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop *name* stands for: ``asyncio``'s own (``None``) or ``uvloop``'s."""
    if name == "asyncio":
        return None
    if name != "uvloop":
        raise ValueError(f"unknown event loop {name!r}: choose asyncio or uvloop")
    try:
        import uvloop
    except ImportError:
        raise RuntimeError(
            "the uvloop event loop needs the uvloop package: pip install 'crosswind[uvloop]'"
        ) from None
    new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return new_loop


class _Asyncio(Runtime[_Server]):
    name = "asyncio"

    def __init__(self, loop: str = "asyncio") -> None:
        self._new_loop = _loop_factory(loop)

    def run(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        with asyncio.Runner(loop_factory=self._new_loop) as runner:
            runner.run(main())

    @contextlib.asynccontextmanager
    async def serving(
        self, app: Application, sock: socket.socket, options: ServeOptions
    ) -> AsyncIterator[_Server]:
        server = _Server.from_options(app, sock, options)
        server.start()
        try:
            yield server
        finally:
            server.close_listener()

    async def serve_until_shutdown(self, server: _Server) -> None:
        await server.wait_closed()


async def start_server(
    app: Application,
    host: str = "127.0.0.1",
    port: int = 8888,
    *,
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
) -> _Server:
    """Start serving in the running loop; ``await server.shutdown()`` to stop."""
    options = ServeOptions(
        ssl_context=ssl_context, unix_socket=unix_socket, reuse_port=reuse_port,
        limits=limits or Limits(), shutdown_timeout=shutdown_timeout, engine=engine,
        access_log=access_log, sock=sock, server_header=server_header,
        date_header=date_header,
        proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips,
        root_path=root_path, http2=http2,
    )
    server = _Server.from_options(app, options.listen(host, port), options)
    server.start()
    announce(server.sock, "asyncio", ssl_context is not None)
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

    Options are those of :func:`start_server`, and ``loop``: ``"asyncio"``
    (the default) or ``"uvloop"``, which needs the ``uvloop`` extra.
    """
    # Taken out here, so every backend's serve keeps one signature.
    runtime = _Asyncio(options.pop("loop", "asyncio"))
    serve_with(
        runtime, app, host, port, started=started, handle_signals=handle_signals,
        options=options,
    )
