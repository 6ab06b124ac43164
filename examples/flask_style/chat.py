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

The room is kept in ``app.extensions["chat"]``, in this process: every
client must be connected to the same server.
"""

from __future__ import annotations

import json
import uuid
from collections import deque

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
    """The connected clients and the last messages.

    :param history: how many messages a new client is sent.
    """

    def __init__(self, history: int = 50) -> None:
        self.history = history
        self.recent: deque[str] = deque(maxlen=history)
        self.clients: set[WebSocket] = set()

    async def post(self, name: str, text: str) -> None:
        """Keep a message and send it to every client.

        :param name: the author's name.
        :param text: what they wrote.
        """
        data = json.dumps({"id": uuid.uuid4().hex, "name": name, "text": text})
        self.recent.append(data)
        # A copy: clients may leave while the sends wait.
        for client in list(self.clients):
            try:
                # Returns once the client's transport took the message; it only
                # waits when that client has stopped reading for a while.
                await client.send(data)
            except WebSocketDisconnect:
                self.clients.discard(client)


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
    await websocket.accept()
    for data in list(room.recent):
        await websocket.send(data)
    room.clients.add(client)
    try:
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
    finally:
        room.clients.discard(client)
