"""The h11 protocol engine: h11 parses requests behind :class:`~crosswind.protocol.http1.engine.Engine`."""

from __future__ import annotations

import h11

from ...errors import RemoteProtocolError
from ..events import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    Request,
)

__all__ = ["H11Engine"]

# The policy layer has already enforced the real size limits on the head and
# the trailers, so h11's own cap only needs to stay out of their way.
_NO_H11_LIMIT = 1 << 30


class H11Engine:
    """Adapts :class:`h11.Connection` to crosswind's events."""

    __slots__ = ("_conn",)

    def __init__(self) -> None:
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_NO_H11_LIMIT)

    def receive_data(self, data: bytes) -> None:
        self._conn.receive_data(data)

    def next_event(self) -> Event | object:
        try:
            event = self._conn.next_event()
        except h11.RemoteProtocolError as exc:
            # h11's message quotes the offending bytes; the client gets a
            # short fixed reason instead of its own input reflected back.
            raise RemoteProtocolError("malformed request", exc.error_status_hint) from exc
        if type(event) is h11.Data:
            return Data(bytes(event.data))
        if type(event) is h11.Request:
            return Request(event.method, event.target, event.headers, event.http_version)
        if type(event) is h11.EndOfMessage:
            return EndOfMessage(event.headers)
        if event is h11.NEED_DATA:
            return NEED_DATA
        if event is h11.PAUSED:
            return PAUSED
        if type(event) is h11.ConnectionClosed:
            return ConnectionClosed()
        raise AssertionError(f"unexpected h11 event {event!r}")  # pragma: no cover

    def start_next_cycle(self) -> None:
        # h11 only ever sees one request per connection object: the next
        # request's bytes are held back by the policy layer, and responses
        # are written by crosswind.protocol.http1.writer, so h11's response-side state never
        # advances.  A fresh parser is cheap (see bench/NOTES.md).
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_NO_H11_LIMIT)
