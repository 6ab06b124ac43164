"""The interface every HTTP/1.1 protocol engine implements.

An engine turns the bytes of one vetted request into events; it makes no
policy decisions, and responses are written by :mod:`crosswind.writer`.
Limits, keep-alive, ``100 Continue``, error responses and all strictness
checks live in
:mod:`crosswind.connection` in front of it, so every engine gets the same
already-screened input: the head is handed over complete, and the body only
up to the end of the current message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .events import Event

__all__ = ["Engine", "available_engines", "make_engine", "register_engine"]


class Engine(Protocol):
    """A server-side HTTP/1.1 request parser, one per connection."""

    def receive_data(self, data: bytes) -> None:
        """Hand over request bytes (a complete head, or body bytes)."""

    def next_event(self) -> Event | object:
        """Return the next event, :data:`NEED_DATA` or :data:`PAUSED`."""

    def start_next_cycle(self) -> None:
        """Reset for the next request on a kept-alive connection."""


_ENGINES: dict[str, Callable[[], Engine]] = {}


def register_engine(name: str, factory: Callable[[], Engine]) -> None:
    """Make an engine selectable by name (``protocol="name"``)."""
    _ENGINES[name] = factory


def available_engines() -> list[str]:
    """Names of the engines that can be selected."""
    _load_builtin()
    return sorted(_ENGINES)


def make_engine(name: str) -> Engine:
    """Create an engine by name.

    :raises ValueError: for a name no engine is registered under.
    """
    _load_builtin()
    try:
        factory = _ENGINES[name]
    except KeyError:
        raise ValueError(
            f"unknown protocol engine {name!r}; choose one of {', '.join(sorted(_ENGINES))}"
        ) from None
    return factory()


def _load_builtin() -> None:
    if "h11" not in _ENGINES:
        from .h11_engine import H11Engine

        register_engine("h11", H11Engine)
