"""The client side of the conformance suite: a socket that speaks raw frames.

A case drives one :class:`Connection`: it writes frames (well-formed ones
built with hyperframe, broken ones byte by byte with :func:`raw_frame`) and
header blocks (encoded with hpack, or by hand with :func:`hpack_int` and
:func:`hpack_string` when the block itself must be wrong), then checks what
the server answers with one of the ``expect_*`` methods.

The verdicts follow h2spec's reading of RFC 9113:

- a *connection error* is a GOAWAY with one of the expected codes, or the
  connection closed (RFC 9113 section 5.4.1 lets an endpoint close without
  sending GOAWAY);
- a *stream error* is a RST_STREAM with one of the expected codes, or any of
  the above, since an endpoint may always treat a stream error as a
  connection error;
- anything else the server sends while the case waits is noted and skipped;
  a case fails when the awaited frame has not come within the target's
  timeout, or when the connection ends first.

Every wait is bounded, so a server that hangs fails a case instead of
hanging the suite.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hpack import Encoder
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

__all__ = [
    "ACK",
    "END_HEADERS",
    "END_STREAM",
    "PADDED",
    "PREFACE",
    "PRIORITY",
    "ContinuationFrame",
    "DataFrame",
    "GoAwayFrame",
    "HeadersFrame",
    "PingFrame",
    "RstStreamFrame",
    "SettingsFrame",
    "WindowUpdateFrame",
    "CaseFailure",
    "CaseSkipped",
    "Closed",
    "Connection",
    "ErrorCode",
    "FrameType",
    "Setting",
    "Target",
    "describe",
    "hpack_int",
    "hpack_string",
    "plain_block",
    "raw_frame",
]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class FrameType:
    """Frame type codes (RFC 9113 section 6)."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


class Setting:
    """SETTINGS identifiers (RFC 9113 section 6.5.2)."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6


class ErrorCode:
    """Error codes (RFC 9113 section 7)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


_CODE_NAMES = {value: name for name, value in vars(ErrorCode).items() if not name.startswith("_")}

#: END_STREAM, END_HEADERS, PADDED and PRIORITY, as single bits.
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY = 0x20


@dataclass(frozen=True, slots=True)
class Target:
    """Where the server under test listens.

    :param host: its address.
    :param port: its port.
    :param tls: speak TLS and ask for ``h2`` by ALPN; otherwise h2c by prior
        knowledge.
    :param timeout: seconds to wait for any one expected frame.
    :param path: the path of a resource that answers ``GET`` with a body of
        at least 5 bytes (the flow-control cases need one).
    :param echo_path: the path of a resource that reads the request body
        before it answers ``POST``.
    """

    host: str
    port: int
    tls: bool = False
    timeout: float = 2.0
    path: str = "/"
    echo_path: str = "/echo"

    @property
    def authority(self) -> str:
        """The ``:authority`` a request to this target carries."""
        return f"{self.host}:{self.port}"


class Closed:
    """The server closed the connection (or reset it)."""

    def __repr__(self) -> str:
        return "connection closed"


class CaseFailure(Exception):
    """A case's expectation was not met.

    :param expected: what the case waited for.
    :param actual: what came instead.
    """

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected {expected}; got {actual}")
        self.expected = expected
        self.actual = actual


class CaseSkipped(Exception):
    """The server does not offer what the case needs (a stream limit, say)."""


def describe(event: Frame | Closed | None) -> str:
    """One line for a received frame, naming error codes."""
    if event is None:
        return "nothing (timeout)"
    if isinstance(event, Closed):
        return repr(event)
    if isinstance(event, GoAwayFrame | RstStreamFrame):
        name = _CODE_NAMES.get(event.error_code, hex(event.error_code))
        kind = "GOAWAY" if isinstance(event, GoAwayFrame) else "RST_STREAM"
        return f"{kind} {name} (stream {event.stream_id})"
    flags = ",".join(sorted(event.flags)) or "-"
    return f"{type(event).__name__} stream={event.stream_id} flags={flags} length={_length(event)}"


def _length(frame: Frame) -> int:
    return len(getattr(frame, "data", b"") or b"")


def raw_frame(frame_type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """A frame written byte by byte, whatever its length or fields.

    :param frame_type: the type octet.
    :param flags: the flags octet.
    :param stream_id: the stream identifier, including the reserved bit if
        set above 2**31.
    :param payload: the payload; its length goes into the header as is.
    """
    length = len(payload)
    return struct.pack(">BHBBL", length >> 16, length & 0xFFFF, frame_type, flags, stream_id) + (
        payload
    )


def hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """An HPACK integer (RFC 7541 section 5.1) with *first* in the bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def hpack_string(text: str | bytes, huffman: bool = False) -> bytes:
    """An HPACK string literal (RFC 7541 section 5.2), Huffman-coded if asked."""
    data = text.encode() if isinstance(text, str) else text
    if huffman:
        data = _HUFFMAN.encode(data)
        return hpack_int(len(data), 7, 0x80) + data
    return hpack_int(len(data), 7) + data


def plain_block(fields: Iterable[tuple[str, str]]) -> bytes:
    """A header block of literal fields without indexing, new names, no Huffman.

    It leaves the server's dynamic table untouched, so a case can put one
    hand-made representation after it and know exactly what the server
    decodes.
    """
    return b"".join(b"\x00" + hpack_string(name) + hpack_string(value) for name, value in fields)


class Connection:
    """One client connection to the target, read and written frame by frame.

    :param target: the server to connect to.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.encoder = Encoder()
        self.server_settings: dict[int, int] = {}
        self._buffer = bytearray()
        self._closed = False
        self._seen: list[str] = []
        sock = socket.create_connection((target.host, target.port), timeout=target.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname=target.host)
            if sock.selected_alpn_protocol() != "h2":
                sock.close()
                raise CaseFailure("ALPN h2", f"ALPN {sock.selected_alpn_protocol()!r}")
        self.sock: socket.socket = sock

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    # -- writing ----------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write bytes; a server that already closed is not an error here."""
        try:
            self.sock.sendall(data)
        except OSError:
            self._closed = True

    def send_frames(self, *frames: Frame | bytes) -> None:
        """Write frames (hyperframe objects or raw bytes) in one write."""
        self.send(b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames))

    def handshake(self, settings: dict[int, int] | None = None) -> None:
        """Send the preface and SETTINGS; ACK the server's; wait for our ACK.

        :param settings: the client's settings, none by default.
        """
        self.send(PREFACE)
        self.send_frames(SettingsFrame(0, settings=settings or {}))
        got_settings = got_ack = False
        while not (got_settings and got_ack):
            event = self.next_event()
            if event is None or isinstance(event, Closed):
                raise CaseFailure("the server's SETTINGS and an ACK of ours", describe(event))
            if isinstance(event, SettingsFrame):
                if "ACK" in event.flags:
                    got_ack = True
                else:
                    got_settings = True
                    self.server_settings.update(event.settings)
                    self.send_frames(SettingsFrame(0, flags=["ACK"]))

    def encode(self, headers: Iterable[tuple[str, str]]) -> bytes:
        """A header block from the connection's HPACK encoder."""
        return self.encoder.encode(list(headers))

    def request(
        self,
        method: str = "GET",
        path: str | None = None,
        extra: Sequence[tuple[str, str]] = (),
    ) -> list[tuple[str, str]]:
        """The header list of a valid request to the target, plus *extra* fields."""
        if path is None:
            path = self.target.echo_path if method == "POST" else self.target.path
        scheme = "https" if self.target.tls else "http"
        return [
            (":method", method),
            (":scheme", scheme),
            (":path", path),
            (":authority", self.target.authority),
            *extra,
        ]

    def headers(
        self,
        stream_id: int,
        block: bytes | None = None,
        *,
        end_stream: bool = True,
        end_headers: bool = True,
        method: str = "GET",
    ) -> HeadersFrame:
        """A HEADERS frame carrying *block*, or a valid request's block."""
        if block is None:
            block = self.encode(self.request(method))
        flags = []
        if end_stream:
            flags.append("END_STREAM")
        if end_headers:
            flags.append("END_HEADERS")
        return HeadersFrame(stream_id, block, flags=flags)

    def get(self, stream_id: int) -> None:
        """Send a complete GET request on *stream_id*."""
        self.send_frames(self.headers(stream_id))

    def post(self, stream_id: int, body: bytes = b"hello") -> None:
        """Send a POST request with *body* in one DATA frame."""
        self.send_frames(
            self.headers(stream_id, self.encode(self.request("POST")), end_stream=False),
            DataFrame(stream_id, body, flags=["END_STREAM"]),
        )

    def ping(self, data: bytes = b"h2spec\x00\x00") -> bytes:
        """Send a PING and return its payload, for :meth:`expect_ping_ack`."""
        self.send_frames(PingFrame(0, data))
        return data

    # -- reading ----------------------------------------------------------

    def next_event(self, deadline: float | None = None) -> Frame | Closed | None:
        """The next frame, :class:`Closed`, or ``None`` past the deadline."""
        if deadline is None:
            deadline = time.monotonic() + self.target.timeout
        while True:
            if len(self._buffer) >= 9:
                length = int.from_bytes(self._buffer[:3], "big")
                if len(self._buffer) >= 9 + length:
                    header = bytes(self._buffer[:9])
                    body = bytes(self._buffer[9 : 9 + length])
                    del self._buffer[: 9 + length]
                    frame, _ = Frame.parse_frame_header(memoryview(header))
                    frame.parse_body(memoryview(body))
                    self._seen.append(describe(frame))
                    return frame
            if self._closed:
                return Closed()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            except (OSError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self._closed = True
            self._buffer += chunk

    def _wait(self, expected: str, accept: type | tuple[type, ...], match: object) -> Frame:
        """Skip frames until one of type *accept* passes *match*; fail on close or timeout."""
        deadline = time.monotonic() + self.target.timeout
        last: Frame | Closed | None = None
        while True:
            event = self.next_event(deadline)
            if event is None or isinstance(event, Closed):
                raise CaseFailure(expected, describe(event if event is not None else last))
            last = event
            if isinstance(event, accept) and match(event):  # type: ignore[operator]
                return event

    def _wait_error(self, expected: str, kinds: tuple[type, ...], codes: Sequence[int]) -> None:
        deadline = time.monotonic() + self.target.timeout
        last: Frame | Closed | None = None
        while True:
            event = self.next_event(deadline)
            if isinstance(event, Closed):
                return
            if event is None:
                raise CaseFailure(expected, describe(last))
            last = event
            if isinstance(event, kinds) and getattr(event, "error_code", None) in codes:
                return

    def expect_connection_error(self, *codes: int) -> None:
        """Wait for GOAWAY with one of *codes*, or for the connection to close."""
        names = " or ".join(_CODE_NAMES[c] for c in codes)
        self._wait_error(f"GOAWAY {names}, or the connection closed", (GoAwayFrame,), codes)

    def expect_stream_error(self, *codes: int) -> None:
        """Wait for RST_STREAM or GOAWAY with one of *codes*, or for a close."""
        names = " or ".join(_CODE_NAMES[c] for c in codes)
        self._wait_error(
            f"RST_STREAM or GOAWAY {names}, or the connection closed",
            (RstStreamFrame, GoAwayFrame),
            codes,
        )

    def expect_close(self) -> None:
        """Wait for the connection to close, whatever comes before."""
        deadline = time.monotonic() + self.target.timeout
        last: Frame | Closed | None = None
        while True:
            event = self.next_event(deadline)
            if isinstance(event, Closed):
                return
            if event is None:
                raise CaseFailure("the connection closed", describe(last))
            last = event

    def expect_goaway(self, *codes: int) -> GoAwayFrame:
        """Wait for GOAWAY with one of *codes*; a bare close fails."""
        names = " or ".join(_CODE_NAMES[c] for c in codes)
        frame = self._wait(f"GOAWAY {names}", GoAwayFrame, lambda f: f.error_code in codes)
        assert isinstance(frame, GoAwayFrame)
        return frame

    def expect_reset(self, stream_id: int, code: int) -> None:
        """Wait for RST_STREAM with *code* on *stream_id*; a GOAWAY or close fails."""
        self._wait(
            f"RST_STREAM {_CODE_NAMES[code]} on stream {stream_id}",
            RstStreamFrame,
            lambda f: f.stream_id == stream_id and f.error_code == code,
        )

    def expect_headers(self, stream_id: int) -> HeadersFrame:
        """Wait for a HEADERS frame on *stream_id* (the response)."""
        frame = self._wait(
            f"HEADERS on stream {stream_id}", HeadersFrame, lambda f: f.stream_id == stream_id
        )
        assert isinstance(frame, HeadersFrame)
        return frame

    def expect_data(self, stream_id: int, length: int | None = None) -> DataFrame:
        """Wait for a DATA frame on *stream_id*, of exactly *length* bytes if given."""
        wanted = f"DATA on stream {stream_id}" + (f" of {length} bytes" if length else "")

        def match(frame: DataFrame) -> bool:
            return frame.stream_id == stream_id and (length is None or len(frame.data) == length)

        frame = self._wait(wanted, DataFrame, match)
        assert isinstance(frame, DataFrame)
        return frame

    def expect_ping_ack(self, data: bytes) -> None:
        """Wait for the ACK of a PING carrying *data*."""
        self._wait(
            f"PING ACK with {data!r}",
            PingFrame,
            lambda f: "ACK" in f.flags and f.opaque_data == data,
        )

    def expect_settings_ack(self) -> None:
        """Wait for a SETTINGS ACK."""
        self._wait("SETTINGS ACK", SettingsFrame, lambda f: "ACK" in f.flags)

    def expect_stream_end(self, stream_id: int) -> None:
        """Wait for the server to end *stream_id*: END_STREAM, or RST_STREAM NO_ERROR."""

        def match(frame: Frame) -> bool:
            if frame.stream_id != stream_id:
                return False
            if isinstance(frame, RstStreamFrame):
                return frame.error_code == ErrorCode.NO_ERROR
            return "END_STREAM" in frame.flags

        self._wait(
            f"the end of stream {stream_id}",
            (DataFrame, HeadersFrame, RstStreamFrame),
            match,
        )

    def expect_ping_ack_or_close(self, data: bytes) -> None:
        """Wait for the ACK of a PING carrying *data*, or for the connection to close.

        For frames after which the server may go away (a GOAWAY from the
        client, say).  As in h2spec, a GOAWAY on the way is not a failure by
        itself: the server may be closing because the client said it would
        go away.  (The stricter reading has its own case, ``http2/6.8``.)
        """
        deadline = time.monotonic() + self.target.timeout
        last: Frame | Closed | None = None
        while True:
            event = self.next_event(deadline)
            if isinstance(event, Closed):
                return
            if event is None:
                raise CaseFailure(
                    f"PING ACK with {data!r}, or the connection closed", describe(last)
                )
            last = event
            if isinstance(event, PingFrame) and "ACK" in event.flags and event.opaque_data == data:
                return
