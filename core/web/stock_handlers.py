"""Ready-made handlers: ``ErrorHandler``, ``RedirectHandler``, ``FallbackHandler``."""

from __future__ import annotations

import inspect
import string
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..redirects import scheme_and_netloc
from .errors import HTTPError
from .handler import RequestHandler

__all__ = ["ErrorHandler", "FallbackHandler", "RedirectHandler", "url_concat"]

_FORBIDDEN_URL_CHARS = frozenset("\x00\r\n")


def url_concat(url: str, args: dict[str, Any] | list[tuple[str, Any]] | None) -> str:
    """Append query arguments to *url*, keeping the ones it already has.

    :param url: the URL.
    :param args: a dict or a list of ``(name, value)`` pairs (values may be bytes).
    """
    if not args:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(args.items() if isinstance(args, dict) else args)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class ErrorHandler(RequestHandler):
    """Answer every request with ``status_code`` (the application's 404 handler).

    :param status_code: the status to send.
    """

    def initialize(self, status_code: int) -> None:  # type: ignore[override]
        self.set_status(status_code)

    def prepare(self) -> None:
        raise HTTPError(self._status_code)

    def check_xsrf_cookie(self) -> None:
        # A POST to a missing page changes nothing, so it gets its 404 rather than a 403.
        pass

    def check_trusted_origin(self, origin: str) -> bool:
        return True


class RedirectHandler(RequestHandler):
    """Redirect ``GET`` requests to ``url``, formatted with the route's groups.

    ``(r"/(.*?)/(.*?)/(.*)", RedirectHandler, {"url": "/{1}/{0}/{2}"})`` sends
    ``/a/b/c`` to ``/b/a/c``.  The request's query arguments are carried
    over.  Substituted values may not change the scheme or host of the
    target (``/{0}`` with ``/evil.example`` would make ``//evil.example``):
    such requests get ``400``.

    :param url: the target, a :meth:`str.format` template.
    :param permanent: 301 (the default) rather than 302.
    """

    def initialize(self, url: str, permanent: bool = True) -> None:  # type: ignore[override]
        self._url = url
        self._permanent = permanent

    def get(self, *args: Any, **kwargs: Any) -> None:
        target = self._url.format(*args, **kwargs)
        # The scheme and host must come from the template text before the
        # first substitution; formatting with a placeholder cannot tell,
        # since the placeholder itself could form a host.
        prefix = ""
        substituted = False
        for literal, field, _, _ in string.Formatter().parse(self._url):
            prefix += literal
            if field is not None:
                substituted = True
                break
        try:
            if self.request.query_arguments:
                target = url_concat(
                    target,
                    [
                        (name, value)
                        for name, values in self.request.query_arguments.items()
                        for value in values
                    ],
                )
            scheme, netloc = scheme_and_netloc(prefix)
            unchanged = scheme_and_netloc(target) == (scheme, netloc)
            if substituted and scheme in ("http", "https") and not netloc:
                unchanged = False
        except ValueError:
            unchanged = False
        if not unchanged:
            raise HTTPError(400, "Redirect URL cannot change the scheme or netloc")
        if _FORBIDDEN_URL_CHARS.intersection(target):
            raise HTTPError(400, "Redirect URL contains invalid characters")
        self.redirect(target, permanent=self._permanent)


_CONTAINERS: dict[int, tuple[Any, Any]] = {}


def _as_application(fallback: Any) -> Any:
    """Wrap a WSGI or ASGI callable in the matching adapter (once per object)."""
    if hasattr(fallback, "handle"):
        return fallback
    cached = _CONTAINERS.get(id(fallback))
    if cached is not None and cached[0] is fallback:
        return cached[1]
    call = fallback.__call__ if callable(fallback) else None
    is_asgi = inspect.iscoroutinefunction(fallback) or inspect.iscoroutinefunction(call)
    # Imported here: the adapters load threads and event loops the core must not.
    import crosswind.adapters as adapters

    container = adapters.ASGIContainer(fallback) if is_asgi else adapters.WSGIContainer(fallback)
    _CONTAINERS[id(fallback)] = (fallback, container)
    return container


class FallbackHandler(RequestHandler):
    """Hand the request to another application: a crosswind one (anything
    with ``async handle(exchange)``), or a WSGI or ASGI callable through
    :mod:`crosswind.adapters`.

    ``(r".*", FallbackHandler, {"fallback": flask_app})`` serves everything the
    routes above it do not.  The request body is left for the fallback to read.

    :param fallback: the application.
    """

    _raw_exchange = True

    def initialize(self, fallback: Any) -> None:  # type: ignore[override]
        self.fallback = fallback

    async def prepare(self) -> None:
        exchange = self.request.exchange
        if exchange is None:
            raise RuntimeError("FallbackHandler needs a request served over a connection")
        self._finished = True
        await _as_application(self.fallback).handle(exchange)
        self.on_finish()
