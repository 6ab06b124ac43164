"""HTTP/2 (RFC 9113) beside HTTP/1.1, on the h2 library, without I/O.

h2 does the frames, HPACK and stream states; this folder adds what a server
decides around them, and runs each stream as the same
:class:`~crosswind.protocol.exchange.Exchange` an HTTP/1.1 request is, so
applications of every style are served unchanged:

* :mod:`.connection` -- the server connection: bytes in, stream events out,
  bytes to send; limits, the attack defences and the timers as deadlines;
* :mod:`.events` -- what the connection reports;
* :mod:`.exchange` -- one stream as an exchange, with flow control reaching
  the application;
* :mod:`.driver` -- runs a connection against a transport that can start
  tasks, one task per stream;
* :mod:`.negotiate` -- which driver a new connection gets (ALPN over TLS,
  the preface in cleartext), for every backend.

The contract is the protocol layer's: modules here import the building
blocks, the rest of :mod:`crosswind.protocol`, h2, hpack and hyperframe, never
a framework, routing, the command line or a runtime; tasks and signals come
from the transport (:class:`~crosswind.protocol.transport.Concurrency`), time
from the clock argument.  ``tests/test_layers.py`` enforces it.
"""

from .connection import PREFACE, H2ServerConnection
from .driver import H2ConnectionDriver
from .exchange import H2Exchange
from .negotiate import PriorKnowledge, new_driver, offers_http2

__all__ = [
    "PREFACE",
    "H2ConnectionDriver",
    "H2Exchange",
    "H2ServerConnection",
    "PriorKnowledge",
    "new_driver",
    "offers_http2",
]
