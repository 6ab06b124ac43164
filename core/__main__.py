"""``python -m crosswind``: runs the command line of :mod:`crosswind.serving.cli`."""

from __future__ import annotations

import sys

from .serving.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
