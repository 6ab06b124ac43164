"""An HTTP/2 client (h2's own client side) talking to the server connection in memory.

Both ends are sans-IO: :meth:`Pair.to_server` moves the client's bytes to the
server and returns the server's events, :meth:`Pair.to_client` moves the
server's bytes back and returns the client's.  The clock is a plain number
the test moves forward.
"""

from __future__ import annotations

from typing import Any

from crosswind.protocol.http2.connection import H2ServerConnection
from crosswind.protocol.http2.events import H2Event
from crosswind.protocol.limits import Limits
from h2.config import H2Configuration
from h2.connection import ConnectionInputs, ConnectionState, H2Connection
from h2.events import Event

__all__ = ["Clock", "Pair"]


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Pair:
    """A client and a server connection, handshaken.

    :param limits: the server's limits.
    :param validate: whether the client checks what it sends (off to send
        malformed requests).
    """

    def __init__(self, limits: Limits | None = None, *, validate: bool = True, **client: Any) -> None:
        self.clock = Clock()
        self.server = H2ServerConnection(limits, clock=self.clock)
        self.client = H2Connection(
            H2Configuration(
                client_side=True, header_encoding=None,
                validate_outbound_headers=validate, normalize_outbound_headers=validate,
                **client,
            )
        )
        # h2 refuses every frame once it has received a GOAWAY, which would
        # keep the client from reading the answers a graceful shutdown sends.
        machine = self.client.state_machine
        table = dict(machine._transitions)
        for state in (ConnectionState.IDLE, ConnectionState.CLIENT_OPEN):
            table[state, ConnectionInputs.RECV_GOAWAY] = (None, state)
        machine._transitions = table
        self.client.initiate_connection()
        self.server.initiate()
        self.to_server()
        self.to_client()
        self.to_server()  # the client's SETTINGS ACK

    def to_server(self, data: bytes | None = None) -> list[H2Event]:
        """Send the client's queued bytes (or *data*) to the server; its events."""
        if data is None:
            data = self.client.data_to_send()
        return self.server.receive_data(data) if data else []

    def to_client(self) -> list[Event]:
        """Send the server's queued bytes to the client; the client's events."""
        data = self.server.data_to_send()
        return self.client.receive_data(data) if data else []

    def request(
        self,
        path: bytes = b"/",
        method: bytes = b"GET",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
        *,
        end: bool = True,
    ) -> tuple[int, list[H2Event]]:
        """Open a stream with a request; its id and the server's events."""
        stream_id = self.client.get_next_available_stream_id()
        fields = [
            (b":method", method), (b":scheme", b"https"), (b":authority", b"example.com"),
            (b":path", path), *(headers or []),
        ]
        self.client.send_headers(stream_id, fields, end_stream=end and body is None)
        if body is not None:
            self.client.send_data(stream_id, body, end_stream=end)
        return stream_id, self.to_server()
