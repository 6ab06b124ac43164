"""One HTTP/2 stream, as the :class:`~crosswind.protocol.exchange.Exchange` an application gets.

The application sees the same object as over HTTP/1.1, with ``http_version``
``"2"``; only the wire differs:

* :meth:`H2Exchange.read` hands over the body as it arrives, and each piece
  read gives its share of the flow control windows back: a handler that does
  not read holds its client back instead of filling the server's memory.
* :meth:`H2Exchange.write` sends as much as the windows allow and waits for
  the client to open them (and for the connection's queue to drain) for the
  rest.
* A stream the client resets, or a connection that is gone, raises
  :class:`~crosswind.protocol.exchange.ClientDisconnected` from whatever the
  application awaits next and runs its close callbacks.
* Response fields HTTP/2 forbids (``Connection``, ``Keep-Alive``,
  ``Transfer-Encoding``, ``Upgrade``, ``Proxy-Connection``, ``TE``) are
  dropped, names are lowercased, values stripped, the reason phrase is not
  sent; ``Date`` and ``Server`` are added as over HTTP/1.1, and the same
  fields are refused (a name that is not a token, a value with a control
  character).  This vetting is the only one: h2's own is turned off (see
  the connection), so credentials and short cookies are marked never to be
  indexed here, as h2 would.
* :meth:`H2Exchange.detach` is refused: no protocol is tunnelled over an
  HTTP/2 stream here (extended CONNECT is not offered).
"""

from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hpack import NeverIndexedHeaderTuple

from ...errors import LocalProtocolError, RequestError
from ...grammar import FIELD_OCTETS, field_problem, is_token
from ..events import Request
from ..exchange import ClientDisconnected, DetachedStream, Exchange, ResponseHeaders
from ..transport import Signal

if TYPE_CHECKING:
    from .driver import H2ConnectionDriver

__all__ = ["H2Exchange"]

#: Connection-specific fields (RFC 9113 section 8.2.2): never sent over HTTP/2
#: (``te`` is a request field; a response has no use for it).
DROPPED_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"proxy-connection", b"te"}
)
#: Fields kept out of HPACK's tables (never indexed, RFC 7541 section 7.1.3), where
#: guessing them from the compressed size would pay: credentials, and short cookies.
_SECRET_FIELDS = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
_DIGITS = re.compile(rb"[0-9]{1,18}")
#: What a response field is to the exchange (see _vet).
_OTHER, _DROPPED, _LENGTH, _DATE, _SERVER = range(5)
_KINDS = {b"content-length": _LENGTH, b"date": _DATE, b"server": _SERVER}
_STATUS_FIELDS = {status: (b":status", b"%d" % status) for status in range(100, 600)}

# Response fields vetted once, by (name, value) as the application passed them: most
# responses repeat the fields of earlier ones, which are then looked up instead of
# being checked, encoded and lowercased again (deliberate, as the HTTP/1.1 writer's
# tables; see bench/NOTES.md).  Emptied when full, so that values that never repeat
# cannot grow it.
_VETTED: dict[tuple[Any, Any], tuple[int, tuple[bytes, bytes]]] = {}
_MAX_VETTED = 512


def _vet(name: Any, value: Any) -> tuple[int, tuple[bytes, bytes]]:
    """What a response field is, and the field to send: lowercased, stripped, marked.

    :raises LocalProtocolError: it is not an HTTP field, or not latin-1 text.
    """
    raw_name: Any = name
    raw_value: Any = value
    if type(name) is str:
        try:
            raw_name = name.encode("latin-1")
            raw_value = value.encode("latin-1")
        except (UnicodeEncodeError, AttributeError):
            raise LocalProtocolError(f"response header {name!r} is not latin-1 text") from None
    if type(raw_name) is not bytes or type(raw_value) is not bytes:
        raise LocalProtocolError("response header names and values must be all bytes or all str")
    if not is_token(raw_name) or raw_value.translate(None, FIELD_OCTETS):
        raise LocalProtocolError(f"response {field_problem(name, value)}")
    lower = raw_name.lower()
    if lower in DROPPED_FIELDS:
        return _DROPPED, (lower, raw_value)
    raw_value = raw_value.strip(b" \t")
    kind = _KINDS.get(lower, _OTHER)
    if kind == _LENGTH and _DIGITS.fullmatch(raw_value) is None:
        raise LocalProtocolError(f"invalid Content-Length {value!r}")
    if lower in _SECRET_FIELDS and (lower != b"cookie" or len(raw_value) < 20):
        return kind, NeverIndexedHeaderTuple(lower, raw_value)
    return kind, (lower, raw_value)
_VERSION = b"2"


class H2Exchange(Exchange):
    """A request on one HTTP/2 stream (see the module docstring).

    :param driver: the connection's driver.
    :param stream_id: the stream.
    :param request: the vetted request head.
    :param start_time: when it arrived, in the driver's clock.
    """

    __slots__ = (
        "_body",
        "_body_done",
        "_closed",
        "_error",
        "_h2",
        "_max_body_size",
        "_no_body",
        "_omit_server",
        "_read_signal",
        "_remaining",
        "_send_signal",
        "stream_id",
    )

    _driver: H2ConnectionDriver  # type: ignore[assignment]

    def __init__(
        self,
        driver: H2ConnectionDriver,
        stream_id: int,
        request: Request,
        start_time: float,
        body_done: bool,
    ) -> None:
        super().__init__(driver, request, start_time)  # type: ignore[arg-type]
        self.stream_id = stream_id
        self._h2 = driver.conn
        self._max_body_size = driver.conn.limits.max_body_size
        self._body: deque[tuple[bytes, int]] = deque()
        self._body_done = body_done
        self._error: RequestError | None = None
        self._closed = False
        self._read_signal: Signal | None = None
        self._send_signal: Signal | None = None
        self._no_body = False
        self._remaining: int | None = None
        self._omit_server = False

    def __repr__(self) -> str:
        return f"<H2Exchange {self.stream_id} {self.method} {self.target}>"

    # -- told by the driver ------------------------------------------------

    def body_received(self, data: bytes, flow_length: int) -> None:
        self._body.append((data, flow_length))
        self._wake_reader()

    def body_ended(self) -> None:
        self._body_done = True
        self._wake_reader()

    def failed(self, error: RequestError) -> None:
        """The body cannot be read further (too large, too slow)."""
        self._error = error
        self._wake_reader()

    def closed(self) -> None:
        """The stream is gone: wake whatever waits, and run the close callbacks."""
        if self._closed:
            return
        self._closed = True
        self._wake_reader()
        self.window_opened()
        self.connection_lost()

    def window_opened(self) -> None:
        signal, self._send_signal = self._send_signal, None
        if signal is not None:
            signal.set()

    def _wake_reader(self) -> None:
        signal, self._read_signal = self._read_signal, None
        if signal is not None:
            signal.set()

    # -- request body --------------------------------------------------------

    @property
    def max_body_size(self) -> int:
        return self._max_body_size

    @max_body_size.setter
    def max_body_size(self, value: int) -> None:
        self._max_body_size = value
        self._h2.set_max_body_size(self.stream_id, value)

    @property
    def reads_block(self) -> bool:
        return False

    @property
    def body_complete(self) -> bool:
        return self._body_done and not self._body

    async def read(self) -> bytes:
        """Return the next piece of the body, ``b""`` once it is complete.

        :raises RequestError: the body is too large (413) or too slow (408).
        :raises ClientDisconnected: the client reset the stream or left.
        """
        driver = self._driver
        while True:
            if self._body:
                data, flow = self._body.popleft()
                self._h2.consumed(self.stream_id, flow)
                driver.flush()
                if data:
                    return data
                continue
            if self._error is not None:
                raise self._error
            if self._body_done:
                return b""
            if self._closed:
                raise ClientDisconnected("the client reset the stream")
            signal = self._read_signal = driver.new_signal()
            self._h2.reading(self.stream_id, True)
            driver.rearm()
            try:
                await signal.wait()
            finally:
                self._h2.reading(self.stream_id, False)

    # -- response ------------------------------------------------------------

    def _head(self, status: int, headers: ResponseHeaders, length: int | None) -> list[tuple[bytes, bytes]]:
        """The response's header list: vetted, lowercased, with the fields the server adds."""
        status_field = _STATUS_FIELDS.get(status)
        fields: list[tuple[bytes, bytes]] = [status_field or (b":status", b"%d" % status)]
        has_date = has_server = False
        declared: bytes | None = None
        vetted = _VETTED
        for field in headers:
            try:
                entry = vetted.get(field)
            except TypeError:  # unhashable: a list, or a bytearray value
                entry = None
            if entry is None:
                entry = _vet(*field)
                if len(vetted) >= _MAX_VETTED:
                    vetted.clear()
                with contextlib.suppress(TypeError):
                    vetted[field] = entry
            kind, sent = entry
            if kind:
                if kind == _DROPPED:
                    continue
                if kind == _LENGTH:
                    if declared is not None:
                        if declared != sent[1]:
                            raise LocalProtocolError(f"invalid Content-Length {field[1]!r}")
                        continue
                    declared = sent[1]
                elif kind == _DATE:
                    has_date = True
                else:
                    has_server = True
            fields.append(sent)
        driver = self._driver
        if not has_date and driver.date is not None:
            fields.append((b"date", driver.date.as_bytes()))
        if not has_server and driver.server_name is not None and not self._omit_server:
            fields.append((b"server", driver.server_name))
        self._no_body = self.method == "HEAD" or status in (204, 304) or status < 200
        if declared is None and length is not None and status not in (204, 304):
            fields.append((b"content-length", b"%d" % length))
        elif declared is not None and not self._no_body:
            self._remaining = int(declared)
        return fields

    def _count(self, size: int) -> None:
        remaining = self._remaining
        if remaining is not None:
            if size > remaining:
                raise LocalProtocolError("response body longer than its Content-Length")
            self._remaining = remaining - size

    def _check_open(self) -> None:
        if self._closed or self._driver.disconnected:
            raise ClientDisconnected("the client reset the stream")

    async def start_response(
        self, status: int, headers: ResponseHeaders, reason: bytes = b""
    ) -> None:
        """Send the response head; the body follows with :meth:`write` (*reason* is not sent)."""
        self._check_open()
        if self.status:
            raise LocalProtocolError("the response has started already")
        fields = self._head(status, headers, None)
        self.status = status
        self.response_headers = headers
        self._h2.send_headers(self.stream_id, fields, end_stream=False)
        self._driver.flush()

    async def write(self, data: bytes) -> None:
        """Send a piece of the response body, waiting for the client's windows as needed."""
        if not self.status:
            raise LocalProtocolError("write() before start_response()")
        if self._ended:
            raise LocalProtocolError("write() after end()")
        if not data or self._no_body:
            self._check_open()
            return
        self._count(len(data))
        self.bytes_sent += len(data)
        await self._send_body(data, False)

    async def end(self, data: bytes = b"") -> None:
        """Send the last piece of the body and end the stream."""
        if not self.status:
            raise LocalProtocolError("end() before start_response()")
        if self._ended:
            return
        if self._no_body:
            data = b""
        self._count(len(data))
        if self._remaining:
            raise LocalProtocolError("response body shorter than its Content-Length")
        self.bytes_sent += len(data)
        await self._send_body(data, True)
        self._ended = True

    async def _send_body(self, data: bytes, end_stream: bool) -> None:
        """Send *data* as the windows and the connection's queue allow."""
        driver = self._driver
        conn = self._h2
        stream_id = self.stream_id
        view = memoryview(data)
        sent = 0
        total = len(data)
        try:
            while True:
                self._check_open()
                window = conn.send_window(stream_id)
                if driver.has_room and (window > 0 or sent == total):
                    size = min(window, total - sent, driver.chunk_size)
                    last = sent + size == total
                    conn.send_data(stream_id, bytes(view[sent : sent + size]), end_stream and last)
                    sent += size
                    driver.flush()
                    if last:
                        return
                    continue
                signal = self._send_signal = driver.new_signal()
                driver.wait_for_room(signal)
                conn.send_blocked(stream_id, True)
                driver.rearm()
                await signal.wait()
        finally:
            conn.send_blocked(stream_id, False)

    def respond_nowait(
        self,
        status: int,
        headers: ResponseHeaders,
        body: bytes = b"",
        reason: bytes = b"",
    ) -> Awaitable[None] | None:
        """:meth:`respond` as a plain call: ``None`` when it is all queued, else an awaitable."""
        self._check_open()
        if self.status:
            raise LocalProtocolError("the response has started already")
        fields = self._head(status, headers, len(body))
        self._remaining = None  # the body is the length just declared, or dropped
        self.status = status
        self.response_headers = headers
        conn = self._h2
        driver = self._driver
        if self._no_body or not body:
            conn.send_headers(self.stream_id, fields, end_stream=True)
            self._ended = True
            driver.flush()
            return None
        self.bytes_sent = len(body)
        conn.send_headers(self.stream_id, fields, end_stream=False)
        # Whole only when it is one piece: a larger body goes out a chunk at a time,
        # so the queue never holds more than the reader's cap allows for.
        if len(body) <= driver.chunk_size and driver.has_room and conn.send_last(self.stream_id, body):
            self._ended = True
            driver.flush()
            return None
        driver.flush()
        return self._respond_rest(body)

    async def _respond_rest(self, body: bytes) -> None:
        await self._send_body(body, True)
        self._ended = True

    # -- leaving HTTP ----------------------------------------------------------

    def detach(self) -> DetachedStream:
        """Refused: an HTTP/2 stream carries no other protocol here.

        :raises LocalProtocolError: always.
        """
        raise LocalProtocolError("an HTTP/2 stream cannot be detached (no extended CONNECT)")

    # -- disconnects -----------------------------------------------------------

    @property
    def client_disconnected(self) -> bool:
        return self._closed or self._driver.disconnected

    def omit_server_header(self) -> None:
        """Send this response without the server's ``Server`` field."""
        self._omit_server = True

    def add_close_callback(self, callback: Callable[[], None]) -> None:
        """Call *callback* if the stream is reset or the client leaves before the response ends."""
        if self._close_callbacks is None:
            self._close_callbacks = []
        self._close_callbacks.append(callback)
