"""Publish/subscribe for WebSocket rooms and the like: ``crosswind.broadcast``.

::

    broadcast = Broadcast("redis://127.0.0.1:6379/0")   # or "memory://"
    await broadcast.publish("room:lobby", "hello")
    async with broadcast.subscribe("room:lobby") as subscriber:
        async for event in subscriber:                  # event.channel, event.message
            ...

``memory://`` keeps messages in this process (asyncio, trio, and the
threads backend alike); ``redis://`` carries them through Redis pub/sub to
every worker process and machine, on asyncio.  This package does the I/O;
``crosswind.broadcast`` loads it on first use.  See ``docs/websocket.md``.
"""

from __future__ import annotations

from ._broadcast import DEFAULT_MAX_QUEUED, Broadcast, Engine, Subscriber
from ._events import BroadcastUnavailable, Event

__all__ = [
    "DEFAULT_MAX_QUEUED",
    "Broadcast",
    "BroadcastUnavailable",
    "Engine",
    "Event",
    "Subscriber",
]
