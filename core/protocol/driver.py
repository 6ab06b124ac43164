"""The one connection driver every backend runs.

It owns the loop of a connection: read bytes from the transport into the
:class:`~crosswind.protocol.http1.connection.ServerConnection`, turn each request head into
an :class:`~crosswind.protocol.exchange.Exchange`, await the application, drain what
the application left unread, and go round again while keep-alive allows.
Backends provide a :class:`~crosswind.protocol.transport.Transport` and a clock and
nothing else, so their behaviour cannot drift apart.

Rules:

* A request the connection refuses is answered with its status and a short
  reason and the connection closes; nothing of it reaches the application.
* An application that fails before sending anything gets a ``500``; one
  that fails after the head went out gets the connection closed without the
  end of the body, so the client can tell the response is incomplete.
* A connection refused while the client may still be sending (a ``413``
  in the middle of an upload) is not closed at once: the server shuts down
  its sending side and reads and discards for up to
  ``Limits.linger_timeout``, so that the client reads the answer instead of
  a reset (RFC 9112 section 9.6).
* Awaitables here complete without suspending when the transport's do, so
  the threaded backend can run the driver without an event loop.
* Behind a reverse proxy (*proxy* given), each request's
  :attr:`~crosswind.protocol.exchange.Exchange.info` names the client, the
  scheme and the ``Host`` that the trusted proxies reported
  (:mod:`crosswind.forwarded` decides), before the application or the access
  log sees it; *root_path* is recorded the same way.  Every front end reads
  them from there, so they cannot disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from ..errors import RequestError
from ..forwarded import TrustedProxies, resolve_forwarded
from .events import NEED_DATA, ConnectionClosed, EndOfMessage, Event, Request
from .exchange import Application, ClientDisconnected, DetachedStream, Exchange
from .http1.connection import ServerConnection
from .http1.engine import Engine
from .http1.writer import SERVER_NAME
from .limits import Limits
from .transport import ConnectionInfo, Transport, TransportClosed

#: TrustedProxies is the type of the driver's ``proxy``: named here too, for the
#: backends, which import only the protocol layer.
__all__ = ["AccessLog", "ConnectionDriver", "TrustedProxies", "describe"]

log = logging.getLogger("crosswind.driver")

#: ``access_log(exchange, seconds)`` is called once per finished exchange.
AccessLog = Callable[[Exchange, float], None]


class ConnectionDriver:
    """Serves one connection until it closes.

    :param transport: the backend's transport for this connection.
    :param app: the application (``await app.handle(exchange)``).
    :param clock: monotonic seconds, the clock the transport's deadlines use.
    :param wall_clock: POSIX seconds (:func:`time.time`, say) for the ``Date``
        field of every response that lacks one; ``None`` sends no ``Date``,
        as the in-memory test client does.
    :param server_header: add ``Server: crosswind`` to every response that
        lacks a ``Server`` field; when false, Tornado-style handlers leave
        out theirs too (they read :attr:`server_header`).
    :param engine: the protocol engine's name, an engine instance, or ``None``
        for :data:`crosswind.protocol.http1.engine.DEFAULT_ENGINE`.
    :param proxy: the peers trusted to report the client in ``X-Forwarded-*``
        or ``Forwarded`` fields; ``None`` reads no such field.
    :param root_path: the path prefix the application is served under, which
        a proxy in front removed from the path (uvicorn's ``--root-path``);
        each exchange carries it as ``info.extra["root_path"]``.
    """

    __slots__ = (
        "_access_log",
        "_detached",
        "_exchange",
        "_info",
        "_linger",
        "_proxy",
        "_send_nowait",
        "_watching",
        "app",
        "clock",
        "conn",
        "disconnected",
        "server_header",
        "transport",
    )

    def __init__(
        self,
        transport: Transport,
        app: Application,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float] | None = None,
        server_header: bool = True,
        limits: Limits | None = None,
        engine: str | Engine | None = None,
        access_log: AccessLog | None = None,
        proxy: TrustedProxies | None = None,
        root_path: str = "",
    ) -> None:
        self.transport = transport
        self.app = app
        self.clock = clock
        #: Whether the server sends a ``Server`` field of its own.
        self.server_header = server_header
        self.conn = ServerConnection(
            limits, clock=clock, wall_clock=wall_clock,
            server=SERVER_NAME if server_header else None, engine=engine,
        )
        self._access_log = access_log
        # Optional: a transport that writes without a coroutine (see send_nowait()).
        self._send_nowait = getattr(transport, "send_nowait", None)
        self._exchange: Exchange | None = None
        self._detached: DetachedStream | None = None
        self._watching = False  # the transport reports a disconnect to the exchange
        self._linger = False  # refused while the client may still be sending
        self.disconnected = False
        self._proxy = proxy
        # The connection's info with the root path in it, made once: None when
        # requests keep the transport's info as it is (the usual case, no cost).
        self._info: ConnectionInfo | None = None
        root_path = root_path.rstrip("/")
        if root_path:
            info = transport.info
            self._info = replace(info, extra={**info.extra, "root_path": root_path})
        elif proxy is not None:
            self._info = transport.info

    # -- used by the backend ---------------------------------------------

    @property
    def idle(self) -> bool:
        """Waiting for a next request with nothing received: safe to close."""
        return self._exchange is None and self.conn.idle

    def shed_order(self) -> tuple[int, float] | None:
        """Where the connection stands in line to be shed (lower first); ``None`` when it must not.

        Backends close the first in line when every connection slot is
        taken and a new client waits (see
        :meth:`~crosswind.protocol.http1.connection.ServerConnection.shed_order`).
        """
        return self.conn.shed_order(self.clock())

    def start_shutdown(self) -> None:
        """Let the current exchange finish, then close instead of keeping alive.

        A detached stream (a WebSocket, say) is told too, so that its holder
        can close it as the protocol it speaks wants.
        """
        self.conn.start_shutdown()
        if self._detached is not None:
            self._detached.start_shutdown()

    async def run(self) -> None:
        """Serve requests until the connection closes."""
        conn = self.conn
        transport = self.transport
        try:
            while True:
                try:
                    # A pipelined request may already be buffered: no await then.
                    event = conn.next_event()
                    # _read_event() written out: one coroutine less per request
                    # (deliberate, see bench/NOTES.md).
                    while event is NEED_DATA:
                        try:
                            data = await transport.receive(conn.deadline)
                        except TimeoutError:
                            error = conn.timeout_error()
                            if error is None:  # idle between requests: close quietly
                                return
                            raise error from None
                        except (TransportClosed, ConnectionError):
                            data = b""
                        # No exchange yet: a close here is not a disconnect to report.
                        conn.receive_data(data)
                        event = conn.next_event()
                except RequestError as error:
                    self._linger = error.status_code != 408
                    await self.send(conn.send_error(error))
                    break
                if type(event) is not Request:
                    break
                exchange = Exchange(self, event, self.clock())
                if self._info is not None:
                    describe(exchange, self._info, self._proxy)
                self._exchange = exchange
                # The application is awaited here, not in a coroutine of its
                # own: one coroutine less per request (see bench/NOTES.md).
                try:
                    await self.app.handle(exchange)
                except ClientDisconnected:
                    raise
                except Exception as error:
                    await self._app_failed(exchange, error)
                else:
                    if self._detached is None and not conn.response_done:
                        await self._app_unfinished(exchange)
                self._exchange = None
                if self._watching:
                    self._watching = False
                    self.transport.set_close_callback(None)
                if self._detached is not None:
                    break
                if self._access_log is not None and exchange.status:
                    self._access_log(exchange, self.clock() - exchange.start_time)
                if not conn.response_done:
                    break
                # A request whose body is complete (a GET, say) has nothing to
                # drain: no coroutine for it (see bench/NOTES.md).
                if not conn.request_complete and not await self._drain():
                    break
                if not conn.start_next_cycle():
                    break
        except (TransportClosed, ClientDisconnected):
            self.disconnected = True
        finally:
            # A detached stream still open belongs to whoever holds it now.
            if self._detached is None or self._detached.closed:
                if not self.disconnected and (
                    self._linger or (conn.reading_body and conn.client_may_be_sending)
                ):
                    await self._linger_then_close()
                await self.transport.close()

    # -- used by Exchange ------------------------------------------------

    async def next_event(self) -> Event | object:
        """The next event of the connection, reading from the transport as needed."""
        event = self.conn.next_event()
        if event is not NEED_DATA:
            return event
        return await self._read_event()

    async def _read_event(self) -> Event | object:
        """Read until the connection has an event (it just said NEED_DATA)."""
        conn = self.conn
        while True:
            try:
                data = await self.transport.receive(conn.deadline)
            except TimeoutError:
                error = conn.timeout_error()
                if error is None:
                    return ConnectionClosed()
                raise error from None
            except (TransportClosed, ConnectionError):
                data = b""
            if not data:
                self.disconnected = conn.reading_body or self._exchange is not None
            conn.receive_data(data)
            event = conn.next_event()
            if event is not NEED_DATA:
                return event

    async def send(self, data: bytes) -> None:
        """Send response bytes (the transport may hold them until the loop next gets control).

        :raises ClientDisconnected: the client has gone away.
        """
        if data:
            try:
                await self.transport.send(data)
            except (TransportClosed, ConnectionError):
                self.disconnected = True
                raise ClientDisconnected("the client closed the connection") from None

    def send_nowait(self, data: bytes) -> Awaitable[None] | None:
        """Send response bytes without a coroutine when the transport allows it.

        Returns ``None`` once *data* is written (or queued by the transport
        with room to spare); otherwise an awaitable that finishes the job,
        to be awaited before sending more.  The hot path thereby skips the two
        coroutines of awaiting :meth:`send` (see ``bench/NOTES.md``).

        :raises ClientDisconnected: the client has gone away.
        """
        send_nowait = self._send_nowait
        if not data or send_nowait is None:
            return self.send(data) if data else None
        try:
            waiter = send_nowait(data)
        except (TransportClosed, ConnectionError):
            self.disconnected = True
            raise ClientDisconnected("the client closed the connection") from None
        return None if waiter is None else self._finish_send(waiter)

    async def _finish_send(self, waiter: Awaitable[None]) -> None:
        try:
            await waiter
        except (TransportClosed, ConnectionError):
            self.disconnected = True
            raise ClientDisconnected("the client closed the connection") from None

    def detach(self) -> DetachedStream:
        """Stop serving HTTP here and hand the connection to the application."""
        if self._detached is None:
            self._detached = DetachedStream(
                self.transport, self.conn.trailing_data, clock=self.clock, limits=self.conn.limits
            )
            # An upgrade served while the server shuts down is told at once.
            self._detached.shutting_down = self.conn.shutting_down
        return self._detached

    def watch_disconnect(self, exchange: Exchange) -> None:
        self._watching = True
        self.transport.set_close_callback(exchange.connection_lost)

    # -- internals -------------------------------------------------------

    async def _app_failed(self, exchange: Exchange, error: Exception) -> None:
        """The application raised *error* (not a disconnect)."""
        conn = self.conn
        if isinstance(error, RequestError):
            # Raised while reading the body (too large, malformed, too slow),
            # or by the application to refuse the request.
            if not conn.response_started:
                exchange.status = error.status_code
                # A client that was too slow is not waited for any longer.
                self._linger = error.status_code != 408
                await self.send(conn.send_error(error))
            return
        log.exception(
            "error in application handling %s %s",
            exchange.method, exchange.path, exc_info=error,
        )
        if not conn.response_started and self._detached is None:
            exchange.status = 500
            await self.send(conn.send_error(RequestError("internal server error", 500)))

    async def _app_unfinished(self, exchange: Exchange) -> None:
        """The application returned without completing its response."""
        conn = self.conn
        if not conn.response_started:
            log.error("application returned without responding to %s %s",
                      exchange.method, exchange.path)
            exchange.status = 500
            await self.send(conn.send_error(RequestError("internal server error", 500)))
        else:
            log.error("application returned before ending its response to %s %s",
                      exchange.method, exchange.path)

    async def _linger_then_close(self) -> None:
        """Shut down the sending side, then read and discard until the client closes.

        Bounded by ``Limits.linger_timeout``.  A transport without
        ``send_eof`` (TLS cannot half-close) still reads: what matters is
        that no unread bytes are left when the socket closes, which is what
        makes the kernel send a reset.
        """
        transport = self.transport
        deadline = self.clock() + self.conn.limits.linger_timeout
        try:
            send_eof = getattr(transport, "send_eof", None)
            if send_eof is not None:
                await send_eof()
            while await transport.receive(deadline):
                pass
        except OSError:  # timed out, or the peer is gone (TransportClosed too)
            pass

    async def _drain(self) -> bool:
        """Discard the unread rest of the body; ``False`` if not worth it."""
        conn = self.conn
        if not conn.reading_body:
            return True
        if not conn.keep_alive:
            return False
        conn.max_body_size = min(conn.max_body_size, conn.limits.drain_limit)
        try:
            while conn.reading_body:
                # Usually the end is already there (a GET): no await then.
                event = conn.next_event()
                if event is NEED_DATA:
                    event = await self._read_event()
                if type(event) is EndOfMessage:
                    break
        except RequestError:
            return False
        return True


def describe(exchange: Exchange, info: ConnectionInfo, proxy: TrustedProxies | None) -> None:
    """Give *exchange* the connection's *info* as the trusted proxies in front report it.

    Both drivers call it for each request, HTTP/1.1 and HTTP/2 alike, so that
    every front end and the access log read the same client, scheme and host.

    :param proxy: the peers believed; ``None`` keeps *info* as it is.
    """
    if proxy is not None:
        peer = info.peer
        said = resolve_forwarded(peer[0] if isinstance(peer, tuple) else peer, exchange.headers, proxy)
        if said is not None:
            if said.client is not None or said.scheme is not None:
                info = replace(
                    info,
                    peer=said.client or peer,
                    proxy=peer if said.client is not None else None,
                    forwarded_scheme=said.scheme,
                )
            if said.host is not None:
                exchange.headers = _with_host(exchange.headers, said.host.encode("latin-1"))
    exchange.info = info


def _with_host(headers: Iterable[tuple[bytes, bytes]], host: bytes) -> list[tuple[bytes, bytes]]:
    """*headers* with *host* as the ``Host`` field, in the place of the one received."""
    replaced = [(name, host if name == b"host" else value) for name, value in headers]
    if (b"host", host) not in replaced:
        replaced.append((b"host", host))
    return replaced
