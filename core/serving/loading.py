"""Finding the application that ``MODULE:ATTR`` names, and making it one a backend can serve.

*ATTR* may name a crosswind application (anything with ``async handle(exchange)``),
or a WSGI or ASGI 3 callable (Flask, Django, Starlette...), which is wrapped
in the matching container of :mod:`crosswind.adapters`.  *ATTR* may also be
an application factory: called when ``--factory`` says so, or when the target
is written as a call, ``module:create_app()`` or ``module:create_app("dev")``
with literal arguments, as ``flask --app`` accepts.  Applications are
recognised by their shape alone, so this module never imports the web or app
frameworks; the containers are imported only when a foreign application needs
one, since they bring threads and event loops with them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import logging
import os
import sys
import traceback
from typing import Any, Literal

from ..protocol.exchange import Application
from .errors import CLIError

__all__ = ["AppKind", "call_factory", "detect_app_kind", "import_target", "load_app", "parse_target"]

log = logging.getLogger("crosswind.error")

AppKind = Literal["crosswind", "asgi", "wsgi"]


def parse_target(target: str) -> tuple[str, str, tuple[Any, ...] | None, dict[str, Any]]:
    """Split ``MODULE:ATTR`` or ``MODULE:ATTR(ARGS)`` into its parts.

    :param target: e.g. ``"myapp:app"`` or ``"myapp:create_app('dev', debug=True)"``.
    :returns: the module, the dotted attribute, the positional arguments of
        the call (``None`` when the target is no call) and its keyword arguments.
    :raises CLIError: the target is malformed, or an argument is not a literal.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"expected MODULE:ATTR (like 'myapp:app'), not {target!r}")
    if "(" not in attr:
        return module_name, attr, None, {}
    try:
        expression = ast.parse(attr.strip(), mode="eval").body
    except SyntaxError:
        raise CLIError(f"cannot read the call in {target!r}") from None
    if not isinstance(expression, ast.Call) or _dotted_name(expression.func) is None:
        raise CLIError(f"expected MODULE:FUNCTION(ARGS) (like 'myapp:create_app()'), not {target!r}")
    # Literals only: the command line must not become a way to run code.
    try:
        args = tuple(ast.literal_eval(arg) for arg in expression.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expression.keywords if kw.arg}
    except ValueError:
        raise CLIError(f"the arguments in {target!r} must be Python literals") from None
    if any(kw.arg is None for kw in expression.keywords):
        raise CLIError(f"the arguments in {target!r} must be Python literals")
    return module_name, _dotted_name(expression.func) or "", args, kwargs


def _dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def import_target(target: str, app_dir: str | None = None) -> Any:
    """Import ``MODULE:ATTR`` and return the object; *ATTR* may be dotted.

    A target written as a call, ``MODULE:FUNCTION(ARGS)``, imports the
    function and returns what calling it returns.

    :param target: e.g. ``"myproject.web:app"`` or ``"myproject:factory.app"``.
    :param app_dir: a directory searched for *MODULE* before any other;
        ``None`` for the current directory, searched after the script's own.
    :raises CLIError: the target is malformed, the module cannot be
        imported, it has no such attribute, or the call fails.
    """
    module_name, attr, args, kwargs = parse_target(target)
    if app_dir is not None:
        path = os.path.abspath(app_dir)
        if not os.path.isdir(path):
            raise CLIError(f"--app-dir {app_dir!r} is not a directory")
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    # Like `python -m`, find modules in the current directory whichever way
    # crosswind itself was started (the console script's path[0] is its bin/).
    elif os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise CLIError(f"cannot import module {module_name!r}: no module named {exc.name!r}") from None
        raise CLIError(f"cannot import module {module_name!r}: {exc}") from None
    except ImportError as exc:
        raise CLIError(f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:
        # A bug in the module itself: its traceback is what the user needs.
        traceback.print_exc()
        raise CLIError(
            f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attr!r}") from None
    if args is None:
        return obj
    return call_factory(obj, target, *args, **kwargs)


def call_factory(factory: Any, target: str, *args: Any, **kwargs: Any) -> Any:
    """Call an application factory; what it returns is the application.

    :param factory: the object the target names.
    :param target: the target, for the messages.
    :raises CLIError: it is not callable, or calling it raised (whose
        traceback is printed first, since it is the application's bug).
    """
    if not callable(factory):
        raise CLIError(f"{target} is not callable, so it cannot be an application factory")
    try:
        return factory(*args, **kwargs)
    except Exception as exc:
        traceback.print_exc()
        raise CLIError(
            f"the application factory {target} failed: {type(exc).__name__}: {exc}"
        ) from None


def load_app(
    target: str,
    backend: str | None = None,
    *,
    factory: bool = False,
    app_dir: str | None = None,
) -> Application:
    """The application named by ``MODULE:ATTR``, ready for a backend.

    A crosswind application is returned as it is; a WSGI or ASGI 3 callable
    comes back wrapped in :class:`~crosswind.adapters.WSGIContainer` or
    :class:`~crosswind.adapters.ASGIContainer` (see :func:`detect_app_kind`).

    :param target: where the application is.
    :param backend: the backend that will serve it, when known: an ASGI app
        cannot be served by ``threads``, and that is better said now.
    :param factory: *target* names a function that takes no argument and
        returns the application (``--factory``).
    :param app_dir: the directory to import the module from (``--app-dir``).
    :raises CLIError: it cannot be found, is no kind of application, or
        cannot run on *backend*.
    """
    obj = import_target(target, app_dir)
    if factory:
        if target.rstrip().endswith(")"):
            raise CLIError(f"{target} is already a call: drop --factory or the parentheses")
        obj = call_factory(obj, target)
    return _adapt(obj, target, backend)


def detect_app_kind(obj: Any) -> AppKind:
    """Say whether *obj* is a crosswind, ASGI 3 or WSGI application.

    Checked in that order: an object whose ``handle`` is a coroutine function
    is a crosswind application (the Flask-style ``App`` is also a WSGI
    callable, and is best served natively); an async callable taking
    ``(scope, receive, send)`` is an ASGI 3 application; any other callable
    taking two positional arguments is a WSGI application.  A callable whose
    signature cannot be read (some extension types) is taken for WSGI.

    :param obj: the object ``MODULE:ATTR`` names.
    :raises TypeError: it is none of these; the message says what it lacks.
    """
    is_class = isinstance(obj, type)
    handle = getattr(obj, "handle", None)
    if handle is not None and inspect.iscoroutinefunction(handle):
        if is_class:
            raise TypeError("it is a class; name an instance of it")
        return "crosswind"
    if not callable(obj):
        if handle is not None:
            raise TypeError("its handle is not a coroutine function (async def handle(exchange))")
        raise TypeError("it has no async handle(exchange) method and is not callable")
    # A class's own __call__ is for its instances: calling the class builds one.
    if not is_class and (
        inspect.iscoroutinefunction(obj)
        or inspect.iscoroutinefunction(type(obj).__call__)
    ):
        if not _takes_positional(obj, 3):
            raise TypeError("it is an async callable but does not take (scope, receive, send)")
        return "asgi"
    if _takes_positional(obj, 2):
        return "wsgi"
    raise TypeError(
        "it is callable but takes neither (environ, start_response) nor, asynchronously, "
        "(scope, receive, send)"
    )


def _takes_positional(obj: Any, count: int) -> bool:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return True  # cannot tell: let the first request show it
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _adapt(obj: Any, target: str, backend: str | None = None) -> Application:
    # The one place that decides what kind of application an object is.
    try:
        kind = detect_app_kind(obj)
    except TypeError as exc:
        raise CLIError(
            f"{target} is not a crosswind application, an ASGI 3 application "
            f"or a WSGI application: {exc}"
        ) from None
    if kind == "crosswind":
        return obj  # type: ignore[no-any-return]
    # Imported only now: the containers bring in threads and event loops.
    from crosswind.adapters.asgi import ASGIAdapter, ASGIContainer
    from crosswind.adapters.wsgi import WSGIAdapter, WSGIContainer

    if isinstance(obj, ASGIAdapter | WSGIAdapter):
        # app.asgi or app.wsgi of a crosswind application: serve the
        # application itself instead of translating it there and back.
        log.debug("%s wraps %r; serving that directly", target, obj.app)
        return obj.app
    if kind == "asgi":
        if backend == "threads":
            raise CLIError(
                f"{target} is an ASGI application, which the threads backend cannot run "
                "(it has no event loop); use --backend asyncio or trio"
            )
        log.info("%s is an ASGI 3 application; serving it through ASGIContainer", target)
        return ASGIContainer(obj)
    log.info("%s is a WSGI application; serving it through WSGIContainer", target)
    return WSGIContainer(obj)
