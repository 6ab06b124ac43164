"""crosswind WebSocket routes of both styles under real ASGI servers, and the answer under WSGI.

One Tornado-style and one Flask-style application, with the same behaviour,
are served through ``app.asgi`` by uvicorn (its ``websockets`` and
``wsproto`` implementations) and hypercorn (asyncio and trio workers), each
started on a free port; a wsproto client talks to them.  What the handlers
saw is written to a :class:`Recorder`.  Under WSGI servers the same
applications answer an upgrade with ``501``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from crosswind.adapters import to_asgi
from crosswind.app import App, WebSocketDisconnect, websocket
from crosswind.web import Application
from crosswind.websocket import WebSocketHandler
from wsproto import events as ws

from tests.support.adapter_servers import (
    WSGI_SERVERS,
    gunicorn_server,
    hypercorn_server,
    uvicorn_server,
)
from tests.support.recorder import Recorder
from tests.support.ws_client import WSClient, raw_request

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

#: The per-message limit both applications set.
MAX_MESSAGE = 1024
EVIL = [("Origin", "http://evil.example")]
UPGRADE = (
    "GET /ws HTTP/1.1\nHost: 127.0.0.1\nUpgrade: websocket\nConnection: Upgrade\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"
)


# -- the applications ----------------------------------------------------------------


class Chat(WebSocketHandler):
    """Echoes; ``{...}`` is answered as JSON, ``close`` closes, ``ping`` pings first."""

    def initialize(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def prepare(self) -> None:
        self.set_cookie("seen", "yes")

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return "chat.v2" if "chat.v2" in subprotocols else None

    def on_message(self, message: str | bytes) -> None:
        if message == "close":
            self.close(4002, "done")
        elif message == "boom":
            raise RuntimeError("a handler's mistake")
        elif message == "ping":
            self.ping(b"are you there")  # sends nothing under ASGI: the server pings
            self.write_message("pinged")
        elif isinstance(message, str) and message.startswith("{"):
            self.write_message({"got": json.loads(message)})
        else:
            self.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        self.recorder.add(("close", self.close_code, self.close_reason))


def tornado_app(recorder: Recorder) -> Application:
    return Application(
        [("/ws", Chat, {"recorder": recorder})], websocket_max_message_size=MAX_MESSAGE
    )


def flask_app(recorder: Recorder) -> App:
    app = App(__name__)
    app.config.update(
        WEBSOCKET_MAX_MESSAGE_SIZE=MAX_MESSAGE, WEBSOCKET_ALLOWED_ORIGINS="same-origin"
    )

    @app.websocket("/ws")
    async def chat() -> None:
        offered = websocket.subprotocols
        await websocket.accept(
            "chat.v2" if "chat.v2" in offered else None, headers={"Set-Cookie": "seen=yes"}
        )
        try:
            while True:
                message = await websocket.receive()
                if message == "close":
                    await websocket.close(4002, "done")
                elif message == "boom":
                    raise RuntimeError("a view's mistake")
                elif message == "ping":
                    await websocket.send("pinged")  # no ping in this API
                elif isinstance(message, str) and message.startswith("{"):
                    await websocket.send_json({"got": json.loads(message)})
                else:
                    await websocket.send(message)
        except WebSocketDisconnect as gone:
            recorder.add(("close", gone.code, gone.reason or None))
            raise

    return app


STYLES: dict[str, Callable[[Recorder], Any]] = {"tornado": tornado_app, "flask": flask_app}


# -- the servers -------------------------------------------------------------------


@contextlib.contextmanager
def uvicorn_websockets(app: Any) -> Iterator[int]:
    config = pytest.importorskip("uvicorn.config")
    with warnings.catch_warnings():
        # uvicorn warns, once on import, that this implementation will be
        # replaced; it is still the one --ws websockets selects.
        warnings.simplefilter("ignore", config.UvicornDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import uvicorn.protocols.websockets.websockets_impl  # noqa: F401
    with uvicorn_server(app, "h11", "websockets") as port:
        yield port


SERVERS: dict[str, Callable[[Any], contextlib.AbstractContextManager[int]]] = {
    "uvicorn-websockets": uvicorn_websockets,
    "uvicorn-wsproto": lambda app: uvicorn_server(app, "h11", "wsproto"),
    "hypercorn-asyncio": lambda app: hypercorn_server(app, "asyncio"),
    "hypercorn-trio": lambda app: hypercorn_server(app, "trio"),
}


class Served:
    def __init__(self, server: str, style: str, port: int, recorder: Recorder) -> None:
        self.server = server
        self.style = style
        self.port = port
        self.recorder = recorder

    def connect(self, **options: Any) -> WSClient:
        return WSClient(self.port, "/ws", **options)

    def wait_close(self) -> tuple[Any, ...]:
        closes = self.recorder.wait_for(self.recorder.has("close"))
        self.recorder.items.clear()
        return tuple(next(item for item in closes if item[0] == "close"))


# The websockets library warns, on every connection uvicorn's legacy
# implementation makes, about the handler signature uvicorn passes it.
_LEGACY = pytest.mark.filterwarnings(
    "ignore:remove second argument of ws_handler:DeprecationWarning"
)


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((s, k), id=f"{s}-{k}", marks=[_LEGACY] if s == "uvicorn-websockets" else [])
        for s in SERVERS
        for k in STYLES
    ],
)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    server, style = request.param
    recorder = Recorder()
    with SERVERS[server](STYLES[style](recorder).asgi) as port:
        yield Served(server, style, port, recorder)


def _closing(event: Any) -> tuple[int, str]:
    assert isinstance(event, ws.CloseConnection), event
    return event.code, event.reason


# -- the cases ---------------------------------------------------------------------


def test_text_and_binary_are_echoed(served: Served) -> None:
    with served.connect() as client:
        assert client.accepted, client.handshake
        client.send_text("héllo")
        assert client.receive() == "héllo"
        client.send_bytes(b"\x00\xff" * 100)
        assert client.receive() == b"\x00\xff" * 100
        client.close()
    served.wait_close()


def test_json_both_ways(served: Served) -> None:
    with served.connect() as client:
        client.send_text(json.dumps({"n": [1, 2]}))
        assert json.loads(client.receive()) == {"got": {"n": [1, 2]}}  # type: ignore[arg-type]
        client.close()
    served.wait_close()


def test_subprotocol_and_cookie_go_in_the_accept(served: Served) -> None:
    with served.connect(subprotocols=["chat.v1", "chat.v2"]) as client:
        handshake = client.handshake
        assert isinstance(handshake, ws.AcceptConnection), handshake
        assert handshake.subprotocol == "chat.v2"
        cookies = [v for k, v in handshake.extra_headers if k.lower() == b"set-cookie"]
        assert len(cookies) == 1 and cookies[0].startswith(b"seen=yes"), handshake.extra_headers
        # The handshake's own fields are the server's alone.
        names = [k.lower() for k, _ in handshake.extra_headers]
        assert names.count(b"date") <= 1 and names.count(b"server") <= 1, names
        client.close()
    served.wait_close()
    with served.connect(subprotocols=["chat.v1"]) as client:
        assert isinstance(client.handshake, ws.AcceptConnection)
        assert client.handshake.subprotocol is None
        client.close()
    served.wait_close()


def test_a_foreign_origin_is_refused_before_the_accept(served: Served) -> None:
    with served.connect(headers=EVIL) as client:
        refusal = client.handshake
        assert isinstance(refusal, ws.RejectConnection), refusal
        assert refusal.status_code == 403
    assert not served.recorder.of("close")  # the application never ran a connection


def test_the_server_closes_with_a_code_and_reason(served: Served) -> None:
    with served.connect() as client:
        client.send_text("close")
        assert _closing(client.wait_closed()) == (4002, "done")
    assert served.wait_close() == ("close", 4002, "done")


def test_the_client_closes_with_a_code_and_reason(served: Served) -> None:
    with served.connect() as client:
        client.send_text("warm up")
        assert client.receive() == "warm up"
        assert _closing(client.close(4001, "bye")) == (4001, "bye")
    seen = served.wait_close()
    if served.server.startswith("hypercorn"):
        # hypercorn (0.18) reports every close the client starts as 1006,
        # without its code: the application can only hear that it ended.
        expected = (None, None) if served.style == "tornado" else (1006, "the connection was lost")
    else:
        expected = (4001, "bye")
    assert seen == ("close", *expected)


def test_a_message_over_the_limit_closes_with_1009(served: Served) -> None:
    with served.connect() as client:
        client.send_text("fits")
        assert client.receive() == "fits"
        client.send_bytes(b"x" * (MAX_MESSAGE + 1))
        assert _closing(client.wait_closed())[0] == 1009
    assert served.wait_close() == ("close", 1009, "message too big")


def test_on_close_runs_when_the_client_just_leaves(served: Served) -> None:
    client = served.connect()
    client.send_text("hi")
    assert client.receive() == "hi"
    client.sock.close()  # no close frame
    code = served.wait_close()[1]
    # Tornado-style reports no code; Flask-style what the server said: 1006,
    # or 1005 (no status) from uvicorn's wsproto implementation.
    assert code in (None, 1005, 1006), code


def test_an_error_after_the_accept_closes_with_1011(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.CRITICAL), served.connect() as client:
        client.send_text("boom")
        assert _closing(client.wait_closed())[0] == 1011
    if served.style == "tornado":
        # The handler's connection was aborted: on_close runs, with no code.
        assert served.wait_close() == ("close", None, None)


def test_ping_under_asgi_sends_nothing_and_keeps_the_connection(served: Served) -> None:
    with served.connect(auto_pong=False) as client:
        client.send_text("ping")
        assert client.receive() == "pinged"  # no ping came before the answer
        client.send_text("still here")
        assert client.receive() == "still here"
        client.close()
    served.wait_close()


# -- without a server: the two ways of refusing, and an HTTP/2 scope ----------------------


async def _call(app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]) -> list[dict[str, Any]]:
    inbox = list(incoming)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop(0)
        await asyncio.sleep(3600)  # a client that says nothing more
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    await asyncio.wait_for(to_asgi(app)(scope, receive, send), 10)
    return sent


def _scope(headers: list[tuple[bytes, bytes]], **more: Any) -> dict[str, Any]:
    return {
        "type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "scheme": "ws", "path": "/ws", "raw_path": b"/ws", "query_string": b"",
        "root_path": "", "headers": headers, "client": ["127.0.0.1", 5000],
        "server": ["127.0.0.1", 80], "subprotocols": [], **more,
    }


HANDSHAKE = [
    (b"host", b"127.0.0.1"), (b"upgrade", b"websocket"), (b"connection", b"Upgrade"),
    (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="), (b"sec-websocket-version", b"13"),
]


@pytest.mark.parametrize("style", STYLES)
def test_a_refusal_is_an_http_response_when_the_server_offers_one(style: str) -> None:
    app = STYLES[style](Recorder())
    scope = _scope([*HANDSHAKE, (b"origin", b"http://evil.example")],
                   extensions={"websocket.http.response": {}})
    sent = asyncio.run(_call(app, scope, [{"type": "websocket.connect"}]))
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start", "websocket.http.response.body"
    ]
    assert sent[0]["status"] == 403
    assert b"origin" in sent[1]["body"].lower()


@pytest.mark.parametrize("style", STYLES)
def test_a_refusal_is_a_close_when_the_server_offers_no_http_response(style: str) -> None:
    app = STYLES[style](Recorder())
    scope = _scope([*HANDSHAKE, (b"origin", b"http://evil.example")])
    sent = asyncio.run(_call(app, scope, [{"type": "websocket.connect"}]))
    assert [m["type"] for m in sent] == ["websocket.close"]  # the server answers 403


@pytest.mark.parametrize("style", STYLES)
def test_an_http2_scope_without_upgrade_fields_is_accepted(style: str) -> None:
    recorder = Recorder()
    scope = _scope([(b"host", b"127.0.0.1")], http_version="2")
    incoming = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "over h2"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent = asyncio.run(_call(STYLES[style](recorder), scope, incoming))
    assert sent[0]["type"] == "websocket.accept"
    assert {"type": "websocket.send", "text": "over h2"} in sent
    assert recorder.of("close") == [("close", 1000, None)]


# -- under WSGI: a clear answer ------------------------------------------------------------


WSGI_APPS = {"tornado": tornado_app(Recorder()).wsgi, "flask": flask_app(Recorder()).wsgi}
#: For gunicorn, which imports its application by name.
tornado_wsgi = WSGI_APPS["tornado"]
flask_wsgi = WSGI_APPS["flask"]


def _assert_not_implemented(port: int) -> None:
    status, fields, body = raw_request(port, UPGRADE)
    assert status == 501
    assert fields["content-type"].startswith("text/plain")
    assert b"ASGI server" in body


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("server", WSGI_SERVERS)
def test_under_wsgi_an_upgrade_gets_501(server: str, style: str) -> None:
    with WSGI_SERVERS[server](WSGI_APPS[style]) as port:
        _assert_not_implemented(port)


@pytest.mark.parametrize("style", STYLES)
def test_under_gunicorn_an_upgrade_gets_501(style: str) -> None:
    with gunicorn_server(f"{__name__}:{style}_wsgi", "sync") as port:
        _assert_not_implemented(port)
