"""What applications and blueprints share: route registration, hooks,
error handlers, static files and templates folders.

Hooks are stored in dicts keyed by blueprint name (``None`` for the
application itself), the layout Flask uses, so a blueprint's functions can
be merged into its application under the blueprint's dotted name.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from .ctx import current_app
from .exceptions import HTTPException, default_exceptions
from .templating import folder_loader

if TYPE_CHECKING:
    from jinja2 import FileSystemLoader

    from .wrappers import Response

__all__ = ["Scaffold", "get_root_path"]

F = TypeVar("F", bound=Callable[..., Any])

ErrorHandlerMap = dict[str | None, dict[int | None, dict[type[BaseException], Callable[..., Any]]]]


def get_root_path(import_name: str) -> str:
    """The directory of the module or package *import_name* (else the cwd).

    :param import_name: usually ``__name__`` of the module creating the app.
    """
    # Built-in modules have no __file__ at all, and namespace packages a None one.
    filename: str | None = getattr(sys.modules.get(import_name), "__file__", None)
    if filename:
        return os.path.dirname(os.path.abspath(filename))
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin in (None, "namespace", "built-in", "frozen"):
        return os.getcwd()
    return os.path.dirname(os.path.abspath(spec.origin))


class Scaffold:
    """Base of :class:`~crosswind.app.App` and :class:`~crosswind.app.Blueprint`.

    :param import_name: the module name, to find the root path.
    :param static_folder: folder of static files (relative to the root).
    :param static_url_path: URL prefix of static files.
    :param template_folder: folder of templates (relative to the root).
    :param root_path: overrides the root found from *import_name*.
    """

    name: str

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        self.import_name = import_name
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        self.template_folder = template_folder
        self.root_path = root_path if root_path is not None else get_root_path(import_name)
        self.view_functions: dict[str, Callable[..., Any]] = {}
        self.error_handler_spec: ErrorHandlerMap = defaultdict(lambda: defaultdict(dict))
        self.before_request_funcs: dict[str | None, list[Callable[..., Any]]] = defaultdict(list)
        self.after_request_funcs: dict[str | None, list[Callable[..., Any]]] = defaultdict(list)
        self.teardown_request_funcs: dict[str | None, list[Callable[..., Any]]] = defaultdict(list)
        self.template_context_processors: dict[str | None, list[Callable[..., Any]]] = defaultdict(
            list
        )
        self.url_value_preprocessors: dict[str | None, list[Callable[..., Any]]] = defaultdict(list)
        self.url_default_functions: dict[str | None, list[Callable[..., Any]]] = defaultdict(list)
        self._jinja_loader: FileSystemLoader | None = None
        self._jinja_loader_for: Any = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _check_setup_finished(self, f_name: str) -> None:
        """Refuse setup calls that come too late (overridden by subclasses)."""

    # -- static files and templates -------------------------------------------------

    @property
    def static_folder(self) -> str | None:
        """The absolute path of the static folder, or ``None``."""
        if self._static_folder is None:
            return None
        return os.path.join(self.root_path, self._static_folder)

    @static_folder.setter
    def static_folder(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None:
            value = os.fspath(value).rstrip(r"\/")
        self._static_folder = value

    @property
    def has_static_folder(self) -> bool:
        """Whether a static folder is configured."""
        return self._static_folder is not None

    @property
    def static_url_path(self) -> str | None:
        """The URL prefix of static files (``/static`` by default)."""
        if self._static_url_path is not None:
            return self._static_url_path
        if self._static_folder is not None:
            basename = os.path.basename(self._static_folder)
            return f"/{basename}".rstrip("/")
        return None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        if value is not None:
            value = value.rstrip("/")
        self._static_url_path = value

    @property
    def jinja_loader(self) -> FileSystemLoader | None:
        """A loader for :attr:`template_folder`, or ``None``."""
        key = (self.root_path, self.template_folder)
        if self._jinja_loader_for != key:
            self._jinja_loader = folder_loader(self.root_path, self.template_folder)
            self._jinja_loader_for = key
        return self._jinja_loader

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """``SEND_FILE_MAX_AGE_DEFAULT`` in seconds (``None``: conditional caching).

        :param filename: the file being sent (for overrides).
        """
        value = current_app.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if value is None:
            return None
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        return int(value)

    def send_static_file(self, filename: str) -> Response:
        """Serve *filename* from the static folder.

        :param filename: the path inside the static folder.
        :raises RuntimeError: no static folder is configured.
        """
        from .helpers import send_from_directory

        if not self.has_static_folder:
            raise RuntimeError("'static_folder' must be set to serve static_files.")
        max_age = self.get_send_file_max_age(filename)
        return send_from_directory(self.static_folder, filename, max_age=max_age)  # type: ignore[arg-type]

    def open_resource(self, resource: str, mode: str = "rb", encoding: str | None = None) -> Any:
        """Open a file relative to the root path, for reading.

        :param resource: the relative path.
        :param mode: ``"r"``, ``"rt"`` or ``"rb"``.
        :param encoding: for text mode.
        """
        if mode not in {"r", "rt", "rb"}:
            raise ValueError("Resources can only be opened for reading.")
        path = os.path.join(self.root_path, resource)
        if mode == "rb":
            return open(path, mode)  # noqa: SIM115 - the caller owns the file
        return open(path, mode, encoding=encoding)  # noqa: SIM115

    # -- routes ---------------------------------------------------------------------

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register a URL rule (see the application's and blueprint's versions).

        :param rule: the URL rule, e.g. ``/user/<int:id>``.
        :param endpoint: the endpoint name (the function's name by default).
        :param view_func: the view function.
        :param provide_automatic_options: answer ``OPTIONS`` automatically.
        :param options: ``methods``, ``defaults``, ``subdomain``, ``host``,
            ``strict_slashes``, ``merge_slashes``, ``redirect_to``, ``build_only``.
        """
        raise NotImplementedError

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Decorator: register the function for *rule*.

        :param rule: the URL rule.
        :param options: as for :meth:`add_url_rule` (``endpoint`` too).
        """

        def decorator(f: F) -> F:
            endpoint = options.pop("endpoint", None)
            self.add_url_rule(rule, endpoint, f, **options)
            return f

        return decorator

    def _method_route(self, method: str, rule: str, options: dict[str, Any]) -> Callable[[F], F]:
        if "methods" in options:
            raise TypeError("Use the 'route' decorator to use the 'methods' argument.")
        return self.route(rule, methods=[method], **options)

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["GET"])``.

        :param rule: the URL rule.
        :param options: as for :meth:`route`.
        """
        return self._method_route("GET", rule, options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["POST"])``.

        :param rule: the URL rule.
        :param options: as for :meth:`route`.
        """
        return self._method_route("POST", rule, options)

    def put(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["PUT"])``.

        :param rule: the URL rule.
        :param options: as for :meth:`route`.
        """
        return self._method_route("PUT", rule, options)

    def delete(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["DELETE"])``.

        :param rule: the URL rule.
        :param options: as for :meth:`route`.
        """
        return self._method_route("DELETE", rule, options)

    def patch(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["PATCH"])``.

        :param rule: the URL rule.
        :param options: as for :meth:`route`.
        """
        return self._method_route("PATCH", rule, options)

    def endpoint(self, endpoint: str) -> Callable[[F], F]:
        """Decorator: make the function the view of *endpoint* (added by a rule elsewhere).

        :param endpoint: the endpoint name.
        """

        def decorator(f: F) -> F:
            self.view_functions[endpoint] = f
            return f

        return decorator

    # -- hooks ----------------------------------------------------------------------

    def before_request(self, f: F) -> F:
        """Run *f* before each request; a non-``None`` return becomes the response.

        :param f: a function without arguments (may be ``async``).
        """
        self._check_setup_finished("before_request")
        self.before_request_funcs[None].append(f)
        return f

    def after_request(self, f: F) -> F:
        """Run *f(response)* after each request; it returns the response to send.

        :param f: takes and returns a response (may be ``async``).
        """
        self._check_setup_finished("after_request")
        self.after_request_funcs[None].append(f)
        return f

    def teardown_request(self, f: F) -> F:
        """Run *f(exc)* when the request context is popped, even after errors.

        :param f: takes the unhandled exception or ``None``.
        """
        self._check_setup_finished("teardown_request")
        self.teardown_request_funcs[None].append(f)
        return f

    def context_processor(self, f: F) -> F:
        """Add the dict *f()* returns to every template's context.

        :param f: returns a dict.
        """
        self._check_setup_finished("context_processor")
        self.template_context_processors[None].append(f)
        return f

    def url_value_preprocessor(self, f: F) -> F:
        """Run *f(endpoint, view_args)* before the ``before_request`` hooks;
        it may pop values from *view_args*.

        :param f: the preprocessor.
        """
        self._check_setup_finished("url_value_preprocessor")
        self.url_value_preprocessors[None].append(f)
        return f

    def url_defaults(self, f: F) -> F:
        """Run *f(endpoint, values)* when building URLs; it may fill in *values*.

        :param f: the default-filling function.
        """
        self._check_setup_finished("url_defaults")
        self.url_default_functions[None].append(f)
        return f

    def errorhandler(self, code_or_exception: type[BaseException] | int) -> Callable[[F], F]:
        """Decorator: handle an HTTP status or an exception class.

        :param code_or_exception: e.g. ``404`` or ``ValueError``.
        """

        def decorator(f: F) -> F:
            self.register_error_handler(code_or_exception, f)
            return f

        return decorator

    def register_error_handler(
        self, code_or_exception: type[BaseException] | int, f: Callable[..., Any]
    ) -> None:
        """Handle *code_or_exception* with *f(error)*.

        :param code_or_exception: an HTTP status or an exception class.
        :param f: takes the exception, returns a response value.
        :raises ValueError: for a status without an exception class.
        :raises TypeError: for an exception instance or a non-exception class.
        """
        self._check_setup_finished("register_error_handler")
        exc_class, code = self._get_exc_class_and_code(code_or_exception)
        self.error_handler_spec[None][code][exc_class] = f

    @staticmethod
    def _get_exc_class_and_code(
        exc_class_or_code: type[BaseException] | int,
    ) -> tuple[type[BaseException], int | None]:
        exc_class: Any
        if isinstance(exc_class_or_code, int):
            try:
                exc_class = default_exceptions[exc_class_or_code]
            except KeyError:
                raise ValueError(
                    f"'{exc_class_or_code}' is not a recognized HTTP error code. Use a"
                    " subclass of HTTPException with that code instead."
                ) from None
        else:
            exc_class = exc_class_or_code
        if isinstance(exc_class, BaseException):
            raise TypeError(
                f"{exc_class!r} is an instance, not a class. Handlers can only be"
                " registered for Exception classes or HTTP error codes."
            )
        if not isinstance(exc_class, type) or not issubclass(exc_class, Exception):
            raise TypeError(
                f"'{getattr(exc_class, '__name__', exc_class)}' is not a subclass of Exception."
                " Handlers can only be registered for Exception classes or HTTP error codes."
            )
        if issubclass(exc_class, HTTPException):
            return exc_class, exc_class.code
        return exc_class, None


def _endpoint_from_view_func(view_func: Callable[..., Any] | None) -> str:
    if view_func is None:
        raise AssertionError("expected view func if endpoint is not provided.")
    return view_func.__name__
