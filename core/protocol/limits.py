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
    :param h2_max_concurrent_streams: HTTP/2 streams a client may have open
        at once (``SETTINGS_MAX_CONCURRENT_STREAMS``); a stream beyond it is
        refused with ``REFUSED_STREAM``, which a client may retry.  100 is
        the floor RFC 9113 section 6.5.2 recommends, Apache's and h2o's
        default; each open stream may hold an application task.
    :param h2_initial_window_size: request body bytes one HTTP/2 stream may
        send before the application has read them (the stream's flow
        control window).  The window is reopened only as the application
        reads, so a slow handler slows its client instead of filling memory.
        256 KiB is the HTTP/1.1 backends' read buffer, and uploads 5 MB/s per
        stream over a 50 ms round trip.
    :param h2_connection_window_size: unread request body bytes all the
        streams of one HTTP/2 connection may hold together: what a
        connection can cost in buffered bodies.  1 MiB lets four streams
        upload at full speed at once, and keeps the default 1000 connections
        below 1 GiB of buffered bodies.
    :param h2_max_header_list_size: decoded size of an HTTP/2 header list
        (``SETTINGS_MAX_HEADER_LIST_SIZE``, names and values plus 32 octets
        each, RFC 9113 section 6.5.2), and of a header block still arriving
        in CONTINUATION frames.  The smaller of it and ``max_head_size``
        applies, so lowering ``max_head_size`` lowers both protocols' limit.
        A larger list ends the connection with ``ENHANCE_YOUR_CALM`` before
        it is decoded further (HPACK bombs, CONTINUATION floods).
    :param h2_max_frame_size: the largest HTTP/2 frame payload the client
        may send (``SETTINGS_MAX_FRAME_SIZE``).  16 KiB is the protocol's
        minimum and default: larger frames save little here, and each
        frame is held whole before it is checked.
    :param h2_flood_window: seconds over which the HTTP/2 frame counts below
        are taken; a count resets when its window ends.
    :param h2_max_resets: streams a client may reset (``RST_STREAM``) per
        ``h2_flood_window``; beyond, the connection ends with GOAWAY
        ``ENHANCE_YOUR_CALM``.  This is the defence against Rapid Reset
        (CVE-2023-44487), where opening and cancelling streams in a loop
        costs the client nothing and the server a task each.  200 per 10 s
        is far above a browser cancelling its navigations.
    :param h2_max_control_frames: SETTINGS, PING, PRIORITY and empty DATA
        frames a client may send per ``h2_flood_window``; beyond, GOAWAY
        ``ENHANCE_YOUR_CALM`` (the 2019 flood family, CVE-2019-9512, -9515,
        -9518).  Each costs work and carries nothing; 1000 per 10 s is far
        above what a client needs.
    :param h2_max_queued_bytes: bytes an HTTP/2 connection may have waiting
        to be written; a client that sends PINGs or SETTINGS but does not
        read the acknowledgements grows this queue, and is cut when it
        passes the limit.  Responses do not count against it: they wait for
        the queue to drain (back-pressure) before adding to it.  256 KiB as
        for ``ws_max_queued_bytes``.

    Timers apply to HTTP/2 too: ``idle_timeout`` to a connection without
    open streams (it ends with GOAWAY), ``header_timeout`` to a header block
    split over CONTINUATION frames, ``body_timeout``, ``min_body_rate`` and
    ``body_deadline`` to each stream's body while its application reads it,
    and ``body_timeout`` to a response waiting for a flow control window the
    client never opens (zero-window slow read): the stream is reset, or the
    connection cut when its own window or its socket is the one stuck.
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
    h2_max_concurrent_streams: int = 100
    h2_initial_window_size: int = 256 * KiB
    h2_connection_window_size: int = 1 * MiB
    h2_max_header_list_size: int = 64 * KiB
    h2_max_frame_size: int = 16 * KiB
    h2_flood_window: float = 10.0
    h2_max_resets: int = 200
    h2_max_control_frames: int = 1000
    h2_max_queued_bytes: int = 256 * KiB

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"limit {name} must be a positive number, not {value!r}")
        if self.max_request_line > self.max_head_size:
            raise ValueError("max_request_line cannot exceed max_head_size")
        # The bounds RFC 9113 section 6.5.2 puts on the settings themselves.
        if not 16 * KiB <= self.h2_max_frame_size <= 16 * MiB - 1:
            raise ValueError("h2_max_frame_size must be between 16 KiB and 16 MiB - 1")
        for name in ("h2_initial_window_size", "h2_connection_window_size"):
            if getattr(self, name) > 2**31 - 1:
                raise ValueError(f"{name} cannot exceed 2**31 - 1")

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
    h2_max_concurrent_streams: int
    h2_initial_window_size: int
    h2_connection_window_size: int
    h2_max_header_list_size: int
    h2_max_frame_size: int
    h2_flood_window: float
    h2_max_resets: int
    h2_max_control_frames: int
    h2_max_queued_bytes: int
