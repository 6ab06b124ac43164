"""Testing helpers: an in-memory client over the real connection driver.

* :mod:`crosswind.testing.client` -- :class:`Client`, requests through the real
  :class:`~crosswind.protocol.driver.ConnectionDriver` with no sockets.
* :mod:`crosswind.testing.websocket` -- :class:`TestWebSocket`, what
  ``Client.websocket()`` and the Flask-style client's ``websocket()`` open:
  a WebSocket conversation through the same driver, frame by frame.
* :mod:`crosswind.testing.strategies` -- Hypothesis strategies for valid and
  hostile HTTP, routes and cookies, for property tests of protocol behaviour.

The contract: these helpers build on the building blocks, the protocol and
routing, and know neither framework; the Flask-style layer builds its own test
client on top of them.
"""

from .client import Client, MemoryTransport, Response, parse_responses, serve_bytes
from .websocket import TestWebSocket, WebSocketDenied, WebSocketDisconnect

__all__ = [
    "Client",
    "MemoryTransport",
    "Response",
    "TestWebSocket",
    "WebSocketDenied",
    "WebSocketDisconnect",
    "parse_responses",
    "serve_bytes",
]
