"""HTTP exceptions a Flask-style view raises (or :func:`abort` raises for it).

Each class carries its status code and a human-readable description and can
turn itself into the small HTML error page Flask serves by default, so an
application that relied on those pages sees the same bytes after the port.
The descriptions are the ones Flask applications have always shown; they are
part of the observable behaviour being reproduced.

Every class is also a :class:`~crosswind.errors.RequestError`, so code that
sits below the Flask layer (the connection driver, a mount) still answers
with the right status if one escapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from ..authorization import WWWAuthenticate
from ..errors import RequestError
from ..forms import BadRequestKeyError as _FormKeyError

if TYPE_CHECKING:
    from .wrappers import Response

__all__ = [
    "Aborter",
    "BadGateway",
    "BadRequest",
    "BadRequestKeyError",
    "Conflict",
    "ExpectationFailed",
    "FailedDependency",
    "Forbidden",
    "GatewayTimeout",
    "Gone",
    "HTTPException",
    "HTTPVersionNotSupported",
    "ImATeapot",
    "InternalServerError",
    "LengthRequired",
    "Locked",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "NotAcceptable",
    "NotFound",
    "NotImplemented",
    "PreconditionFailed",
    "PreconditionRequired",
    "RequestEntityTooLarge",
    "RequestHeaderFieldsTooLarge",
    "RequestRedirect",
    "RequestTimeout",
    "RequestURITooLarge",
    "RequestedRangeNotSatisfiable",
    "SecurityError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnavailableForLegalReasons",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "abort",
    "default_exceptions",
    "from_request_error",
    "status_name",
]

# Flask spells a few reason phrases differently from the standard library;
# its spelling is what ends up in ``response.status`` and on error pages.
_NAME_OVERRIDES = {
    203: "Non Authoritative Information",
    207: "Multi Status",
    306: "Switch Proxy",
    414: "Request URI Too Long",
    418: "I'm a teapot",
    449: "Retry With",
    511: "Network Authentication Failed",
}
_NAMES = {status.value: status.phrase for status in HTTPStatus}
_NAMES.update(_NAME_OVERRIDES)
_NAMES[413] = "Request Entity Too Large"
_NAMES[416] = "Requested Range Not Satisfiable"
_NAMES[422] = "Unprocessable Entity"


def status_name(code: int, default: str = "Unknown") -> str:
    """The reason phrase Flask uses for *code* (e.g. ``"Not Found"``).

    :param code: the HTTP status code.
    :param default: returned for codes without a known phrase.
    """
    return _NAMES.get(code, default)


class HTTPException(RequestError):
    """An HTTP error answered with a status code and an HTML page.

    :param description: replaces the class's default description.
    :param response: a ready response to send instead of the error page.
    """

    code: int | None = None
    description: str | None = None

    def __init__(self, description: str | None = None, response: Response | None = None) -> None:
        if description is not None:
            self.description = description
        self.response = response
        RequestError.__init__(self, self.name, self.code or 500)

    @property
    def status_code(self) -> int:
        """The status to answer with (500 for a bare response carrier)."""
        return self.code or 500

    @status_code.setter
    def status_code(self, value: int) -> None:
        # RequestError.__init__ assigns it; the class's code stays the truth.
        pass

    @property
    def name(self) -> str:
        """The status name, e.g. ``"Not Found"``."""
        return status_name(self.code, "Unknown Error") if self.code else "Unknown Error"

    def get_description(self, environ: Any = None, scope: Any = None) -> str:
        """The description as an HTML paragraph.

        :param environ: unused; accepted for signature compatibility.
        :param scope: unused; accepted for signature compatibility.
        """
        text = escape(self.description or "").replace("\n", Markup("<br>"))
        return f"<p>{text}</p>"

    def get_body(self, environ: Any = None, scope: Any = None) -> str:
        """The whole HTML error page.

        :param environ: unused; accepted for signature compatibility.
        :param scope: unused; accepted for signature compatibility.
        """
        return (
            "<!doctype html>\n<html lang=en>\n"
            f"<title>{self.code} {escape(self.name)}</title>\n"
            f"<h1>{escape(self.name)}</h1>\n"
            f"{self.get_description(environ)}\n"
        )

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        """Headers of the error page.

        :param environ: unused; accepted for signature compatibility.
        :param scope: unused; accepted for signature compatibility.
        """
        return [("Content-Type", "text/html; charset=utf-8")]

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        """The response to send: :attr:`response` if one was given, else the page.

        :param environ: unused; accepted for signature compatibility.
        :param scope: unused; accepted for signature compatibility.
        """
        from .wrappers import Response

        if self.response is not None:
            return self.response
        return Response(self.get_body(environ), self.code or 500, self.get_headers(environ))

    def __str__(self) -> str:
        return f"{self.code or '???'} {self.name}: {self.description}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self.code or '???'}: {self.name}'>"


class BadRequest(HTTPException):
    code = 400
    description = "The browser (or proxy) sent a request that this server could not understand."


class BadRequestKeyError(_FormKeyError, BadRequest):
    """A missing key was looked up in ``request.form``/``args``/``files``: 400.

    It is also a :class:`KeyError`, as in Flask, so ``except KeyError`` works.

    :param key: the key that was looked up.
    """

    def __init__(self, key: str | None = None) -> None:
        BadRequest.__init__(self)
        self.key = key

    def __str__(self) -> str:
        return BadRequest.__str__(self)


class SecurityError(BadRequest):
    """400 for a request the application refuses to trust: a ``Host`` outside
    ``TRUSTED_HOSTS``.  The description names the host, as werkzeug's does."""


class Unauthorized(HTTPException):
    """401; *www_authenticate* values become ``WWW-Authenticate`` headers.

    :param description: replaces the default description.
    :param response: a ready response to send instead.
    :param www_authenticate: one challenge or several.
    """

    code = 401
    description = (
        "The server could not verify that you are authorized to access the URL"
        " requested. You either supplied the wrong credentials (e.g. a bad"
        " password), or your browser doesn't understand how to supply the"
        " credentials required."
    )

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        www_authenticate: str | WWWAuthenticate | Iterable[str | WWWAuthenticate] | None = None,
    ) -> None:
        super().__init__(description, response)
        if isinstance(www_authenticate, str | WWWAuthenticate):
            www_authenticate = [www_authenticate]
        self.www_authenticate = list(www_authenticate or [])

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ, scope)
        headers.extend(("WWW-Authenticate", str(value)) for value in self.www_authenticate)
        return headers


class Forbidden(HTTPException):
    code = 403
    description = (
        "You don't have the permission to access the requested resource. It is"
        " either read-protected or not readable by the server."
    )


class NotFound(HTTPException):
    code = 404
    description = (
        "The requested URL was not found on the server. If you entered the URL"
        " manually please check your spelling and try again."
    )


class MethodNotAllowed(HTTPException):
    """405 with the ``Allow`` header listing *valid_methods*.

    :param valid_methods: the methods the URL does accept.
    :param description: replaces the default description.
    :param response: a ready response to send instead.
    """

    code = 405
    description = "The method is not allowed for the requested URL."

    def __init__(
        self,
        valid_methods: Iterable[str] | None = None,
        description: str | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(description, response)
        self.valid_methods = list(valid_methods) if valid_methods is not None else None

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ, scope)
        if self.valid_methods:
            headers.append(("Allow", ", ".join(self.valid_methods)))
        return headers


class NotAcceptable(HTTPException):
    code = 406
    description = (
        "The resource identified by the request is only capable of generating"
        " response entities which have content characteristics not acceptable"
        " according to the accept headers sent in the request."
    )


class RequestTimeout(HTTPException):
    code = 408
    description = (
        "The server closed the network connection because the browser didn't"
        " finish the request within the specified time."
    )


class Conflict(HTTPException):
    code = 409
    description = (
        "A conflict happened while processing the request. The resource might"
        " have been modified while the request was being processed."
    )


class Gone(HTTPException):
    code = 410
    description = (
        "The requested URL is no longer available on this server and there is"
        " no forwarding address. If you followed a link from a foreign page,"
        " please contact the author of this page."
    )


class LengthRequired(HTTPException):
    code = 411
    description = "A request with this method requires a valid <code>Content-Length</code> header."


class PreconditionFailed(HTTPException):
    code = 412
    description = "The precondition on the request for the URL failed positive evaluation."


class RequestEntityTooLarge(HTTPException):
    code = 413
    description = "The data value transmitted exceeds the capacity limit."


class RequestURITooLarge(HTTPException):
    code = 414
    description = (
        "The length of the requested URL exceeds the capacity limit for this"
        " server. The request cannot be processed."
    )


class UnsupportedMediaType(HTTPException):
    code = 415
    description = "The server does not support the media type transmitted in the request."


class RequestedRangeNotSatisfiable(HTTPException):
    """416, with ``Content-Range: bytes */length`` when *length* is known.

    :param length: the size of the representation.
    :param units: the range unit.
    :param description: replaces the default description.
    :param response: a ready response to send instead.
    """

    code = 416
    description = "The server cannot provide the requested range."

    def __init__(
        self,
        length: int | None = None,
        units: str = "bytes",
        description: str | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(description, response)
        self.length = length
        self.units = units

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ, scope)
        if self.length is not None:
            headers.append(("Content-Range", f"{self.units} */{self.length}"))
        return headers


class ExpectationFailed(HTTPException):
    code = 417
    description = "The server could not meet the requirements of the Expect header"


class ImATeapot(HTTPException):
    code = 418
    description = "This server is a teapot, not a coffee machine"


class MisdirectedRequest(HTTPException):
    code = 421
    description = "The server is not able to produce a response."


class UnprocessableEntity(HTTPException):
    code = 422
    description = "The request was well-formed but was unable to be followed due to semantic errors."


class Locked(HTTPException):
    code = 423
    description = "The resource that is being accessed is locked."


class FailedDependency(HTTPException):
    code = 424
    description = (
        "The method could not be performed on the resource because the requested"
        " action depended on another action and that action failed."
    )


class PreconditionRequired(HTTPException):
    code = 428
    description = (
        'This request is required to be conditional; try using "If-Match" or "If-Unmodified-Since".'
    )


class _RetryAfter(HTTPException):
    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(description, response)
        self.retry_after = retry_after

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ, scope)
        if self.retry_after is not None:
            headers.append(("Retry-After", str(int(self.retry_after))))
        return headers


class TooManyRequests(_RetryAfter):
    code = 429
    description = "This user has exceeded an allotted request count. Try again later."


class RequestHeaderFieldsTooLarge(HTTPException):
    code = 431
    description = "One or more header fields exceeds the maximum size."


class UnavailableForLegalReasons(HTTPException):
    code = 451
    description = "Unavailable for legal reasons."


class InternalServerError(HTTPException):
    """500; :attr:`original_exception` is the unhandled error, if there was one.

    :param description: replaces the default description.
    :param response: a ready response to send instead.
    :param original_exception: the exception that caused it.
    """

    code = 500
    description = (
        "The server encountered an internal error and was unable to complete"
        " your request. Either the server is overloaded or there is an error in"
        " the application."
    )

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        original_exception: BaseException | None = None,
    ) -> None:
        super().__init__(description, response)
        self.original_exception = original_exception


class NotImplemented(HTTPException):  # the name Flask applications import
    code = 501
    description = "The server does not support the action requested by the browser."


class BadGateway(HTTPException):
    code = 502
    description = "The proxy server received an invalid response from an upstream server."


class ServiceUnavailable(_RetryAfter):
    code = 503
    description = (
        "The server is temporarily unable to service your request due to"
        " maintenance downtime or capacity problems. Please try again later."
    )


class GatewayTimeout(HTTPException):
    code = 504
    description = "The connection to an upstream server timed out."


class HTTPVersionNotSupported(HTTPException):
    code = 505
    description = "The server does not support the HTTP protocol version used in the request."


class RequestRedirect(HTTPException):
    """The routing layer asks for a permanent redirect (trailing slash, defaults).

    :param new_url: where the client should go.
    """

    code = 308

    def __init__(self, new_url: str) -> None:
        super().__init__(new_url)
        self.new_url = new_url

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        from .helpers import _redirect_response

        return _redirect_response(self.new_url, self.code or 308)


def _collect() -> dict[int, type[HTTPException]]:
    found: dict[int, type[HTTPException]] = {}
    for value in list(globals().values()):
        if (
            isinstance(value, type)
            and issubclass(value, HTTPException)
            and value.code
            and value.code >= 400
            and not value.__name__.startswith("_")
            and value is not BadRequestKeyError
        ):
            found.setdefault(value.code, value)
    return found


#: Status code to exception class, for :func:`abort` and error handler keys.
default_exceptions: dict[int, type[HTTPException]] = _collect()


def from_request_error(error: RequestError) -> HTTPException:
    """The Flask-style exception for a crosswind :class:`RequestError`.

    The short reason of *error* is not shown; the page carries the standard
    description of the status, as Flask's would.

    :param error: raised by a crosswind building block (body too large,
        malformed form, routing...).
    """
    if isinstance(error, HTTPException):
        return error
    from .. import routing

    if isinstance(error, routing.MethodNotAllowed):
        return MethodNotAllowed(list(error.allowed_methods))
    if isinstance(error, routing.RequestRedirect):
        return RequestRedirect(error.new_url)
    if isinstance(error, _FormKeyError):
        return BadRequestKeyError(getattr(error, "key", None))
    size = getattr(error, "size", None)
    if error.status_code == 416:
        return RequestedRangeNotSatisfiable(size)
    cls = default_exceptions.get(error.status_code)
    if cls is None:
        # A status without a class of its own still gets its page.
        exc = HTTPException()
        exc.code = error.status_code
        return exc
    return cls()


class Aborter:
    """Raise the exception for a status code; what :func:`abort` calls.

    :param mapping: status code to exception class (default: all of them).
    :param extra: more codes, merged into *mapping*.
    """

    def __init__(
        self,
        mapping: dict[int, type[HTTPException]] | None = None,
        extra: dict[int, type[HTTPException]] | None = None,
    ) -> None:
        self.mapping = dict(default_exceptions if mapping is None else mapping)
        if extra:
            self.mapping.update(extra)

    def __call__(self, code: int | Response, *args: Any, **kwargs: Any) -> Any:
        from .wrappers import Response

        if isinstance(code, Response):
            raise HTTPException(response=code)
        if code not in self.mapping:
            raise LookupError(f"no exception for {code!r}")
        raise self.mapping[code](*args, **kwargs)


_aborter = Aborter()


def abort(code: int | Response, *args: Any, **kwargs: Any) -> Any:
    """Raise the :class:`HTTPException` for *code* (or send a ready response).

    ``abort(404)`` raises :class:`NotFound`; ``abort(403, description="...")``
    changes the text of the page; ``abort(response)`` sends *response* as is.
    Inside an application, the application's ``aborter`` is used.

    :param code: a status code, or a response object.
    :param args: passed to the exception class.
    :param kwargs: passed to the exception class.
    :raises LookupError: for a status code without an exception class.
    """
    from .ctx import _cv_app

    app_ctx = _cv_app.get(None)
    if app_ctx is not None:
        app_ctx.app.aborter(code, *args, **kwargs)
    _aborter(code, *args, **kwargs)
