"""The boundary between the connection driver and a runtime backend.

A backend provides one :class:`Transport` per accepted connection; the
driver (:mod:`crosswind.protocol.driver`) does everything else.  Deadlines are in the
terms of the clock the backend handed to the driver (``time.monotonic`` for
the built-in backends).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Concurrency",
    "ConnectionInfo",
    "Driver",
    "Signal",
    "TLSInfo",
    "Transport",
    "TransportClosed",
]


class TransportClosed(ConnectionError):
    """The peer went away; nothing more can be sent or received."""


@dataclass(frozen=True, slots=True)
class TLSInfo:
    """What the TLS layer knows about a connection.

    :param peer_certificate: the verified client certificate as returned by
        :meth:`ssl.SSLSocket.getpeercert` (``None`` without one).
    """

    version: str | None = None
    cipher: str | None = None
    alpn_protocol: str | None = None
    peer_certificate: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Addresses and security of a connection.

    :param peer: ``(host, port)`` of the client, or a path for Unix sockets.
        Behind a trusted proxy, the client the proxy named (its port ``0``
        when the proxy gave none), and :attr:`proxy` is the connection's own
        peer.
    :param local: the server's own address.
    :param forwarded_scheme: the scheme a trusted proxy said the client used
        (``http`` or ``https``); ``None``: the connection's own.
    :param proxy: the peer that connected, when a trusted proxy named another
        client as :attr:`peer`.
    """

    peer: tuple[str, int] | str | None = None
    local: tuple[str, int] | str | None = None
    tls: TLSInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    forwarded_scheme: str | None = None
    proxy: tuple[str, int] | str | None = None

    @property
    def scheme(self) -> str:
        """``https`` over TLS or when a trusted proxy says so, else ``http``."""
        if self.forwarded_scheme is not None:
            return self.forwarded_scheme
        return "https" if self.tls is not None else "http"


class Transport(Protocol):
    """What the driver needs from a backend for one connection.

    A transport may also offer ``send_nowait(data)``, a plain function that writes
    *data* at once (or buffers it) and returns ``None``, or an awaitable the
    driver awaits before sending more while the peer is slow to read; it
    raises :class:`TransportClosed` as ``send`` does.

    ``send`` and ``send_nowait`` may hold bytes back, but only until the
    event loop next gets control, and ``close`` writes what is held first:
    the asyncio backend writes every connection's bytes once per turn of its
    loop, so a busy client wakes once for many responses, and the pieces of
    a response produced in one go leave in one ``writelines``.
    """

    info: ConnectionInfo

    def receive(self, deadline: float | None) -> Awaitable[bytes]:
        """Return the next bytes from the peer; ``b""`` once it closed.

        Any awaitable will do: an ``async def``, or a future the backend resolves
        when data arrives (the asyncio backend's, which saves a coroutine per read).

        :raises TimeoutError: *deadline* passed with nothing received.
        """
        ...

    async def send(self, data: bytes) -> None:
        """Send *data*, waiting while the peer is slow to read it.

        :raises TransportClosed: the peer has gone away.
        """
        ...

    async def close(self) -> None:
        """Close the connection; further calls do nothing."""
        ...

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Ask to be told when the peer disconnects while nothing is reading.

        Backends that cannot notice this without a read may ignore it.
        """
        ...


class Signal(Protocol):
    """A one-shot flag one task sets and others wait for (``asyncio.Event``, ``trio.Event``)."""

    def set(self) -> None:
        """Wake every waiter, now and later; never blocks."""
        ...

    def is_set(self) -> bool: ...

    async def wait(self) -> None:
        """Return once :meth:`set` has been called."""
        ...


class Concurrency(Protocol):
    """What a transport offers on top of :class:`Transport` to serve several requests at once.

    HTTP/2 runs each stream's application concurrently with the task that
    reads frames, so its driver needs to start tasks and to wake them; the
    core has no runtime of its own for either.  A backend whose transport
    has these two methods can serve HTTP/2; one without (the threaded
    backend's) serves HTTP/1.1 only.
    """

    def start_soon(self, async_fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``async_fn()`` in a new task of the connection.

        The task ends with the connection at the latest: a backend that cuts
        a connection cancels the tasks it started.  *async_fn* handles its
        own exceptions; one that escapes is the driver's bug, logged by the
        backend.
        """
        ...

    def new_signal(self) -> Signal:
        """A fresh, unset :class:`Signal` of the backend's runtime."""
        ...


class Driver(Protocol):
    """What a backend and its server need of a connection's driver, whatever protocol it speaks.

    :class:`~crosswind.protocol.driver.ConnectionDriver` (HTTP/1.1) and
    :class:`~crosswind.protocol.http2.driver.H2ConnectionDriver` both have
    this shape; so backends treat them alike.
    """

    @property
    def disconnected(self) -> bool:
        """The client went away before the connection was done."""
        ...

    @property
    def idle(self) -> bool:
        """No request in flight: a shutdown may close the connection at once."""
        ...

    def shed_order(self) -> tuple[int, float] | None:
        """Where the connection stands in line to be shed (lower first); ``None`` when it must not."""
        ...

    def start_shutdown(self) -> None:
        """Finish what is in flight, then close."""
        ...

    async def run(self) -> None:
        """Serve the connection until it closes."""
        ...
