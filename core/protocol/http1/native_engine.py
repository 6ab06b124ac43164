"""The native protocol engine: crosswind's own parse, done once, behind the engine interface.

The policy layer in front of every engine already reads each byte of a
request to vet it: :func:`~crosswind.protocol.http1.head.screen_head` matches the whole
header block with one compiled regex and returns the method, target,
version and fields; :class:`~crosswind.protocol.http1.chunked.ChunkedScanner` walks every
chunk.  The h11 engine then parses the same bytes a second time, with its
own state machine and an event object per step.  This engine does not: it
is a *screened* engine (see :mod:`crosswind.protocol.http1.engine`) that turns the
screened :class:`~crosswind.protocol.http1.head.Head` into the request event as it is, and
passes body data on as the connection hands it over -- a
``Content-Length`` body straight from the receive buffer, a chunked one
already de-chunked by the scanner (``decode=True``).

It is therefore exactly as strict as the policy layer, which refuses
everything h11 refuses and more (see "Native engine vs h11" in
``docs/protocol.md``; ``fuzz/differential.py`` checks the two engines
agree).  Per request it saves what h11 cost on top of screening, most of a
cycle through :class:`~crosswind.protocol.http1.connection.ServerConnection`
(the figures, and the command that measures them, are in ``bench/NOTES.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..events import NEED_DATA, PAUSED, Data, EndOfMessage, Event, RawHeaders, Request

if TYPE_CHECKING:
    from .head import Head

__all__ = ["NativeEngine"]

_IN_BODY, _ENDED, _DONE = range(3)
# Events are frozen: one end without trailers serves every request, rather
# than a new EndOfMessage each (see bench/NOTES.md).
_END = EndOfMessage(())
# The request event made without the named tuple's own __new__, a Python function
# (deliberate, see bench/NOTES.md).
_new_request = tuple.__new__


class NativeEngine:
    """Events from the policy layer's parse; nothing is parsed here again."""

    #: A screened engine: the connection hands over the :class:`Head`, not bytes.
    parses_head = False

    __slots__ = ("_pending", "_state", "_trailers")

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._state = _IN_BODY
        self._trailers: RawHeaders = ()

    def receive_head(self, head: Head) -> Request:
        """Return the request event of a screened head.

        A head that announces no body (neither chunked nor a ``Content-Length``
        above zero) ends the message at once, without a :meth:`receive_end`.

        :param head: what :func:`~crosswind.protocol.http1.head.screen_head` accepted.
        """
        if not head.chunked and not head.content_length:
            self._state = _ENDED
        # The head's first four fields are the event's, in its order.
        return _new_request(Request, head[:4])

    def receive_data(self, data: bytes) -> None:
        """Take body data (already de-chunked).

        :param data: bytes of the current request's body.
        """
        self._pending.append(data)

    def receive_end(self, trailers: RawHeaders) -> None:
        """The body is complete.

        :param trailers: chunked trailer fields (empty otherwise).
        """
        self._state = _ENDED
        self._trailers = trailers

    def next_event(self) -> Event | object:
        """Return body data, then the end of the message, then :data:`PAUSED`."""
        pending = self._pending
        if pending:
            # The connection feeds one piece per call; more is joined, not queued.
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            pending.clear()
            return Data(data)
        state = self._state
        if state == _ENDED:
            self._state = _DONE
            return EndOfMessage(self._trailers) if self._trailers else _END
        return PAUSED if state == _DONE else NEED_DATA

    def start_next_cycle(self) -> None:
        """Reset for the next request."""
        self._pending.clear()
        self._state = _IN_BODY
        self._trailers = ()
