"""Runtime backends: thin drivers that accept, read, write, arm timers and shut down.

A backend runs :class:`~crosswind.protocol.driver.ConnectionDriver` on one
runtime.  It provides a transport per connection that implements
:class:`crosswind.protocol.transport.Transport` (bytes in and out, read
deadlines in its own clock), and a ``serve`` function as
:class:`crosswind.serving.backends.Serve` declares it, registered under the
``crosswind.backends`` entry-point group, beside a ``start_server`` that
takes the same options.  It knows no HTTP: parsing, limits, keep-alive and
error answers are the driver's.

A built-in backend keeps only what its runtime does its own way: accepting,
reading, writing, timers, its event loop or thread pool, waiting and waking.
The rest of a server's life (options checked, signals, the application's
``startup()`` and ``shutdown()``, the ``Serving on`` line, the graceful
shutdown in its order) is written once in ``_serve``; sockets and TLS facts
are in ``_common``.

A backend imports the standard library, its runtime, ``crosswind.protocol``,
``crosswind._sync`` and those two modules; nothing else of crosswind
(``tests/backends/test_contract.py`` checks it).  ``memory`` (one connection
in memory, for tests), ``rpc_client`` (the RPC clients, here for their
sockets and TLS) and ``broadcast`` (pub/sub, here for its event loops and
Redis; ``crosswind.broadcast`` loads it) are not backends.
"""
