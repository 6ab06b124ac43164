"""``memory://``: publish and subscribe within one process.

A message is put in the mailbox of every subscriber of its channel before
:meth:`MemoryEngine.publish` returns; nothing leaves the process, so worker
processes (``--workers``) and other machines never see it: that is what
``redis://`` is for.  Publishing never waits, so it works from any thread
and from the threads backend's coroutines, which cannot suspend.
"""

from __future__ import annotations

from ._events import Event
from ._hub import Hub

__all__ = ["MemoryEngine"]


class MemoryEngine:
    """The in-process engine.

    :param hub: the subscriptions of the :class:`~crosswind.broadcast.Broadcast`.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def connect(self) -> None:
        """Nothing to connect to."""

    async def disconnect(self) -> None:
        """Nothing to disconnect from."""

    async def join(self, channel: str, first: bool) -> None:
        """The hub holds the subscription already: nothing to do.

        :param channel: the channel.
        :param first: whether it is the channel's first subscriber here.
        """

    async def leave(self, channel: str, last: bool) -> None:
        """Nothing to undo beyond the hub.

        :param channel: the channel.
        :param last: whether it was the channel's last subscriber here.
        """

    async def publish(self, channel: str, message: str | bytes) -> None:
        """Hand *message* to every subscriber of *channel* in this process.

        :param channel: the channel.
        :param message: the message.
        """
        self._hub.deliver(channel, Event(channel, message))
