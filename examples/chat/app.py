"""A chat room written as Tornado's websocket chat demo is: one page, one ``WebSocketHandler``.

* ``/chat/`` is the page: a Tornado template and ``static/chat.js`` (no
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

Messages travel through :mod:`crosswind.broadcast`: each socket subscribes
to the room's channel when it opens and forwards what arrives, where
Tornado's demo keeps a set of sockets and writes to each.  The demo's
``memory://`` reaches the sockets of this process only; the history is kept
per process too.  Run it alone with ``python -m examples.chat.app`` (port 8890),
or through the demo (``make demo``), which serves it at ``/chat/``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from crosswind.broadcast import Broadcast, Subscriber
from crosswind.web import Application, RequestHandler, StaticFileHandler, url
from crosswind.websocket import WebSocketClosedError, WebSocketHandler

__all__ = [
    "ChatPageHandler",
    "ChatRoom",
    "ChatSocketHandler",
    "chat_routes",
    "make_chat_app",
    "start",
]

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


class ChatRoom:
    """The last messages, for those who join later, and the channel that carries new ones.

    :param history: how many messages a new client is sent.
    :param broadcast: what carries messages to every client (``memory://``, one
        process, by default).
    """

    channel = "chat"

    def __init__(self, history: int = 50, broadcast: Broadcast | None = None) -> None:
        self.history = history
        self.cache: deque[str] = deque(maxlen=history)
        self.broadcast = broadcast or Broadcast("memory://")

    async def post(self, name: str, text: str) -> None:
        """Keep a message and publish it to every client.

        :param name: the author's name.
        :param text: what they wrote.
        """
        message = json.dumps({"id": uuid.uuid4().hex, "name": name, "text": text})
        self.cache.append(message)
        await self.broadcast.publish(self.channel, message)


def start(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``fn()`` beside the connection, on whichever runtime serves it.

    :param fn: a coroutine function that handles its own errors.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        task = loop.create_task(fn())
        # The loop keeps only a weak reference to its tasks.
        _running.add(task)
        task.add_done_callback(_running.discard)
        return
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass
        else:
            trio.lowlevel.spawn_system_task(fn)
            return
    # The threads backend: coroutines block instead of suspending, so a thread
    # of its own runs this one to the end in a single step.
    threading.Thread(target=_run_blocking, args=(fn,), daemon=True).start()


_running: set[asyncio.Task[None]] = set()


def _run_blocking(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    coroutine = fn()
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("a chat coroutine tried to suspend without an event loop")


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
        self.subscriber: Subscriber | None = None

    @property
    def ping_interval(self) -> float:
        # Keeps idle connections open through proxies that drop silent ones.
        return 30.0

    @property
    def max_message_size(self) -> int:
        return MAX_MESSAGE_SIZE

    async def open(self) -> None:
        # Subscribed before the history is sent: a message posted in between
        # arrives twice, and the page shows it once, rather than not at all.
        self.subscriber = await self.room.broadcast.add_subscriber(self.room.channel)
        for message in list(self.room.cache):
            self.write_message(message)
        start(self.forward)

    async def forward(self) -> None:
        """Send this client every message of the room until it leaves."""
        assert self.subscriber is not None
        try:
            async for event in self.subscriber:
                # Awaited: a slow client falls behind in its own bounded
                # mailbox (the oldest messages go) and holds up nobody else.
                await self.write_message(event.message)
        except WebSocketClosedError:
            pass
        except Exception:
            logging.getLogger(__name__).exception("forwarding chat messages failed")
        finally:
            await self.subscriber.unsubscribe()

    async def on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.close(UNSUPPORTED_DATA, "text messages only")
            return
        parsed = parse_message(message)
        if parsed is None:
            self.close(POLICY_VIOLATION, 'expected {"name": ..., "text": ...}')
            return
        name, text = parsed
        if text:
            await self.room.post(name, text)

    def on_close(self) -> None:
        if self.subscriber is not None:
            # Ends forward()'s loop, which was waiting for the next message.
            start(self.subscriber.unsubscribe)


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
