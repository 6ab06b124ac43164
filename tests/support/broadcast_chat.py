"""A chat room served by several workers, its messages carried by ``crosswind.broadcast``.

``app`` is Tornado-style (``WebSocketHandler``), ``flask_app`` Flask-style
(``@app.websocket``); both answer a new socket with ``{"pid": ...}`` (so a
test knows which worker holds it), then publish every message the socket
sends to its room and forward every message of the room to the socket.
The URL of the broadcast comes from ``CROSSWIND_BROADCAST_URL``
(``memory://`` when unset): one per deployment, the same in every worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from crosswind.app import App, WebSocketDisconnect, websocket
from crosswind.broadcast import Broadcast, Subscriber
from crosswind.web import Application
from crosswind.websocket import WebSocketClosedError, WebSocketHandler

broadcast = Broadcast(os.environ.get("CROSSWIND_BROADCAST_URL", "memory://"))


class Room(WebSocketHandler):
    async def open(self, room: str) -> None:
        self.channel = f"room:{room}"
        # Subscribed before open() returns: no message sent after that can be missed.
        self.subscriber: Subscriber = await broadcast.add_subscriber(self.channel)
        self.forwarding = asyncio.get_running_loop().create_task(self.forward())
        await self.write_message({"pid": os.getpid()})

    async def forward(self) -> None:
        try:
            async for event in self.subscriber:
                # Tornado's write_message sends bytes as text unless told otherwise.
                await self.write_message(event.message, binary=isinstance(event.message, bytes))
        except WebSocketClosedError:
            pass
        finally:
            await self.subscriber.unsubscribe()

    async def on_message(self, message: str | bytes) -> None:
        await broadcast.publish(self.channel, message)

    def on_close(self) -> None:
        self.forwarding.cancel()


class ChatApplication(Application):
    # Each worker connects after the fork, when it starts serving.
    async def startup(self) -> None:
        await broadcast.connect()

    async def shutdown(self) -> None:
        await broadcast.disconnect()


app = ChatApplication([(r"/chat/(\w+)", Room)])

flask_app = App(__name__)


@flask_app.websocket("/chat/<room>")
async def chat(room: str) -> None:
    channel = f"room:{room}"
    await websocket.accept()
    async with broadcast.subscribe(channel) as subscriber:
        await websocket.send_json({"pid": os.getpid()})

        async def forward() -> None:
            async for event in subscriber:
                await websocket.send(event.message)

        forwarding = asyncio.get_running_loop().create_task(forward())
        try:
            while True:
                await broadcast.publish(channel, await websocket.receive())
        except WebSocketDisconnect:
            pass
        finally:
            forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await forwarding

