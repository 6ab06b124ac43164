"""One request and its response, as an application sees them.

An application is any object with ``async def handle(self, exchange)``.
The driver creates an :class:`Exchange` for each request head and awaits
``handle``; the application reads the body and writes the response through
the exchange.  The Tornado-style (:mod:`crosswind.web`) and Flask-style
(:mod:`crosswind.app`) layers are such applications.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import CrosswindError, LocalProtocolError
from .events import Data, EndOfMessage, RawHeaders, Request
from .limits import Limits
from .transport import ConnectionInfo, Transport, TransportClosed

if TYPE_CHECKING:
    from .driver import ConnectionDriver

__all__ = ["Application", "ClientDisconnected", "DetachedStream", "Exchange", "ResponseHeaders"]

#: Response fields: ``(name, value)`` pairs, all ``bytes`` or all ``str`` (sent as
#: latin-1); names in any case.
ResponseHeaders = Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]]


_METHODS = {
    name.encode("ascii"): name
    for name in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
}
_VERSIONS = {b"1.1": "1.1", b"1.0": "1.0", b"2": "2"}


class ClientDisconnected(CrosswindError):
    """The client went away before the request or response was complete."""


class Application(Protocol):
    """What the connection driver calls for each request."""

    async def handle(self, exchange: Exchange) -> None: ...


class Exchange:
    """A request being served.

    Attributes: ``method``, ``target`` (both ``str``), ``path`` and
    ``query`` (the target split at ``?``; the path of an absolute-form target),
    ``http_version`` (``"1.1"``), ``headers`` (lowercased ``bytes`` names with
    ``bytes`` values, in order), ``info`` (:class:`ConnectionInfo`).
    """

    __slots__ = (
        "_close_callbacks",
        "_driver",
        "_ended",
        "bytes_sent",
        "headers",
        "http_version",
        "info",
        "method",
        "path",
        "query",
        "response_headers",
        "server_header",
        "start_time",
        "status",
        "target",
    )

    def __init__(self, driver: ConnectionDriver, request: Request, start_time: float) -> None:
        self._driver = driver
        #: Whether the server adds its ``Server`` field to a response that has
        #: none; a framework with a ``Server`` default of its own leaves it out
        #: when this is false.  An attribute, not a property: crosswind.web
        #: reads it on every response (see bench/NOTES.md).
        self.server_header: bool = driver.server_header
        method, target_bytes, headers, version = request
        # The usual methods and versions looked up rather than decoded (see bench/NOTES.md).
        self.method = _METHODS.get(method) or method.decode("ascii")
        self.target = target = target_bytes.decode("latin-1")
        self.http_version = _VERSIONS.get(version) or version.decode("ascii")
        # h11 hands over a Sequence that iterates through __getitem__ in Python; a list
        # makes every later scan of it cheap (see bench/NOTES.md).
        self.headers: RawHeaders = headers if type(headers) is list else list(headers)
        self.info: ConnectionInfo = driver.transport.info
        if target[:1] != "/" and "://" in target:
            # absolute-form (RFC 9112 section 3.2.2): keep only path and query
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            target = rest[slash:] if slash >= 0 else "/"
        path, _, query = target.partition("?")
        self.path = path
        self.query = query
        self.status = 0
        self.bytes_sent = 0
        #: The header fields the application answered with, for the access log.
        self.response_headers: ResponseHeaders = ()
        self.start_time = start_time
        self._ended = False
        self._close_callbacks: list[Callable[[], None]] | None = None

    def __repr__(self) -> str:
        return f"<Exchange {self.method} {self.target}>"

    def get_header(self, name: bytes, default: bytes | None = None) -> bytes | None:
        """The first value of header *name* (lowercase bytes), or *default*."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    # -- request body ----------------------------------------------------

    @property
    def max_body_size(self) -> int:
        """The body limit for this request; set it before reading to change it."""
        return self._driver.conn.max_body_size

    @max_body_size.setter
    def max_body_size(self, value: int) -> None:
        self._driver.conn.max_body_size = value

    @property
    def reads_block(self) -> bool:
        """Whether :meth:`read` blocks the thread instead of suspending a task.

        True where the transport says so (the threads backend, the in-memory
        test client, WSGI servers): there a plain function may wait for the
        body with :func:`crosswind._sync.run_sync`.
        """
        return getattr(self._driver.transport, "blocking", False)

    @property
    def body_complete(self) -> bool:
        return self._driver.conn.request_complete

    async def read(self) -> bytes:
        """Return the next piece of the body, ``b""`` once it is complete.

        Sends ``100 Continue`` first when the client asked for it.

        :raises RequestError: the body is too large (413), malformed (400) or
            too slow (408).
        :raises ClientDisconnected: the client closed mid-body.
        """
        driver = self._driver
        conn = driver.conn
        if conn.request_complete:
            return b""
        if conn.wants_continue:
            await driver.send(conn.send_continue())
        while True:
            event = await driver.next_event()
            if type(event) is Data:
                return event.data
            if type(event) is EndOfMessage:
                return b""

    async def read_body(self) -> bytes:
        """Read and return the whole body (bounded by :attr:`max_body_size`)."""
        parts = []
        while chunk := await self.read():
            parts.append(chunk)
        return b"".join(parts)

    # -- response --------------------------------------------------------

    @property
    def response_started(self) -> bool:
        return self.status != 0

    @property
    def finished(self) -> bool:
        return self._ended

    async def start_response(
        self, status: int, headers: ResponseHeaders, reason: bytes = b""
    ) -> None:
        """Send the status line and headers; the body follows with :meth:`write`."""
        self.status = status
        self.response_headers = headers
        await self._driver.send(self._driver.conn.send_response(status, headers, reason))

    async def write(self, data: bytes) -> None:
        """Send a piece of the response body."""
        out = self._driver.conn.send_data(data)
        if out:
            self.bytes_sent += len(data)
            await self._driver.send(out)

    async def end(self, data: bytes = b"") -> None:
        """Send the last piece of the body and complete the response."""
        conn = self._driver.conn
        out = conn.send_data(data) if data else b""
        self.bytes_sent += len(data)
        self._ended = True
        await self._driver.send(out + conn.send_end())

    async def respond(
        self,
        status: int,
        headers: ResponseHeaders,
        body: bytes = b"",
        reason: bytes = b"",
    ) -> None:
        """Send a whole response in one write; adds ``Content-Length`` if missing."""
        waiter = self.respond_nowait(status, headers, body, reason)
        if waiter is not None:
            await waiter

    def respond_nowait(
        self,
        status: int,
        headers: ResponseHeaders,
        body: bytes = b"",
        reason: bytes = b"",
    ) -> Awaitable[None] | None:
        """:meth:`respond` as a plain call, for layers that answer without awaiting.

        Returns ``None`` when the response went out at once, else an
        awaitable to await before doing anything more with this exchange
        (the client is slow to read, or the backend has no synchronous send).
        """
        conn = self._driver.conn
        self.status = status
        self.response_headers = headers
        # The writer adds Content-Length while it walks the fields anyway, so the
        # exchange does not scan them first; the body goes positionally, as a call
        # with a keyword costs more (see bench/NOTES.md).
        length = len(body)
        out = conn.send_response(status, headers, reason, length, body)
        self.bytes_sent = length
        self._ended = True
        return self._driver.send_nowait(out)

    # -- leaving HTTP ----------------------------------------------------

    def detach(self) -> DetachedStream:
        """Take the raw connection over, for a protocol tunnelled over HTTP/1.1.

        Nothing more is parsed or sent as HTTP on this connection: the caller
        writes its own response head (``101 Switching Protocols``, say) and
        then speaks the new protocol.  The driver closes the connection when
        ``handle`` returns if the stream was closed by then; otherwise the
        stream owns the connection and must be closed by whoever holds it.

        :raises LocalProtocolError: a response was already started.
        """
        if self.response_started:
            raise LocalProtocolError("cannot detach after the response has started")
        return self._driver.detach()

    # -- disconnects -----------------------------------------------------

    @property
    def client_disconnected(self) -> bool:
        return self._driver.disconnected

    def omit_server_header(self) -> None:
        """Send this response without the server's ``Server`` field.

        A ``Server`` field in the response's own headers is still sent.  Call
        it before the response starts.
        """
        self._driver.conn.omit_server_header()

    def add_close_callback(self, callback: Callable[[], None]) -> None:
        """Call *callback* if the client disconnects before the response ends."""
        if self._close_callbacks is None:
            self._close_callbacks = []
            self._driver.watch_disconnect(self)
        self._close_callbacks.append(callback)

    def connection_lost(self) -> None:
        """Tell the exchange that its client went away (the driver calls this).

        Runs the callbacks of :meth:`add_close_callback` once, unless the
        response had already ended; later calls do nothing.
        """
        callbacks, self._close_callbacks = self._close_callbacks or [], None
        if not self._ended:
            for callback in callbacks:
                callback()


class DetachedStream:
    """The byte stream of a connection after :meth:`Exchange.detach`.

    :param transport: the connection's transport.
    :param leftover: bytes already received behind the request head.
    :param clock: the clock the transport's deadlines are in (the driver's);
        ``None`` when the stream was made without a driver.
    :param limits: the server's limits, for the protocol spoken on the stream.
    """

    __slots__ = (
        "_closed",
        "_interrupted",
        "_leftover",
        "_transport",
        "clock",
        "limits",
        "shutting_down",
    )

    def __init__(
        self,
        transport: Transport,
        leftover: bytes,
        *,
        clock: Callable[[], float] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._transport = transport
        self._leftover = leftover
        self._closed = False
        self._interrupted = False
        self.clock = clock
        self.limits = limits
        #: The server is shutting down: whoever holds the stream should close it.
        self.shutting_down = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def send_lock(self) -> AbstractContextManager[Any] | None:
        """A re-entrant lock to hold while sending, when sends may come from several threads.

        Only a transport whose sends can race (the threaded backend's) has
        one; ``None`` elsewhere.
        """
        lock: AbstractContextManager[Any] | None = getattr(self._transport, "send_lock", None)
        return lock

    @property
    def send_nowait(self) -> Callable[[bytes], Awaitable[None] | None] | None:
        """The transport's ``send_nowait`` (see :class:`~crosswind.protocol.transport.Transport`), if it has one."""
        send: Callable[[bytes], Awaitable[None] | None] | None = getattr(
            self._transport, "send_nowait", None
        )
        return send

    async def receive(self, deadline: float | None = None) -> bytes:
        """The next bytes from the peer; ``b""`` once it has closed.

        :param deadline: give up at this time, in the terms of :attr:`clock`.
        :raises TimeoutError: *deadline* passed with nothing received, or
            :meth:`interrupt_receive` ended the wait.
        """
        if self._leftover:
            data, self._leftover = self._leftover, b""
            return data
        if self._closed:
            return b""
        try:
            return await self._transport.receive(deadline)
        except (TransportClosed, ConnectionError):
            return b""
        finally:
            # The holder has control again, whatever ended the wait.
            self._interrupted = False

    def interrupt_receive(self) -> None:
        """End the pending :meth:`receive` with :class:`TimeoutError`, or the next one.

        For a holder that must act (write what another task queued, or close
        for a shutdown) while it waits for the peer.  It uses the transport's
        ``stop_waiting`` where there is one; the threaded backend's shuts the
        socket's reading side for that, so there it is for closing only.
        """
        self._interrupted = True
        stop_waiting = getattr(self._transport, "stop_waiting", None)
        if stop_waiting is not None:
            stop_waiting(self._must_stop)

    def _must_stop(self, driver: object) -> bool:
        return self._interrupted

    def start_shutdown(self) -> None:
        """Tell the holder that the server is shutting down (the driver calls this).

        Sets :attr:`shutting_down` and interrupts the pending receive.
        """
        if not self.shutting_down and not self._closed:
            self.shutting_down = True
            self.interrupt_receive()

    async def send(self, data: bytes) -> None:
        """Send *data* as it is.

        :raises ClientDisconnected: the peer has gone away.
        """
        if self._closed:
            raise ClientDisconnected("the detached stream is closed")
        try:
            await self._transport.send(data)
        except (TransportClosed, ConnectionError):
            raise ClientDisconnected("the client closed the connection") from None

    async def close(self) -> None:
        """Close the connection; further calls do nothing."""
        if not self._closed:
            self._closed = True
            await self._transport.close()
