"""The backends: the interface each one's ``serve`` implements, and the registry that finds them.

A backend runs applications on one runtime: it accepts connections, reads and
writes bytes, arms the timers the connection asks for, and hands everything
else to :class:`~crosswind.protocol.driver.ConnectionDriver`.  Crosswind ships
three (``asyncio``, ``trio`` and ``threads``, in :mod:`crosswind.backends`);
any installed package can add one.

Registering a backend
---------------------

Backends are found by name through the ``crosswind.backends`` entry-point
group.  A package declares its ``serve`` function there:

.. code-block:: toml

    [project.entry-points."crosswind.backends"]
    uvloop = "mypackage.server:serve"

Once the package is installed, ``--backend uvloop`` on the command line,
``Application.listen(port, backend="uvloop")`` and
``App.run(backend="uvloop")`` serve with it.  The function must match
:class:`Serve`: these callers may pass it any keyword that protocol
declares, so a backend that lacks one fails on the first run that uses it.

Nothing here imports a backend until one is asked for by name: each brings
its runtime (sockets, TLS, an event loop) with it, and the core stays free of
them.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, Protocol

from ..protocol.driver import AccessLog
from ..protocol.exchange import Application
from ..protocol.limits import Limits
from .errors import CLIError

if TYPE_CHECKING:  # types only: the backends are imported when one is loaded
    from crosswind.backends._common import ServerHandle

__all__ = ["BACKEND_GROUP", "DEFAULT_BACKEND", "Serve", "available_backends", "load_backend"]

BACKEND_GROUP = "crosswind.backends"
DEFAULT_BACKEND = "asyncio"


class Serve(Protocol):
    """A backend's ``serve`` function: serve *app* until told to stop, then shut down gracefully.

    It returns once the server has stopped: after SIGINT or SIGTERM when
    *handle_signals* is true, or after ``handle.shutdown()`` on the handle
    given to *started*.  When it cannot listen it raises :class:`OSError`
    whose ``strerror`` starts with ``"cannot listen"`` and names the address
    (the command line reports that line alone, without a traceback).

    :param app: the application.
    :param host: the address to listen on.
    :param port: the port to listen on; ``0`` picks a free one (see the handle).
    :param started: called with a :class:`~crosswind.backends._common.ServerHandle`
        once the server listens; it tells the bound addresses and stops the
        server from any thread.
    :param handle_signals: turn SIGINT and SIGTERM into a graceful shutdown
        (only in the main thread, where signals are delivered).
    :param ssl_context: an :class:`ssl.SSLContext`; serves HTTPS.
    :param unix_socket: a path to listen on instead of *host* and *port*.
    :param reuse_port: bind with ``SO_REUSEPORT``, so that several processes
        can listen on the same port.
    :param limits: the protocol limits (:class:`~crosswind.protocol.limits.Limits`);
        ``None`` for the defaults.
    :param shutdown_timeout: seconds busy connections get to finish once a
        shutdown starts.
    :param engine: the HTTP/1.1 protocol engine's name (``"native"`` or ``"h11"``);
        ``None`` for the default.
    :param access_log: called with each finished exchange and its duration.
    :param sock: an already listening :class:`socket.socket` to serve on
        instead of binding one (the supervisor's workers inherit it).
    :param server_header: send ``Server: crosswind`` on responses whose
        application set no ``Server`` field; false sends none at all.
    :param date_header: send a ``Date`` field on responses whose application
        set none; false sends none at all.
    :param http2: serve HTTP/2 to cleartext clients that open with its
        preface; a backend that speaks HTTP/1.1 only raises
        :class:`ValueError`.
    """

    def __call__(
        self,
        app: Application,
        host: str = "127.0.0.1",
        port: int = 8888,
        *,
        started: Callable[[ServerHandle], None] | None = None,
        handle_signals: bool = True,
        # The SSL context and the socket are typed loosely: the core names no
        # I/O module, not even for its annotations.
        ssl_context: Any = None,
        unix_socket: str | None = None,
        reuse_port: bool = False,
        limits: Limits | None = None,
        shutdown_timeout: float = 30.0,
        engine: str | None = None,
        access_log: AccessLog | None = None,
        sock: Any = None,
        server_header: bool = True,
        date_header: bool = True,
        http2: bool = False,
    ) -> None:
        """Serve *app*; the parameters are described on the class."""


def available_backends() -> dict[str, EntryPoint]:
    """The installed backends by name, from the ``crosswind.backends`` entry points."""
    return {ep.name: ep for ep in entry_points(group=BACKEND_GROUP)}


def load_backend(name: str) -> Serve:
    """The ``serve`` function of backend *name*.

    :param name: an entry-point name such as ``"asyncio"``.
    :raises CLIError: no such backend is installed, it cannot be imported, or
        what it registered is not callable.
    """
    backends = available_backends()
    try:
        entry_point = backends[name]
    except KeyError:
        choices = ", ".join(sorted(backends)) or "none installed"
        raise CLIError(f"unknown backend {name!r}; available: {choices}") from None
    try:
        serve = entry_point.load()
    except ImportError as exc:
        raise CLIError(f"backend {name!r} cannot be loaded: {exc}") from None
    if not callable(serve):
        raise CLIError(f"backend {name!r} ({entry_point.value}) is not callable")
    return serve  # type: ignore[no-any-return]
