"""Importing the scripts of ``bench/``, which is no package, for the tests of the benchmarks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: The ``bench/`` folder of the checkout.
BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_bench_script(name: str, path: Path) -> ModuleType:
    """Import the script at *path* as the module *name*, once per process.

    Registered in :data:`sys.modules` before it runs, so that a dataclass or a
    second test file that loads it under the same name sees the same module.

    :param name: the module name to give it.
    :param path: the script, usually under :data:`BENCH`.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
