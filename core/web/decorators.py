"""Tornado's handler decorators: ``authenticated``, ``addslash``, ``removeslash``,
``stream_request_body``."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from ..redirects import is_protocol_relative
from .errors import HTTPError
from .handler import RequestHandler

__all__ = ["addslash", "authenticated", "removeslash", "stream_request_body"]

_Method = Callable[..., Awaitable[None] | None]
_HandlerClass = TypeVar("_HandlerClass", bound=type[RequestHandler])


def authenticated(method: _Method) -> _Method:
    """Require a logged-in user (``current_user``) for a verb method.

    Anonymous ``GET``/``HEAD`` requests are redirected to ``get_login_url()``
    with ``?next=<this URL>`` (unless the login URL already has a query);
    other methods are answered ``403``.

    :param method: the verb method to guard.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if not self.current_user:
            if self.request.method in ("GET", "HEAD"):
                url = self.get_login_url()
                if "?" not in url:
                    # An absolute login URL lives on another host: send it an absolute next.
                    next_url = (
                        self.request.full_url() if urlsplit(url).scheme else self.request.uri
                    )
                    url += "?" + urlencode({"next": next_url})
                self.redirect(url)
                return None
            raise HTTPError(403)
        return method(self, *args, **kwargs)

    return wrapper


def removeslash(method: _Method) -> _Method:
    """Redirect ``/foo/`` to ``/foo`` (route it with ``r"/foo/*"``).

    Only ``GET``/``HEAD`` are redirected (301); other methods get ``404``.

    :param method: the verb method.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path.rstrip("/")
                if is_protocol_relative(uri):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                if uri:  # "/" stays "/"
                    if self.request.query:
                        uri += "?" + self.request.query
                    self.redirect(uri, permanent=True)
                    return None
            else:
                raise HTTPError(404)
        return method(self, *args, **kwargs)

    return wrapper


def addslash(method: _Method) -> _Method:
    """Redirect ``/foo`` to ``/foo/`` (route it with ``r"/foo/?"``).

    Only ``GET``/``HEAD`` are redirected (301); other methods get ``404``.

    :param method: the verb method.
    """

    @functools.wraps(method)
    def wrapper(self: RequestHandler, *args: Any, **kwargs: Any) -> Awaitable[None] | None:
        if not self.request.path.endswith("/"):
            if self.request.method in ("GET", "HEAD"):
                uri = self.request.path + "/"
                if is_protocol_relative(uri):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                if self.request.query:
                    uri += "?" + self.request.query
                self.redirect(uri, permanent=True)
                return None
            raise HTTPError(404)
        return method(self, *args, **kwargs)

    return wrapper


def stream_request_body(cls: _HandlerClass) -> _HandlerClass:
    """Let a handler receive its body in pieces through ``data_received``.

    ``prepare`` runs once the head has arrived (it may change the body limit
    with ``self.request.connection.set_max_body_size(n)``); the body is then
    read only as fast as ``data_received`` (which may be ``async``) takes
    it; the verb method runs after the last piece.  ``request.body`` and body
    arguments stay empty.

    :param cls: a :class:`RequestHandler` subclass.
    :raises TypeError: for anything else.
    """
    if not (isinstance(cls, type) and issubclass(cls, RequestHandler)):
        raise TypeError("expected subclass of RequestHandler, got %r" % (cls,))
    cls._stream_request_body = True
    return cls
