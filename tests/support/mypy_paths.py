"""The package layout spelled for mypy, as folder symlinks made on demand.

``pyproject.toml`` maps the package ``crosswind`` to ``core/``, and
``crosswind.backends`` and ``crosswind.adapters`` to ``backends/`` and
``adapters/``.  Python learns that mapping from the installed package; mypy reads
source folders and names modules after them, so it would call
``core/web/handler.py`` ``core.web.handler`` and find no ``crosswind`` at all.

:func:`ensure` makes ``.mypy_paths/`` at the repository root (ignored by git),
holding only links to folders: ``package/crosswind`` to ``core/``, and
``subpackages/crosswind/backends`` and ``.../adapters`` to ``backends/`` and
``adapters/`` (mypy looks for ``crosswind.backends`` under every search-path folder
with a ``crosswind`` directory, so the subpackages may live apart from their
parent, as they do once installed).  ``mypy_path`` in ``[tool.mypy]`` names the
two folders, so modules added later are checked without touching anything.
``make test`` and ``make lint`` run ``python -m tests.support.mypy_paths`` before
``mypy``; errors are reported under ``.mypy_paths/...``, which lead to the same
files (``.mypy_paths/package/crosswind/web/handler.py`` is ``core/web/handler.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINKS = {
    Path("package/crosswind"): ROOT / "core",
    Path("subpackages/crosswind/backends"): ROOT / "backends",
    Path("subpackages/crosswind/adapters"): ROOT / "adapters",
}


def ensure(root: Path = ROOT) -> Path:
    """Make (or repair) the links under ``root/.mypy_paths``; returns that folder."""
    base = root / ".mypy_paths"
    for link, target in LINKS.items():
        path = base / link
        path.parent.mkdir(parents=True, exist_ok=True)
        relative = os.path.relpath(root / target.relative_to(ROOT), path.parent)
        if path.is_symlink() and os.readlink(path) == relative:
            continue
        if path.is_symlink():
            path.unlink()
        path.symlink_to(relative, target_is_directory=True)
    return base


if __name__ == "__main__":
    ensure()
