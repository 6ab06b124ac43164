"""``from crosswind.broadcast import Broadcast``: pub/sub for WebSocket rooms.

The implementation runs on an event loop and may talk to Redis, so it lives
with the backends, in :mod:`crosswind.backends.broadcast`; the names below
are loaded from there on first use, and importing this module loads no
runtime.  See ``docs/websocket.md``, "Scale-out".
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crosswind.backends.broadcast import (
        DEFAULT_MAX_QUEUED,
        Broadcast,
        BroadcastUnavailable,
        Event,
        Subscriber,
    )

__all__ = ["DEFAULT_MAX_QUEUED", "Broadcast", "BroadcastUnavailable", "Event", "Subscriber"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("crosswind.backends.broadcast"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
