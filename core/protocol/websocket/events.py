"""What a WebSocket connection reports: whole messages, control frames and its end.

:meth:`~crosswind.protocol.websocket.connection.WebSocketConnection.next_event`
returns one of these, or :data:`~crosswind.protocol.events.NEED_DATA` when more
bytes are needed first.  Messages are always whole: fragments are put back
together before the application sees them.  Exactly one :class:`CloseReceived`
or :class:`Closed` ends every connection, and nothing follows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import NEED_DATA

__all__ = [
    "NEED_DATA",
    "BytesMessage",
    "CloseReceived",
    "ENDINGS",
    "MESSAGES",
    "Closed",
    "Event",
    "Ping",
    "Pong",
    "TextMessage",
]


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A whole text message, decoded from UTF-8."""

    data: str


@dataclass(frozen=True, slots=True)
class BytesMessage:
    """A whole binary message."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """The peer pinged; the pong that answers it is already queued.

    Not once our close frame has gone out: nothing follows a close (RFC 6455
    section 5.5.1).
    """

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """The peer answered a ping (or sent a pong unasked, which RFC 6455 allows)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer's close frame arrived; the connection is now closed.

    If the peer started the close, the answering close frame is queued.

    :param code: the peer's status code; ``1005`` when its frame carried none.
    :param reason: the peer's reason, possibly empty.
    """

    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection ended without the peer's close frame deciding it.

    Either this side failed the connection because of what the peer sent
    (``1002`` protocol error, ``1007`` invalid data, ``1009`` too big: the
    close frame saying so is queued), or the peer went silent or away
    (``1006``: the transport ended, a ping went unanswered, or the peer never
    answered our close).

    :param code: the status code, as above.
    :param reason: a short explanation of ours, never bytes from the peer.
    """

    code: int
    reason: str = ""


Event = TextMessage | BytesMessage | Ping | Pong | CloseReceived | Closed
#: The message events, as one tuple for ``isinstance`` (made once, not per call).
MESSAGES = (TextMessage, BytesMessage)
#: The events that end a connection, as one tuple for ``isinstance``.
ENDINGS = (CloseReceived, Closed)
