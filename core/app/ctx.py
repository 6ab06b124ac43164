"""Application and request contexts, on :mod:`contextvars`.

Flask code reaches the current application, request and session through
module-level names (``current_app``, ``request``, ``session``, ``g``).  Here
those names are proxies that look the object up in a :class:`~contextvars.ContextVar`
on every use.  Each asyncio task, trio task and thread has its own context,
so concurrent requests on any backend never see each other's objects.

Pushing a context stores a token; popping resets to it.  A context may be
pushed more than once (``stream_with_context`` does this) and its teardown
runs only when the last push is popped.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from . import signals

if TYPE_CHECKING:
    from .app import App, URLAdapter
    from .sessions import SessionMixin
    from .wrappers import Request, Response

__all__ = [
    "AppContext",
    "RequestContext",
    "after_this_request",
    "app_ctx",
    "copy_current_request_context",
    "current_app",
    "g",
    "has_app_context",
    "has_request_context",
    "request",
    "request_ctx",
    "session",
]

F = TypeVar("F", bound=Callable[..., Any])

_cv_app: contextvars.ContextVar[AppContext] = contextvars.ContextVar("crosswind.app_ctx")
_cv_request: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "crosswind.request_ctx"
)

_NO_APP = """\
Working outside of application context.

Something needed the current application but none is active.  Push one
with ``with app.app_context():`` (tests, scripts) or use it inside a view."""

_NO_REQUEST = """\
Working outside of request context.

Something needed the current request but none is active.  Use it inside a
view, or push one with ``with app.test_request_context():`` in tests."""

_SENTINEL: Any = object()
#: A request context's URL adapter not made yet.
_UNBOUND: Any = object()


class _AppCtxGlobals:
    """The ``g`` object: a namespace that lives as long as the app context."""

    def get(self, name: str, default: Any = None) -> Any:
        """Return attribute *name*, or *default*.

        :param name: the attribute.
        :param default: returned when it is not set.
        """
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: Any = _SENTINEL) -> Any:
        """Remove attribute *name* and return its value.

        :param name: the attribute.
        :param default: returned when it is not set; without it, :class:`KeyError`.
        """
        if default is _SENTINEL:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        """Return attribute *name*, setting it to *default* first if it is missing.

        :param name: the attribute.
        :param default: the value to set.
        """
        return self.__dict__.setdefault(name, default)

    def __contains__(self, item: str) -> bool:
        return item in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        ctx = _cv_app.get(None)
        if ctx is not None:
            return f"<crosswind.g of '{ctx.app.name}'>"
        return object.__repr__(self)


class AppContext:
    """Makes ``current_app`` and ``g`` point at *app* while it is pushed.

    :param app: the application.
    """

    def __init__(self, app: App) -> None:
        self.app = app
        # Bound on first use: the context a request pushes seldom builds a URL
        # outside that request (deliberately lazy, see bench/NOTES.md).
        self._url_adapter: URLAdapter | None = _SENTINEL
        # The stock namespace is made when first used; another class, whose
        # constructor may do more, when the context is made, as ever.
        globals_class = app.app_ctx_globals_class
        self._g: _AppCtxGlobals | None = None if globals_class is _AppCtxGlobals else globals_class()
        self._cv_tokens: list[contextvars.Token[AppContext]] = []

    @property
    def g(self) -> _AppCtxGlobals:
        """The namespace of this context (``flask.g``), made on first use: most
        requests never touch it (deliberately lazy, see bench/NOTES.md)."""
        g = self._g
        if g is None:
            g = self._g = self.app.app_ctx_globals_class()
        return g

    @g.setter
    def g(self, value: _AppCtxGlobals) -> None:
        self._g = value

    @property
    def url_adapter(self) -> URLAdapter | None:
        """The URL map bound to ``SERVER_NAME`` (``None`` without it)."""
        adapter = self._url_adapter
        if adapter is _SENTINEL:
            adapter = self._url_adapter = self.app.create_url_adapter(None)
        return adapter

    @url_adapter.setter
    def url_adapter(self, value: URLAdapter | None) -> None:
        self._url_adapter = value

    def push(self) -> None:
        """Make this the current application context."""
        self._cv_tokens.append(_cv_app.set(self))
        if signals.appcontext_pushed._receivers:  # see App.full_dispatch_request
            signals.appcontext_pushed.send(self.app)

    def pop(self, exc: BaseException | None = _SENTINEL) -> None:
        """Undo the last :meth:`push`; the last pop runs the teardown functions.

        :param exc: the exception that ended the context, if any.
        """
        try:
            if len(self._cv_tokens) == 1 and (
                # Nothing to tear down, nothing called (see bench/NOTES.md).
                self.app.teardown_appcontext_funcs
                or signals.appcontext_tearing_down._receivers
                or not self.app._plain_teardown
            ):
                if exc is _SENTINEL:
                    exc = sys.exc_info()[1]
                self.app.do_teardown_appcontext(exc)
        finally:
            current = _cv_app.get(None)
            _cv_app.reset(self._cv_tokens.pop())
        if current is not self:
            raise AssertionError(f"Popped wrong app context ({current!r} instead of {self!r})")
        if signals.appcontext_popped._receivers:
            signals.appcontext_popped.send(self.app)

    def __enter__(self) -> AppContext:
        self.push()
        return self

    def __exit__(self, exc_type: Any, exc_value: BaseException | None, tb: Any) -> None:
        self.pop(exc_value)


class RequestContext:
    """Makes ``request`` and ``session`` point at one request while pushed.

    Pushing it also pushes an application context for its app if none is
    active, opens the session and matches the URL.

    :param app: the application.
    :param request: the request.
    :param session: an already open session to reuse (for copies).
    """

    def __init__(
        self, app: App, request: Request, session: SessionMixin | None = None
    ) -> None:
        self.app = app
        self.request = request
        config = app.config
        if (
            app._plain_url_adapter
            and config["TRUSTED_HOSTS"] is None
            and not app.url_map.host_matching
            and not (app.subdomain_matching and config["SERVER_NAME"])
        ):
            # Nothing to check against the host and nothing to match on it: the
            # adapter is made when something asks for it, and push matches the
            # path without it when the map remembers the match (see bench/NOTES.md).
            self._url_adapter: URLAdapter | None = _UNBOUND
        else:
            self._url_adapter = None
            try:
                self._url_adapter = app.create_url_adapter(request)
            except Exception as error:  # an HTTPException from the host check
                request.routing_exception = error
        self.flashes: list[Any] | None = None
        self._session: SessionMixin | None = session
        #: Pushed without opening the session, which the view has not read yet.
        self._session_deferred = False
        self._after_request_functions: list[Callable[[Response], Any]] = []
        self._cv_tokens: list[tuple[contextvars.Token[RequestContext], AppContext | None]] = []

    #: Whether the class keeps RequestContext's own match_request (set per class).
    _plain_match = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_match = cls.match_request is RequestContext.match_request

    @property
    def url_adapter(self) -> URLAdapter | None:
        """The URL map bound to this request (``None`` when its host was refused)."""
        adapter = self._url_adapter
        if adapter is _UNBOUND:
            adapter = self._url_adapter = self.app.create_url_adapter(self.request)
        return adapter

    @url_adapter.setter
    def url_adapter(self, value: URLAdapter | None) -> None:
        self._url_adapter = value

    def copy(self) -> RequestContext:
        """A new context for the same request and session (for another task)."""
        # Opened now if deferred, so that both contexts share one session object.
        session = self._open_session() if self._session_deferred else self._session
        return type(self)(self.app, self.request, session)

    @property
    def session(self) -> SessionMixin:
        """The session; reading it marks it accessed (so responses vary on
        ``Cookie``), as Flask does."""
        session = self._session
        if session is None:
            if not self._session_deferred:
                raise RuntimeError("The session has not yet been opened.")
            session = self._open_session()
        session.accessed = True
        return session

    def _open_session(self) -> SessionMixin:
        interface = self.app.session_interface
        session = interface.open_session(self.app, self.request)
        if session is None:
            session = interface.make_null_session(self.app)
        self._session = session
        self._session_deferred = False
        return session

    def match_request(self) -> None:
        """Match the URL: sets ``request.url_rule`` and ``view_args``, or
        ``request.routing_exception``."""
        assert self.url_adapter is not None
        try:
            rule, view_args = self.url_adapter.match(return_rule=True)
        except Exception as error:
            self.request.routing_exception = error
        else:
            self.request.url_rule = rule
            self.request.view_args = view_args

    def push(self) -> None:
        """Make this the current request context."""
        app = self.app
        app_ctx = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not app:
            app_ctx = AppContext(app) if app._plain_contexts else app.app_context()
            app_ctx.push()
        else:
            app_ctx = None
        self._cv_tokens.append((_cv_request.set(self), app_ctx))
        if self._session is None:
            # The stock interface opens an empty session for a request without
            # cookies and saves nothing for it untouched: that one is opened only
            # when the view reads it (see bench/NOTES.md).
            if self.app.session_interface._plain and not self.request._header_values(b"cookie"):
                self._session_deferred = True
            else:
                self._open_session()
        req = self.request
        if req.url_rule is None:
            adapter = self._url_adapter
            if adapter is _UNBOUND and self._plain_match:
                url_map = app.url_map
                found = url_map.remembered(req.path, req.method, url_map.default_subdomain or "")
                if found is not None:
                    req.url_rule, req.view_args = found
                else:
                    self.match_request()
            elif adapter is not None:
                self.match_request()

    def pop(self, exc: BaseException | None = _SENTINEL) -> None:
        """Undo the last :meth:`push`; the last pop runs the teardown functions.

        :param exc: the exception that ended the request, if any.
        """
        last = len(self._cv_tokens) == 1
        try:
            if last:
                app = self.app
                if exc is _SENTINEL:
                    exc = sys.exc_info()[1]
                # Nothing to tear down, nothing called (see bench/NOTES.md).
                if (
                    app.teardown_request_funcs
                    or signals.request_tearing_down._receivers
                    or not app._plain_teardown
                ):
                    app.do_teardown_request(exc)
                request = self.request
                # Nothing uploaded, nothing to close (see bench/NOTES.md).
                if request._files is not None or not request._plain_close:
                    request.close()
        finally:
            current = _cv_request.get(None)
            token, app_ctx = self._cv_tokens.pop()
            _cv_request.reset(token)
            if app_ctx is not None:
                app_ctx.pop(exc)
        if current is not self:
            raise AssertionError(f"Popped wrong request context ({current!r} instead of {self!r})")

    def __enter__(self) -> RequestContext:
        self.push()
        return self

    def __exit__(self, exc_type: Any, exc_value: BaseException | None, tb: Any) -> None:
        self.pop(exc_value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.url!r} [{self.request.method}] of {self.app.name}>"


class _Proxy:
    """Forwards everything to the object a context variable currently holds."""

    __slots__ = ("__cv", "__get", "__message")

    def __init__(
        self,
        cv: contextvars.ContextVar[Any],
        get: Callable[[Any], Any] | None,
        message: str,
    ) -> None:
        object.__setattr__(self, "_Proxy__cv", cv)
        object.__setattr__(self, "_Proxy__get", get)
        object.__setattr__(self, "_Proxy__message", message)

    def _get_current_object(self) -> Any:
        """The real object behind the proxy.

        :raises RuntimeError: no context is active.
        """
        ctx = self.__cv.get(None)
        if ctx is None:
            raise RuntimeError(self.__message)
        return ctx if self.__get is None else self.__get(ctx)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: F811 - lets isinstance() see the target's type
        try:
            return type(self._get_current_object())
        except RuntimeError:
            return _Proxy

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get_current_object(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get_current_object(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._get_current_object(), name)

    def __getitem__(self, key: Any) -> Any:
        return self._get_current_object()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._get_current_object()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._get_current_object()[key]

    def __contains__(self, item: Any) -> bool:
        return item in self._get_current_object()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._get_current_object())

    def __len__(self) -> int:
        return len(self._get_current_object())

    def __bool__(self) -> bool:
        try:
            return bool(self._get_current_object())
        except RuntimeError:
            return False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_current_object()(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return bool(self._get_current_object() == other)

    def __ne__(self, other: object) -> bool:
        return bool(self._get_current_object() != other)

    def __hash__(self) -> int:
        return hash(self._get_current_object())

    def __str__(self) -> str:
        return str(self._get_current_object())

    def __repr__(self) -> str:
        try:
            return repr(self._get_current_object())
        except RuntimeError:
            return f"<unbound {self.__cv.name} proxy>"

    def __dir__(self) -> list[str]:
        try:
            return dir(self._get_current_object())
        except RuntimeError:
            return []


#: The application handling the current request (or with a pushed app context).
current_app: App = _Proxy(_cv_app, lambda ctx: ctx.app, _NO_APP)  # type: ignore[assignment]
#: A namespace for data during one application context (one request).
g: _AppCtxGlobals = _Proxy(_cv_app, lambda ctx: ctx.g, _NO_APP)  # type: ignore[assignment]
#: The current request.
request: Request = _Proxy(_cv_request, lambda ctx: ctx.request, _NO_REQUEST)  # type: ignore[assignment]
#: The current session.
session: SessionMixin = _Proxy(_cv_request, lambda ctx: ctx.session, _NO_REQUEST)  # type: ignore[assignment]
#: The current :class:`RequestContext`.
request_ctx: RequestContext = _Proxy(_cv_request, None, _NO_REQUEST)  # type: ignore[assignment]
#: The current :class:`AppContext`.
app_ctx: AppContext = _Proxy(_cv_app, None, _NO_APP)  # type: ignore[assignment]


def has_app_context() -> bool:
    """Whether an application context is active."""
    return _cv_app.get(None) is not None


def has_request_context() -> bool:
    """Whether a request context is active."""
    return _cv_request.get(None) is not None


def after_this_request(f: F) -> F:
    """Run *f(response)* after the current request, before ``after_request`` hooks.

    :param f: takes the response and returns it (or a replacement).
    :raises RuntimeError: outside a request.
    """
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'after_this_request' can only be used when a request context is active,"
            " such as in a view function."
        )
    ctx._after_request_functions.append(f)
    return f


def copy_current_request_context(f: F) -> F:
    """Wrap *f* so it runs with (a copy of) the current request context.

    For work that continues in another task or thread after the view returns;
    ``async def`` functions stay coroutine functions.

    :param f: the function to wrap.
    :raises RuntimeError: outside a request.
    """
    current = _cv_request.get(None)
    if current is None:
        raise RuntimeError(
            "'copy_current_request_context' can only be used when a request context is"
            " active, such as in a view function."
        )
    ctx = current.copy()

    if inspect.iscoroutinefunction(f):

        @functools.wraps(f)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with ctx:
                return await f(*args, **kwargs)

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with ctx:
            return f(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
