"""An HTTP/2 server connection (RFC 9113) on the h2 library, without I/O.

h2 parses and serializes frames, keeps HPACK and the stream states, and
holds a ``Content-Length`` to the DATA frames.  This module makes the
decisions a server adds on top, and keeps these rules:

* Bytes in, events out, bytes to send: :meth:`H2ServerConnection.receive_data`
  returns :mod:`~crosswind.protocol.http2.events`,
  :meth:`~H2ServerConnection.data_to_send` what to write.  Nothing here reads
  a socket or a clock of its own: time is the *clock* argument, and each
  timer is a deadline (:attr:`~H2ServerConnection.deadline`) that the driver
  waits for and reports with :meth:`~H2ServerConnection.expire`.
* Nothing invalid reaches an event.  A malformed request (RFC 9113 section
  8: a field name that is not a lowercase token, a value with a control
  character or whitespace at either end, a connection-specific field, ``te``
  other than ``trailers``, a pseudo-header field unknown, repeated, missing
  or after a regular field, ``Host`` twice or unlike ``:authority``, a
  ``CONNECT`` without ``:authority`` or with ``:scheme`` or ``:path``, a
  ``:path`` that is not origin- or asterisk-form; trailers with any of
  these or a pseudo-header field) resets its stream with
  ``PROTOCOL_ERROR``, one pass over the fields, where h2's own checks are
  turned off; what h2 still finds (frames, HPACK, a ``Content-Length`` the
  DATA frames disagree with) ends the connection.  Too many fields answer
  ``431`` on the stream.
* Every limit is one of :class:`~crosswind.protocol.limits.Limits`, checked
  on the whole, never on how TCP split the bytes: streams beyond
  ``h2_max_concurrent_streams`` are refused with ``REFUSED_STREAM``; a body
  past ``max_body_size`` fails its stream with ``413``; the flow control
  windows are reopened only as the application reads
  (:meth:`~H2ServerConnection.consumed`), so a slow reader slows its client.
* The attacks are counted on the injected clock and end the connection
  with GOAWAY ``ENHANCE_YOUR_CALM``: resets past ``h2_max_resets`` (Rapid
  Reset), SETTINGS, PING, PRIORITY and empty DATA frames past
  ``h2_max_control_frames``, a header block growing past the header list
  limit while CONTINUATION frames arrive (h2 alone holds up to 64 frames
  of any allowed size).  h2's HPACK decoder stops a header list past the
  limit (HPACK bomb) the same way.
* Errors are the peer's or ours: a peer's fault is answered on the wire and
  reported as an event with a reason that never echoes its bytes; misuse of
  this API raises :class:`~crosswind.errors.LocalProtocolError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from h2 import events as h2events
from h2.config import H2Configuration
from h2.connection import ConnectionInputs, ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.exceptions import FlowControlError, FrameTooLargeError, ProtocolError, StreamClosedError
from h2.settings import SettingCodes, Settings
from hpack.exceptions import HPACKError, OversizedHeaderListError
from hyperframe.exceptions import InvalidDataError
from hyperframe.frame import GoAwayFrame

from ...errors import LocalProtocolError, RequestError
from ...grammar import FIELD_OCTETS, TCHARS
from ..limits import Limits
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

__all__ = ["PREFACE", "H2ServerConnection"]

#: The first bytes of every HTTP/2 connection from a client (RFC 9113 section 3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

#: What a field name is made of over HTTP/2: a token in lowercase (RFC 9113 section 8.2.1);
#: ``name.translate(None, _NAME_OCTETS)`` leaves what does not belong.
_NAME_OCTETS = "".join(c for c in TCHARS if not c.isupper()).encode("ascii")
#: A field value may not start or end with whitespace (section 8.2.1).
_EDGE = frozenset({b" ", b"\t"})
#: The pseudo-header fields of a request (section 8.3.1; no extended CONNECT).
_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path"})
#: Regular fields looked at one by one: the connection-specific ones are refused
#: (section 8.2.2), ``te`` unless ``trailers``, a second ``host``.
_SCREENED = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade",
    b"te", b"host", b"cookie", b"content-length",
})
#: Of those, the ones a trailer section may hold.
_TRAILER_FIELDS = frozenset({b"te", b"host", b"cookie", b"content-length"})

# The window h2 and RFC 9113 start every connection with.
_DEFAULT_WINDOW = 65535
_UNLIMITED_STREAMS = 2**31


class _LocalSettings(Settings):
    """Our settings as h2 keeps them, except that h2 never refuses a stream itself.

    h2 ends the whole connection when a client opens one stream too many,
    before decoding its header block; the connection refuses that stream
    alone with ``REFUSED_STREAM`` instead (RFC 9113 section 5.1.2), after
    h2 has decoded the block and so kept HPACK in step.  The SETTINGS frame
    still advertises the real limit.
    """

    @property
    def max_concurrent_streams(self) -> int:
        return _UNLIMITED_STREAMS

    @max_concurrent_streams.setter
    def max_concurrent_streams(self, value: int) -> None:
        self[SettingCodes.MAX_CONCURRENT_STREAMS] = value


class _Stream:
    """What the connection tracks of one stream in flight."""

    __slots__ = (
        "body_start",
        "ended",
        "failed",
        "last_progress",
        "max_body_size",
        "reading",
        "received",
        "send_blocked_since",
        "trailers",
    )

    def __init__(self, now: float, max_body_size: int) -> None:
        self.body_start = now
        self.last_progress = now
        self.received = 0
        self.max_body_size = max_body_size
        self.ended = False  # the client ended its side
        self.failed = False  # the request can no longer be read: discard its body
        self.reading = False  # the application waits for body bytes
        self.send_blocked_since: float | None = None
        self.trailers: list[tuple[bytes, bytes]] = []


class H2ServerConnection:
    """The server side of one HTTP/2 connection, after the client's preface.

    :param limits: the server's limits; ``None`` for the defaults.
    :param clock: monotonic seconds; every deadline is in its terms.
    """

    def __init__(self, limits: Limits | None = None, *, clock: Callable[[], float]) -> None:
        self.limits = limits = limits or Limits()
        self.clock = clock
        # h2's checks of header lists are generators chained per field, in
        # both directions; the same rules are kept here, in one pass over a
        # request (_request, _valid_trailers), and by the exchange's vetting
        # of response fields (see bench/NOTES.md for what that saves).
        config = H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        h2 = self._h2 = H2Connection(config=config)
        self._max_header_list = min(limits.h2_max_header_list_size, limits.max_head_size)
        h2.local_settings = _LocalSettings(
            client=False,
            initial_values={
                SettingCodes.MAX_CONCURRENT_STREAMS: limits.h2_max_concurrent_streams,
                SettingCodes.MAX_HEADER_LIST_SIZE: self._max_header_list,
            },
        )
        # h2 stops sending and refuses every frame once a GOAWAY arrives; RFC
        # 9113 section 6.8 lets the streams the client already opened be
        # answered, and its PINGs acknowledged, until the connection closes.
        # So receiving GOAWAY leaves the state as it was (the table is h2's
        # own, copied for this connection alone).
        machine = h2.state_machine
        table = dict(machine._transitions)
        for state in (ConnectionState.IDLE, ConnectionState.CLIENT_OPEN, ConnectionState.SERVER_OPEN):
            table[state, ConnectionInputs.RECV_GOAWAY] = (None, state)
        machine._transitions = table
        # Until the client acknowledges our settings h2 decodes with its own
        # default limit: ours holds from the first header block on.
        h2.decoder.max_header_list_size = self._max_header_list
        self._streams: dict[int, _Stream] = {}
        self._out: list[bytes] = []
        self._frames = _FrameCutter(len(PREFACE))
        now = clock()
        self._idle_since: float | None = now
        self._header_block_since: float | None = None
        self._window_start = now
        self._resets = 0
        self._control_frames = 0
        #: The highest stream a graceful GOAWAY let in; ``None`` before one.
        self._last_stream: int | None = None
        self._remote_goaway = False
        #: The connection is over: nothing more is read, only what is queued sent.
        self.closed = False
        #: It ended with an error GOAWAY (the client's fault), not a graceful one.
        self.failed = False
        self._started = False

    # -- the connection as a whole -------------------------------------------

    def initiate(self) -> None:
        """Queue the server's preface: its SETTINGS and the connection window."""
        if self._started:
            return
        self._started = True
        h2 = self._h2
        h2.initiate_connection()
        # h2 holds the client to the initial values of its settings at once,
        # but the client may send by the protocol's defaults until it has
        # read ours (RFC 9113 section 6.5.3): the window and frame size are
        # asked for in a second SETTINGS, and h2 applies them once the
        # client acknowledges it.
        h2.update_settings({
            SettingCodes.INITIAL_WINDOW_SIZE: self.limits.h2_initial_window_size,
            SettingCodes.MAX_FRAME_SIZE: self.limits.h2_max_frame_size,
        })
        extra = self.limits.h2_connection_window_size - _DEFAULT_WINDOW
        if extra > 0:
            h2.increment_flow_control_window(extra)

    def data_to_send(self) -> bytes:
        """The bytes queued for the client, in order; empties the queue."""
        pending = self._h2.data_to_send()
        if self._out:
            self._out.append(pending)
            pending = b"".join(self._out)
            self._out.clear()
        return pending

    @property
    def open_streams(self) -> int:
        """Streams in flight: received and not yet done with (see :meth:`stream_done`)."""
        return len(self._streams)

    @property
    def idle_since(self) -> float | None:
        """Since when no stream has been in flight; ``None`` while one is."""
        return None if self._streams else self._idle_since

    @property
    def shutting_down(self) -> bool:
        """A graceful GOAWAY went out, or came in: no new stream will be served."""
        return self._last_stream is not None or self._remote_goaway

    def start_shutdown(self) -> None:
        """Send GOAWAY ``NO_ERROR``: the streams received so far finish, later ones are refused.

        h2 stops sending anything once it has sent a GOAWAY, which would cut
        the streams in flight; the frame is built with hyperframe and queued
        behind h2's bytes instead, and h2 goes on serving them.
        """
        if self.closed or self._last_stream is not None:
            return
        self.initiate()
        last = self._last_stream = self._h2.highest_inbound_stream_id
        self._out.append(self._h2.data_to_send())
        self._out.append(_goaway(last, ErrorCodes.NO_ERROR))

    def close(self, error_code: ErrorCodes = ErrorCodes.NO_ERROR) -> None:
        """End the connection now with a GOAWAY; streams in flight are over."""
        if not self.closed:
            self.closed = True
            self.failed = error_code != ErrorCodes.NO_ERROR
            self._h2.close_connection(
                error_code=error_code, last_stream_id=self._h2.highest_inbound_stream_id
            )

    # -- receiving -------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[H2Event]:
        """Take bytes from the client (after the preface); return what they mean.

        :param data: the bytes read, ``b""`` never (the driver ends on EOF).
        """
        if self.closed:
            return []
        self.initiate()
        events: list[H2Event] = []
        now = self.clock()
        # One frame at a time: h2 acts on every frame of a read before it
        # returns, so a frame would otherwise meet a stream as h2 left it,
        # not as this connection did (a malformed request it reset, say),
        # and the verdict would depend on how TCP cut the bytes.
        for piece in self._frames.split(data):
            self._receive_frame(piece, now, events)
            if self.closed:
                return events
        self._check_floods(now, events)
        self._check_header_block(now, events)
        if self._streams:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        return events

    def _receive_frame(self, data: bytes, now: float, events: list[H2Event]) -> None:
        """Hand h2 bytes that complete one frame at most, and act on what they meant."""
        try:
            received = self._h2.receive_data(data)
        except ProtocolError as error:
            # h2 has queued its GOAWAY with the error's code already.
            self.closed = self.failed = True
            self._correct_goaway(error)
            events.append(ConnectionEnded(False, f"protocol error: {type(error).__name__}"))
            return
        skip: object = None
        for event in received:
            if self.closed:
                break  # what follows an error GOAWAY (the client's) is not acted on
            if event is skip:
                continue
            if isinstance(event, h2events.RequestReceived):
                skip = event.priority_updated  # counted with its HEADERS, not as a flood
                self._request(event, now, events)
            elif isinstance(event, h2events.DataReceived):
                self._data(event, now, events)
            elif isinstance(event, h2events.StreamEnded):
                stream_id = event.stream_id or 0
                stream = self._streams.get(stream_id)
                # (A request that ended with its head said so already.)
                if stream is not None and not stream.ended:
                    stream.ended = True
                    if not stream.failed:
                        events.append(BodyEnded(stream_id, tuple(stream.trailers)))
            elif isinstance(event, h2events.TrailersReceived):
                stream_id = event.stream_id or 0
                stream = self._streams.get(stream_id)
                if stream is not None:
                    trailers = list(event.headers or ())
                    if _valid_trailers(trailers):
                        stream.trailers = trailers
                    else:
                        self.reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
                        events.append(StreamClosed(stream_id, "malformed trailers"))
            elif isinstance(event, h2events.StreamReset):
                # h2 reports its own resets (a frame on a closed stream) the
                # same way; only the client's count towards Rapid Reset.
                if event.remote_reset:
                    self._resets += 1
                stream_id = event.stream_id or 0
                if self._streams.pop(stream_id, None) is not None:
                    reason = "reset by the client" if event.remote_reset else "stream error"
                    events.append(StreamClosed(stream_id, reason))
            elif isinstance(event, h2events.WindowUpdated):
                events.append(WindowOpened(event.stream_id or 0))
            elif isinstance(event, h2events.RemoteSettingsChanged):
                self._control_frames += 1
                if SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
                    events.append(WindowOpened(0))
            elif isinstance(event, h2events.PingReceived | h2events.PriorityUpdated):
                self._control_frames += 1
            elif isinstance(event, h2events.ConnectionTerminated):
                self._goaway_received(event, events)

    def _request(self, event: h2events.RequestReceived, now: float, events: list[H2Event]) -> None:
        stream_id = event.stream_id
        assert stream_id is not None
        if self.closed or (self._last_stream is not None and stream_id > self._last_stream):
            self._reset(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        if len(self._streams) >= self.limits.h2_max_concurrent_streams:
            self._reset(stream_id, ErrorCodes.REFUSED_STREAM)
            return
        pseudo: dict[bytes, bytes] = {}
        headers: list[tuple[bytes, bytes]] = []
        cookies: list[bytes] = []
        host = None
        declares_body = regular = False
        edge = _EDGE
        # hpack decodes names and values to bytes (h2 is told no header encoding).
        for name, value in event.headers or ():
            if value.translate(None, FIELD_OCTETS) or value[:1] in edge or value[-1:] in edge:
                self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
                return
            if name[:1] == b":":
                if regular or name not in _REQUEST_PSEUDO or name in pseudo:
                    self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
                    return
                pseudo[name] = value
                continue
            regular = True
            if not name or name.translate(None, _NAME_OCTETS):
                self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
                return
            if name in _SCREENED:
                if name == b"cookie":
                    # RFC 9113 section 8.2.3: joined again for an HTTP/1.1 reader.
                    cookies.append(value)
                    continue
                if name == b"content-length":
                    declares_body = declares_body or value.strip() != b"0"
                elif name == b"host":
                    if host is not None:
                        self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
                        return
                    host = value
                elif name != b"te" or value.lower() != b"trailers":
                    self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
                    return
            headers.append((name, value))
        method = pseudo.get(b":method")
        target = pseudo.get(b":path")
        authority = pseudo.get(b":authority")
        if method is None:
            self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        if method == b"CONNECT":
            # RFC 9113 section 8.5: the authority is the target, and there is
            # no scheme or path; a Host field does not stand in for it.
            if not authority or b":scheme" in pseudo or target is not None:
                self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
                return
            target = authority
        elif (
            b":scheme" not in pseudo
            or not target
            or not (target[:1] == b"/" or (target == b"*" and method == b"OPTIONS"))
        ):
            self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        if (authority is None and host is None) or (
            authority is not None and host is not None and authority != host
        ):
            # RFC 9113 section 8.3.1: a target authority, and one only.
            self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        if cookies:
            headers.append((b"cookie", b"; ".join(cookies)))
        if authority and host is None:
            headers.insert(0, (b"host", authority))
        end_stream = event.stream_ended is not None
        if end_stream and declares_body:
            # h2 holds Content-Length to the DATA frames only: a request that
            # ends with its head and declares a body is malformed too.
            self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        stream = self._streams[stream_id] = _Stream(now, self.limits.max_body_size)
        stream.ended = end_stream
        if len(headers) > self.limits.max_header_count:
            # The status HTTP/1.1 answers; nothing of the request is passed on.
            stream.failed = True
            events.append(RequestReceived(stream_id, method, target, (), end_stream))
            events.append(StreamFailed(stream_id, RequestError("too many header fields", 431)))
            return
        events.append(RequestReceived(stream_id, method, target, headers, end_stream))

    def _data(self, event: h2events.DataReceived, now: float, events: list[H2Event]) -> None:
        stream_id = event.stream_id
        assert stream_id is not None
        data = event.data or b""
        flow = event.flow_controlled_length or 0
        if not data and event.stream_ended is None:
            self._control_frames += 1
        stream = self._streams.get(stream_id)
        if stream is None or stream.failed:
            # A stream refused, reset or given up: its bytes are dropped, and
            # the windows they took are given back at once.
            self._give_back(stream_id, flow)
            return
        stream.received += len(data)
        stream.last_progress = now
        if stream.received > stream.max_body_size:
            stream.failed = True
            self._give_back(stream_id, flow)
            events.append(StreamFailed(stream_id, RequestError("request body too large", 413)))
            return
        if data or flow:
            events.append(BodyReceived(stream_id, data, flow))

    def _goaway_received(self, event: h2events.ConnectionTerminated, events: list[H2Event]) -> None:
        if event.error_code == ErrorCodes.NO_ERROR:
            self._remote_goaway = True
            events.append(ConnectionEnded(True, "the client sent GOAWAY"))
            return
        self.closed = self.failed = True
        events.append(ConnectionEnded(False, "the client sent GOAWAY with an error"))

    def _correct_goaway(self, error: ProtocolError) -> None:
        """Give h2's GOAWAY the code RFC 9113 asks for where h2 says ``PROTOCOL_ERROR``.

        h2 reports an undecodable header block (RFC 9113 section 4.3:
        ``COMPRESSION_ERROR``) and a SETTINGS acknowledgement with a payload
        (section 6.5: ``FRAME_SIZE_ERROR``) as plain protocol errors.  Its
        GOAWAY is the last frame it queued, built from nothing but the code
        and the last stream, so it is rebuilt here with the right code.
        """
        cause = error.__cause__
        if isinstance(cause, HPACKError) and not isinstance(cause, OversizedHeaderListError):
            code = ErrorCodes.COMPRESSION_ERROR
        elif isinstance(cause, InvalidDataError) and "ack frame must not have payload" in str(cause):
            code = ErrorCodes.FRAME_SIZE_ERROR
        else:
            return
        pending = self._h2.data_to_send()
        sent = _goaway(self._h2.highest_inbound_stream_id, ErrorCodes.PROTOCOL_ERROR)
        if pending.endswith(sent):
            pending = pending[: -len(sent)] + _goaway(self._h2.highest_inbound_stream_id, code)
        self._out.append(pending)

    def _check_floods(self, now: float, events: list[H2Event]) -> None:
        limits = self.limits
        if now - self._window_start >= limits.h2_flood_window:
            self._window_start = now
            self._resets = self._control_frames = 0
            return
        if self._resets > limits.h2_max_resets:
            self._calm("too many streams reset", events)
        elif self._control_frames > limits.h2_max_control_frames:
            self._calm("too many control frames", events)

    def _check_header_block(self, now: float, events: list[H2Event]) -> None:
        # h2 buffers a header block until END_HEADERS, bounded only by a
        # count of 64 frames; its size is held to the header list limit here.
        # (The buffer is h2's own; nothing public reports it.)
        buffered: list[Any] = getattr(self._h2.incoming_buffer, "_headers_buffer", None) or []
        if not buffered:
            self._header_block_since = None
            return
        if self._header_block_since is None:
            self._header_block_since = now
        if sum(len(frame.data) for frame in buffered) > self._max_header_list:
            self._calm("header block too large", events)

    def _calm(self, reason: str, events: list[H2Event]) -> None:
        if not self.closed:
            self.close(ErrorCodes.ENHANCE_YOUR_CALM)
            events.append(ConnectionEnded(False, reason))

    # -- streams, for the driver ---------------------------------------------------

    def set_max_body_size(self, stream_id: int, size: int) -> None:
        """Change the body limit of one stream (before its application reads)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.max_body_size = size

    def reading(self, stream_id: int, waiting: bool) -> None:
        """Say whether the application of *stream_id* waits for body bytes (its timers run then)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.reading = waiting

    def consumed(self, stream_id: int, flow_length: int) -> None:
        """The application read a body piece: give its share of the windows back."""
        if flow_length:
            self._give_back(stream_id, flow_length)

    def _give_back(self, stream_id: int, flow_length: int) -> None:
        if not flow_length or self.closed:
            return
        # A stream already gone: h2 has given the connection's share back itself.
        with contextlib.suppress(StreamClosedError, ProtocolError):
            self._h2.acknowledge_received_data(flow_length, stream_id)

    def send_window(self, stream_id: int) -> int:
        """Body bytes *stream_id* may send now (its window and the connection's)."""
        if self.closed:
            return 0
        try:
            return max(0, self._h2.local_flow_control_window(stream_id))
        except (StreamClosedError, ProtocolError):
            return 0

    def send_blocked(self, stream_id: int, blocked: bool) -> None:
        """Say whether *stream_id* has a response piece waiting (for a window or the socket)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            if not blocked:
                stream.send_blocked_since = None
            elif stream.send_blocked_since is None:
                stream.send_blocked_since = self.clock()

    def send_headers(
        self, stream_id: int, headers: Iterable[tuple[bytes, bytes]], end_stream: bool
    ) -> None:
        """Queue a response head (vetted fields, ``:status`` first).

        :raises LocalProtocolError: the stream cannot send any more.
        """
        if type(headers) is not list:
            headers = list(headers)
        try:
            self._h2.send_headers(stream_id, headers, end_stream=end_stream)
        except (StreamClosedError, ProtocolError) as error:
            raise LocalProtocolError(f"cannot send on stream {stream_id}: {error}") from None

    def send_last(self, stream_id: int, data: bytes) -> bool:
        """Queue *data* as the stream's last DATA frame if the windows and frame size take it now.

        ``False``, with nothing queued, when they do not: :meth:`send_data`
        sends it in pieces then.  (h2 checks both before it queues anything;
        asking :meth:`send_window` first would have it work out the windows
        twice.)

        :raises LocalProtocolError: the stream cannot send any more.
        """
        try:
            self._h2.send_data(stream_id, data, end_stream=True)
        except (FlowControlError, FrameTooLargeError):
            return False
        except (StreamClosedError, ProtocolError) as error:
            raise LocalProtocolError(f"cannot send on stream {stream_id}: {error}") from None
        return True

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """Queue body bytes, no more than :meth:`send_window` allows, in frames h2 accepts.

        :raises LocalProtocolError: the stream cannot send, or *data* exceeds the window.
        """
        h2 = self._h2
        size = h2.max_outbound_frame_size
        try:
            if len(data) <= size:
                h2.send_data(stream_id, data, end_stream=end_stream)
                return
            view = memoryview(data)
            for start in range(0, len(data), size):
                last = start + size >= len(data)
                h2.send_data(stream_id, view[start : start + size], end_stream=end_stream and last)
        except (StreamClosedError, ProtocolError) as error:
            raise LocalProtocolError(f"cannot send on stream {stream_id}: {error}") from None

    def reset(self, stream_id: int, error_code: ErrorCodes = ErrorCodes.INTERNAL_ERROR) -> None:
        """Reset a stream (an application failing mid-response, a client gone)."""
        self._reset(stream_id, error_code)
        self._streams.pop(stream_id, None)
        self._became_idle()

    def _reset(self, stream_id: int, error_code: ErrorCodes) -> None:
        if self.closed:
            return
        # A stream closed already has nothing to be told.
        with contextlib.suppress(StreamClosedError, ProtocolError):
            self._h2.reset_stream(stream_id, error_code)

    def stream_done(self, stream_id: int) -> None:
        """The response on *stream_id* is complete and its application has returned.

        A request body the client is still sending is cut short with
        ``RST_STREAM NO_ERROR`` (RFC 9113 section 8.1): the answer is out.
        """
        stream = self._streams.pop(stream_id, None)
        if stream is not None and not stream.ended:
            self._reset(stream_id, ErrorCodes.NO_ERROR)
        self._became_idle()

    def _became_idle(self) -> None:
        if not self._streams and self._idle_since is None:
            self._idle_since = self.clock()

    # -- timers ------------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """When :meth:`expire` must next be called, in the clock's terms; ``None``: no timer runs."""
        if self.closed:
            return None
        limits = self.limits
        soonest: float | None = None
        if self._idle_since is not None and not self._streams:
            soonest = self._idle_since + limits.idle_timeout
        if self._header_block_since is not None:
            soonest = _min(soonest, self._header_block_since + limits.header_timeout)
        for stream in self._streams.values():
            if stream.reading and not stream.ended and not stream.failed:
                soonest = _min(soonest, self._body_deadline(stream))
            if stream.send_blocked_since is not None:
                soonest = _min(soonest, stream.send_blocked_since + limits.body_timeout)
        return soonest

    def _body_deadline(self, stream: _Stream) -> float:
        limits = self.limits
        rate_floor = stream.body_start + max(
            limits.body_rate_grace, stream.received / limits.min_body_rate
        )
        return min(
            stream.last_progress + limits.body_timeout,
            stream.body_start + limits.body_deadline,
            rate_floor,
        )

    def expire(self, now: float) -> list[H2Event]:
        """Act on the timers whose deadline has passed at *now*.

        An idle connection ends with GOAWAY ``NO_ERROR``, a header block
        that takes too long with ``ENHANCE_YOUR_CALM``; a body too slow
        fails its stream with ``408``; a response stuck on its stream's
        window resets the stream (``CANCEL``), one stuck on the
        connection's window or the socket ends the connection.
        """
        events: list[H2Event] = []
        if self.closed:
            return events
        limits = self.limits
        if (
            self._idle_since is not None
            and not self._streams
            and now >= self._idle_since + limits.idle_timeout
        ):
            self.close()
            events.append(ConnectionEnded(False, "idle"))
            return events
        if (
            self._header_block_since is not None
            and now >= self._header_block_since + limits.header_timeout
        ):
            self._calm("header block too slow", events)
            return events
        for stream_id, stream in list(self._streams.items()):
            if (
                stream.reading
                and not stream.ended
                and not stream.failed
                and now >= self._body_deadline(stream)
            ):
                stream.failed = True
                events.append(StreamFailed(stream_id, RequestError("request body too slow", 408)))
            since = stream.send_blocked_since
            if since is not None and now >= since + limits.body_timeout:
                h2 = self._h2
                if h2.outbound_flow_control_window > 0 and self.send_window(stream_id) == 0:
                    self.reset(stream_id, ErrorCodes.CANCEL)
                    events.append(StreamClosed(stream_id, "the client opened no window"))
                else:
                    self.closed = self.failed = True
                    events.append(ConnectionEnded(False, "the client does not read"))
                    return events
        return events


def _valid_trailers(fields: list[tuple[bytes, bytes]]) -> bool:
    """Whether trailer *fields* are well-formed: regular fields only, none connection-specific."""
    edge = _EDGE
    for name, value in fields:
        if (
            not name
            or name.translate(None, _NAME_OCTETS)
            or value.translate(None, FIELD_OCTETS)
            or value[:1] in edge
            or value[-1:] in edge
            or (name in _SCREENED and name not in _TRAILER_FIELDS)
            or (name == b"te" and value.lower() != b"trailers")
        ):
            return False
    return True


def _goaway(last_stream_id: int, error_code: ErrorCodes) -> bytes:
    frame = GoAwayFrame(0)
    frame.last_stream_id = last_stream_id
    frame.error_code = error_code
    return frame.serialize()


def _min(a: float | None, b: float) -> float:
    return b if a is None or b < a else a


class _FrameCutter:
    """Cuts the client's bytes where its frames end, reading only their 9-byte headers.

    Nothing is kept back: the last piece may end inside a frame, which h2
    buffers until the rest comes.  Each piece completes one frame at most.

    :param preface: the bytes before the first frame (the client's preface).
    """

    __slots__ = ("_head", "_skip")

    def __init__(self, preface: int) -> None:
        self._skip = preface  # bytes still to pass before the next frame header
        self._head = b""  # the start of a frame header cut by the last read

    def split(self, data: bytes) -> list[bytes]:
        """*data* cut after every frame it completes; the rest, if any, last."""
        pieces = []
        start = position = 0
        size = len(data)
        skip, head = self._skip, self._head
        while position < size:
            if skip:
                taken = min(skip, size - position)
                skip -= taken
                position += taken
                if skip == 0 and not head and position > start:
                    # The payload (or the preface) is complete: a frame ends here.
                    pieces.append(data[start:position])
                    start = position
                continue
            taken = min(9 - len(head), size - position)
            head += data[position : position + taken]
            position += taken
            if len(head) == 9:
                skip = int.from_bytes(head[:3], "big")
                head = b""
                if skip == 0:
                    pieces.append(data[start:position])
                    start = position
        if start < size:
            pieces.append(data[start:])
        self._skip, self._head = skip, head
        return pieces

