"""Serve the benchmark views with real Flask on waitress (its default 4 threads), one process.

Usage: ``python bench/servers/flask_waitress.py --port 8000``.
"""

from __future__ import annotations

import argparse

import flask
import waitress
from flask_views import create_app

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Parse *argv* and serve until killed.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    waitress.serve(create_app(flask), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
