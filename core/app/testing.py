"""Testing Flask-style applications: a test client and made-up requests.

:class:`AppClient` (what ``app.test_client()`` returns) has the Flask test
client's API -- ``get``/``post``/... with ``data``, ``json``,
``query_string``, ``headers``, ``follow_redirects``, a cookie jar and
``session_transaction`` -- but every request goes through crosswind's real
connection driver over an in-memory transport, as raw HTTP/1.1 bytes.  It
runs on an asyncio loop (``crosswind.backends.memory``), so ``async`` views
may await anything.

With ``TESTING`` (or ``PROPAGATE_EXCEPTIONS``) set, an exception a view
raises is re-raised in the test, as with Flask.

``client.websocket(path)`` opens a WebSocket session to an
``@app.websocket`` view, with the jar's cookies on the handshake (so the
view's ``session`` is the one earlier requests stored); see
:mod:`crosswind.testing.websocket`.  Reading past the server's close
raises :class:`~crosswind.app.WebSocketDisconnect` (the class the views
use), and a refused handshake :class:`~crosswind.testing.WebSocketDenied`
with the :class:`TestResponse`.
"""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

from ..authorization import Authorization
from ..cookies import parse_cookie_header
from ..httpdate import parse_http_date
from ..protocol.exchange import Exchange
from ..protocol.transport import ConnectionInfo
from ..testing.client import Response as WireResponse
from ..testing.client import parse_responses
from ..testing.websocket import DEFAULT_TIMEOUT, TestWebSocket
from ..testing.websocket import WebSocketDisconnect as _ClientDisconnect
from .websocket import WebSocketDisconnect as _ViewDisconnect
from .wrappers import FileStorage, Headers, Request, Response

if TYPE_CHECKING:
    from .app import App
    from .sessions import SessionMixin

__all__ = ["AppClient", "Cookie", "FlaskClient", "TestResponse", "make_request"]

_REDIRECTS = (301, 302, 303, 305, 307, 308)


class _Built:
    """A request described by the test client's arguments."""

    def __init__(
        self,
        method: str,
        scheme: str,
        host: str,
        root_path: str,
        path: str,
        query: str,
        headers: Headers,
        body: bytes,
        remote_addr: str,
    ) -> None:
        self.method = method
        self.scheme = scheme
        self.host = host
        self.root_path = root_path
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remote_addr = remote_addr

    @property
    def target(self) -> str:
        target = quote(self.root_path + self.path, safe="/%!$&'()*+,:;=@~")
        return f"{target}?{self.query}" if self.query else target

    def to_bytes(self) -> bytes:
        head = f"{self.method} {self.target} HTTP/1.1\r\n".encode("latin-1")
        head += b"".join(b"%s: %s\r\n" % pair for pair in self.headers.raw())
        return head + b"\r\n" + self.body

    def scope(self) -> dict[str, Any]:
        port = 443 if self.scheme == "https" else 80
        return {
            "type": "http",
            "http_version": "1.1",
            "method": self.method,
            "scheme": self.scheme,
            "path": self.path,
            "raw_path": self.target.partition("?")[0].encode("latin-1"),
            "query_string": self.query.encode("latin-1"),
            "root_path": self.root_path,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()],
            "client": (self.remote_addr, 50000),
            "server": (self.host.rsplit(":", 1)[0], port),
        }


def _is_file(value: Any) -> bool:
    return isinstance(value, tuple | FileStorage) or hasattr(value, "read")


def _encode_multipart(
    fields: list[tuple[str, Any]], token_source: Any
) -> tuple[bytes, str]:
    boundary = "crosswind-" + token_source(12).hex()
    out = io.BytesIO()
    for name, value in fields:
        quoted_name = name.replace("\\", "\\\\").replace('"', '\\"')
        out.write(f"--{boundary}\r\n".encode())
        if _is_file(value):
            # A tuple's parts are whatever the test passed: a file, bytes or text.
            stream: Any
            filename: str | None
            content_type: str | None = None
            if isinstance(value, FileStorage):
                stream, filename, content_type = value.stream, value.filename, value.content_type
            elif isinstance(value, tuple):
                stream, filename, *rest = value
                content_type = rest[0] if rest else None
            else:
                stream, filename = value, getattr(value, "name", None)
            if isinstance(filename, str):
                filename = os.path.basename(filename) if os.sep in filename else filename
            data = stream.read() if hasattr(stream, "read") else stream
            if isinstance(data, str):
                data = data.encode("utf-8")
            if content_type is None:
                content_type = (
                    mimetypes.guess_type(filename)[0] if filename else None
                ) or "application/octet-stream"
            disposition = f'form-data; name="{quoted_name}"'
            if filename is not None:
                escaped = str(filename).replace("\\", "\\\\").replace('"', '\\"')
                disposition += f'; filename="{escaped}"'
            out.write(f"Content-Disposition: {disposition}\r\n".encode())
            out.write(f"Content-Type: {content_type}\r\n\r\n".encode())
            out.write(data)
        else:
            out.write(f'Content-Disposition: form-data; name="{quoted_name}"\r\n\r\n'.encode())
            out.write(value.encode("utf-8") if isinstance(value, str) else bytes(value) if isinstance(value, bytes | bytearray) else str(value).encode("utf-8"))
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _form_items(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    items = data.items(multi=True) if hasattr(data, "lists") else data.items()  # type: ignore[call-arg]
    pairs: list[tuple[str, Any]] = []
    for key, value in items:
        if isinstance(value, list):
            pairs.extend((key, item) for item in value)
        else:
            pairs.append((key, value))
    return pairs


def build_request(
    app: App,
    path: str = "/",
    base_url: str | None = None,
    *,
    method: str = "GET",
    query_string: str | bytes | Mapping[str, Any] | None = None,
    headers: Any = None,
    data: Any = None,
    json: Any = None,
    content_type: str | None = None,
    environ_base: Mapping[str, Any] | None = None,
    environ_overrides: Mapping[str, Any] | None = None,
    auth: Authorization | tuple[str, str] | None = None,
    **_ignored: Any,
) -> _Built:
    """Describe a request the way Flask's test client arguments do.

    :param app: the application (for JSON encoding and random boundaries).
    :param path: the path, possibly with a query, or an absolute URL.
    :param base_url: scheme, host and script root (``http://localhost/``).
    :param method: the method.
    :param query_string: a string or a mapping.
    :param headers: request headers.
    :param data: the body: bytes/str, or a mapping of form fields where files
        are ``(stream, filename[, content_type])`` or :class:`FileStorage`.
    :param json: a value sent as a JSON body.
    :param content_type: the ``Content-Type``.
    :param environ_base: ``REMOTE_ADDR`` is honoured.
    :param environ_overrides: ``REMOTE_ADDR`` and ``wsgi.url_scheme`` are honoured.
    :param auth: sent as ``Authorization``; a ``(username, password)`` pair
        is sent as ``Basic`` credentials.
    """
    url = urlsplit(path)
    if url.scheme and url.netloc:
        base_url = f"{url.scheme}://{url.netloc}/"
    base = urlsplit(base_url or "http://localhost/")
    scheme = base.scheme or "http"
    environ = {**(environ_base or {}), **(environ_overrides or {})}
    scheme = environ.get("wsgi.url_scheme", scheme)
    host = base.netloc or "localhost"
    root_path = base.path.rstrip("/")
    req_path = url.path or "/"
    if query_string is None:
        query = url.query
    elif isinstance(query_string, bytes):
        query = query_string.decode("latin-1")
    elif isinstance(query_string, str):
        query = query_string
    else:
        query = urlencode(_form_items(query_string), doseq=True)
    request_headers = Headers(headers)
    if auth is not None:
        if isinstance(auth, tuple):
            auth = Authorization("basic", {"username": auth[0], "password": auth[1]})
        request_headers.set("Authorization", auth.to_header())
    body = b""
    if json is not None:
        if data is not None:
            raise TypeError("can't provide both json and data")
        body = app.json.dumps(json).encode("utf-8")
        content_type = content_type or "application/json"
    elif isinstance(data, str):
        body = data.encode("utf-8")
    elif isinstance(data, bytes | bytearray):
        body = bytes(data)
    elif hasattr(data, "read"):
        body = data.read()
    elif isinstance(data, Mapping):
        fields = _form_items(data)
        if any(_is_file(value) for _, value in fields):
            body, multipart_type = _encode_multipart(fields, app.token_source)
            content_type = content_type or multipart_type
        else:
            body = urlencode(
                [(k, v if isinstance(v, str | bytes) else str(v)) for k, v in fields]
            ).encode("ascii")
            content_type = content_type or "application/x-www-form-urlencoded"
    if content_type is not None:
        request_headers["Content-Type"] = content_type
    request_headers.setdefault("Host", host)
    if body or method.upper() in ("POST", "PUT", "PATCH") or data is not None:
        request_headers.setdefault("Content-Length", str(len(body)))
    return _Built(
        method.upper(),
        scheme,
        host,
        root_path,
        req_path,
        query,
        request_headers,
        body,
        str(environ.get("REMOTE_ADDR", "127.0.0.1")),
    )


def make_request(app: App, *args: Any, **kwargs: Any) -> Request:
    """A :class:`Request` for a made-up request (``test_request_context``).

    :param app: the application.
    :param args: ``path`` and ``base_url``.
    :param kwargs: as for :func:`build_request`.
    """
    built = build_request(app, *args, **kwargs)
    return app.request_class(built.scope(), built.body)


class Cookie:
    """A cookie in the test client's jar.

    :param key: the name.
    :param value: the value as sent in ``Cookie`` headers.
    :param attributes: the ``Set-Cookie`` attributes, lowercased names.
    """

    def __init__(self, key: str, value: str, attributes: Mapping[str, str] | None = None) -> None:
        self.key = key
        self.value = value
        self.attributes = dict(attributes or {})
        self.path = self.attributes.get("path", "/")
        self.domain = self.attributes.get("domain", "localhost")
        self.expires = parse_http_date(self.attributes["expires"]) if "expires" in self.attributes else None
        self.max_age = self.attributes.get("max-age")
        self.http_only = "httponly" in self.attributes
        self.secure = "secure" in self.attributes
        self.same_site = self.attributes.get("samesite")

    def matches(self, host: str, path: str, scheme: str = "http") -> bool:
        """Whether a browser would send this cookie to *host* and *path* (RFC 6265).

        :param host: the request host (a port is ignored).
        :param path: the request path.
        :param scheme: the request scheme (``Secure`` cookies need https).
        """
        host = host.rsplit(":", 1)[0].lower() if not host.endswith("]") else host.lower()
        domain = self.domain.lstrip(".").lower()
        if domain and host != domain and not host.endswith("." + domain):
            return False
        if self.secure and scheme != "https":
            return False
        cookie_path = self.path or "/"
        if path == cookie_path:
            return True
        if not path.startswith(cookie_path):
            return False
        return cookie_path.endswith("/") or path[len(cookie_path)] == "/"

    @property
    def decoded_value(self) -> str:
        """The value with cookie quoting removed."""
        return parse_cookie_header(f"x={self.value}").get("x", self.value)

    def __repr__(self) -> str:
        return f"<Cookie {self.key}={self.value!r}>"


class TestResponse(Response):
    """A response as the test client received it.

    :param status: the status line, e.g. ``"200 OK"``.
    :param headers: the response headers.
    :param body: the body bytes.
    :param request: the request that was sent.
    :param history: earlier responses when redirects were followed.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        status: str,
        headers: Headers,
        body: bytes,
        request: Request | None = None,
        history: tuple[TestResponse, ...] = (),
    ) -> None:
        self.headers = Headers(headers)
        self.status = status
        self.response = [body]
        self.direct_passthrough = False
        self._on_close = []
        self.request = request
        self.history = history


class _Disconnect(_ClientDisconnect, _ViewDisconnect):
    """The server closed the test's WebSocket: caught as either package's ``WebSocketDisconnect``."""


class _Capture:
    """Runs the application and keeps an exception it lets escape."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def handle(self, exchange: Exchange) -> None:
        try:
            await self.app.handle(exchange)
        except Exception as error:
            self.error = error
            if not exchange.response_started:
                await exchange.respond(500, [(b"Content-Type", b"text/plain")], b"")


class AppClient:
    """Sends requests to an application in memory (``app.test_client()``).

    :param app: the application.
    :param use_cookies: keep cookies between requests.
    """

    __test__ = False

    def __init__(self, app: App, use_cookies: bool = True, **kwargs: Any) -> None:
        self.application = app
        self.use_cookies = use_cookies
        self._cookies: dict[str, Cookie] = {}
        self.environ_base: dict[str, Any] = {"REMOTE_ADDR": "127.0.0.1", **kwargs.pop("environ_base", {})}

    # -- cookies ------------------------------------------------------------------------

    def get_cookie(self, key: str, domain: str = "localhost", path: str = "/") -> Cookie | None:
        """The cookie *key* in the jar, or ``None``.

        :param key: the name.
        :param domain: accepted for compatibility.
        :param path: accepted for compatibility.
        """
        return self._cookies.get(key)

    def set_cookie(self, key: str, value: str = "", *, domain: str = "localhost", path: str = "/", **kwargs: Any) -> None:
        """Put a cookie in the jar.

        :param key: the name.
        :param value: the value.
        :param domain: the domain.
        :param path: the path.
        :param kwargs: other attributes, ignored.
        """
        self._cookies[key] = Cookie(key, value, {"domain": domain, "path": path})

    def delete_cookie(self, key: str, *, domain: str = "localhost", path: str = "/") -> None:
        """Remove a cookie from the jar.

        :param key: the name.
        :param domain: accepted for compatibility.
        :param path: accepted for compatibility.
        """
        self._cookies.pop(key, None)

    def _cookie_header(self, host: str, path: str, scheme: str) -> str:
        """The ``Cookie`` header a browser would send to *host* and *path*."""
        return "; ".join(
            f"{c.key}={c.value}"
            for c in self._cookies.values()
            if c.matches(host, path, scheme)
        )

    def _store_cookies(self, headers: Headers) -> None:
        now = self.application.clock()
        for header in headers.getlist("Set-Cookie"):
            pair, _, rest = header.partition(";")
            name, _, value = pair.partition("=")
            attributes = {}
            for piece in rest.split(";"):
                key, _, attr_value = piece.strip().partition("=")
                if key:
                    attributes[key.lower()] = attr_value
            cookie = Cookie(name.strip(), value.strip(), attributes)
            expired = cookie.max_age is not None and cookie.max_age.strip() in ("0", "-1")
            if cookie.expires is not None and cookie.expires.timestamp() <= now:
                expired = True
            if expired:
                self._cookies.pop(cookie.key, None)
            else:
                self._cookies[cookie.key] = cookie

    # -- requests -----------------------------------------------------------------------

    def open(self, *args: Any, buffered: bool = False, follow_redirects: bool = False, **kwargs: Any) -> TestResponse:
        """Send a request; arguments as for ``get`` plus ``method``.

        :param args: ``path`` and ``base_url``.
        :param buffered: accepted for compatibility (bodies are always buffered).
        :param follow_redirects: follow redirects, keeping :attr:`TestResponse.history`.
        :param kwargs: ``method``, ``data``, ``json``, ``query_string``,
            ``headers``, ``content_type``, ``environ_base``...
        """
        kwargs["environ_base"] = {**self.environ_base, **kwargs.get("environ_base", {})}
        built = build_request(self.application, *args, **kwargs)
        response = self._send(built)
        history: list[TestResponse] = []
        while follow_redirects and response.status_code in _REDIRECTS:
            if len(history) >= 20:
                raise RuntimeError("too many redirects")
            history.append(response)
            location = response.headers.get("Location", "")
            current = f"{built.scheme}://{built.host}{built.root_path}{built.path}"
            target = urlsplit(urljoin(current, location))
            keep_body = response.status_code in (307, 308)
            method = built.method if keep_body or built.method == "HEAD" else "GET"
            path = target.path
            if built.root_path and path.startswith(built.root_path):
                path = path[len(built.root_path) :] or "/"
            built = build_request(
                self.application,
                path,
                f"{target.scheme or built.scheme}://{target.netloc or built.host}{built.root_path}/",
                method=method,
                query_string=target.query,
                data=built.body if keep_body else None,
                headers={k: v for k, v in built.headers.items() if keep_body or k.lower() not in ("content-type", "content-length", "cookie")},
                environ_base=kwargs["environ_base"],
            )
            response = self._send(built)
        response.history = tuple(history)
        return response

    def _send(self, built: _Built) -> TestResponse:
        from crosswind.backends.memory import run_in_memory  # a backend owns the event loop

        if self.use_cookies and "Cookie" not in built.headers:
            header = self._cookie_header(built.host, built.root_path + built.path, built.scheme)
            if header:
                built.headers["Cookie"] = header
        capture = _Capture(self.application)
        raw = run_in_memory(capture, [built.to_bytes()], info=_connection_info(built))
        if capture.error is not None:
            raise capture.error
        parsed = parse_responses(raw, [built.method.encode("ascii")])
        if not parsed:
            raise AssertionError(f"no response to {built.method} {built.target}: {raw!r}")
        wire = parsed[0]
        headers = Headers(wire.headers.items())
        if self.use_cookies:
            self._store_cookies(headers)
        request = self.application.request_class(built.scope(), built.body)
        return TestResponse(f"{wire.status_code} {wire.reason}", headers, wire.content, request)

    def websocket(
        self,
        *args: Any,
        subprotocols: Sequence[str] = (),
        deflate: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> TestWebSocket:
        """A WebSocket session to an ``@app.websocket`` view, to use as a context manager.

        The handshake carries the jar's cookies; cookies the ``101`` sets
        land in the jar.  A refused handshake raises
        :class:`~crosswind.testing.WebSocketDenied` whose ``response`` is a
        :class:`TestResponse` (an exception the view raised before
        accepting is re-raised instead, as for :meth:`open`).

        :param args: ``path`` and ``base_url``.
        :param subprotocols: offered in ``Sec-WebSocket-Protocol``.
        :param deflate: offer permessage-deflate.
        :param timeout: seconds any one wait for the server may take (5 by default).
        :param kwargs: as for :meth:`open`: ``headers``, ``query_string``,
            ``environ_base`` ...
        """
        kwargs["environ_base"] = {**self.environ_base, **kwargs.get("environ_base", {})}
        built = build_request(self.application, *args, method="GET", **kwargs)
        if self.use_cookies and "Cookie" not in built.headers:
            header = self._cookie_header(built.host, built.root_path + built.path, built.scheme)
            if header:
                built.headers["Cookie"] = header
        capture = _Capture(self.application)
        request = self.application.request_class(built.scope(), b"")

        def make_response(wire: WireResponse) -> TestResponse:
            headers = Headers(wire.headers.items())
            return TestResponse(f"{wire.status_code} {wire.reason}", headers, wire.content, request)

        def keep_cookies(response: TestResponse) -> None:
            if self.use_cookies:
                self._store_cookies(response.headers)

        def reraise() -> None:
            if capture.error is not None:
                raise capture.error

        json = self.application.json
        return TestWebSocket(
            capture,
            built.target,
            host=built.headers.pop("Host", built.host),
            headers=built.headers.items(),
            subprotocols=subprotocols,
            deflate=deflate,
            info=_connection_info(built),
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            make_response=make_response,
            disconnect=_Disconnect,
            on_accept=keep_cookies,
            on_done=reraise,
            dumps=json.dumps,
            loads=json.loads,
        )

    def get(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="GET")``."""
        return self.open(*args, method="GET", **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="POST")``."""
        return self.open(*args, method="POST", **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="PUT")``."""
        return self.open(*args, method="PUT", **kwargs)

    def patch(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="PATCH")``."""
        return self.open(*args, method="PATCH", **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="DELETE")``."""
        return self.open(*args, method="DELETE", **kwargs)

    def head(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="HEAD")``."""
        return self.open(*args, method="HEAD", **kwargs)

    def options(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="OPTIONS")``."""
        return self.open(*args, method="OPTIONS", **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> TestResponse:
        """``open(..., method="TRACE")``."""
        return self.open(*args, method="TRACE", **kwargs)

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    @contextmanager
    def session_transaction(self, *args: Any, **kwargs: Any) -> Iterator[SessionMixin]:
        """Open the session the client's cookies carry, let the block change it,
        and store it back in the cookie jar.

        :param args: as for :meth:`open` (the request the session is opened for).
        :param kwargs: as for :meth:`open`.
        :raises RuntimeError: cookies are off, or the application has no secret key.
        """
        if not self.use_cookies:
            raise TypeError("Cookies are disabled. Create a client with 'use_cookies=True'.")
        app = self.application
        headers = Headers(kwargs.pop("headers", None))
        if self._cookies:
            headers["Cookie"] = "; ".join(f"{c.key}={c.value}" for c in self._cookies.values())  # the session cookie is what matters here
        ctx = app.test_request_context(*args, headers=headers, **kwargs)
        interface = app.session_interface
        with ctx:
            sess = interface.open_session(app, ctx.request)
            if sess is None:
                raise RuntimeError("Session backend did not open a session.")
            yield sess
            response = app.response_class()
            if not interface.is_null_session(sess):
                interface.save_session(app, sess, response)
        self._store_cookies(response.headers)


def _connection_info(built: _Built) -> ConnectionInfo:
    """The addresses (and TLS, for https) of the connection a built request goes over."""
    port = 443 if built.scheme == "https" else 80
    info = ConnectionInfo(peer=(built.remote_addr, 50000), local=("127.0.0.1", port))
    if built.scheme == "https":
        from ..protocol.transport import TLSInfo

        info = ConnectionInfo(peer=info.peer, local=info.local, tls=TLSInfo())
    return info


#: The name Flask applications use for their test client class.
FlaskClient = AppClient

