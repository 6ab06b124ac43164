"""The WebSocket benchmark handlers, written once for ``tornado.websocket`` or ``crosswind.websocket``.

``/echo`` sends every message back as it came (text as text, binary as
binary).  ``/fanout`` is Tornado's chat demo reduced to its core: a plain
set of the open handlers, and every message one of them receives is written
to all of them, the sender included.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

__all__ = ["routes"]


def routes(websocket: ModuleType) -> list[tuple[str, Any]]:
    """The URL table for an ``Application`` of the web module that *websocket* belongs to.

    :param websocket: ``tornado.websocket`` or ``crosswind.websocket``.
    """
    closed_error = websocket.WebSocketClosedError

    class Echo(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    members: set[Any] = set()

    class Fanout(websocket.WebSocketHandler):  # type: ignore[name-defined,misc]
        def open(self) -> None:
            members.add(self)

        def on_close(self) -> None:
            members.discard(self)

        def on_message(self, message: str | bytes) -> None:
            binary = isinstance(message, bytes)
            # A copy: a member that leaves meanwhile changes the set.
            for member in list(members):
                try:
                    member.write_message(message, binary=binary)
                except closed_error:
                    members.discard(member)

    return [(r"/echo", Echo), (r"/fanout", Fanout)]
