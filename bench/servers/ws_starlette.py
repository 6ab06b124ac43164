"""The WebSocket benchmark endpoints as a Starlette app, for uvicorn (``--ws websockets|wsproto``).

Usage: ``uvicorn ws_starlette:app --app-dir bench/servers --ws websockets``.  ``/echo``
sends every message back; ``/fanout`` writes each message to every open
connection, from a plain set, as the Tornado-style handlers do.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["app"]


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        # The raw ASGI message: the cheapest path Starlette offers for both kinds.
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"])
        else:
            await websocket.send_bytes(message["bytes"])


members: set[WebSocket] = set()


async def fanout(websocket: WebSocket) -> None:
    await websocket.accept()
    members.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for member in list(members):
                try:
                    await member.send_text(text)
                except (WebSocketDisconnect, RuntimeError):
                    members.discard(member)
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(websocket)


app = Starlette(routes=[WebSocketRoute("/echo", echo), WebSocketRoute("/fanout", fanout)])
