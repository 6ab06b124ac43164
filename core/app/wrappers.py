"""The request and response objects Flask-style views work with.

:class:`Request` is built from a *scope* (an ASGI-like dict describing the
request) and the body bytes; everything else -- arguments, form, files,
JSON, cookies, URLs -- is parsed lazily with crosswind's building blocks the
first time a view asks.  :class:`Response` holds a status, headers and a
body (bytes, or an iterable that is streamed) and knows the Flask response
API: cookies, ``mimetype``, ``set_data``/``get_data``, ETags and conditional
requests.

The body is read as the view asks for it (:mod:`crosswind.app.body`):
``request.stream`` hands it over piece by piece as it arrives, and only
``get_data()``, ``form``, ``files`` and ``json`` collect it, bounded by
``MAX_CONTENT_LENGTH`` (the form also by ``MAX_FORM_MEMORY_SIZE`` and
``MAX_FORM_PARTS``; file parts spool to disk past 500 KiB).  A plain
function can wait for the network only where reads block the thread; on an
event loop the application reads ahead what such code needs before the view
runs (see :class:`~crosswind.app.App`).  Errors found while reading are
raised only when the view touches the body, as in Flask.
"""

from __future__ import annotations

import io
import json as _json
import re
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import IO, Any, Literal, TypeVar, overload
from urllib.parse import quote, unquote_to_bytes

from .._sync import run_sync
from ..accept import parse_accept
from ..authorization import Authorization, WWWAuthenticate
from ..conditional import evaluate
from ..cookies import delete_cookie_header, format_set_cookie, parse_cookie_pairs
from ..errors import RequestError
from ..etag import compute_etag, parse_etag
from ..forms import MultiDict, parse_qs, parse_urlencoded
from ..grammar import is_token
from ..headers import Headers as _BaseHeaders
from ..hosts import host_is_trusted
from ..httpdate import format_http_date, parse_http_date
from ..mediatype import parse_content_type
from ..mount import root_path_of
from ..multipart import MultipartParser, UploadedFile, spooled_file
from ..protocol.exchange import Exchange
from ..ranges import build_byteranges, byteranges_content_type, make_boundary
from . import exceptions
from .body import AsyncBodyStream, BodyStream, RequestBody
from .ctx import _cv_app

__all__ = [
    "Accept",
    "CombinedMultiDict",
    "FileStorage",
    "Headers",
    "Request",
    "Response",
    "ResponseCacheControl",
    "UserAgent",
    "get_content_type",
]

_MISSING: Any = object()
_T = TypeVar("_T")
_D = TypeVar("_D")


def _clock() -> Callable[[], float] | None:
    ctx = _cv_app.get(None)
    return ctx.app.clock if ctx is not None else None


def _token_source() -> Callable[[int], bytes] | None:
    ctx = _cv_app.get(None)
    return ctx.app.token_source if ctx is not None else None


# -- headers and small header-valued helpers --------------------------------------------


class Headers(_BaseHeaders):
    """Response and request headers with Flask's (werkzeug's) API on top.

    Iterating yields ``(name, value)`` pairs and ``len()`` counts every field,
    as in Flask; :meth:`getlist`, :meth:`extend` and keyword *options* for
    :meth:`add`/:meth:`set` (``filename="a.txt"``) are available too.
    """

    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[str, str]]:  # type: ignore[override]
        return iter(self.items())

    def __len__(self) -> int:
        return len(self.items())

    # The value is text, or what *type* makes of it; *default* when absent (or refused).
    @overload
    def get(self, name: str, *, type: None = None) -> str | None: ...
    @overload
    def get(self, name: str, default: _D, type: None = None) -> str | _D: ...
    @overload
    def get(self, name: str, *, type: Callable[[str], _T]) -> _T | None: ...
    @overload
    def get(self, name: str, default: _D, type: Callable[[str], _T]) -> _T | _D: ...
    def get(self, name: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        """The first value of *name*, optionally converted by *type*.

        :param name: the header name, any case.
        :param default: returned if absent (or if *type* raises ``ValueError``).
        :param type: a converter such as ``int``.
        """
        value = super().get(name, _MISSING)
        if value is _MISSING:
            return default
        if type is None:
            return value
        try:
            return type(value)
        except (ValueError, TypeError):
            return default

    def getlist(self, name: str, type: Callable[[str], Any] | None = None) -> list[Any]:
        """Every value of *name*; values *type* rejects are skipped.

        :param name: the header name.
        :param type: an optional converter.
        """
        values = self.get_list(name)
        if type is None:
            return values
        out = []
        for value in values:
            try:
                out.append(type(value))
            except (ValueError, TypeError):
                continue
        return out

    get_all = getlist

    def add(self, name: str | bytes, value: Any, **options: Any) -> None:
        """Add a field; *options* become ``; key=value`` parameters.

        :param name: the header name.
        :param value: the value.
        :param options: parameters such as ``filename="x.txt"``.
        """
        super().add(name, _with_options(value, options))

    def set(self, name: str | bytes, value: Any, **options: Any) -> None:
        """Replace every field called *name*; *options* as in :meth:`add`.

        :param name: the header name.
        :param value: the value.
        :param options: parameters such as ``filename="x.txt"``.
        """
        super().set(name, _with_options(value, options))

    def add_header(self, name: str, value: Any, **options: Any) -> None:
        """Same as :meth:`add`.

        :param name: the header name.
        :param value: the value.
        :param options: header parameters.
        """
        self.add(name, value, **options)

    def extend(self, other: Any = None, /, **kwargs: Any) -> None:
        """Add the fields of *other* and *kwargs*, keeping existing ones.

        :param other: a mapping or ``(name, value)`` pairs.
        :param kwargs: more fields.
        """
        pairs = _BaseHeaders(other).items() if other is not None else []
        for name, value in [*pairs, *kwargs.items()]:
            self.add(name, value)

    def remove(self, name: str) -> None:
        """Remove every field called *name* (no error if absent).

        :param name: the header name.
        """
        self.pop(name, None)

    def setlist(self, name: str, values: Iterable[Any]) -> None:
        """Replace *name* with one field per value.

        :param name: the header name.
        :param values: the values.
        """
        self.pop(name, None)
        for value in values:
            self.add(name, value)

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        """Every field as ``(name, value)``, in order."""
        return self.items()

    def copy(self) -> Headers:
        """An independent copy."""
        return Headers(self)


def _with_options(value: Any, options: Mapping[str, Any]) -> Any:
    if not options:
        return value
    parts = [str(value)]
    for key, option in options.items():
        key = key.replace("_", "-")
        if option is None:
            continue
        if option is True:
            parts.append(key)
            continue
        text = str(option)
        if key.endswith("*") or is_token(text):
            parts.append(f"{key}={text}")
        else:
            escaped = text.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{key}="{escaped}"')
    return "; ".join(parts)


class _HeaderSet:
    """A comma-separated header (``Vary``, ``Allow``) edited as a set."""

    def __init__(self, headers: Headers, name: str) -> None:
        self._headers = headers
        self._name = name

    def _items(self) -> list[str]:
        value = self._headers.get(self._name, "")
        return [item.strip() for item in value.split(",") if item.strip()]

    def add(self, item: str) -> None:
        """Add *item* unless present (case-insensitively).

        :param item: e.g. ``"Cookie"``.
        """
        items = self._items()
        if item.lower() not in (existing.lower() for existing in items):
            items.append(item)
            self._headers[self._name] = ", ".join(items)

    def update(self, items: Iterable[str]) -> None:
        """Add several items.

        :param items: the items.
        """
        for item in items:
            self.add(item)

    def discard(self, item: str) -> None:
        """Remove *item* if present.

        :param item: the item.
        """
        items = [existing for existing in self._items() if existing.lower() != item.lower()]
        if items:
            self._headers[self._name] = ", ".join(items)
        else:
            self._headers.remove(self._name)

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and item.lower() in (x.lower() for x in self._items())

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __bool__(self) -> bool:
        return bool(self._items())

    def to_header(self) -> str:
        """The header value."""
        return ", ".join(self._items())

    def __str__(self) -> str:
        return self.to_header()


class ResponseCacheControl:
    """The ``Cache-Control`` response header as attributes.

    ``cc.no_cache = True`` writes ``no-cache``; ``cc.max_age = 60`` writes
    ``max-age=60``; setting ``None`` (or ``False``) removes the directive.
    """

    _DIRECTIVES = {
        "no_cache": "no-cache",
        "no_store": "no-store",
        "no_transform": "no-transform",
        "max_age": "max-age",
        "s_maxage": "s-maxage",
        "public": "public",
        "private": "private",
        "must_revalidate": "must-revalidate",
        "proxy_revalidate": "proxy-revalidate",
        "immutable": "immutable",
        "must_understand": "must-understand",
        "stale_while_revalidate": "stale-while-revalidate",
        "stale_if_error": "stale-if-error",
    }
    _NUMERIC = frozenset({"max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"})
    # Set past __setattr__, which writes directives; declared so it is not read as one.
    _headers: Headers

    def __init__(self, headers: Headers) -> None:
        object.__setattr__(self, "_headers", headers)

    def _parse(self) -> dict[str, str | None]:
        directives: dict[str, str | None] = {}
        for piece in self._headers.get("Cache-Control", "").split(","):
            name, equals, value = piece.strip().partition("=")
            if name:
                directives[name.lower()] = value.strip('"') if equals else None
        return directives

    def __getattr__(self, attribute: str) -> Any:
        name = self._DIRECTIVES.get(attribute)
        if name is None:
            raise AttributeError(attribute)
        directives = self._parse()
        if name not in directives:
            return None
        value = directives[name]
        if name in self._NUMERIC:
            try:
                return int(value or "")
            except ValueError:
                return None
        return True if value is None else value

    def __setattr__(self, attribute: str, value: Any) -> None:
        name = self._DIRECTIVES.get(attribute)
        if name is None:
            raise AttributeError(attribute)
        directives = self._parse()
        if value is None or value is False:
            directives.pop(name, None)
        elif value is True:
            directives[name] = None
        else:
            directives[name] = str(int(value)) if name in self._NUMERIC else str(value)
        text = ", ".join(k if v is None else f"{k}={v}" for k, v in directives.items())
        if text:
            self._headers["Cache-Control"] = text
        else:
            self._headers.remove("Cache-Control")

    def to_header(self) -> str:
        """The header value."""
        return self._headers.get("Cache-Control", "")


# -- request-side data structures -------------------------------------------------------


class _RequestDict(MultiDict[Any]):
    """The multi-dicts of a request; a missing key is a 400, as in Flask."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        values = self._lists.get(key)
        if not values:
            raise exceptions.BadRequestKeyError(key)
        return values[0]


def _adopt(parsed: MultiDict[Any]) -> _RequestDict:
    # A multi-dict the parser just made belongs to nobody else: its lists are
    # taken over rather than copied (see bench/NOTES.md).
    adopted = _RequestDict()
    adopted._lists = parsed._lists
    return adopted


class CombinedMultiDict(_RequestDict):
    """A read-only view over several multi-dicts (``request.values``).

    :param dicts: looked up in order; values of all are combined.
    """

    __slots__ = ()

    def __init__(self, dicts: Iterable[MultiDict[Any]] = ()) -> None:
        super().__init__()
        for source in dicts:
            for key, value in source.items(multi=True):
                self.add(key, value)


class UserAgent:
    """The ``User-Agent`` header; ``str()`` gives the raw string.

    :param string: the header value.
    """

    platform: str | None = None
    browser: str | None = None
    version: str | None = None
    language: str | None = None

    def __init__(self, string: str) -> None:
        self.string = string

    def to_header(self) -> str:
        """The header value."""
        return self.string

    def __str__(self) -> str:
        return self.string

    def __bool__(self) -> bool:
        return bool(self.string)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.string!r}>"


class Accept:
    """A parsed ``Accept`` header: ``best_match``, ``quality``, ``in``.

    :param value: the header value, ``None`` when absent (everything is acceptable).
    """

    def __init__(self, value: str | None) -> None:
        self.provided = value is not None
        self._items = parse_accept(value) if value is not None else []

    @staticmethod
    def _matches(pattern: str, offer: str) -> bool:
        pattern = pattern.split(";", 1)[0]
        offer = offer.lower()
        if pattern in ("*", "*/*") or pattern == offer:
            return True
        kind, _, sub = pattern.partition("/")
        offer_kind, _, _ = offer.partition("/")
        return sub == "*" and kind == offer_kind

    def quality(self, offer: str) -> float:
        """How much the client wants *offer* (0 if not at all).

        :param offer: a media type such as ``"application/json"``.
        """
        if not self.provided:
            return 1.0
        for pattern, q in self._items:
            if self._matches(pattern, offer):
                return q
        return 0.0

    def best_match(self, matches: Iterable[str], default: str | None = None) -> str | None:
        """The offer the client prefers most, or *default*.

        :param matches: what the server can produce, best first on ties.
        :param default: returned if the client accepts none of them.
        """
        best, best_q = default, 0.0
        for offer in matches:
            q = self.quality(offer)
            if q > best_q:
                best, best_q = offer, q
        return best

    @property
    def best(self) -> str | None:
        """The client's most preferred item."""
        return self._items[0][0] if self._items else None

    @property
    def accept_json(self) -> bool:
        """Whether JSON is acceptable."""
        return self.quality("application/json") > 0

    @property
    def accept_html(self) -> bool:
        """Whether HTML is acceptable."""
        return self.quality("text/html") > 0 or self.quality("application/xhtml+xml") > 0

    def values(self) -> list[str]:
        """The items, most preferred first."""
        return [item for item, _ in self._items]

    def __contains__(self, offer: object) -> bool:
        return isinstance(offer, str) and self.quality(offer) > 0

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(self._items)


class FileStorage(UploadedFile):
    """An uploaded file, with Flask's constructor and API.

    :param stream: a binary file object with the content.
    :param filename: the client's file name.
    :param name: the form field.
    :param content_type: the part's content type.
    :param content_length: the size, if known.
    :param headers: the part's headers.
    """

    def __init__(
        self,
        stream: IO[bytes] | None = None,
        filename: str | None = None,
        name: str | None = None,
        content_type: str | None = None,
        content_length: int | None = None,
        headers: Any = None,
    ) -> None:
        if stream is None:
            stream = io.BytesIO()
        if filename is None:
            raw = getattr(stream, "name", None)
            if isinstance(raw, str) and not (raw.startswith("<") and raw.endswith(">")):
                filename = raw
        header_obj = Headers(headers)
        if content_type is None:
            content_type = header_obj.get("Content-Type")
        elif "Content-Type" not in header_obj:
            header_obj["Content-Type"] = content_type
        super().__init__(
            name or "", filename or "", content_type, header_obj, stream, content_length or 0
        )
        self.content_length = content_length or 0

    @classmethod
    def from_upload(cls, upload: UploadedFile) -> FileStorage:
        """Wrap a file parsed by :class:`crosswind.multipart.MultipartParser`.

        :param upload: the parsed file.
        """
        storage = cls(
            upload.stream, upload.filename, upload.name, upload.content_type, upload.size,
            upload.headers,
        )
        storage.size = upload.size
        return storage

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The parameters of the content type."""
        return parse_content_type(self.content_type)[1]

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._stream, name)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)


# -- request ------------------------------------------------------------------------


def _header_list(scope: Mapping[str, Any]) -> Headers:
    # Byte pairs from a connection are checked in one pass by from_wire (anything
    # else falls back to the checking constructor; see bench/NOTES.md).
    return Headers.from_wire([(name, value) for name, value in scope.get("headers", ())])


def _decoded_path(raw_path: str) -> str:
    # Without a "%" decoding changes nothing (the UTF-8 round trip of the text
    # is the text), so it is skipped (see bench/NOTES.md).
    return unquote_to_bytes(raw_path).decode("utf-8", "replace") if "%" in raw_path else raw_path


def _root_path(exchange: Exchange) -> str:
    if type(exchange) is Exchange:
        # What root_path_of finds for a plain exchange, without its getattr
        # misses.
        extra = exchange.info.extra
        return str((extra.get("root_path", "") if extra else "") or "").rstrip("/")
    return root_path_of(exchange)


def _scope_of(exchange: Exchange) -> dict[str, Any]:
    """The scope describing the request of *exchange* (see :class:`Request`)."""
    info = exchange.info
    extra = info.extra
    raw_path = exchange.path
    return {
        "type": "http",
        "http_version": exchange.http_version,
        "method": exchange.method,
        "scheme": info.scheme,
        "path": _decoded_path(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": exchange.query.encode("latin-1"),
        "root_path": _root_path(exchange),
        "headers": exchange.headers,
        "client": info.peer,
        "server": info.local,
        # Under the WSGI adapter, the server's own environ.
        "wsgi_environ": extra.get("environ") if extra else None,
        "crosswind.exchange": exchange,
    }


class Request:
    """One HTTP request as a Flask view sees it (``flask.request``).

    :param scope: the request description: ``method``, ``scheme``, ``path``
        (percent-decoded), ``raw_path``, ``query_string`` (bytes),
        ``root_path`` (where the application is mounted), ``headers``
        (``(name, value)`` byte pairs), ``client`` and ``server`` addresses,
        ``http_version``.
    :param body: the whole request body.
    :param body_error: an error met while reading the body (too large...),
        raised when the view accesses the body.
    :param source: the body still to be read from the connection; *body*
        is then ignored.
    """

    #: Flask sets these while matching the URL.
    url_rule: Any = None
    #: Host names :attr:`host` accepts (``.example.com`` for a domain and its
    #: subdomains); ``None`` accepts any.  The app sets it from ``TRUSTED_HOSTS``.
    trusted_hosts: list[str] | None = None
    view_args: dict[str, Any] | None = None
    routing_exception: Exception | None = None

    def __init__(
        self,
        scope: dict[str, Any],
        body: bytes = b"",
        *,
        body_error: RequestError | None = None,
        source: RequestBody | None = None,
    ) -> None:
        self._scope = scope
        self.method: str = scope.get("method", "GET").upper()
        self.scheme: str = scope.get("scheme", "http")
        self.root_path: str = scope.get("root_path", "").rstrip("/")
        path = scope.get("path", "/")
        self.path: str = "/" + path.lstrip("/")
        self.query_string: bytes = scope.get("query_string", b"")
        # None until the body is collected from the source.
        self._body: bytes | None = body if source is None else None
        self._source = source
        if body_error is not None:
            self._body_error = body_error

    # What is built on first use starts as None here, on the class, rather than
    # being set on every request (deliberate, see bench/NOTES.md).
    #: Whether the view being served is ``async def``; it picks the shape of
    #: :attr:`stream`.  ``None`` until known: the application sets it before
    #: a view with a body runs, else :attr:`stream` asks it.
    async_view: bool | None = None
    _body_error: RequestError | None = None
    # See the headers property.
    _headers: Headers | None = None
    _form: _RequestDict | None = None
    _files: _RequestDict | None = None
    _args: _RequestDict | None = None
    _cookies: _RequestDict | None = None
    _json_cache: dict[bool, Any] | None = None
    _stream: BodyStream | AsyncBodyStream | None = None
    _environ: dict[str, Any] | None = None
    #: The scope until :meth:`_from_exchange` leaves it to be made on first read.
    _scope: dict[str, Any] | None = None
    _exchange: Exchange | None = None
    #: Whether the class keeps Request's own close(), so that a request without
    #: uploads is not asked to close (set per class).
    _plain_close = True
    #: Whether the class keeps Request's own __init__ and scope, so that
    #: :meth:`_from_exchange` may build it without a scope (set per class).
    _plain_init = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_close = cls.close is Request.close
        cls._plain_init = cls.__init__ is Request.__init__ and cls.scope is Request.scope

    @classmethod
    def _from_exchange(cls, exchange: Exchange, source: RequestBody | None = None) -> Request:
        """The request of *exchange*, as ``cls(scope, body, source=source)`` would be
        with the scope describing it.

        A class that keeps Request's own ``__init__`` and :attr:`scope` gets its
        attributes straight from the exchange and its scope made on first read
        (most views never read it: deliberate, see bench/NOTES.md).

        :param exchange: the request being served.
        :param source: the body still on the connection; ``None`` when the body
            is complete (and empty).
        """
        if not cls._plain_init:
            if source is None:
                return cls(_scope_of(exchange), b"")
            return cls(_scope_of(exchange), source=source)
        req = object.__new__(cls)
        req._exchange = exchange
        req.method = exchange.method.upper()
        info = exchange.info
        req.scheme = info.scheme
        # The two helpers' usual answers without calling them: no root path on a
        # plain exchange without extras, no "%" to decode (see bench/NOTES.md).
        req.root_path = "" if not info.extra and type(exchange) is Exchange else _root_path(exchange).rstrip("/")
        raw_path = exchange.path
        req.path = "/" + (_decoded_path(raw_path) if "%" in raw_path else raw_path).lstrip("/")
        req.query_string = exchange.query.encode("latin-1")
        req._body = b"" if source is None else None
        req._source = source
        return req

    @property
    def scope(self) -> dict[str, Any]:
        """The request description this request was built from (see the class
        docstring)."""
        scope = self._scope
        if scope is None:
            scope = self._scope = _scope_of(self._exchange)  # type: ignore[arg-type]
        return scope

    @scope.setter
    def scope(self, value: dict[str, Any]) -> None:
        self._scope = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url!r} [{self.method}]>"

    @property
    def headers(self) -> Headers:
        """The request headers."""
        headers = self._headers
        if headers is None:
            headers = self._headers = _header_list(self.scope)
        return headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    # -- the client leaving ---------------------------------------------------

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        """Call *callback* once if the client goes away before the response is complete.

        A crosswind addition (Flask, on WSGI, has no way to tell): a view that
        waits for an event without reading or writing (a long poll) hears of
        the client leaving at once, on every backend, instead of at its next
        write.  *callback* runs in the server's event loop, or on the threads
        backend in another thread, so it should only set a flag or an event.

        :param callback: called with no arguments.
        :raises RuntimeError: the request is not served over a connection
            (one built by hand, as ``test_request_context`` builds it).
        """
        exchange = self.scope.get("crosswind.exchange")
        if exchange is None:
            raise RuntimeError("this request has no connection to watch for a disconnect")
        exchange.add_close_callback(callback)

    # -- addresses and URLs ---------------------------------------------------

    @property
    def script_root(self) -> str:
        """Where the application is mounted (``""`` at the root)."""
        return self.root_path

    def _header_values(self, name: bytes) -> list[str]:
        # The fields called *name* (lowercase) without building the headers, where
        # the scope holds byte pairs as a connection hands them over; the URL
        # adapter reads Host on every request (see bench/NOTES.md).
        if self._headers is None:
            found = []
            scope = self._scope
            fields = scope.get("headers", ()) if scope is not None else self._exchange.headers  # type: ignore[union-attr]
            for key, value in fields:
                if type(key) is not bytes or type(value) is not bytes:
                    break
                if len(key) == len(name) and key.lower() == name:
                    if b"\r" in value or b"\n" in value or b"\0" in value:
                        break  # the headers property refuses it; let it say so
                    found.append(value.decode("latin-1"))
            else:
                return found
        return self.headers.get_list(name.decode("latin-1"))

    @property
    def host(self) -> str:
        """The host the client asked for, with a port unless it is the default."""
        hosts = self._header_values(b"host")
        host = hosts[0] if hosts else None
        if not host:
            server = self.scope.get("server")
            host = f"{server[0]}:{server[1]}" if isinstance(server, tuple | list) else ""
        if self.scheme in ("http", "ws") and host.endswith(":80"):
            host = host[:-3]
        elif self.scheme in ("https", "wss") and host.endswith(":443"):
            host = host[:-4]
        trusted = self.trusted_hosts
        if trusted and not host_is_trusted(host, trusted):
            raise exceptions.SecurityError(f"Host {host!r} is not trusted.")
        return host

    @property
    def authorization(self) -> Authorization | None:
        """The credentials of the ``Authorization`` field: ``None`` when it is
        absent or its ``Basic`` credentials cannot be decoded."""
        return Authorization.from_header(self.headers.get("Authorization"))

    @property
    def is_secure(self) -> bool:
        """Whether the request came over TLS."""
        return self.scheme in ("https", "wss")

    def _url(self, root: bool = False, path: bool = True, query: bool = True) -> str:
        safe = "!$&'()*+,/:;=@%"
        url = f"{self.scheme}://{self.host}" + _iri_quote(self.root_path.rstrip("/"), safe) + "/"
        if root:
            return url
        if path:
            url += _iri_quote(self.path.lstrip("/"), safe)
            if query and self.query_string:
                query_text = self.query_string.decode("latin-1")
                url += "?" + _iri_quote(_utf8(query_text), safe + "?")
        return url

    @property
    def url(self) -> str:
        """The full URL, query included."""
        return self._url()

    @property
    def base_url(self) -> str:
        """The URL without the query."""
        return self._url(query=False)

    @property
    def url_root(self) -> str:
        """Scheme, host and application root, with a trailing slash."""
        return self._url(root=True)

    @property
    def root_url(self) -> str:
        """Same as :attr:`url_root`."""
        return self.url_root

    @property
    def host_url(self) -> str:
        """Scheme and host, with a trailing slash."""
        return f"{self.scheme}://{self.host}/"

    @property
    def full_path(self) -> str:
        """The path and ``?`` and the query (the ``?`` is always there, as in Flask)."""
        return f"{self.path}?{self.query_string.decode('latin-1')}"

    @property
    def remote_addr(self) -> str | None:
        """The client's address."""
        client = self.scope.get("client")
        if isinstance(client, tuple | list):
            return str(client[0])
        return client if isinstance(client, str) else None

    @property
    def access_route(self) -> list[str]:
        """``X-Forwarded-For`` addresses if present, else ``[remote_addr]``."""
        forwarded = self.headers.get("X-Forwarded-For")
        if forwarded:
            return [part.strip() for part in forwarded.split(",") if part.strip()]
        return [self.remote_addr] if self.remote_addr else []

    @property
    def environ(self) -> dict[str, Any]:
        """A WSGI-style dict describing the request, for code that reads one
        (the server's own environ when served through the WSGI adapter)."""
        if self._environ is None and self.scope.get("wsgi_environ") is not None:
            self._environ = self.scope["wsgi_environ"]
        if self._environ is None:
            server = self.scope.get("server")
            client = self.scope.get("client")
            environ: dict[str, Any] = {
                "REQUEST_METHOD": self.method,
                "SCRIPT_NAME": self.root_path,
                "PATH_INFO": self.path,
                "QUERY_STRING": self.query_string.decode("latin-1"),
                "SERVER_PROTOCOL": "HTTP/" + self.scope.get("http_version", "1.1"),
                "wsgi.url_scheme": self.scheme,
                "REMOTE_ADDR": self.remote_addr or "",
            }
            if isinstance(server, tuple | list):
                environ["SERVER_NAME"], environ["SERVER_PORT"] = str(server[0]), str(server[1])
            if isinstance(client, tuple | list):
                environ["REMOTE_PORT"] = client[1]
            for name, value in self.headers.items():
                key = name.upper().replace("-", "_")
                if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                    environ[key] = value
                else:
                    key = "HTTP_" + key
                    environ[key] = environ[key] + "," + value if key in environ else value
            self._environ = environ
        return self._environ

    # -- routing results ----------------------------------------------------

    @property
    def endpoint(self) -> str | None:
        """The endpoint the URL matched, if it did."""
        return self.url_rule.endpoint if self.url_rule is not None else None

    @property
    def blueprint(self) -> str | None:
        """The (dotted) name of the blueprint of the matched endpoint."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The matched blueprint and its parents, innermost first."""
        name = self.blueprint
        if name is None:
            return []
        parts = name.split(".")
        return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]

    # -- headers --------------------------------------------------------------

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header."""
        # Without the headers, as a form body is parsed on every form request.
        values = self._header_values(b"content-type")
        return values[0] if values else None

    @property
    def mimetype(self) -> str:
        """The media type of the body, lowercased, without parameters."""
        return parse_content_type(self.content_type)[0]

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The parameters of the content type."""
        return parse_content_type(self.content_type)[1]

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` as an int (``None`` if absent or chunked)."""
        value = self.headers.get("Content-Length")
        if value is None:
            return None
        try:
            return max(int(value), 0)
        except ValueError:
            return 0

    @property
    def content_encoding(self) -> str | None:
        """The ``Content-Encoding`` header."""
        return self.headers.get("Content-Encoding")

    @property
    def user_agent(self) -> UserAgent:
        """The ``User-Agent``."""
        return UserAgent(self.headers.get("User-Agent", ""))

    @property
    def referrer(self) -> str | None:
        """The ``Referer`` header."""
        return self.headers.get("Referer")

    @property
    def accept_mimetypes(self) -> Accept:
        """The parsed ``Accept`` header."""
        return Accept(self.headers.get("Accept"))

    @property
    def if_modified_since(self) -> datetime | None:
        """The ``If-Modified-Since`` date."""
        value = self.headers.get("If-Modified-Since")
        return parse_http_date(value) if value else None

    @property
    def cookies(self) -> _RequestDict:
        """The cookies the client sent, read as werkzeug reads them.

        A repeated name keeps every value: ``cookies["x"]`` is the first (browsers send
        the cookie of the most specific path first) and ``cookies.getlist("x")`` all of
        them.  A piece without ``=`` is a name with the value ``""``.
        """
        if self._cookies is None:
            # Read without building the headers, since sessions look on every
            # request (see bench/NOTES.md).
            header = ";".join(self._header_values(b"cookie"))
            cookies = _RequestDict()
            if header:
                # The header arrives as latin-1 text; its bytes are UTF-8 when a client
                # sent non-ASCII, which parse_cookie_pairs decodes (or keeps as latin-1).
                raw: str | bytes = header
                if header.isascii() or max(header) <= "\xff":
                    raw = header.encode("latin-1")
                for key, value in parse_cookie_pairs(raw):
                    cookies.add(key, value)
            self._cookies = cookies
        return self._cookies

    @property
    def args(self) -> _RequestDict:
        """The query arguments (the first value of a repeated one wins)."""
        if self._args is None:
            try:
                parsed = parse_qs(self.query_string)
            except RequestError:
                parsed = MultiDict(_decode_loose(self.query_string))
            self._args = _adopt(parsed)
        return self._args

    # -- body -------------------------------------------------------------------

    @property
    def max_content_length(self) -> int | None:
        """The application's ``MAX_CONTENT_LENGTH``."""
        ctx = _cv_app.get(None)
        return ctx.app.config["MAX_CONTENT_LENGTH"] if ctx is not None else None

    @property
    def max_form_memory_size(self) -> int | None:
        """The application's ``MAX_FORM_MEMORY_SIZE``."""
        ctx = _cv_app.get(None)
        return ctx.app.config.get("MAX_FORM_MEMORY_SIZE") if ctx is not None else 500_000

    @property
    def max_form_parts(self) -> int | None:
        """The application's ``MAX_FORM_PARTS``."""
        ctx = _cv_app.get(None)
        return ctx.app.config.get("MAX_FORM_PARTS") if ctx is not None else 1000

    def _raw_body(self) -> bytes:
        if self._body_error is not None:
            raise exceptions.from_request_error(self._body_error)
        if self._body is None:
            source = self._source
            assert source is not None
            try:
                self._body = source.wait(source.read())
            except RequestError as error:
                self._body_error = error
                raise exceptions.from_request_error(error) from None
        limit = self.max_content_length
        if limit is not None and len(self._body) > limit:
            raise exceptions.RequestEntityTooLarge()
        return self._body

    @property
    def stream(self) -> Any:
        """The body as it arrives, unbuffered.

        In a plain ``def`` view this is a binary file (``read(n)``,
        ``readline()``, iteration by lines) whose reads block until the bytes
        arrive; in an ``async def`` view every read is awaited
        (``await request.stream.read(n)``, ``async for chunk in
        request.stream``).  Once the form was parsed from a form body the
        stream is empty, as in werkzeug; once :meth:`get_data` collected the
        body, the stream reads it again from its start.
        """
        stream = self._stream
        if stream is None:
            source: RequestBody
            if self._form is not None and self._is_form():
                source = RequestBody()
            elif self._body is not None or self._source is None:
                source = RequestBody(None, self._body or b"", error=self._body_error)
            else:
                source = self._source
            async_view = self.async_view
            if async_view is None:
                ctx = _cv_app.get(None)
                async_view = ctx is not None and ctx.app._is_async_view(self)
            stream = AsyncBodyStream(source) if async_view else BodyStream(source)
            self._stream = stream
        return stream

    input_stream = stream

    def _is_form(self) -> bool:
        return self.mimetype in _FORM_TYPES

    @overload
    def get_data(
        self, cache: bool = True, as_text: Literal[False] = False, parse_form_data: bool = False
    ) -> bytes: ...
    @overload
    def get_data(self, cache: bool, as_text: Literal[True], parse_form_data: bool = False) -> str: ...
    @overload
    def get_data(
        self, cache: bool = True, *, as_text: Literal[True], parse_form_data: bool = False
    ) -> str: ...
    @overload
    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str: ...
    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        """The body, as bytes (or text with *as_text*).

        Like Flask, once the form has been parsed from a form body, the raw
        data is no longer available and this returns empty.  Whatever the
        view already read from :attr:`stream` is not included.

        :param cache: unused; the body is always kept.
        :param as_text: decode as UTF-8 (undecodable bytes replaced).
        :param parse_form_data: parse the form first (so a form body gives ``b""``).
        :raises RequestEntityTooLarge: 413 past ``MAX_CONTENT_LENGTH``.
        """
        if parse_form_data:
            self._load_form_data()
        data = b"" if self._form is not None and self._is_form() else self._raw_body()
        return data.decode("utf-8", "replace") if as_text else data

    @property
    def data(self) -> bytes:
        """The body, unless it was a form (then ``b""``, as in Flask)."""
        return self.get_data(parse_form_data=True)

    def _load_form_data(self) -> None:
        if self._form is not None:
            return
        if self._body is None and self._source is not None and self._body_error is None:
            self._source.wait(self.load_form())
        else:
            run_sync(self.load_form())

    async def load_form(self) -> None:
        """Read and parse a form body now, as it arrives; the application calls it.

        Multipart file parts past 500 KiB go to a temporary file (werkzeug's
        threshold); ``MAX_FORM_MEMORY_SIZE`` bounds each text field of a
        multipart body and a whole urlencoded body, ``MAX_FORM_PARTS`` the
        number of parts or fields.  A malformed form gives an empty one, as in
        Flask.

        :raises RequestEntityTooLarge: 413 when a limit is passed.
        """
        if self._form is not None:
            return
        form: MultiDict[Any] = MultiDict()
        files: MultiDict[Any] = MultiDict()
        mimetype = self.mimetype
        if mimetype in _FORM_TYPES:
            if self._body is not None or self._body_error is not None or self._source is None:
                source = RequestBody(None, self._raw_body())
            else:
                source = self._source
            try:
                if mimetype == "multipart/form-data":
                    fields, uploads = await self._parse_multipart(source)
                    form = fields
                    files = MultiDict(
                        [(k, FileStorage.from_upload(v)) for k, v in uploads.items(multi=True)]
                    )
                else:
                    form = await self._parse_urlencoded(source)
            except _BodyFailed as failed:
                self._body_error = failed.error
                raise exceptions.from_request_error(failed.error) from None
            except RequestError as error:
                if error.status_code == 413:
                    # Part of the body is gone: every later access gets the same 413.
                    self._body_error = error
                    raise exceptions.RequestEntityTooLarge() from None
                # Flask ignores a malformed form body; lookups then answer 400.
                form, files = MultiDict(), MultiDict()
        self._form = _adopt(form)
        self._files = _adopt(files)

    async def _parse_multipart(
        self, source: RequestBody
    ) -> tuple[MultiDict[str], MultiDict[UploadedFile]]:
        memory = self.max_form_memory_size
        parts = self.max_form_parts
        _, params = parse_content_type(self.content_type or "")
        boundary = params.get("boundary")
        if not boundary:
            raise RequestError("multipart/form-data without a boundary", 400)
        parser = MultipartParser(
            boundary,
            max_parts=parts or 10**9,
            max_field_size=memory or 2**62,
            file_factory=_spooled_part,
        )
        with parser:
            while chunk := await _next_piece(source):
                parser.feed(chunk)
            parser.close()
        return parser.fields, parser.files

    async def _parse_urlencoded(self, source: RequestBody) -> MultiDict[str]:
        memory = self.max_form_memory_size
        parts = self.max_form_parts
        collected = bytearray()
        while chunk := await _next_piece(source):
            collected += chunk
            # Checked as it arrives: an oversized form is refused before it is all held.
            if memory is not None and len(collected) > memory:
                raise exceptions.RequestEntityTooLarge()
        body = bytes(collected)
        # Like Flask, the body is UTF-8 whatever charset it claims.
        try:
            return parse_urlencoded(body, max_fields=parts or 10**9)
        except RequestError as error:
            if error.status_code != 400:
                raise
            return MultiDict(_decode_loose(body))

    @property
    def form(self) -> _RequestDict:
        """Fields of a urlencoded or multipart body."""
        self._load_form_data()
        assert self._form is not None
        return self._form

    @property
    def files(self) -> _RequestDict:
        """Uploaded files (:class:`FileStorage`) of a multipart body."""
        self._load_form_data()
        assert self._files is not None
        return self._files

    @property
    def values(self) -> CombinedMultiDict:
        """Query arguments and (except for GET) form fields together."""
        sources: list[MultiDict[Any]] = [self.args]
        if self.method != "GET":
            sources.append(self.form)
        return CombinedMultiDict(sources)

    # -- JSON ---------------------------------------------------------------------

    @property
    def is_json(self) -> bool:
        """Whether the content type is JSON (``application/json`` or ``+json``)."""
        mimetype = self.mimetype
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    @property
    def json(self) -> Any:
        """The parsed JSON body; see :meth:`get_json`."""
        return self.get_json()

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Parse the body as JSON.

        :param force: ignore the content type.
        :param silent: return ``None`` instead of failing.
        :param cache: remember the result.
        :raises UnsupportedMediaType: 415 if the content type is not JSON.
        :raises BadRequest: 400 if the body is not valid JSON.
        """
        cached = self._json_cache
        if cache and cached is not None and silent in cached:
            return cached[silent]
        if not (force or self.is_json):
            if silent:
                return None
            return self.on_json_loading_failed(None)
        body = self._raw_body()
        try:
            ctx = _cv_app.get(None)
            result = ctx.app.json.loads(body) if ctx is not None else _json.loads(body)
        except ValueError as error:
            result = None if silent else self.on_json_loading_failed(error)
        if cache:
            if cached is None:
                cached = self._json_cache = {}
            cached[silent] = result
            if not silent:
                cached[True] = result
        return result

    def on_json_loading_failed(self, error: ValueError | None) -> Any:
        """Called when :meth:`get_json` fails; raises the HTTP error.

        Outside debug mode the 400 page carries the generic description, so
        parser messages do not leak to clients.

        :param error: the parse error, or ``None`` if the content type was wrong.
        """
        if error is None:
            raise exceptions.UnsupportedMediaType(
                "Did not attempt to load JSON data because the request Content-Type"
                " was not 'application/json'."
            )
        ctx = _cv_app.get(None)
        if ctx is not None and ctx.app.debug:
            raise exceptions.BadRequest(f"Failed to decode JSON object: {error}")
        raise exceptions.BadRequest() from error

    def close(self) -> None:
        """Release uploaded files (a spooled file's disk space with it)."""
        if self._files is not None:
            for _, upload in self._files.items(multi=True):
                upload.close()


#: File parts larger than this move from memory to a temporary file; werkzeug's
#: ``default_stream_factory`` draws the line at the same 500 KiB.
SPOOL_THRESHOLD = 500 * 1024


#: The media types of a form body.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _spooled_part() -> IO[bytes]:
    return spooled_file(SPOOL_THRESHOLD)


class _BodyFailed(Exception):
    """Reading the body itself failed, as opposed to parsing it."""

    def __init__(self, error: RequestError) -> None:
        super().__init__(error.reason)
        self.error = error


async def _next_piece(source: RequestBody) -> bytes:
    try:
        return await source.read_chunk()
    except RequestError as error:
        raise _BodyFailed(error) from None


_NON_ASCII_RUN = re.compile(r"([^\x00-\x7f]+)")


def _iri_quote(text: str, safe: str) -> str:
    # Flask's URLs are IRIs: reserved ASCII is percent-encoded, while
    # non-ASCII text stays readable.
    pieces = _NON_ASCII_RUN.split(text)
    return "".join(
        piece if index % 2 else quote(piece, safe=safe) for index, piece in enumerate(pieces)
    )


def _utf8(value: str) -> str:
    # The cookie parser unescapes octal escapes byte by byte; Flask's client
    # encodes non-ASCII text as UTF-8 bytes first, so fold them back.
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _loose_text(raw: bytes) -> str:
    # Flask keeps bytes that are not UTF-8 as their %XX escapes rather than
    # refusing the request.
    text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "surrogateescape")
    return _ESCAPED_BYTE.sub(lambda m: f"%{ord(m.group()) - 0xDC00:02X}", text)


def _decode_loose(query: bytes) -> list[tuple[str, str]]:
    pairs = []
    for piece in query.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        pairs.append((_loose_text(name), _loose_text(value)))
    return pairs


# -- response -----------------------------------------------------------------------

_CHARSET_TYPES = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/sql",
        "application/xml",
        "application/xml-dtd",
        "application/xml-external-parsed-entity",
    }
)
_ENTITY_HEADERS = frozenset(
    {
        "allow",
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-range",
        "content-type",
        "last-modified",
    }
)
#: "200 OK" and the like, as the status setter spells them, made once.
_STATUS_LINES: dict[int, str] = {
    code: f"{code} {exceptions.status_name(code).upper()}"
    for code in range(100, 600)
    if exceptions.status_name(code, "") != ""
}
_COOKIE_PLAIN = re.compile(r"[\w!#$%&'()*+\-./:<=>?@\[\]^`{|}~]*", re.ASCII)


def get_content_type(mimetype: str, charset: str = "utf-8") -> str:
    """Add ``; charset=...`` to text-like media types, as Flask does.

    :param mimetype: e.g. ``"text/html"``.
    :param charset: the charset to add.
    """
    if (
        mimetype.startswith("text/")
        or mimetype in _CHARSET_TYPES
        or mimetype.endswith("+xml")
    ) and "charset" not in mimetype:
        return f"{mimetype}; charset={charset}"
    return mimetype


def _quote_cookie_value(value: str) -> str:
    # Flask quotes values outside its plain set and escapes the awkward
    # bytes as octal, where crosswind.cookies would refuse spaces outright;
    # Flask applications rely on the former.
    if _COOKIE_PLAIN.fullmatch(value):
        return value
    out = []
    for byte in value.encode("utf-8"):
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif byte < 0x20 or byte in (0x2C, 0x3B) or byte >= 0x7F:
            out.append(f"\\{byte:03o}")
        else:
            out.append(chr(byte))
    return '"' + "".join(out) + '"'


class _FileBody:
    """Iterates over *length* bytes of a file from *start*, then closes it."""

    def __init__(self, file: IO[bytes], start: int = 0, length: int | None = None) -> None:
        self.file = file
        self.start = start
        self.length = length

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self.start:
                self.file.seek(self.start)
            left = self.length
            while left is None or left > 0:
                chunk = self.file.read(65536 if left is None else min(65536, left))
                if not chunk:
                    break
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            self.close()

    def read_range(self, start: int, end: int) -> bytes:
        self.file.seek(start)
        return self.file.read(end - start)

    def close(self) -> None:
        self.file.close()


#: The body Response.__init__ has already set.
_SET: Any = object()

#: Content-Type values that Headers accepted unchanged, for Response to set again
#: without the checks; the first 64 distinct values (applications use a few).
_CHECKED_CONTENT_TYPES: set[str] = set()


class Response:
    """An HTTP response (``flask.Response``).

    :param response: the body: ``str``, ``bytes``, or an iterable of them
        (a generator is streamed).
    :param status: an int, or a string such as ``"201 CREATED"``.
    :param headers: a mapping, ``(name, value)`` pairs or :class:`Headers`.
    :param mimetype: the media type; text types get ``; charset=utf-8``.
    :param content_type: the full ``Content-Type`` (instead of *mimetype*).
    :param direct_passthrough: accepted for compatibility.
    """

    charset = "utf-8"
    default_status = 200
    default_mimetype: str | None = "text/html"
    automatically_set_content_length = True
    autocorrect_location_header = False
    #: Whether the class keeps Response's own status properties and close(), which
    #: the application then reads and skips without a call (set per class).
    _plain_status = True
    _plain_close = True
    #: Whether the class keeps Response's own set_data and sets Content-Length,
    #: so that a bytes body is set without calling it (set per class).
    _plain_set_data = True
    #: The body: a list of bytes (what set_data leaves) or any iterable.
    response: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_status = cls.status is Response.status and cls.status_code is Response.status_code
        cls._plain_close = cls.close is Response.close
        cls._plain_set_data = (
            cls.set_data is Response.set_data and cls.automatically_set_content_length is True
        )

    def __init__(
        self,
        response: Any = None,
        status: int | str | bytes | bytearray | None = None,
        headers: Any = None,
        mimetype: str | None = None,
        content_type: str | None = None,
        direct_passthrough: bool = False,
    ) -> None:
        if content_type is None and headers is None:
            if mimetype is None:
                mimetype = self.default_mimetype
            if mimetype is not None:
                content_type = get_content_type(mimetype, self.charset)
        if headers is None and content_type in _CHECKED_CONTENT_TYPES:
            # A value set before needs none of the checks again, and the headers
            # hold nothing else yet (see bench/NOTES.md).
            if type(response) is bytes and self._plain_set_data:
                # What set_data would add, set with the type: one call, not three.
                length = str(len(response))
                self.headers = Headers.from_checked(
                    [("Content-Type", content_type), ("Content-Length", length)],
                    {"content-type": [content_type], "content-length": [length]},
                )
                self.response = [response]
                response = _SET
            else:
                self.headers = Headers.from_checked(
                    [("Content-Type", content_type)], {"content-type": [content_type]}
                )
        else:
            self.headers = Headers(headers)
            if content_type is None:
                if mimetype is None and "Content-Type" not in self.headers:
                    mimetype = self.default_mimetype
                if mimetype is not None:
                    content_type = get_content_type(mimetype, self.charset)
            if content_type is not None:
                self.headers["Content-Type"] = content_type
                if type(content_type) is str and len(_CHECKED_CONTENT_TYPES) < 64:
                    _CHECKED_CONTENT_TYPES.add(content_type)
        if status is None:
            status = self.default_status
        if type(status) is int and (line := _STATUS_LINES.get(status)) is not None:
            # A known int status skips the setter's parsing (see bench/NOTES.md).
            self._status_code = status
            self._status = line
        else:
            self.status = status
        self.direct_passthrough = direct_passthrough
        self._on_close: list[Callable[[], Any]] = []
        if response is _SET:
            pass
        elif response is None:
            self.response = []
        elif isinstance(response, str | bytes | bytearray):
            self.set_data(response)
        else:
            self.response = response

    def __repr__(self) -> str:
        size = f"{sum(len(x) for x in self.response)} bytes" if self.is_sequence else "streamed"
        return f"<{type(self).__name__} {size} [{self.status}]>"

    # -- status -----------------------------------------------------------------

    @property
    def status_code(self) -> int:
        """The status as an int."""
        return self._status_code

    @status_code.setter
    def status_code(self, code: int) -> None:
        self._status_code = int(code)
        line = _STATUS_LINES.get(code) if type(code) is int else None
        self._status = line or f"{code} {exceptions.status_name(int(code), 'Unknown').upper()}"

    @property
    def status(self) -> str:
        """The status line, e.g. ``"200 OK"``."""
        return self._status

    @status.setter
    def status(self, value: int | str | bytes | bytearray) -> None:
        if isinstance(value, bytes | bytearray):
            value = value.decode("latin-1")
        if isinstance(value, int):
            self.status_code = value
            return
        if not isinstance(value, str):
            raise TypeError("Invalid status argument")
        text = value.strip()
        if not text:
            raise ValueError("Empty status argument")
        code, _, reason = text.partition(" ")
        try:
            number = int(code)
        except ValueError:
            self._status_code = 0
            self._status = f"0 {text}"
            return
        if reason.strip():
            self._status_code = number
            self._status = f"{number} {reason.strip()}"
        else:
            self.status_code = number

    # -- body -------------------------------------------------------------------

    @property
    def is_sequence(self) -> bool:
        """Whether the body is held in memory (a list or tuple)."""
        return isinstance(self.response, list | tuple)

    @property
    def is_streamed(self) -> bool:
        """Whether the body is an iterable of unknown length."""
        try:
            len(self.response)
        except TypeError:
            return True
        return False

    def iter_encoded(self) -> Iterator[bytes]:
        """The body pieces as bytes."""
        for item in self.response:
            yield item.encode(self.charset) if isinstance(item, str) else bytes(item)

    def make_sequence(self) -> None:
        """Read a streamed body into memory."""
        if not self.is_sequence:
            close = getattr(self.response, "close", None)
            self.response = list(self.iter_encoded())
            if close is not None:
                self.call_on_close(close)

    @overload
    def get_data(self, as_text: Literal[False] = False) -> bytes: ...
    @overload
    def get_data(self, as_text: Literal[True]) -> str: ...
    @overload
    def get_data(self, as_text: bool = False) -> bytes | str: ...
    def get_data(self, as_text: bool = False) -> bytes | str:
        """The whole body (a streamed one is read into memory first).

        :param as_text: decode it as UTF-8.
        """
        self.make_sequence()
        data = b"".join(self.iter_encoded())
        return data.decode(self.charset) if as_text else data

    def set_data(self, value: str | bytes | bytearray) -> None:
        """Replace the body (and its ``Content-Length``).

        :param value: the new body; text is encoded as UTF-8.
        """
        value = value.encode(self.charset) if isinstance(value, str) else bytes(value)
        self.response = [value]
        if self.automatically_set_content_length:
            # A decimal length needs none of the checks a header value gets.
            self.headers.set_checked("Content-Length", str(len(value)))

    data = property(get_data, set_data, doc="The body as bytes.")

    @property
    def text(self) -> str:
        """The body as text."""
        return self.get_data(as_text=True)

    def calculate_content_length(self) -> int | None:
        """The body length if it is in memory, else ``None``."""
        if not self.is_sequence:
            return None
        return sum(len(piece) for piece in self.iter_encoded())

    def call_on_close(self, func: Callable[[], Any]) -> Callable[[], Any]:
        """Call *func* once the response has been sent.

        :param func: a function without arguments.
        """
        self._on_close.append(func)
        return func

    def close(self) -> None:
        """Close the body iterable and run the :meth:`call_on_close` functions."""
        # A list body (set_data's) has nothing to close, so it is spared
        # getattr's miss (see bench/NOTES.md).
        close = getattr(self.response, "close", None) if type(self.response) is not list else None
        if close is not None:
            close()
        for func in self._on_close:
            func()

    def freeze(self) -> None:
        """Read a streamed body into memory and set ``Content-Length``."""
        self.make_sequence()
        self.headers["Content-Length"] = str(self.calculate_content_length())

    # -- headers ----------------------------------------------------------------

    @property
    def content_type(self) -> str | None:
        """The ``Content-Type`` header."""
        return self.headers.get("Content-Type")

    @content_type.setter
    def content_type(self, value: str | None) -> None:
        if value is None:
            self.headers.remove("Content-Type")
        else:
            self.headers["Content-Type"] = value

    @property
    def mimetype(self) -> str | None:
        """The media type without parameters."""
        value = self.headers.get("Content-Type")
        return parse_content_type(value)[0] if value else None

    @mimetype.setter
    def mimetype(self, value: str) -> None:
        self.headers["Content-Type"] = get_content_type(value, self.charset)

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The content type's parameters."""
        return parse_content_type(self.headers.get("Content-Type"))[1]

    @property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int."""
        return self.headers.get("Content-Length", type=int)

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        if value is None:
            self.headers.remove("Content-Length")
        else:
            self.headers["Content-Length"] = str(int(value))

    @property
    def location(self) -> str | None:
        """The ``Location`` header."""
        return self.headers.get("Location")

    @location.setter
    def location(self, value: str | None) -> None:
        if value is None:
            self.headers.remove("Location")
        else:
            self.headers["Location"] = value

    @property
    def www_authenticate(self) -> WWWAuthenticate:
        """The first challenge of ``WWW-Authenticate`` (an empty ``Basic`` one
        when there is none); changing it rewrites the field.

        Assign a :class:`~crosswind.authorization.WWWAuthenticate` to set the
        field, a list of them to send several, ``None`` (or ``del``) to remove it.
        """
        challenge = WWWAuthenticate.from_header(self.headers.get("WWW-Authenticate"))
        if challenge is None:
            challenge = WWWAuthenticate("basic")
        challenge._on_update = self._set_www_authenticate
        return challenge

    @www_authenticate.setter
    def www_authenticate(self, value: WWWAuthenticate | list[WWWAuthenticate] | None) -> None:
        if not value:
            del self.www_authenticate
        elif isinstance(value, list):
            # Items of a list are not tied to the field: only the first is read back.
            self.headers.set("WWW-Authenticate", value[0].to_header())
            for challenge in value[1:]:
                self.headers.add("WWW-Authenticate", challenge.to_header())
        else:
            self._set_www_authenticate(value)
            value._on_update = self._set_www_authenticate

    @www_authenticate.deleter
    def www_authenticate(self) -> None:
        if "WWW-Authenticate" in self.headers:
            del self.headers["WWW-Authenticate"]

    def _set_www_authenticate(self, challenge: WWWAuthenticate) -> None:
        self.headers.set("WWW-Authenticate", challenge.to_header())

    @property
    def vary(self) -> _HeaderSet:
        """The ``Vary`` header as a set."""
        return _HeaderSet(self.headers, "Vary")

    @property
    def allow(self) -> _HeaderSet:
        """The ``Allow`` header as a set."""
        return _HeaderSet(self.headers, "Allow")

    @property
    def cache_control(self) -> ResponseCacheControl:
        """The ``Cache-Control`` header as attributes."""
        return ResponseCacheControl(self.headers)

    def _date_header(self, name: str) -> datetime | None:
        value = self.headers.get(name)
        return parse_http_date(value) if value else None

    def _set_date_header(self, name: str, value: datetime | float | None) -> None:
        if value is None:
            self.headers.remove(name)
        else:
            self.headers[name] = format_http_date(value)

    last_modified = property(
        lambda self: self._date_header("Last-Modified"),
        lambda self, value: self._set_date_header("Last-Modified", value),
        doc="The ``Last-Modified`` header as a datetime.",
    )
    expires = property(
        lambda self: self._date_header("Expires"),
        lambda self, value: self._set_date_header("Expires", value),
        doc="The ``Expires`` header as a datetime.",
    )
    date = property(
        lambda self: self._date_header("Date"),
        lambda self, value: self._set_date_header("Date", value),
        doc="The ``Date`` header as a datetime.",
    )

    @property
    def accept_ranges(self) -> str | None:
        """The ``Accept-Ranges`` header."""
        return self.headers.get("Accept-Ranges")

    @accept_ranges.setter
    def accept_ranges(self, value: str | None) -> None:
        if value is None:
            self.headers.remove("Accept-Ranges")
        else:
            self.headers["Accept-Ranges"] = value

    # -- cookies ----------------------------------------------------------------

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: timedelta | int | None = None,
        expires: str | datetime | int | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header.

        With *max_age* and no *expires*, ``Expires`` is derived from the
        application's clock too, for old browsers, as Flask does.

        :param key: the cookie name.
        :param value: the value (quoted and escaped when needed).
        :param max_age: lifetime in seconds or as a timedelta.
        :param expires: an expiry date (datetime, timestamp or HTTP-date string).
        :param path: the Path attribute.
        :param domain: the Domain attribute.
        :param secure: add ``Secure``.
        :param httponly: add ``HttpOnly``.
        :param samesite: ``"Lax"``, ``"Strict"`` or ``"None"``.
        :param partitioned: add ``Partitioned`` (implies ``Secure``).
        :raises ValueError: for an invalid name or attribute.
        """
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(max_age, timedelta):
            max_age = int(max_age.total_seconds())
        if isinstance(expires, str):
            parsed = parse_http_date(expires)
            expires = parsed if parsed is not None else None
        if expires is None and max_age is not None:
            clock = _clock()
            if clock is not None:
                expires = clock() + max_age
        if partitioned:
            secure = True
        header = format_set_cookie(
            key,
            "",
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        self.headers.add("Set-Cookie", f"{key}={_quote_cookie_value(value)}{header[len(key) + 1:]}")

    def delete_cookie(
        self,
        key: str,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Tell the client to drop cookie *key* (empty value, expired).

        :param key: the cookie name.
        :param path: the Path it was set with.
        :param domain: the Domain it was set with.
        :param secure: add ``Secure``.
        :param httponly: add ``HttpOnly``.
        :param samesite: the SameSite it was set with.
        :param partitioned: add ``Partitioned``.
        """
        self.headers.add(
            "Set-Cookie",
            delete_cookie_header(
                key,
                path,
                domain,
                secure=secure or partitioned,
                httponly=httponly,
                samesite=samesite,
                partitioned=partitioned,
            ),
        )

    # -- JSON ---------------------------------------------------------------------

    @property
    def is_json(self) -> bool:
        """Whether the content type is JSON."""
        mimetype = self.mimetype or ""
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` if it is not JSON)."""
        return self.get_json()

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """Parse the body as JSON.

        :param force: ignore the content type.
        :param silent: return ``None`` on errors.
        """
        if not (force or self.is_json):
            return None
        try:
            return _json.loads(self.get_data())
        except ValueError:
            if silent:
                return None
            raise

    # -- ETags and conditional requests -----------------------------------------

    def set_etag(self, etag: str, weak: bool = False) -> None:
        """Set the ``ETag`` header from an unquoted tag.

        :param etag: the tag without quotes.
        :param weak: make it a weak validator.
        """
        if '"' in etag:
            raise ValueError("invalid etag")
        self.headers["ETag"] = ('W/"%s"' if weak else '"%s"') % etag

    def get_etag(self) -> tuple[str, bool] | tuple[None, None]:
        """``(tag, is_weak)`` of the ``ETag`` header, or ``(None, None)``."""
        value = self.headers.get("ETag")
        parsed = parse_etag(value) if value else None
        if parsed is None:
            return None, None
        weak, opaque = parsed
        return opaque[1:-1], weak

    def add_etag(self, overwrite: bool = False, weak: bool = False) -> None:
        """Set an ETag computed from the body (SHA-1) unless one is set.

        :param overwrite: replace an existing ETag.
        :param weak: make it weak.
        """
        if overwrite or "ETag" not in self.headers:
            self.set_etag(compute_etag(self.iter_encoded())[1:-1], weak)

    def make_conditional(
        self,
        request_or_environ: Any,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        """Turn this response into 304/412/206/416 as the request's
        conditional and range headers ask (GET and HEAD only).

        The evaluation is crosswind's RFC 9110 one (:mod:`crosswind.conditional`).

        :param request_or_environ: the :class:`Request`.
        :param accept_ranges: serve byte ranges (``True`` means ``bytes``).
        :param complete_length: the full body length, needed for ranges.
        :raises RequestedRangeNotSatisfiable: 416 for an unsatisfiable range.
        """
        req = request_or_environ
        method = getattr(req, "method", None) or req.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return self
        headers = getattr(req, "headers", None)
        if headers is None:
            headers = Headers(
                (key[5:].replace("_", "-"), value)
                for key, value in req.items()
                if key.startswith("HTTP_")
            )
        clock = _clock()
        if "Date" not in self.headers and clock is not None:
            self.headers["Date"] = format_http_date(clock())
        if accept_ranges:
            self.accept_ranges = "bytes" if accept_ranges is True else accept_ranges
        length = complete_length
        if length is None and self.is_sequence:
            length = self.calculate_content_length()
        decision = evaluate(
            method,
            headers,
            etag=self.headers.get("ETag"),
            last_modified=self.last_modified,
            size=length,
            supports_ranges=bool(accept_ranges) and bool(length),
        )
        if decision.status == 416:
            raise exceptions.RequestedRangeNotSatisfiable(length)
        if decision.status in (304, 412):
            self.status_code = decision.status
        elif decision.status == 206 and length:
            self._serve_ranges(decision.ranges, decision.headers, length)
        if self.automatically_set_content_length and "Content-Length" not in self.headers:
            computed = self.calculate_content_length()
            if computed is not None:
                self.headers["Content-Length"] = str(computed)
        return self

    def _read_range(self, start: int, end: int) -> bytes:
        if isinstance(self.response, _FileBody):
            return self.response.read_range(start, end)
        return self.get_data()[start:end]

    def _serve_ranges(
        self, ranges: tuple[tuple[int, int], ...], extra: tuple[tuple[str, str], ...], size: int
    ) -> None:
        self.status_code = 206
        for name, value in extra:
            self.headers[name] = value
        if len(ranges) == 1:
            start, end = ranges[0]
            if isinstance(self.response, _FileBody):
                self.response = _FileBody(self.response.file, start, end - start)
                self.headers["Content-Length"] = str(end - start)
            else:
                self.set_data(self._read_range(start, end))
            return
        tokens = _token_source()
        parts = [(start, end, self._read_range(start, end)) for start, end in ranges]
        if tokens is not None:
            boundary = make_boundary(tokens)
        else:
            # Without a random source, a digest of the parts cannot occur in them by chance.
            boundary = compute_etag(data for _, _, data in parts)[1:33]
        content_type = self.headers.get("Content-Type")
        self.close()
        self._on_close = []
        self.set_data(build_byteranges(parts, content_type, size, boundary))
        self.headers["Content-Type"] = byteranges_content_type(boundary)

    # -- sending --------------------------------------------------------------------

    def _wire_fields(self) -> list[tuple[str, str]]:
        # The fields of wire_headers() without copying the headers when nothing is
        # to be added or removed (the usual 200 with a known length; see
        # bench/NOTES.md).  As text: the writer encodes the whole head at once.
        status = self._status_code
        if (
            type(self).wire_headers is Response.wire_headers
            and status >= 200
            and status != 204
            and status != 304
            and ("content-length" in self.headers._map or not self.is_sequence)
        ):
            return self.headers.items()
        return self.wire_headers().items()

    def wire_headers(self) -> Headers:
        """The headers to send: ``Content-Length`` added for in-memory bodies,
        removed where HTTP forbids a body."""
        headers = self.headers.copy()
        status = self.status_code
        if 100 <= status < 200 or status == 204:
            headers.remove("Content-Length")
        elif status == 304:
            for name in list(headers.keys()):
                if name.lower() in _ENTITY_HEADERS:
                    headers.remove(name)
        elif (
            self.automatically_set_content_length
            and self.is_sequence
            and "Content-Length" not in headers
        ):
            headers["Content-Length"] = str(self.calculate_content_length())
        return headers

    @property
    def is_async_streamed(self) -> bool:
        """Whether the body is an async iterable (crosswind extension)."""
        return isinstance(self.response, AsyncIterable)
