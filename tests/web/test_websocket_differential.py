"""The same WebSocketHandler source on real Tornado and on crosswind: the client must see the same.

:func:`build_app` builds the handlers from a ``web`` and a ``websocket``
module, Tornado's or crosswind's.  A wsproto client over a plain socket
plays one script against each server and records the handshake's status and
every frame it receives; the records must be equal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import crosswind.web
import crosswind.websocket
import pytest
import tornado.web
import tornado.websocket
from wsproto import events as ws

from tests.support.servers import BACKENDS, running_server
from tests.support.ws_client import WSClient, raw_request
from tests.web.test_differential import tornado_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]


def build_app(web: ModuleType, websocket: ModuleType) -> Any:
    class Echo(websocket.WebSocketHandler):
        def select_subprotocol(self, subprotocols):
            return "chat" if "chat" in subprotocols else None

        async def open(self, room):
            self.write_message({"room": room, "subprotocol": self.selected_subprotocol})

        async def on_message(self, message):
            if message == "bye":
                self.close(4001, "bye")
            elif message == "json":
                await self.write_message({"list": [1, 2], "text": "é"})
            elif isinstance(message, bytes):
                await self.write_message(message[::-1], binary=True)
            else:
                await self.write_message("echo: " + message)

    return web.Application([(r"/ws/(\w+)", Echo)])


@contextlib.contextmanager
def tornado_port() -> Iterator[int]:
    with tornado_server(build_app(tornado.web, tornado.websocket)) as port:
        yield port


@contextlib.contextmanager
def crosswind_port(backend: str) -> Iterator[int]:
    app = build_app(crosswind.web, crosswind.websocket)
    with running_server(backend, app) as handle:
        yield handle.port


def describe(event: ws.Event | str | bytes | None) -> Any:
    if isinstance(event, ws.CloseConnection):
        return ("close", int(event.code), event.reason)
    if isinstance(event, ws.Pong):
        return ("pong", bytes(event.payload))
    if event is None:
        return "end"
    return event


def script(port: int) -> list[Any]:
    seen: list[Any] = []
    with WSClient(port, "/ws/lobby", subprotocols=["other", "chat"]) as client:
        handshake = client.handshake
        assert isinstance(handshake, ws.AcceptConnection)
        seen.append(("subprotocol", handshake.subprotocol))
        seen.append(client.receive())
        for text in ("hello", "json", "héllo"):
            client.send_text(text)
            seen.append(client.receive())
        client.send_bytes(b"\x00\x01\x02")
        seen.append(client.receive())
        client.send(ws.Ping(payload=b"are you there"))
        seen.append(describe(client.next_event()))
        client.send_text("bye")
        seen.append(describe(client.wait_closed()))
        seen.append(describe(client.next_event()))
    with WSClient(port, "/ws/hall") as client:
        seen.append(client.receive())
        seen.append(describe(client.close(4002, "done")))
    return seen


def refusals(port: int) -> list[Any]:
    upgrade = "Upgrade: websocket\nConnection: Upgrade\n"
    key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
    requests = [
        "GET /ws/lobby HTTP/1.1\nHost: example.test\n\n",
        f"GET /ws/lobby HTTP/1.1\nHost: example.test\n{upgrade}{key}Sec-WebSocket-Version: 8\n\n",
        f"GET /ws/lobby HTTP/1.1\nHost: example.test\n{upgrade}{key}Sec-WebSocket-Version: 13\n"
        "Origin: http://elsewhere.example\n\n",
        f"GET /ws/lobby HTTP/1.1\nHost: example.test\n{upgrade}{key}Sec-WebSocket-Version: 13\n"
        "Origin: http://example.test\n\n",
        "GET /nowhere HTTP/1.1\nHost: example.test\n\n",
    ]
    answers = []
    for head in requests:
        status, fields, _ = raw_request(port, head)
        answers.append((status, fields.get("sec-websocket-version"), fields.get("upgrade")))
    return answers


@pytest.fixture(scope="module")
def tornado_results() -> dict[str, list[Any]]:
    with tornado_port() as port:
        return {"script": script(port), "refusals": refusals(port)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_frames_as_tornado(backend: str, tornado_results: dict[str, list[Any]]) -> None:
    with crosswind_port(backend) as port:
        assert script(port) == tornado_results["script"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_handshake_answers_as_tornado(
    backend: str, tornado_results: dict[str, list[Any]]
) -> None:
    with crosswind_port(backend) as port:
        assert refusals(port) == tornado_results["refusals"]


def test_the_script_sees_what_it_should(tornado_results: dict[str, list[Any]]) -> None:
    # Guards against both sides agreeing on nothing (a script that fails early on both).
    assert tornado_results["script"] == [
        ("subprotocol", "chat"),
        '{"room": "lobby", "subprotocol": "chat"}',
        "echo: hello",
        '{"list": [1, 2], "text": "\\u00e9"}',
        "echo: héllo",
        b"\x02\x01\x00",
        ("pong", b"are you there"),
        ("close", 4001, "bye"),
        "end",
        '{"room": "hall", "subprotocol": null}',
        ("close", 4002, ""),
    ]
    assert [status for status, _, _ in tornado_results["refusals"]] == [400, 426, 403, 101, 404]
