"""Server-side sessions in Redis: ``crosswind.sessions_redis``.

For Flask-style apps, :class:`Session` (``Session(app)``, configured by
Flask-Session's ``SESSION_*`` keys) or :class:`RedisSessionInterface` as
``app.session_interface``; for Tornado-style handlers, :class:`RedisSessionStore`
as the ``session_store`` setting.  Both share the storage, one Redis key per
session with a TTL, and talk to Redis through a blocking ``redis.Redis``
whose connect and read timeouts bound every request (see :func:`redis_client`).
This package does the I/O; ``crosswind.sessions_redis`` loads it on first use.
See ``docs/sessions.md``.
"""

from __future__ import annotations

from ._flask import RedisSession, RedisSessionInterface, Session, UnavailableSession
from ._store import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    RedisSessionBackend,
    SessionStoreUnavailable,
    new_session_id,
    redis_client,
)
from ._tornado import RedisSessionStore

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "RedisSession",
    "RedisSessionBackend",
    "RedisSessionInterface",
    "RedisSessionStore",
    "Session",
    "SessionStoreUnavailable",
    "UnavailableSession",
    "new_session_id",
    "redis_client",
]
