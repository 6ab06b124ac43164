"""The events a server connection produces from request bytes.

These are the boundary vocabulary between a protocol engine and the policy
layer in :mod:`crosswind.protocol.http1.connection`: small, frozen, slotted values.  Header
names are lowercased ``bytes``; values are ``bytes`` exactly as received
(without surrounding whitespace).

All events but :class:`Request` are frozen, slotted dataclasses; it is a named tuple, and
so compares equal to a plain tuple of its fields, because one is built for every request
and a frozen dataclass is measurably dearer to build (``bench/NOTES.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "ConnectionClosed",
    "Data",
    "EndOfMessage",
    "Event",
    "RawHeaders",
    "Request",
]

RawHeaders = Sequence[tuple[bytes, bytes]]


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


#: More bytes are needed before another event can be produced.
NEED_DATA = _Sentinel("NEED_DATA")
#: The current request is complete; no event until the response is done and
#: :meth:`~crosswind.protocol.http1.connection.ServerConnection.start_next_cycle` is called.
PAUSED = _Sentinel("PAUSED")


class Request(NamedTuple):
    """A request head: the request line and the header section."""

    method: bytes
    target: bytes
    headers: RawHeaders
    http_version: bytes = b"1.1"


@dataclass(frozen=True, slots=True)
class Data:
    """A piece of the request body, already de-chunked."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfMessage:
    """The request body is complete; chunked requests may carry trailers."""

    trailers: RawHeaders = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The peer closed its side of the connection cleanly, between requests."""


Event = Request | Data | EndOfMessage | ConnectionClosed
