"""Tornado's ``tornado.websocket`` import path: ``from crosswind.websocket import WebSocketHandler``.

The handler lives in :mod:`crosswind.web.websocket`; this module only gives it
the path Tornado code imports it from.

The client, :func:`websocket_connect` (asyncio and trio) and its blocking twin
:func:`websocket_connect_sync`, needs sockets and TLS, which the core never
imports itself: it lives in :mod:`crosswind.backends.websocket_client` and is
loaded from there on first use of its names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .web.websocket import WebSocketClosedError, WebSocketError, WebSocketHandler

if TYPE_CHECKING:
    from crosswind.backends.websocket_client import (
        HandshakeFailed,
        HandshakeResponse,
        SyncWebSocketClientConnection,
        WebSocketClientConnection,
        WebSocketHandshakeError,
        WebSocketTimeoutError,
        websocket_connect,
        websocket_connect_sync,
    )

__all__ = [
    "HandshakeFailed",
    "HandshakeResponse",
    "SyncWebSocketClientConnection",
    "WebSocketClientConnection",
    "WebSocketClosedError",
    "WebSocketError",
    "WebSocketHandler",
    "WebSocketHandshakeError",
    "WebSocketTimeoutError",
    "websocket_connect",
    "websocket_connect_sync",
]

_CLIENT_NAMES = frozenset(
    {
        "HandshakeFailed",
        "HandshakeResponse",
        "SyncWebSocketClientConnection",
        "WebSocketClientConnection",
        "WebSocketHandshakeError",
        "WebSocketTimeoutError",
        "websocket_connect",
        "websocket_connect_sync",
    }
)


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        return getattr(importlib.import_module("crosswind.backends.websocket_client"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
