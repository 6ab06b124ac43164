"""Runs one HTTP/2 connection: frames in on one task, each stream's application on its own.

:class:`H2ConnectionDriver` has the outside of
:class:`~crosswind.protocol.driver.ConnectionDriver` (``run()``, ``idle``,
``shed_order()``, ``start_shutdown()``, ``disconnected``), so backends and
their server treat both alike.  Inside, the task that calls :meth:`run`
reads and feeds the :class:`~crosswind.protocol.http2.connection.H2ServerConnection`,
and every request starts a task (the transport's
:class:`~crosswind.protocol.transport.Concurrency`) that awaits
``app.handle(exchange)`` with an :class:`~crosswind.protocol.http2.exchange.H2Exchange`.

Rules:

* Only the reading task keeps time: it waits for the transport with the
  connection's next deadline, and a stream that starts a timer (it waits
  for body bytes, or for a window) interrupts that wait when its deadline
  comes sooner (the transport's ``stop_waiting``).
* Bytes to send go through one queue.  A response piece is queued only
  while the queue holds less than :data:`LOW_WATER` bytes, so responses
  wait for a slow client instead of piling up; what else is queued (the
  acknowledgements h2 sends for the client's PING and SETTINGS) is capped
  by ``Limits.h2_max_queued_bytes``, past which the connection is cut.
* An application that fails before its response started gets a ``500`` on
  its stream, one that fails after gets the stream reset
  (``INTERNAL_ERROR``), as over HTTP/1.1 the connection would close.
* The connection ends once it is closed, or, after a graceful GOAWAY (the
  server's shutdown, or the client's), once the last stream is done;
  :meth:`run` returns after every stream's task has.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

from ...errors import RequestError
from ...forwarded import TrustedProxies
from ...httpdate import DateCache
from ..driver import describe
from ..events import Request
from ..exchange import Application, ClientDisconnected
from ..http1.writer import SERVER_NAME
from ..limits import Limits
from ..transport import ConnectionInfo, Signal, Transport, TransportClosed
from .connection import H2ServerConnection
from .events import (
    BodyEnded,
    BodyReceived,
    ConnectionEnded,
    H2Event,
    RequestReceived,
    StreamClosed,
    StreamFailed,
    WindowOpened,
)
from .exchange import H2Exchange

__all__ = ["CHUNK_SIZE", "LOW_WATER", "H2ConnectionDriver"]

log = logging.getLogger("crosswind.driver")

#: A response piece waits while this many bytes are queued for the client.
LOW_WATER = 64 * 1024
#: The most body bytes one stream queues at a time, so streams take turns.
CHUNK_SIZE = 64 * 1024
#: A shed connection must have been idle this long, as over HTTP/1.1.
SHED_AFTER = 1.0

_ERROR_FIELDS = ((b"content-type", b"text/plain; charset=utf-8"),)


class H2ConnectionDriver:
    """Serves one HTTP/2 connection until it closes.

    :param transport: the backend's transport; it must offer
        :class:`~crosswind.protocol.transport.Concurrency`.
    :param app: the application (``await app.handle(exchange)``).
    :param clock: monotonic seconds, the clock of the transport's deadlines.
    :param wall_clock: POSIX seconds for the ``Date`` field; ``None`` sends none.
    :param server_header: add ``server: crosswind`` to responses without one.
    :param limits: the server's limits.
    :param access_log: ``access_log(exchange, seconds)`` after each stream.
    :param proxy: the peers trusted to report the client (see
        :class:`~crosswind.protocol.driver.ConnectionDriver`).
    :param root_path: the path prefix a proxy in front removed.
    :param initial_data: bytes already read from the client, the preface first.
    :raises TypeError: the transport cannot run tasks.
    """

    def __init__(
        self,
        transport: Transport,
        app: Application,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float] | None = None,
        server_header: bool = True,
        limits: Limits | None = None,
        access_log: Callable[[Any, float], None] | None = None,
        proxy: TrustedProxies | None = None,
        root_path: str = "",
        initial_data: bytes = b"",
    ) -> None:
        start_soon = getattr(transport, "start_soon", None)
        new_signal = getattr(transport, "new_signal", None)
        if start_soon is None or new_signal is None:
            raise TypeError("HTTP/2 needs a transport that can start tasks (start_soon, new_signal)")
        self.transport = transport
        self.app = app
        self.clock = clock
        self.server_header = server_header
        self.conn = H2ServerConnection(limits, clock=clock)
        self.limits = self.conn.limits
        #: The ``Date`` values, or ``None`` to send none.
        self.date = None if wall_clock is None else DateCache(wall_clock)
        #: The ``server`` field's value, or ``None`` to send none.
        self.server_name = SERVER_NAME.encode("latin-1") if server_header else None
        self.chunk_size = CHUNK_SIZE
        self.disconnected = False
        self._start_soon: Callable[[Callable[[], Awaitable[None]]], None] = start_soon
        self.new_signal: Callable[[], Signal] = new_signal
        self._stop_waiting = getattr(transport, "stop_waiting", None)
        self._send_nowait = getattr(transport, "send_nowait", None)
        self._access_log = access_log
        self._proxy = proxy
        self._info: ConnectionInfo = transport.info
        root_path = root_path.rstrip("/")
        if root_path:
            info = transport.info
            self._info = replace(info, extra={**info.extra, "root_path": root_path})
        self._initial = initial_data
        self._exchanges: dict[int, H2Exchange] = {}
        self._out: list[bytes] = []
        self._out_size = 0
        self._writing = False
        self._room_waiters: list[Signal] = []
        self._all_done: Signal | None = None  # set when the last stream's task ends
        self._done = False  # read no more
        self._graceful = False  # a GOAWAY went either way: end once the streams are done
        self._reading = False
        self._read_deadline: float | None = None
        self._wake = False
        self._cut = False
        self._lingering = False

    # -- used by the backend ---------------------------------------------------

    @property
    def idle(self) -> bool:
        """No stream in flight: a shutdown may close the connection at once.

        Not while the connection lingers on its way out: it is closing already.
        """
        return not self._exchanges and not self._lingering

    def shed_order(self) -> tuple[int, float] | None:
        """Like HTTP/1.1's: an idle connection waits for requests, in line to be shed."""
        since = self.conn.idle_since
        if self._exchanges or self._lingering or since is None or self.clock() - since < SHED_AFTER:
            return None
        return (0, since)

    def start_shutdown(self) -> None:
        """Send GOAWAY: the streams in flight finish, then the connection closes."""
        self._graceful = True
        self.conn.start_shutdown()
        self.flush()
        if not self._exchanges:
            self._interrupt()

    async def run(self) -> None:
        """Serve the connection until it closes."""
        conn = self.conn
        conn.initiate()
        self.flush()
        try:
            if self._initial:
                data, self._initial = self._initial, b""
                self._handle(conn.receive_data(data))
                self.flush()
            while not self._done:
                if self._graceful and not self._exchanges:
                    break
                deadline = self._read_deadline = conn.deadline
                self._reading = True
                try:
                    data = await self.transport.receive(deadline)
                except TimeoutError:
                    self._timed_out(deadline)
                    continue
                except (TransportClosed, ConnectionError):
                    data = b""
                finally:
                    self._reading = False
                if not data:
                    self.disconnected = True
                    break
                self._handle(conn.receive_data(data))
                self.flush()
                if self._out_size > self.limits.h2_max_queued_bytes:
                    log.debug("HTTP/2 client %s does not read; cutting", self._info.peer)
                    self._cut = True
                    break
        finally:
            await self._finish()

    # -- used by H2Exchange ------------------------------------------------------

    @property
    def has_room(self) -> bool:
        """Whether a response piece may be queued now."""
        return self._out_size < LOW_WATER

    def wait_for_room(self, signal: Signal) -> None:
        """Set *signal* once the queue has room (at once if it has)."""
        if self.has_room and not self._writing:
            return
        self._room_waiters.append(signal)

    def flush(self) -> None:
        """Queue what the connection has to send, and start writing it."""
        data = self.conn.data_to_send()
        if data:
            self._out.append(data)
            self._out_size += len(data)
        if self._writing or not self._out or self._cut:
            return
        send_nowait = self._send_nowait
        if send_nowait is None:
            self._writing = True
            self._start_soon(self._write_loop)
            return
        out = self._out
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_size = 0
        try:
            waiter = send_nowait(data)
        except (TransportClosed, ConnectionError):
            self._lost()
            return
        if waiter is not None:
            self._writing = True
            self._start_soon(lambda: self._finish_write(waiter))

    def rearm(self) -> None:
        """A stream started a timer: make the reader wait no longer than its deadline."""
        if not self._reading:
            return
        deadline = self.conn.deadline
        if deadline is not None and (self._read_deadline is None or deadline < self._read_deadline):
            self._interrupt()

    # -- reading -----------------------------------------------------------------

    def _interrupt(self) -> None:
        """End the reader's wait, so that it looks at the connection again."""
        if self._reading and self._stop_waiting is not None:
            self._wake = True
            self._stop_waiting(self._must_wake)

    def _must_wake(self, driver: object) -> bool:
        return self._wake

    def _timed_out(self, deadline: float | None) -> None:
        mine, self._wake = self._wake, False
        now = self.clock()
        if deadline is not None and now >= deadline:
            self._handle(self.conn.expire(now))
            self.flush()
        elif not mine and not self._exchanges:
            # The server ended the wait: it shuts down, or sheds this idle connection.
            self._graceful = True
            self.conn.start_shutdown()
            self.flush()

    def _handle(self, events: Iterable[H2Event]) -> None:
        exchanges = self._exchanges
        for event in events:
            kind = type(event)
            if kind is BodyReceived:
                assert isinstance(event, BodyReceived)
                exchange = exchanges.get(event.stream_id)
                if exchange is None:
                    self.conn.consumed(event.stream_id, event.flow_length)
                else:
                    exchange.body_received(event.data, event.flow_length)
            elif kind is RequestReceived:
                assert isinstance(event, RequestReceived)
                self._start_stream(event)
            elif kind is BodyEnded:
                exchange = exchanges.get(event.stream_id)  # type: ignore[union-attr]
                if exchange is not None:
                    exchange.body_ended()
            elif kind is WindowOpened:
                stream_id = event.stream_id  # type: ignore[union-attr]
                if stream_id == 0:
                    for exchange in list(exchanges.values()):
                        exchange.window_opened()
                else:
                    exchange = exchanges.get(stream_id)
                    if exchange is not None:
                        exchange.window_opened()
            elif kind is StreamFailed:
                assert isinstance(event, StreamFailed)
                exchange = exchanges.get(event.stream_id)
                if exchange is not None:
                    exchange.failed(event.error)
            elif kind is StreamClosed:
                exchange = exchanges.get(event.stream_id)  # type: ignore[union-attr]
                if exchange is not None:
                    exchange.closed()
            elif kind is ConnectionEnded:
                assert isinstance(event, ConnectionEnded)
                log.debug("HTTP/2 connection from %s ends: %s", self._info.peer, event.reason)
                if event.graceful:
                    self._graceful = True
                else:
                    self._done = True
        if self.conn.closed:
            self._done = True

    def _start_stream(self, event: RequestReceived) -> None:
        request = Request(event.method, event.target, event.headers, b"2")
        exchange = H2Exchange(self, event.stream_id, request, self.clock(), event.end_stream)
        describe(exchange, self._info, self._proxy)
        self._exchanges[event.stream_id] = exchange
        self._start_soon(lambda: self._serve_stream(exchange))

    # -- streams -----------------------------------------------------------------

    async def _serve_stream(self, exchange: H2Exchange) -> None:
        error = exchange._error
        try:
            if error is not None and error.status_code == 431:
                # Refused on its head: the application never sees it.
                await self._answer(exchange, error)
            else:
                await self._run_app(exchange)
            if self._access_log is not None and exchange.status and not exchange._closed:
                self._access_log(exchange, self.clock() - exchange.start_time)
        except ClientDisconnected:
            pass
        except Exception:  # a bug of ours: cost one stream, not the connection
            log.exception("error serving HTTP/2 stream %d", exchange.stream_id)
        finally:
            stream_id = exchange.stream_id
            del self._exchanges[stream_id]
            if not exchange._closed and not self.conn.closed:
                if exchange.finished:
                    self.conn.stream_done(stream_id)
                else:
                    self.conn.reset(stream_id)
            self.flush()
            if not self._exchanges:
                done, self._all_done = self._all_done, None
                if done is not None:
                    done.set()
                if self._graceful:
                    self._interrupt()
                else:
                    self.rearm()  # the idle timer starts

    async def _run_app(self, exchange: H2Exchange) -> None:
        try:
            await self.app.handle(exchange)
        except ClientDisconnected:
            raise
        except RequestError as error:
            if not exchange.response_started:
                await self._answer(exchange, error)
            return
        except Exception as error:
            log.exception(
                "error in application handling %s %s", exchange.method, exchange.path,
                exc_info=error,
            )
            if not exchange.response_started:
                await self._answer(exchange, RequestError("internal server error", 500))
            return
        if not exchange.finished:
            if not exchange.response_started:
                log.error("application returned without responding to %s %s",
                          exchange.method, exchange.path)
                await self._answer(exchange, RequestError("internal server error", 500))
            else:
                log.error("application returned before ending its response to %s %s",
                          exchange.method, exchange.path)

    async def _answer(self, exchange: H2Exchange, error: RequestError) -> None:
        body = (error.reason + "\n").encode("utf-8", "replace")
        await exchange.respond(error.status_code, _ERROR_FIELDS, body)

    # -- writing -----------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Send the queue with the transport's ``send``, until it is empty."""
        try:
            while self._out and not self._cut:
                out = self._out
                data = out[0] if len(out) == 1 else b"".join(out)
                out.clear()
                try:
                    await self.transport.send(data)
                except (TransportClosed, ConnectionError):
                    self._lost()
                    return
                finally:
                    self._out_size -= len(data)
        finally:
            self._write_ended()

    async def _finish_write(self, waiter: Awaitable[None]) -> None:
        """Wait until the transport takes more, then send what queued meanwhile."""
        try:
            await waiter
        except (TransportClosed, ConnectionError):
            self._lost()
        finally:
            self._write_ended()
        self.flush()

    def _write_ended(self) -> None:
        self._writing = False
        waiters, self._room_waiters = self._room_waiters, []
        for signal in waiters:
            signal.set()
        if self._lingering:
            self._interrupt()  # _linger() may wait for this write

    def _lost(self) -> None:
        """The transport is gone: every stream is over."""
        self.disconnected = True
        self._done = True
        self._out.clear()
        self._out_size = 0
        for exchange in list(self._exchanges.values()):
            exchange.closed()
        self._interrupt()

    async def _finish(self) -> None:
        """End every stream, wait for their tasks, send what is queued, close."""
        self._done = True
        if self.disconnected or self._cut or self.conn.closed:
            for exchange in list(self._exchanges.values()):
                exchange.closed()
        else:
            if not self.conn.shutting_down:
                # EOF without a GOAWAY either way: the streams cannot be answered.
                self.conn.close()
            for exchange in list(self._exchanges.values()):
                exchange.closed()
        while self._exchanges:
            done = self._all_done = self.new_signal()
            await done.wait()
        if not self._cut:
            self.flush()
            if self._writing and self._send_nowait is not None and self._out:
                # The transport queues it and closes once it is written.
                data = b"".join(self._out)
                self._out.clear()
                with contextlib.suppress(TransportClosed, ConnectionError):
                    self._send_nowait(data)
            elif self._writing:
                await self._linger(until_written=True)
            if not self.disconnected:
                if not self.conn.failed:
                    await self._linger()
                elif not self._writing:
                    # After an error GOAWAY the client is owed a close at once
                    # (RFC 9113 section 5.4.1): a half-close, where the
                    # transport has one, then what it still sends is read
                    # so that no reset overtakes the GOAWAY.
                    send_eof = getattr(self.transport, "send_eof", None)
                    if send_eof is not None and self.transport.info.tls is None:
                        with contextlib.suppress(TransportClosed, ConnectionError):
                            await send_eof()
                            await self._linger()
        if self._cut or (self._writing and not self.disconnected):
            abort = getattr(self.transport, "abort", None)
            if abort is not None:
                abort()
        await self.transport.close()

    async def _linger(self, *, until_written: bool = False) -> None:
        """Read and discard until the client closes, for ``Limits.linger_timeout`` at most.

        The client learns from the GOAWAY that the connection ends, and
        closes its side once it has read the last response; until then it
        may still send (a WINDOW_UPDATE for that response, say).  Closing
        with its bytes unread would make the kernel reset the connection,
        and a reset can destroy the last response before the client reads
        it (as RFC 9112 section 9.6 says of HTTP/1.1).  Meanwhile a write
        in progress completes.

        :param until_written: stop as soon as no write is in progress.
        """
        self._lingering = True
        deadline = self.clock() + self.limits.linger_timeout
        while not self.disconnected and self.clock() < deadline:
            if until_written and not self._writing:
                return
            self._reading = True
            try:
                data = await self.transport.receive(deadline)
            except TimeoutError:
                self._wake = False
                continue
            except (TransportClosed, ConnectionError):
                return
            finally:
                self._reading = False
            if not data:
                return
            if not self.conn.closed:
                # A client that said GOAWAY may still PING; its answers go out.
                self._handle(self.conn.receive_data(data))
                self.flush()
