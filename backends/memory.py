"""Run in-memory connections on an asyncio event loop.

``crosswind.testing`` drives the connection driver without any event loop,
which is enough for applications that never wait.  An ``async`` view that
awaits ``asyncio.sleep`` (or anything else that suspends) needs a loop;
:func:`run_in_memory` gives it one while still using the in-memory
transport, so tests stay socket-free.  The Flask-style test client uses it.

A conversation, such as a WebSocket's, needs the test and the server to
take turns: :class:`MemoryConnection` serves one connection on a loop in a
background thread and lets the calling thread send and receive bytes,
every wait bounded.  The test clients' ``websocket()`` use it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable, Iterable

from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.exchange import Application
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo, TransportClosed
from crosswind.testing.client import MemoryTransport

__all__ = ["MemoryConnection", "run_in_memory"]


def run_in_memory(
    app: Application,
    chunks: Iterable[bytes],
    *,
    info: ConnectionInfo | None = None,
    limits: Limits | None = None,
    clock: Callable[[], float] | None = None,
) -> bytes:
    """Serve one connection that receives *chunks* then EOF; return what was sent.

    :param app: the application.
    :param chunks: the bytes the client sends, in pieces.
    :param info: the connection's addresses (a loopback client by default).
    :param limits: the server limits.
    :param clock: monotonic seconds for the driver (default :func:`time.monotonic`).
    """
    transport = MemoryTransport(chunks, info)
    driver = ConnectionDriver(transport, app, clock=clock or time.monotonic, limits=limits)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # A fresh loop per connection leaves nothing behind; its
        # task runs in a copy of the caller's context, so what one request
        # sets is never seen by the next.
        asyncio.run(driver.run())
    else:
        # Called from inside a running loop (an async test): that loop is busy
        # waiting for us, so the connection gets a loop of its own in a thread.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, driver.run()).result()
    return bytes(transport.sent)


class _PeerTransport:
    """The server's side of a :class:`MemoryConnection`; lives on the connection's loop.

    A transport as :class:`~crosswind.protocol.transport.Transport` describes
    it: what the peer fed comes out of :meth:`receive`, what the driver sends
    goes to the peer at once (no back-pressure: the peer buffers it all).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        peer: MemoryConnection,
        info: ConnectionInfo,
        clock: Callable[[], float],
    ) -> None:
        self.info = info
        self.driver: ConnectionDriver | None = None
        self._loop = loop
        self._peer = peer
        self._clock = clock
        self._chunks: list[bytes] = []
        self._eof = False
        self._closed = False
        self._waiter: asyncio.Future[bytes] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stop_waiting: Callable[[ConnectionDriver], bool] | None = None
        self._close_callback: Callable[[], None] | None = None

    # -- the peer's side (called on the loop, through call_soon_threadsafe) --

    def feed(self, data: bytes) -> None:
        if self._eof:
            return
        waiter = self._take_waiter()
        if waiter is not None:
            waiter.set_result(data)
        else:
            self._chunks.append(data)

    def feed_eof(self) -> None:
        if self._eof:
            return
        self._eof = True
        waiter = self._take_waiter()
        if waiter is not None:
            waiter.set_result(b"")
        # A server waiting without reading (a long poll) hears of it now.
        self._report_close()

    def _report_close(self) -> None:
        callback, self._close_callback = self._close_callback, None
        if callback is not None:
            callback()

    def _take_waiter(self) -> asyncio.Future[bytes] | None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return waiter if waiter is not None and not waiter.done() else None

    def _expire(self) -> None:
        self._timer = None
        waiter = self._take_waiter()
        if waiter is not None:
            waiter.set_exception(TimeoutError())

    # -- crosswind.protocol.transport.Transport ------------------------------

    def receive(self, deadline: float | None) -> Awaitable[bytes]:
        future: asyncio.Future[bytes] = self._loop.create_future()
        if self._chunks:
            future.set_result(b"".join(self._chunks))
            self._chunks.clear()
        elif self._eof:
            future.set_result(b"")
        elif self._stop_waiting is not None and self._wait_ends():
            future.set_exception(TimeoutError())
        else:
            self._waiter = future
            if deadline is not None:
                self._timer = self._loop.call_later(max(0.0, deadline - self._clock()), self._expire)
        return future

    async def send(self, data: bytes) -> None:
        self.send_nowait(data)

    def send_nowait(self, data: bytes) -> None:
        if self._closed:
            raise TransportClosed("connection closed")
        self._peer._deliver(data)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._peer._deliver_close()

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self._close_callback = callback
        if callback is not None and self._eof:
            self._loop.call_soon(self._report_close)  # the peer left already

    def stop_waiting(self, condition: Callable[[ConnectionDriver], bool]) -> None:
        """End the pending receive (or the next one) with TimeoutError while *condition* holds."""
        self._stop_waiting = condition
        if self._waiter is not None and self._wait_ends():
            self._expire()

    def _wait_ends(self) -> bool:
        condition, driver = self._stop_waiting, self.driver
        return condition is not None and driver is not None and condition(driver)


class MemoryConnection:
    """One connection served on an asyncio loop in a thread of its own; the caller is its peer.

    :func:`run_in_memory` hands the server every byte up front, which suits
    a request.  A WebSocket conversation cannot be written down in advance:
    the server waits for the test's next message while the test waits for
    the server's answer.  Here the driver runs on a loop in a background
    thread and the calling thread talks to it with :meth:`send` and
    :meth:`receive`, every wait bounded by a timeout.  The bytes go through
    the real driver, handshake and limits; only the socket is missing.

    :param app: the application.
    :param info: the connection's addresses (a loopback client by default).
    :param limits: the server limits.
    :param clock: monotonic seconds for the driver (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        app: Application,
        *,
        info: ConnectionInfo | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._app = app
        self._info = info or ConnectionInfo(peer=("127.0.0.1", 50000), local=("127.0.0.1", 80))
        self._limits = limits
        self._clock = clock or time.monotonic
        self._changed = threading.Condition()
        self._received = bytearray()  # sent by the server, not yet read by the peer
        self._server_closed = False
        self._eof_sent = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: _PeerTransport | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def now() -> float:
        """Monotonic seconds, for the peer's own deadlines."""
        return time.monotonic()

    def start(self, timeout: float) -> None:
        """Start serving; return once the server's loop is ready for bytes.

        :param timeout: seconds to wait for the loop.
        :raises TimeoutError: the loop did not start in time.
        """
        # The server's task runs in a copy of the caller's context, as with
        # run_in_memory: what the connection sets stays with it.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._run,), name="crosswind-memory-connection", daemon=True
        )
        thread = self._thread
        thread.start()
        with self._changed:
            if not self._changed.wait_for(lambda: self._loop is not None or self._server_closed, timeout):
                raise TimeoutError(f"the in-memory server did not start within {timeout} s")
        if self._loop is None:
            self._raise_error()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # handed to the peer thread by wait_done
            self._error = error
        finally:
            with self._changed:
                self._server_closed = True
                self._changed.notify_all()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        transport = _PeerTransport(loop, self, self._info, self._clock)
        driver = ConnectionDriver(transport, self._app, clock=self._clock, limits=self._limits)
        transport.driver = driver
        with self._changed:
            self._loop, self._transport = loop, transport
            self._changed.notify_all()
        await driver.run()

    # -- called by the server's transport, on the loop --------------------------

    def _deliver(self, data: bytes) -> None:
        with self._changed:
            self._received += data
            self._changed.notify_all()

    def _deliver_close(self) -> None:
        with self._changed:
            self._server_closed = True
            self._changed.notify_all()

    # -- the peer's side --------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Hand *data* to the server.

        Bytes sent after the server closed the connection are dropped, as a
        socket's would be; the next :meth:`receive` reports the close.
        """
        self._call(lambda transport: transport.feed(data))

    def send_eof(self) -> None:
        """Close the peer's side: the server reads the end of the stream."""
        if not self._eof_sent:
            self._eof_sent = True
            self._call(_PeerTransport.feed_eof)

    def _call(self, action: Callable[[_PeerTransport], None]) -> None:
        loop, transport = self._loop, self._transport
        if loop is None or transport is None or self._server_closed:
            return
        # The loop may end between the check and the call: nothing is waiting then.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(action, transport)

    def receive(self, timeout: float) -> bytes:
        """What the server sent since the last call; ``b""`` once it has closed the connection.

        :param timeout: seconds to wait for the server.
        :raises TimeoutError: nothing came within *timeout*.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._received or self._server_closed, timeout):
                raise TimeoutError(f"the server sent nothing within {timeout} s")
            data = bytes(self._received)
            self._received.clear()
            return data

    def wait_done(self, timeout: float) -> None:
        """Wait until the server has finished with the connection (the application returned).

        :param timeout: seconds to wait.
        :raises TimeoutError: the server is still busy after *timeout*.
        """
        thread = self._thread
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"the server did not finish the connection within {timeout} s")
        self._raise_error()

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error
