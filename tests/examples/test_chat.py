"""The demo's two chats on the wire: origins, history, and what the server does with bad messages.

The browser tests (``test_chat_browser.py``) show the pages working; these
speak raw WebSocket to the same server, to check what a page cannot easily
show: another site's page is refused, the history is bounded, and a client
that sends something other than a chat message is closed with a reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from crosswind.app import mount
from crosswind.broadcast import Broadcast
from crosswind.mount import Mount
from crosswind.web import Application
from wsproto import events as ws

from examples.chat import ChatRoom, chat_routes
from examples.demo import make_demo
from examples.flask_style import create_app
from examples.flask_style.chat import Room
from tests.support.servers import BACKENDS, running_server
from tests.support.ws_client import WSClient

pytestmark = pytest.mark.network

SOCKETS = ["/chat/socket", "/flask/chat/socket"]
HISTORY = 3
#: Seconds a server may take to notice that its clients left.
WAIT = 10.0


def make_small_demo() -> tuple[Mount, dict[str, ChatRoom | Room]]:
    """The demo's two chats, each keeping only :data:`HISTORY` messages, and their rooms."""
    rooms: dict[str, ChatRoom | Room] = {
        "/chat/socket": ChatRoom(history=HISTORY),
        "/flask/chat/socket": Room(history=HISTORY),
    }
    flask_style = create_app()
    flask_style.extensions["chat"] = rooms["/flask/chat/socket"]
    tornado_style = Application(chat_routes("/chat", rooms["/chat/socket"]))  # type: ignore[arg-type]
    return mount(tornado_style, "/flask", flask_style), rooms


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def port(backend: str) -> Iterator[int]:
    with running_server(backend, make_small_demo()[0]) as handle:
        yield handle.port


def origin(port: int) -> tuple[str, str]:
    return ("Origin", f"http://127.0.0.1:{port}")


def say(client: WSClient, name: str, text: str) -> None:
    client.send_text(json.dumps({"name": name, "text": text}))


@pytest.mark.parametrize("path", SOCKETS)
def test_another_sites_page_is_refused(port, path):
    with WSClient(port, path, headers=[("Origin", "http://evil.example")]) as client:
        assert isinstance(client.handshake, ws.RejectConnection)
        assert client.handshake.status_code == 403
    with WSClient(port, path, headers=[origin(port)]) as client:
        assert client.accepted


@pytest.mark.parametrize("path", SOCKETS)
def test_every_client_gets_each_message_and_newcomers_the_last_few(backend, path):
    # A server of its own: the history must hold this test's messages only.
    app, rooms = make_small_demo()
    broadcast = rooms[path].broadcast
    with running_server(backend, app) as handle:
        talk_and_rejoin(handle.port, path, broadcast)
        # Every socket has gone: so must their subscriptions.
        deadline = time.monotonic() + WAIT
        while broadcast.subscriptions() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert broadcast.subscriptions() == {}


def talk_and_rejoin(port: int, path: str, broadcast: Broadcast) -> None:
    with WSClient(port, path, headers=[origin(port)]) as alice, WSClient(
        port, path, headers=[origin(port)]
    ) as bob:
        # A client is in the room once its socket has subscribed: the
        # Tornado-style handler does so in open(), after the handshake.
        deadline = time.monotonic() + WAIT
        while sum(broadcast.subscriptions().values()) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        texts = [f"message {n} on {path}" for n in range(HISTORY + 2)]
        for text in texts:
            say(alice, "  alice  ", f"  {text}\n")
        for client in (alice, bob):
            received = [json.loads(client.receive()) for _ in texts]
            assert [(m["name"], m["text"]) for m in received] == [("alice", t) for t in texts]
            assert len({m["id"] for m in received}) == len(texts)
        say(bob, "", "from nobody")
        assert json.loads(alice.receive())["name"] == "anonymous"

    with WSClient(port, path, headers=[origin(port)]) as carol:
        history = [json.loads(carol.receive())["text"] for _ in range(HISTORY)]
        assert history == [*texts[-(HISTORY - 1) :], "from nobody"]


@pytest.mark.parametrize("path", SOCKETS)
@pytest.mark.parametrize(
    ("send", "code"),
    [
        (lambda c: c.send_text("not json"), 1008),
        (lambda c: c.send_text(json.dumps({"name": "x"})), 1008),
        (lambda c: c.send_text(json.dumps(["a", "list"])), 1008),
        (lambda c: c.send_bytes(b"\x00binary"), 1003),
        (lambda c: c.send_text(json.dumps({"text": "x" * 20000})), 1009),
    ],
    ids=["not-json", "no-text", "not-an-object", "binary", "too-big"],
)
def test_a_client_that_sends_no_chat_message_is_closed(port, path, send, code):
    with WSClient(port, path, headers=[origin(port)]) as client:
        send(client)
        closed = client.wait_closed()
        assert closed is not None and closed.code == code


@pytest.mark.parametrize("path", ["/chat/", "/flask/chat/"])
def test_the_demo_serves_the_chat_pages_and_their_script(path):
    from crosswind.testing import Client

    client = Client(make_demo())
    assert f'href="{path}"' in client.get("/").text
    page = client.get(path)
    assert page.status_code == 200
    assert f'data-socket="{path}socket"' in page.text
    script = page.text.split('<script src="', 1)[1].split('"', 1)[0]
    assert "cdn" not in script and script.startswith("/")
    response = client.get(script)
    assert response.status_code == 200 and "new WebSocket(" in response.text
