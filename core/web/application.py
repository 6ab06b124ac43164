"""Tornado's ``Application``: routes, settings, and serving each request with a handler.

An :class:`Application` is a crosswind application (it has
``async handle(exchange)``), so any backend serves it.  For each request it
finds the handler class (virtual hosts first, then the routes for every
host, then ``default_host``; otherwise ``default_handler_class`` or a 404),
reads the body unless the handler streams it, and runs the handler.

Settings keep Tornado's meaning (see ``docs/porting-from-tornado.md``); two
are crosswind's own: ``clock`` (POSIX seconds, default :func:`time.time`) and
``token_source`` (random bytes, default :func:`os.urandom`), through which
every timestamp and random token of the web layer is made.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..httpdate import DateCache
from ..protocol.exchange import Exchange
from ..routing import HostRouter, URLSpec
from ..serving.entrypoints import ServerEntryPoints
from .handler import RequestHandler
from .request import HTTPServerRequest
from .sessions import Session, SignedCookieSessionStore
from .static import StaticFileHandler
from .stock_handlers import ErrorHandler
from .templates import BUILTIN_UI_MODULES, TEMPLATE_ENGINES, Jinja2Loader, UIModule
from .transforms import GZipContentEncoding, OutputTransform

__all__ = ["Application", "HandlerDelegate"]

# Not "crosswind.access": the server has its own access log there, and one can be
# silenced without the other.
access_log = logging.getLogger("crosswind.web.access")


@dataclass
class HandlerDelegate:
    """What :meth:`Application.find_handler` found for a request.

    :param handler_class: the handler to run.
    :param handler_kwargs: its ``initialize`` arguments.
    :param path_args: percent-decoded bytes of unnamed groups.
    :param path_kwargs: percent-decoded bytes of named groups.
    """

    handler_class: type[RequestHandler]
    handler_kwargs: dict[str, Any] = field(default_factory=dict)
    path_args: list[bytes | None] = field(default_factory=list)
    path_kwargs: dict[str, bytes | None] = field(default_factory=dict)


def _import_object(name: str) -> Any:
    module_name, _, attribute = name.rpartition(".")
    if not module_name:
        return importlib.import_module(name)
    return getattr(importlib.import_module(module_name), attribute)


def _as_specs(handlers: Iterable[Any]) -> list[URLSpec]:
    specs = []
    for entry in handlers:
        if isinstance(entry, URLSpec):
            specs.append(entry)
            continue
        if not isinstance(entry, tuple | list) or not 2 <= len(entry) <= 4:
            raise TypeError(
                "a route must be a URLSpec or a (pattern, handler[, kwargs[, name]]) tuple, "
                f"not {entry!r}"
            )
        pattern, handler, *rest = entry
        if isinstance(handler, str):
            handler = _import_object(handler)
        if not (isinstance(handler, type) and issubclass(handler, RequestHandler)):
            raise TypeError(f"the target of route {pattern!r} must be a RequestHandler subclass")
        specs.append(URLSpec(pattern, handler, *rest))
    return specs


class Application(ServerEntryPoints):
    """A web application: routes plus settings.

    :param handlers: routes, as ``(pattern, handler_class[, kwargs[, name]])``
        tuples or :class:`~crosswind.routing.tables.URLSpec` objects (``url(...)``);
        the handler may be given by dotted name.
    :param default_host: the host whose :meth:`add_handlers` table serves
        requests no other host table takes.
    :param transforms: output transform classes (default: gzip when
        ``compress_response`` is set).
    :param settings: application settings (``debug``, ``cookie_secret``,
        ``template_path``, ``static_path``, ``xsrf_cookies``, ...).
    """

    #: Neither find_handler() nor get_handler_delegate() is overridden.
    _default_routing: ClassVar[bool] = True

    def __init__(
        self,
        handlers: Iterable[Any] | None = None,
        default_host: str | None = None,
        transforms: list[type[OutputTransform]] | None = None,
        **settings: Any,
    ) -> None:
        if transforms is None:
            self.transforms: list[type[OutputTransform]] = []
            if settings.get("compress_response") or settings.get("gzip"):
                self.transforms.append(GZipContentEncoding)
        else:
            self.transforms = list(transforms)
        self.default_host = default_host
        self.settings = settings
        #: POSIX seconds; every Date header, cookie expiry and signature uses it.
        self.clock: Callable[[], float] = settings.get("clock") or time.time
        #: Random bytes for XSRF tokens, session ids and multipart boundaries.
        self.token_source: Callable[[int], bytes] = settings.get("token_source") or os.urandom
        #: ``"tornado"`` (:mod:`crosswind.template`) or ``"jinja2"``: the
        #: ``template_engine`` setting, else Jinja2 when ``template_loader`` is
        #: a Jinja2 loader, else Tornado's language.
        self.template_engine: str = _template_engine(settings)
        self.ui_modules: dict[str, type[UIModule]] = dict(BUILTIN_UI_MODULES)
        self.ui_methods: dict[str, Callable[..., Any]] = {}
        self._load_ui_modules(settings.get("ui_modules", {}))
        self._load_ui_methods(settings.get("ui_methods", {}))
        routes = list(handlers or [])
        if settings.get("static_path"):
            prefix = settings.get("static_url_prefix", "/static/")
            static_class = settings.get("static_handler_class", StaticFileHandler)
            static_args = dict(settings.get("static_handler_args", {}))
            static_args["path"] = settings["static_path"]
            for pattern in (re.escape(prefix) + r"(.*)", r"/(favicon\.ico)", r"/(robots\.txt)"):
                routes.insert(0, (pattern, static_class, static_args))
        if settings.get("debug"):
            settings.setdefault("autoreload", True)
            settings.setdefault("compiled_template_cache", False)
            settings.setdefault("static_hash_cache", False)
            settings.setdefault("serve_traceback", True)
        self.router = HostRouter(_as_specs(routes), default_host)
        self.session_store = settings.get("session_store") or SignedCookieSessionStore()
        self._template_loaders: dict[str, Any] = {}
        # The Date of every handler's response, formatted once per second.
        self._dates = DateCache(self.clock)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # handle() skips both hooks, whose work it does inline, unless a subclass
        # overrides one of them.
        cls._default_routing = (
            cls.find_handler is Application.find_handler
            and cls.get_handler_delegate is Application.get_handler_delegate
        )

    # -- configuration ----------------------------------------------------

    def add_handlers(self, host_pattern: str, host_handlers: Iterable[Any]) -> None:
        """Add routes for the hosts matching *host_pattern* (tried in the order added).

        :param host_pattern: a regex for the host name (``$`` is appended).
        :param host_handlers: routes as for the constructor.
        """
        self.router.add_handlers(host_pattern, _as_specs(host_handlers))

    def add_transform(self, transform_class: type[OutputTransform]) -> None:
        """Apply *transform_class* to every response.

        :param transform_class: an :class:`OutputTransform` subclass.
        """
        self.transforms.append(transform_class)

    def _load_ui_methods(self, methods: Any) -> None:
        if isinstance(methods, types.ModuleType):
            self._load_ui_methods({name: getattr(methods, name) for name in dir(methods)})
        elif isinstance(methods, list):
            for item in methods:
                self._load_ui_methods(item)
        else:
            for name, function in methods.items():
                if not name.startswith("_") and callable(function) and name[0].islower():
                    self.ui_methods[name] = function

    def _load_ui_modules(self, modules: Any) -> None:
        if isinstance(modules, types.ModuleType):
            self._load_ui_modules({name: getattr(modules, name) for name in dir(modules)})
        elif isinstance(modules, list):
            for item in modules:
                self._load_ui_modules(item)
        else:
            for name, cls in modules.items():
                if isinstance(cls, type) and issubclass(cls, UIModule):
                    self.ui_modules[name] = cls

    # -- routing ----------------------------------------------------------

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HandlerDelegate:
        """The handler for *request*: a route, else ``default_handler_class``, else 404.

        :param request: the request.
        """
        # X-Real-Ip matters only with a default host, so only then is it looked up
        # (deliberate: see bench/NOTES.md).
        found = self.router.find(
            request.path,
            request.host,
            x_real_ip=self.router.default_host is not None
            and request._header("X-Real-Ip") is not None,
        )
        if found is not None:
            # The spec's attributes directly, not through two properties (hot path,
            # see bench/NOTES.md).
            spec = found.spec
            return self.get_handler_delegate(
                request,
                spec.handler,
                spec.kwargs,
                list(found.raw_path_args),
                dict(found.raw_path_kwargs),
            )
        return self._fallback_delegate(request)

    def _fallback_delegate(self, request: HTTPServerRequest) -> HandlerDelegate:
        # What serves a request no route matches.
        if self.settings.get("default_handler_class"):
            return self.get_handler_delegate(
                request,
                self.settings["default_handler_class"],
                self.settings.get("default_handler_args", {}),
            )
        return self.get_handler_delegate(request, ErrorHandler, {"status_code": 404})

    def get_handler_delegate(
        self,
        request: HTTPServerRequest,
        target_class: type[RequestHandler],
        target_kwargs: dict[str, Any] | None = None,
        path_args: list[bytes | None] | None = None,
        path_kwargs: dict[str, bytes | None] | None = None,
    ) -> HandlerDelegate:
        """A delegate that serves *request* with *target_class* (Tornado's hook for routers).

        :param request: the request.
        :param target_class: the handler class.
        :param target_kwargs: its ``initialize`` arguments.
        :param path_args: positional arguments for the verb method (bytes).
        :param path_kwargs: keyword arguments for the verb method (bytes).
        """
        # Fresh containers (a handler may change what it gets), but no copies
        # of empty ones (hot path, see bench/NOTES.md).
        return HandlerDelegate(
            target_class,
            dict(target_kwargs) if target_kwargs else {},
            list(path_args) if path_args else [],
            dict(path_kwargs) if path_kwargs else {},
        )

    def reverse_url(self, name: str, *args: Any) -> str:
        """The path of the route called *name*, with *args* in its groups.

        :param name: the route's name.
        :param args: one value per group (percent-encoded on the way in).
        :raises KeyError: no route has that name.
        """
        return self.router.reverse_url(name, *args)

    # -- serving ----------------------------------------------------------

    async def handle(self, exchange: Exchange) -> None:
        """Serve one request (the crosswind application interface).

        :param exchange: the request being served.
        """
        # The settings below are looked up only when present (their defaults ask
        # for nothing), with no call to get(); from_exchange() is called with
        # positional arguments (a call with keywords costs more; see bench/NOTES.md).
        settings = self.settings
        request = HTTPServerRequest.from_exchange(
            exchange, self.clock, "xheaders" in settings and settings["xheaders"]
        )
        # find_handler() and get_handler_delegate() as written below, inline: no
        # calls, and no delegate built, for a request that a route matches.
        found = None
        if self._default_routing:
            router = self.router
            if router.hosts:
                found = router.find(
                    request.path,
                    request.host,
                    x_real_ip=router.default_host is not None
                    and request._header("X-Real-Ip") is not None,
                )
            else:
                # Without host tables the router has only the table for every host to
                # search: searched here, a call less (see bench/NOTES.md).
                found = router.wildcard.find(request.path)
        if found is not None:
            spec = found.spec
            handler_class: type[RequestHandler] = spec.handler
            handler_kwargs: Mapping[str, Any] = spec.kwargs  # ** below copies it
            path_args: Sequence[bytes | None] = found.raw_path_args
            path_kwargs: Mapping[str, bytes | None] = found.raw_path_kwargs
        else:
            if self._default_routing:
                delegate = self._fallback_delegate(request)
            else:
                delegate = self.find_handler(request)
            handler_class = delegate.handler_class
            handler_kwargs = delegate.handler_kwargs
            path_args = delegate.path_args
            path_kwargs = delegate.path_kwargs
        # Only loaders made so far can hold compiled templates (no lookup without any).
        if self._template_loaders and not settings.get("compiled_template_cache", True):
            for loader in self._template_loaders.values():
                reset = getattr(loader, "reset", None)
                if reset is not None:
                    reset()
        if "static_hash_cache" in settings and not settings["static_hash_cache"]:
            settings.get("static_handler_class", StaticFileHandler).reset()
        if not (
            handler_class._stream_request_body
            or handler_class._raw_exchange
            or exchange.body_complete
        ):
            request.body = await exchange.read_body()
        # No ** of an empty mapping, which copies it.
        handler = (
            handler_class(self, request, **handler_kwargs)
            if handler_kwargs
            else handler_class(self, request)
        )
        # An empty comprehension still costs a call (see bench/NOTES.md).
        transforms = [transform(request) for transform in self.transforms] if self.transforms else ()
        # No * of an empty sequence: a call with one costs more (see bench/NOTES.md).
        if path_kwargs:
            await handler._execute(transforms, *path_args, **path_kwargs)
        elif path_args:
            await handler._execute(transforms, *path_args)
        else:
            await handler._execute(transforms)

    def log_request(self, handler: RequestHandler) -> None:
        """Log a finished request (the ``log_function`` setting replaces this).

        :param handler: the handler that served it.
        """
        if "log_function" in self.settings:
            self.settings["log_function"](handler)
            return
        # The status without a call, unless the handler class overrides get_status().
        status = handler.get_status() if handler._calls_get_status else handler._status_code
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        if access_log.isEnabledFor(level):
            access_log.log(
                level,
                "%d %s %.2fms",
                status,
                handler._request_summary(),
                1000.0 * handler.request.request_time(),
            )

    # -- sessions ---------------------------------------------------------

    def get_session(self, handler: RequestHandler) -> Session:
        """Load the session of *handler*'s request from the session store.

        :param handler: the handler.
        """
        return self.session_store.load(handler)

    def save_session(self, handler: RequestHandler) -> None:
        """Store *handler*'s session if it was loaded (``finish`` calls this).

        :param handler: the handler.
        """
        session = handler._session
        if session is not None:
            self.session_store.save(handler, session)

    # -- running ----------------------------------------------------------

    def listen(
        self,
        port: int,
        address: str | None = None,
        backend: str = "asyncio",
        **kwargs: Any,
    ) -> None:
        """Serve this application until interrupted (this call blocks).

        Unlike Tornado, where ``listen`` returns and an I/O loop must be
        started afterwards, this runs the chosen backend to completion.  With
        the ``autoreload`` setting, the server runs in a child process that
        is restarted whenever a source file changes.

        :param port: the TCP port.
        :param address: the interface (default ``127.0.0.1``).
        :param backend: ``"asyncio"``, ``"trio"``, ``"threads"`` or any backend
            installed under the ``crosswind.backends`` entry points.
        :param kwargs: options for the backend's ``serve`` (``ssl_context``,
            ``limits``, ``reuse_port``, ``started``, ``proxy_headers``,
            ``forwarded_allow_ips``, ``root_path``, ...); ``xheaders`` sets
            the setting of that name, as Tornado's ``listen`` hands it to its
            ``HTTPServer``.
        """
        from ..serving.backends import load_backend
        from ..serving.logs import ensure_server_logging

        if "xheaders" in kwargs:
            self.settings["xheaders"] = bool(kwargs.pop("xheaders"))

        serve = load_backend(backend)
        # The "Serving on" line shows, as with crosswind serve, unless the
        # application set up logging itself.
        ensure_server_logging()

        def run() -> None:
            serve(self, address or "127.0.0.1", port, **kwargs)

        if self.settings.get("autoreload"):
            from .autoreload import run_with_reloader

            run_with_reloader(run)
        else:
            run()


def _template_engine(settings: dict[str, Any]) -> str:
    engine = settings.get("template_engine")
    if engine is None:
        # An application that passes a Jinja2 loader wants Jinja2's namespace.
        return "jinja2" if isinstance(settings.get("template_loader"), Jinja2Loader) else "tornado"
    if engine not in TEMPLATE_ENGINES:
        raise ValueError(f"template_engine must be one of {TEMPLATE_ENGINES}, not {engine!r}")
    return engine  # type: ignore[no-any-return]
