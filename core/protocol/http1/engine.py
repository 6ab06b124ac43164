"""The interface every HTTP/1.1 protocol engine implements.

An engine turns the bytes of one vetted request into events; it makes no
policy decisions, and responses are written by :mod:`crosswind.protocol.http1.writer`.
Limits, keep-alive, ``100 Continue``, error responses and all strictness
checks live in :mod:`crosswind.protocol.http1.connection` in front of it, so every engine
gets the same already-screened input, for the current message only.

Engines come in two kinds, told apart by their ``parses_head`` attribute:

* a *byte* engine (``parses_head = True``, or no such attribute; the h11
  engine) parses again what it is handed: the complete raw head through
  :meth:`Engine.receive_data`, then the body in its own framing, chunked
  bodies re-emitted canonical by :class:`~crosswind.protocol.http1.chunked.ChunkedScanner`;
* a *screened* engine (``parses_head = False``, :class:`ScreenedEngine`; the
  native engine) trusts the policy layer's parse, which has already looked
  at every byte: it gets the :class:`~crosswind.protocol.http1.head.Head` through
  :meth:`ScreenedEngine.receive_head` and returns the request event at once,
  then body data already de-chunked through :meth:`Engine.receive_data`,
  and :meth:`ScreenedEngine.receive_end` with the trailers once the
  connection has seen the body end (a head without a body ends the message
  itself).  Nothing is validated twice.

Either way :meth:`Engine.next_event` yields the events in the same order:
:class:`~crosswind.protocol.events.Request` (byte engines only; a screened engine
returned it already), :class:`~crosswind.protocol.events.Data` pieces,
:class:`~crosswind.protocol.events.EndOfMessage`.

The engine used when none is named is :data:`DEFAULT_ENGINE`, the one place
that default is set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..events import Event, RawHeaders, Request

if TYPE_CHECKING:
    from .head import Head

__all__ = [
    "DEFAULT_ENGINE",
    "Engine",
    "ScreenedEngine",
    "available_engines",
    "make_engine",
    "register_engine",
]

#: The engine connections, backends, the CLI and ``crosswind.testing`` use
#: when none is named; read when each connection is made.  Native since it
#: passed the differential suite against h11 (``tests/protocol/test_engine_differential.py``,
#: the ``engines`` fuzz target) and the whole test suite.
DEFAULT_ENGINE = "native"


class Engine(Protocol):
    """A server-side HTTP/1.1 request parser, one per connection."""

    def receive_data(self, data: bytes) -> None:
        """Hand over request bytes.

        :param data: for a byte engine, a complete head or body bytes in
            their framing; for a screened engine, body data only.
        """

    def next_event(self) -> Event | object:
        """Return the next event, :data:`NEED_DATA` or :data:`PAUSED`."""

    def start_next_cycle(self) -> None:
        """Reset for the next request on a kept-alive connection."""


class ScreenedEngine(Engine, Protocol):
    """An engine that takes the policy layer's parse instead of re-parsing bytes."""

    #: Always ``False``: the connection calls :meth:`receive_head` instead of
    #: handing over the raw head.
    parses_head: bool

    def receive_head(self, head: Head) -> Request:
        """Take a screened head and return its request event.

        A head without a body (neither chunked nor a ``Content-Length`` above zero)
        also ends the message: no :meth:`receive_end` follows it.

        :param head: what :func:`~crosswind.protocol.http1.head.screen_head` accepted.
        """
        ...

    def receive_end(self, trailers: RawHeaders) -> None:
        """The body is complete.

        :param trailers: the chunked trailer fields, names lowercased.
        """


_ENGINES: dict[str, Callable[[], Engine]] = {}


def register_engine(name: str, factory: Callable[[], Engine]) -> None:
    """Make an engine selectable by name (``engine="name"``, ``--protocol name``).

    :param name: the name to select it by.
    :param factory: creates one engine for one connection.
    """
    _ENGINES[name] = factory


def available_engines() -> list[str]:
    """Names of the engines that can be selected."""
    _load_builtin()
    return sorted(_ENGINES)


def make_engine(name: str) -> Engine:
    """Create an engine by name.

    :param name: a registered engine's name.
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
    if "native" not in _ENGINES:
        from .native_engine import NativeEngine

        register_engine("native", NativeEngine)
    if "h11" not in _ENGINES:
        # h11 is imported only when asked for: the native engine needs nothing
        # outside the standard library.
        def h11_engine() -> Engine:
            from .h11_engine import H11Engine

            return H11Engine()

        register_engine("h11", h11_engine)
