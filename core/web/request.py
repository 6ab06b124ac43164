"""The request object Tornado-style handlers see (``self.request``).

:class:`HTTPServerRequest` has the attributes of Tornado's class of the same
name: ``method``, ``uri``, ``path``, ``query``, ``version``, ``headers``,
``body``, ``remote_ip``, ``protocol``, ``host``, ``host_name``,
``arguments``, ``query_arguments``, ``body_arguments``, ``files``,
``cookies``, ``connection``, and the methods ``full_url()`` and
``request_time()``.  Argument values are ``bytes``, as in Tornado; handlers
decode them with ``decode_argument``.
"""

from __future__ import annotations

import http.cookies
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..cookies import parse_cookie_header
from ..errors import RequestError
from ..forms import ESCAPED_SEPARATOR, MultiDict, parse_qs, parse_urlencoded, percent_decode
from ..headers import Headers
from ..mediatype import parse_content_type
from ..multipart import parse_multipart

if TYPE_CHECKING:
    from ..protocol.events import RawHeaders
    from ..protocol.exchange import DetachedStream, Exchange

__all__ = ["HTTPFile", "HTTPServerRequest", "RequestConnection", "is_valid_ip"]


class HTTPFile(dict[str, Any]):
    """An uploaded file: ``filename``, ``body`` (bytes) and ``content_type``.

    Both ``file["body"]`` and ``file.body`` work, as with Tornado's ObjectDict.
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class RequestConnection:
    """``request.connection``: the per-request controls of the connection.

    :param exchange: the exchange being served.
    """

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        #: The callback of :meth:`set_close_callback`, ``None`` without one.  Read it
        #: here, but set it with that method, which also starts watching the client.
        self.close_callback: Callable[[], None] | None = None
        self._watching = False

    def set_max_body_size(self, max_body_size: int) -> None:
        """Change the body limit of this request (call it from ``prepare``).

        :param max_body_size: bytes; a larger body is answered with ``413``.
        """
        self.exchange.max_body_size = max_body_size

    def set_body_timeout(self, timeout: float) -> None:
        """Accepted for compatibility; the connection's ``body_timeout`` limit applies.

        :param timeout: ignored.
        """

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Call *callback* if the client goes away before the response ends.

        :param callback: a function without arguments, or ``None`` to stop.
        """
        self.close_callback = callback
        if callback is not None and not self._watching:
            self._watching = True
            self.exchange.add_close_callback(self._closed)

    def _closed(self) -> None:
        callback, self.close_callback = self.close_callback, None
        if callback is not None:
            callback()

    def detach(self) -> DetachedStream:
        """Take over the raw connection (see :meth:`Exchange.detach`)."""
        return self.exchange.detach()


def is_valid_ip(ip: str) -> bool:
    """Tell whether *ip* is an IPv4 or IPv6 address.

    :param ip: the text to check.
    """
    if not ip or "\x00" in ip:
        return False
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return False
    return True


def _bytes_lists(values: MultiDict[str], encoding: str = "utf-8") -> dict[str, list[bytes]]:
    return {key: [v.encode(encoding) for v in items] for key, items in values.lists()}


# Spellings of the charset the fast path below handles (others take the general parser).
_UTF8_NAMES = frozenset(("utf-8", "utf8"))
# At this many separators the general parser decides whether the field limit is
# exceeded (its limit is 1000 fields).
_FAST_SEPARATOR_LIMIT = 999


def _utf8_fields(data: bytes) -> dict[str, list[bytes]] | None:
    """What ``_bytes_lists(parse_qs(data))`` returns, parsed straight into bytes.

    A value that is valid UTF-8 comes out of decoding and encoding again as the
    same bytes, so values are only checked, never decoded; fields are not
    collected in a :class:`MultiDict` first.  For anything unusual (text that is
    not UTF-8, a number of fields near the limit) this returns ``None`` and the
    general parser takes over, errors included.

    :param data: a query string or urlencoded body.
    """
    if data.count(b"&") > _FAST_SEPARATOR_LIMIT:
        return None
    # "+" is no separator, so replacing it everywhere is replacing it in every part.
    if b"+" in data:
        data = data.replace(b"+", b" ")
    escaped = b"%" in data
    if escaped and ESCAPED_SEPARATOR.search(data) is None:
        # No escape decodes to "&" or "=", and none can span a separator (neither is
        # a hex digit): decoding everything at once is decoding every part.
        data = percent_decode(data)
        escaped = False
    fields: dict[str, list[bytes]] = {}
    try:
        if not escaped:
            # The separators are ASCII, so the whole is UTF-8 exactly when every part is.
            data.decode("utf-8")
        for piece in data.split(b"&"):
            if not piece:
                continue
            raw_name, _, value = piece.partition(b"=")
            if escaped:
                raw_name = percent_decode(raw_name)
                value = percent_decode(value)
                value.decode("utf-8")  # only to refuse what is not UTF-8
            name = raw_name.decode()  # UTF-8: unnamed, no codec name is read per field
            values = fields.get(name)
            if values is None:
                fields[name] = [value]
            else:
                values.append(value)
    except UnicodeDecodeError:
        return None
    return fields


def _tolerant(raw: str | bytes, charset: str | None = None) -> dict[str, list[bytes]]:
    """Parse form fields into bytes, keeping values that are not UTF-8.

    Tornado keeps undecodable values as bytes and refuses them (400) only when
    a handler asks for that argument; limits (too many fields) still apply.

    :param raw: a query string, or a urlencoded body when *charset* is given.
    :param charset: the body's charset; ``None`` parses *raw* as a query string.
    """
    if charset is None or charset.lower() in _UTF8_NAMES:
        # UTF-8 fields are parsed straight into bytes, not decoded and encoded back
        # (the saving is in bench/NOTES.md).
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        fields = _utf8_fields(data) if type(data) is bytes else None
        if fields is not None:
            return fields
    try:
        if charset is None:
            return _bytes_lists(parse_qs(raw))
        return _bytes_lists(parse_urlencoded(raw, charset=charset))  # type: ignore[arg-type]
    except RequestError as error:
        if not error.reason.startswith("invalid "):
            raise
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    out: dict[str, list[bytes]] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, encoding="latin-1"):
        name = key.encode("latin-1").decode("utf-8", "replace")
        out.setdefault(name, []).append(value.encode("latin-1"))
    return out


class HTTPServerRequest:
    """One HTTP request, as Tornado handlers see it.

    Usually made by :meth:`from_exchange`; tests may build one directly.

    :param method: the request method.
    :param uri: the request target as sent.
    :param version: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
    :param headers: the request headers.
    :param body: the body (empty until it has been read).
    :param host: the host, defaulting to the ``Host`` header.
    :param remote_ip: the client's address.
    :param protocol: ``"http"`` or ``"https"``.
    :param connection: the :class:`RequestConnection`, if served.
    :param clock: POSIX seconds, for :meth:`request_time`.
    """

    _exchange: Exchange | None
    _connection: RequestConnection | None

    def __init__(
        self,
        method: str = "GET",
        uri: str = "/",
        version: str = "HTTP/1.0",
        headers: Headers | None = None,
        body: bytes = b"",
        host: str | None = None,
        *,
        remote_ip: str = "127.0.0.1",
        protocol: str = "http",
        path: str | None = None,
        query: str | None = None,
        connection: RequestConnection | None = None,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.method = method
        self.uri = uri
        self.version = version
        # Without headers, request.headers is built on first use from _raw_headers
        # (which from_exchange fills in), deliberately: see bench/NOTES.md.
        self._headers: Headers | None = headers
        self._raw_headers: RawHeaders = ()
        self.body = body
        self.remote_ip = remote_ip
        self.protocol = protocol
        self.host = host or self._header("Host") or "127.0.0.1"
        # host_name is worked out on first use (the router needs it only with host
        # tables; see bench/NOTES.md).
        self._host_name: str | None = None
        self.connection = connection
        if path is None or query is None:
            raw_path, _, raw_query = uri.partition("?")
            path = raw_path if path is None else path
            query = raw_query if query is None else query
        self.path = path
        self.query = query
        self._clock = clock
        self._start_time = clock()
        self._init_lazy()

    def _init_lazy(self) -> None:
        # The fields a handler rarely reads are parsed on first use.  A query that
        # may exceed the field limit is parsed now, so that its error comes where
        # it always came, before any handler runs.
        self._cookies: dict[str, http.cookies.Morsel[str]] | None = None
        self._files: dict[str, list[HTTPFile]] | None = None
        self._body_arguments: dict[str, list[bytes]] | None = None
        self._arguments: dict[str, list[bytes]] | None = None
        query = self.query
        self._query_arguments: dict[str, list[bytes]] | None = (
            _tolerant(query) if query and query.count("&") >= _FAST_SEPARATOR_LIMIT else None
        )

    @classmethod
    def from_exchange(
        cls,
        exchange: Exchange,
        clock: Callable[[], float],
        xheaders: bool = False,
        *,
        trusted_downstream: frozenset[str] = frozenset(),
    ) -> HTTPServerRequest:
        """Build the request for an exchange (the body is added later).

        :param exchange: the exchange being served.
        :param clock: POSIX seconds.
        :param xheaders: trust ``X-Real-Ip``/``X-Forwarded-For`` and
            ``X-Scheme``/``X-Forwarded-Proto`` (only behind a proxy that sets them).
        :param trusted_downstream: proxy addresses to skip in ``X-Forwarded-For``.
        """
        info = exchange.info
        peer = info.peer
        remote_ip = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        # info.scheme, without the call
        protocol = info.forwarded_scheme or ("https" if info.tls is not None else "http")
        headers = None
        if xheaders:
            headers = Headers.from_wire(exchange.headers)
            forwarded = headers.get("X-Forwarded-For", remote_ip)
            hops = [hop.strip() for hop in forwarded.split(",")]
            candidate = next(
                (hop for hop in reversed(hops) if hop not in trusted_downstream), hops[0]
            )
            candidate = headers.get("X-Real-Ip", candidate)
            if is_valid_ip(candidate):
                remote_ip = candidate
            scheme = headers.get("X-Scheme", headers.get("X-Forwarded-Proto", protocol))
            scheme = scheme.split(",")[-1].strip().lower()
            if scheme in ("http", "https"):
                protocol = scheme
        # The loop of exchange.get_header, deliberately inline (see bench/NOTES.md).
        host = None
        for name, value in exchange.headers:
            if name == b"host":
                host = value
                break
        if cls is not HTTPServerRequest or headers is not None:
            request = cls(
                exchange.method,
                exchange.target,
                "HTTP/" + exchange.http_version,
                headers,
                host=host.decode("latin-1") if host else None,
                remote_ip=remote_ip,
                protocol=protocol,
                path=exchange.path,
                query=exchange.query,
                connection=RequestConnection(exchange),
                clock=clock,
            )
            if headers is None:
                request._raw_headers = exchange.headers
            return request
        # What __init__ does, without its keywords, and with request.connection
        # built only when it is read (see bench/NOTES.md).
        request = cls.__new__(cls)
        request.method = exchange.method
        request.uri = exchange.target
        request.version = "HTTP/" + exchange.http_version
        request._headers = None
        # Most requests never look at most headers: build the Headers on first use.
        request._raw_headers = exchange.headers
        request.body = b""
        request.remote_ip = remote_ip
        request.protocol = protocol
        request.host = host.decode("latin-1") if host else "127.0.0.1"
        request._host_name = None
        request._exchange = exchange
        request._connection = None
        request.path = exchange.path
        request.query = query = exchange.query
        request._clock = clock
        request._start_time = clock()
        request._cookies = None
        request._files = None
        request._body_arguments = None
        request._arguments = None
        request._query_arguments = (
            _tolerant(query) if query and query.count("&") >= _FAST_SEPARATOR_LIMIT else None
        )
        return request

    @property
    def connection(self) -> RequestConnection | None:
        """The :class:`RequestConnection`, ``None`` for a request that is not served."""
        connection = self._connection
        if connection is None and self._exchange is not None:
            connection = self._connection = RequestConnection(self._exchange)
        return connection

    @connection.setter
    def connection(self, value: RequestConnection | None) -> None:
        self._connection = value
        self._exchange = value.exchange if value is not None else None

    @property
    def query_arguments(self) -> dict[str, list[bytes]]:
        """The query's fields: name -> list of values (``bytes``)."""
        arguments = self._query_arguments
        if arguments is None:
            query = self.query
            arguments = self._query_arguments = _tolerant(query) if query else {}
        return arguments

    @query_arguments.setter
    def query_arguments(self, value: dict[str, list[bytes]]) -> None:
        # arguments is what it was built from before the change, as when eager.
        _ = self.arguments
        self._query_arguments = value

    @property
    def body_arguments(self) -> dict[str, list[bytes]]:
        """The fields of a form body: name -> list of values (``bytes``)."""
        arguments = self._body_arguments
        if arguments is None:
            arguments = self._body_arguments = {}
        return arguments

    @body_arguments.setter
    def body_arguments(self, value: dict[str, list[bytes]]) -> None:
        _ = self.arguments
        self._body_arguments = value

    @property
    def arguments(self) -> dict[str, list[bytes]]:
        """The query's fields, then the form body's: name -> list of values (``bytes``)."""
        arguments = self._arguments
        if arguments is None:
            arguments = {k: list(v) for k, v in self.query_arguments.items()}
            if self._body_arguments:
                for key, values in self._body_arguments.items():
                    arguments.setdefault(key, []).extend(values)
            self._arguments = arguments
        return arguments

    @arguments.setter
    def arguments(self, value: dict[str, list[bytes]]) -> None:
        self._arguments = value

    @property
    def files(self) -> dict[str, list[HTTPFile]]:
        """The uploaded files of a multipart body: name -> list of :class:`HTTPFile`."""
        files = self._files
        if files is None:
            files = self._files = {}
        return files

    @files.setter
    def files(self, value: dict[str, list[HTTPFile]]) -> None:
        self._files = value

    @property
    def host_name(self) -> str:
        """The host without its port, lowercased (an IPv6 literal keeps its brackets)."""
        if self._host_name is None:
            self._host_name = _split_host(self.host.lower())
        return self._host_name

    @host_name.setter
    def host_name(self, value: str) -> None:
        self._host_name = value

    @property
    def headers(self) -> Headers:
        """The request headers (case-insensitive, multi-valued)."""
        if self._headers is None:
            self._headers = Headers.from_wire(self._raw_headers)
        return self._headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    def _header(self, name: str) -> str | None:
        """The first value of header *name*, without building :attr:`headers`."""
        if self._headers is not None:
            return self._headers.get(name)
        key = name.lower().encode("latin-1")
        for raw_name, value in self._raw_headers:
            if raw_name == key:
                return value.decode("latin-1")
        return None

    @property
    def exchange(self) -> Exchange | None:
        """The exchange behind this request, if it is being served."""
        return self._exchange

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel[str]]:
        """The request's cookies as :class:`http.cookies.Morsel` objects (``.value``)."""
        if self._cookies is None:
            jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
            # Tornado lets the last value of a repeated name win.
            cookies = parse_cookie_header(self._header("Cookie"), last_wins=True)
            for name, value in cookies.items():
                try:
                    jar[name] = value
                except http.cookies.CookieError:
                    continue  # names Morsel cannot hold are dropped, as Tornado does
            self._cookies = dict(jar)
        return self._cookies

    def full_url(self) -> str:
        """The reconstructed URL, e.g. ``http://example.com/a?b=c``."""
        return self.protocol + "://" + self.host + self.uri

    def request_time(self) -> float:
        """Seconds since the request started, read from the clock at each call.

        As in Tornado, the count goes on after the response is finished: the
        access log reads it as the response is finished.
        """
        return self._clock() - self._start_time

    def get_ssl_certificate(self, binary_form: bool = False) -> dict[str, Any] | None:
        """The verified client certificate, or ``None``.

        :param binary_form: unsupported (the backends keep only the parsed form).
        """
        exchange = self.exchange
        if exchange is None or exchange.info.tls is None or binary_form:
            return None
        return exchange.info.tls.peer_certificate

    def _parse_body(self) -> None:
        """Fill ``body_arguments`` and ``files`` from a form body.

        :raises RequestError: the form is malformed (400) or too big (413).
        """
        if not self.body:
            return
        content_type = self._header("Content-Type") or ""
        mimetype, params = parse_content_type(content_type)
        if mimetype == "application/x-www-form-urlencoded":
            charset = params.get("charset", "utf-8")
            body_arguments = _tolerant(self.body, charset)
        elif mimetype == "multipart/form-data":
            fields, uploads = parse_multipart(self.body, content_type)
            body_arguments = _bytes_lists(fields)
            files = self.files
            for name, items in uploads.lists():
                for upload in items:
                    with upload:
                        data = upload.read()
                    files.setdefault(name, []).append(
                        HTTPFile(
                            filename=upload.filename,
                            body=data,
                            content_type=upload.content_type or "application/unknown",
                        )
                    )
        else:
            return
        self._body_arguments = body_arguments
        # Built already, arguments takes the body's fields now; otherwise on first use.
        if self._arguments is not None:
            for key, values in body_arguments.items():
                self._arguments.setdefault(key, []).extend(values)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(protocol={self.protocol!r}, host={self.host!r}, "
            f"method={self.method!r}, uri={self.uri!r}, version={self.version!r}, "
            f"remote_ip={self.remote_ip!r})"
        )


def _split_host(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end >= 0 else host
    name, colon, port = host.rpartition(":")
    if colon and port.isdigit():
        return name
    return host
