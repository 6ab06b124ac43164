"""What a subscriber receives, and the error of an engine that cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BroadcastUnavailable", "Event"]


@dataclass(frozen=True, slots=True)
class Event:
    """One message published on a channel.

    :param channel: the channel it was published on.
    :param message: what was published: ``str`` or ``bytes``, as it was given.
    """

    channel: str
    message: str | bytes


class BroadcastUnavailable(ConnectionError):
    """The engine behind a :class:`~crosswind.broadcast.Broadcast` cannot be reached.

    Its message names the URL (without its password) and the cause.
    """
