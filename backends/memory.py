"""Run one in-memory connection on an asyncio event loop.

``crosswind.testing`` drives the connection driver without any event loop,
which is enough for applications that never wait.  An ``async`` view that
awaits ``asyncio.sleep`` (or anything else that suspends) needs a loop;
:func:`run_in_memory` gives it one while still using the in-memory
transport, so tests stay socket-free.  The Flask-style test client uses it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Iterable

from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.exchange import Application
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo
from crosswind.testing.client import MemoryTransport

__all__ = ["run_in_memory"]


def run_in_memory(
    app: Application,
    chunks: Iterable[bytes],
    *,
    info: ConnectionInfo | None = None,
    limits: Limits | None = None,
    clock: Callable[[], float] | None = None,
) -> bytes:
    """Serve one connection that receives *chunks* then EOF; return what was sent.

    :param app: the application.
    :param chunks: the bytes the client sends, in pieces.
    :param info: the connection's addresses (a loopback client by default).
    :param limits: the server limits.
    :param clock: monotonic seconds for the driver (default :func:`time.monotonic`).
    """
    transport = MemoryTransport(chunks, info)
    driver = ConnectionDriver(transport, app, clock=clock or time.monotonic, limits=limits)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # A fresh loop per connection leaves nothing behind; its
        # task runs in a copy of the caller's context, so what one request
        # sets is never seen by the next.
        asyncio.run(driver.run())
    else:
        # Called from inside a running loop (an async test): that loop is busy
        # waiting for us, so the connection gets a loop of its own in a thread.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, driver.run()).result()
    return bytes(transport.sent)
