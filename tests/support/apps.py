"""Small applications the backend and command-line tests serve.

``app`` is importable as ``tests.support.apps:app`` for ``python -m crosswind serve``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Awaitable, Callable

from crosswind.protocol.exchange import Exchange

__all__ = ["BasicApp", "GateApp", "app", "not_an_app", "wait_for_event"]

_TEXT = [(b"Content-Type", b"text/plain; charset=utf-8")]


async def wait_for_event(event: threading.Event, timeout: float = 10.0) -> bool:
    """Wait for a :class:`threading.Event` without blocking the serving backend.

    On asyncio and trio this sleeps in short steps so the event loop keeps
    running (and can, say, shut down meanwhile); on the threaded backend it
    blocks the worker thread, which is what a handler there does.

    :param event: the event to wait for.
    :param timeout: seconds to wait at most.
    :returns: whether the event was set.
    """
    end = time.monotonic() + timeout
    sleep = _event_loop_sleep()
    if sleep is None:
        return event.wait(timeout)
    while not event.is_set() and time.monotonic() < end:
        await sleep(0.005)
    return event.is_set()


def _event_loop_sleep() -> Callable[[float], Awaitable[None]] | None:
    """The running event loop's sleep, or ``None`` on the threaded backend."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return asyncio.sleep
    try:
        import trio

        trio.lowlevel.current_task()
    except (ImportError, RuntimeError):
        return None
    return trio.sleep


class BasicApp:
    """Routes: ``/`` text, ``/pid`` the serving process, ``/info`` connection facts
    as JSON, ``/echo`` the request body back, ``/big`` a 1 MiB body; others 404."""

    async def handle(self, exchange: Exchange) -> None:
        path = exchange.path
        if path == "/":
            await exchange.respond(200, _TEXT, b"hello world")
        elif path == "/pid":
            await exchange.respond(200, _TEXT, str(os.getpid()).encode())
        elif path == "/info":
            info = exchange.info
            body = {
                "scheme": info.scheme,
                "peer": info.peer,
                "local": info.local,
                "tls_version": info.tls.version if info.tls else None,
                "alpn": info.tls.alpn_protocol if info.tls else None,
                "method": exchange.method,
                "target": exchange.target,
            }
            await exchange.respond(
                200, [(b"Content-Type", b"application/json")], json.dumps(body).encode()
            )
        elif path == "/echo":
            body = await exchange.read_body()
            await exchange.respond(200, _TEXT, body)
        elif path == "/big":
            await exchange.start_response(200, _TEXT + [(b"Content-Length", b"1048576")])
            for _ in range(16):
                await exchange.write(b"x" * 65536)
            await exchange.end()
        else:
            await exchange.respond(404, _TEXT, b"not found")


class GateApp(BasicApp):
    """Like :class:`BasicApp`, plus ``/wait``: sets ``entered``, then answers
    ``released`` once the test sets ``release`` (or ``timed out``)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle(self, exchange: Exchange) -> None:
        if exchange.path != "/wait":
            await super().handle(exchange)
            return
        self.entered.set()
        released = await wait_for_event(self.release)
        await exchange.respond(200, _TEXT, b"released" if released else b"timed out")


app = BasicApp()

#: Importable, but not an application: the command line must refuse it.
not_an_app = object()
