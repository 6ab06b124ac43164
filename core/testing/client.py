"""An in-memory client that drives the real connection driver, no sockets.

Every request goes through :class:`~crosswind.protocol.driver.ConnectionDriver`, the
same code the backends run, over a transport that reads from and writes to
byte buffers.  Handlers run synchronously (see :func:`crosswind._sync.run_sync`),
so an ``async`` handler works as long as it awaits only crosswind's own
awaitables; use a real backend for handlers that sleep or do network I/O.

:meth:`Client.websocket` opens a WebSocket session
(:class:`~crosswind.testing.websocket.TestWebSocket`); that connection is
served on an asyncio loop of its own, so its handler may await anything.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import h11

from .._sync import run_sync
from ..cookies import parse_cookie_header
from ..headers import Headers
from ..protocol.driver import ConnectionDriver
from ..protocol.exchange import Application
from ..protocol.limits import Limits
from ..protocol.transport import ConnectionInfo

if TYPE_CHECKING:
    from .websocket import TestWebSocket

__all__ = ["Client", "MemoryTransport", "Response"]


class MemoryTransport:
    """A transport whose peer is a list of byte chunks, then end of stream."""

    #: Its reads never wait (see :attr:`crosswind.protocol.exchange.Exchange.reads_block`).
    blocking = True

    def __init__(self, chunks: Iterable[bytes], info: ConnectionInfo | None = None) -> None:
        self._chunks = list(chunks)
        self._chunks.reverse()
        self.sent = bytearray()
        self.closed = False
        self.info = info or ConnectionInfo(peer=("127.0.0.1", 50000), local=("127.0.0.1", 80))

    async def receive(self, deadline: float | None) -> bytes:
        return self._chunks.pop() if self._chunks else b""

    async def send(self, data: bytes) -> None:
        self.sent += data

    def send_nowait(self, data: bytes) -> None:
        self.sent += data

    async def close(self) -> None:
        self.closed = True

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        pass


def serve_bytes(
    app: Application,
    chunks: Iterable[bytes],
    *,
    limits: Limits | None = None,
    clock: Callable[[], float] | None = None,
    engine: str | None = None,
) -> bytes:
    """Run one connection that receives *chunks* then EOF; return what it sent.

    :param engine: the protocol engine (default :data:`crosswind.protocol.http1.engine.DEFAULT_ENGINE`).
    """
    transport = MemoryTransport(chunks)
    driver = ConnectionDriver(
        transport, app, clock=clock or (lambda: 0.0), limits=limits, engine=engine
    )
    run_sync(driver.run())
    return bytes(transport.sent)


class Response:
    """A response as the test client saw it."""

    def __init__(self, status_code: int, reason: str, headers: Headers, content: bytes) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code}]>"


def parse_responses(data: bytes, methods: Iterable[bytes] = ()) -> list[Response]:
    """Parse every response in *data* with h11 acting as the client.

    :param methods: the request methods, in order (``HEAD`` responses have no body).
    """
    methods = list(methods)
    responses: list[Response] = []
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(data)
    conn.receive_data(b"")
    index = 0
    while conn.trailing_data[0]:
        method = methods[index] if index < len(methods) else b"GET"
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        head = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed) or event is h11.NEED_DATA:
                break
        if head is None:
            return responses
        headers = Headers([(k, v) for k, v in head.headers.raw_items()])
        responses.append(
            Response(head.status_code, head.reason.decode("latin-1"), headers, bytes(body))
        )
        index += 1
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is not h11.DONE:
            return responses
        conn.start_next_cycle()
    return responses


class Client:
    """Make requests to *app* in memory, keeping cookies between calls.

    :param app: any crosswind application.
    :param base_url: scheme and host the requests pretend to go to.
    """

    def __init__(
        self,
        app: Application,
        *,
        base_url: str = "http://testserver",
        limits: Limits | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.app = app
        parts = urlsplit(base_url)
        self.host = parts.netloc
        self.cookies: dict[str, str] = {}
        self.limits = limits
        self.clock = clock

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        params: Mapping[str, Any] | None = None,
        data: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        cookies: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and return the response."""
        request_headers = Headers(headers)
        if params:
            path += ("&" if "?" in path else "?") + urlencode(params, doseq=True)
        body = b""
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            request_headers.setdefault("Content-Type", "application/json")
        elif isinstance(data, Mapping):
            body = urlencode(data, doseq=True).encode("utf-8")
            request_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(data, str):
            body = data.encode("utf-8")
        elif data is not None:
            body = data
        request_headers.setdefault("Host", self.host)
        if body or method in ("POST", "PUT", "PATCH"):
            request_headers.setdefault("Content-Length", str(len(body)))
        jar = dict(self.cookies)
        jar.update(cookies or {})
        if jar and "Cookie" not in request_headers:
            request_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
        head += b"".join(b"%s: %s\r\n" % pair for pair in request_headers.raw()) + b"\r\n"
        raw = serve_bytes(self.app, [head + body], limits=self.limits, clock=self.clock)
        responses = parse_responses(raw, [method.encode("ascii")])
        if not responses:
            raise AssertionError(f"no response to {method} {path}: {raw!r}")
        response = responses[0]
        self._store_cookies(response)
        return response

    def _store_cookies(self, response: Response) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            pair, _, attributes = header.partition(";")
            name, _, value = pair.partition("=")
            name = name.strip()
            attrs = parse_cookie_header(attributes)
            lowered = {k.lower(): v for k, v in attrs.items()}
            if lowered.get("max-age") == "0" or _expired(lowered.get("expires")):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value.strip()

    def websocket(
        self,
        path: str,
        *,
        subprotocols: Sequence[str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        params: Mapping[str, Any] | None = None,
        cookies: Mapping[str, str] | None = None,
        deflate: bool = False,
        timeout: float | None = None,
    ) -> TestWebSocket:
        """A WebSocket session to *path*, to use as a context manager.

        The handshake carries the client's cookies, and cookies the ``101``
        sets land in :attr:`cookies`.  See
        :class:`~crosswind.testing.websocket.TestWebSocket` for the session.

        :param path: the path, possibly with a query.
        :param subprotocols: offered in ``Sec-WebSocket-Protocol``.
        :param headers: more request fields (an ``Origin``, say).
        :param params: query arguments added to *path*.
        :param cookies: cookies sent besides the client's own.
        :param deflate: offer permessage-deflate.
        :param timeout: seconds any one wait for the server may take (5 by default).
        """
        from .websocket import DEFAULT_TIMEOUT, TestWebSocket

        if params:
            path += ("&" if "?" in path else "?") + urlencode(params, doseq=True)
        request_headers = Headers(headers)
        jar = dict(self.cookies)
        jar.update(cookies or {})
        if jar and "Cookie" not in request_headers:
            request_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        return TestWebSocket(
            self.app,
            path,
            host=request_headers.pop("Host", None) or self.host,
            headers=request_headers.items(),
            subprotocols=subprotocols,
            deflate=deflate,
            limits=self.limits,
            clock=self.clock,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            on_accept=self._store_cookies,
        )

    def raw(self, data: bytes | Iterable[bytes]) -> bytes:
        """Feed raw bytes (one chunk, or several) and return the raw response bytes."""
        chunks = [data] if isinstance(data, bytes) else list(data)
        return serve_bytes(self.app, chunks, limits=self.limits, clock=self.clock)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Response:
        return self.request("HEAD", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Response:
        return self.request("OPTIONS", path, **kwargs)


def _expired(expires: str | None) -> bool:
    if not expires:
        return False
    from ..httpdate import parse_http_date

    when = parse_http_date(expires)
    return when is not None and when.year < 2000
