"""Tornado's ``tornado.web`` API on crosswind: change the import, keep the code.

``from tornado.web import Application, RequestHandler`` becomes
``from crosswind.web import Application, RequestHandler``; the application
then runs on any crosswind backend.  The pieces live in modules named for
their job and are gathered here:

* :mod:`crosswind.application` -- :class:`Application`
* :mod:`crosswind.request_handler` -- :class:`RequestHandler`
* :mod:`crosswind.web_request` -- :class:`HTTPServerRequest` (``self.request``)
* :mod:`crosswind.web_errors` -- :class:`HTTPError`, :class:`MissingArgumentError`, :class:`Finish`
* :mod:`crosswind.decorators` -- :func:`authenticated`, :func:`addslash`,
  :func:`removeslash`, :func:`stream_request_body`
* :mod:`crosswind.static` -- :class:`StaticFileHandler`
* :mod:`crosswind.stock_handlers` -- :class:`ErrorHandler`, :class:`RedirectHandler`,
  :class:`FallbackHandler`
* :mod:`crosswind.templates` -- Jinja2 templates, :class:`UIModule`
* :mod:`crosswind.output_transforms` -- :class:`OutputTransform`, :class:`GZipContentEncoding`
* :mod:`crosswind.web_sessions` -- ``self.session`` stores
* :mod:`crosswind.web_registry` -- :func:`route` and :func:`make_app`
"""

from __future__ import annotations

from .application import Application, HandlerDelegate
from .decorators import addslash, authenticated, removeslash, stream_request_body
from .iostream import DetachedIOStream, StreamClosedError
from .output_transforms import GZipContentEncoding, OutputTransform
from .request_handler import RequestHandler
from .routing import URLSpec, url
from .signing import create_signed_value, decode_signed_value, get_signature_key_version
from .static import StaticFileHandler
from .stock_handlers import ErrorHandler, FallbackHandler, RedirectHandler
from .templates import TemplateModule, UIModule
from .web_errors import Finish, HTTPError, MissingArgumentError
from .web_registry import RouteRegistry, make_app, route
from .web_request import HTTPFile, HTTPServerRequest
from .web_sessions import MemorySessionStore, Session, SignedCookieSessionStore

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
