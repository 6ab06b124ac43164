"""Tornado's ``tornado.web`` API on crosswind: change the import, keep the code.

``from tornado.web import Application, RequestHandler`` becomes
``from crosswind.web import Application, RequestHandler``; the application
then runs on any crosswind backend.  The pieces live in modules named for
their job and are gathered here:

* :mod:`crosswind.web.application` -- :class:`Application`
* :mod:`crosswind.web.handler` -- :class:`RequestHandler`
* :mod:`crosswind.web.request` -- :class:`HTTPServerRequest` (``self.request``)
* :mod:`crosswind.web.errors` -- :class:`HTTPError`, :class:`MissingArgumentError`, :class:`Finish`
* :mod:`crosswind.web.decorators` -- :func:`authenticated`, :func:`addslash`,
  :func:`removeslash`, :func:`stream_request_body`
* :mod:`crosswind.web.static` -- :class:`StaticFileHandler`
* :mod:`crosswind.web.stock_handlers` -- :class:`ErrorHandler`, :class:`RedirectHandler`,
  :class:`FallbackHandler`
* :mod:`crosswind.web.templates` -- :class:`UIModule` and the template engines
  (:mod:`crosswind.template`, Tornado's language, by default; Jinja2 on request)
* :mod:`crosswind.web.transforms` -- :class:`OutputTransform`, :class:`GZipContentEncoding`
* :mod:`crosswind.web.sessions` -- ``self.session`` stores
* :mod:`crosswind.web.registry` -- :func:`route` and :func:`make_app`
* :mod:`crosswind.web.iostream` -- the stream of a detached connection
* :mod:`crosswind.web.autoreload` -- restarting the process when a module changes

The contract: this layer builds on the building blocks, the protocol
(:class:`~crosswind.protocol.exchange.Exchange`), routing and serving
(:meth:`Application.listen`).  It never imports the Flask-style layer
(:mod:`crosswind.app`), nor a runtime; :mod:`crosswind.mount` serves both
models side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .. import signing
from ..routing import URLSpec, url
from ..signing import SecretType, get_signature_key_version
from .application import Application, HandlerDelegate
from .decorators import addslash, authenticated, removeslash, stream_request_body
from .errors import Finish, HTTPError, MissingArgumentError
from .handler import RequestHandler
from .iostream import DetachedIOStream, StreamClosedError
from .registry import RouteRegistry, make_app, route
from .request import HTTPFile, HTTPServerRequest
from .sessions import MemorySessionStore, Session, SignedCookieSessionStore
from .static import StaticFileHandler
from .stock_handlers import ErrorHandler, FallbackHandler, RedirectHandler
from .templates import TemplateModule, UIModule
from .transforms import GZipContentEncoding, OutputTransform

__all__ = [
    "Application",
    "DetachedIOStream",
    "ErrorHandler",
    "FallbackHandler",
    "Finish",
    "GZipContentEncoding",
    "HTTPError",
    "HTTPFile",
    "HTTPServerRequest",
    "HandlerDelegate",
    "MemorySessionStore",
    "MissingArgumentError",
    "OutputTransform",
    "RedirectHandler",
    "RequestHandler",
    "RouteRegistry",
    "Session",
    "SignedCookieSessionStore",
    "StaticFileHandler",
    "StreamClosedError",
    "TemplateModule",
    "UIModule",
    "URLSpec",
    "addslash",
    "authenticated",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
    "make_app",
    "removeslash",
    "route",
    "stream_request_body",
    "url",
]


def create_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes,
    version: int | None = None,
    clock: Callable[[], float] | None = None,
    key_version: int | None = None,
) -> bytes:
    """Sign and timestamp *value* for *name*, with Tornado's signature.

    :param secret: the key, or a dict of key versions.
    :param name: the name the value is bound to.
    :param value: the payload.
    :param version: signature format 1 or 2 (the default).
    :param clock: POSIX seconds (default :func:`time.time`).
    :param key_version: the key to use from a dict *secret*.
    """
    return signing.create_signed_value(
        secret, name, value, version=version or 2, clock=clock or time.time, key_version=key_version
    )


def decode_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes | None,
    max_age_days: float = 31,
    clock: Callable[[], float] | None = None,
    min_version: int | None = None,
) -> bytes | None:
    """The payload of a signed value if it is valid and fresh, else ``None`` (Tornado's signature).

    :param secret: the key, or a dict of key versions.
    :param name: the name the value must be bound to.
    :param value: the signed value.
    :param max_age_days: older signatures are refused.
    :param clock: POSIX seconds (default :func:`time.time`).
    :param min_version: refuse older formats.
    """
    return signing.decode_signed_value(
        secret,
        name,
        value,
        max_age_days=max_age_days,
        clock=clock or time.time,
        min_version=min_version,
    )
