"""The life of a server, written once for every backend.

A backend brings its runtime: how to run (an event loop, or the calling
thread), how to accept, read, write and keep time, and how to wait and wake.
This module holds what a server does with them, in this order:

1. :meth:`ServeOptions.parse` checks the options before anything happens: an
   unknown name raises :class:`TypeError`, a negative ``shutdown_timeout`` or
   an unknown protocol engine :class:`ValueError`.
2. The listening socket is bound (or the ``sock`` given is used), before the
   application starts anything: a port already taken fails first.
3. The runtime starts, and the application's ``startup()`` runs, on the
   runtimes that have an event loop for it (:attr:`Runtime.lifespan`).  If it
   raises, the socket is closed and the exception propagates.
4. The server accepts, and ``Serving on ...`` is logged.
5. SIGINT and SIGTERM request a graceful shutdown, when *handle_signals* is
   true and this is the main thread (the only one signals reach).  A second
   signal only requests it again.
6. *started* gets the :class:`~crosswind.backends._common.ServerHandle`.  If it
   raises, the server shuts down as if asked to, and the exception
   propagates once it has.
7. A shutdown request runs :meth:`Server.drain`: accepting stops (the
   clients already in the listening socket's backlog are taken in first, as
   the kernel connected them before the shutdown), every
   connection finishes its exchange in flight and closes instead of keeping
   alive (a request the backend has already received counts as in flight,
   and is answered with ``Connection: close``), idle ones close at once,
   and what is still busy after ``shutdown_timeout`` seconds is cut.
8. The signal handlers that were there before come back, then the
   application's ``shutdown()`` runs.

The steps are coroutines.  On the threaded backend, which has no event loop,
every wait blocks instead of suspending, so each one completes in a single
step (:func:`crosswind._sync.run_sync`), as that backend's connections do.
"""

from __future__ import annotations

import inspect
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, fields
from types import FrameType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from crosswind.protocol.driver import AccessLog, TrustedProxies
from crosswind.protocol.exchange import Application
from crosswind.protocol.http1.engine import available_engines
from crosswind.protocol.http2.negotiate import new_driver
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import Driver, Transport

from ._common import ServerHandle, announce, bind_socket, server_log

__all__ = [
    "Runtime",
    "ServeOptions",
    "Server",
    "is_idle",
    "is_sheddable",
    "run_app_hook",
    "serve_with",
    "trusted_proxies",
]

#: The peers trusted to report the client when proxy headers are on and
#: neither ``forwarded_allow_ips`` nor ``$FORWARDED_ALLOW_IPS`` says otherwise:
#: this machine, as uvicorn has it.
DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """The keyword options of every backend's ``serve`` and ``start_server``, checked.

    :param ssl_context: serve TLS with this context.
    :param unix_socket: listen on this path instead of *host* and *port*.
    :param reuse_port: bind with ``SO_REUSEPORT``.
    :param limits: the connection limits.
    :param shutdown_timeout: seconds busy connections get to finish once a
        shutdown starts.
    :param engine: the protocol engine's name; ``None`` for the default.
    :param access_log: ``access_log(exchange, seconds)`` after each exchange.
    :param sock: a listening socket to serve on instead of binding one.
    :param server_header: send ``Server: crosswind`` on every response whose
        application set no ``Server`` field of its own.
    :param date_header: send a ``Date`` field on every response whose
        application set none of its own.
    :param proxy_headers: take the client's address, scheme and host from
        ``X-Forwarded-*`` or ``Forwarded`` fields sent by a trusted peer;
        ``None`` turns them on when *forwarded_allow_ips* or
        ``$FORWARDED_ALLOW_IPS`` is given (see :func:`trusted_proxies`).
    :param forwarded_allow_ips: the trusted peers: a comma-separated string
        or a list of addresses, networks (``10.0.0.0/8``) or ``*``.
    :param root_path: the path prefix a proxy in front removed, which the
        application builds its URLs under (ASGI ``root_path``, WSGI
        ``SCRIPT_NAME``).
    :param http2: serve HTTP/2 to cleartext clients that open with its
        preface (prior knowledge, for use behind a proxy); over TLS, ALPN
        chooses HTTP/2 whatever this says.  The threaded backend refuses it.
    :raises ValueError: *shutdown_timeout* is negative, no engine is
        registered as *engine*, or *root_path* does not start with ``/``.
    """

    ssl_context: ssl.SSLContext | None = None
    unix_socket: str | None = None
    reuse_port: bool = False
    limits: Limits = field(default_factory=Limits)
    shutdown_timeout: float = 30.0
    engine: str | None = None
    access_log: AccessLog | None = None
    sock: socket.socket | None = None
    server_header: bool = True
    date_header: bool = True
    proxy_headers: bool | None = None
    forwarded_allow_ips: str | Sequence[str] | None = None
    root_path: str = ""
    http2: bool = False

    def __post_init__(self) -> None:
        _check(self.shutdown_timeout, self.engine, self.root_path)

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> ServeOptions:
        """The options given to ``serve(**options)``; ``limits=None`` means the defaults.

        :param options: the keyword options.
        :raises TypeError: a name that is not an option.
        """
        for name in options:
            if name not in _OPTION_NAMES:
                raise TypeError(f"serve() got an unexpected keyword argument {name!r}")
        if options.get("limits") is None:
            options = {**options, "limits": Limits()}
        return cls(**options)

    def listen(self, host: str, port: int) -> socket.socket:
        """The listening socket: the one given as ``sock``, or one bound now.

        :raises OSError: with a message naming the address when it cannot bind.
        """
        if self.sock is not None:
            return self.sock
        return bind_socket(host, port, unix_socket=self.unix_socket, reuse_port=self.reuse_port)


_OPTION_NAMES = frozenset(f.name for f in fields(ServeOptions))


def trusted_proxies(
    proxy_headers: bool | None,
    forwarded_allow_ips: str | Sequence[str] | None,
    environ: Mapping[str, str] = os.environ,
) -> TrustedProxies | None:
    """The peers a server believes about the client; ``None`` when it believes none.

    uvicorn's options, with one difference: proxy headers are off unless
    asked for, since a server with no proxy in front would otherwise let any
    process on its own machine name any client.  Asking is
    ``proxy_headers=True``, or giving the trusted peers at all (the argument,
    or ``$FORWARDED_ALLOW_IPS``), so that a uvicorn command line that names
    them means the same here.

    :param proxy_headers: on, off, or ``None`` to decide as above.
    :param forwarded_allow_ips: the trusted peers; ``None`` for
        ``$FORWARDED_ALLOW_IPS``, else :data:`DEFAULT_FORWARDED_ALLOW_IPS`.
    :param environ: where ``FORWARDED_ALLOW_IPS`` is looked up.
    """
    from_environ = environ.get("FORWARDED_ALLOW_IPS") or None
    spec = forwarded_allow_ips if forwarded_allow_ips is not None else from_environ
    if proxy_headers is None:
        proxy_headers = spec is not None
    if not proxy_headers:
        return None
    return TrustedProxies(DEFAULT_FORWARDED_ALLOW_IPS if spec is None else spec)


def _check(shutdown_timeout: float, engine: str | None, root_path: str = "") -> None:
    # Before anything listens: an unknown engine would otherwise fail every
    # connection, and a negative timeout only the shutdown (on trio).
    if root_path and not root_path.startswith("/"):
        raise ValueError(f"root_path must start with '/': {root_path!r}")
    if shutdown_timeout < 0:
        raise ValueError(f"shutdown_timeout cannot be negative: {shutdown_timeout!r}")
    if engine is not None and engine not in available_engines():
        choices = ", ".join(available_engines())
        raise ValueError(f"unknown protocol engine {engine!r}; choose one of {choices}")


def is_idle(driver: Driver) -> bool:
    """Between requests with nothing received: what a shutdown closes at once."""
    return driver.idle


def is_sheddable(driver: Driver) -> bool:
    """Waiting for a head, or receiving a body below the rate floor: what a full server may shed."""
    return driver.shed_order() is not None


class _Tracked(Protocol):
    """A backend's record of one connection: its driver once it has one."""

    driver: Driver | None


C = TypeVar("C", bound=_Tracked)


class Server(Generic[C]):
    """What every backend's server keeps, and its graceful shutdown.

    A subclass keeps its connections in :attr:`connections` and gives each
    one a driver with :meth:`new_driver`; for :meth:`drain` it says how to
    stop accepting, close an idle connection, wait for the busy ones and cut
    them.

    :param app: the application.
    :param sock: a bound, listening socket (see
        :func:`~crosswind.backends._common.bind_socket`); the server owns it.
    :param ssl_context: serve TLS with this context.
    :param limits: connection limits; ``None`` for the defaults.
    :param shutdown_timeout: seconds busy connections get to finish once a
        shutdown starts.
    :param engine: the protocol engine's name (``None``:
        :data:`crosswind.protocol.http1.engine.DEFAULT_ENGINE`).
    :param access_log: ``access_log(exchange, seconds)`` after each exchange.
    :param server_header: send ``Server: crosswind`` unless the application
        set a ``Server`` field.
    :param date_header: send a ``Date`` field unless the application set one.
    :param proxy_headers: as for :class:`ServeOptions`.
    :param forwarded_allow_ips: as for :class:`ServeOptions`.
    :param root_path: as for :class:`ServeOptions`.
    :param http2: as for :class:`ServeOptions`.
    :raises ValueError: as :class:`ServeOptions` does.
    """

    def __init__(
        self,
        app: Application,
        sock: socket.socket,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: Limits | None = None,
        shutdown_timeout: float = 30.0,
        engine: str | None = None,
        access_log: AccessLog | None = None,
        server_header: bool = True,
        date_header: bool = True,
        proxy_headers: bool | None = None,
        forwarded_allow_ips: str | Sequence[str] | None = None,
        root_path: str = "",
        http2: bool = False,
    ) -> None:
        _check(shutdown_timeout, engine, root_path)
        self.app = app
        self.sock = sock
        self.addresses = [sock.getsockname()]
        self.ssl_context = ssl_context
        self.limits = limits or Limits()
        self.shutdown_timeout = shutdown_timeout
        self.engine = engine
        self.access_log = access_log
        self.server_header = server_header
        self.date_header = date_header
        #: The peers believed about the client (``None``: none is).
        self.proxy = trusted_proxies(proxy_headers, forwarded_allow_ips)
        self.root_path = root_path
        #: Serve HTTP/2 to cleartext clients that start with its preface.
        self.http2 = http2
        self.connections: set[C] = set()
        self._stopping = False

    @classmethod
    def from_options(cls, app: Application, sock: socket.socket, options: ServeOptions) -> Self:
        """A server on *sock* with the settings in *options*."""
        return cls(
            app, sock, ssl_context=options.ssl_context, limits=options.limits,
            shutdown_timeout=options.shutdown_timeout, engine=options.engine,
            access_log=options.access_log, server_header=options.server_header,
            date_header=options.date_header,
            proxy_headers=options.proxy_headers,
            forwarded_allow_ips=options.forwarded_allow_ips, root_path=options.root_path,
            http2=options.http2,
        )

    def new_driver(self, transport: Transport, clock: Callable[[], float]) -> Driver:
        """The driver for a connection starting now; it shuts down at once during a shutdown.

        HTTP/1.1 or HTTP/2, as :func:`crosswind.protocol.http2.negotiate.new_driver`
        decides from ALPN, the ``http2`` option and what the transport can do.

        :param transport: the connection's transport.
        :param clock: the clock its deadlines are in.
        """
        driver = new_driver(
            transport, self.app, http2=self.http2, engine=self.engine,
            clock=clock, wall_clock=time.time if self.date_header else None,
            server_header=self.server_header, limits=self.limits,
            access_log=self.access_log, proxy=self.proxy, root_path=self.root_path,
        )
        if self._stopping:
            driver.start_shutdown()
        return driver

    def request_shutdown(self) -> None:
        """Start a graceful shutdown; callable from any thread and from a signal handler."""
        raise NotImplementedError

    async def drain(self) -> None:
        """Shut down gracefully, in the same steps on every runtime.

        Accepting stops; every connection finishes its exchange in flight and
        then closes, idle ones at once; what is still busy after
        :attr:`shutdown_timeout` seconds is cut.
        """
        server_log.info("Shutting down")
        self._stopping = True
        await self._stop_accepting()
        connections = self._snapshot()
        for connection in connections:
            driver = connection.driver
            if driver is not None:
                driver.start_shutdown()
        # Bytes the runtime has ready for a connection make it busy, not
        # idle: let it take in what has already arrived before judging.
        await self._settle()
        for connection in connections:
            driver = connection.driver
            # No driver yet (a TLS handshake, say) or between requests: nothing
            # in flight to wait for.
            if driver is None or driver.idle:
                await self._close_idle(connection)
        if await self._wait_closed(self.shutdown_timeout):
            return
        busy = self._snapshot()
        server_log.warning(
            "%d connection(s) still busy after %.1f s; closing them",
            len(busy), self.shutdown_timeout,
        )
        await self._cut(busy)

    def first_to_shed(self) -> C | None:
        """The connection to close to make room for a new client, or ``None``.

        When every connection slot is taken, backends close this one (see
        ``Limits.max_connections``): the one that has waited longest for a
        request head (an idle keep-alive connection, or a client trickling
        its head), else the oldest body already below the rate floor.  A
        connection busy with a request at a fair pace is never shed.
        """
        chosen: C | None = None
        first: tuple[int, float] | None = None
        for connection in self._snapshot():
            driver = connection.driver
            order = None if driver is None else driver.shed_order()
            if order is not None and (first is None or order < first):
                chosen, first = connection, order
        return chosen

    # -- the runtime's part of drain() ---------------------------------------

    async def _settle(self) -> None:
        """Let the runtime hand over bytes that have already arrived (nothing by default)."""

    def _snapshot(self) -> list[C]:
        """The connections now; a backend whose threads change the set locks it here."""
        return list(self.connections)

    async def _stop_accepting(self) -> None:
        """Take in the clients the backlog holds, then close the listening socket.

        Closing it turns new clients away; those already connected by the
        kernel would be reset with it, their requests perhaps already sent.
        """
        raise NotImplementedError

    async def _close_idle(self, connection: C) -> None:
        """Close a connection that has no exchange in flight, unless bytes have come for it.

        A connection whose request has arrived in the runtime but not yet
        reached its driver is not idle: it is answered, then closed.
        """
        raise NotImplementedError

    async def _wait_closed(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds for every connection to close; whether they did."""
        raise NotImplementedError

    async def _cut(self, connections: list[C]) -> None:
        """Close *connections* without waiting for them any longer."""
        raise NotImplementedError


S = TypeVar("S", bound=Server[Any])


class Runtime(Generic[S]):
    """What :func:`serve_with` needs of a backend besides its :class:`Server`."""

    #: The backend's name, as logged and as the handle reports it.
    name: ClassVar[str]
    #: Whether the application's ``startup()`` and ``shutdown()`` run: they
    #: are coroutines that may need an event loop (``ASGIContainer``'s do).
    lifespan: ClassVar[bool] = True

    def run(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run *main* to completion in the calling thread."""
        raise NotImplementedError

    def serving(
        self, app: Application, sock: socket.socket, options: ServeOptions
    ) -> AbstractAsyncContextManager[S]:
        """A server on *sock* that accepts from the start of the block; closed at its end."""
        raise NotImplementedError

    async def serve_until_shutdown(self, server: S) -> None:
        """Serve until a shutdown is requested, and return once it has completed."""
        raise NotImplementedError


def serve_with(
    runtime: Runtime[Any],
    app: Application,
    host: str,
    port: int,
    *,
    started: Callable[[ServerHandle], None] | None,
    handle_signals: bool,
    options: Mapping[str, Any],
) -> None:
    """A backend's ``serve``: the steps of this module's docstring, on *runtime*.

    :param runtime: the backend.
    :param options: ``serve``'s keyword options, unchecked.
    """
    checked = ServeOptions.parse(options)
    sock = checked.listen(host, port)
    runtime.run(lambda: _serve(runtime, app, sock, checked, started, handle_signals))


async def _serve(
    runtime: Runtime[Any],
    app: Application,
    sock: socket.socket,
    options: ServeOptions,
    started: Callable[[ServerHandle], None] | None,
    handle_signals: bool,
) -> None:
    if runtime.lifespan:
        try:
            await run_app_hook(app, "startup")
        except BaseException:
            sock.close()
            raise
    failure: BaseException | None = None
    previous: dict[int, Any] = {}
    try:
        async with runtime.serving(app, sock, options) as server:
            announce(sock, runtime.name, options.ssl_context is not None)
            if handle_signals:
                previous = _request_shutdown_on_signals(server)
            if started is not None:
                try:
                    started(ServerHandle(list(server.addresses), runtime.name, server.request_shutdown))
                except BaseException as exc:
                    failure = exc
                    server.request_shutdown()
            await runtime.serve_until_shutdown(server)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    try:
        if runtime.lifespan:
            await run_app_hook(app, "shutdown")
    finally:
        if failure is not None:
            raise failure


def _request_shutdown_on_signals(server: Server[Any]) -> dict[int, Any]:
    """Make SIGINT and SIGTERM request a graceful shutdown; the handlers they had before."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may set handlers, and only it runs them

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.request_shutdown()

    return {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}


async def run_app_hook(app: Any, name: str) -> None:
    """Call ``app.startup()`` or ``app.shutdown()`` if the application has it.

    ``startup`` runs before the first connection is accepted, ``shutdown``
    after the graceful shutdown.  An exception propagates, so a failed
    startup stops the server.

    :param app: the application.
    :param name: ``"startup"`` or ``"shutdown"``.
    """
    hook = getattr(app, name, None)
    if callable(hook):
        result = hook()
        if inspect.isawaitable(result):
            await result
