"""ASGI ``websocket`` scopes: real Starlette, FastAPI and Channels apps in an ASGIContainer.

The happy paths are driven by the ``websockets`` library, an independent
client; the edge cases (refused handshakes, close codes, limits) by the
raw-frame client of :mod:`tests.support.ws_client`, which shows exactly
what came over the socket.  Starlette and FastAPI serve the same routes,
so every test runs against both, on the asyncio and trio backends.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from crosswind.adapters import ASGIContainer
from crosswind.adapters.asgi import ClientGone
from crosswind.protocol.limits import Limits
from fastapi import Depends, FastAPI, WebSocketException
from fastapi import WebSocket as FastAPIWebSocket
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from wsproto import events as ws

from tests.support.recorder import Recorder
from tests.support.servers import running_server
from tests.support.ws_client import WSClient, raw_request

pytestmark = pytest.mark.network

TIMEOUT = 10.0
UPGRADE = (
    "GET {path} HTTP/1.1\nHost: 127.0.0.1\nUpgrade: websocket\nConnection: Upgrade\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: {version}\n\n"
)


def client(port: int, path: str, **options: Any) -> ClientConnection:
    """A ``websockets`` client, with the timeouts of these tests and no proxy from the environment."""
    options.setdefault("open_timeout", TIMEOUT)
    options.setdefault("close_timeout", TIMEOUT)
    return connect(f"ws://127.0.0.1:{port}{path}", proxy=None, **options)


def closed_by_server(connection: ClientConnection) -> tuple[int, str]:
    """Read until the server's close frame; its code and reason."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            connection.recv(timeout=TIMEOUT)
    frame = info.value.rcvd
    assert frame is not None, "the connection ended without a close frame"
    return frame.code, frame.reason


def refusal(port: int, path: str) -> tuple[int, bytes]:
    """The status and body of a handshake the server refused."""
    with pytest.raises(InvalidStatus) as info, client(port, path):
        pass
    response = info.value.response
    return response.status_code, response.body or b""


# -- the apps ------------------------------------------------------------------------------


def _scope_facts(scope: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": scope["type"],
        "asgi": scope["asgi"],
        "http_version": scope["http_version"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode("latin-1"),
        "query_string": scope["query_string"].decode("latin-1"),
        "root_path": scope["root_path"],
        "subprotocols": scope["subprotocols"],
        "extensions": scope["extensions"],
        "state": sorted(scope["state"]),
        "has_method": "method" in scope,
        "client": scope["client"][0],
        "server": scope["server"][0],
        "headers": {name.decode(): value.decode() for name, value in scope["headers"]},
    }


def make_starlette(recorder: Recorder) -> Starlette:
    """The routes of these tests, written for Starlette."""

    async def echo(websocket: WebSocket) -> None:
        offered = websocket.scope["subprotocols"]
        await websocket.accept(subprotocol="chat" if "chat" in offered else None,
                               headers=[(b"x-echo", b"yes")])
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    recorder.add(("disconnect", "/echo", message["code"], message.get("reason")))
                    return
                if message.get("text") is not None:
                    await websocket.send_text(message["text"])
                else:
                    await websocket.send_bytes(message["bytes"])
        except WebSocketDisconnect as exc:  # pragma: no cover - receive() above reports it
            recorder.add(("disconnect", "/echo", exc.code, exc.reason))

    async def as_json(websocket: WebSocket) -> None:
        await websocket.accept()
        data = await websocket.receive_json()
        await websocket.send_json({"got": data, "scope": _scope_facts(websocket.scope)})
        await websocket.close()

    async def close_with(websocket: WebSocket) -> None:
        await websocket.accept()
        code = int(await websocket.receive_text())
        await websocket.close(code, reason="bye")
        # After its own close, the app hears its own code at once.
        message = await websocket._receive()
        recorder.add(("after close", message["type"], message["code"], message.get("reason")))

    async def deny(websocket: WebSocket) -> None:
        await websocket.close()

    async def deny_with_response(websocket: WebSocket) -> None:
        await websocket.send_denial_response(
            PlainTextResponse("log in first", 401, headers={"WWW-Authenticate": "Bearer"})
        )

    async def fail_early(websocket: WebSocket) -> None:
        raise RuntimeError("before the handshake")

    async def fail_late(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise RuntimeError("after the handshake")

    async def ticker(websocket: WebSocket) -> None:
        # Sending and receiving in two tasks, as chat apps do.
        await websocket.accept()
        async with anyio.create_task_group() as tasks:

            async def tick() -> None:
                count = 0
                while True:
                    await websocket.send_text(f"tick {count}")
                    count += 1
                    await anyio.sleep(0.005)

            tasks.start_soon(tick)
            command = await websocket.receive_text()
            tasks.cancel_scope.cancel()
        await websocket.send_text(f"stopped by {command}")
        await websocket.close()

    async def push(websocket: WebSocket) -> None:
        # Never receives: the client's leaving shows in send().
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(b"x" * 1024)
                await anyio.sleep(0.005)
        except WebSocketDisconnect as exc:
            recorder.add(("push ended", exc.code))

    async def wait(websocket: WebSocket) -> None:
        await websocket.accept()
        recorder.add(("waiting",))
        message = await websocket.receive()
        recorder.add(("disconnect", "/wait", message["code"], message.get("reason")))

    async def both_http(request: Any) -> PlainTextResponse:
        return PlainTextResponse("plain http")

    async def both_ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("websocket")
        await websocket.close()

    return Starlette(
        routes=[
            WebSocketRoute("/echo", echo),
            WebSocketRoute("/json", as_json),
            WebSocketRoute("/close", close_with),
            WebSocketRoute("/deny", deny),
            WebSocketRoute("/deny-response", deny_with_response),
            WebSocketRoute("/fail-early", fail_early),
            WebSocketRoute("/fail-late", fail_late),
            WebSocketRoute("/ticker", ticker),
            WebSocketRoute("/push", push),
            WebSocketRoute("/wait", wait),
            Route("/both", both_http),
            WebSocketRoute("/both", both_ws),
        ]
    )


def make_fastapi(recorder: Recorder) -> FastAPI:
    """The same routes, written for FastAPI."""
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(websocket: FastAPIWebSocket) -> None:
        offered = websocket.scope["subprotocols"]
        await websocket.accept(subprotocol="chat" if "chat" in offered else None,
                               headers=[(b"x-echo", b"yes")])
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                recorder.add(("disconnect", "/echo", message["code"], message.get("reason")))
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    @app.websocket("/json")
    async def as_json(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        data = await websocket.receive_json()
        await websocket.send_json({"got": data, "scope": _scope_facts(websocket.scope)})
        await websocket.close()

    @app.websocket("/close")
    async def close_with(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        code = int(await websocket.receive_text())
        await websocket.close(code, reason="bye")
        message = await websocket._receive()
        recorder.add(("after close", message["type"], message["code"], message.get("reason")))

    def refuse() -> None:
        # FastAPI's way to refuse: before accepting it becomes websocket.close.
        raise WebSocketException(code=1008, reason="not allowed")

    @app.websocket("/deny")
    async def deny(websocket: FastAPIWebSocket, _: None = Depends(refuse)) -> None:
        raise AssertionError("the dependency refuses first")  # pragma: no cover

    @app.websocket("/deny-response")
    async def deny_with_response(websocket: FastAPIWebSocket) -> None:
        await websocket.send_denial_response(
            PlainTextResponse("log in first", 401, headers={"WWW-Authenticate": "Bearer"})
        )

    @app.websocket("/fail-early")
    async def fail_early(websocket: FastAPIWebSocket) -> None:
        raise RuntimeError("before the handshake")

    @app.websocket("/fail-late")
    async def fail_late(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()
        raise RuntimeError("after the handshake")

    @app.websocket("/ticker")
    async def ticker(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        async with anyio.create_task_group() as tasks:

            async def tick() -> None:
                count = 0
                while True:
                    await websocket.send_text(f"tick {count}")
                    count += 1
                    await anyio.sleep(0.005)

            tasks.start_soon(tick)
            command = await websocket.receive_text()
            tasks.cancel_scope.cancel()
        await websocket.send_text(f"stopped by {command}")
        await websocket.close()

    @app.websocket("/push")
    async def push(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(b"x" * 1024)
                await anyio.sleep(0.005)
        except WebSocketDisconnect as exc:
            recorder.add(("push ended", exc.code))

    @app.websocket("/wait")
    async def wait(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        recorder.add(("waiting",))
        message = await websocket.receive()
        recorder.add(("disconnect", "/wait", message["code"], message.get("reason")))

    @app.get("/both")
    async def both_http() -> PlainTextResponse:
        return PlainTextResponse("plain http")

    @app.websocket("/both")
    async def both_ws(websocket: FastAPIWebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("websocket")
        await websocket.close()

    return app


class RawApp:
    """A bare ASGI app, for what frameworks never do: it says what receive and send did."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise ValueError("websocket scopes only")
        path = scope["path"]
        record = self.recorder.add
        connect_message = await receive()
        record(("connect", connect_message["type"]))
        if path == "/silent":
            return  # neither accepts nor denies
        await send({"type": "websocket.accept"})
        if path == "/after-disconnect":
            while (message := await receive())["type"] != "websocket.disconnect":
                pass
            record(("first", message["code"]))
            record(("again", (await receive())["type"]))
            try:
                await send({"type": "websocket.send", "text": "too late"})
            except ClientGone as exc:
                record(("send raised", isinstance(exc, OSError)))
        elif path == "/bad-close":
            try:
                await send({"type": "websocket.close", "code": 1006})
            except ValueError:
                record(("close refused",))
            await send({"type": "websocket.close", "code": 1000})


# -- the sites ----------------------------------------------------------------------------


class Site:
    def __init__(self, port: int, recorder: Recorder) -> None:
        self.port = port
        self.recorder = recorder


FRAMEWORKS = {"starlette": make_starlette, "fastapi": make_fastapi}


@pytest.fixture(
    scope="module",
    params=[(name, backend) for name in FRAMEWORKS for backend in ("asyncio", "trio")],
    ids=lambda param: "-".join(param),
)
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    framework, backend = request.param
    recorder = Recorder()
    container = ASGIContainer(FRAMEWORKS[framework](recorder))
    container.state["answer"] = 42
    with running_server(backend, container) as handle:
        yield Site(handle.port, recorder)


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the happy path, with an independent client --------------------------------------------


def test_echo_text_and_bytes(site: Site) -> None:
    with client(site.port, "/echo", subprotocols=["other", "chat"]) as connection:
        assert connection.subprotocol == "chat"
        assert connection.response.headers["x-echo"] == "yes"
        # permessage-deflate is accepted by default, as uvicorn does.
        assert "permessage-deflate" in connection.response.headers["sec-websocket-extensions"]
        connection.send("héllo")
        assert connection.recv(timeout=TIMEOUT) == "héllo"
        connection.send(b"\x00\xff" * 5000)
        assert connection.recv(timeout=TIMEOUT) == b"\x00\xff" * 5000
        connection.close(4321, "done here")
    site.recorder.wait_for(lambda items: ("disconnect", "/echo", 4321, "done here") in items)


def test_json_and_the_scope(site: Site) -> None:
    with client(site.port, "/json?x=1%202", subprotocols=["chat"]) as connection:
        connection.send(json.dumps({"n": [1, 2]}))
        reply = json.loads(connection.recv(timeout=TIMEOUT))
        assert closed_by_server(connection) == (1000, "")
    assert reply["got"] == {"n": [1, 2]}
    scope = reply["scope"]
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == ("/json", "/json", "x=1%202")
    assert scope["root_path"] == ""
    assert scope["subprotocols"] == ["chat"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["state"] == ["answer"]
    assert scope["has_method"] is False
    assert scope["client"] == scope["server"] == "127.0.0.1"
    assert scope["headers"]["upgrade"] == "websocket"
    assert scope["headers"]["sec-websocket-protocol"] == "chat"


def test_app_close_code_and_reason(site: Site) -> None:
    with client(site.port, "/close") as connection:
        connection.send("4003")
        assert closed_by_server(connection) == (4003, "bye")
    site.recorder.wait_for(
        lambda items: ("after close", "websocket.disconnect", 4003, "bye") in items
    )


def test_sending_and_receiving_in_two_tasks(site: Site) -> None:
    with client(site.port, "/ticker") as connection:
        ticks = [connection.recv(timeout=TIMEOUT) for _ in range(3)]
        assert ticks == ["tick 0", "tick 1", "tick 2"]
        connection.send("stop")
        while (message := connection.recv(timeout=TIMEOUT)).startswith("tick"):
            pass
        assert message == "stopped by stop"
        assert closed_by_server(connection) == (1000, "")


def test_an_app_that_only_sends_hears_the_client_leave(site: Site) -> None:
    before = len(site.recorder.of("push ended"))
    with client(site.port, "/push") as connection:
        assert connection.recv(timeout=TIMEOUT) == b"x" * 1024
    # Starlette turns the ClientGone that send() raised into WebSocketDisconnect(1006).
    site.recorder.wait_for(lambda items: len(
        [item for item in items if item[0] == "push ended"]) > before)
    assert site.recorder.of("push ended")[before:] == [("push ended", 1006)]


def test_plain_get_to_a_websocket_route_is_an_http_scope(site: Site) -> None:
    status, _, body = raw_request(site.port, "GET /both HTTP/1.1\nHost: x\n\n")
    assert (status, body) == (200, b"plain http")
    status, _, _ = raw_request(site.port, "GET /echo HTTP/1.1\nHost: x\nConnection: close\n\n")
    assert status == 404
    with client(site.port, "/both") as connection:
        assert connection.recv(timeout=TIMEOUT) == "websocket"


# -- refusals ---------------------------------------------------------------------------------


def test_close_before_accept_is_403(site: Site) -> None:
    assert refusal(site.port, "/deny")[0] == 403
    # Starlette's answer to a path with no route is the same close.
    assert refusal(site.port, "/no-such-route")[0] == 403


def test_denial_response_is_the_apps_own(site: Site) -> None:
    with WSClient(site.port, "/deny-response") as raw:
        assert isinstance(raw.handshake, ws.RejectConnection)
        assert raw.handshake.status_code == 401
        headers = dict(raw.handshake.headers)
        assert headers[b"www-authenticate"] == b"Bearer"
        body = b""
        while (event := raw.next_event()) is not None:
            assert isinstance(event, ws.RejectData)
            body += event.data
            if event.body_finished:
                break
        assert body == b"log in first"


def test_app_raising_before_accept_is_500(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert refusal(site.port, "/fail-early")[0] == 500
    assert "before the handshake" in caplog.text


def test_app_raising_after_accept_closes_with_1011(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), client(site.port, "/fail-late") as connection:
        connection.send("boom")
        assert closed_by_server(connection)[0] == 1011
    assert "after the handshake" in caplog.text


def test_an_invalid_upgrade_is_refused_before_the_app(site: Site) -> None:
    status, fields, body = raw_request(site.port, UPGRADE.format(path="/echo", version="8"))
    assert (status, fields["sec-websocket-version"]) == (426, "13")
    status, _, body = raw_request(
        site.port,
        "GET /echo HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: upgrade\n"
        "Sec-WebSocket-Version: 13\n\n",
    )
    assert (status, body) == (400, b"missing or invalid Sec-WebSocket-Key\n")


def test_a_message_over_the_limit_closes_with_1009(backend: str) -> None:
    recorder = Recorder()
    with running_server(
        backend, ASGIContainer(make_starlette(recorder)), limits=Limits(ws_max_message_size=1024)
    ) as handle, WSClient(handle.port, "/echo") as raw:
        raw.send_bytes(b"x" * 1024)
        assert raw.receive() == b"x" * 1024
        raw.send_bytes(b"x" * 1025)
        event = raw.receive()
        assert isinstance(event, ws.CloseConnection) and event.code == 1009
        recorder.wait_for(lambda items: any(item[:3] == ("disconnect", "/echo", 1009)
                                            for item in items))


def test_compression_can_be_declined(backend: str) -> None:
    container = ASGIContainer(make_starlette(Recorder()), ws_per_message_deflate=False)
    with running_server(backend, container) as handle:
        with client(handle.port, "/echo") as connection:
            assert "sec-websocket-extensions" not in connection.response.headers
            connection.send("plain")
            assert connection.recv(timeout=TIMEOUT) == "plain"
        with WSClient(handle.port, "/echo", deflate=True) as raw:
            assert raw.accepted and raw.handshake.extensions == []


def test_shutdown_closes_open_sockets_with_1001(backend: str) -> None:
    recorder = Recorder()
    outcome: list[Any] = []
    with running_server(backend, ASGIContainer(make_starlette(recorder))) as handle:
        raw = WSClient(handle.port, "/wait")
        recorder.wait_for(recorder.has("waiting"))
        reader = threading.Thread(target=lambda: outcome.append(raw.wait_closed()))
        reader.start()
    reader.join(TIMEOUT)
    raw.sock.close()
    assert isinstance(outcome[0], ws.CloseConnection) and outcome[0].code == 1001
    assert recorder.of("disconnect") == [("disconnect", "/wait", 1001, "server shutting down")]


# -- what frameworks never do -----------------------------------------------------------------


def test_after_a_disconnect_receive_repeats_it_and_send_raises(backend: str) -> None:
    recorder = Recorder()
    with running_server(backend, ASGIContainer(RawApp(recorder))) as handle:
        with WSClient(handle.port, "/after-disconnect") as raw:
            assert raw.accepted
            raw.close(4000)
        recorder.wait_for(recorder.has("send raised"))
    assert recorder.items[1:] == [
        ("first", 4000), ("again", "websocket.disconnect"), ("send raised", True)
    ]


def test_returning_without_an_answer_is_403(backend: str, caplog: pytest.LogCaptureFixture) -> None:
    with running_server(backend, ASGIContainer(RawApp(Recorder()))) as handle:
        assert refusal(handle.port, "/silent")[0] == 403
    assert "without answering the WebSocket handshake" in caplog.text


def test_a_close_code_no_endpoint_may_send_is_refused(backend: str) -> None:
    recorder = Recorder()
    with running_server(backend, ASGIContainer(RawApp(recorder))) as handle, client(
        handle.port, "/bad-close"
    ) as connection:
        assert closed_by_server(connection) == (1000, "")
    assert ("close refused",) in recorder.items


def test_keepalive_pings(backend: str) -> None:
    recorder = Recorder()
    container = ASGIContainer(make_starlette(recorder), ws_ping_interval=0.05, ws_ping_timeout=0.2)
    # A short header timeout makes the asyncio backend's timer tick finer (it is a second).
    with running_server(backend, container, limits=Limits(header_timeout=0.8)) as handle, WSClient(
        handle.port, "/wait", auto_pong=False
    ) as raw:
        assert isinstance(raw.next_event(), ws.Ping)
        # Unanswered, the ping gives the connection up.
        recorder.wait_for(recorder.has("disconnect"))
    assert recorder.of("disconnect")[0][:3] == ("disconnect", "/wait", 1006)


# -- Django Channels ------------------------------------------------------------------------


def make_channels_app() -> Any:
    """A Channels router with an echoing JSON consumer and one that refuses."""
    from tests.adapters.test_frameworks import _configure_django

    _configure_django()
    from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
    from channels.routing import URLRouter
    from django.urls import path

    class Echo(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
        async def connect(self) -> None:
            offered = self.scope["subprotocols"]
            await self.accept("chat" if "chat" in offered else None)

        async def receive_json(self, content: Any, **kwargs: Any) -> None:
            if content == "bye":
                await self.close(4005)
            else:
                await self.send_json({"echo": content, "path": self.scope["path"]})

    class Refuse(AsyncWebsocketConsumer):  # type: ignore[misc]
        async def connect(self) -> None:
            await self.close()

    return URLRouter([path("echo", Echo.as_asgi()), path("refuse", Refuse.as_asgi())])


def test_channels_consumers() -> None:
    # asyncio only: Channels consumers run on asgiref, which needs an asyncio loop.
    with running_server("asyncio", ASGIContainer(make_channels_app())) as handle:
        with client(handle.port, "/echo", subprotocols=["chat"]) as connection:
            assert connection.subprotocol == "chat"
            connection.send(json.dumps({"n": 1}))
            assert json.loads(connection.recv(timeout=TIMEOUT)) == {
                "echo": {"n": 1}, "path": "/echo"}
            connection.send(json.dumps("bye"))
            assert closed_by_server(connection)[0] == 4005
        assert refusal(handle.port, "/refuse")[0] == 403
