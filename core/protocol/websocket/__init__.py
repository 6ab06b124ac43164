"""WebSocket (RFC 6455, with permessage-deflate from RFC 7692) as a sans-IO layer.

Built on wsproto's frame layer, which does the framing, masking, UTF-8 checks
and compression; this folder adds what a server decides around it:

* :mod:`.handshake` -- vetting an upgrade request the HTTP layer parsed, and
  the fields of the ``101 Switching Protocols`` that accepts it;
* :mod:`.deflate` -- choosing a permessage-deflate offer, Tornado's
  compression options, and inflation kept within the message limit;
* :mod:`.connection` -- one connection after the handshake: whole messages,
  pings answered, limits, the closing handshake, timers as deadlines and
  back-pressure;
* :mod:`.events` -- what the connection reports;
* :mod:`.session` -- a connection served over the stream of a detached
  exchange, on any backend;
* :mod:`.upgrade` -- from an accepted handshake to that session: the ``101``
  head and the connection's settings, written once for every front end;
* :mod:`.client` -- the opening handshake from the client's side; the client
  then runs a :class:`WebSocketConnection` made with ``client=True`` in the
  same kind of session.

Like the rest of :mod:`crosswind.protocol`, nothing here does I/O or reads a
clock of its own.  The connection driver, Tornado-style handlers, Flask-style
views and ASGI ``websocket`` scopes are built on top of it.
"""

from .connection import WebSocketClosed, WebSocketConnection, sendable_close_code
from .events import BytesMessage, Closed, CloseReceived, Event, Ping, Pong, TextMessage
from .handshake import Accepted, Refusal, UpgradeRequest, screen_upgrade

__all__ = [
    "Accepted",
    "BytesMessage",
    "CloseReceived",
    "Closed",
    "Event",
    "Ping",
    "Pong",
    "Refusal",
    "TextMessage",
    "UpgradeRequest",
    "WebSocketClosed",
    "WebSocketConnection",
    "screen_upgrade",
    "sendable_close_code",
]
