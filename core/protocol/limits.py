"""Every resource limit of a connection, with its default and the reason for it.

All limits are checked against the bytes as a whole, never against how TCP
happened to split them: the same stream gets the same verdict whether it
arrives in one read or one byte at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict, Unpack

__all__ = ["LimitChanges", "Limits"]

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits for one server; pass ``Limits(max_body_size=...)`` to change one.

    :param max_request_line: longest request line; longer answers ``414``.
        8 KiB is Apache's ``LimitRequestLine`` and nginx's large buffer size.
    :param max_head_size: request line plus header section; larger answers
        ``431``.  64 KiB is generous: browsers send 1-8 KiB, and nginx stops
        at 4 x 8 KiB by default.
    :param max_header_count: more header fields answer ``431``.  100 is
        Apache's ``LimitRequestFields`` and node's default.
    :param max_body_size: request body bytes; larger answers ``413``.  A route
        or handler can raise or lower it before it reads the body.
    :param idle_timeout: seconds a keep-alive connection may wait for the
        first byte of its next request before it is closed silently.
    :param header_timeout: seconds from the first byte of a request to the
        end of its header section; past it the answer is ``408`` (this is
        what defeats slowloris-style clients).
    :param body_timeout: seconds the body may go without progress; past it
        the answer is ``408`` (or a close, once a response has started).
    :param min_body_rate: bytes per second the body must average, counted
        from the end of the head, once ``body_rate_grace`` has passed; a
        body that falls behind is answered ``408``.  1 KiB/s cuts a client
        that trickles a byte at a time within seconds, while the slowest
        mobile links still upload several times faster.
    :param body_rate_grace: seconds at the start of a body during which the
        rate is not enforced (a client may first wait for ``100 Continue``,
        or its link may take a while to ramp up).
    :param body_deadline: seconds a whole body may take, however fast it
        trickles; past it the answer is ``408``.  900 s is enough for the
        default 100 MiB at about 115 KB/s: raise it with ``max_body_size``
        for larger uploads over slow links.
    :param linger_timeout: seconds the server keeps reading and discarding
        after it refused a request the client may still be sending (a
        ``413`` in the middle of an upload, say), with its own side already
        shut down.  Closing at once would reset the connection, and the
        reset can destroy the answer before the client reads it (RFC 9112
        section 9.6).
    :param drain_limit: unread request body the server will still read and
        discard to keep a connection alive; a larger remainder closes it.
    :param max_connections: open connections per server process.  When
        they are all taken and a new client waits, one connection that
        holds its slot without using it is closed to make room: the one
        that has waited longest for a request head (an idle keep-alive
        connection, or a client trickling its head), else the oldest body
        already below ``min_body_rate`` (the grace is for a server with room
        to spare); never one that began waiting or sending less than a
        second ago.  So clients that hold connections without using them
        cannot lock the others out.  When no connection may be shed,
        accepting pauses (back-pressure) instead of queueing without bound.
    :param max_chunk_line: longest chunk-size line including extensions.
    :param ws_max_message_size: bytes of one WebSocket message, counted after
        permessage-deflate has inflated it, so a small compressed message
        cannot grow past it; larger closes the connection with ``1009``.
        10 MiB is Tornado's ``websocket_max_message_size``.
    :param ws_max_frame_size: payload bytes of one WebSocket frame, as its
        header declares them; larger closes with ``1009`` before any of the
        payload is read.  The default equals ``ws_max_message_size`` because
        browsers send a message as a single frame: a lower frame limit would
        refuse messages the message limit allows.  Raise both together.
    :param ws_close_timeout: seconds a WebSocket connection that sent its
        close frame waits for the peer's before giving up on it; 5 s is how
        long Tornado waits.
    :param ws_max_queued_bytes: outgoing WebSocket bytes not yet written to
        the peer beyond which the sender must wait (back-pressure).  256 KiB
        keeps a socket busy (several kernel send buffers' worth) while the
        default 1000 connections of clients that stop reading hold at most
        256 MiB between them.
    """

    max_request_line: int = 8 * KiB
    max_head_size: int = 64 * KiB
    max_header_count: int = 100
    max_body_size: int = 100 * MiB
    idle_timeout: float = 60.0
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    min_body_rate: float = 1 * KiB
    body_rate_grace: float = 10.0
    body_deadline: float = 900.0
    linger_timeout: float = 2.0
    drain_limit: int = 1 * MiB
    max_connections: int = 1000
    max_chunk_line: int = 4 * KiB
    ws_max_message_size: int = 10 * MiB
    ws_max_frame_size: int = 10 * MiB
    ws_close_timeout: float = 5.0
    ws_max_queued_bytes: int = 256 * KiB

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"limit {name} must be a positive number, not {value!r}")
        if self.max_request_line > self.max_head_size:
            raise ValueError("max_request_line cannot exceed max_head_size")

    def replace(self, **changes: Unpack[LimitChanges]) -> Limits:
        """Return a copy with some limits changed.

        :param changes: the limits to change, by field name.
        """
        return replace(self, **changes)


class LimitChanges(TypedDict, total=False):
    """What :meth:`Limits.replace` takes: any of the limits, each with its field's type."""

    max_request_line: int
    max_head_size: int
    max_header_count: int
    max_body_size: int
    idle_timeout: float
    header_timeout: float
    body_timeout: float
    min_body_rate: float
    body_rate_grace: float
    body_deadline: float
    linger_timeout: float
    drain_limit: int
    max_connections: int
    max_chunk_line: int
    ws_max_message_size: int
    ws_max_frame_size: int
    ws_close_timeout: float
    ws_max_queued_bytes: int
