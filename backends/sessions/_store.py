"""The Redis side of server-side sessions: one key per session, with a TTL.

Both session front ends (Flask-style and Tornado-style) keep a session as one
Redis string, ``<prefix><session id>``, written with ``SET ... EX`` so Redis
itself forgets it when its lifetime ends.  Every call is bounded by the
client's connect and read timeouts; a failure of Redis (refused, timed out,
dropped) becomes :class:`SessionStoreUnavailable`, logged once per request
without the session id or any address secret.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "RedisSessionBackend",
    "SessionStoreUnavailable",
    "new_session_id",
    "redis_client",
]

log = logging.getLogger("crosswind.sessions")

#: Seconds to open a connection to Redis.  Redis on the same network answers in
#: well under a millisecond, so a second means it is down, not slow.
DEFAULT_CONNECT_TIMEOUT = 1.0
#: Seconds to wait for Redis to answer a command on an open connection.
DEFAULT_READ_TIMEOUT = 1.0


class SessionStoreUnavailable(Exception):
    """Redis could not be reached or did not answer in time; the request gets a 503."""


def _redis() -> Any:
    """The ``redis`` package, imported when first needed: an optional dependency."""
    try:
        import redis
    except ImportError:
        raise ImportError(
            "sessions in Redis need the redis client: pip install 'crosswind[redis]'"
        ) from None
    return redis


def redis_client(
    url: str = "redis://127.0.0.1:6379/0",
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
) -> redis.Redis:
    """A ``redis.Redis`` client with bounded timeouts and a single retry.

    redis-py waits forever by default and retries with a back-off of several
    seconds; a request waiting on its session should fail fast instead.

    :param url: a ``redis://`` or ``rediss://`` URL.
    :param connect_timeout: seconds to connect.
    :param read_timeout: seconds to wait for each answer.
    """
    module = _redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client: redis.Redis = module.Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=read_timeout,
        retry=Retry(NoBackoff(), 1),
    )
    return client


def new_session_id(token_source: Callable[[int], bytes], length: int) -> str:
    """A URL-safe session id from *length* random bytes (as ``secrets.token_urlsafe``).

    :param token_source: random bytes, the application's.
    :param length: how many bytes of randomness.
    """
    return base64.urlsafe_b64encode(token_source(length)).rstrip(b"=").decode("ascii")


def _msgpack() -> Any:
    try:
        import msgspec
    except ImportError:
        return None
    return msgspec.msgpack


class RedisSessionBackend:
    """Sessions as serialized dicts under ``key_prefix + session id``.

    :param client: a ``redis.Redis`` client (see :func:`redis_client` for one
        with bounded timeouts).
    :param key_prefix: prepended to every session id.
    :param serialization_format: ``"json"`` or ``"msgpack"`` (needs ``msgspec``);
        either format is read back whatever the setting, as Flask-Session does.
    """

    def __init__(
        self, client: redis.Redis, *, key_prefix: str = "session:", serialization_format: str = "json"
    ) -> None:
        if serialization_format not in ("json", "msgpack"):
            raise ValueError(f"serialization_format must be 'json' or 'msgpack', not {serialization_format!r}")
        if serialization_format == "msgpack" and _msgpack() is None:
            raise ValueError("serialization_format='msgpack' needs msgspec (pip install msgspec)")
        self._redis = _redis()
        self.client = client
        self.key_prefix = key_prefix
        self.serialization_format = serialization_format

    def key(self, session_id: str) -> str:
        """The Redis key of *session_id*.

        :param session_id: the session id.
        """
        return self.key_prefix + session_id

    def encode(self, data: dict[str, Any]) -> bytes:
        """*data* in the configured format.

        :param data: the session's values.
        """
        if self.serialization_format == "msgpack":
            return bytes(_msgpack().encode(data))
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, raw: bytes) -> dict[str, Any] | None:
        """The dict in *raw*, or ``None`` when it is neither format's dict.

        :param raw: the stored bytes.
        """
        try:
            data = json.loads(raw)
        except ValueError:
            msgpack = _msgpack()
            if msgpack is None:
                return None
            try:
                data = msgpack.decode(raw)
            except Exception:
                return None
        return data if isinstance(data, dict) else None

    def _call(self, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (self._redis.ConnectionError, self._redis.TimeoutError) as exc:
            # The exception's type only: its text can carry the address and, for
            # some errors, the command with its key (the session id).
            log.error("session store unavailable (%s failed: %s)", what, type(exc).__name__)
            raise SessionStoreUnavailable(what) from None

    def load(self, session_id: str) -> dict[str, Any] | None:
        """The stored session, or ``None`` when there is none (expired, revoked, never).

        :param session_id: the session id.
        :raises SessionStoreUnavailable: Redis failed.
        """
        raw = self._call("load", self.client.get, self.key(session_id))
        return self.decode(raw) if raw else None

    def store(self, session_id: str, data: dict[str, Any], lifetime: float) -> None:
        """Write the session, to expire after *lifetime* seconds.

        :param session_id: the session id.
        :param data: the session's values.
        :param lifetime: the TTL in seconds (at least one).
        """
        self._call("store", self.client.set, self.key(session_id), self.encode(data),
                   ex=max(1, int(lifetime)))

    def delete(self, session_id: str) -> None:
        """Forget the session (revocation).

        :param session_id: the session id.
        """
        self._call("delete", self.client.delete, self.key(session_id))
