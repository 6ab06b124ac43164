"""Authenticated RPC services in the style of Tornado-based grid services.

Server side (pure, no I/O): :class:`Service`, :func:`S_OK`, :func:`S_ERROR`,
:func:`rpc_application`, :func:`initialize_services`, and the pieces in
:mod:`~crosswind.rpc.auth`, :mod:`~crosswind.rpc.authorization`,
:mod:`~crosswind.rpc.typecheck` and :mod:`~crosswind.rpc.protocol`.

Client side: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio)
live in :mod:`crosswind.backends.rpc_client`, with the sockets and TLS, and
are loaded from there on first use of the names below.  See ``docs/rpc.md``.

The contract: services are Tornado-style applications, so this layer builds on
:mod:`crosswind.web` and everything below it, never on :mod:`crosswind.app`.
"""

from __future__ import annotations

import importlib
from typing import Any

from .auth import Credentials, JWTKey
from .protocol import S_ERROR, S_OK, Call
from .service import Service, initialize_services, rpc_application

__all__ = [
    "AsyncClient",
    "Call",
    "Client",
    "Credentials",
    "JWTKey",
    "RPCError",
    "RPCResponseError",
    "RPCResult",
    "RPCTransportError",
    "S_ERROR",
    "S_OK",
    "Service",
    "initialize_services",
    "rpc_application",
]

# The client needs sockets and TLS, which the core never imports itself.
_CLIENT_NAMES = frozenset(
    {"AsyncClient", "Client", "RPCError", "RPCResponseError", "RPCResult", "RPCTransportError"}
)


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        return getattr(importlib.import_module("crosswind.backends.rpc_client"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
