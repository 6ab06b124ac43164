"""The :class:`Broadcast` a user holds, and the :class:`Subscriber` it hands out.

A Broadcast pairs a :class:`~._hub.Hub` (this process's subscriptions) with an
engine chosen by the URL's scheme: ``memory://`` or ``redis://``.  The engine
is told when a channel gains its first subscriber here or loses its last;
everything else about subscribers (their bounded mailboxes, iteration,
unsubscribing) is the same for every engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Protocol
from urllib.parse import urlsplit

from ._events import Event
from ._hub import Hub
from ._mailbox import CLOSED, Mailbox
from ._url import redact

__all__ = ["DEFAULT_MAX_QUEUED", "Broadcast", "Engine", "Subscriber"]

#: How many messages a subscriber may fall behind before the oldest are dropped.
DEFAULT_MAX_QUEUED = 1000


class Engine(Protocol):
    """What moves messages between the subscribers of a :class:`Broadcast`."""

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def join(self, channel: str, first: bool) -> None: ...

    async def leave(self, channel: str, last: bool) -> None: ...

    async def publish(self, channel: str, message: str | bytes) -> None: ...


class Subscriber:
    """The messages of one channel, for one reader, in the order they were published.

    Iterate it (``async for event in subscriber``) or call :meth:`get`; the
    iteration ends after :meth:`unsubscribe` or the Broadcast's
    :meth:`~Broadcast.disconnect`.  Its mailbox holds at most
    ``max_queued`` messages: a reader that falls further behind loses the
    oldest, counted in :attr:`dropped`.
    """

    def __init__(self, broadcast: Broadcast, channel: str, mailbox: Mailbox) -> None:
        #: The channel subscribed to.
        self.channel = channel
        self._broadcast = broadcast
        self._mailbox = mailbox

    @property
    def dropped(self) -> int:
        """How many messages were dropped because this subscriber fell behind."""
        return self._mailbox.dropped

    @property
    def queued(self) -> int:
        """How many messages wait to be read."""
        return len(self._mailbox)

    async def get(self) -> Event:
        """The next event, waiting for it.

        :raises StopAsyncIteration: the subscription has ended.
        """
        item = await self._mailbox.get()
        if item is CLOSED:
            raise StopAsyncIteration
        event: Event = item
        return event

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def unsubscribe(self) -> None:
        """Stop receiving; what is queued can still be read.  Calling it again does nothing."""
        if self._mailbox.closed:
            return
        self._mailbox.close()
        await self._broadcast._leave(self.channel, self._mailbox)

    def __repr__(self) -> str:
        return f"<Subscriber {self.channel!r} queued={self.queued} dropped={self.dropped}>"


class Broadcast:
    """Publish messages to named channels; every subscriber of a channel receives them.

    ``memory://`` reaches the subscribers of this process; ``redis://host:port/db``
    (also ``rediss://`` and ``unix://``) reaches those of every process connected
    to the same Redis.  :meth:`connect` is called by the first :meth:`publish` or
    :meth:`subscribe` if not before; calling it at start-up (an application's
    ``startup()``) reports an unreachable Redis at once.

    :param url: where messages travel.
    :param max_queued: how many messages one subscriber may have waiting before the
        oldest are dropped.
    :raises ValueError: the URL's scheme is not one of the above.
    """

    def __init__(self, url: str, *, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1, not {max_queued!r}")
        self.url = url
        self.max_queued = max_queued
        self._hub = Hub()
        self._engine = _engine_for(url, self._hub)
        self._connected = False

    async def connect(self) -> None:
        """Connect the engine; does nothing when connected already.

        :raises BroadcastUnavailable: Redis cannot be reached at the URL.
        :raises RuntimeError: ``redis://`` with no asyncio event loop running here.
        """
        await self._engine.connect()
        self._connected = True

    async def disconnect(self) -> None:
        """End every subscription (their iterations stop) and disconnect the engine."""
        for mailbox in self._hub.clear():
            mailbox.close()
        self._connected = False
        await self._engine.disconnect()

    async def __aenter__(self) -> Broadcast:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    async def publish(self, channel: str, message: str | bytes) -> None:
        """Send *message* to every subscriber of *channel*.

        :param channel: the channel's name.
        :param message: ``str`` or ``bytes``; subscribers receive the same type.
        :raises BroadcastUnavailable: Redis cannot be reached.
        """
        if not isinstance(message, str | bytes):
            raise TypeError(f"a broadcast message is str or bytes, not {type(message).__name__}")
        if not self._connected:
            await self.connect()
        await self._engine.publish(channel, message)

    async def add_subscriber(self, channel: str) -> Subscriber:
        """Subscribe to *channel*; returns once messages published from now on will arrive.

        Call :meth:`Subscriber.unsubscribe` when done; :meth:`subscribe` does it for you.
        This form suits callbacks, such as a WebSocket handler's ``open`` and ``on_close``.

        :param channel: the channel's name.
        :raises BroadcastUnavailable: Redis cannot be reached or did not confirm in time.
        """
        if not self._connected:
            await self.connect()
        mailbox = Mailbox(self.max_queued)
        first = self._hub.add(channel, mailbox)
        try:
            await self._engine.join(channel, first)
        except BaseException:
            mailbox.close()
            await self._leave(channel, mailbox)
            raise
        return Subscriber(self, channel, mailbox)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        """``async with broadcast.subscribe(channel) as subscriber:``, unsubscribed on exit.

        :param channel: the channel's name.
        :raises BroadcastUnavailable: Redis cannot be reached or did not confirm in time.
        """
        subscriber = await self.add_subscriber(channel)
        try:
            yield subscriber
        finally:
            await subscriber.unsubscribe()

    def subscriptions(self) -> dict[str, int]:
        """How many subscribers each channel has in this process (for tests and metrics)."""
        return self._hub.counts()

    async def _leave(self, channel: str, mailbox: Mailbox) -> None:
        last = self._hub.discard(channel, mailbox)
        if last and self._connected:
            await self._engine.leave(channel, last)

    def __repr__(self) -> str:
        return f"<Broadcast {redact(self.url)}>"


def _engine_for(url: str, hub: Hub) -> Engine:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from ._memory import MemoryEngine

        return MemoryEngine(hub)
    if scheme in ("redis", "rediss", "unix"):
        from ._redis import RedisEngine

        return RedisEngine(url, hub)
    raise ValueError(
        f"unknown broadcast URL {redact(url)!r}: use memory://, redis://, rediss:// or unix://"
    )

