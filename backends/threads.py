"""The threaded backend: blocking sockets, one pooled worker thread per connection.

Each connection's driver runs in a worker thread without an event loop (see
:func:`crosswind._sync.run_sync`): the transport blocks instead of
suspending, so the driver's coroutines complete in one step, and ``async``
handlers work as long as they await only crosswind's own awaitables.

At most ``Limits.max_connections`` workers exist.  When a client arrives
with every slot taken, one connection that holds its slot without using it
is closed to make room (``Server.first_to_shed``); when none does, the accept
loop waits for a free one *before* it accepts, so excess clients wait in
the kernel's backlog rather than in memory.  Deadlines are
``time.monotonic`` seconds, the clock handed to the driver.

A worker blocked in an application that waits for its client to go away
(``add_close_callback``) cannot read; one watcher thread polls such
connections instead and reports the end of the stream at once.

This backend speaks HTTP/1.1 only.  HTTP/2 multiplexes streams over one
connection, so it needs the streams' applications to run while one reader
takes frames in; here that would be a thread per stream beside the
connection's worker, each blocking on the others through locks, outside
``Limits.max_connections``' bound on threads, and a handler waiting for
flow control would hold a whole thread.  The asyncio and trio backends
serve HTTP/2; on this one ``http2=True`` is refused, and a TLS context it is
given offers ``http/1.1`` alone over ALPN (it is changed in place), so no
client ever chooses ``h2`` here.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import select
import selectors
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from crosswind._sync import EventLoopRequired, run_sync
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

__all__ = ["ThreadedServer", "serve", "start_server"]

_RECEIVE_SIZE = 64 * 1024
# Plain sockets are read and written through their descriptor on POSIX: a socket
# with a timeout polls before every recv() and send(), and this backend has
# polled already (reads) or needs no poll unless the kernel's buffer is full
# (writes).  One system call less each way (see bench/NOTES.md).
_DIRECT_IO = os.name == "posix"
# Idle workers linger this long for the next connection before exiting.
_WORKER_IDLE = 30.0
# After the shutdown timeout, connections are cut; their workers get this
# long to notice before the server stops waiting for them.  A worker still
# busy in application code after it is left behind (it is a daemon thread).
_CUT_GRACE = 0.25
# With every connection slot busy, how often to look for one to shed.
_FULL_RETRY = 0.1
# A failing accept() (out of file descriptors, say) is retried after this pause.
_ACCEPT_RETRY_DELAY = 0.1


class _SocketTransport:
    """One connection: a :class:`~crosswind.protocol.transport.Transport` over a blocking socket.

    The accept thread may interrupt it (``shutdown``) while a worker uses
    it; the lock keeps that from hitting a file descriptor the worker has
    already closed and the kernel has handed to a new connection.  The lock
    also marks when the worker is blocked in ``recv``, which is when the
    driver's state can be read from another thread.
    """

    __slots__ = (
        "_closed",
        "_lock",
        "_receiving",
        "_stop_waiting",
        "_watcher",
        "driver",
        "info",
        "send_lock",
        "send_timeout",
        "sock",
    )

    #: Reads block the worker thread (see ``Exchange.reads_block``).
    blocking = True

    def __init__(
        self, sock: socket.socket, send_timeout: float, watcher: _DisconnectWatcher
    ) -> None:
        self.sock = sock
        self.send_timeout = send_timeout
        self.info = ConnectionInfo()
        self.driver: Driver | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._receiving = False
        self._stop_waiting: Callable[[Driver], bool] | None = None
        self._watcher = watcher
        #: Held by each send, so that threads sending on one connection at once
        #: (a WebSocket broadcast) do not interleave their bytes; re-entrant, for
        #: a caller that holds it around making the bytes too (the WebSocket
        #: session, to keep frames in the order they were compressed).
        self.send_lock = threading.RLock()

    async def receive(self, deadline: float | None) -> bytes:
        sock = self.sock
        with self._lock:
            if self._wait_ends():
                # Only bytes already here are still taken: a last look, no wait.
                deadline = time.monotonic()
            self._receiving = True
        try:
            data = self._read(sock, deadline)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            raise TimeoutError from None
        except OSError:  # reset, TLS failure, or shut down for a server shutdown
            data = b""
        finally:
            with self._lock:
                self._receiving = False
        if not data and self._wait_ends():
            raise TimeoutError  # the wait was ended on purpose, not by the peer
        return data

    def _read(self, sock: socket.socket, deadline: float | None) -> bytes:
        """Wait for bytes until *deadline*, then take them.

        The wait is a poll of the descriptor, not the socket's timeout: the
        timeout is the sending side's (:attr:`send_timeout`), set once, and
        stays so, because a WebSocket may be written by other threads while
        this one waits, and changing it here would change it under their
        writes (a past deadline's zero would fail them, "no deadline" would
        let them block forever).  A deadline already past still takes the
        bytes already here.
        """
        direct = _DIRECT_IO and type(sock) is socket.socket  # TLS reads go through ssl
        while True:
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                if not _ready(sock, wait):
                    raise TimeoutError
            try:
                if direct:
                    return os.read(sock.fileno(), _RECEIVE_SIZE)
                return sock.recv(_RECEIVE_SIZE)
            except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
                # Part of a TLS record: wait for the rest, within the deadline.
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def stop_waiting(self, condition: Callable[[Driver], bool]) -> None:
        """End the wait for a request while *condition* holds for the driver, now or later.

        As the asyncio backend's.  Called from the accept thread: a worker
        blocked in ``recv`` has its read side shut down, which ends the
        ``recv``; the driver's state is only read while the worker is
        blocked there (or under the lock, before it reads).
        """
        with self._lock:
            self._stop_waiting = condition
            if self._receiving and not self._closed and self._wait_ends():
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(self.sock, socket.SHUT_RD)

    def _wait_ends(self) -> bool:
        condition, driver = self._stop_waiting, self.driver
        return condition is not None and driver is not None and condition(driver)

    async def send(self, data: bytes) -> None:
        self.send_nowait(data)

    def send_nowait(self, data: bytes) -> None:
        """Send *data* with blocking writes (this backend's sends always finish here)."""
        sock = self.sock
        # send() in a loop rather than sendall(): sendall's timeout bounds the
        # whole call, while what matters is that the client keeps reading.
        try:
            with self.send_lock:
                view = memoryview(data)
                if _DIRECT_IO and type(sock) is socket.socket:
                    fd = sock.fileno()
                    while view:
                        try:
                            view = view[os.write(fd, view) :]
                        except BlockingIOError:
                            # The kernel's buffer is full: wait, as the socket's
                            # timeout would, for the client to read some.
                            if not _ready(sock, self.send_timeout, writing=True):
                                raise TimeoutError("the client stopped reading") from None
                else:
                    while view:
                        view = view[sock.send(view) :]
        except OSError as exc:
            raise TransportClosed("connection lost") from exc

    async def send_eof(self) -> None:
        """Shut down the sending side; not with TLS, which cannot half-close."""
        if not isinstance(self.sock, ssl.SSLSocket):
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)

    async def close(self) -> None:
        self._watcher.forget(self)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.sock.close()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        if callback is None:
            self._watcher.forget(self)
        else:
            self._watcher.watch(self, callback)

    def interrupt(self, how: int) -> None:
        """Make a blocked ``recv`` (``SHUT_RD``) or ``send`` (``SHUT_RDWR``) return."""
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(OSError):
                # socket.socket's own shutdown even for an SSLSocket: the
                # SSL one drops the SSL object a worker may be using.
                socket.socket.shutdown(self.sock, how)


class _DisconnectWatcher:
    """One thread that notices clients leaving while their workers are busy.

    A worker blocked in application code cannot read its socket.  While the
    application waits for a disconnect (``add_close_callback``), the socket
    is registered here; the watcher peeks at it when it becomes readable,
    without taking any bytes, and calls the callback at the end of the
    stream.  Bytes that arrive instead (a pipelined request) end the
    watching: the worker reads them when it comes back.  With TLS the peek
    sees encrypted records, so only the TCP end of the stream is noticed.

    Sockets are registered and unregistered by the threads that ask (epoll
    allows it while another thread waits), under the watcher's lock, and
    always before their transport closes, so a file descriptor the kernel
    reuses is never mistaken for the old one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._watched: dict[_SocketTransport, Callable[[], None]] = {}
        self._thread: threading.Thread | None = None
        self._stopped = False

    def watch(self, transport: _SocketTransport, callback: Callable[[], None]) -> None:
        with self._lock:
            if self._stopped or transport._closed:
                return
            if transport not in self._watched:
                try:
                    self._selector.register(
                        transport.sock.fileno(), selectors.EVENT_READ, transport
                    )
                except (OSError, ValueError, KeyError):
                    return
            self._watched[transport] = callback
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="crosswind-disconnects", daemon=True
                )
                self._thread.start()

    def forget(self, transport: _SocketTransport) -> Callable[[], None] | None:
        """Stop watching *transport*; its callback if it was watched."""
        with self._lock:
            callback = self._watched.pop(transport, None)
            if callback is not None and not self._stopped:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    self._selector.unregister(transport.sock.fileno())
            return callback

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            thread = self._thread
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if thread is not None:
            thread.join(_CUT_GRACE)
        else:
            self._close()

    def _run(self) -> None:
        try:
            while True:
                ready = self._selector.select()
                with self._lock:
                    if self._stopped:
                        return
                for key, _ in ready:
                    if key.fileobj is self._wake_r:
                        continue
                    self._check(key.data)
        finally:
            self._close()

    def _check(self, transport: _SocketTransport) -> None:
        with transport._lock:
            if transport._closed:
                return
            # The TCP socket itself, even under TLS: peek, take nothing.  Through
            # a second socket object on the same descriptor, one without a
            # timeout: the connection's own would first wait for readability
            # as long as its timeout, here while holding the lock, when the
            # worker has just taken the bytes that woke this check.
            try:
                peek = socket.socket(fileno=transport.sock.fileno())
            except OSError:
                return
            try:
                gone = not peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return  # woken for nothing: keep watching
            except OSError:  # reset
                gone = True
            finally:
                peek.detach()  # the descriptor stays the connection's
        # Either way this watch is over: bytes are for the worker to read.
        callback = self.forget(transport)
        if gone and callback is not None:
            try:
                callback()
            except Exception:
                server_log.exception("error in a close callback")

    def _close(self) -> None:
        with self._lock:
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()


class _WorkerPool:
    """Threads that each serve one connection at a time, started on demand."""

    def __init__(self, max_workers: int) -> None:
        self._max = max_workers
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._names = itertools.count(1)
        # Every queued job is claimed by a waiting worker or counted as
        # unclaimed; a worker that finishes takes an unclaimed one first.
        # Without this, a job queued while all workers were busy would count
        # against the next idle worker, and a later job would wait behind a
        # long keep-alive connection although a thread could be started.
        self._idle = 0  # waiting workers no queued job has claimed
        self._unclaimed = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self._max:
                thread = threading.Thread(
                    target=self._work, name=f"crosswind-worker-{next(self._names)}", daemon=True
                )
                self._threads.add(thread)
                thread.start()
            else:
                self._unclaimed += 1
        self._jobs.put(job)

    def _work(self) -> None:
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=_WORKER_IDLE)
                except queue.Empty:
                    with self._lock:
                        if self._idle:  # not claimed by a submit: leave
                            self._idle -= 1
                            return
                    continue  # claimed: its job is on the way
                if job is None:
                    return
                try:
                    job()
                except Exception:
                    server_log.exception("error in connection worker")
                with self._lock:
                    if self._unclaimed:
                        self._unclaimed -= 1
                    else:
                        self._idle += 1
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float) -> None:
        """Ask every worker to exit once its current job is done; wait up to *timeout*."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        end = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))


def _drive(coro: Coroutine[Any, Any, None]) -> None:
    """Run a driver coroutine in this thread (like :func:`crosswind._sync.run_sync`).

    When a handler awaits something that needs an event loop, the error is
    raised at that ``await``, so the driver answers ``500`` and logs where,
    instead of the connection just dropping.
    """
    try:
        coro.send(None)
    except StopIteration:
        return
    error = EventLoopRequired(
        "a handler awaited something that needs an event loop; "
        "serve it with the asyncio or trio backend"
    )
    try:
        coro.throw(error)
    except StopIteration:
        return
    coro.close()
    raise error


class ThreadedServer(Server[_SocketTransport]):
    """A listening server whose accept loop is :meth:`serve_forever`.

    :param app: the application.
    :param sock: a bound, listening socket (see
        :func:`~crosswind.backends._common.bind_socket`); the server owns it.
    :param settings: ``ssl_context``, ``limits``, ``shutdown_timeout``,
        ``engine`` and ``access_log``, as for :func:`serve`.
        ``limits.max_connections`` is also the most worker threads, and
        ``limits.body_timeout`` bounds how long a send may make no progress.
    """

    def __init__(self, app: Application, sock: socket.socket, **settings: Any) -> None:
        super().__init__(app, sock, **settings)
        if self.http2:
            sock.close()  # the server owns it, and will never serve on it
            raise ValueError("the threads backend serves HTTP/1.1 only: use asyncio or trio for HTTP/2")
        if self.ssl_context is not None:
            self.ssl_context.set_alpn_protocols(["http/1.1"])
        self._pool = _WorkerPool(self.limits.max_connections)
        # An RLock underneath: a signal handler may request a shutdown while
        # the interrupted main thread holds it.
        self._changed = threading.Condition(threading.RLock())
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._done = threading.Event()
        self._disconnects = _DisconnectWatcher()

    def request_shutdown(self) -> None:
        """Start a graceful shutdown; callable from any thread or a signal handler."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        with contextlib.suppress(OSError):  # full (already woken) or closed (already done)
            self._wake_w.send(b"\0")

    def shutdown(self, timeout: float | None = None) -> bool:
        """Request a shutdown and wait until it is complete.

        :param timeout: seconds to wait at most; ``None`` waits for as long
            as the shutdown takes.
        :returns: whether the server has stopped.
        """
        self.request_shutdown()
        return self._done.wait(timeout)

    def serve_forever(self) -> None:
        """Accept connections until a shutdown is requested, then shut down gracefully."""
        try:
            self._accept_loop()
            run_sync(self.drain())  # never suspends: its waits block
            self._pool.stop(_CUT_GRACE)
            self._disconnects.stop()
        finally:
            self.close()

    def close(self) -> None:
        """Release the listening socket; for a server whose loop never ran."""
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()
        self._done.set()

    def _accept_loop(self) -> None:
        max_connections = self.limits.max_connections
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = selector.select()
                if self._stopping:
                    return
                if not any(key.fileobj is self.sock for key, _ in ready):
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(64)
                    continue
                with self._changed:
                    if len(self.connections) >= max_connections:
                        # A client waits and every slot is taken: shed a
                        # connection that holds its slot without using it, if
                        # any, then wait for a slot, the client in the backlog.
                        # When none does, one soon may: look again shortly.
                        victim = self.first_to_shed()
                        if victim is not None:
                            server_log.debug("all %d connection slots taken: shedding %s",
                                             max_connections, victim.info.peer)
                            victim.stop_waiting(is_sheddable)
                        self._changed.wait_for(
                            lambda: len(self.connections) < max_connections or self._stopping,
                            _FULL_RETRY,
                        )
                        if len(self.connections) >= max_connections:
                            continue
                    if self._stopping:
                        return
                try:
                    client, address = self.sock.accept()
                except BlockingIOError:
                    continue  # another process sharing the socket took it
                except OSError as exc:  # EMFILE and friends: back off, keep serving
                    server_log.warning("accept failed: %s", exc)
                    time.sleep(_ACCEPT_RETRY_DELAY)
                    continue
                self._start(client, address)

    def _start(self, client: socket.socket, address: Any) -> None:
        if client.family != socket.AF_UNIX:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # For the connection's life: sends time out, reads wait by polling.
        client.settimeout(self.limits.body_timeout)
        transport = _SocketTransport(client, self.limits.body_timeout, self._disconnects)
        with self._changed:
            self.connections.add(transport)
        self._pool.submit(lambda: self._serve_connection(transport, address))

    def _serve_connection(self, transport: _SocketTransport, address: Any) -> None:
        try:
            if self._open(transport, address):
                # Under the lock, so that a shutdown sees either this driver
                # or, already stopping, the driver shuts itself down.
                with self._changed:
                    driver = transport.driver = self.new_driver(transport, time.monotonic)
                _drive(driver.run())
        finally:
            _close_now(transport)
            with self._changed:
                self.connections.discard(transport)
                # The driver refers back to the transport: cut the link so
                # both are freed now, not by the cyclic garbage collector.
                transport.driver = None
                self._changed.notify_all()

    def _open(self, transport: _SocketTransport, address: Any) -> bool:
        """Fill in the connection's facts, doing the TLS handshake; ``False`` to drop it."""
        sock = transport.sock
        try:
            local = peer_name(sock.getsockname())
        except OSError:
            return False
        peer = peer_name(address)
        if self.ssl_context is None:
            transport.info = ConnectionInfo(peer=peer, local=local)
            return True
        deadline = time.monotonic() + self.limits.header_timeout
        try:
            tls_sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        except OSError as exc:
            server_log.debug("TLS setup with %s failed: %s", peer, exc)
            return False
        with transport._lock:
            transport.sock = tls_sock
        try:
            _handshake(tls_sock, deadline, transport.send_timeout)
        except (OSError, ValueError) as exc:
            server_log.debug("TLS handshake with %s failed: %s", peer, exc)
            return False
        transport.info = ConnectionInfo(peer=peer, local=local, tls=tls_info(tls_sock))
        return True

    # -- the runtime's part of drain() ----------------------------------------

    def _snapshot(self) -> list[_SocketTransport]:
        with self._changed:
            return list(self.connections)

    async def _stop_accepting(self) -> None:
        # The clients already in the backlog connected before the shutdown,
        # and may have sent their request: closing the listener would reset
        # them, so they are taken in and served like the others.
        self._accept_waiting()
        # Closing the listener turns new clients away at once, instead of
        # leaving them in a backlog nobody will accept from.
        self.sock.close()

    def _accept_waiting(self) -> None:
        """Accept every client the backlog holds, up to the free slots, without waiting."""
        sock = self.sock
        with contextlib.suppress(OSError):
            sock.setblocking(False)  # a listening socket handed over may block
            while len(self.connections) < self.limits.max_connections:
                client, address = sock.accept()
                self._start(client, address)

    async def _close_idle(self, connection: _SocketTransport) -> None:
        if connection.driver is None:
            # Not serving yet (a TLS handshake, say): end its reads.
            connection.interrupt(socket.SHUT_RD)
        else:
            # Its worker is (or will be) blocked reading a next request that
            # must not come; bytes already received are answered instead.
            connection.stop_waiting(is_idle)

    async def _wait_closed(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self.connections, timeout)

    async def _cut(self, connections: list[_SocketTransport]) -> None:
        for transport in connections:
            transport.interrupt(socket.SHUT_RDWR)
        with self._changed:
            self._changed.wait_for(lambda: not self.connections, _CUT_GRACE)


def _handshake(tls_sock: ssl.SSLSocket, deadline: float, timeout: float) -> None:
    """Complete a server-side TLS handshake by *deadline*, however the client trickles it.

    :param timeout: the socket's timeout afterwards (see :meth:`_SocketTransport._read`).
    """
    tls_sock.setblocking(False)
    with selectors.DefaultSelector() as selector:
        while True:
            try:
                tls_sock.do_handshake()
                break
            except ssl.SSLWantReadError:
                events = selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                events = selectors.EVENT_WRITE
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("TLS handshake timed out")
            if selector.get_map():
                selector.modify(tls_sock, events)
            else:
                selector.register(tls_sock, events)
            if not selector.select(remaining):
                raise TimeoutError("TLS handshake timed out")
    tls_sock.settimeout(timeout)


def _ready(sock: socket.socket, timeout: float | None, writing: bool = False) -> bool:
    """Whether *sock* has bytes (or its end) within *timeout* seconds; ``None`` waits forever.

    With *writing*: whether it can take more bytes instead.
    """
    if _poll is None:
        ready = select.select([], [sock], [], timeout) if writing else select.select([sock], [], [], timeout)
        return any(ready)
    poller = _poll()
    poller.register(sock.fileno(), select.POLLOUT if writing else select.POLLIN)
    return bool(poller.poll(None if timeout is None else timeout * 1000.0))


_poll = getattr(select, "poll", None)


def _close_now(transport: _SocketTransport) -> None:
    # The driver closes its transport when it ends; this covers the
    # connections that never got a driver (failed TLS, early disconnect).
    transport._watcher.forget(transport)
    with transport._lock:
        if not transport._closed:
            transport._closed = True
            transport.sock.close()


class _Threads(Runtime[ThreadedServer]):
    name = "threads"
    # No event loop to run the application's startup() and shutdown() in:
    # ASGIContainer's, for one, need asyncio or trio.
    lifespan = False

    def run(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        run_sync(main())  # never suspends: this runtime's waits block

    @contextlib.asynccontextmanager
    async def serving(
        self, app: Application, sock: socket.socket, options: ServeOptions
    ) -> AsyncIterator[ThreadedServer]:
        server = ThreadedServer.from_options(app, sock, options)
        try:
            yield server
        finally:
            server.close()

    async def serve_until_shutdown(self, server: ThreadedServer) -> None:
        # The accept loop runs in the calling thread, the one signals reach.
        server.serve_forever()


def start_server(
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
) -> ThreadedServer:
    """Start serving from a background thread; ``server.shutdown()`` stops it gracefully.

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
    server = ThreadedServer.from_options(app, options.listen(host, port), options)
    announce(server.sock, "threads", ssl_context is not None)
    threading.Thread(target=server.serve_forever, name="crosswind-accept", daemon=True).start()
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

    The accept loop runs in the calling thread.  The application's
    ``startup()`` and ``shutdown()`` do not run: there is no event loop for
    them.

    :param app: the application.
    :param host: address to listen on.
    :param port: port to listen on; ``0`` picks a free one (see the handle).
    :param started: called with a :class:`ServerHandle` once listening.
    :param handle_signals: turn SIGINT/SIGTERM into a graceful shutdown
        (only when called in the main thread, the only one that gets signals).
    :param options: ``ssl_context``, ``unix_socket``, ``reuse_port``,
        ``limits``, ``shutdown_timeout``, ``engine``, ``access_log``, ``sock``,
        ``server_header``, ``proxy_headers``, ``forwarded_allow_ips``,
        ``root_path`` as for :func:`start_server`.
    """
    serve_with(
        _Threads(), app, host, port, started=started, handle_signals=handle_signals,
        options=options,
    )
