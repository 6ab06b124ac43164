"""The server side of one HTTP/1.1 connection, without I/O.

Rules this module keeps:

* It never touches a socket, a clock or a random source of its own: bytes
  come in through :meth:`ServerConnection.receive_data`, bytes to send come
  back from the ``send_*`` methods, and time is read from the ``clock``
  passed in.  Timeouts are *deadlines* in that clock's terms; the caller
  only arms a timer and calls :meth:`ServerConnection.timeout_error`.
* Every HTTP decision that is not parsing lives here: limits, keep-alive,
  ``100 Continue``, error responses, and writing responses
  (:mod:`crosswind.protocol.http1.writer`).  Parsing requests is the engine's job
  (:mod:`crosswind.protocol.http1.engine`), and the engine only ever sees vetted input: a
  complete head that :func:`~crosswind.protocol.http1.head.screen_head` accepted (its bytes,
  or for a screened engine such as the native one, the parse itself), and
  the body up to the end of the current message.  Bytes of a pipelined request
  wait here until their turn, so responses always go out in request order.
* After a rejected request nothing more is read: the error response is the
  last thing the connection sends, and any request smuggled behind the bad
  one is never parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import cast

from ...errors import LocalProtocolError, RemoteProtocolError, RequestError
from ...httpdate import DateCache
from ..events import NEED_DATA, PAUSED, ConnectionClosed, Data, EndOfMessage, Event
from ..limits import Limits
from ..status import reason_phrase
from . import engine as engines
from .chunked import ChunkedScanner
from .engine import Engine, ScreenedEngine
from .head import Head, find_head_end, screen_head
from .writer import CONTINUE, ResponseWriter, server_line

__all__ = ["ServerConnection"]

_HEAD, _BODY, _REQUEST_DONE, _CLOSED = range(4)
#: Seconds a connection waits, idle or sending, before it may be shed.
SHED_AFTER = 1.0
# Seconds a connection kept alive into a shutdown waits for a next request
# that is already on its way, before it closes as idle.
_LAST_CALL = 0.05


class ServerConnection:
    """Policy and state of one server connection.

    :param limits: the limits to enforce.
    :param clock: monotonic seconds; deadlines are in the same terms.
    :param wall_clock: POSIX seconds, for the ``Date`` field every response
        gets unless the application set one; ``None`` (a server without a
        clock) sends no ``Date``.  Separate from *clock*, which may be a
        monotonic one that says nothing about the date.
    :param server: the ``Server`` field every response gets unless the
        application set one, such as
        :data:`~crosswind.protocol.http1.writer.SERVER_NAME`; ``None`` adds none.
    :param engine: name of the protocol engine (``"native"``, ``"h11"``), an
        instance, or ``None`` for :data:`crosswind.protocol.http1.engine.DEFAULT_ENGINE` as it
        is when the connection is made.
    """

    #: The screened head of the current request, once it has arrived.
    head: Head | None
    #: Whether the whole request body has been read.  Plain attributes, not
    #: properties, as the driver reads them for every request (see bench/NOTES.md).
    request_complete: bool
    #: Whether the response has been ended (or an error response sent).
    response_done: bool
    #: Body size allowed for the current request; a route may change it
    #: before it reads the body.
    max_body_size: int

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float] | None = None,
        server: str | None = None,
        engine: str | Engine | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._date = None if wall_clock is None else DateCache(wall_clock)
        if engine is None:
            engine = engines.DEFAULT_ENGINE
        self._engine = engines.make_engine(engine) if isinstance(engine, str) else engine
        # A screened engine takes the Head and de-chunked data (crosswind.protocol.http1.engine);
        # it is kept a second time under that type, for the calls only such an engine answers.
        self._screened_engine: ScreenedEngine | None = None
        if getattr(self._engine, "parses_head", True) is False:
            self._screened_engine = cast(ScreenedEngine, self._engine)
        self._screened = self._screened_engine is not None
        self._buffer = bytearray()
        self._eof = False
        self._shutting_down = False
        # (The writer refuses a server value that is no field value.)
        self._writer = ResponseWriter(
            head_request=False, http10=False, date=self._date, server=server
        )
        # The line send_error() adds besides the date: made once, not per error.
        self._server_line = b"" if server is None else server_line(server)
        self._start_cycle()

    def _start_cycle(self) -> None:
        """Wait for a request, with nothing left of any earlier request or response.

        The one place per-request state is set, for the first request of a
        connection and for every one after a kept-alive response alike.  The
        response writer is set up when the head arrives, as it depends on it.
        """
        now = self._clock()
        self._state = _HEAD
        self._cycle_start = now
        self._last_progress = now
        # Bytes already here are the start of a pipelined head: its time runs from now.
        self._head_start: float | None = now if self._buffer else None
        self.head = None
        self._scanner: ChunkedScanner | None = None
        self._body_left = 0  # bytes of a Content-Length body not yet handed on
        self._body_seen = 0
        self._body_start = now
        self._body_received = 0  # raw bytes of the body so far, for the rate floor
        self.request_complete = True
        self.max_body_size = self.limits.max_body_size
        self._continue_sent = False
        self._response_started = False
        self.response_done = False
        self._head_only = False
        self._keep_alive = True

    # -- input -----------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed its side."""
        if data:
            self._buffer += data
            now = self._clock()
            self._last_progress = now
            state = self._state
            if state == _BODY:
                self._body_received += len(data)
            elif state == _HEAD and self._head_start is None:
                self._head_start = now
        else:
            self._eof = True

    def next_event(self) -> Event | object:
        """Return the next event, :data:`~crosswind.protocol.events.NEED_DATA` or
        :data:`~crosswind.protocol.events.PAUSED`.

        :raises RemoteProtocolError: the request is refused; answer with
            :meth:`send_error` and close.
        :raises RequestError: the body exceeds :attr:`max_body_size` (413).
        """
        try:
            if self._state == _BODY:
                return self._next_body_event()
            if self._state == _HEAD:
                if not self._buffer and not self._eof:
                    # The driver asks once before each read: no second call then.
                    return NEED_DATA
                return self._next_head_event()
            if self._state == _REQUEST_DONE:
                return PAUSED
            return ConnectionClosed()
        except RequestError:
            self._keep_alive = False
            raise

    def _next_head_event(self) -> Event | object:
        buffer = self._buffer
        if buffer and buffer[0] == 13:  # an int, not a one-byte slice to compare
            while buffer[:2] == b"\r\n":  # RFC 9112 section 2.2: tolerate stray CRLFs
                del buffer[:2]
        if not buffer:
            if self._eof:
                self._state = _CLOSED
                return ConnectionClosed()
            return NEED_DATA
        # Known before the head is vetted, so that an error answering a
        # refused HEAD request carries no body either.
        self._head_only = buffer[0] == 72 and buffer.startswith(b"HEAD ")  # 72: "H"
        end = find_head_end(buffer, self.limits)
        if end < 0:
            if self._eof:
                self._state = _CLOSED
                raise RemoteProtocolError("connection closed inside the request head", 400)
            return NEED_DATA
        if end == len(buffer):  # the usual case: one read, one request
            raw = bytes(buffer)
            buffer.clear()
        else:
            raw = bytes(buffer[:end])
            del buffer[:end]
        head = screen_head(raw, self.limits)
        self.head = head
        # Unpacked once: a named tuple's attributes are slower to read than locals.
        method, _, _, version, content_length, chunked, _, self._keep_alive = head
        # One writer per connection, reset per response (no object each time).
        self._writer.reset(self._head_only, version == b"1.0", method == b"CONNECT")
        engine = self._engine
        screened = self._screened_engine
        event: Event | object
        if screened is not None:
            event = screened.receive_head(head)
        else:
            line_end = raw.index(b"\r\n")
            if raw[line_end - 3 : line_end] != version:
                # An HTTP/1.x above 1.1 goes to the engine as the 1.1 it is served as.
                raw = raw[: line_end - 3] + version + raw[line_end:]
            engine.receive_data(raw)
            event = engine.next_event()
        if chunked:
            self._scanner = ChunkedScanner(
                self.limits.max_chunk_line, self.limits.max_head_size, decode=self._screened
            )
            self.request_complete = False
        elif content_length:
            self._body_left = content_length
            self.request_complete = False
        else:
            # (A screened engine ended the message with the head.)
            self.request_complete = True
        # The body's deadlines run from the read that completed the head,
        # which receive_data() already recorded as the last progress.
        self._body_start = self._last_progress
        self._body_received = len(self._buffer)
        self._state = _BODY
        return event

    def _next_body_event(self) -> Event | object:
        head = self.head
        assert head is not None
        if head.content_length is not None and head.content_length > self.max_body_size:
            raise RequestError("request body too large", 413)
        while True:
            event = self._engine.next_event()
            if event is not NEED_DATA:
                if type(event) is Data:
                    self._body_seen += len(event.data)
                    if self._body_seen > self.max_body_size:
                        raise RequestError("request body too large", 413)
                elif type(event) is EndOfMessage:
                    self._state = _REQUEST_DONE
                    self.request_complete = True
                return event
            if not self._feed_body():
                if self._eof:
                    raise RemoteProtocolError("connection closed inside the request body", 400)
                return NEED_DATA

    def _feed_body(self) -> bool:
        """Hand the engine the buffered bytes that belong to this body."""
        buffer = self._buffer
        if not buffer:
            return False
        scanner = self._scanner
        if scanner is not None:
            # The limit as it is now: the route may have changed it before reading.
            take = scanner.scan(buffer, max_body=self.max_body_size)
            del buffer[:take]
            chunk = scanner.take_output()
            if chunk:
                self._engine.receive_data(chunk)
            if self._screened_engine is not None and scanner.done:
                self._screened_engine.receive_end(scanner.trailers)
            return take > 0
        take = min(self._body_left, len(buffer))
        self._body_left -= take
        if take == 0:
            return False
        if take == len(buffer):
            chunk = bytes(buffer)
            buffer.clear()
        else:
            chunk = bytes(buffer[:take])
            del buffer[:take]
        self._engine.receive_data(chunk)
        if self._screened_engine is not None and not self._body_left:
            self._screened_engine.receive_end(())
        return True

    # -- time ------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """When the current wait for the peer times out, in clock terms."""
        limits = self.limits
        if self._state == _HEAD:
            if self._head_start is not None and self._buffer:
                return self._head_start + limits.header_timeout
            if self._shutting_down:
                # Kept alive by a response sent before the shutdown: a request
                # the client sent before it is already on its way.
                return self._clock() + _LAST_CALL
            return self._cycle_start + limits.idle_timeout
        if self._state == _BODY:
            return min(
                self._last_progress + limits.body_timeout,
                self._body_start + limits.body_deadline,
                self._rate_deadline(),
            )
        return None

    def _rate_deadline(self) -> float:
        """When the body falls below ``min_body_rate``, at the bytes received so far."""
        limits = self.limits
        return (
            self._body_start + limits.body_rate_grace
            + self._body_received / limits.min_body_rate
        )

    def timeout_error(self) -> RequestError | None:
        """The error to answer a missed :attr:`deadline` with.

        ``None`` means the connection was idle between requests and should
        just be closed.
        """
        self._keep_alive = False
        if self._state == _HEAD and not self._buffer:
            self._state = _CLOSED
            return None
        reason = "timed out reading the request head"
        if self._state == _BODY:
            now = self._clock()
            if now >= self._body_start + self.limits.body_deadline:
                reason = "the request body took too long"
            elif now >= self._rate_deadline():
                reason = "the request body arrived too slowly"
            else:
                reason = "timed out reading the request body"
        self._state = _CLOSED
        return RequestError(reason, 408)

    # -- output ----------------------------------------------------------

    @property
    def response_started(self) -> bool:
        return self._response_started

    @property
    def client_may_be_sending(self) -> bool:
        """The client may still be sending this request's body.

        Not when it waits for a ``100 Continue`` that was never sent: it
        sends nothing then.
        """
        head = self.head
        return not self.request_complete and not (
            head is not None and head.expect_continue and not self._continue_sent
        )

    @property
    def keep_alive(self) -> bool:
        """Whether the connection will be reused after this response."""
        return self._keep_alive and not (self._shutting_down and not self._pipelined)

    @property
    def _pipelined(self) -> bool:
        """A next request has started arriving behind the current one."""
        return self.request_complete and bool(self._buffer)

    @property
    def wants_continue(self) -> bool:
        """The client waits for ``100 Continue`` before sending the body."""
        head = self.head
        return (
            head is not None
            and head.expect_continue
            and not self._continue_sent
            and not self._response_started
            and not self.request_complete
            # A body already known to be refused is not asked for: the 413
            # goes out instead, before the client sends it.
            and not (head.content_length is not None and head.content_length > self.max_body_size)
        )

    def send_continue(self) -> bytes:
        """Bytes of ``100 Continue`` if the client waits for it, else ``b""``."""
        if not self.wants_continue:
            return b""
        self._continue_sent = True
        return CONTINUE

    def send_response(
        self,
        status: int,
        headers: Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]],
        reason: bytes = b"",
        length: int | None = None,
        body: bytes | None = None,
    ) -> bytes:
        """Serialize the response head.

        :param headers: ``(name, value)`` pairs, all ``bytes`` or all latin-1
            ``str``; names in any case.
        :param length: the whole body's length when known: ``Content-Length``
            is added unless the headers frame the body themselves.
        :param body: the whole body (*length* is then its length): the bytes
            returned are the whole response, as if :meth:`send_data` and
            :meth:`send_end` followed, in one call.
        :raises LocalProtocolError: a response was already started, or the
            headers are not valid HTTP; with *body*, also a body that
            contradicts a ``Content-Length`` of the headers, as
            :meth:`send_data` or :meth:`send_end` would (the response counts
            as started then).
        """
        if self._response_started:
            raise LocalProtocolError("a response was already started for this request")
        if self.head is None:
            raise LocalProtocolError("no request to respond to")
        if not 200 <= status <= 999:
            raise LocalProtocolError(f"status {status} is not a final response status")
        # While shutting down, a connection is kept only for a pipelined
        # request already received: every request read gets its answer.
        keep = self._keep_alive and not (self._shutting_down and not self._pipelined) and not (
            not self.request_complete
            and (
                (self.head.expect_continue and not self._continue_sent)
                or self._body_left > self.limits.drain_limit
            )
        )
        # (The client may never send a body we did not ask for, and a huge
        # unread one is not worth draining: close after such a response.)
        if status < 300 and self.head.method == b"CONNECT":
            # The client takes a 2xx to CONNECT as an open tunnel and sends raw
            # bytes next; reading them as requests would smuggle them past it.
            keep = False
        writer = self._writer
        if body is None:
            data, self._keep_alive = writer.head(status, headers, reason, keep, length)
            self._response_started = True
            return data
        try:
            data, self._keep_alive = writer.head(status, headers, reason, keep, length, body)
        except LocalProtocolError:
            self._response_started = writer.head_written
            raise
        self._response_started = True
        self.response_done = True
        return data

    def send_data(self, data: bytes) -> bytes:
        """Serialize body bytes (nothing for a response to ``HEAD``)."""
        if not self._response_started or self.response_done:
            raise LocalProtocolError("body data sent outside a response")
        if self._head_only or not data:
            return b""
        return self._writer.data(data)

    def send_end(self) -> bytes:
        """Serialize the end of the response."""
        if not self._response_started or self.response_done:
            raise LocalProtocolError("response ended twice or never started")
        self.response_done = True
        return self._writer.end()

    def omit_server_header(self) -> None:
        """Add no ``Server`` field to the current response; one the application sets is sent."""
        self._writer.omit_server()

    def send_error(self, error: RequestError) -> bytes:
        """A complete plain-text error response that closes the connection.

        Written here rather than by the engine because the engine may never
        have seen a request it could answer (the head was refused first).
        """
        self._keep_alive = False
        self._state = _CLOSED
        if self._response_started:
            return b""
        self._response_started = True
        self.response_done = True
        body = (error.reason + "\n").encode("utf-8", "replace")
        status = error.status_code
        date = self._date
        return b"".join(
            (
                b"HTTP/1.1 %d %s\r\n" % (status, reason_phrase(status)),
                b"" if date is None else date.field_line(),
                self._server_line,
                b"Content-Type: text/plain; charset=utf-8\r\n",
                b"Content-Length: %d\r\n" % len(body),
                b"Connection: close\r\n\r\n",
                b"" if self._head_only else body,
            )
        )

    # -- lifecycle -------------------------------------------------------

    def start_shutdown(self) -> None:
        """Finish the current exchange, then close instead of keeping alive."""
        self._shutting_down = True

    @property
    def shutting_down(self) -> bool:
        """:meth:`start_shutdown` was called."""
        return self._shutting_down

    @property
    def idle(self) -> bool:
        """Between requests with nothing buffered: safe to close for shutdown."""
        return self._state == _HEAD and not self._buffer and not self._response_started

    def shed_order(self, now: float) -> tuple[int, float] | None:
        """Where the connection stands in line to be closed when the server is full.

        Lower comes first; ``None`` means it must not be shed.  First come
        connections waiting for a request head, longest waiting first (an
        idle keep-alive connection waits since its last response, a new one
        since it was made, a client trickling a head from the same moment);
        then bodies already below ``Limits.min_body_rate``, whose grace is
        for a server with room to spare.  Neither before it has waited
        ``SHED_AFTER`` seconds: a client that just connected, or was just
        answered, is most likely sending its request right now.

        :param now: the time, in the clock's terms.
        """
        if self._response_started:
            return None
        state = self._state
        if state == _HEAD:
            if now - self._cycle_start >= SHED_AFTER:
                return (0, self._cycle_start)
        elif state == _BODY:
            elapsed = now - self._body_start
            if elapsed >= SHED_AFTER and self._body_received < self.limits.min_body_rate * elapsed:
                return (1, self._body_start)
        return None

    def start_next_cycle(self) -> bool:
        """Prepare for the next request; ``False`` means close instead.

        The request body must have been read to its end (the driver drains
        it) and the response completed.
        """
        # During a shutdown too, a response that promised keep-alive is
        # followed by a last look for a request the client already sent
        # (see deadline); one that said close is not.
        if not (self.response_done and self.request_complete and self._keep_alive):
            self._state = _CLOSED
            return False
        self._engine.start_next_cycle()
        self._start_cycle()
        return True

    @property
    def reading_body(self) -> bool:
        """The current request's body (or its end) has events still to come."""
        return self._state == _BODY

    @property
    def closed(self) -> bool:
        return self._state == _CLOSED

    @property
    def trailing_data(self) -> bytes:
        """Bytes received but not yet handed to any request."""
        return bytes(self._buffer)
