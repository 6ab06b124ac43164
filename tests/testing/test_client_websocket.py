"""``crosswind.testing.Client.websocket``: Tornado-style handlers, in memory, frame by frame.

Each session goes through the real connection driver on the in-memory
backend's loop thread; the handlers record what they saw in a list the test
reads once the session's block has ended (which waits for ``on_close``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from crosswind.testing import Client, TestWebSocket, WebSocketDenied, WebSocketDisconnect
from crosswind.web import Application, RequestHandler, authenticated
from crosswind.websocket import WebSocketHandler

pytestmark = pytest.mark.timeout(60)

MAX_MESSAGE = 1024


def make_app(events: list[Any], **settings: Any) -> Application:
    class Echo(WebSocketHandler):
        def prepare(self) -> None:
            self.set_cookie("visited", "yes")

        def open(self, room: str) -> None:
            self.room = room
            events.append(("open", room, self.get_cookie("user")))

        async def on_message(self, message: str | bytes) -> None:
            await asyncio.sleep(0.01)  # needs a real event loop
            if message == "json":
                self.write_message({"room": self.room, "user": self.get_cookie("user")})
            elif message == "close":
                self.close(4000, "asked to")
            elif message == "fail":
                raise ValueError("the handler failed")
            else:
                self.write_message(message, binary=isinstance(message, bytes))

        def on_close(self) -> None:
            time.sleep(0.05)  # a slow on_close: the session must wait for it
            events.append(("close", self.close_code, self.close_reason))

        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            return "chat" if "chat" in subprotocols else None

    class Silent(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            pass

        def on_ping(self, data: bytes) -> None:
            events.append(("ping", data))

        def on_pong(self, data: bytes) -> None:
            events.append(("pong", data))

    class Compressed(WebSocketHandler):
        def get_compression_options(self) -> dict[str, Any]:
            return {}

        def on_message(self, message: str | bytes) -> None:
            self.write_message(message)

    class Private(WebSocketHandler):
        def get_current_user(self) -> str | None:
            return self.get_cookie("user")

        @authenticated
        async def get(self, *args: Any, **kwargs: Any) -> None:
            await super().get(*args, **kwargs)

        def open(self) -> None:
            self.write_message(f"hello {self.current_user}")

    class Login(RequestHandler):
        def get(self) -> None:
            self.set_cookie("user", "ada")
            self.write("in")

    return Application(
        [
            (r"/ws/(\w+)", Echo),
            (r"/silent", Silent),
            (r"/deflate", Compressed),
            (r"/private", Private),
            (r"/login", Login),
        ],
        login_url="/login",
        websocket_max_message_size=MAX_MESSAGE,
        **settings,
    )


@pytest.fixture
def events() -> list[Any]:
    return []


@pytest.fixture
def client(events: list[Any]) -> Client:
    return Client(make_app(events))


def test_text_and_binary_messages_round_trip(client: Client, events: list[Any]) -> None:
    with client.websocket("/ws/lobby") as ws:
        ws.send("hello")
        assert ws.receive() == "hello"
        ws.send(b"\x00\xff")
        assert ws.receive() == b"\x00\xff"
        assert ws.response.status_code == 101
    assert events[0] == ("open", "lobby", None)


def test_json_both_ways(client: Client) -> None:
    with client.websocket("/ws/kitchen") as ws:
        ws.send("json")  # the handler writes a dict
        assert ws.receive_json() == {"room": "kitchen", "user": None}
        ws.send_json({"echo": [1, 2]})
        assert ws.receive() == '{"echo": [1, 2]}'
        ws.send_json({"binary": True}, binary=True)
        assert ws.receive_json() == {"binary": True}


def test_the_handlers_choice_of_subprotocol(client: Client) -> None:
    with client.websocket("/ws/a", subprotocols=["other", "chat"]) as ws:
        assert ws.accepted_subprotocol == "chat"
        assert ws.response_headers["Sec-WebSocket-Protocol"] == "chat"
    with client.websocket("/ws/a", subprotocols=["other"]) as ws:
        assert ws.accepted_subprotocol is None


def test_cookies_go_with_the_handshake_and_come_back_from_the_101(
    client: Client, events: list[Any]
) -> None:
    client.get("/login")
    with client.websocket("/ws/lobby") as ws:
        ws.send("json")
        assert ws.receive_json()["user"] == "ada"
        assert ws.cookies == {"visited": "yes"}
    assert client.cookies["visited"] == "yes"
    assert events[0] == ("open", "lobby", "ada")


def test_a_cross_origin_handshake_is_refused_with_the_response(client: Client, events: list[Any]) -> None:
    with pytest.raises(WebSocketDenied) as denied, client.websocket(
        "/ws/lobby", headers={"Origin": "https://elsewhere.example"}
    ):
        pytest.fail("the handshake should have been refused")
    response = denied.value.response
    assert response.status_code == 403
    assert b"Cross origin" in response.content
    assert events == []


def test_an_authenticated_handler_redirects_a_stranger_and_greets_a_user(client: Client) -> None:
    with pytest.raises(WebSocketDenied) as denied, client.websocket("/private"):
        pass
    assert denied.value.response.status_code == 302
    assert denied.value.response.headers["Location"].startswith("/login?next=")
    client.get("/login")
    with client.websocket("/private") as ws:
        assert ws.receive() == "hello ada"


def test_a_close_from_the_server_carries_its_code_and_reason(client: Client, events: list[Any]) -> None:
    with client.websocket("/ws/lobby") as ws:
        ws.send("before")
        ws.send("close")
        assert ws.receive() == "before"  # what came before the close is still read
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
        assert (closed.value.code, closed.value.reason) == (4000, "asked to")
        assert (ws.close_code, ws.close_reason) == (4000, "asked to")
        with pytest.raises(WebSocketDisconnect):
            ws.send("too late")
    assert events[-1] == ("close", 4000, "asked to")


def test_a_close_from_the_client_reaches_on_close_before_the_block_ends(
    client: Client, events: list[Any]
) -> None:
    with client.websocket("/ws/lobby") as ws:
        ws.close(4001, "bye")
        assert ws.close_code == 4001  # the server echoes the code
    assert events[-1] == ("close", 4001, "bye")


def test_leaving_the_block_closes_with_1000_and_waits_for_on_close(
    client: Client, events: list[Any]
) -> None:
    with client.websocket("/ws/lobby") as ws:
        ws.send("hi")
    assert events[-1] == ("close", 1000, None)
    assert ws.close_code == 1000


def test_a_message_over_the_limit_closes_with_1009(client: Client, events: list[Any]) -> None:
    with client.websocket("/ws/lobby") as ws:
        ws.send("x" * (MAX_MESSAGE + 1))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1009
    assert events[-1][:2] == ("close", 1009)


def test_a_failing_handler_drops_the_connection_without_a_close_frame(
    client: Client, events: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with client.websocket("/ws/lobby") as ws:
        ws.send("fail")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1006
    assert events[-1] == ("close", None, None)
    assert "the handler failed" in caplog.text


def test_a_silent_server_makes_receive_time_out_quickly(client: Client) -> None:
    with client.websocket("/silent") as ws:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="no message from the server"):
            ws.receive(timeout=0.2)
        assert time.monotonic() - started < 2
        ws.send("still open")  # a timeout leaves the connection usable


def test_permessage_deflate_when_offered_and_accepted(client: Client) -> None:
    with client.websocket("/deflate", deflate=True) as ws:
        assert ws.extensions == ["permessage-deflate"]
        ws.send("squeeze " * 100)
        assert ws.receive() == "squeeze " * 100


def test_a_session_outside_a_with_block_refuses_to_talk(client: Client) -> None:
    session = client.websocket("/ws/lobby")
    assert isinstance(session, TestWebSocket)
    with pytest.raises(RuntimeError, match="with block"):
        session.send("hi")


def test_the_session_answers_the_servers_keep_alive_pings_while_it_waits(events: list[Any]) -> None:
    client = Client(make_app(events, websocket_ping_interval=0.05))
    with client.websocket("/silent") as ws:
        with pytest.raises(TimeoutError):
            ws.receive(timeout=0.5)  # several ping intervals, each ping answered
        ws.ping(b"still there?")
        assert ws.close_code is None
    assert sum(1 for event in events if event[0] == "pong") >= 3
    assert ("ping", b"still there?") in events
