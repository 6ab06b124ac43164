"""A live chat in Tornado's style on crosswind: a page and a ``WebSocketHandler``.

See :mod:`examples.chat.app`.  The demo (``make demo``) serves it at ``/chat/``.
"""

from .app import ChatRoom, chat_routes

__all__ = ["ChatRoom", "chat_routes"]
