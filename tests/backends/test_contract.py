"""The backends' contract (``crosswind.backends``' docstring), checked on their imports.

A backend drives the connection driver on one runtime and knows no HTTP: of
crosswind it imports only the protocol layer, the loop-less runner and its
siblings.  Each runtime module imports no other runtime, and none handles
signals itself: the shared skeleton (``backends/_serve.py``) does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BACKENDS_DIR = Path(__file__).resolve().parents[2] / "backends"

#: The modules that make the built-in backends (rpc_client is a client, memory a test aid).
SERVER_MODULES = ["_common", "_serve", "asyncio", "trio", "threads"]
#: What of crosswind a backend may import.
ALLOWED = ("crosswind.protocol", "crosswind._sync")
SIBLINGS = {"_common", "_serve"}
#: The runtimes, and what no other runtime's module may import.
RUNTIME_ONLY = {
    "asyncio": {"trio", "threading", "concurrent", "selectors", "signal"},
    "trio": {"asyncio", "threading", "concurrent", "selectors", "signal"},
    "threads": {"asyncio", "trio", "signal"},
}


def imports(path: Path) -> list[tuple[str, int]]:
    """``(imported module, level)`` for every import statement of the module at *path*."""
    tree = ast.parse(path.read_text())
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def crosswind_imports_outside_the_contract(path: Path) -> list[str]:
    wrong = []
    for name, level in imports(path):
        if level:
            if name not in SIBLINGS:
                wrong.append("." * level + name)
        elif name.split(".")[0] == "crosswind" and not name.startswith(ALLOWED):
            wrong.append(name)
    return wrong


@pytest.mark.parametrize("module", SERVER_MODULES)
def test_a_backend_imports_only_the_protocol_layer_of_crosswind(module: str) -> None:
    assert crosswind_imports_outside_the_contract(BACKENDS_DIR / f"{module}.py") == []


@pytest.mark.parametrize("module", sorted(RUNTIME_ONLY))
def test_a_runtime_module_imports_no_other_runtime_and_no_signal_handling(module: str) -> None:
    top_level = {name.split(".")[0] for name, level in imports(BACKENDS_DIR / f"{module}.py") if not level}
    assert top_level & RUNTIME_ONLY[module] == set()


def test_the_checks_see_a_forbidden_import(tmp_path: Path) -> None:
    fake = tmp_path / "fake.py"
    fake.write_text(
        "import signal\nfrom crosswind.web import RequestHandler\nfrom ..serving import cli\n"
        "from crosswind.protocol.driver import ConnectionDriver\nfrom ._serve import Server\n"
    )
    assert crosswind_imports_outside_the_contract(fake) == ["crosswind.web", "..serving"]
    assert ("signal", 0) in imports(fake)
