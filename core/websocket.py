"""Tornado's ``tornado.websocket`` import path: ``from crosswind.websocket import WebSocketHandler``.

The handler lives in :mod:`crosswind.web.websocket`; this module only gives it
the path Tornado code imports it from.
"""

from .web.websocket import WebSocketClosedError, WebSocketError, WebSocketHandler

__all__ = ["WebSocketClosedError", "WebSocketError", "WebSocketHandler"]
