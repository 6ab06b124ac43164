"""Flask-style WebSocket views (``@app.websocket``) on every backend, against a wsproto client.

One application serves every case; what the views saw is written to a
:class:`Recorder` that the test reads from its own thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from crosswind.app import (
    App,
    Blueprint,
    WebSocketDisconnect,
    abort,
    g,
    request,
    session,
    url_for,
    websocket,
)
from crosswind.protocol.limits import Limits
from wsproto import events as ws

from tests.support.recorder import Recorder
from tests.support.servers import BACKENDS, running_server
from tests.support.ws_client import WSClient, raw_request

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

WAIT = 10.0
#: The server's per-message limit in these tests.
MAX_MESSAGE = 4096


def make_app(recorder: Recorder, **config: Any) -> App:
    app = App(__name__)
    app.config.update(SECRET_KEY="test secret", **config)

    @app.before_request
    def before() -> Any:
        g.who = "ada"
        if request.args.get("deny"):
            abort(401)
        return None

    @app.route("/login")
    def login() -> str:
        session["user"] = "lovelace"
        return "in"

    @app.route("/urls")
    def urls() -> str:
        return " ".join(
            [
                url_for("echo", _external=True),
                url_for("room.chat", name="x", _external=True),
                url_for("echo"),
                url_for("login", _external=True),
            ]
        )

    @app.websocket("/echo")
    async def echo() -> None:
        while True:
            message = await websocket.receive()
            if message == "json please":
                await websocket.send_json({"a": [1, 2], "s": "x"})
            elif message == "json echo":
                await websocket.send_json(await websocket.receive_json())
            else:
                await websocket.send(message)

    @app.websocket("/context/<int:number>")
    async def context(number: int) -> None:
        await websocket.send_json(
            {
                "number": number,
                "user": session.get("user"),
                "who": g.who,
                "room": request.args.get("room"),
                "ws_args": websocket.args.get("room"),
                "path": websocket.path,
                "scheme": websocket.scheme,
                "cookie": "session" in websocket.cookies,
                "header": websocket.headers.get("X-Test"),
                "url": url_for("context", number=7, _external=True),
            }
        )

    @app.websocket("/chat")
    async def chat() -> None:
        offered = websocket.subprotocols
        recorder.add(("offered", offered))
        await websocket.accept(
            subprotocol="chat" if "chat" in offered else None, headers={"X-Room": "lobby"}
        )
        await websocket.send(websocket.subprotocol or "none")
        await websocket.receive()

    @app.websocket("/listen")
    async def listen() -> None:
        try:
            while True:
                recorder.add(("heard", await websocket.receive()))
        except WebSocketDisconnect as disconnect:
            recorder.add(("disconnect", disconnect.code, disconnect.reason))
            raise

    @app.websocket("/greet")
    async def greet() -> None:
        await websocket.send("hello")  # then return: the connection closes with 1000

    @app.websocket("/bye")
    async def bye() -> None:
        await websocket.send("leaving")
        await websocket.close(4002, "bye")
        try:
            await websocket.receive()
        except WebSocketDisconnect as disconnect:
            recorder.add(("bye closed", disconnect.code))
        try:
            await websocket.send("too late")
        except WebSocketDisconnect:
            recorder.add(("send refused",))

    @app.websocket("/fail")
    async def fail() -> None:
        await websocket.receive()
        raise RuntimeError("view bug")

    @app.websocket("/fail-early")
    async def fail_early() -> None:
        raise LookupError("before the handshake")

    @app.errorhandler(LookupError)
    def lookup_error(error: LookupError) -> tuple[str, int]:
        return "handled: " + str(error), 409

    @app.websocket("/refuse")
    async def refuse() -> Any:
        if websocket.args.get("how") == "close":
            await websocket.close()
            return None
        return "go away", 418

    @app.websocket("/sync")
    def sync_echo() -> None:
        message = websocket.receive()
        websocket.send(f"sync {message!r} {request.args.get('n')} {g.who}")
        websocket.send_json(websocket.receive_json())

    room = Blueprint("room", __name__, url_prefix="/room")

    @room.websocket("/<name>", endpoint="chat")
    async def chat_room(name: str) -> None:
        await websocket.send(f"{request.blueprint} {name} {url_for('.chat', name=name)}")

    app.register_blueprint(room)
    return app


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, recorder: Recorder) -> Iterator[tuple[str, int]]:
    backend = str(request.param)
    limits = Limits(ws_max_message_size=MAX_MESSAGE, ws_max_frame_size=MAX_MESSAGE)
    with running_server(backend, make_app(recorder), limits=limits) as handle:
        yield backend, handle.port


@pytest.fixture
def port(served: tuple[str, int]) -> int:
    return served[1]


def session_cookie(port: int) -> str:
    status, fields, _ = raw_request(port, "GET /login HTTP/1.1\nHost: x\n\n")
    assert status == 200
    return fields["set-cookie"].partition(";")[0]


def test_echo_text_binary_and_json(port: int) -> None:
    with WSClient(port, "/echo") as client:
        assert client.accepted
        client.send_text("héllo")
        assert client.receive() == "héllo"
        client.send_bytes(b"\x00\xffbin")
        assert client.receive() == b"\x00\xffbin"
        client.send_text("json please")
        assert client.receive() == '{"a": [1, 2], "s": "x"}'
        client.send_text("json echo")
        client.send_text('{"n": [1, "two"]}')
        assert client.receive() == '{"n": [1, "two"]}'
        assert client.close() == ws.CloseConnection(code=1000, reason="")
        assert client.next_event() is None


def test_the_request_context_inside_a_view(port: int) -> None:
    cookie = session_cookie(port)
    headers = [("Cookie", cookie), ("X-Test", "yes")]
    with WSClient(port, "/context/5?room=blue", headers=headers) as client:
        seen = json.loads(str(client.receive()))
    assert seen == {
        "number": 5,
        "user": "lovelace",
        "who": "ada",
        "room": "blue",
        "ws_args": "blue",
        "path": "/context/5",
        "scheme": "ws",
        "cookie": True,
        "header": "yes",
        "url": f"ws://127.0.0.1:{port}/context/7",
    }


def test_subprotocol_and_extra_fields_in_the_101(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/chat", subprotocols=["other", "chat"]) as client:
        assert isinstance(client.handshake, ws.AcceptConnection)
        assert client.handshake.subprotocol == "chat"
        assert (b"x-room", b"lobby") in client.handshake.extra_headers
        assert client.receive() == "chat"
    with WSClient(port, "/chat") as client:
        assert isinstance(client.handshake, ws.AcceptConnection)
        assert client.handshake.subprotocol is None
        assert client.receive() == "none"
    assert ("offered", ["other", "chat"]) in recorder.of("offered")
    assert ("offered", []) in recorder.of("offered")


def test_client_close_raises_websocket_disconnect_with_its_code(
    port: int, recorder: Recorder
) -> None:
    with WSClient(port, "/listen") as client:
        client.send_text("one")
        recorder.wait_for(lambda items: ("heard", "one") in items)
        # The code is echoed, the reason is not.
        assert client.close(4000, "done here") == ws.CloseConnection(code=4000, reason="")
        assert client.next_event() is None
    recorder.wait_for(lambda items: ("disconnect", 4000, "done here") in items)


def test_a_client_that_disappears_is_a_1006_disconnect(port: int, recorder: Recorder) -> None:
    before = len(recorder.of("disconnect"))
    client = WSClient(port, "/listen")
    client.send_text("two")
    recorder.wait_for(lambda items: ("heard", "two") in items)
    client.sock.close()
    recorder.wait_for(lambda items: len(recorder.of("disconnect")) > before)
    assert recorder.of("disconnect")[-1][1] == 1006


def test_a_view_that_returns_closes_with_1000(port: int) -> None:
    with WSClient(port, "/greet") as client:
        assert client.receive() == "hello"
        assert client.wait_closed() == ws.CloseConnection(code=1000, reason="")
        assert client.next_event() is None


def test_close_from_the_view_then_its_end(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/bye") as client:
        assert client.receive() == "leaving"
        assert client.wait_closed() == ws.CloseConnection(code=4002, reason="bye")
        assert client.next_event() is None
    recorder.wait_for(lambda items: ("send refused",) in items)
    # The client's close answered ours with the same code.
    assert ("bye closed", 4002) in recorder.items


def test_a_view_that_raises_closes_with_1011_and_logs(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), WSClient(port, "/fail") as client:
        client.send_text("boom")
        event = client.wait_closed()
        assert event == ws.CloseConnection(code=1011, reason="internal error")
    assert any(
        record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
        and "view bug" in str(record.exc_info[1])
        for record in caplog.records
    )


def test_an_error_before_the_handshake_is_an_http_error(port: int) -> None:
    with WSClient(port, "/fail-early") as client:
        assert isinstance(client.handshake, ws.RejectConnection)
        assert client.handshake.status_code == 409


def test_refusing_the_upgrade(port: int) -> None:
    with WSClient(port, "/refuse") as client:
        assert isinstance(client.handshake, ws.RejectConnection)
        assert client.handshake.status_code == 418
    with WSClient(port, "/refuse?how=close") as client:
        assert isinstance(client.handshake, ws.RejectConnection)
        assert client.handshake.status_code == 403
    # A before_request hook that aborts refuses it too.
    with WSClient(port, "/echo?deny=1") as client:
        assert isinstance(client.handshake, ws.RejectConnection)
        assert client.handshake.status_code == 401


def test_a_plain_get_to_a_websocket_rule_is_400(port: int) -> None:
    status, fields, body = raw_request(port, "GET /echo HTTP/1.1\nHost: x\n\n")
    assert status == 400
    assert fields["content-type"].startswith("text/plain")
    assert b"websocket" in body
    status, fields, _ = raw_request(
        port,
        "GET /echo HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 8\n\n",
    )
    assert status == 426
    assert fields["sec-websocket-version"] == "13"
    status, _, _ = raw_request(port, "POST /echo HTTP/1.1\nHost: x\nContent-Length: 0\n\n")
    assert status == 405


def test_blueprint_websocket_views(port: int) -> None:
    with WSClient(port, "/room/kitchen") as client:
        assert client.receive() == "room kitchen /room/kitchen"


def test_url_for_gives_ws_urls_for_websocket_endpoints(port: int) -> None:
    status, _, body = raw_request(port, f"GET /urls HTTP/1.1\nHost: 127.0.0.1:{port}\n\n")
    assert status == 200
    assert body.decode().split() == [
        f"ws://127.0.0.1:{port}/echo",
        f"ws://127.0.0.1:{port}/room/x",
        "/echo",
        f"http://127.0.0.1:{port}/login",
    ]


def test_a_message_over_the_limit_closes_with_1009(port: int) -> None:
    with WSClient(port, "/echo") as client:
        client.send_text("x" * MAX_MESSAGE)
        assert client.receive() == "x" * MAX_MESSAGE
        client.send_bytes(b"x" * (MAX_MESSAGE + 1))
        event = client.receive()
        assert isinstance(event, ws.CloseConnection)
        assert event.code == 1009


def test_a_sync_view_on_threads(served: tuple[str, int]) -> None:
    backend, port = served
    if backend != "threads":
        pytest.skip("a blocking view needs the threads backend")
    with WSClient(port, "/sync?n=3") as client:
        client.send_text("hi")
        assert client.receive() == "sync 'hi' 3 ada"
        client.send_text('{"k": true}')
        assert client.receive() == '{"k": true}'
        assert client.wait_closed() == ws.CloseConnection(code=1000, reason="")


def test_a_sync_view_elsewhere_closes_with_1011(
    served: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    backend, port = served
    if backend == "threads":
        pytest.skip("the threads backend runs blocking views")
    with caplog.at_level(logging.ERROR), WSClient(port, "/sync") as client:
        # The view's first blocking call (an implicit accept, then a read)
        # fails where it would have to wait: after the 101 went out (a close
        # with 1011 follows) or in the middle of it (the connection drops).
        event = client.wait_closed() if client.accepted else client.next_event()
        assert event is None or event.code in (1006, 1011)
    assert any("threads" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


@pytest.mark.parametrize("backend", BACKENDS)
def test_allowed_origins(backend: str) -> None:
    app = make_app(Recorder(), WEBSOCKET_ALLOWED_ORIGINS="same-origin")
    with running_server(backend, app) as handle:
        port = handle.port
        foreign = [("Origin", "http://elsewhere.example")]
        with WSClient(port, "/greet", headers=foreign) as client:
            assert isinstance(client.handshake, ws.RejectConnection)
            assert client.handshake.status_code == 403
        with WSClient(port, "/greet", headers=[("Origin", f"http://127.0.0.1:{port}")]) as client:
            assert client.receive() == "hello"
        with WSClient(port, "/greet") as client:  # no Origin: not a browser
            assert client.receive() == "hello"
    listed = make_app(Recorder(), WEBSOCKET_ALLOWED_ORIGINS=["https://Example.com"])
    with running_server(backend, listed) as handle:
        with WSClient(handle.port, "/greet", headers=[("Origin", "https://example.com")]) as client:
            assert client.receive() == "hello"
        with WSClient(handle.port, "/greet", headers=foreign) as client:
            assert isinstance(client.handshake, ws.RejectConnection)
            assert client.handshake.status_code == 403


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_websocket_settings(backend: str) -> None:
    app = make_app(Recorder(), WEBSOCKET_MAX_MESSAGE_SIZE=16, WEBSOCKET_PING_INTERVAL=0.1)
    with running_server(backend, app) as handle, WSClient(
        handle.port, "/echo", auto_pong=False
    ) as client:
        event = client.next_event()
        assert isinstance(event, ws.Ping)
        client.send(event.response())
        client.send_text("x" * 16)
        assert client.receive() == "x" * 16
        client.send_text("x" * 17)
        while isinstance(event := client.receive(), ws.Ping):
            pass
        assert isinstance(event, ws.CloseConnection)
        assert event.code == 1009


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_shutdown_closes_with_1001(backend: str) -> None:
    recorder = Recorder()
    with running_server(backend, make_app(recorder), shutdown_timeout=20) as handle:
        client = WSClient(handle.port, "/listen")
        client.send_text("hi")
        recorder.wait_for(lambda items: ("heard", "hi") in items)
        handle.shutdown()
        assert client.wait_closed() == ws.CloseConnection(code=1001, reason="server shutting down")
        client.sock.close()
    [(_, code, _)] = recorder.of("disconnect")
    # The client's answer echoes our close; the threaded backend may have shut
    # the socket's reading side to interrupt the view's read, and then the
    # answer is never read: the view hears the connection end without it.
    assert code == 1001 or (backend == "threads" and code == 1006)
