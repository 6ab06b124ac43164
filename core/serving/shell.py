"""``python -m crosswind shell MODULE:ATTR``: an interactive Python shell on an application.

As ``flask shell`` does, a Flask-style application (anything with an
``app_context()``) has its application context pushed for the whole session,
and its namespace is ``make_shell_context()``: ``app``, ``g`` and what the
``shell_context_processor`` functions return.  Any other application (a
Tornado-style ``Application``, a mount) is in the namespace as ``app``.  The
file named by ``PYTHONSTARTUP`` runs first, as in Python's own shell.
"""

from __future__ import annotations

import code
import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["banner", "run_shell", "shell_namespace"]


def shell_namespace(app: Any) -> dict[str, Any]:
    """The names the shell starts with.

    :param app: the application.
    """
    namespace: dict[str, Any] = {}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup, encoding="utf-8") as source:
            exec(compile(source.read(), startup, "exec"), namespace)
    make_context = getattr(app, "make_shell_context", None)
    namespace.update(make_context() if callable(make_context) else {"app": app})
    return namespace


def banner(app: Any, target: str) -> str:
    """The lines the shell greets with: Python's version and the application.

    :param app: the application.
    :param target: the ``MODULE:ATTR`` it was loaded from.
    """
    lines = [f"Python {sys.version} on {sys.platform}"]
    import_name = getattr(app, "import_name", None)
    if import_name is not None:
        lines.append(f"App: {import_name}")
        instance_path = getattr(app, "instance_path", None)
        if instance_path is not None:
            lines.append(f"Instance: {instance_path}")
    else:
        lines.append(f"App: {target} ({type(app).__name__})")
    return "\n".join(lines)


def run_shell(
    app: Any, target: str, interact: Callable[..., None] = code.interact
) -> int:
    """Run the shell until end of input; returns the exit status.

    :param app: the application.
    :param target: the ``MODULE:ATTR`` it was loaded from (for the banner).
    :param interact: runs the console (:func:`code.interact`'s signature).
    """
    app_context = getattr(app, "app_context", None)
    with app_context() if callable(app_context) else contextlib.nullcontext():
        namespace = shell_namespace(app)
        if sys.stdin.isatty():
            _enable_completion(namespace)
        interact(banner=banner(app, target), local=namespace)
    return 0


def _enable_completion(namespace: dict[str, Any]) -> None:
    # Python's own hook sets up readline and its history file; only a person
    # at a terminal wants either.
    hook = getattr(sys, "__interactivehook__", None)
    if hook is None:
        return
    try:
        import readline
        import rlcompleter
    except ImportError:
        return
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    hook()
