"""One WebSocket connection after the handshake (RFC 6455 sections 5 to 7), without I/O.

Rules this module keeps:

* Framing, masking, UTF-8 checks and permessage-deflate are wsproto's
  (:class:`wsproto.connection.Connection`); this module decides what wsproto
  leaves to a server: limits, answering pings and closes, timers, and which
  close code answers which fault.
* Bytes from the peer come in through :meth:`WebSocketConnection.receive_data`
  (``b""`` when the peer closed the transport) and leave as events from
  :meth:`~WebSocketConnection.next_event`, one whole message at a time.
* Bytes go out two ways, according to who decided to send them.  What the
  caller asks for comes back from the call that asks (:meth:`~WebSocketConnection.send_text`,
  :meth:`~WebSocketConnection.close` ...).  What the connection sends of its own accord -- the
  pong answering a ping, the close answering the peer's close, the keep-alive
  ping, the close that fails a connection -- waits in
  :meth:`~WebSocketConnection.data_to_send`, which the caller empties after
  :meth:`~WebSocketConnection.next_event` and :meth:`~WebSocketConnection.handle_deadline`.
* Back-pressure: every byte handed out counts as queued until the caller
  reports it written with :meth:`~WebSocketConnection.mark_written`; past
  ``Limits.ws_max_queued_bytes``, :attr:`~WebSocketConnection.must_wait` says
  to stop sending and reading until the peer catches up.  (A peer that sends
  pings without reading the pongs is held back the same way, and only the
  latest of several unsent pongs is kept, as section 5.5.3 allows.)
* A peer that breaks the protocol is failed (section 7.1.7): the close frame
  with the code is queued, the connection is closed at once, and nothing the
  peer sends afterwards is read.  Protocol errors -- reserved bits without an
  extension that defines them, an unmasked frame, an unknown opcode, a
  fragmented control frame or one over 125 bytes, a close code no endpoint may
  send -- close with ``1002``; invalid UTF-8 in a text message or a close
  reason, and compressed data that does not inflate, with ``1007``; a frame
  over ``ws_max_frame_size`` or a message over ``ws_max_message_size`` with
  ``1009``.  The close reasons are ours and never repeat the peer's bytes.
* Time is read from the ``clock`` passed in.  Timeouts are deadlines in its
  terms (:attr:`~WebSocketConnection.deadline`); the caller arms one timer
  and calls :meth:`~WebSocketConnection.handle_deadline` when it fires.
* After a :class:`~crosswind.protocol.websocket.events.CloseReceived` or
  :class:`~crosswind.protocol.websocket.events.Closed` nothing more is
  produced: :meth:`~WebSocketConnection.next_event` returns
  :data:`~crosswind.protocol.events.NEED_DATA` and the ``send_*`` methods
  raise :class:`WebSocketClosed`.  The caller writes what
  :meth:`~WebSocketConnection.data_to_send` still holds, then closes the
  transport (the server closes TCP first, section 7.1.1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from wsproto import events as ws
from wsproto.connection import Connection, ConnectionType
from wsproto.extensions import Extension
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

from ...errors import CrosswindError, LocalProtocolError
from ..events import NEED_DATA
from ..limits import Limits
from .deflate import Deflate
from .events import BytesMessage, Closed, CloseReceived, Event, Ping, Pong, TextMessage

__all__ = ["WebSocketClosed", "WebSocketConnection", "sendable_close_code"]

_OPEN, _CLOSING, _CLOSED = range(3)
#: The close reason sent when the peer is failed, by close code.
_FAILURES = {1002: "protocol error", 1007: "invalid message data", 1009: "message too big"}
#: The code for a connection that ended without a close frame (section 7.1.5).
_ABNORMAL = 1006
# A close frame's payload is at most 125 bytes, two of them the code.
_MAX_CLOSE_REASON = 123
_MAX_CONTROL_PAYLOAD = 125
#: What _FrameLimit answers for every frame within the limit: no reserved bit claimed.
#: One instance, not a new tuple per frame (see bench/NOTES.md).
_NO_RSV = RsvBits(False, False, False)


class WebSocketClosed(CrosswindError):
    """The connection is closing or closed: nothing more can be sent on it."""


def sendable_close_code(code: int) -> bool:
    """Whether an endpoint may put *code* in a close frame (RFC 6455 section 7.4).

    The codes defined for the protocol that mean something on the wire
    (1000-1003 and 1007-1013) and the ranges for libraries (3000-3999) and
    applications (4000-4999): the codes this side accepts from a peer too.
    1005, 1006 and 1015 only ever describe a close locally; 1014, registered
    later with IANA, is refused by wsproto peers as an unknown reserved code.

    :param code: a close status code.
    """
    return 1000 <= code <= 1003 or 1007 <= code <= 1013 or 3000 <= code <= 4999


class _FrameLimit(Extension):
    """Refuses a frame whose header declares a payload over the limit.

    An extension because wsproto shows every extension each frame header
    before it reads the payload: the verdict comes from the header alone,
    however the bytes were split.  It is never offered or negotiated, and
    claims no reserved bit.
    """

    name = "crosswind-frame-limit"

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.tripped = False

    def enabled(self) -> bool:
        return True

    def offer(self) -> bool:
        return False

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        if payload_length > self.max_size:
            self.tripped = True
            return CloseReason.MESSAGE_TOO_BIG
        return _NO_RSV


class WebSocketConnection:
    """Policy and state of one WebSocket connection, a server's or a client's.

    :param limits: the limits to enforce (``ws_max_message_size``,
        ``ws_max_frame_size``, ``ws_close_timeout``, ``ws_max_queued_bytes``).
    :param clock: monotonic seconds; deadlines are in the same terms.
    :param extensions: the extensions the handshake agreed on
        (:attr:`Accepted.extensions <crosswind.protocol.websocket.handshake.Accepted>`).
    :param subprotocol: the subprotocol the handshake agreed on, if any.
    :param ping_interval: seconds between keep-alive pings, or ``None`` for
        none (Tornado's ``websocket_ping_interval``).
    :param ping_timeout: seconds a ping may go unanswered before the peer is
        given up for gone, or ``None`` to wait forever (Tornado's
        ``websocket_ping_timeout``).  It applies to every ping sent, the
        keep-alive ones and those of :meth:`send_ping`; any pong answers.
    :param client: play the client's part (RFC 6455 section 5.3): mask every
        frame sent and fail a masked frame received.  Everything else is the
        same for both ends, the close codes included.
    :raises ValueError: an interval or timeout that is not positive.
    """

    #: The status code the connection closed with (see the closing events), or ``None``.
    close_code: int | None
    #: The reason that came with :attr:`close_code`, or ``None``.
    close_reason: str | None

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float],
        extensions: Iterable[Extension] = (),
        subprotocol: str | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        client: bool = False,
    ) -> None:
        for name, value in (("ping_interval", ping_interval), ("ping_timeout", ping_timeout)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number or None, not {value!r}")
        self.limits = limits = limits or Limits()
        self._clock = clock
        self.subprotocol = subprotocol
        self.extensions = tuple(extensions)
        for extension in self.extensions:
            if isinstance(extension, Deflate) and extension.max_inflated is None:
                extension.max_inflated = limits.ws_max_message_size
        self._frame_limit = _FrameLimit(limits.ws_max_frame_size)
        role = ConnectionType.CLIENT if client else ConnectionType.SERVER
        self._ws = Connection(role, [*self.extensions, self._frame_limit])
        self.client = client
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._state = _OPEN
        self._eof = False
        self._events: deque[Event] = deque()
        # A message arriving in pieces, as UTF-8 for text (re-encoded: one
        # buffer however small the pieces, decoded once at the end).
        self._message = bytearray()
        self._message_size = 0
        self._outgoing = bytearray()
        self._pong_at: tuple[int, int] | None = None  # an unsent pong's span in _outgoing
        self._in_flight = 0
        now = clock()
        self._next_ping = None if ping_interval is None else now + ping_interval
        self._unanswered_since: float | None = None
        self._close_sent_at = 0.0
        self.close_code = None
        self.close_reason = None

    # -- input -----------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer; ``b""`` means the peer closed the transport.

        Bytes after the connection closed are ignored.
        """
        if self._state == _CLOSED or self._eof:
            return
        if data:
            self._ws.receive_data(data)
        else:
            self._eof = True

    def next_event(self) -> Event | object:
        """Return the next event, or :data:`~crosswind.protocol.events.NEED_DATA`.

        Afterwards, :meth:`data_to_send` may hold bytes to write (a pong, a
        close frame).
        """
        events = self._events
        while not events:
            if self._state == _CLOSED:
                return NEED_DATA
            before = self._ws.state
            event = next(self._ws.events(), None)
            if event is None:
                if self._eof:
                    self._finish(Closed(_ABNORMAL, "the connection was lost"))
                    continue
                return NEED_DATA
            self._handle(event, before)
        return events.popleft()

    def _handle(self, event: ws.Event, before: object) -> None:
        if isinstance(event, ws.Message):
            self._take_piece(event)
        elif isinstance(event, ws.Ping):
            if self._state == _OPEN:
                self._queue_pong(event.payload)
            self._events.append(Ping(bytes(event.payload)))
        elif isinstance(event, ws.Pong):
            self._unanswered_since = None
            self._events.append(Pong(bytes(event.payload)))
        elif isinstance(event, ws.CloseConnection):
            # wsproto reports a frame it could not parse as a close it made
            # up, leaving its state as it was; a real close frame moves it on.
            if self._ws.state is before:
                self._fail(event.code)
                return
            if self._state == _OPEN:
                # Echo the code (section 5.5.1), but not the peer's reason.
                self._outgoing += self._ws.send(ws.CloseConnection(code=event.code))
            self._finish(CloseReceived(int(event.code), event.reason or ""))

    def _take_piece(self, event: ws.Message[Any]) -> None:
        data: str | bytes = event.data
        text = isinstance(data, str)
        if isinstance(data, str) and not data.isascii():
            self._message_size += len(data.encode("utf-8"))
        else:
            self._message_size += len(data)
        if self._message_size > self.limits.ws_max_message_size:
            self._fail(CloseReason.MESSAGE_TOO_BIG)
            return
        buffer = self._message
        if event.message_finished and not buffer:
            whole = data  # the usual case: a message in one piece
        else:
            buffer += data.encode("utf-8") if isinstance(data, str) else data
            if not event.message_finished:
                return
            whole = buffer.decode("utf-8") if text else bytes(buffer)
            buffer.clear()
        self._message_size = 0
        self._events.append(TextMessage(whole) if isinstance(whole, str) else BytesMessage(whole))

    def _fail(self, code: int) -> None:
        """Fail the connection because of what the peer sent (section 7.1.7)."""
        if code == CloseReason.MESSAGE_TOO_BIG and self._frame_limit.tripped:
            reason = "frame too big"
        else:
            reason = _FAILURES.get(code, "protocol error")
        if self._state == _OPEN:
            self._outgoing += self._ws.send(ws.CloseConnection(code=code, reason=reason))
        self._finish(Closed(int(code), reason))

    def _finish(self, event: CloseReceived | Closed) -> None:
        self._state = _CLOSED
        self.close_code = event.code
        self.close_reason = event.reason
        self._message.clear()
        self._events.append(event)

    # -- output ----------------------------------------------------------

    def send_text(self, text: str) -> bytes:
        """The bytes of a text message.

        :raises WebSocketClosed: the connection is closing or closed.
        """
        return self._send(ws.TextMessage(data=text))

    def send_bytes(self, data: bytes) -> bytes:
        """The bytes of a binary message.

        :raises WebSocketClosed: the connection is closing or closed.
        """
        return self._send(ws.BytesMessage(data=bytes(data)))

    def send_ping(self, payload: bytes = b"") -> bytes:
        """The bytes of a ping; its pong is awaited for ``ping_timeout``.

        :param payload: at most 125 bytes.
        :raises ValueError: the payload is longer.
        :raises WebSocketClosed: the connection is closing or closed.
        """
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise ValueError("a ping carries at most 125 bytes")
        data = self._send(ws.Ping(payload=bytes(payload)))
        if self._unanswered_since is None:
            self._unanswered_since = self._clock()
        return data

    def send_pong(self, payload: bytes = b"") -> bytes:
        """The bytes of an unsolicited pong (pings are answered without it).

        :param payload: at most 125 bytes.
        :raises ValueError: the payload is longer.
        :raises WebSocketClosed: the connection is closing or closed.
        """
        if len(payload) > _MAX_CONTROL_PAYLOAD:
            raise ValueError("a pong carries at most 125 bytes")
        return self._send(ws.Pong(payload=bytes(payload)))

    def _send(self, event: ws.Event) -> bytes:
        if self._state != _OPEN:
            raise WebSocketClosed("the WebSocket connection is closed")
        data = bytes(self._ws.send(event))
        self._in_flight += len(data)
        return data

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """Start the closing handshake: the bytes of our close frame.

        The connection then waits up to ``ws_close_timeout`` for the peer's
        close frame, still delivering the messages that arrive before it.
        Closing a connection that is already closing or closed returns ``b""``.

        :param code: a status code an endpoint may send (:func:`sendable_close_code`).
        :param reason: at most 123 bytes of UTF-8.
        :raises ValueError: the code or the reason cannot be sent.
        """
        if not sendable_close_code(code):
            raise ValueError(f"close code {code} cannot be sent")
        if len(reason.encode("utf-8")) > _MAX_CLOSE_REASON:
            raise ValueError("a close reason is at most 123 bytes of UTF-8")
        if self._state != _OPEN:
            return b""
        data = bytes(self._ws.send(ws.CloseConnection(code=code, reason=reason)))
        self._state = _CLOSING
        self._close_sent_at = self._clock()
        self._in_flight += len(data)
        return data

    def _queue_pong(self, payload: bytes) -> None:
        frame = self._ws.send(ws.Pong(payload=payload))
        span = self._pong_at
        if span is None:
            start = len(self._outgoing)
            self._outgoing += frame
        else:
            # The answer to an earlier ping is still unsent: this one replaces it.
            start = span[0]
            self._outgoing[start : span[1]] = frame
        self._pong_at = (start, start + len(frame))

    def data_to_send(self) -> bytes:
        """Bytes the connection decided to send of its own accord; empties the queue.

        They count as queued until :meth:`mark_written` reports them written.
        """
        data = bytes(self._outgoing)
        self._outgoing.clear()
        self._pong_at = None
        self._in_flight += len(data)
        return data

    def mark_written(self, nbytes: int) -> None:
        """Report that *nbytes* of the bytes handed out have been written to the peer.

        :raises LocalProtocolError: more than were handed out and not yet reported.
        """
        if not 0 <= nbytes <= self._in_flight:
            raise LocalProtocolError(
                f"{nbytes} bytes reported written, {self._in_flight} were handed out"
            )
        self._in_flight -= nbytes

    @property
    def queued_bytes(self) -> int:
        """Outgoing bytes not yet written: handed out, or waiting in :meth:`data_to_send`."""
        return len(self._outgoing) + self._in_flight

    @property
    def must_wait(self) -> bool:
        """More than ``ws_max_queued_bytes`` wait to be written: send nor read more until not."""
        return self.queued_bytes > self.limits.ws_max_queued_bytes

    # -- time ------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """When :meth:`handle_deadline` must next be called, in clock terms; ``None`` for never."""
        if self._state == _CLOSED:
            return None
        if self._state == _CLOSING:
            return self._close_sent_at + self.limits.ws_close_timeout
        deadline = self._next_ping
        if self.ping_timeout is not None and self._unanswered_since is not None:
            given_up = self._unanswered_since + self.ping_timeout
            if deadline is None or given_up < deadline:
                deadline = given_up
        return deadline

    def handle_deadline(self) -> None:
        """Act on the deadline that passed; calling it early does nothing.

        A keep-alive ping goes to :meth:`data_to_send`; a ping left
        unanswered for ``ping_timeout``, or a close unanswered for
        ``ws_close_timeout``, ends the connection with
        :class:`~crosswind.protocol.websocket.events.Closed` ``1006``, which
        :meth:`next_event` returns next.  Nothing is sent to a peer given up
        for gone: the caller closes the transport.
        """
        now = self._clock()
        if self._state == _CLOSED:
            return
        if self._state == _CLOSING:
            if now >= self._close_sent_at + self.limits.ws_close_timeout:
                self._finish(Closed(_ABNORMAL, "the peer did not answer the close"))
            return
        timeout = self.ping_timeout
        if (
            timeout is not None
            and self._unanswered_since is not None
            and now >= self._unanswered_since + timeout
        ):
            self._finish(Closed(_ABNORMAL, "the peer did not answer a ping"))
            return
        interval = self.ping_interval
        if interval is not None and self._next_ping is not None and now >= self._next_ping:
            self._outgoing += self._ws.send(ws.Ping(payload=b""))
            if self._unanswered_since is None:
                self._unanswered_since = now
            self._next_ping = now + interval

    # -- state -----------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The connection has ended: its closing event is returned or waiting in :meth:`next_event`."""
        return self._state == _CLOSED

    @property
    def closing(self) -> bool:
        """Our close frame is sent and the peer's is awaited."""
        return self._state == _CLOSING
