"""Serve the WebSocket benchmark endpoints (``/echo``, ``/fanout``) on crosswind or real Tornado.

Usage: ``python bench/servers/ws_server.py --impl web --backend asyncio --port 8000``.
``--impl`` is ``web`` (``crosswind.websocket.WebSocketHandler``, the handlers of
``ws_handlers.py``), ``flask`` (an ``@app.websocket`` echo view on
``crosswind.app``; it has no ``/fanout``) or ``tornado`` (the same handlers
on ``tornado.websocket``, one process).  ``--max-connections`` raises
``Limits.max_connections`` for the capacity run; ``--profile FILE`` writes a
cProfile report on SIGTERM, as ``crosswind_server.py`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import resource
import signal
import time
from typing import Any

__all__ = ["flask_app", "main"]


def flask_app() -> Any:
    """The Flask-style echo view on ``crosswind.app``."""
    from crosswind.app import App, websocket

    app = App(__name__)

    @app.websocket("/echo")
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    return app


async def _tornado(host: str, port: int) -> None:
    import tornado.web
    import tornado.websocket
    from ws_handlers import routes

    server = tornado.web.Application(routes(tornado.websocket)).listen(port, host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.stop()


def main(argv: list[str] | None = None) -> None:
    """Parse *argv* and serve until SIGTERM or SIGINT.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", choices=("web", "flask", "tornado"), default="web")
    parser.add_argument("--backend", default="asyncio", help="asyncio, trio or threads")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-connections", type=int, default=None)
    parser.add_argument("--profile", metavar="FILE", help="profile and write a report to FILE")
    parser.add_argument("--top", type=int, default=30, help="functions in the profile report")
    args = parser.parse_args(argv)
    # Ten thousand sockets need more descriptors than the usual soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def serve() -> None:
        if args.impl == "tornado":
            asyncio.run(_tornado(args.host, args.port))
            return
        import crosswind.web
        import crosswind.websocket
        from crosswind.protocol.limits import Limits
        from ws_handlers import routes

        if args.impl == "web":
            app: Any = crosswind.web.Application(routes(crosswind.websocket))
        else:
            app = flask_app()
        limits = Limits() if args.max_connections is None else Limits(
            max_connections=args.max_connections
        )
        backend = importlib.import_module(f"crosswind.backends.{args.backend}")
        backend.serve(
            app, args.host, args.port, handle_signals=True, access_log=None, limits=limits
        )

    if not args.profile:
        serve()
        return
    from crosswind_server import _write_profile

    profiler = cProfile.Profile()
    started = time.time()
    profiler.enable()
    try:
        serve()
    finally:
        profiler.disable()
        _write_profile(profiler, args.profile, args.top, time.time() - started)


if __name__ == "__main__":
    main()
