"""``from crosswind.sessions_redis import Session, RedisSessionStore``: sessions in Redis.

Server-side sessions talk to Redis over a socket, so they live with the
backends, in :mod:`crosswind.backends.sessions`; the names below are loaded
from there on first use, and importing this module loads no runtime.  See
``docs/sessions.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crosswind.backends.sessions import (
        DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_READ_TIMEOUT,
        RedisSession,
        RedisSessionInterface,
        RedisSessionStore,
        Session,
        SessionStoreUnavailable,
        redis_client,
    )

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "RedisSession",
    "RedisSessionInterface",
    "RedisSessionStore",
    "Session",
    "SessionStoreUnavailable",
    "redis_client",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("crosswind.backends.sessions"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
