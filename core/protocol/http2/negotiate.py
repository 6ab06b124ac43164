"""Which protocol a new connection speaks, decided in one place for every backend.

* Over TLS, ALPN decides: ``h2`` selected means HTTP/2, anything else
  (``http/1.1``, or no ALPN at all) HTTP/1.1.
* In cleartext, HTTP/2 is spoken only when the server allows it (*http2*,
  the ``--http2`` flag) and the client starts with the HTTP/2 preface ("prior
  knowledge", RFC 9113 section 3.3); any other first bytes are HTTP/1.1.
  The ``Upgrade: h2c`` exchange, which RFC 9113 deprecates, is not offered.
* A transport that cannot run tasks (no
  :class:`~crosswind.protocol.transport.Concurrency`) is always served
  HTTP/1.1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..driver import ConnectionDriver
from ..exchange import Application
from ..transport import Driver, Transport, TransportClosed
from .connection import PREFACE
from .driver import H2ConnectionDriver

__all__ = ["PriorKnowledge", "new_driver", "offers_http2"]


def offers_http2(transport: Transport) -> bool:
    """Whether *transport* can serve HTTP/2 (it can start tasks and make signals)."""
    return callable(getattr(transport, "start_soon", None)) and callable(
        getattr(transport, "new_signal", None)
    )


def new_driver(
    transport: Transport,
    app: Application,
    *,
    http2: bool = False,
    engine: Any = None,
    **settings: Any,
) -> Driver:
    """The driver for a connection starting now (see the module docstring).

    :param transport: the connection's transport.
    :param app: the application.
    :param http2: serve HTTP/2 to cleartext clients that start with its preface.
    :param engine: the HTTP/1.1 engine (see
        :class:`~crosswind.protocol.driver.ConnectionDriver`).
    :param settings: ``clock``, ``wall_clock``, ``server_header``, ``limits``,
        ``access_log``, ``proxy``, ``root_path``, as both drivers take them.
    """
    tls = transport.info.tls
    if tls is not None:
        if tls.alpn_protocol == "h2" and offers_http2(transport):
            return H2ConnectionDriver(transport, app, **settings)
        return ConnectionDriver(transport, app, engine=engine, **settings)
    h1 = ConnectionDriver(transport, app, engine=engine, **settings)
    if http2 and offers_http2(transport):
        return PriorKnowledge(
            transport, h1, lambda data: H2ConnectionDriver(transport, app, initial_data=data, **settings)
        )
    return h1


class PriorKnowledge:
    """A cleartext connection until its first bytes say which protocol it speaks.

    It reads until the bytes either are the HTTP/2 preface or cannot become
    it, then hands them to the driver of that protocol and runs it; until
    then it answers for the HTTP/1.1 driver, which waits for a first request
    (so a shutdown closes it at once, and its deadline is that driver's).

    :param transport: the connection's transport.
    :param h1: the HTTP/1.1 driver.
    :param make_h2: makes the HTTP/2 driver, given the bytes read so far.
    """

    __slots__ = ("_active", "_h1", "_make_h2", "_shutting_down", "_transport")

    def __init__(
        self,
        transport: Transport,
        h1: ConnectionDriver,
        make_h2: Callable[[bytes], H2ConnectionDriver],
    ) -> None:
        self._transport = transport
        self._h1 = h1
        self._make_h2 = make_h2
        self._active: ConnectionDriver | H2ConnectionDriver = h1
        self._shutting_down = False

    @property
    def driver(self) -> ConnectionDriver | H2ConnectionDriver:
        """The driver serving the connection (HTTP/1.1 until the preface came)."""
        return self._active

    @property
    def disconnected(self) -> bool:
        return self._active.disconnected

    @property
    def idle(self) -> bool:
        return self._active.idle

    def shed_order(self) -> tuple[int, float] | None:
        return self._active.shed_order()

    def start_shutdown(self) -> None:
        self._shutting_down = True
        self._active.start_shutdown()

    async def run(self) -> None:
        """Read the first bytes, then serve the connection with the protocol they begin."""
        h1 = self._h1
        received = b""
        eof = False
        while len(received) < len(PREFACE) and PREFACE.startswith(received):
            try:
                data = await self._transport.receive(h1.conn.deadline)
            except TimeoutError:
                break  # the HTTP/1.1 driver times out in its turn, as it would have
            except (TransportClosed, ConnectionError):
                data = b""
            if not data:
                eof = True
                break
            received += data
        if received.startswith(PREFACE):
            h2 = self._active = self._make_h2(received)
            if self._shutting_down:
                h2.start_shutdown()
            await h2.run()
            return
        if received or eof:
            h1.conn.receive_data(received)
        if eof:
            h1.conn.receive_data(b"")
        await h1.run()
