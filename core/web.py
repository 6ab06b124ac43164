"""Tornado's ``Application`` / ``RequestHandler`` programming model.

This is the foundation of the layer: routing by regex, the request object,
arguments, status, headers, ``write``/``flush``/``finish``, errors.  The
rest of Tornado's handler API builds on it.
"""

from __future__ import annotations

import http.client
import inspect
import json
import logging
import re
import traceback
from collections.abc import Awaitable, Iterable
from typing import Any, ClassVar
from urllib.parse import unquote

from .errors import RequestError
from .exchange import Exchange
from .forms import MultiDict, parse_qs, parse_urlencoded
from .headers import Headers
from .mediatype import parse_content_type

__all__ = [
    "Application",
    "HTTPError",
    "HTTPServerRequest",
    "MissingArgumentError",
    "RequestHandler",
]

app_log = logging.getLogger("crosswind.application")
gen_log = logging.getLogger("crosswind.general")

_ARG_DEFAULT: Any = object()
_REMOVE_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


class HTTPError(Exception):
    """Raise to answer the request with an HTTP error status.

    :param status_code: the status to send.
    :param log_message: logged (not sent to the client); ``%`` formatted with *args*.
    :param reason: the reason phrase, for codes without a standard one.
    """

    def __init__(
        self,
        status_code: int = 500,
        log_message: str | None = None,
        *args: Any,
        reason: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.log_message = log_message
        self.args = args
        self.reason = reason
        super().__init__(status_code, log_message, *args)

    def __str__(self) -> str:
        message = "HTTP %d: %s" % (
            self.status_code,
            self.reason or http.client.responses.get(self.status_code, "Unknown"),
        )
        if self.log_message:
            return message + " (" + (self.log_message % self.args) + ")"
        return message


class MissingArgumentError(HTTPError):
    """A required argument was not given; answers ``400``."""

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, "Missing argument %s" % arg_name)
        self.arg_name = arg_name


class HTTPServerRequest:
    """The request as Tornado handlers see it."""

    def __init__(self, exchange: Exchange, body: bytes) -> None:
        self.exchange = exchange
        self.method = exchange.method
        self.uri = exchange.target
        self.path = exchange.path
        self.query = exchange.query
        self.version = "HTTP/" + exchange.http_version
        self.headers = Headers(exchange.headers)
        self.body = body
        info = exchange.info
        peer = info.peer
        self.remote_ip = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        self.protocol = info.scheme
        self.host = self.headers.get("Host") or "127.0.0.1"
        self.host_name = self.host.rsplit(":", 1)[0] if not self.host.endswith("]") else self.host
        self.query_arguments: dict[str, list[bytes]] = _bytes_lists(parse_qs(self.query))
        self.body_arguments: dict[str, list[bytes]] = {}
        content_type, _ = parse_content_type(self.headers.get("Content-Type", ""))
        if content_type == "application/x-www-form-urlencoded" and body:
            self.body_arguments = _bytes_lists(parse_urlencoded(body))
        self.arguments: dict[str, list[bytes]] = {k: list(v) for k, v in self.query_arguments.items()}
        for key, values in self.body_arguments.items():
            self.arguments.setdefault(key, []).extend(values)

    def full_url(self) -> str:
        return self.protocol + "://" + self.host + self.uri

    def __repr__(self) -> str:
        return f"HTTPServerRequest(protocol={self.protocol!r}, host={self.host!r}, method={self.method!r}, uri={self.uri!r})"


def _bytes_lists(values: MultiDict[str]) -> dict[str, list[bytes]]:
    return {key: [v.encode("utf-8") for v in items] for key, items in values.lists()}


class RequestHandler:
    """Subclass and define ``get``, ``post``, ... (plain or ``async def``)."""

    SUPPORTED_METHODS: ClassVar[tuple[str, ...]] = (
        "GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS",
    )

    def __init__(self, application: Application, request: HTTPServerRequest, **kwargs: Any) -> None:
        self.application = application
        self.request = request
        self.path_args: list[str] = []
        self.path_kwargs: dict[str, str] = {}
        self._finished = False
        self._headers_written = False
        self._write_buffer: list[bytes] = []
        self.clear()
        self.initialize(**kwargs)

    def initialize(self, **kwargs: Any) -> None:
        """Hook for the URLSpec's keyword arguments."""

    @property
    def settings(self) -> dict[str, Any]:
        return self.application.settings

    def prepare(self) -> Awaitable[None] | None:
        """Called before the verb method; may be ``async``."""
        return None

    def on_finish(self) -> None:
        """Called after the response has been sent."""

    def set_default_headers(self) -> None:
        """Override to set headers on every response (errors included)."""

    def clear(self) -> None:
        """Reset headers and body to their defaults."""
        self._headers = Headers(
            [("Content-Type", "text/html; charset=UTF-8"), ("Server", "crosswind")]
        )
        self.set_default_headers()
        self._write_buffer = []
        self._status_code = 200
        self._reason = http.client.responses[200]

    def set_status(self, status_code: int, reason: str | None = None) -> None:
        self._status_code = status_code
        self._reason = reason or http.client.responses.get(status_code, "Unknown")

    def get_status(self) -> int:
        return self._status_code

    def set_header(self, name: str, value: Any) -> None:
        self._headers[name] = self._convert_header_value(value)

    def add_header(self, name: str, value: Any) -> None:
        self._headers.add(name, self._convert_header_value(value))

    def clear_header(self, name: str) -> None:
        if name in self._headers:
            del self._headers[name]

    def _convert_header_value(self, value: Any) -> str:
        if isinstance(value, bytes):
            value = value.decode("latin1")
        elif isinstance(value, int):
            value = str(value)
        elif not isinstance(value, str):
            raise TypeError("Unsupported header value %r" % value)
        if "\r" in value or "\n" in value:
            raise ValueError("Unsafe header value %r" % value)
        return value

    # -- arguments -------------------------------------------------------

    def get_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        """The last value of argument *name* (query or body); 400 when missing."""
        return self._get_argument(name, default, self.request.arguments, strip)

    def get_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._get_arguments(name, self.request.arguments, strip)

    def get_query_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        return self._get_argument(name, default, self.request.query_arguments, strip)

    def get_query_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._get_arguments(name, self.request.query_arguments, strip)

    def get_body_argument(self, name: str, default: Any = _ARG_DEFAULT, strip: bool = True) -> Any:
        return self._get_argument(name, default, self.request.body_arguments, strip)

    def get_body_arguments(self, name: str, strip: bool = True) -> list[str]:
        return self._get_arguments(name, self.request.body_arguments, strip)

    def _get_argument(self, name: str, default: Any, source: dict[str, list[bytes]], strip: bool) -> Any:
        args = self._get_arguments(name, source, strip)
        if not args:
            if default is _ARG_DEFAULT:
                raise MissingArgumentError(name)
            return default
        return args[-1]

    def _get_arguments(self, name: str, source: dict[str, list[bytes]], strip: bool) -> list[str]:
        values = []
        for raw in source.get(name, []):
            value = self.decode_argument(raw, name=name)
            value = _REMOVE_CONTROL.sub(" ", value)
            if strip:
                value = value.strip()
            values.append(value)
        return values

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, "Invalid unicode in %s: %r", name or "url", value[:40]) from None

    # -- output ----------------------------------------------------------

    def write(self, chunk: str | bytes | dict[str, Any]) -> None:
        """Buffer output; a dict is sent as JSON."""
        if self._finished:
            raise RuntimeError("Cannot write() after finish()")
        if not isinstance(chunk, bytes | str | dict):
            message = "write() only accepts bytes, unicode, and dict objects"
            if isinstance(chunk, list):
                message += (
                    ". Lists not accepted for security reasons; see "
                    "https://www.tornadoweb.org/en/stable/web.html#tornado.web.RequestHandler.write"
                )
            raise TypeError(message)
        if isinstance(chunk, dict):
            chunk = json.dumps(chunk).replace("</", "<\\/")
            self.set_header("Content-Type", "application/json; charset=UTF-8")
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        self._write_buffer.append(chunk)

    async def flush(self, include_footers: bool = False) -> None:
        """Send the headers (first time) and what has been written so far."""
        exchange = self.request.exchange
        chunk = b"".join(self._write_buffer)
        self._write_buffer = []
        if not self._headers_written:
            self._headers_written = True
            await exchange.start_response(
                self._status_code, self._headers.raw(), self._reason.encode("latin-1")
            )
        if chunk:
            await exchange.write(chunk)

    async def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> None:
        """End the response; sends a ``Content-Length`` when nothing was flushed."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        if chunk is not None:
            self.write(chunk)
        exchange = self.request.exchange
        if not self._headers_written:
            body = b"".join(self._write_buffer)
            self._write_buffer = []
            if self._status_code in (204, 304) or 100 <= self._status_code < 200:
                body = b""
                for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                    self.clear_header(name)
            elif "Content-Length" not in self._headers:
                self._headers["Content-Length"] = str(len(body))
            self._headers_written = True
            self._finished = True
            await exchange.respond(
                self._status_code, self._headers.raw(), body, self._reason.encode("latin-1")
            )
        else:
            await self.flush()
            self._finished = True
            await exchange.end()
        self.on_finish()

    def send_error(self, status_code: int = 500, **kwargs: Any) -> Awaitable[None]:
        """Reset the response and send an error page through :meth:`write_error`."""
        if self._headers_written:
            gen_log.error("Cannot send error response after headers written")
            raise _AbortConnection()
        self.clear()
        reason = kwargs.get("reason")
        if "exc_info" in kwargs:
            exception = kwargs["exc_info"][1]
            if isinstance(exception, HTTPError) and exception.reason:
                reason = exception.reason
        self.set_status(status_code, reason=reason)
        self.write_error(status_code, **kwargs)
        if self._finished:
            return _done()
        return self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Write the error page; the traceback only with ``serve_traceback``."""
        if self.settings.get("serve_traceback") and "exc_info" in kwargs:
            self.set_header("Content-Type", "text/plain")
            for line in traceback.format_exception(*kwargs["exc_info"]):
                self.write(line)
        else:
            self.write(
                "<html><title>%(code)d: %(message)s</title>"
                "<body>%(code)d: %(message)s</body></html>"
                % {"code": status_code, "message": self._reason}
            )

    # -- dispatch --------------------------------------------------------

    async def _execute(self, *args: str, **kwargs: str) -> None:
        try:
            if self.request.method not in self.SUPPORTED_METHODS:
                raise HTTPError(405)
            self.path_args = list(args)
            self.path_kwargs = kwargs
            result = self.prepare()
            if result is not None and inspect.isawaitable(result):
                await result
            if self._finished:
                return
            method = getattr(self, self.request.method.lower(), None)
            if method is None or getattr(method, "_crosswind_default", False):
                raise HTTPError(405)
            result = method(*self.path_args, **self.path_kwargs)
            if result is not None and inspect.isawaitable(result):
                await result
            if not self._finished:
                await self.finish()
        except _AbortConnection:
            raise
        except Exception as exc:
            self.log_exception(type(exc), exc, exc.__traceback__)
            if self._finished:
                return
            if isinstance(exc, HTTPError):
                await self.send_error(exc.status_code, exc_info=(type(exc), exc, exc.__traceback__))
            else:
                await self.send_error(500, exc_info=(type(exc), exc, exc.__traceback__))

    def log_exception(self, typ: type[BaseException], value: BaseException, tb: Any) -> None:
        if isinstance(value, HTTPError):
            if value.log_message:
                gen_log.warning("%d %s: %s", value.status_code, self._request_summary(),
                                value.log_message % value.args)
        else:
            app_log.error("Uncaught exception %s", self._request_summary(),
                          exc_info=(typ, value, tb))

    def _request_summary(self) -> str:
        return f"{self.request.method} {self.request.uri} ({self.request.remote_ip})"


class _AbortConnection(Exception):
    """The response cannot be completed; the driver closes the connection."""


async def _done() -> None:
    return None


class Application:
    """A list of ``(pattern, handler_class[, kwargs])`` routes and settings."""

    def __init__(self, handlers: Iterable[Any] | None = None, **settings: Any) -> None:
        self.settings = settings
        self._routes: list[tuple[re.Pattern[str], type[RequestHandler], dict[str, Any]]] = []
        for spec in handlers or ():
            pattern, handler_class, *rest = spec
            if not pattern.endswith("$"):
                pattern += "$"
            self._routes.append((re.compile(pattern), handler_class, rest[0] if rest else {}))

    async def handle(self, exchange: Exchange) -> None:
        path = exchange.path
        handler_class: type[RequestHandler] = _NotFoundHandler
        kwargs: dict[str, Any] = {}
        match = None
        for pattern, spec_class, spec_kwargs in self._routes:
            match = pattern.match(path)
            if match is not None:
                handler_class, kwargs = spec_class, spec_kwargs
                break
        body = await exchange.read_body() if not exchange.body_complete else b""
        try:
            request = HTTPServerRequest(exchange, body)
        except RequestError:
            raise
        handler = handler_class(self, request, **kwargs)
        args: list[str] = []
        named: dict[str, str] = {}
        if match is not None:
            if match.re.groupindex:
                named = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            else:
                args = [unquote(v) for v in match.groups() if v is not None]
        await handler._execute(*args, **named)

    @property
    def wsgi(self) -> Any:
        """This application as a PEP 3333 callable, made once (see ``crosswind.adapters.to_wsgi``)."""
        adapter = self.__dict__.get("_wsgi_adapter")
        if adapter is None:
            from crosswind.adapters import to_wsgi  # lazily: they load asyncio and threading

            adapter = self.__dict__["_wsgi_adapter"] = to_wsgi(self)
        return adapter

    @property
    def asgi(self) -> Any:
        """This application as an ASGI 3 callable, made once (see ``crosswind.adapters.to_asgi``)."""
        adapter = self.__dict__.get("_asgi_adapter")
        if adapter is None:
            from crosswind.adapters import to_asgi  # lazily: they load asyncio and threading

            adapter = self.__dict__["_asgi_adapter"] = to_asgi(self)
        return adapter


class _NotFoundHandler(RequestHandler):
    def prepare(self) -> None:
        raise HTTPError(404)
