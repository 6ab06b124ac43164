"""Serve the benchmark app on one crosswind backend.

Usage: ``python bench/servers/crosswind_server.py --backend asyncio --port 8000``.
``--app`` picks what is served: ``web`` (default) the Tornado-style handlers
on ``crosswind.web``, ``flask`` the Flask-style views on ``crosswind.app``, or
``MODULE:ATTR`` anything ``crosswind serve`` takes (``starlette_app:app`` is
hosted by ``ASGIContainer``); ``--http2`` also speaks HTTP/2 by prior knowledge;
``--loop uvloop`` runs the asyncio backend on uvloop; ``--max-connections N``
raises the connection limit for the concurrency runs.
``--profile FILE`` runs the server under cProfile and, on SIGTERM/SIGINT, writes
the top functions by own time to *FILE*; ``--profile-raw FILE`` also keeps the
raw stats for ``pstats`` or snakeviz.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import os
import pstats
import shlex
import sys
import time

import crosswind.app
import crosswind.web
from crosswind.protocol.limits import Limits
from crosswind.serving.loading import load_app
from flask_views import create_app
from handlers import routes

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Parse *argv* and serve until SIGTERM or SIGINT.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="asyncio", help="asyncio, trio or threads")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--engine", default=None, help="protocol engine (default crosswind.protocol.http1.engine.DEFAULT_ENGINE)"
    )
    parser.add_argument("--app", default="web", help="web, flask or MODULE:ATTR (default web)")
    parser.add_argument(
        "--http2", action="store_true", help="HTTP/2 by prior knowledge (h2c) besides HTTP/1.1"
    )
    parser.add_argument("--loop", help="the asyncio backend's event loop: asyncio or uvloop")
    parser.add_argument(
        "--max-connections", type=int, help="Limits.max_connections (default: the backend's)"
    )
    parser.add_argument("--profile", metavar="FILE", help="profile and write a report to FILE")
    parser.add_argument("--profile-raw", metavar="FILE", help="also dump raw cProfile stats")
    parser.add_argument("--top", type=int, default=30, help="functions in the profile report")
    args = parser.parse_args(argv)

    backend = importlib.import_module(f"crosswind.backends.{args.backend}")
    if args.app == "web":
        app = crosswind.web.Application(routes(crosswind.web))
    elif args.app == "flask":
        app = create_app(crosswind.app)
    else:
        app = load_app(args.app, args.backend)

    # Each only when asked, so the script still serves a tree that predates it (a baseline).
    extra: dict[str, object] = {"http2": True} if args.http2 else {}
    if args.loop:
        extra["loop"] = args.loop
    if args.max_connections:
        extra["limits"] = Limits(max_connections=args.max_connections)

    def serve() -> None:
        backend.serve(
            app, args.host, args.port, handle_signals=True, engine=args.engine, access_log=None,
            **extra,
        )

    if not args.profile:
        serve()
        return
    profiler = cProfile.Profile()
    started = time.time()
    profiler.enable()
    try:
        serve()
    finally:
        profiler.disable()
        if args.profile_raw:
            profiler.dump_stats(args.profile_raw)
        _write_profile(profiler, args.profile, args.top, time.time() - started)


def _write_profile(profiler: cProfile.Profile, path: str, top: int, seconds: float) -> None:
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    command = shlex.join(["python", *sys.argv])
    with open(path, "w", encoding="utf-8") as out:
        out.write(f"# command: {command}\n# wall time profiled: {seconds:.1f} s\n\n")
        out.write(_portable(_by_file(stats) + text.getvalue()))


def _portable(text: str) -> str:
    """Drop this machine's directories from file names, so profiles can be committed."""
    import site
    import sysconfig

    for prefix, label in (
        *((directory, "<site-packages>") for directory in site.getsitepackages()),
        (sysconfig.get_paths()["stdlib"], "<stdlib>"),
        (os.getcwd(), "."),
    ):
        text = text.replace(prefix.rstrip("/") + "/", label + "/")
    return text


def _by_file(stats: pstats.Stats) -> str:
    """Own time summed per source file: which layer the time goes to, at a glance."""
    totals: dict[str, float] = {}
    for (filename, _, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        if filename == "~":
            key = "waiting in epoll" if "poll" in name else f"builtin {name}"
        elif "site-packages/" in filename:
            key = filename.split("site-packages/")[1].split("/")[0] + " (package)"
        else:
            key = "/".join(filename.rsplit("/", 2)[-2:])
        totals[key] = totals.get(key, 0.0) + own
    grand = sum(totals.values()) or 1.0
    lines = ["Own time by file (all of it, not just the top functions):\n"]
    for key, own in sorted(totals.items(), key=lambda item: -item[1])[:25]:
        lines.append(f"  {own:8.3f} s {100 * own / grand:5.1f} %  {key}\n")
    return "".join(lines) + "\n"


if __name__ == "__main__":
    main()
