"""The protocol layer: HTTP on the wire, without I/O.

This folder turns bytes from a peer into events and responses into bytes, and
decides everything HTTP leaves to a server: limits, keep-alive, ``100 Continue``,
timeouts as deadlines, and which status answers which fault.  It never reads a
socket or starts a timer; a backend does that through a
:class:`~crosswind.protocol.transport.Transport`.

* :mod:`~crosswind.protocol.http1` -- HTTP/1.1: vetting heads and chunked
  bodies, the engines that parse them, the connection state machine and the
  response writer.
* :mod:`~crosswind.protocol.websocket` -- WebSocket on wsproto: vetting an
  upgrade, the connection after it, permessage-deflate.  HTTP/2 goes beside
  these two.
* :mod:`~crosswind.protocol.driver` -- runs one connection against a transport
  and an application; the one driver every backend uses.
* :mod:`~crosswind.protocol.exchange` -- what an application gets for one
  request (``async def handle(exchange)``).
* :mod:`~crosswind.protocol.events`, :mod:`~crosswind.protocol.transport`,
  :mod:`~crosswind.protocol.limits`, :mod:`~crosswind.protocol.status` -- the
  vocabulary at the boundaries: events, the transport a backend provides, every
  resource limit with its reason, reason phrases.

The contract: modules here may import the building blocks at the package root
(:mod:`crosswind.errors`, :mod:`crosswind.grammar`, :mod:`crosswind.headers`, ...)
and each other, never a framework (``web``, ``app``, ``rpc``), routing, the
command line, or a runtime.  Time comes in as a clock argument.
``tests/test_layers.py`` enforces it.
"""
