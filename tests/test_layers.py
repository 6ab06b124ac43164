"""The layers of ``core/`` (the package ``crosswind``), enforced rather than described.

Two rules are checked on every module, by walking its syntax tree:

* **No runtime.** Nothing in ``core/`` imports asyncio, trio, anyio, socket,
  selectors, ssl, threading, socketserver or concurrent, at any depth, lazily or
  not.  Backends bring sockets and event loops; the core only turns bytes into
  bytes.  A few entry points leave the core on purpose (serving an application,
  ``app.wsgi``/``app.asgi``, the Flask-style test client): they import
  :mod:`crosswind.backends` or :mod:`crosswind.adapters` inside the function that
  needs them, never at module level, and only the modules in ``LEAVES_THE_CORE``
  may.  Importing any module of ``crosswind`` therefore loads no runtime, which a
  fresh interpreter checks too.
* **Layers import downward.**  ``MAY_IMPORT`` says, for each layer, which layers
  its modules may import from.  The building blocks import only each other; the
  protocol imports no framework; routing knows neither the protocol nor a
  framework; the Tornado-style (``web``) and Flask-style (``app``) layers never
  import each other, ``crosswind.mount`` being the only piece both use.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "core"
FORBIDDEN = frozenset(
    {
        "asyncio",
        "trio",
        "anyio",
        "socket",
        "selectors",
        "ssl",
        "threading",
        "socketserver",
        "concurrent",
    }
)


def forbidden_imports(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """Return ``(line, module)`` for every forbidden absolute import in *source*."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif _is_dynamic_import(node):
            names = [node.args[0].value]  # type: ignore[attr-defined]
        else:
            continue
        for name in names:
            if name.split(".", 1)[0] in FORBIDDEN:
                found.append((node.lineno, name))
    return found


def _is_dynamic_import(node: ast.AST) -> bool:
    """``__import__("x")`` or ``importlib.import_module("x")`` with a literal name."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_has_modules() -> None:
    # Guards against the walk silently checking nothing after a move.
    names = {path.name for path in core_modules()}
    assert {"connection.py", "driver.py", "head.py", "chunked.py"} <= names


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_module_imports_no_runtime(path: Path) -> None:
    offenders = forbidden_imports(path.read_text(encoding="utf-8"), str(path))
    assert offenders == [], f"{path.relative_to(CORE.parent)} imports {offenders}"


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio",
        "import os, socket",
        "import concurrent.futures",
        "from concurrent.futures import ThreadPoolExecutor",
        "from ssl import SSLContext",
        "import trio as t",
        "def f():\n    import threading\n",
        "class C:\n    def m(self):\n        if True:\n            from anyio import sleep\n",
        "try:\n    import selectors\nexcept ImportError:\n    pass\n",
        "import socketserver",
        "mod = __import__('asyncio')",
        "import importlib\nimportlib.import_module('trio')",
    ],
)
def test_checker_catches_every_form(source: str) -> None:
    assert forbidden_imports(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "from . import socket",  # a sibling module of the package, not the stdlib one
        "from .transport import Transport",
        "import sockets_helper",
        "x = 'import asyncio'",
    ],
)
def test_checker_allows_the_rest(source: str) -> None:
    assert forbidden_imports(source) == []


# -- layers ---------------------------------------------------------------------

#: Which layers the modules of each layer may import from.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "blocks": frozenset({"blocks"}),
    "protocol": frozenset({"blocks", "protocol"}),
    "routing": frozenset({"blocks", "routing"}),
    "serving": frozenset({"blocks", "protocol", "serving"}),
    "testing": frozenset({"blocks", "protocol", "routing", "testing"}),
    "mount": frozenset({"blocks", "protocol", "routing", "serving", "mount"}),
    "web": frozenset({"blocks", "protocol", "routing", "serving", "web"}),
    "app": frozenset({"blocks", "protocol", "routing", "serving", "testing", "mount", "app"}),
    "rpc": frozenset({"blocks", "protocol", "routing", "serving", "web", "rpc"}),
}
#: The package's own ``__init__`` and ``__main__`` gather names from every layer, and
#: ``crosswind.websocket`` gives ``crosswind.web.websocket`` Tornado's import path.
FACADE = frozenset({"crosswind", "crosswind.__main__", "crosswind.websocket"})

#: Modules that may import the backends or adapters (inside a function only), and why.
LEAVES_THE_CORE: dict[str, str] = {
    "crosswind.broadcast": "pub/sub runs on an event loop and talks to Redis: the backends' job",
    "crosswind.sessions_redis": "server-side sessions talk to Redis: the backends' job",
    "crosswind.serving.loading": "wraps a WSGI/ASGI app in its container",
    "crosswind.serving.cli": "TLS contexts and sockets for --certfile and --workers",
    "crosswind.serving.supervisor": "binds the socket that --workers share",
    "crosswind.serving.backends": "loads a backend's serve function by entry point",
    "crosswind.serving.entrypoints": "app.wsgi and app.asgi",
    "crosswind.web.stock_handlers": "FallbackHandler serves a WSGI app",
    "crosswind.app.testing": "the test client runs the app on the in-memory backend",
    "crosswind.testing.websocket": "a WebSocket session runs on the in-memory backend's loop thread",
    "crosswind.rpc": "the RPC client lives with the backends",
    "crosswind.websocket": "the WebSocket client lives with the backends",
}
OUTSIDE_THE_CORE = ("crosswind.backends", "crosswind.adapters")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["crosswind", *parts])


def layer_of(module: str) -> str | None:
    """The layer of a ``crosswind`` module; ``None`` for the facade and outside the core."""
    if module in FACADE or module.startswith(OUTSIDE_THE_CORE):
        return None
    parts = module.split(".")
    if len(parts) == 2 and parts[1] != "mount" and not (CORE / parts[1]).is_dir():
        return "blocks"
    if parts[1] not in MAY_IMPORT:
        raise AssertionError(f"{module} is in no layer: add its folder to MAY_IMPORT")
    return parts[1]


def crosswind_imports(path: Path, source: str | None = None) -> list[tuple[int, str, str]]:
    """``(line, module, when)`` for every import of a crosswind module in *path*.

    *when* is ``"import"`` for an import that runs when the module is imported (at
    module level, under an ``if`` or ``try`` there too), ``"typing"`` for one under
    ``if TYPE_CHECKING:``, which never runs, and ``"call"`` for one inside a function
    or class body, which runs when that code does.  Relative imports are resolved;
    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a
    module of the package, else of ``pkg``.
    """
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if source is None:
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, str(path))
    when: dict[int, str] = {}
    for statement in tree.body:
        kind = "typing" if _is_type_checking_block(statement) else "import"
        for node in ast.walk(statement):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
                for inner in ast.walk(node):
                    when.setdefault(id(inner), "call" if kind == "import" else kind)
            when.setdefault(id(node), kind)
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                candidate = f"{stem}.{alias.name}"
                targets.append(candidate if _is_module(candidate) else stem)
        elif _is_dynamic_import(node):
            targets = [node.args[0].value]  # type: ignore[attr-defined]
        for target in targets:
            if target == "crosswind" or target.startswith("crosswind."):
                found.append((node.lineno, target, when[id(node)]))
    return found


def _is_type_checking_block(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_module(name: str) -> bool:
    if not name.startswith("crosswind."):
        return False
    relative = Path(*name.split(".")[1:])
    return (CORE / relative).with_suffix(".py").is_file() or (CORE / relative / "__init__.py").is_file()


def test_every_core_module_has_a_layer() -> None:
    layers = {module_name(path): layer_of(module_name(path)) for path in core_modules()}
    assert layers["crosswind.cookies"] == "blocks"
    assert layers["crosswind.protocol.http1.connection"] == "protocol"
    assert layers["crosswind.web.handler"] == "web"
    assert layers["crosswind.mount"] == "mount"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    module = module_name(path)
    layer = layer_of(module)
    offenders = []
    for line, target, when in crosswind_imports(path):
        if target.startswith(OUTSIDE_THE_CORE):
            # Type hints may name a backend's types: they never load it.
            if when == "import" or (when == "call" and module not in LEAVES_THE_CORE):
                offenders.append(f"line {line}: {target} (backends and adapters only lazily, "
                                 "from a module in LEAVES_THE_CORE)")
            continue
        if layer is None:
            continue
        target_layer = layer_of(target)
        if target_layer is None:
            offenders.append(f"line {line}: {target} (the package facade)")
        elif target_layer not in MAY_IMPORT[layer]:
            offenders.append(f"line {line}: {target} (layer {target_layer!r})")
    assert offenders == [], f"{module} ({layer}) imports upward:\n" + "\n".join(
        dict.fromkeys(offenders)
    )


def test_leaves_the_core_names_real_modules() -> None:
    # A stale entry would silently allow a new module of that name.
    modules = {module_name(path) for path in core_modules()}
    assert set(LEAVES_THE_CORE) <= modules


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("protocol/x.py", "from ..web import RequestHandler", "crosswind.web"),
        ("protocol/x.py", "from ..web.handler import RequestHandler", "crosswind.web.handler"),
        ("web/x.py", "from .. import cookies", "crosswind.cookies"),
        ("app/x.py", "from ..web import handler", "crosswind.web.handler"),
        ("x.py", "from .protocol.http1 import connection", "crosswind.protocol.http1.connection"),
        ("x.py", "import crosswind.app.testing", "crosswind.app.testing"),
        ("web/__init__.py", "from .handler import RequestHandler", "crosswind.web.handler"),
    ],
)
def test_imports_are_resolved(module: str, source: str, expected: str) -> None:
    # The checker itself: relative imports land on the module they name.
    found = [target for _, target, _ in crosswind_imports(CORE / module, source)]
    assert found == [expected]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from crosswind.adapters import to_wsgi", "import"),
        ("try:\n    import crosswind.backends.trio\nexcept ImportError:\n    pass", "import"),
        ("def serve():\n    import crosswind.backends.trio", "call"),
        ("class C:\n    def m(self):\n        import crosswind.backends.trio", "call"),
        ("if TYPE_CHECKING:\n    from crosswind.backends import trio", "typing"),
        ("if typing.TYPE_CHECKING:\n    import crosswind.backends.trio", "typing"),
    ],
)
def test_when_an_import_runs(source: str, expected: str) -> None:
    [(_, _, when)] = crosswind_imports(CORE / "serving" / "x.py", source)
    assert when == expected


def test_an_upward_import_is_caught() -> None:
    [(_, target, _)] = crosswind_imports(CORE / "protocol" / "x.py", "from ..app import App\n")
    assert layer_of(target) == "app"
    assert "app" not in MAY_IMPORT["protocol"]


def test_importing_the_package_loads_no_runtime() -> None:
    # Every module of crosswind in a fresh interpreter: no event loop library and
    # neither backends nor adapters may come along.  The libraries the core uses
    # are imported first, so what they bring themselves (hypothesis loads trio
    # when it is installed) is not held against the core.
    modules = sorted(module_name(path) for path in core_modules() if path.name != "__main__.py")
    code = (
        "import importlib, sys\n"
        "import h11, hypothesis.strategies, itsdangerous, jinja2, markupsafe, multipart\n"
        "before = set(sys.modules)\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in set(sys.modules) - before\n"
        "             if m.split('.')[0] in ('asyncio', 'trio', 'anyio')\n"
        "             or m.startswith(('crosswind.backends', 'crosswind.adapters')))\n"
        "print(' '.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []
