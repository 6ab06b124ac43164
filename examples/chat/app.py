"""A chat room written as Tornado's websocket chat demo is: one page, one ``WebSocketHandler``.

* ``/chat/`` is the page: a Jinja2 template and ``static/chat.js`` (no
  framework, nothing from another site).  The script opens a WebSocket to
  ``/chat/socket``, shows whether it is connected, and reconnects with a
  growing delay when the connection drops.
* The browser sends ``{"name": ..., "text": ...}`` as JSON text; the server
  trims both, gives the message an id and sends
  ``{"id": ..., "name": ..., "text": ...}`` to every connected client,
  the sender included.  Name and text stay plain strings all the way: the
  page inserts them as text, never as markup, so ``<script>`` in a message
  is shown, not run.
* A client that connects gets the last :attr:`ChatRoom.history` messages
  first.  The script drops a message whose id it has shown already, so a
  reconnect does not show the history twice.
* The page is same-origin with the socket, so the handler's default origin
  check (which refuses other sites' pages) lets it in untouched.

The room lives in this process: a set of open handlers, as in Tornado's
demo, rather than a message broker; every client must be connected to the
same server.  Run it alone with ``python -m examples.chat.app`` (port 8890),
or through the demo (``make demo``), which serves it at ``/chat/``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import deque
from typing import Any

from crosswind.web import Application, RequestHandler, StaticFileHandler, url
from crosswind.websocket import WebSocketClosedError, WebSocketHandler

__all__ = ["ChatPageHandler", "ChatRoom", "ChatSocketHandler", "chat_routes", "make_chat_app"]

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "templates")
STATIC = os.path.join(HERE, "static")

#: The longest name and text kept; longer ones are cut, not refused.
MAX_NAME = 40
MAX_TEXT = 2000
#: A message from the browser is a small JSON object; anything much larger
#: than the longest text allowed is not one.
MAX_MESSAGE_SIZE = 4 * MAX_TEXT + 1024
#: Close codes (RFC 6455 section 7.4.1).
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008

Message = dict[str, str]


class ChatRoom:
    """The connected clients and the last messages, for those who join later.

    :param history: how many messages a new client is sent.
    """

    def __init__(self, history: int = 50) -> None:
        self.history = history
        self.cache: deque[Message] = deque(maxlen=history)
        self.waiters: set[ChatSocketHandler] = set()

    def join(self, waiter: ChatSocketHandler) -> None:
        """Send *waiter* the history, then every new message.

        :param waiter: a handler whose connection has just opened.
        """
        for message in list(self.cache):
            waiter.write_message(message)
        self.waiters.add(waiter)

    def leave(self, waiter: ChatSocketHandler) -> None:
        """Stop sending to *waiter*.

        :param waiter: a handler whose connection closed.
        """
        self.waiters.discard(waiter)

    def post(self, name: str, text: str) -> Message:
        """Keep a message and send it to every client.

        :param name: the author's name.
        :param text: what they wrote.
        :returns: the message as sent.
        """
        message = {"id": uuid.uuid4().hex, "name": name, "text": text}
        self.cache.append(message)
        # A copy: on the threads backend another client may join meanwhile.
        for waiter in list(self.waiters):
            try:
                # Not awaited: one slow client must not hold up the others.
                waiter.write_message(message)
            except WebSocketClosedError:
                self.leave(waiter)
        return message


def parse_message(raw: str) -> tuple[str, str] | None:
    """The name and text of a message from the browser, trimmed; ``None`` if it is not one.

    :param raw: the text of the WebSocket message.
    """
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    name = data.get("name", "")
    text = data.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        return None
    return name.strip()[:MAX_NAME] or "anonymous", text.strip()[:MAX_TEXT]


class ChatPageHandler(RequestHandler):
    """The chat page."""

    def initialize(self, static_prefix: str) -> None:
        self.static_prefix = static_prefix

    def get_template_path(self) -> str:
        return TEMPLATES

    def get(self) -> None:
        # The demo's static_path is the blog's, so the script's versioned URL
        # is made against this folder instead.
        script = StaticFileHandler.make_static_url(
            {"static_path": STATIC, "static_url_prefix": self.static_prefix}, "chat.js"
        )
        self.render("chat.html", socket_path=self.reverse_url("chat-socket"), script_url=script)


class ChatSocketHandler(WebSocketHandler):
    """One browser's connection to the room."""

    def initialize(self, room: ChatRoom) -> None:
        self.room = room

    @property
    def ping_interval(self) -> float:
        # Keeps idle connections open through proxies that drop silent ones.
        return 30.0

    @property
    def max_message_size(self) -> int:
        return MAX_MESSAGE_SIZE

    def open(self) -> None:
        self.room.join(self)

    def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.close(UNSUPPORTED_DATA, "text messages only")
            return
        parsed = parse_message(message)
        if parsed is None:
            self.close(POLICY_VIOLATION, 'expected {"name": ..., "text": ...}')
            return
        name, text = parsed
        if text:
            self.room.post(name, text)

    def on_close(self) -> None:
        self.room.leave(self)


def chat_routes(prefix: str = "/chat", room: ChatRoom | None = None) -> list[Any]:
    """The chat's routes under *prefix*: the page, the socket and the script.

    :param prefix: where the chat lives, without a trailing slash.
    :param room: the room (a fresh one by default).
    """
    static_prefix = prefix + "/static/"
    return [
        url(prefix + r"/", ChatPageHandler, {"static_prefix": static_prefix}, name="chat"),
        url(prefix + r"/socket", ChatSocketHandler, {"room": room or ChatRoom()}, name="chat-socket"),
        url(static_prefix + r"(.*)", StaticFileHandler, {"path": STATIC}, name="chat-static"),
    ]


def make_chat_app(prefix: str = "/chat", **settings: Any) -> Application:
    """The chat as an application of its own.

    :param prefix: as for :func:`chat_routes`.
    :param settings: application settings.
    """
    return Application(chat_routes(prefix), **settings)


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO)
    make_chat_app().listen(8890)
