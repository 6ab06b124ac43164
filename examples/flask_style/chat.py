"""A live chat room: a page and a WebSocket view, written as a Quart or Flask-Sock app would be.

* ``/chat/`` is the page (``templates/chat.html``, ``static/chat.js``); the
  script connects to ``/chat/socket``, shows the connection's state and
  reconnects with a growing delay when it drops.
* The browser sends ``{"name": ..., "text": ...}``; every connected client,
  the sender included, gets ``{"id": ..., "name": ..., "text": ...}``.  The
  page inserts name and text as text, never as markup.
* A client that connects gets the last :attr:`Room.history` messages first;
  the script skips ids it has shown, so a reconnect shows nothing twice.
* The application sets ``WEBSOCKET_ALLOWED_ORIGINS`` to ``"same-origin"``
  (its sessions are cookies): the page's own origin is let in, other
  sites' pages are refused with ``403``.

The room is kept in ``app.extensions["chat"]``.  Its messages travel
through :mod:`crosswind.broadcast`: each socket subscribes to the room's
channel and forwards what arrives.  ``memory://`` reaches the sockets of
this process only, and the history is kept per process.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from crosswind.app import (
    Blueprint,
    WebSocket,
    WebSocketDisconnect,
    current_app,
    render_template,
    session,
    url_for,
    websocket,
)
from crosswind.broadcast import Broadcast, Subscriber

__all__ = ["Room", "chat"]

#: The longest name and text kept; longer ones are cut, not refused.
MAX_NAME = 40
MAX_TEXT = 2000
#: A message from the browser is a small JSON object; anything much larger
#: than the longest text allowed is not one (``WEBSOCKET_MAX_MESSAGE_SIZE``).
MAX_MESSAGE_SIZE = 4 * MAX_TEXT + 1024
#: Close codes (RFC 6455 section 7.4.1).
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008

chat = Blueprint("chat", __name__)


class Room:
    """The last messages, and the channel that carries new ones to every client.

    :param history: how many messages a new client is sent.
    :param broadcast: what carries messages (``memory://``, this process, by default).
    """

    channel = "flask-chat"

    def __init__(self, history: int = 50, broadcast: Broadcast | None = None) -> None:
        self.history = history
        self.recent: deque[str] = deque(maxlen=history)
        self.broadcast = broadcast or Broadcast("memory://")

    async def post(self, name: str, text: str) -> None:
        """Keep a message and publish it.

        :param name: the author's name.
        :param text: what they wrote.
        """
        data = json.dumps({"id": uuid.uuid4().hex, "name": name, "text": text})
        self.recent.append(data)
        await self.broadcast.publish(self.channel, data)


async def forward(subscriber: Subscriber, client: WebSocket) -> None:
    """Send *client* each message of the room until it or its subscription ends.

    :param subscriber: the client's subscription to the room.
    :param client: the client's connection.
    """
    try:
        async for event in subscriber:
            # A slow client falls behind in its own bounded mailbox (the oldest
            # messages go) and holds up nobody else.
            await client.send(event.message)
    except WebSocketDisconnect:
        pass
    except Exception:
        logging.getLogger(__name__).exception("forwarding chat messages failed")


def run_beside(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``fn()`` next to the view, on whichever runtime serves it.

    :param fn: a coroutine function that handles its own errors.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        task = loop.create_task(fn())
        # The loop holds its tasks weakly.
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
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
    # The threads backend runs coroutines that block rather than suspend:
    # one step in a thread of its own takes this one to its end.
    threading.Thread(target=_step, args=(fn,), daemon=True).start()


_tasks: set[asyncio.Task[None]] = set()


def _step(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    coroutine = fn()
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("the chat's forwarding tried to wait without an event loop")


def read_message(raw: str | bytes) -> tuple[str, str] | None:
    """The trimmed name and text of a message from the browser; ``None`` if it is not one.

    :param raw: the WebSocket message.
    """
    if isinstance(raw, bytes):
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    name, text = data.get("name", ""), data.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        return None
    return name.strip()[:MAX_NAME] or "anonymous", text.strip()[:MAX_TEXT]


@chat.route("/")
def page() -> str:
    return render_template("chat.html", socket_path=url_for("chat.socket"), user=session.get("user"))


@chat.websocket("/socket")
async def socket() -> None:
    room: Room = current_app.extensions["chat"]
    client: WebSocket = websocket._get_current_object()  # type: ignore[attr-defined]
    # Subscribed, and the history taken, before the handshake is answered: a
    # client told it is connected misses nothing posted from then on.  A
    # message posted between the two arrives twice (the page shows it once)
    # rather than not at all.
    async with room.broadcast.subscribe(room.channel) as subscriber:
        history = list(room.recent)
        await websocket.accept()
        for data in history:
            await websocket.send(data)
        run_beside(functools.partial(forward, subscriber, client))
        while True:
            raw = await websocket.receive()
            message = read_message(raw)
            if message is None:
                if isinstance(raw, bytes):
                    await websocket.close(UNSUPPORTED_DATA, "text messages only")
                else:
                    await websocket.close(POLICY_VIOLATION, 'expected {"name": ..., "text": ...}')
                return
            name, text = message
            if text:
                await room.post(name, text)
