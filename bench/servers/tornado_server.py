"""Serve the benchmark handlers with real Tornado (``tornado.web``), one process.

Usage: ``python bench/servers/tornado_server.py --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import tornado.web
from handlers import routes

__all__ = ["main"]


async def _serve(host: str, port: int) -> None:
    app = tornado.web.Application(routes(tornado.web))
    server = app.listen(port, host)
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
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
