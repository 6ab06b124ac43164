"""Two deliberately wrong servers that prove every case can fail.

- :func:`agreeable` accepts everything: it answers every request, every PING
  and every SETTINGS, ignores flow control, and never sends GOAWAY or
  RST_STREAM nor closes.  It also sends a WINDOW_UPDATE before its SETTINGS,
  which the preface case must catch.  Every case that expects an error fails
  against it.
- :func:`refusing` completes the handshake and then closes the connection on the
  next frame it gets (after a GOAWAY PROTOCOL_ERROR), as if everything were
  a connection error.  Every case
  that expects an answer fails against it.

A case that passes against both checks nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

from hpack import Encoder
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

__all__ = ["agreeable", "refusing"]


def _frames(sock: socket.socket) -> Iterator[Frame | None]:
    """The frames after the 24-octet preface, until the peer closes; ``None`` for
    one that hyperframe cannot parse."""
    buffer = bytearray()
    skipped = False
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return
        buffer += chunk
        if not skipped:
            if len(buffer) < 24:
                continue
            del buffer[:24]
            skipped = True
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            header, body = bytes(buffer[:9]), bytes(buffer[9 : 9 + length])
            del buffer[: 9 + length]
            try:
                frame, _ = Frame.parse_frame_header(memoryview(header))
                frame.parse_body(memoryview(body))
            except (HyperframeError, ValueError):
                yield None
                continue
            yield frame


def _agree(sock: socket.socket, frame: Frame | None, encoder: Encoder) -> None:
    if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
        sock.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
    elif isinstance(frame, PingFrame) and "ACK" not in frame.flags:
        sock.sendall(PingFrame(0, frame.opaque_data, flags=["ACK"]).serialize())
    elif isinstance(frame, HeadersFrame | ContinuationFrame) and "END_HEADERS" in frame.flags:
        block = encoder.encode([(":status", "200")])
        sock.sendall(
            HeadersFrame(frame.stream_id, block, flags=["END_HEADERS"]).serialize()
            + DataFrame(frame.stream_id, b"hello world", flags=["END_STREAM"]).serialize()
        )


def _serve_agreeable(sock: socket.socket) -> None:
    encoder = Encoder()
    sock.sendall(
        WindowUpdateFrame(0, window_increment=1).serialize()
        + SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 4}).serialize()
    )
    for frame in _frames(sock):
        _agree(sock, frame, encoder)


def _serve_refusing(sock: socket.socket) -> None:
    sock.sendall(SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 4}).serialize())
    acked = refused = False
    for frame in _frames(sock):
        if isinstance(frame, SettingsFrame) and "ACK" in frame.flags:
            continue
        if isinstance(frame, SettingsFrame) and not acked:
            sock.sendall(SettingsFrame(0, flags=["ACK"]).serialize())
            acked = True
            continue
        if not refused:
            sock.sendall(GoAwayFrame(0, last_stream_id=0, error_code=1).serialize())
            refused = True


@contextlib.contextmanager
def _serving(handler: Callable[[socket.socket], None]) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so the accepting thread sees the stop in time
    stop = threading.Event()

    def connection(sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):
            handler(sock)

    def accept() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=connection, args=(sock,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def agreeable() -> contextlib.AbstractContextManager[int]:
    """Serve the server that accepts everything; yields its port."""
    return _serving(_serve_agreeable)


def refusing() -> contextlib.AbstractContextManager[int]:
    """Serve the server that closes on the first frame after the handshake; yields its port."""
    return _serving(_serve_refusing)
