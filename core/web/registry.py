"""Route registration by decorator, and building an application from modules.

Frameworks built on Tornado let handler modules declare their own URLs::

    @route(r"/posts/(\\d+)", name="post")
    class PostHandler(RequestHandler): ...

and then assemble the application from a list of modules:
``make_app(["blog.views", "blog.admin"], settings)``.  The registry only
records; :func:`make_app` imports the modules and keeps the routes whose
handlers were defined in them, in registration order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from ..routing import URLSpec

if TYPE_CHECKING:
    from .application import Application

__all__ = ["RouteRegistry", "default_registry", "make_app", "route"]

_T = TypeVar("_T")


@dataclass
class _Entry:
    pattern: str
    handler: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    host: str | None = None


class RouteRegistry:
    """Routes declared with :meth:`route`, waiting for :meth:`make_app`."""

    def __init__(self) -> None:
        self.entries: list[_Entry] = []

    def route(
        self,
        pattern: str,
        *,
        name: str | None = None,
        host: str | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Callable[[_T], _T]:
        """Register the decorated handler class for *pattern*.

        :param pattern: the URL regex, as in an ``Application`` route.
        :param name: a name for ``reverse_url``.
        :param host: a host regex; the route then serves only that virtual host.
        :param kwargs: arguments for the handler's ``initialize``.
        """

        def register(handler: _T) -> _T:
            self.entries.append(_Entry(pattern, handler, dict(kwargs or {}), name, host))
            return handler

        return register

    def make_app(
        self,
        modules: Iterable[str | ModuleType],
        settings: dict[str, Any] | None = None,
        *,
        application_class: type[Application] | None = None,
        **extra_settings: Any,
    ) -> Application:
        """Import *modules* and build an application from the routes they registered.

        :param modules: module names or modules.
        :param settings: application settings.
        :param application_class: the class to build (default ``Application``).
        :param extra_settings: more settings, overriding *settings*.
        """
        names = set()
        for module in modules:
            loaded = importlib.import_module(module) if isinstance(module, str) else module
            names.add(loaded.__name__)
        chosen = [e for e in self.entries if getattr(e.handler, "__module__", None) in names]
        if application_class is None:
            from .application import Application

            application_class = Application
        wildcard = [URLSpec(e.pattern, e.handler, e.kwargs, e.name) for e in chosen if not e.host]
        app = application_class(wildcard, **{**(settings or {}), **extra_settings})
        hosts: dict[str, list[URLSpec]] = {}
        for entry in chosen:
            if entry.host:
                hosts.setdefault(entry.host, []).append(
                    URLSpec(entry.pattern, entry.handler, entry.kwargs, entry.name)
                )
        for host, specs in hosts.items():
            app.add_handlers(host, specs)
        return app


#: The registry the module-level :func:`route` and :func:`make_app` use.
default_registry = RouteRegistry()


def route(
    pattern: str,
    *,
    name: str | None = None,
    host: str | None = None,
    kwargs: dict[str, Any] | None = None,
) -> Callable[[_T], _T]:
    """Register the decorated handler class in the default registry.

    :param pattern: the URL regex.
    :param name: a name for ``reverse_url``.
    :param host: a host regex for a virtual host.
    :param kwargs: arguments for the handler's ``initialize``.
    """
    return default_registry.route(pattern, name=name, host=host, kwargs=kwargs)


def make_app(
    modules: Iterable[str | ModuleType],
    settings: dict[str, Any] | None = None,
    **extra_settings: Any,
) -> Application:
    """Import *modules* and build an application from their ``@route`` handlers.

    :param modules: module names or modules.
    :param settings: application settings.
    :param extra_settings: more settings.
    """
    return default_registry.make_app(modules, settings, **extra_settings)
