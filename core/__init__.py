"""crosswind: a sans-IO HTTP/1.1 and web-framework core.

The package root holds the protocol core and the values everything else is
built from.  The programming models live in their own modules:
:mod:`crosswind.web` (Tornado's), :mod:`crosswind.app` (Flask's) and
:mod:`crosswind.rpc` (grid-style RPC services); runtimes in
:mod:`crosswind.backends`, WSGI/ASGI in :mod:`crosswind.adapters`, test
helpers in :mod:`crosswind.testing`.
"""

from ._version import __version__ as __version__
from .errors import CrosswindError, LocalProtocolError, RemoteProtocolError, RequestError
from .forms import MultiDict
from .headers import Headers
from .protocol.driver import ConnectionDriver
from .protocol.events import NEED_DATA, PAUSED, ConnectionClosed, Data, EndOfMessage, Request
from .protocol.exchange import Application, ClientDisconnected, Exchange
from .protocol.http1.connection import ServerConnection
from .protocol.limits import Limits
from .protocol.transport import ConnectionInfo, TLSInfo, Transport, TransportClosed

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "Application",
    "ClientDisconnected",
    "ConnectionClosed",
    "ConnectionDriver",
    "ConnectionInfo",
    "CrosswindError",
    "Data",
    "EndOfMessage",
    "Exchange",
    "Headers",
    "Limits",
    "LocalProtocolError",
    "MultiDict",
    "RemoteProtocolError",
    "Request",
    "RequestError",
    "ServerConnection",
    "TLSInfo",
    "Transport",
    "TransportClosed",
]
