"""Class-based views: :class:`View` and :class:`MethodView`.

``as_view`` turns a class into a view function for ``add_url_rule``.  A
handler may be ``async def``; the application awaits what it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .ctx import request

__all__ = ["MethodView", "View", "http_method_funcs"]

#: The method names :class:`MethodView` looks for.
http_method_funcs = frozenset(
    ["get", "post", "head", "options", "delete", "put", "trace", "patch"]
)


class View:
    """Subclass and implement :meth:`dispatch_request`.

    Class attributes: :attr:`methods` (the accepted methods),
    :attr:`provide_automatic_options`, :attr:`decorators` (applied to the
    view function, outermost last) and :attr:`init_every_request` (create
    an instance per request, or one for all).
    """

    methods: ClassVar[set[str] | list[str] | None] = None
    provide_automatic_options: ClassVar[bool | None] = None
    decorators: ClassVar[list[Callable[..., Any]]] = []
    init_every_request: ClassVar[bool] = True

    def dispatch_request(self, **kwargs: Any) -> Any:
        """Handle the request; the URL's variables are the keyword arguments.

        :param kwargs: the view arguments.
        """
        raise NotImplementedError()

    @classmethod
    def as_view(cls, name: str, *class_args: Any, **class_kwargs: Any) -> Callable[..., Any]:
        """A view function that creates the class (per request, or once) and
        calls :meth:`dispatch_request`.

        :param name: the view function's name (the endpoint by default).
        :param class_args: passed to the constructor.
        :param class_kwargs: passed to the constructor.
        """
        if cls.init_every_request:

            def view(**kwargs: Any) -> Any:
                instance = view.view_class(*class_args, **class_kwargs)  # type: ignore[attr-defined]
                return instance.dispatch_request(**kwargs)

        else:
            shared = cls(*class_args, **class_kwargs)

            def view(**kwargs: Any) -> Any:
                return shared.dispatch_request(**kwargs)

        if cls.decorators:
            view.__name__ = name
            view.__module__ = cls.__module__
            for decorator in cls.decorators:
                view = decorator(view)
        view.view_class = cls  # type: ignore[attr-defined]
        view.__name__ = name
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        view.methods = cls.methods  # type: ignore[attr-defined]
        view.provide_automatic_options = cls.provide_automatic_options  # type: ignore[attr-defined]
        return view


class MethodView(View):
    """Dispatches to the method named after the HTTP verb (``get``, ``post``...).

    :attr:`methods` is filled in from the verbs the class defines; ``HEAD``
    falls back to ``get``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" not in cls.__dict__:
            methods: set[str] = set()
            for base in cls.__bases__:
                inherited = getattr(base, "methods", None)
                if inherited:
                    methods.update(inherited)
            for key in http_method_funcs:
                if hasattr(cls, key):
                    methods.add(key.upper())
            if methods:
                cls.methods = methods

    def dispatch_request(self, **kwargs: Any) -> Any:
        handler = getattr(self, request.method.lower(), None)
        if handler is None and request.method == "HEAD":
            handler = getattr(self, "get", None)
        assert handler is not None, f"Unimplemented method {request.method!r}"
        return handler(**kwargs)
