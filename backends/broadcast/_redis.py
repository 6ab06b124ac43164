"""``redis://``: publish and subscribe across processes and machines through Redis pub/sub.

How it uses Redis:

* **One subscription connection per Broadcast.**  Its channels are those that
  have a subscriber in this process: ``SUBSCRIBE`` when a channel gets its
  first local subscriber, ``UNSUBSCRIBE`` when it loses its last.  One reader
  task takes every message off that connection and hands it to the hub, which
  fans it out to the local subscribers.  Publishing goes through the client's
  connection pool, since a connection in subscriber mode cannot publish.
* **Every message goes through Redis**, local subscribers included, so every
  subscriber in every process sees the same order.
* **Types survive the trip**: a one-byte tag (``\\x00`` text, ``\\x01`` bytes)
  precedes the payload.  A message published by another Redis client arrives
  as ``str`` when it is valid UTF-8, else ``bytes``.
* **Reconnecting.**  When the subscription connection is lost, the reader
  logs a warning and tries again after 0.05 s, doubling up to 2 s, then
  subscribes to this process's channels again; the subscribers stay
  subscribed and never see the outage.  Redis pub/sub keeps no history:
  messages published while the connection was down are lost.
  :meth:`RedisEngine.publish` raises :class:`BroadcastUnavailable` when Redis
  cannot be reached, after retrying once at once (a pooled connection may
  have been cut by a restart that is already over).
* **asyncio only**: ``redis.asyncio`` runs on asyncio.  On trio, or on the
  threads backend with no event loop, :meth:`RedisEngine.connect` raises
  :class:`RuntimeError` saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from crosswind.adapters._runtime import current_library

from ._events import BroadcastUnavailable, Event
from ._hub import Hub
from ._url import redact

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "redis:// broadcasts need the redis package: pip install 'crosswind[redis]'"
    ) from exc

__all__ = ["RedisEngine", "decode", "encode"]

log = logging.getLogger("crosswind.broadcast")

_TEXT = b"\x00"
_BYTES = b"\x01"
_FIRST_RETRY_DELAY = 0.05
_MAX_RETRY_DELAY = 2.0
#: The errors that mean the connection to Redis is gone, not that we misused it.
_LOST = (RedisConnectionError, RedisTimeoutError, OSError)


def encode(message: str | bytes) -> bytes:
    """The payload published for *message*: its type tag, then its bytes."""
    if isinstance(message, str):
        return _TEXT + message.encode("utf-8")
    if isinstance(message, bytes | bytearray | memoryview):
        return _BYTES + bytes(message)
    raise TypeError(f"a broadcast message is str or bytes, not {type(message).__name__}")


def decode(payload: bytes) -> str | bytes:
    """The message a payload stands for; an untagged one is text if it decodes as UTF-8."""
    tag, body = payload[:1], payload[1:]
    if tag == _TEXT:
        return body.decode("utf-8")
    if tag == _BYTES:
        return body
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload


class RedisEngine:
    """The Redis engine of one :class:`~crosswind.broadcast.Broadcast`.

    :param url: ``redis://``, ``rediss://`` or ``unix://``, as ``redis.asyncio.from_url`` takes.
    :param hub: the Broadcast's subscriptions, which messages are delivered to.
    :param connect_timeout: seconds to wait for a connection to Redis.
    :param subscribe_timeout: seconds a new subscription may wait for Redis to confirm it.
    """

    def __init__(
        self, url: str, hub: Hub, *, connect_timeout: float = 5.0, subscribe_timeout: float = 10.0
    ) -> None:
        self.url = url
        self.safe_url = redact(url)
        self._hub = hub
        self._connect_timeout = connect_timeout
        self._subscribe_timeout = subscribe_timeout
        self._client: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: dict[str, asyncio.Event] = {}
        self._lost = False
        self._lock: asyncio.Lock | None = None

    @property
    def connected(self) -> bool:
        """Whether :meth:`connect` succeeded and :meth:`disconnect` has not run since."""
        return self._client is not None

    async def connect(self) -> None:
        """Connect to Redis and start the reader; does nothing when connected already.

        :raises BroadcastUnavailable: Redis does not answer at the URL.
        :raises RuntimeError: no asyncio event loop runs here (trio, or the threads backend).
        """
        if current_library() != "asyncio":
            raise RuntimeError(
                f"the Redis broadcast ({self.safe_url}) needs asyncio: redis.asyncio does not "
                "run on trio or without an event loop; serve with --backend asyncio, or use "
                "memory:// within one process"
            )
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is not None:
                return
            client = aioredis.from_url(
                self.url,
                socket_connect_timeout=self._connect_timeout,
                retry=Retry(NoBackoff(), 1),
            )
            try:
                await client.ping()
                pubsub: Any = client.pubsub()  # redis-py leaves PubSub.connect untyped
                await pubsub.connect()
            except (RedisError, OSError) as exc:
                await client.aclose()
                raise BroadcastUnavailable(f"cannot reach Redis at {self.safe_url}: {exc}") from exc
            self._client = client
            self._pubsub = pubsub
            self._lost = False
            self._reader = asyncio.get_running_loop().create_task(self._read())

    async def disconnect(self) -> None:
        """Stop the reader and close every connection to Redis."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        pubsub, self._pubsub = self._pubsub, None
        client, self._client = self._client, None
        self._ready.clear()
        with contextlib.suppress(*_LOST):
            if pubsub is not None:
                await pubsub.aclose()
        with contextlib.suppress(*_LOST):
            if client is not None:
                await client.aclose()

    async def join(self, channel: str, first: bool) -> None:
        """Return once Redis delivers *channel*'s messages to this process.

        :param channel: the channel.
        :param first: whether it is the channel's first subscriber here, so a
            ``SUBSCRIBE`` is due.
        :raises BroadcastUnavailable: Redis did not confirm within the subscribe timeout.
        """
        if first:
            ready = self._ready[channel] = asyncio.Event()
            # Lost connection: the reader subscribes the hub's channels again
            # once it is back, and that confirmation sets *ready*.
            with contextlib.suppress(*_LOST):
                await self._pubsub.subscribe(channel)
        else:
            ready = self._ready.setdefault(channel, asyncio.Event())
        try:
            await asyncio.wait_for(ready.wait(), self._subscribe_timeout)
        except TimeoutError:
            raise BroadcastUnavailable(
                f"Redis at {self.safe_url} did not confirm the subscription to {channel!r} "
                f"within {self._subscribe_timeout} s"
            ) from None

    async def leave(self, channel: str, last: bool) -> None:
        """Unsubscribe from *channel* in Redis when its last subscriber here left.

        :param channel: the channel.
        :param last: whether it was the channel's last subscriber here.
        """
        if not last:
            return
        self._ready.pop(channel, None)
        if self._pubsub is not None:
            # A lost connection took the subscription with it.
            with contextlib.suppress(*_LOST):
                await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: str | bytes) -> None:
        """Publish *message* on *channel* to every subscriber of every process.

        :param channel: the channel.
        :param message: the message.
        :raises BroadcastUnavailable: Redis cannot be reached.
        """
        payload = encode(message)
        try:
            await self._client.publish(channel, payload)
        except _LOST as exc:
            raise BroadcastUnavailable(
                f"cannot publish to Redis at {self.safe_url}: {exc}"
            ) from exc

    async def _read(self) -> None:
        delay = _FIRST_RETRY_DELAY
        while True:
            try:
                if self._lost:
                    await self._reopen()
                    log.warning("Redis at %s is back; subscriptions restored", self.safe_url)
                    self._lost = False
                    delay = _FIRST_RETRY_DELAY
                message = await self._pubsub.get_message(timeout=None)
            except _LOST as exc:
                if not self._lost:
                    log.warning("lost the connection to Redis at %s (%s); reconnecting",
                                self.safe_url, exc)
                    self._lost = True
            except Exception:
                # Whatever went wrong, a fresh connection is the way out: a reader
                # that died here would leave every subscriber of the process deaf.
                log.exception("reading from Redis at %s failed; reconnecting", self.safe_url)
                self._lost = True
            else:
                if message is not None:
                    self._dispatch(message)
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY)

    async def _reopen(self) -> None:
        old, self._pubsub = self._pubsub, self._client.pubsub()
        with contextlib.suppress(*_LOST):
            await old.aclose()
        await self._pubsub.connect()
        channels = self._hub.channels()
        if channels:
            await self._pubsub.subscribe(*channels)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        raw_channel = message["channel"]
        channel = (
            raw_channel.decode("utf-8", "surrogateescape")
            if isinstance(raw_channel, bytes)
            else raw_channel
        )
        if kind == "message":
            self._hub.deliver(channel, Event(channel, decode(message["data"])))
        elif kind == "subscribe":
            ready = self._ready.get(channel)
            if ready is not None:
                ready.set()
