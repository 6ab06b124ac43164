"""Which mailboxes of this process listen on which channel.

Both engines fan a message out through a hub: ``memory://`` delivers to it
directly when a message is published, ``redis://`` when Redis hands a
message to the process's one subscription connection.  The hub tells the
engine when a channel gains its first local subscriber or loses its last, the
two moments Redis needs a ``SUBSCRIBE`` or an ``UNSUBSCRIBE``.  It is safe to
use from several threads.
"""

from __future__ import annotations

import threading
from typing import Any

from ._mailbox import Mailbox

__all__ = ["Hub"]


class Hub:
    """Channel name to the set of mailboxes subscribed to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, set[Mailbox]] = {}

    def add(self, channel: str, mailbox: Mailbox) -> bool:
        """Subscribe *mailbox* to *channel*; whether it is the channel's first here.

        :param channel: the channel name.
        :param mailbox: the subscriber's queue.
        """
        with self._lock:
            members = self._channels.setdefault(channel, set())
            members.add(mailbox)
            return len(members) == 1

    def discard(self, channel: str, mailbox: Mailbox) -> bool:
        """Unsubscribe *mailbox*; whether *channel* has no subscriber here any more.

        :param channel: the channel name.
        :param mailbox: the subscriber's queue; absent is not an error.
        """
        with self._lock:
            members = self._channels.get(channel)
            if members is None or mailbox not in members:
                return False
            members.discard(mailbox)
            if members:
                return False
            del self._channels[channel]
            return True

    def deliver(self, channel: str, message: Any) -> int:
        """Put *message* in every mailbox subscribed to *channel*; how many there were.

        :param channel: the channel name.
        :param message: what the subscribers receive.
        """
        with self._lock:
            members = list(self._channels.get(channel, ()))
        for mailbox in members:
            mailbox.put(message)
        return len(members)

    def channels(self) -> list[str]:
        """The channels that have at least one subscriber here."""
        with self._lock:
            return list(self._channels)

    def counts(self) -> dict[str, int]:
        """How many mailboxes each channel has."""
        with self._lock:
            return {channel: len(members) for channel, members in self._channels.items()}

    def clear(self) -> list[Mailbox]:
        """Forget every subscription; the mailboxes that had one."""
        with self._lock:
            boxes = {box for members in self._channels.values() for box in members}
            self._channels.clear()
        return list(boxes)
