"""The driver side of a real :class:`~crosswind.protocol.exchange.Exchange`, for a request a server parsed.

An :class:`~crosswind.protocol.exchange.Exchange` talks to its driver through a narrow
surface: ``driver.conn`` (body limit, ``send_response``/``send_data``/
``send_end`` returning bytes to send), ``driver.send(bytes)``,
``driver.next_event()`` (body events), ``driver.disconnected``,
``driver.watch_disconnect`` and ``driver.transport.info``.  When the HTTP
framing is already done by someone else -- a WSGI or ASGI server -- the
adapters supply that surface with :class:`AdapterDriver`: the connection
half records the response head instead of serialising it and returns body
bytes unframed, and ``send`` hands head and body to the foreign server.  So
applications get the very same ``Exchange`` class (and any method it grows)
as under the built-in backends, and the adapters duplicate none of it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from typing import Any

from crosswind.errors import LocalProtocolError, RequestError
from crosswind.grammar import field_problem, is_field_value
from crosswind.protocol.events import Data, EndOfMessage, Request
from crosswind.protocol.exchange import Application, ClientDisconnected, Exchange, ResponseHeaders
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "HOP_BY_HOP",
    "AdapterConnection",
    "AdapterDriver",
    "call_application",
    "check_response_headers",
    "error_response",
    "make_exchange",
    "strip_hop_by_hop",
]

log = logging.getLogger("crosswind.adapters")

_FRAMING_NAMES = (b"content-length", b"transfer-encoding")
#: Connection-level headers: the foreign server owns the connection and its framing.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


class AdapterConnection:
    """The response state and body limit an :class:`Exchange` keeps on its connection.

    :param max_body_size: the request body limit (a handler may change it).
    :param head_only: the request is ``HEAD``: body bytes are dropped.
    """

    __slots__ = (
        "head_only",
        "max_body_size",
        "reason",
        "request_complete",
        "response_done",
        "response_headers",
        "response_started",
        "status",
    )

    def __init__(self, max_body_size: int, head_only: bool) -> None:
        self.max_body_size = max_body_size
        self.head_only = head_only
        self.request_complete = False
        self.response_started = False
        self.response_done = False
        self.status = 0
        self.reason = b""
        self.response_headers: list[tuple[bytes, bytes]] = []

    @property
    def wants_continue(self) -> bool:
        # WSGI and ASGI servers answer "Expect: 100-continue" themselves when
        # the application first reads.
        return False

    def send_continue(self) -> bytes:
        return b""

    def omit_server_header(self) -> None:
        # The foreign server decides its own Server field; crosswind adds none here.
        pass

    def send_response(
        self,
        status: int,
        headers: ResponseHeaders,
        reason: bytes = b"",
        length: int | None = None,
        body: bytes | None = None,
    ) -> bytes:
        """Record the response head; the driver's ``send`` delivers it.

        :param status: the final status code.
        :param headers: ``(name, value)`` pairs, all bytes or all latin-1 text.
        :param reason: the reason phrase (servers that cannot send one drop it).
        :param length: the whole body's length when known: ``Content-Length``
            is added unless the headers frame the body themselves.
        :param body: the whole body: then also :meth:`send_data` and :meth:`send_end`.
        :raises LocalProtocolError: a second head, or headers that are not valid HTTP
            (:func:`check_response_headers`).
        """
        if self.response_started:
            raise LocalProtocolError("a response was already started for this request")
        if not 200 <= status <= 999:
            raise LocalProtocolError(f"status {status} is not a final response status")
        if not is_field_value(reason):
            raise LocalProtocolError(f"reason phrase {reason!r} has a control character")
        checked = []
        framed = False
        for name, value in check_response_headers(headers):
            framed = framed or name.lower() in _FRAMING_NAMES
            checked.append((name, value.strip(b" \t")))
        if length is not None and not framed and status not in (204, 304):
            checked.append((b"Content-Length", b"%d" % length))
        self.status = status
        self.reason = reason
        self.response_headers = checked
        self.response_started = True
        if body is None:
            return b""
        return (self.send_data(body) if body else b"") + self.send_end()

    def send_data(self, data: bytes) -> bytes:
        """Body bytes as they are (the foreign server frames them); none for ``HEAD``."""
        if not self.response_started or self.response_done:
            raise LocalProtocolError("body data sent outside a response")
        return b"" if self.head_only else data

    def send_end(self) -> bytes:
        if not self.response_started or self.response_done:
            raise LocalProtocolError("response ended twice or never started")
        self.response_done = True
        return b""


def check_response_headers(headers: ResponseHeaders) -> list[tuple[bytes, bytes]]:
    """*headers* as bytes, held to the rule the response writer keeps.

    The same checks as the built-in server's (:func:`crosswind.grammar.field_problem`),
    so an application answers alike behind any server: a name that is not a token,
    a value with a control character other than HTAB, or text beyond latin-1 is
    refused before anything is sent, with an error that names the header.

    :param headers: ``(name, value)`` pairs, all ``bytes`` or all latin-1 ``str``.
    :raises LocalProtocolError: for the first field that cannot be sent.
    """
    checked: list[tuple[bytes, bytes]] = []
    text: bool | None = None  # the first field says which, as in the writer
    for name, value in headers:
        if isinstance(name, str) and isinstance(value, str) and text is not False:
            text = True
            problem = field_problem(name, value)
            if problem is None:
                checked.append((name.encode("latin-1"), value.encode("latin-1")))
        elif isinstance(name, bytes) and isinstance(value, bytes) and text is not True:
            text = False
            problem = field_problem(name, value)
            checked.append((name, value))
        else:
            raise LocalProtocolError(
                "response header names and values must be all bytes or all str"
            )
        if problem is not None:
            raise LocalProtocolError(f"response {problem}")
    return checked


class _InfoOnly:
    __slots__ = ("blocking", "info")

    def __init__(self, info: ConnectionInfo) -> None:
        self.info = info
        #: Whether reading the body blocks the thread (see ``Exchange.reads_block``).
        self.blocking = False


class AdapterDriver:
    """Base of the WSGI and ASGI drivers: subclasses move bytes, this keeps the rules.

    Subclasses implement :meth:`receive_body` and :meth:`deliver`, and may
    override :meth:`watch_disconnect`.

    :param info: the connection as the foreign server describes it.
    :param head_only: the request is ``HEAD``.
    :param max_body_size: the request body limit.
    :param content_length: the declared body length, if any (checked up front).
    """

    #: Behind a foreign server a framework keeps its own ``Server`` default:
    #: crosswind's setting does not reach that server.
    server_header = True

    def __init__(
        self,
        info: ConnectionInfo,
        *,
        head_only: bool,
        max_body_size: int,
        content_length: int | None,
    ) -> None:
        self.conn = AdapterConnection(max_body_size, head_only)
        self.transport = _InfoOnly(info)
        self.disconnected = False
        #: Whether :meth:`deliver` has been given the head.
        self.head_sent = False
        self._content_length = content_length
        self._body_seen = 0
        if content_length == 0:
            self.conn.request_complete = True

    # -- what subclasses provide -----------------------------------------

    async def receive_body(self) -> bytes:
        """The next piece of the request body from the server, ``b""`` at its end."""
        raise NotImplementedError

    async def deliver(self, data: bytes, end: bool, first: bool) -> None:
        """Hand the response to the server: the head (in :attr:`conn`) when
        *first*, then body bytes.

        :param data: body bytes (may be empty).
        :param end: the response is complete.
        :param first: nothing was delivered yet, so the head goes out now.
        """
        raise NotImplementedError

    def watch_disconnect(self, exchange: Exchange) -> None:
        """Arrange for ``exchange.connection_lost()`` when the client goes away."""

    # -- what Exchange calls ---------------------------------------------

    async def next_event(self) -> Data | EndOfMessage:
        conn = self.conn
        if conn.request_complete:
            return EndOfMessage()
        if self._content_length is not None and self._content_length > conn.max_body_size:
            raise RequestError("request body too large", 413)
        data = await self.receive_body()
        if not data:
            conn.request_complete = True
            return EndOfMessage()
        self._body_seen += len(data)
        if self._body_seen > conn.max_body_size:
            raise RequestError("request body too large", 413)
        return Data(data)

    def detach(self) -> Any:
        # The foreign server owns the socket and its framing; there is no raw
        # stream to hand over (ASGI would need a websocket scope for that).
        raise LocalProtocolError("a connection behind a WSGI/ASGI server cannot be detached")

    def send_nowait(self, data: bytes) -> Awaitable[None] | None:
        # The foreign server's side is always awaited (the head goes out even
        # with no body bytes).
        return self.send(data)

    async def send(self, data: bytes) -> None:
        if self.disconnected:
            raise ClientDisconnected("the client closed the connection")
        first = not self.head_sent
        self.head_sent = True
        try:
            await self.deliver(data, self.conn.response_done, first)
        except OSError:
            self.disconnected = True
            raise ClientDisconnected("the client closed the connection") from None


def make_exchange(driver: AdapterDriver, request: Request, start_time: float) -> Exchange:
    """A real :class:`Exchange` whose driver is *driver*."""
    return Exchange(driver, request, start_time)  # type: ignore[arg-type]


def error_response(error: RequestError) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of the plain-text answer to a refused request.

    :param error: the refusal; its reason is safe to show the client.
    """
    body = (error.reason + "\n").encode("utf-8", "replace")
    return [(b"Content-Type", b"text/plain; charset=utf-8")], body


async def call_application(
    app: Application, exchange: Exchange, conn: AdapterConnection
) -> BaseException | None:
    """Await ``app.handle(exchange)`` under the rules the connection driver keeps.

    A refusal (:class:`RequestError`) or a failure before the response head
    is answered here with its status (``500`` for failures, a refused head
    among them); a handler that returns without responding also gets ``500``.
    Returns the exception when the response cannot be completed -- the head
    went out already, or the handler returned without ending the body -- so
    the caller can make the server abort the connection and the client see a
    truncated response.

    :param app: the crosswind application.
    :param exchange: the request to serve.
    :param conn: its connection half, which says whether a head was accepted, as
        the driver asks its connection (the exchange counts a response as started
        once one was tried, refused or not).
    """
    try:
        await app.handle(exchange)
    except ClientDisconnected as exc:
        return exc
    except RequestError as error:
        if conn.response_started:
            return error
        return await _refuse(exchange, error)
    except Exception as exc:
        log.exception("error in application handling %s %s", exchange.method, exchange.path)
        if conn.response_started:
            return exc
        return await _refuse(exchange, RequestError("internal server error", 500))
    if not conn.response_started:
        log.error("application returned without responding to %s %s",
                  exchange.method, exchange.path)
        return await _refuse(exchange, RequestError("internal server error", 500))
    if not exchange.finished:
        log.error("application returned before ending its response to %s %s",
                  exchange.method, exchange.path)
        return LocalProtocolError("the application did not end its response")
    return None


async def _refuse(exchange: Exchange, error: RequestError) -> BaseException | None:
    headers, body = error_response(error)
    try:
        await exchange.respond(error.status_code, headers, body)
    except ClientDisconnected as exc:
        return exc
    return None


def strip_hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """*headers* without the connection-level ones a gateway must not pass on.

    :param headers: response header pairs.
    """
    return [(name, value) for name, value in headers if name.lower() not in HOP_BY_HOP]


DEFAULT_MAX_BODY_SIZE = Limits().max_body_size
