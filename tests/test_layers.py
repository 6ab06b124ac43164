"""The package ``core/`` must stay free of I/O and concurrency runtimes.

Backends bring sockets and event loops; the core only turns bytes into bytes.
A single lazy import inside a function would tie the core to one runtime, so
every import statement at any depth of every module is checked.
"""

from __future__ import annotations

import ast
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
