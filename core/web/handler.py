"""Tornado's ``RequestHandler``: one instance per request, one method per verb.

The handler API is Tornado 6's, method for method.  The one structural
difference is where bytes get written: Tornado's ``flush()`` and
``finish()`` hand data to an I/O loop and return a future, whereas here
they queue operations on the request's exchange and return an awaitable.
Awaiting it sends what is queued; whatever is still queued when the verb
method returns is sent then.  Code that never awaits ``flush()`` therefore
still works, but a long-running handler that wants its output to reach the
client early must ``await self.flush()``.
"""

from __future__ import annotations

import datetime
import hmac
import http.client
import http.cookies
import inspect
import logging
import numbers
import os
import re
import sys
import traceback
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha1
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, assert_never, overload
from urllib.parse import urlsplit

from markupsafe import Markup

from .. import escape, grammar, xsrf
from .. import locale as locale_module
from .. import template as tornado_template
from ..cookies import format_set_cookie
from ..errors import RequestError
from ..etag import compute_etag, parse_etag, parse_etag_list
from ..headers import Headers
from ..httpdate import format_http_date
from ..protocol.exchange import ClientDisconnected
from ..protocol.http1.writer import SERVER_NAME
from ..signing import create_signed_value, decode_signed_value, get_signature_key_version
from .errors import Finish, HTTPError, MissingArgumentError
from .iostream import DetachedIOStream
from .request import HTTPServerRequest
from .templates import Jinja2Loader, UIModule, UIModuleNamespace

if TYPE_CHECKING:
    from .application import Application
    from .sessions import Session
    from .transforms import OutputTransform

__all__ = ["RequestHandler"]

app_log = logging.getLogger("crosswind.application")
gen_log = logging.getLogger("crosswind.general")


class _ArgDefault:
    def __repr__(self) -> str:
        return "<required>"


_ARG_DEFAULT: Any = _ArgDefault()
_T = TypeVar("_T")
_REMOVE_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
# RFC 9110 field-value characters; anything else (CR, LF, NUL) could split a header.
_VALID_HEADER_CHARS = re.compile(grammar.FIELD_CHAR + "*")
# A reason phrase may hold the same characters (RFC 9112 section 4).
_REASON_PHRASE = _VALID_HEADER_CHARS
_HeaderValue = str | bytes | int | datetime.datetime

# The modules whose frames render_string skips to find the caller's folder
# (render() itself is here, so this file is one of them).
_OWN_FILES = frozenset(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    for name in ("handler.py", "templates.py", "static.py", "stock_handlers.py")
)


# The server's own value, so a response says the same whichever layer wrote it.
_SERVER = SERVER_NAME
_DEFAULT_CONTENT_TYPE = "text/html; charset=UTF-8"
_SERVER_FIELD = ("Server", _SERVER)
_OK = http.client.responses[200]
_OK_BYTES = _OK.encode("latin-1")
_WRITABLE = (bytes, str, dict)
_CONTENT_TYPE_FIELD = ("Content-Type", _DEFAULT_CONTENT_TYPE)
_STANDARD_VERBS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")
# The attribute of each standard verb, without lower() per request.
_VERB_ATTRIBUTES = {verb: verb.lower() for verb in _STANDARD_VERBS}
# Methods that neither XSRF nor cross-origin protection checks.
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


# The operations are slotted but deliberately not frozen: one is built for every
# response, and a frozen dataclass costs several times as much to build.
@dataclass(slots=True)
class _Start:
    """The response head, the body to follow: :meth:`Exchange.start_response`."""

    status: int
    headers: list[tuple[str, str]]
    reason: bytes


@dataclass(slots=True)
class _Write:
    """A piece of the body: :meth:`Exchange.write`."""

    data: bytes


@dataclass(slots=True)
class _End:
    """The last piece of the body and the end of the response: :meth:`Exchange.end`."""

    data: bytes


#: What ``flush()`` and ``finish()`` queue for the exchange, in order, after the head.
_Output = _Start | _Write | _End
#: A whole response in one write, the arguments of :meth:`Exchange.respond`
#: (``finish()`` before any flush): status, fields, body, reason.
_Whole = tuple[int, list[tuple[str, str]], bytes, bytes]


class _Pending(tuple["RequestHandler"]):
    """What ``flush()``/``finish()`` return: await it to send the queued output.

    Made as ``_Pending((handler,))``: a one-item tuple, so that building one, on
    every ``finish()``, runs no Python ``__init__``.
    """

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return self[0]._send_queued().__await__()


class RequestHandler:
    """Subclass and define ``get``, ``post``, ... (plain functions or ``async def``).

    Do not override ``__init__``; override :meth:`initialize`, which receives
    the keyword arguments of the route.

    :param application: the application serving the request.
    :param request: the request.
    :param kwargs: the route's keyword arguments, passed to :meth:`initialize`.
    """

    SUPPORTED_METHODS: ClassVar[tuple[str, ...]] = _STANDARD_VERBS

    #: Set by :func:`~crosswind.web.decorators.stream_request_body`.
    _stream_request_body: ClassVar[bool] = False
    #: The application leaves the body unread for handlers that take the exchange whole.
    _raw_exchange: ClassVar[bool] = False

    # Whether this class overrides each hook whose base version does nothing (or
    # the default), worked out once per class: the life cycle calls a hook only
    # when it is overridden, so unused hooks cost no call per request.
    _calls_initialize: ClassVar[bool] = False
    _calls_prepare: ClassVar[bool] = False
    _calls_on_finish: ClassVar[bool] = False
    _calls_set_default_headers: ClassVar[bool] = False
    _calls_on_connection_close: ClassVar[bool] = False
    _calls_finish: ClassVar[bool] = False
    _calls_flush: ClassVar[bool] = False
    _calls_get_status: ClassVar[bool] = False
    #: None of ``compute_etag``, ``set_etag_header`` and ``check_etag_header`` is overridden.
    _default_etag: ClassVar[bool] = True

    path_args: list[Any]
    path_kwargs: dict[str, Any]

    # Per-request state whose start value is immutable lives here until first
    # set, so building a handler stores only what differs per request.
    _headers_written = False
    _finished = False
    _auto_finish = True
    _session: Session | None = None
    _connection_closed = False
    _ui: dict[str, Any] | None = None
    _transforms: Sequence[OutputTransform] = ()
    #: What flush()/finish() queued, in order; a tuple until something is queued.
    _queue: Sequence[_Output] = ()
    #: A response finished before any flush, not sent yet.
    _whole: _Whole | None = None
    #: The Set-Cookie values by name; a shared empty mapping until the first cookie.
    _new_cookies: Mapping[str, str] = MappingProxyType({})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        base = RequestHandler
        cls._calls_initialize = cls.initialize is not base.initialize
        cls._calls_prepare = cls.prepare is not base.prepare
        cls._calls_on_finish = cls.on_finish is not base.on_finish
        cls._calls_set_default_headers = cls.set_default_headers is not base.set_default_headers
        cls._calls_on_connection_close = cls.on_connection_close is not base.on_connection_close
        cls._calls_finish = cls.finish is not base.finish
        cls._calls_flush = cls.flush is not base.flush
        cls._calls_get_status = cls.get_status is not base.get_status
        cls._default_etag = (
            cls.compute_etag is base.compute_etag
            and cls.set_etag_header is base.set_etag_header
            and cls.check_etag_header is base.check_etag_header
        )

    def __init__(
        self, application: Application, request: HTTPServerRequest, **kwargs: Any
    ) -> None:
        self.application = application
        self.request = request
        self.path_args = []
        self.path_kwargs = {}
        self.clear()
        if (
            self._stream_request_body or self._calls_on_connection_close
        ) and request.connection is not None:
            request.connection.set_close_callback(self._on_connection_lost)
        if kwargs or self._calls_initialize:
            # The base initialize() refuses arguments, so it runs when there are some.
            self.initialize(**kwargs)

    def initialize(self, **kwargs: Any) -> None:
        """Hook for the route's keyword arguments (called for every request).

        :param kwargs: the third element of the route tuple.
        """
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}.initialize() got unexpected keyword arguments "
                f"{sorted(kwargs)}; define initialize() to accept them"
            )

    @property
    def settings(self) -> dict[str, Any]:
        """The application's settings."""
        return self.application.settings

    @property
    def ui(self) -> dict[str, Any]:
        """The UI methods (bound to this handler) and ``modules``, as templates see them.

        Read them as keys or, as with Tornado's ``ObjectDict``, as attributes
        (``self.ui.modules``).
        """
        if self._ui is None:
            ui = _UI(
                (name, self._ui_method(f)) for name, f in self.application.ui_methods.items()
            )
            modules = UIModuleNamespace(
                self._render_ui_module,
                self.application.ui_modules,
                markup=self.application.template_engine == "jinja2",
            )
            # {% module Name() %} compiles to _tt_modules.Name(); templates may
            # also write modules.Name().
            ui["_tt_modules"] = modules
            ui["modules"] = modules
            self._ui = ui
        return self._ui

    @ui.setter
    def ui(self, value: dict[str, Any]) -> None:
        self._ui = value

    def _unimplemented_method(self, *args: Any, **kwargs: Any) -> None:
        raise HTTPError(405)

    head: Callable[..., Awaitable[None] | None] = _unimplemented_method
    get: Callable[..., Awaitable[None] | None] = _unimplemented_method
    post: Callable[..., Awaitable[None] | None] = _unimplemented_method
    delete: Callable[..., Awaitable[None] | None] = _unimplemented_method
    patch: Callable[..., Awaitable[None] | None] = _unimplemented_method
    put: Callable[..., Awaitable[None] | None] = _unimplemented_method
    options: Callable[..., Awaitable[None] | None] = _unimplemented_method

    def prepare(self) -> Awaitable[None] | None:
        """Called before the verb method (after the head only, when streaming); may be async."""
        return None

    def on_finish(self) -> None:
        """Called once the response is complete (it must not write anything)."""

    def on_connection_close(self) -> None:
        """Called when the client disconnects before the response is complete."""

    def _on_connection_lost(self) -> None:
        if not self._connection_closed:
            self._connection_closed = True
            self.on_connection_close()

    # -- status and headers -----------------------------------------------

    def clear(self) -> None:
        """Reset the headers, the status and the unsent output to their defaults."""
        # Literal fields instead of copy() + add(), deliberately: see bench/NOTES.md.
        date = self.application._dates.as_str()
        # The exchange directly: request.connection is built only when read.
        exchange = self.request._exchange
        # Headers.from_checked(pairs, index), without its call (see bench/NOTES.md).
        headers = self._headers = Headers.__new__(Headers)
        if exchange is None or exchange.server_header:
            headers._pairs = [_SERVER_FIELD, _CONTENT_TYPE_FIELD, ("Date", date)]
            headers._map = {
                "server": [_SERVER], "content-type": [_DEFAULT_CONTENT_TYPE], "date": [date]
            }
        else:
            # The server was told to send no Server field: none of ours either.
            headers._pairs = [_CONTENT_TYPE_FIELD, ("Date", date)]
            headers._map = {"content-type": [_DEFAULT_CONTENT_TYPE], "date": [date]}
        if self._calls_set_default_headers:
            self.set_default_headers()
        self._write_buffer: list[bytes] = []
        self._status_code = 200
        self._reason = _OK  # not looked up in http.client each time

    def set_default_headers(self) -> None:
        """Override to set headers on every response, error pages included."""

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        """Set the response status.

        :param status_code: the code.
        :param reason: the reason phrase; needed only for non-standard codes.
            One containing ``<`` or characters a status line cannot carry
            becomes ``"Unknown"``.
        """
        self._status_code = status_code
        if reason is None:
            self._reason = http.client.responses.get(status_code, "Unknown")
        elif "<" in reason or not _REASON_PHRASE.fullmatch(reason):
            self._reason = "Unknown"
        else:
            self._reason = reason

    def get_status(self) -> int:
        """The response status code."""
        return self._status_code

    def set_header(self, name: str, value: _HeaderValue) -> None:
        """Set a response header, replacing any of the same name.

        :param name: the header name.
        :param value: ``str``, ``bytes`` (latin-1), an integer, or a datetime
            (formatted as an HTTP date).
        :raises ValueError: the value contains CR, LF or other control characters.
        :raises TypeError: for other value types.
        """
        if type(value) is str and (
            # Printable ASCII, the usual value, is valid: two quick tests before
            # the regular expression (see bench/NOTES.md).
            (value.isascii() and value.isprintable())
            or _VALID_HEADER_CHARS.fullmatch(value) is not None
        ):
            # Text, the usual value: checked once here rather than again in
            # Headers (see bench/NOTES.md).
            self._headers.set_checked(name, value)
        else:
            self._headers.set_checked(name, self._convert_header_value(value))

    def add_header(self, name: str, value: _HeaderValue) -> None:
        """Add a response header, keeping earlier ones of the same name.

        :param name: the header name.
        :param value: as for :meth:`set_header`.
        """
        self._headers.add(name, self._convert_header_value(value))

    def clear_header(self, name: str) -> None:
        """Remove a response header set by :meth:`set_header`.

        :param name: the header name.
        """
        if name in self._headers:
            del self._headers[name]
        if name.lower() == "server" and self.request.connection is not None:
            # Nor does the server add its own in place of the one removed.
            self.request.connection.exchange.omit_server_header()

    def _convert_header_value(self, value: _HeaderValue) -> str:
        if type(value) is int:
            # Before the Integral check, which is slow for an ABC (every
            # Content-Length comes here; see bench/NOTES.md).
            return str(value)
        if isinstance(value, str):
            text = value
        elif isinstance(value, bytes):
            text = value.decode("latin-1")
        elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(value)
        elif isinstance(value, datetime.datetime):
            return format_http_date(value)
        else:
            raise TypeError("Unsupported header value %r" % (value,))
        if not (text.isascii() and text.isprintable()) and _VALID_HEADER_CHARS.fullmatch(
            text
        ) is None:
            raise ValueError("Unsafe header value %r" % text)
        return text

    # -- arguments ----------------------------------------------------------

    # Without a default a missing argument raises, so the value is a str; with one, it
    # may be the default instead (get_argument("page", None) is str | None).
    @overload
    def get_argument(self, name: str, *, strip: bool = True) -> str: ...
    @overload
    def get_argument(self, name: str, default: _T, strip: bool = True) -> str | _T: ...
    def get_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """The last value of query or body argument *name*.

        :param name: the argument.
        :param default: returned when it is missing; without one, a missing
            argument raises :class:`MissingArgumentError` (400).
        :param strip: strip surrounding whitespace.
        """
        return self._get_argument(name, default, self.request.arguments, strip)

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        """Every value of query or body argument *name* (maybe empty).

        :param name: the argument.
        :param strip: strip surrounding whitespace.
        """
        return self._get_arguments(name, self.request.arguments, strip)

    @overload
    def get_body_argument(self, name: str, *, strip: bool = True) -> str: ...
    @overload
    def get_body_argument(self, name: str, default: _T, strip: bool = True) -> str | _T: ...
    def get_body_argument(
        self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True
    ) -> Any:
        """As :meth:`get_argument`, from the body only.

        :param name: the argument.
        :param default: returned when missing (else 400).
        :param strip: strip surrounding whitespace.
        """
        return self._get_argument(name, default, self.request.body_arguments, strip)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        """As :meth:`get_arguments`, from the body only.

        :param name: the argument.
        :param strip: strip surrounding whitespace.
        """
        return self._get_arguments(name, self.request.body_arguments, strip)

    @overload
    def get_query_argument(self, name: str, *, strip: bool = True) -> str: ...
    @overload
    def get_query_argument(self, name: str, default: _T, strip: bool = True) -> str | _T: ...
    def get_query_argument(
        self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True
    ) -> Any:
        """As :meth:`get_argument`, from the query string only.

        :param name: the argument.
        :param default: returned when missing (else 400).
        :param strip: strip surrounding whitespace.
        """
        return self._get_argument(name, default, self.request.query_arguments, strip)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        """As :meth:`get_arguments`, from the query string only.

        :param name: the argument.
        :param strip: strip surrounding whitespace.
        """
        return self._get_arguments(name, self.request.query_arguments, strip)

    def _get_argument(
        self, name: str, default: Any, source: dict[str, list[bytes]], strip: bool
    ) -> Any:
        values = self._get_arguments(name, source, strip)
        if not values:
            if default is _ARG_DEFAULT:
                raise MissingArgumentError(name)
            return default
        return values[-1]

    def _get_arguments(
        self, name: str, source: dict[str, list[bytes]], strip: bool
    ) -> list[str]:
        values = []
        for raw in source.get(name, []):
            value = self.decode_argument(raw, name=name)
            if isinstance(value, str):
                if not value.isprintable():
                    # Every character the pattern removes is unprintable: the usual
                    # value skips the substitution (see bench/NOTES.md).
                    value = _REMOVE_CONTROL.sub(" ", value)
                if strip:
                    value = value.strip()
            values.append(value)
        return values

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        """Decode a percent-decoded argument or path group (UTF-8 by default).

        :param value: the raw bytes.
        :param name: the argument's name, ``None`` for unnamed path groups.
        :raises HTTPError: 400 for invalid UTF-8.
        """
        if value is None or isinstance(value, str):
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(
                400, "Invalid unicode in {}: {!r}".format(name or "url", value[:40])
            ) from None

    # -- cookies ----------------------------------------------------------

    @property
    def cookies(self) -> dict[str, http.cookies.Morsel[str]]:
        """The request's cookies (:class:`http.cookies.Morsel` values)."""
        return self.request.cookies

    def get_cookie(self, name: str, default: str | None = None) -> str | None:
        """The value of request cookie *name*, or *default*.

        Cookies set during this request are not visible here.

        :param name: the cookie.
        :param default: returned when the request has no such cookie.
        """
        morsel = self.request.cookies.get(name)
        return morsel.value if morsel is not None else default

    def set_cookie(
        self,
        name: str,
        value: str | bytes,
        domain: str | None = None,
        expires: float | datetime.datetime | None = None,
        path: str = "/",
        expires_days: float | None = None,
        *,
        max_age: int | None = None,
        httponly: bool = False,
        secure: bool = False,
        samesite: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Set an outgoing cookie (sent with the response head).

        :param name: the cookie name.
        :param value: the value (control characters and spaces are refused).
        :param domain: the Domain attribute.
        :param expires: expiry as a POSIX timestamp or datetime.
        :param path: the Path attribute.
        :param expires_days: expiry in days from now (ignored with *expires*).
        :param max_age: the Max-Age attribute in seconds.
        :param httponly: add HttpOnly.
        :param secure: add Secure.
        :param samesite: ``"Lax"``, ``"Strict"`` or ``"None"``.
        :param kwargs: ``partitioned=True`` adds Partitioned; other legacy
            Morsel attributes are refused.
        :raises ValueError: for characters a cookie cannot carry.
        """
        partitioned = bool(kwargs.pop("partitioned", False))
        if kwargs:
            raise TypeError(f"set_cookie() got unexpected keyword arguments {sorted(kwargs)}")
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if re.search(r"[\x00-\x20]", value):
            raise ValueError(f"Invalid cookie {name!r}: {value!r}")
        if expires_days is not None and not expires:
            expires = self.application.clock() + expires_days * 86400.0
        header = format_set_cookie(
            name,
            value,
            expires=expires or None,
            max_age=max_age or None,
            path=path or None,
            domain=domain or None,
            secure=secure,
            httponly=httponly,
            samesite=samesite or None,
            partitioned=partitioned,
        )
        cookies = self._new_cookies
        if type(cookies) is not dict:
            cookies = self._new_cookies = {}
        # A later set_cookie of the same name replaces the earlier one.
        cookies.pop(name, None)
        cookies[name] = header

    def clear_cookie(self, name: str, **kwargs: Any) -> None:
        """Tell the browser to delete cookie *name*.

        :param name: the cookie.
        :param kwargs: the ``path``, ``domain`` (and for some cookies ``secure``,
            ``samesite``) it was set with; ``expires``/``max_age`` are refused.
        """
        for excluded in ("expires", "max_age"):
            if excluded in kwargs:
                raise TypeError(f"clear_cookie() got an unexpected keyword argument '{excluded}'")
        expires = self.application.clock() - 365 * 86400.0
        self.set_cookie(name, value="", expires=expires, **kwargs)

    def clear_all_cookies(self, **kwargs: Any) -> None:
        """Delete every cookie the request carried.

        :param kwargs: as for :meth:`clear_cookie`.
        """
        for name in self.request.cookies:
            self.clear_cookie(name, **kwargs)

    def set_signed_cookie(
        self,
        name: str,
        value: str | bytes,
        expires_days: float | None = 30,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Sign and timestamp *value* and set it as a cookie.

        Needs the ``cookie_secret`` setting.

        :param name: the cookie name (the signature is bound to it).
        :param value: the payload, any bytes.
        :param expires_days: browser lifetime; ``None`` for a session cookie.
        :param version: signature format 1 or 2 (the default).
        :param kwargs: cookie attributes as for :meth:`set_cookie`.
        """
        self.set_cookie(
            name,
            self.create_signed_value(name, value, version=version),
            expires_days=expires_days,
            **kwargs,
        )

    set_secure_cookie = set_signed_cookie

    def create_signed_value(
        self, name: str, value: str | bytes, version: int | None = None
    ) -> bytes:
        """Sign and timestamp *value* for *name* (as :meth:`set_signed_cookie` does).

        :param name: the name the value is bound to.
        :param value: the payload.
        :param version: signature format 1 or 2 (the default).
        """
        self.require_setting("cookie_secret", "secure cookies")
        secret = self.settings["cookie_secret"]
        key_version = None
        if isinstance(secret, dict):
            if self.settings.get("key_version") is None:
                raise Exception("key_version setting must be used for secret_key dicts")
            key_version = self.settings["key_version"]
        return create_signed_value(
            secret,
            name,
            value,
            version=version or 2,
            clock=self.application.clock,
            key_version=key_version,
        )

    def get_signed_cookie(
        self,
        name: str,
        value: str | None = None,
        max_age_days: float = 31,
        min_version: int | None = None,
    ) -> bytes | None:
        """The payload of a signed cookie if it is valid and fresh, else ``None``.

        :param name: the cookie name.
        :param value: verify this instead of the request's cookie.
        :param max_age_days: older signatures are refused.
        :param min_version: refuse older signature formats.
        """
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        return decode_signed_value(
            self.settings["cookie_secret"],
            name,
            value,
            max_age_days=max_age_days,
            clock=self.application.clock,
            min_version=min_version,
        )

    get_secure_cookie = get_signed_cookie

    def get_signed_cookie_key_version(self, name: str, value: str | None = None) -> int | None:
        """The key version a signed cookie was made with (signature not checked).

        :param name: the cookie name.
        :param value: inspect this instead of the request's cookie.
        """
        self.require_setting("cookie_secret", "secure cookies")
        if value is None:
            value = self.get_cookie(name)
        if value is None:
            return None
        return get_signature_key_version(value)

    get_secure_cookie_key_version = get_signed_cookie_key_version

    # -- output -----------------------------------------------------------

    def redirect(self, url: str, permanent: bool = False, status: int | None = None) -> None:
        """Redirect to *url* (which may be relative) and finish.

        :param url: the target.
        :param permanent: 301 instead of 302.
        :param status: an explicit 3xx status.
        :raises ValueError: *status* is not a 3xx code.
        """
        if self._headers_written:
            raise Exception("Cannot redirect after headers have been written")
        if status is None:
            status = 301 if permanent else 302
        elif not isinstance(status, int) or not 300 <= status <= 399:
            raise ValueError(f"redirect status must be a 3xx code, not {status!r}")
        self.set_status(status)
        self.set_header("Location", escape.utf8(url) or b"")
        self.finish()

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Add *chunk* to the output buffer; a dict is written as JSON.

        :param chunk: text (UTF-8), bytes, or a dict (sets an
            ``application/json`` Content-Type).  Lists are refused: a JSON
            array at the top level can be read cross-site by old browsers.
        :raises RuntimeError: after :meth:`finish`.
        :raises TypeError: for other types.
        """
        if self._finished:
            raise RuntimeError("Cannot write() after finish()")
        if type(chunk) is bytes:
            # The usual chunk: no type tests (``bytes | str | dict`` alone builds
            # a union object per call; see bench/NOTES.md).
            self._write_buffer.append(chunk)
            return
        if not isinstance(chunk, _WRITABLE):
            message = "write() only accepts bytes, unicode, and dict objects"
            if isinstance(chunk, list):
                message += (
                    ". Lists not accepted for security reasons; see "
                    "http://www.tornadoweb.org/en/stable/web.html#tornado.web.RequestHandler.write"
                )
            raise TypeError(message)
        if isinstance(chunk, dict):
            chunk = escape.json_encode(chunk)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        self._write_buffer.append(chunk)

    def flush(self, include_footers: bool = False) -> _Pending:
        """Send the headers (the first time) and the buffered output.

        Returns an awaitable; awaiting it sends the data now, otherwise it
        is sent when the handler method returns.

        :param include_footers: this is the end of the response (used by
            :meth:`finish`).
        """
        self._queue_output(include_footers)
        return _Pending((self,))

    def _queue_output(self, include_footers: bool) -> None:
        # flush() without its awaitable, which the automatic finish has no use for.
        chunk = b"".join(self._write_buffer)
        self._write_buffer = []
        if not self._headers_written:
            self._headers_written = True
            status, headers = self._status_code, self._headers
            transforms = self._transforms
            if transforms:
                for transform in transforms:
                    status, headers, chunk = transform.transform_first_chunk(
                        status, headers, chunk, include_footers
                    )
                self._status_code, self._headers = status, headers
            if self.request.method == "HEAD":
                chunk = b""
            cookies = self._new_cookies
            if cookies:
                for cookie in cookies.values():
                    headers.add("Set-Cookie", cookie)
            reason = _OK_BYTES if self._reason is _OK else self._reason.encode("latin-1", "replace")
            # headers.items(), without the call.
            fields = headers._pairs.copy()
            if include_footers:
                # The first output is the whole response: nothing is queued before it.
                self._whole = (status, fields, chunk, reason)
            else:
                self._enqueue(_Start(status, fields, reason))
                if chunk:
                    self._enqueue(_Write(chunk))
        else:
            for transform in self._transforms:
                chunk = transform.transform_chunk(chunk, include_footers)
            if self.request.method == "HEAD":
                chunk = b""
            if include_footers:
                self._enqueue(_End(chunk))
            elif chunk:
                self._enqueue(_Write(chunk))

    def _enqueue(self, operation: _Output) -> None:
        queue = self._queue
        if isinstance(queue, list):
            queue.append(operation)
        else:
            self._queue = [operation]

    async def _send_queued(self) -> None:
        exchange = self.request.exchange
        whole = self._whole
        if whole is not None:
            self._whole = None
            if exchange is not None:
                await exchange.respond(*whole)
        queue = self._queue
        while queue:
            operation = queue.pop(0)  # type: ignore[attr-defined]  # a non-empty one is a list
            if exchange is None:
                continue
            match operation:
                case _Start(status, headers, reason):
                    await exchange.start_response(status, headers, reason)
                case _Write(data):
                    await exchange.write(data)
                case _End(data):
                    await exchange.end(data)
                case _:
                    assert_never(operation)

    def _should_not_send_content(self, status_code: int) -> bool:
        return status_code in (204, 304) or 100 <= status_code < 200

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> _Pending:
        """Complete the response.

        Before anything was flushed this computes the ETag (answering 304
        when the client's ``If-None-Match`` matches) and ``Content-Length``.

        :param chunk: written first, as by :meth:`write`.
        :raises RuntimeError: when called twice, or with a body on a 204/304.
        """
        self._finish_output(chunk)
        return _Pending((self,))

    def _finish_output(self, chunk: str | bytes | dict[str, Any] | None) -> None:
        # finish() without its awaitable, which the automatic finish has no use for.
        if self._finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        if self._session is not None and not self._headers_written:
            self.application.save_session(self)
        request = self.request
        if not self._headers_written:
            buffer = self._write_buffer
            if len(buffer) > 1:
                # Joined once: the ETag, Content-Length and flush() all take these bytes.
                buffer = self._write_buffer = [b"".join(buffer)]
            headers = self._headers
            # The fields below are new to the headers (their names were just looked
            # up), so they are appended to both of its parts directly, not through
            # set_checked() (deliberate: see bench/NOTES.md).
            index = headers._map
            if (
                self._status_code == 200
                and request.method in ("GET", "HEAD")
                and "etag" not in index
            ):
                if self._default_etag:
                    # etag.compute_etag() of the joined body, inline.
                    etag = f'"{sha1(buffer[0] if buffer else b"").hexdigest()}"'
                    headers._pairs.append(("Etag", etag))
                    index["etag"] = [etag]
                    # Most requests carry no If-None-Match: the raw fields are
                    # scanned here, and the check runs only for one that does.
                    conditional = request._headers is not None
                    if not conditional:
                        for name, _ in request._raw_headers:
                            if name == b"if-none-match":
                                conditional = True
                                break
                else:
                    self.set_etag_header()
                    conditional = True
                if conditional and self.check_etag_header():
                    self._write_buffer = []
                    self.set_status(304)
                buffer = self._write_buffer
                # The hooks may have replaced the headers or their index.
                headers = self._headers
                index = headers._map
            status = self._status_code
            if status in (204, 304) or 100 <= status < 200:
                if buffer:
                    raise RuntimeError(
                        f"Cannot send body with status code HTTP{self._status_code}"
                    )
                self._clear_representation_headers()
            elif "content-length" not in index:
                length = str(len(buffer[0]) if buffer else 0)
                headers._pairs.append(("Content-Length", length))
                index["content-length"] = [length]
        connection = request._connection  # None unless something read request.connection
        # Only a callback that was set needs unsetting (a call less per request).
        if connection is not None and connection.close_callback is not None:
            connection.set_close_callback(None)
        if self._calls_flush:
            self.flush(include_footers=True)
        else:
            self._queue_output(True)
        self.application.log_request(self)
        self._finished = True
        if self._calls_on_finish:
            self.on_finish()

    def _clear_representation_headers(self) -> None:
        # A 304 must not describe a representation it does not carry (RFC 9110 15.4.5).
        for name in ("Content-Encoding", "Content-Language", "Content-Type"):
            self.clear_header(name)

    def detach(self) -> DetachedIOStream:
        """Take over the connection; no more HTTP is spoken on it.

        For protocols tunnelled over an HTTP/1.1 handshake: write the
        response head yourself, then the protocol.  Close the stream when done.
        """
        if self.request.connection is None:
            raise RuntimeError("detach() needs a request served over a connection")
        stream = self.request.connection.detach()
        self._finished = True
        return DetachedIOStream(stream)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Replace the response with an error page from :meth:`write_error`.

        Once the head has been sent, the error cannot be shown: the
        connection is closed without ending the body, so the client sees the
        response is incomplete.

        :param status_code: the status.
        :param kwargs: passed to :meth:`write_error` (``exc_info``, ``reason``).
        """
        if self._headers_written:
            gen_log.error("Cannot send error response after headers written")
            if not self._finished:
                # Leave the body unended: the driver then closes the
                # connection and the client sees the response is incomplete.
                self._finished = True
                self._log()
                self.on_finish()
            return
        self.clear()
        reason = kwargs.get("reason")
        if "exc_info" in kwargs:
            exception = kwargs["exc_info"][1]
            if isinstance(exception, HTTPError) and exception.reason:
                reason = exception.reason
        self.set_status(status_code, reason=reason)
        try:
            if status_code != 304:
                self.write_error(status_code, **kwargs)
        except Exception:
            app_log.error("Uncaught exception in write_error", exc_info=True)
        if not self._finished:
            self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Write the error page; override to customise it.

        The default page is ``<html><title>404: Not Found</title>...``; with
        the ``serve_traceback`` setting and an exception, the traceback as
        plain text instead.

        :param status_code: the status.
        :param kwargs: ``exc_info`` when an exception caused the error.
        """
        if self._should_not_send_content(status_code):
            self.finish()
        elif self.settings.get("serve_traceback") and "exc_info" in kwargs:
            self.set_header("Content-Type", "text/plain")
            for line in traceback.format_exception(*kwargs["exc_info"]):
                self.write(line)
            self.finish()
        else:
            self.finish(
                "<html><title>%(code)d: %(message)s</title>"
                "<body>%(code)d: %(message)s</body></html>"
                % {"code": status_code, "message": escape.xhtml_escape(self._reason)}
            )

    # -- templates --------------------------------------------------------

    def render(self, template_name: str, **kwargs: Any) -> _Pending:
        """Render a template as the response and finish.

        What the page's UI modules ask for is inserted as Tornado does: linked
        and embedded JavaScript before the last ``</body>``, linked and embedded
        CSS and each module's ``html_head()`` before the first ``</head>``, and
        each module's ``html_body()`` before the first ``</body>``; files are
        listed once each, in the order the modules named them.

        :param template_name: the template, relative to the template path.
        :param kwargs: values for the template.
        """
        if self._finished:
            raise RuntimeError("Cannot render() after finish()")
        html = self.render_string(template_name, **kwargs)
        js_embed: list[bytes] = []
        js_files: list[str] = []
        css_embed: list[bytes] = []
        css_files: list[str] = []
        html_heads: list[bytes] = []
        html_bodies: list[bytes] = []
        for module in getattr(self, "_active_modules", {}).values():
            part = module.embedded_javascript()
            if part:
                js_embed.append(escape.utf8(part))
            _extend_files(js_files, module.javascript_files())
            part = module.embedded_css()
            if part:
                css_embed.append(escape.utf8(part))
            _extend_files(css_files, module.css_files())
            part = module.html_head()
            if part:
                html_heads.append(escape.utf8(part))
            part = module.html_body()
            if part:
                html_bodies.append(escape.utf8(part))
        if js_files:
            html = _insert_before(html, b"</body>", escape.utf8(self.render_linked_js(js_files)))
        if js_embed:
            html = _insert_before(html, b"</body>", self.render_embed_js(js_embed))
        if css_files:
            html = _insert_before(html, b"</head>", escape.utf8(self.render_linked_css(css_files)))
        if css_embed:
            html = _insert_before(html, b"</head>", self.render_embed_css(css_embed))
        if html_heads:
            html = _insert_before(html, b"</head>", b"".join(html_heads))
        if html_bodies:
            html = _insert_before(html, b"</body>", b"".join(html_bodies), last=False)
        return self.finish(html)

    def _static_or_absolute(self, paths: Iterable[str]) -> list[str]:
        seen: list[str] = []
        for path in paths:
            if not path.startswith(("/", "http:", "https:")):
                path = self.static_url(path)
            if path not in seen:
                seen.append(path)
        return seen

    def render_linked_js(self, js_files: Iterable[str]) -> str:
        """The ``<script src>`` tags for *js_files* (override to change them).

        :param js_files: URLs or static paths, in order.
        """
        return "".join(
            '<script src="' + escape.xhtml_escape(path) + '" type="text/javascript"></script>'
            for path in self._static_or_absolute(js_files)
        )

    def render_embed_js(self, js_embed: Iterable[bytes]) -> bytes:
        """The ``<script>`` element for embedded JavaScript.

        :param js_embed: the snippets.
        """
        return (
            b'<script type="text/javascript">\n//<![CDATA[\n'
            + b"\n".join(js_embed)
            + b"\n//]]>\n</script>"
        )

    def render_linked_css(self, css_files: Iterable[str]) -> str:
        """The ``<link rel="stylesheet">`` tags for *css_files*.

        :param css_files: URLs or static paths, in order.
        """
        return "".join(
            '<link href="' + escape.xhtml_escape(path) + '" type="text/css" rel="stylesheet"/>'
            for path in self._static_or_absolute(css_files)
        )

    def render_embed_css(self, css_embed: Iterable[bytes]) -> bytes:
        """The ``<style>`` element for embedded CSS.

        :param css_embed: the snippets.
        """
        return b'<style type="text/css">\n' + b"\n".join(css_embed) + b"\n</style>"

    def render_string(self, template_name: str, **kwargs: Any) -> bytes:
        """Render a template to bytes without finishing.

        :param template_name: the template, relative to :meth:`get_template_path`
            (or, without one, to the folder of the calling module).
        :param kwargs: values for the template (they override the namespace).
        """
        template_path = self.get_template_path()
        if not template_path:
            frame = sys._getframe(1)
            while frame.f_back is not None and frame.f_code.co_filename in _OWN_FILES:
                frame = frame.f_back
            template_path = os.path.dirname(os.path.abspath(frame.f_code.co_filename))
        loaders = self.application._template_loaders
        loader = loaders.get(template_path)
        if loader is None:
            loader = self.create_template_loader(template_path)
            loaders[template_path] = loader
        template = loader.load(template_name)
        namespace = self.get_template_namespace()
        namespace.update(kwargs)
        return template.generate(**namespace)  # type: ignore[no-any-return]

    def get_template_namespace(self) -> dict[str, Any]:
        """The names every template rendered by this handler sees.

        ``handler``, ``request``, ``current_user``, ``locale``, ``_``,
        ``pgettext``, ``static_url``, ``xsrf_form_html``, ``reverse_url``,
        ``modules`` (and ``_tt_modules``, which ``{% module %}`` uses) and the
        application's UI methods; the engine adds ``escape``, ``xhtml_escape``,
        ``url_escape``, ``json_encode``, ``squeeze``, ``linkify`` and
        ``datetime``.  With Jinja2, ``xsrf_form_html()`` gives markup that is
        not escaped again.
        """
        xsrf_form_html: Callable[[], str] = self.xsrf_form_html
        if self.application.template_engine == "jinja2":
            xsrf_form_html = lambda: Markup(self.xsrf_form_html())  # noqa: E731
        namespace: dict[str, Any] = {
            "handler": self,
            "request": self.request,
            "current_user": self.current_user,
            "locale": self.locale,
            "_": self.locale.translate,
            "pgettext": self.locale.pgettext,
            "static_url": self.static_url,
            "xsrf_form_html": xsrf_form_html,
            "reverse_url": self.reverse_url,
        }
        namespace.update(self.ui)
        return namespace

    def create_template_loader(self, template_path: str) -> Any:
        """The loader for *template_path*: the ``template_loader`` setting if
        given, else a :class:`crosswind.template.Loader` (a
        :class:`~crosswind.web.templates.Jinja2Loader` when ``template_engine``
        is ``"jinja2"``) honouring ``autoescape`` and ``template_whitespace``.

        Called once per folder; the application keeps the loader.

        :param template_path: the template folder.
        """
        settings = self.settings
        if "template_loader" in settings:
            return settings["template_loader"]
        kwargs: dict[str, Any] = {}
        # Only when set: autoescape=None means "no escaping", not "the default".
        if "autoescape" in settings:
            kwargs["autoescape"] = settings["autoescape"]
        if "template_whitespace" in settings:
            kwargs["whitespace"] = settings["template_whitespace"]
        if self.application.template_engine == "jinja2":
            return Jinja2Loader(template_path, **kwargs)
        return tornado_template.Loader(template_path, **kwargs)

    def get_template_path(self) -> str | None:
        """The template folder (the ``template_path`` setting by default)."""
        return self.settings.get("template_path")

    def _ui_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *args, **kwargs: method(self, *args, **kwargs)

    def _render_ui_module(
        self, name: str, module_class: type[UIModule], /, *args: Any, **kwargs: Any
    ) -> str:
        # Positional-only: a module may take keyword arguments called "name".
        if not hasattr(self, "_active_modules"):
            self._active_modules: dict[str, UIModule] = {}
        module = self._active_modules.get(name)
        if module is None:
            module = self._active_modules[name] = module_class(self)
        rendered = module.render(*args, **kwargs)
        return rendered.decode("utf-8") if isinstance(rendered, bytes) else rendered

    # -- locale and user ------------------------------------------------------

    @property
    def locale(self) -> locale_module.Locale:
        """The locale for this request: :meth:`get_user_locale`, else the browser's."""
        if not hasattr(self, "_locale"):
            chosen = self.get_user_locale()
            self._locale = chosen if chosen is not None else self.get_browser_locale()
        return self._locale

    @locale.setter
    def locale(self, value: locale_module.Locale) -> None:
        self._locale = value

    def _locale_catalog(self) -> locale_module.LocaleCatalog:
        catalog = self.settings.get("locale_catalog")
        return catalog if catalog is not None else locale_module.default_catalog

    def get_user_locale(self) -> locale_module.Locale | None:
        """Override to pick the locale from the user (``None`` uses the browser's)."""
        return None

    def get_browser_locale(self, default: str = "en_US") -> locale_module.Locale:
        """The best supported locale for the ``Accept-Language`` header.

        :param default: used when the header is absent or names nothing usable.
        """
        from ..accept import parse_accept_language

        header = self.request.headers.get("Accept-Language")
        codes = [code for code, _ in parse_accept_language(header)] if header else []
        catalog = self._locale_catalog()
        return catalog.get(*codes) if codes else catalog.get(default)

    @property
    def current_user(self) -> Any:
        """The authenticated user: :meth:`get_current_user`, called once per request."""
        if not hasattr(self, "_current_user"):
            self._current_user = self.get_current_user()
        return self._current_user

    @current_user.setter
    def current_user(self, value: Any) -> None:
        self._current_user = value

    def get_current_user(self) -> Any:
        """Override to identify the user (e.g. from a signed cookie); may not be async."""
        return None

    def get_login_url(self) -> str:
        """Where :func:`authenticated` sends anonymous users (``login_url`` setting)."""
        self.require_setting("login_url", "@crosswind.web.authenticated")
        return self.settings["login_url"]  # type: ignore[no-any-return]

    @property
    def session(self) -> Session:
        """This client's session, loaded on first use and saved by :meth:`finish`."""
        if self._session is None:
            self._session = self.application.get_session(self)
        return self._session

    # -- XSRF and cross-origin protection -------------------------------------

    @property
    def xsrf_token(self) -> bytes:
        """The masked XSRF token for forms; sets the ``_xsrf`` cookie if needed.

        Each access in a request returns the same value; the mask differs
        between requests (so compression cannot leak the token).
        """
        if not hasattr(self, "_xsrf_token"):
            version, token, timestamp = self._get_raw_xsrf_token()
            output_version = self.settings.get("xsrf_cookie_version", 2)
            if output_version not in (1, 2):
                raise ValueError("unknown xsrf cookie version %d" % output_version)
            self._xsrf_token = xsrf.encode_xsrf_token(
                token,
                timestamp,
                version=output_version,
                token_source=self.application.token_source,
            )
            if version is None:
                cookie_kwargs = dict(self.settings.get("xsrf_cookie_kwargs", {}))
                if self.current_user and "expires_days" not in cookie_kwargs:
                    cookie_kwargs["expires_days"] = 30
                cookie_name = self.settings.get("xsrf_cookie_name", "_xsrf")
                self.set_cookie(cookie_name, self._xsrf_token, **cookie_kwargs)
        return self._xsrf_token

    def _get_raw_xsrf_token(self) -> tuple[int | None, bytes, float]:
        if not hasattr(self, "_raw_xsrf_token"):
            cookie = self.get_cookie(self.settings.get("xsrf_cookie_name", "_xsrf"))
            version, token, timestamp = xsrf.decode_xsrf_token(cookie)
            if token is None:
                version = None
                token = xsrf.new_token(self.application.token_source)
                timestamp = int(self.application.clock())
            elif timestamp is None:
                timestamp = int(self.application.clock())  # version 1 has no timestamp
            self._raw_xsrf_token = (version, token, float(timestamp))
        return self._raw_xsrf_token

    def check_xsrf_cookie(self) -> None:
        """Check that the submitted ``_xsrf`` value matches the cookie.

        The value may come as the ``_xsrf`` argument or in an ``X-XSRFToken``
        or ``X-CSRFToken`` header.

        :raises HTTPError: 403 when it is missing, malformed or different.
        """
        submitted = xsrf.submitted_xsrf_value(
            self.get_argument("_xsrf", None), self.request.headers.get
        )
        if not submitted:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        _, token, _ = xsrf.decode_xsrf_token(submitted)
        if not token:
            raise HTTPError(403, "'_xsrf' argument has invalid format")
        _, expected, _ = self._get_raw_xsrf_token()
        if not hmac.compare_digest(token, expected):
            raise HTTPError(403, "XSRF cookie does not match POST argument")

    def xsrf_form_html(self) -> str:
        """A hidden ``<input name="_xsrf">`` for POST forms."""
        return (
            '<input type="hidden" name="_xsrf" value="'
            + escape.xhtml_escape(self.xsrf_token)
            + '"/>'
        )

    def _cross_origin_protection(self) -> None:
        if self.request.method in _SAFE_METHODS:
            return
        if self.settings.get("xsrf_cookies"):
            self.check_xsrf_cookie()
        if self.settings.get("cross_origin_protection"):
            problem = self._check_cross_origin(self.check_trusted_origin)
            if problem is not None:
                raise HTTPError(403, problem)

    def _check_cross_origin(self, check: Callable[[str], bool]) -> str | None:
        fetch_site = self.request.headers.get("Sec-Fetch-Site")
        origin = self.request.headers.get("Origin")
        if fetch_site in ("same-origin", "none"):
            return None
        if fetch_site is None:
            # Old browsers and plain HTTP send no Sec-Fetch-Site; non-browsers no Origin.
            if origin is None or self._origin_matches_host(origin) or check(origin):
                return None
            return "Origin %r not allowed" % origin
        if origin and check(origin):
            return None
        return "Sec-Fetch-Site %s & origin %r not allowed" % (fetch_site, origin)

    def _origin_matches_host(self, origin: str) -> bool:
        netloc = urlsplit(origin).netloc.lower()
        return netloc == self.request.headers.get("Host", "").lower()

    def check_trusted_origin(self, origin: str) -> bool:
        """Whether a cross-origin unsafe request from *origin* is allowed
        (the ``trusted_origins`` setting by default).

        Only consulted with the ``cross_origin_protection`` setting.

        :param origin: the ``Origin`` header, e.g. ``https://example.com``.
        """
        return origin in self.settings.get("trusted_origins", [])

    # -- URLs -----------------------------------------------------------

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """The versioned URL of a static file (``/static/app.css?v=<hash>``).

        :param path: the file, relative to the ``static_path`` setting.
        :param include_host: make the URL absolute (default: the handler's
            ``include_host`` attribute, else ``False``).
        :param kwargs: passed to ``make_static_url`` (``include_version=False``).
        """
        self.require_setting("static_path", "static_url")
        from .static import StaticFileHandler

        handler_class: type[StaticFileHandler] = self.settings.get(
            "static_handler_class", StaticFileHandler
        )
        if include_host is None:
            include_host = getattr(self, "include_host", False)
        base = self.request.protocol + "://" + self.request.host if include_host else ""
        return base + handler_class.make_static_url(self.settings, path, **kwargs)

    def require_setting(self, name: str, feature: str = "this feature") -> None:
        """Fail unless the application has setting *name*.

        :param name: the setting.
        :param feature: what needs it, for the message.
        """
        if not self.settings.get(name):
            raise Exception(
                "You must define the '%s' setting in your application to use %s" % (name, feature)
            )

    def reverse_url(self, name: str, *args: Any) -> str:
        """The path of the route called *name* (see :meth:`Application.reverse_url`).

        :param name: the route name.
        :param args: values for its groups.
        """
        return self.application.reverse_url(name, *args)

    # -- ETags ----------------------------------------------------------

    def compute_etag(self) -> str | None:
        """The ETag for the response: a hash of the output (``None`` disables ETags)."""
        return compute_etag(self._write_buffer)

    def set_etag_header(self) -> None:
        """Set the ``Etag`` header from :meth:`compute_etag`."""
        etag = self.compute_etag()
        if etag is not None:
            self.set_header("Etag", etag)

    def check_etag_header(self) -> bool:
        """Whether the request's ``If-None-Match`` matches our ``Etag`` (weakly)."""
        # Reading the one header raw skips building request.headers (see
        # bench/NOTES.md).
        header = self.request._header("If-None-Match")
        if not header:
            return False
        computed = self._headers.get("Etag")
        if not computed:
            return False
        tags = parse_etag_list(header)
        if tags == "*":
            return True
        ours = parse_etag(computed)
        if ours is None:
            return False
        return any(opaque == ours[1] for _, opaque in tags)

    # -- the request life cycle ---------------------------------------------

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Receive a piece of the body (handlers decorated with ``stream_request_body``).

        :param chunk: the bytes; may be ``async`` to slow the client down.
        """
        raise NotImplementedError()

    async def _execute(
        self, transforms: Sequence[OutputTransform], *args: bytes | None, **kwargs: bytes | None
    ) -> None:
        """Run the request through prepare, the body, the verb method and finish."""
        self._transforms = transforms
        request = self.request
        verb = request.method
        try:
            if verb not in self.SUPPORTED_METHODS:
                raise HTTPError(405)
            # No call for a bodiless request (hot path, see bench/NOTES.md).
            if not self._stream_request_body and request.body:
                try:
                    request._parse_body()
                except RequestError as error:
                    raise HTTPError(error.status_code, "Invalid body: %s", error.reason) from error
            # A comprehension costs a call even when empty, and most routes have no
            # groups: the shortcut is deliberate (see bench/NOTES.md).  __init__ made
            # both empty, and only initialize() ran since: without groups, they are
            # made again only for a class that overrides it.
            if args or self._calls_initialize:
                self.path_args = (
                    [self.decode_argument(arg) for arg in args]  # type: ignore[arg-type]
                    if args
                    else []
                )
            if kwargs or self._calls_initialize:
                self.path_kwargs = (
                    {
                        key: self.decode_argument(value, name=key)  # type: ignore[arg-type]
                        for key, value in kwargs.items()
                    }
                    if kwargs
                    else {}
                )
            if verb not in _SAFE_METHODS:
                self._cross_origin_protection()
            if self._calls_prepare:
                result = self.prepare()
                if result is not None and inspect.isawaitable(result):
                    await result
            if self._finished:
                return
            if self._stream_request_body:
                await self._receive_body()
            verb = request.method  # again: prepare() may have changed it (method overrides)
            method = getattr(self, _VERB_ATTRIBUTES.get(verb) or verb.lower(), None)
            if method is None:
                # A supported method without an implementation (Tornado fails with 500).
                raise HTTPError(405)
            # No ** of an empty dict, which copies it, and no * of an empty list: a
            # call with either costs more than a plain one (see bench/NOTES.md).  Read
            # after prepare(), which may have changed them, as Tornado reads them.
            path_args, path_kwargs = self.path_args, self.path_kwargs
            if path_kwargs:
                result = method(*path_args, **path_kwargs)
            elif path_args:
                result = method(*path_args)
            else:
                result = method()
            if result is not None and inspect.isawaitable(result):
                await result
            if self._auto_finish and not self._finished:
                if self._calls_finish:
                    self.finish()
                else:
                    self._finish_output(None)
        except ClientDisconnected:
            self._on_connection_lost()
            raise
        except Exception as error:
            try:
                self._handle_request_exception(error)
            except Exception:
                app_log.error("Exception in exception handler", exc_info=True)
        finally:
            queue = self._queue
            exchange = request._exchange
            whole = self._whole
            if whole is not None and exchange is not None:
                # The usual case, a response finished in one go: sent with a plain
                # call, no coroutines of _send_queued and respond (see bench/NOTES.md).
                self._whole = None
                status, fields, body, reason = whole  # unpacked: no * call
                waiter = exchange.respond_nowait(status, fields, body, reason)
                if waiter is not None:
                    await waiter
            elif whole is not None or queue:
                await self._send_queued()

    async def _receive_body(self) -> None:
        exchange = self.request.exchange
        if exchange is None:
            return
        while True:
            try:
                chunk = await exchange.read()
            except RequestError:
                if exchange.client_disconnected:
                    # The body was cut short by the client leaving: nobody is
                    # there to read an error page.
                    raise ClientDisconnected("the client closed inside the body") from None
                raise
            if not chunk:
                return
            result = self.data_received(chunk)
            if result is not None and inspect.isawaitable(result):
                await result

    def _handle_request_exception(self, error: BaseException) -> None:
        if isinstance(error, Finish):
            if not self._finished:
                self.finish(*error.args)
            return
        exc_info = (type(error), error, error.__traceback__)
        try:
            self.log_exception(*exc_info)
        except Exception:
            app_log.error("Error in exception logger", exc_info=True)
        if self._finished:
            return
        if isinstance(error, HTTPError | RequestError):
            self.send_error(error.status_code, exc_info=exc_info)
        else:
            self.send_error(500, exc_info=exc_info)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log an exception from the handler; override to change how.

        :class:`HTTPError` is a warning without a traceback; anything else an
        error with one.

        :param typ: the exception type.
        :param value: the exception.
        :param tb: its traceback.
        """
        if isinstance(value, HTTPError):
            message = value.get_message()
            if message:
                gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), message)
        elif isinstance(value, RequestError):
            gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), value.reason)
        else:
            app_log.error(
                "Uncaught exception %s\n%r",
                self._request_summary(),
                self.request,
                exc_info=(typ, value, tb),  # type: ignore[arg-type]
            )

    def _log(self) -> None:
        self.application.log_request(self)

    def _request_summary(self) -> str:
        return f"{self.request.method} {self.request.uri} ({self.request.remote_ip})"


class _UI(dict[str, Any]):
    """``handler.ui``: a dict whose keys also read as attributes, as Tornado's ``ObjectDict``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def _extend_files(target: list[str], files: Iterable[str] | str | bytes | None) -> None:
    if not files:
        return
    if isinstance(files, str | bytes):
        target.append(files if isinstance(files, str) else files.decode("utf-8"))
    else:
        target.extend(files)


def _insert_before(html: bytes, marker: bytes, addition: bytes, last: bool = True) -> bytes:
    # Scripts go before the last </body> and html_body() before the first, as in Tornado.
    index = html.rindex(marker) if marker == b"</body>" and last else html.index(marker)
    return html[:index] + addition + b"\n" + html[index:]

