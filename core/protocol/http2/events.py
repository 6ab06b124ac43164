"""What an HTTP/2 server connection reports, stream by stream.

The vocabulary between :class:`~crosswind.protocol.http2.connection.H2ServerConnection`
and the driver that runs applications: small, frozen, slotted values.  Header
names are lowercased ``bytes``; values are ``bytes`` as received.  Nothing the
connection refused (a malformed request, a stream beyond the limit) becomes an
event: the client was answered already.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import RequestError
from ..events import RawHeaders

__all__ = [
    "BodyEnded",
    "BodyReceived",
    "ConnectionEnded",
    "H2Event",
    "RequestReceived",
    "StreamClosed",
    "StreamFailed",
    "WindowOpened",
]


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new stream's request head, vetted.

    :param target: the ``:path`` (the ``:authority`` of a ``CONNECT``).
    :param headers: the regular fields, with ``host`` from ``:authority``
        when the client sent no ``Host``, and ``cookie`` fields joined.
    :param end_stream: the request has no body.
    """

    stream_id: int
    method: bytes
    target: bytes
    headers: RawHeaders
    end_stream: bool


@dataclass(frozen=True, slots=True)
class BodyReceived:
    """A piece of a stream's request body.

    :param flow_length: what it counted against the flow control windows
        (padding included): hand it back to
        :meth:`~crosswind.protocol.http2.connection.H2ServerConnection.consumed`
        once the application has read *data*, which reopens the windows.
    """

    stream_id: int
    data: bytes
    flow_length: int


@dataclass(frozen=True, slots=True)
class BodyEnded:
    """A stream's request body is complete."""

    stream_id: int
    trailers: RawHeaders = ()


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The request on a stream cannot be read further: answer *error* if no response started.

    The body is too large (413) or too slow (408).  The connection discards
    what else comes for the stream.
    """

    stream_id: int
    error: RequestError


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The stream is gone: the client reset it, or the server did (a stalled response).

    Nothing more can be sent on it; its application should stop.
    """

    stream_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class WindowOpened:
    """The client opened a flow control window: responses waiting for it may send.

    :param stream_id: the stream, or ``0`` for the connection (every stream).
    """

    stream_id: int


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """No new stream will come: send what is queued, then close.

    :param graceful: streams in flight may finish first (a GOAWAY with
        ``NO_ERROR`` either way); otherwise the connection is over now.
    :param reason: why, for the server's log; never peer bytes.
    """

    graceful: bool
    reason: str


H2Event = (
    RequestReceived
    | BodyReceived
    | BodyEnded
    | StreamFailed
    | StreamClosed
    | WindowOpened
    | ConnectionEnded
)
