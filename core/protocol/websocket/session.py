"""Running a :class:`~.connection.WebSocketConnection` over a detached connection, on any backend.

After the ``101 Switching Protocols`` has gone out, :class:`WebSocketSession`
reads from the :class:`~crosswind.protocol.exchange.DetachedStream`, feeds
the connection, hands each event to a :class:`SessionHandler` and writes what
the connection and the handler produce.  There is no backend-specific code
here: the stream's transport does the waiting.

Rules this module keeps:

* **One event at a time, in order.**  The handler's
  :meth:`~SessionHandler.event_received` may return an awaitable; the next
  event waits until it is done, as Tornado runs ``on_message``.  Exactly one
  closing event (:class:`~.events.CloseReceived` or :class:`~.events.Closed`)
  ends the session, and the stream is closed after it.  A caller that asks
  for messages in its own code pulls the same events one at a time with
  :meth:`~WebSocketSession.next_event`, and ends with
  :meth:`~WebSocketSession.finish`.
* **Time.**  Each read carries the connection's
  :attr:`~.connection.WebSocketConnection.deadline`; a read that times out
  calls :meth:`~.connection.WebSocketConnection.handle_deadline` (a
  keep-alive ping, or giving up on a silent peer).
* **One writer at a time.**  Sends may come from the handler's callbacks or
  from other tasks (a broadcast).  On a transport that writes with a plain
  call (``send_nowait``: asyncio, threads) every send is handed over at once
  and the transport keeps the order; the first pause it reports is kept
  and awaited before the next read or by whoever awaits a send, so one
  waiter exists at a time.  On a transport that only writes by awaiting
  (trio), bytes queue in the session and one coroutine writes at a time,
  taking what others queued meanwhile; a send made outside the session's
  own loop and never awaited is written by the loop, which it wakes.
  Coroutines only switch at ``await``, so a flag is lock enough there.  The
  threaded backend, where threads really do race, offers a re-entrant
  ``send_lock``, held around every use of the connection and every write.
* **Back-pressure.**  Bytes count as queued until the transport took them
  (:meth:`~.connection.WebSocketConnection.mark_written`); while
  :attr:`~.connection.WebSocketConnection.must_wait`, or while the transport
  reports a pause, nothing more is read before the writes are done.
* **Shutdown.**  When the server shuts down, the driver tells the stream
  (:attr:`~crosswind.protocol.exchange.DetachedStream.shutting_down`) and
  interrupts its read; the session then closes with ``1001`` (going away)
  and waits for the peer's close as usual, within ``ws_close_timeout``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Protocol, cast

from ..events import NEED_DATA
from ..exchange import ClientDisconnected, DetachedStream
from .connection import WebSocketClosed, WebSocketConnection
from .events import ENDINGS, Event

__all__ = ["GOING_AWAY", "SessionHandler", "WebSocketSession"]

#: The close code sent to every peer when the server shuts down (RFC 6455 section 7.4.1).
GOING_AWAY = 1001


class SessionHandler(Protocol):
    """What a session hands its events to: a Tornado handler, a Flask view, an ASGI app."""

    def event_received(self, event: Event) -> Awaitable[None] | None:
        """Take one event; the next one waits until the returned awaitable is done.

        After a closing event nothing more is delivered, and the stream is
        closed once the session has written what remains.
        """
        ...


class _Sent:
    """What a send returns: awaiting it waits until the bytes are handed to the transport.

    A plain object rather than a coroutine: a send that is never awaited
    (Tornado code rarely awaits ``write_message``) leaves nothing behind.
    """

    __slots__ = ("_session",)

    def __init__(self, session: WebSocketSession) -> None:
        self._session = session

    def __await__(self) -> Generator[Any, None, None]:
        session = self._session
        # Nothing held back and nothing to report: no flush() coroutine, the
        # usual case for a Flask-style view's ``await websocket.send()``.
        if session._waiter is not None or session._pending or session._broken:
            yield from session.flush().__await__()


class WebSocketSession:
    """One WebSocket connection being served over a detached stream.

    :param stream: the stream, after the ``101`` went out.
    :param connection: the connection made with the handshake's choices.
    """

    def __init__(self, stream: DetachedStream, connection: WebSocketConnection) -> None:
        self.stream = stream
        self.connection = connection
        lock = stream.send_lock
        self._guard: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if lock is None else lock
        )
        self._send_nowait = stream.send_nowait
        self._pending = bytearray()  # bytes queued behind the writer (await-only transports)
        self._writing = False
        self._waiter: Awaitable[None] | None = None  # the transport's pause, to await once
        self._broken = False
        self._reading = False  # the loop waits for the peer
        self._ended = False  # next_event returned the closing event

    # -- sending ---------------------------------------------------------

    def send_text(self, text: str) -> _Sent:
        """Send a text message; await the result to wait until the transport took it.

        :raises WebSocketClosed: the connection is closing or closed.
        """
        return self._send(lambda: self.connection.send_text(text))

    def send_bytes(self, data: bytes) -> _Sent:
        """Send a binary message (see :meth:`send_text`).

        :raises WebSocketClosed: the connection is closing or closed.
        """
        return self._send(lambda: self.connection.send_bytes(data))

    def send_ping(self, payload: bytes = b"") -> _Sent:
        """Send a ping of at most 125 bytes (see :meth:`send_text`).

        :raises ValueError: the payload is longer.
        :raises WebSocketClosed: the connection is closing or closed.
        """
        return self._send(lambda: self.connection.send_ping(payload))

    def close(self, code: int = 1000, reason: str = "") -> _Sent:
        """Start the closing handshake; the session ends when the peer answers or gives up.

        Closing a connection that is closing or closed does nothing.

        :param code: a close code an endpoint may send.
        :param reason: at most 123 bytes of UTF-8.
        :raises ValueError: the code or the reason cannot be sent.
        """
        return self._send(lambda: self.connection.close(code, reason), closing=True)

    def abort(self) -> None:
        """End the connection at once, without a close frame (Tornado's abort after an error).

        The handler still gets its closing event (``1006``).
        """
        with self._guard:
            self._broken = True
            self.connection.receive_data(b"")
        if self._reading:
            self.stream.interrupt_receive()

    def _send(self, make: Callable[[], bytes], closing: bool = False) -> _Sent:
        with self._guard:
            if self._broken and not closing:
                # The connection still counts as open until the loop takes
                # its closing event; a sender must not wait for that.  (A
                # close goes nowhere instead, as on a closed connection.)
                raise WebSocketClosed("the connection was lost")
            data = make()
            if data:
                self._hand_over(data)
        return _Sent(self)

    def _hand_over(self, data: bytes) -> None:
        """Give *data* to the transport now, or queue it behind the writer (under the guard)."""
        if self._broken:
            self.connection.mark_written(len(data))  # nowhere to go: forget it
            return
        send_nowait = self._send_nowait
        if send_nowait is None or self._writing:
            self._pending += data
            if not self._writing and self._reading:
                # Nobody may await this send: the session's loop writes it.
                self.stream.interrupt_receive()
            return
        try:
            waiter = send_nowait(data)
        except (ConnectionError, ClientDisconnected):
            self._lost()
            return
        finally:
            self.connection.mark_written(len(data))
        if waiter is not None:
            if self._waiter is None:
                self._waiter = waiter
            else:
                _discard(waiter)  # the pause already held ends at the same moment

    async def flush(self) -> None:
        """Wait until everything sent so far is handed to the transport.

        :raises WebSocketClosed: the peer went away before it was.
        """
        with self._guard:
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._writing = True
            try:
                await waiter
            except (ConnectionError, ClientDisconnected):
                self._lost()
            finally:
                self._writing = False
        if self._pending and not self._writing:
            await self._write_pending()
        if self._broken:
            raise WebSocketClosed("the connection was lost")

    async def _write_pending(self) -> None:
        self._writing = True
        try:
            while self._pending and not self._broken:
                with self._guard:
                    data = bytes(self._pending)
                    self._pending.clear()
                try:
                    await self.stream.send(data)
                except (ConnectionError, ClientDisconnected):
                    self._lost()
                finally:
                    with self._guard:
                        self.connection.mark_written(len(data))
        finally:
            self._writing = False

    def _lost(self) -> None:
        """The transport failed while writing: the peer is gone.

        The loop learns it from its next read, so that read must not wait
        for a peer that will never speak: a write that failed on another
        thread (threads) or task ends it, pending or next alike.
        """
        with self._guard:
            self._broken = True
            if self._pending:
                self.connection.mark_written(len(self._pending))
                self._pending.clear()
            self.connection.receive_data(b"")
        self.stream.interrupt_receive()

    # -- the loop ----------------------------------------------------------

    async def run(self, handler: SessionHandler) -> None:
        """Serve the connection until it closes, then close the stream.

        :param handler: gets every event, the closing one last.
        """
        try:
            await self._flush_quietly()
            while True:
                event = await self._next()
                result = handler.event_received(event)
                if result is not None:
                    await result
                self._write_own()
                if self._pending or self._waiter is not None:  # deliberate, see bench/NOTES.md
                    await self._flush_quietly()
                if isinstance(event, ENDINGS):
                    return
        finally:
            await self.stream.close()

    async def next_event(self) -> Event:
        """Read until the connection has an event, and return it: :meth:`run` one step at a time.

        For a caller that asks for messages in its own code (a Flask-style
        view's ``receive()``) instead of handing a handler every event.
        What the connection answers of its own accord (a pong, the echo of
        the peer's close) is written before the event is returned.  Once the
        closing event is returned, call :meth:`finish`.

        :raises WebSocketClosed: the closing event was returned already.
        """
        if self._ended:
            raise WebSocketClosed("the WebSocket connection is closed")
        event = await self._next()
        self._write_own()
        if self._pending or self._waiter is not None:
            await self._flush_quietly()
        if isinstance(event, ENDINGS):
            self._ended = True
        return event

    async def _next(self) -> Event:
        """Read until the connection has an event (what it queued meanwhile stays queued)."""
        connection = self.connection
        while True:
            with self._guard:
                event = connection.next_event()
            if event is not NEED_DATA:
                return cast(Event, event)
            if connection.must_wait or self._waiter is not None or self._pending:
                await self._flush_quietly()
            await self._read()

    async def finish(self, code: int = 1000, reason: str = "") -> None:
        """End a connection served with :meth:`next_event`, and close the stream.

        Sends a close frame with *code* unless one went out already, then
        reads (dropping any messages) until the peer answers, or until
        ``ws_close_timeout`` gives up on it.

        :param code: a close code an endpoint may send.
        :param reason: at most 123 bytes of UTF-8.
        :raises ValueError: the code or the reason cannot be sent.
        """
        try:
            self.close(code, reason)
            while not self._ended:
                await self.next_event()
            await self._flush_quietly()
        finally:
            await self.stream.close()

    async def _read(self) -> None:
        connection = self.connection
        stream = self.stream
        if stream.shutting_down:
            # Told before this read began (an upgrade served during a
            # shutdown): the close goes out now, not after the peer speaks.
            self._going_away()
            await self._flush_quietly()
        self._reading = True
        try:
            data = await stream.receive(connection.deadline)
        except TimeoutError:
            # A deadline, a shutdown, or another task's bytes to write.
            data = None
        finally:
            self._reading = False
        if stream.shutting_down:
            # Checked whatever ended the read: bytes may have come with the
            # interruption, and the threaded backend ends the read with b"".
            self._going_away()
        with self._guard:
            if data is None:
                connection.handle_deadline()
            else:
                connection.receive_data(data)
        self._write_own()

    def _going_away(self) -> None:
        with contextlib.suppress(WebSocketClosed), self._guard:
            if not self.connection.closing and not self.connection.closed:
                self._hand_over(self.connection.close(GOING_AWAY, "server shutting down"))

    def _write_own(self) -> None:
        """Hand over what the connection queued of its own accord (pongs, closes, pings)."""
        with self._guard:
            data = self.connection.data_to_send()
            if data:
                self._hand_over(data)

    async def _flush_quietly(self) -> None:
        with contextlib.suppress(WebSocketClosed):
            await self.flush()


def _discard(waiter: Awaitable[None]) -> None:
    """Drop an awaitable that will not be awaited, without a never-awaited warning."""
    close = getattr(waiter, "close", None)
    if close is not None:
        close()
