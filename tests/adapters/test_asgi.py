"""ASGI both ways: crosswind apps under ASGI servers, ASGI (Starlette) apps under crosswind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import trio
from crosswind.adapters import ASGIContainer, to_asgi
from crosswind.errors import LocalProtocolError, RequestError
from crosswind.protocol.exchange import ClientDisconnected, Exchange
from crosswind.protocol.limits import Limits
from crosswind.web import Application, RequestHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.adapter_servers import ASGI_SERVERS, respond_with_info
from tests.support.apps import wait_for_event
from tests.support.servers import running_server

TIMEOUT = 10.0
_TEXT = [(b"Content-Type", b"text/plain")]


async def pause(seconds: float) -> None:
    """Sleep on whichever loop runs the handler (uvicorn: asyncio; hypercorn: either)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        await trio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


class Probe:
    """A native crosswind app; ``events`` records what handlers observed."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.release = threading.Event()
        self.closed = threading.Event()

    async def startup(self) -> None:
        self.events.append("startup")

    async def shutdown(self) -> None:
        self.events.append("shutdown")

    async def handle(self, exchange: Exchange) -> None:
        path = exchange.path
        if path == "/info":
            await respond_with_info(exchange)
        elif path == "/echo":
            await exchange.respond(200, _TEXT, await exchange.read_body())
        elif path == "/first-piece":
            piece = await exchange.read()
            await exchange.respond(200, _TEXT, piece)
        elif path == "/sleep":
            await pause(0.01)
            await exchange.respond(200, _TEXT, b"slept")
        elif path == "/steps":
            await exchange.start_response(200, _TEXT)
            for i in range(3):
                await exchange.write(b"%d;" % i)
            await exchange.end()
        elif path == "/stream":
            await exchange.start_response(200, _TEXT)
            await exchange.write(b"first;")
            released = await wait_for_event(self.release, 5.0)
            await exchange.write(b"second" if released else b"not streamed")
            await exchange.end()
        elif path == "/watch":
            await exchange.read_body()
            exchange.add_close_callback(self._on_close)
            await exchange.start_response(200, _TEXT)
            await exchange.write(b"ready;")
            if await wait_for_event(self.closed, 5.0):
                self.events.append("handler saw the close")
            with contextlib.suppress(ClientDisconnected):
                await exchange.end()
        elif path == "/detach":
            try:
                exchange.detach()
            except LocalProtocolError as exc:
                await exchange.respond(501, _TEXT, str(exc).encode())
        elif path == "/refuse":
            raise RequestError("no such thing here", 403)
        elif path == "/fail-early":
            raise RuntimeError("before the head")
        elif path == "/fail-late":
            await exchange.start_response(200, _TEXT)
            await exchange.write(b"partial")
            raise RuntimeError("after the head")
        else:
            await exchange.respond(404, _TEXT, b"not found")

    def _on_close(self) -> None:
        self.events.append("close callback")
        self.closed.set()


# -- to_asgi, driven by hand ------------------------------------------------------


class Peer:
    """A hand-driven ASGI server: scripted request messages, recorded response messages."""

    def __init__(self, bodies: list[bytes] | None = None) -> None:
        bodies = [b""] if bodies is None else bodies
        self.inbox = [
            {"type": "http.request", "body": body, "more_body": i < len(bodies) - 1}
            for i, body in enumerate(bodies)
        ]
        self.sent: list[dict[str, Any]] = []
        self.receive_calls = 0
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.receive_calls += 1
        if self.inbox:
            return self.inbox.pop(0)
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.gone.set()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def scope(path: str = "/", method: str = "GET", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("192.0.2.1", 1234),
        "server": ("testserver", 80),
    }
    base.update(extra)
    return base


#: An HTTP/1.1 request announces a body with Content-Length or Transfer-Encoding;
#: without either it has none.
CHUNKED = [(b"host", b"testserver"), (b"transfer-encoding", b"chunked")]


def run(app: Any, the_scope: dict[str, Any], peer: Peer) -> Peer:
    asyncio.run(app(the_scope, peer.receive, peer.send))
    return peer


def test_scope_reaches_the_exchange_relative_to_root_path() -> None:
    peer = run(
        to_asgi(Probe()),
        scope("/app/in%2Ffo", raw_path=b"/app/in%2Ffo", root_path="/app", query_string=b"x=%20",
              scheme="https", headers=[(b"host", b"h"), (b"x-thing", b"1")]),
        Peer(),
    )
    assert peer.status == 404  # the path is /in%2Ffo, kept as the client sent it
    peer = run(to_asgi(Probe()), scope("/app/info", root_path="/app", query_string=b"x=%20",
                                       scheme="https"), Peer())
    info = json.loads(peer.body)
    assert (info["target"], info["path"], info["query"]) == ("/info?x=%20", "/info", "x=%20")
    assert info["root_path"] == "/app"
    assert info["scheme"] == "https"
    assert info["peer"] == ["192.0.2.1", 1234]
    assert ["host", "testserver"] in info["headers"]
    # Servers that leave root_path out of path are understood too.
    peer = run(to_asgi(Probe()), scope("/info", root_path="/app"), Peer())
    assert json.loads(peer.body)["path"] == "/info"


def test_response_goes_out_as_messages_while_written() -> None:
    peer = run(to_asgi(Probe()), scope("/steps"), Peer())
    assert peer.sent == [
        {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain")], "trailers": False},
        {"type": "http.response.body", "body": b"0;", "more_body": True},
        {"type": "http.response.body", "body": b"1;", "more_body": True},
        {"type": "http.response.body", "body": b"2;", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]
    whole = run(to_asgi(Probe()), scope("/echo", "POST", headers=CHUNKED),
                Peer([b"ab", b"", b"cd"]))
    assert whole.headers[b"content-length"] == b"4"
    assert [m["type"] for m in whole.sent] == ["http.response.start", "http.response.body"]
    assert whole.body == b"abcd"


def test_body_is_pulled_only_as_the_handler_reads() -> None:
    peer = run(to_asgi(Probe()), scope("/first-piece", "POST", headers=CHUNKED),
               Peer([b"one", b"two", b"three"]))
    assert peer.body == b"one"
    assert peer.receive_calls == 1


def test_body_limit() -> None:
    declared = scope("/echo", "POST", headers=[(b"content-length", b"50")])
    peer = run(to_asgi(Probe(), max_body_size=10), declared, Peer([b"x" * 50]))
    assert (peer.status, peer.body) == (413, b"request body too large\n")
    assert peer.receive_calls == 0  # refused on the declared length alone
    streamed = run(to_asgi(Probe(), max_body_size=10), scope("/echo", "POST", headers=CHUNKED),
                   Peer([b"x" * 6, b"x" * 6]))
    assert streamed.status == 413


def test_malformed_content_length_is_a_400() -> None:
    bad = scope("/echo", "POST", headers=[(b"content-length", b"-1")])
    peer = run(to_asgi(Probe()), bad, Peer([b"x"]))
    assert (peer.status, peer.body) == (400, b"invalid Content-Length\n")


def test_head_sends_headers_only() -> None:
    peer = run(to_asgi(Probe()), scope("/steps", "HEAD"), Peer())
    assert peer.status == 200
    assert peer.body == b""
    assert peer.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_detach_is_refused_behind_a_foreign_server() -> None:
    peer = run(to_asgi(Probe()), scope("/detach"), Peer())
    assert peer.status == 501
    assert b"cannot be detached" in peer.body


def test_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="crosswind.adapters")
    refused = run(to_asgi(Probe()), scope("/refuse"), Peer())
    assert (refused.status, refused.body) == (403, b"no such thing here\n")
    assert run(to_asgi(Probe()), scope("/fail-early"), Peer()).status == 500
    # Failing once the head is out makes the server drop the connection.
    peer = Peer()
    with pytest.raises(RuntimeError, match="after the head"):
        run(to_asgi(Probe()), scope("/fail-late"), peer)
    assert peer.body == b"partial"
    assert peer.sent[-1]["more_body"] is True


def test_disconnect_runs_close_callbacks() -> None:
    probe = Probe()
    peer = Peer()

    async def main() -> None:
        task = asyncio.ensure_future(to_asgi(probe)(scope("/watch"), peer.receive, peer.send))
        while peer.body != b"ready;":
            await asyncio.sleep(0.001)
        assert probe.events == []
        peer.gone.set()  # the client goes away
        await asyncio.wait_for(task, TIMEOUT)

    asyncio.run(main())
    assert probe.events == ["close callback", "handler saw the close"]
    assert peer.sent[-1]["more_body"] is True  # nothing was sent after the disconnect


def test_lifespan_runs_the_app_hooks() -> None:
    probe = Probe()
    sync_calls: list[str] = []
    probe.on_startup = [lambda: sync_calls.append("on_startup")]  # type: ignore[attr-defined]

    async def lifespan(app: Any) -> list[dict[str, Any]]:
        inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return inbox.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        return sent

    assert asyncio.run(lifespan(to_asgi(probe))) == [
        {"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"},
    ]
    assert probe.events == ["startup", "shutdown"]
    assert sync_calls == ["on_startup"]

    class Broken:
        async def startup(self) -> None:
            raise OSError("database unreachable")

        async def handle(self, exchange: Exchange) -> None:
            raise AssertionError("not reached")

    logging.getLogger("crosswind.adapters").disabled = True
    try:
        failed = asyncio.run(lifespan(to_asgi(Broken())))
    finally:
        logging.getLogger("crosswind.adapters").disabled = False
    assert failed == [{"type": "lifespan.startup.failed",
                       "message": "OSError('database unreachable')"}]


def test_tornado_application_through_httpx_asgi_transport() -> None:
    class Hello(RequestHandler):
        async def get(self, name: str) -> None:
            await asyncio.sleep(0)
            self.write({"hello": name, "uri": self.request.uri})

        def post(self, name: str) -> None:
            self.write(self.request.body)

    app = Application([(r"/hello/(\w+)", Hello)])

    async def main() -> None:
        transport = httpx.ASGITransport(app=app.asgi, root_path="/mnt")
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/mnt/hello/ann?x=1")
            assert response.json() == {"hello": "ann", "uri": "/hello/ann?x=1"}
            body = bytes(range(256)) * 400
            assert (await client.post("/mnt/hello/ann", content=body)).content == body
            assert (await client.get("/mnt/elsewhere")).status_code == 404

    asyncio.run(main())


# -- to_asgi under real ASGI servers ------------------------------------------------


def _request_then_hang_up(port: int, path: str, expect: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        while expect not in received:
            data = client.recv(4096)
            assert data, received
            received += data


@pytest.mark.network
@pytest.mark.parametrize("server", sorted(ASGI_SERVERS))
def test_to_asgi_under_a_real_server(server: str) -> None:
    probe = Probe()
    with ASGI_SERVERS[server](to_asgi(probe)) as port:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
            assert client.get("/sleep").text == "slept"
            assert probe.events == ["startup"]
            body = bytes(range(256)) * 4096  # 1 MiB, streamed in both directions
            assert client.post("/echo", content=body).content == body
            assert client.post("/echo", content=iter([b"ab", b"cd"])).content == b"abcd"
            head = client.head("/echo")
            assert (head.status_code, head.content) == (200, b"")
            with client.stream("GET", "/stream") as response:
                pieces = response.iter_raw()
                assert next(pieces) == b"first;"
                probe.release.set()
                assert b"".join(pieces) == b"second"
        _request_then_hang_up(port, "/watch", b"ready;")
        assert probe.closed.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while "handler saw the close" not in probe.events and time.monotonic() < deadline:
            time.sleep(0.01)
    assert probe.events == [
        "startup", "close callback", "handler saw the close", "shutdown",
    ]


# -- ASGIContainer hosting Starlette on the asyncio and trio backends --------------


def make_starlette_app(release: threading.Event, finished: threading.Event,
                       log: list[str]) -> Starlette:
    async def hello(request: Request) -> Response:
        return PlainTextResponse("hello from starlette")

    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    async def no_read(request: Request) -> Response:
        return PlainTextResponse("did not read")

    async def scope_view(request: Request) -> Response:
        the_scope = request.scope
        keys = ["type", "asgi", "http_version", "method", "scheme", "path", "raw_path",
                "query_string", "root_path", "client", "server"]
        data = {key: the_scope[key] for key in keys}
        for key in ("raw_path", "query_string"):
            data[key] = data[key].decode("latin-1")
        data["headers"] = [[k.decode(), v.decode()] for k, v in the_scope["headers"]]
        data["has_state"] = isinstance(the_scope.get("state"), dict)
        return JSONResponse(data)

    async def stream(request: Request) -> Response:
        async def generate() -> AsyncIterator[bytes]:
            yield b"first;"
            yield b"second" if await wait_for_event(release, 5.0) else b"not streamed"

        return StreamingResponse(generate(), media_type="text/plain")

    async def forever(request: Request) -> Response:
        async def generate() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"tick;"
                    await pause(0.005)
            finally:
                finished.set()

        return StreamingResponse(generate(), media_type="text/plain")

    async def greeting(request: Request) -> Response:
        return PlainTextResponse(request.state.greeting)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
        log.append("startup")
        yield {"greeting": "hi from lifespan"}
        log.append("shutdown")

    return Starlette(
        routes=[
            Route("/", hello),
            Route("/echo", echo, methods=["POST"]),
            Route("/no-read", no_read, methods=["POST"]),
            Route("/scope/{rest:path}", scope_view),
            Route("/stream", stream),
            Route("/forever", forever),
            Route("/greeting", greeting),
        ],
        lifespan=lifespan,
    )


class StarletteSite:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()
        self.log: list[str] = []
        self.app = make_starlette_app(self.release, self.finished, self.log)


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def starlette_server(request: pytest.FixtureRequest) -> Iterator[tuple[int, StarletteSite]]:
    site = StarletteSite()
    with running_server(request.param, ASGIContainer(site.app)) as handle:
        yield handle.port, site


@pytest.mark.network
def test_starlette_basics(starlette_server: tuple[int, StarletteSite]) -> None:
    port, _ = starlette_server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
        response = client.get("/")
        assert (response.status_code, response.text) == (200, "hello from starlette")
        body = bytes(range(256)) * 4096
        assert client.post("/echo", content=body).content == body
        assert client.post("/echo", content=iter([b"ab", b"cd"])).content == b"abcd"
        head = client.head("/")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len("hello from starlette"))
        assert client.get("/nowhere").status_code == 404


@pytest.mark.network
def test_starlette_scope(starlette_server: tuple[int, StarletteSite]) -> None:
    port, _ = starlette_server
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
        data = client.get("/scope/caf%C3%A9%2Fx?a=%20b", headers={"X-Thing": "yes"}).json()
    assert data["type"] == "http"
    assert data["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert (data["http_version"], data["method"], data["scheme"]) == ("1.1", "GET", "http")
    assert data["path"] == "/scope/café/x"
    assert data["raw_path"] == "/scope/caf%C3%A9%2Fx"
    assert data["query_string"] == "a=%20b"
    assert data["root_path"] == ""
    assert ["x-thing", "yes"] in data["headers"]
    assert data["client"][0] == "127.0.0.1"
    assert data["server"] == ["127.0.0.1", port]
    assert data["has_state"]


@pytest.mark.network
def test_starlette_streams_responses(starlette_server: tuple[int, StarletteSite]) -> None:
    port, site = starlette_server
    site.release.clear()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client, \
            client.stream("GET", "/stream") as response:
        pieces = response.iter_raw()
        assert next(pieces) == b"first;"
        site.release.set()
        assert b"".join(pieces) == b"second"


@pytest.mark.network
def test_starlette_stops_streaming_when_the_client_leaves(
    starlette_server: tuple[int, StarletteSite],
) -> None:
    port, site = starlette_server
    site.finished.clear()
    _request_then_hang_up(port, "/forever", b"tick;")
    assert site.finished.wait(TIMEOUT)


@pytest.mark.network
def test_container_body_limit(caplog: pytest.LogCaptureFixture) -> None:
    site = StarletteSite()
    limits = Limits(max_body_size=1000)
    with running_server("asyncio", ASGIContainer(site.app), limits=limits) as handle, \
            httpx.Client(base_url=f"http://127.0.0.1:{handle.port}", timeout=TIMEOUT) as client:
        declared = client.post("/echo", content=b"x" * 5000)
        streamed = client.post("/echo", content=iter([b"x" * 600, b"x" * 600]))
        fits = client.post("/echo", content=b"x" * 1000)
    assert (declared.status_code, declared.text) == (413, "request body too large\n")
    assert (streamed.status_code, streamed.text) == (413, "request body too large\n")
    assert fits.content == b"x" * 1000
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _expect_continue(port: int, path: str) -> tuple[bytes, bytes]:
    """Send a head with ``Expect: 100-continue`` and the body only when invited.

    Returns the first response head received, and everything after it.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
        client.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode()
        )
        received = b""
        while b"\r\n\r\n" not in received:
            data = client.recv(4096)
            assert data, received
            received += data
        first, _, rest = received.partition(b"\r\n\r\n")
        if first == b"HTTP/1.1 100 Continue":
            client.sendall(b"hello")
        while data := client.recv(4096):
            rest += data
    return first, rest


@pytest.mark.network
def test_100_continue_waits_for_the_first_receive(
    starlette_server: tuple[int, StarletteSite],
) -> None:
    port, _ = starlette_server
    first, rest = _expect_continue(port, "/echo")
    assert first == b"HTTP/1.1 100 Continue"
    assert rest.startswith(b"HTTP/1.1 200 ") and rest.endswith(b"\r\n\r\nhello")
    # An app that never reads the body never invites it.
    first, rest = _expect_continue(port, "/no-read")
    assert first.startswith(b"HTTP/1.1 200 ")
    assert rest == b"did not read"


@pytest.mark.network
def test_container_refuses_the_threads_backend(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="crosswind.driver")
    with running_server("threads", ASGIContainer(StarletteSite().app)) as handle:
        response = httpx.get(f"http://127.0.0.1:{handle.port}/", timeout=TIMEOUT)
    assert response.status_code == 500


def test_container_lifespan_on_asyncio() -> None:
    from crosswind.backends.asyncio import start_server

    site = StarletteSite()
    container = ASGIContainer(site.app)

    async def main() -> None:
        await container.startup()
        assert site.log == ["startup"]
        server = await start_server(container, port=0)
        try:
            port = server.sock.getsockname()[1]
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                response = await client.get(f"http://127.0.0.1:{port}/greeting")
                assert response.text == "hi from lifespan"
        finally:
            await server.shutdown()
        await container.shutdown()

    asyncio.run(main())
    assert site.log == ["startup", "shutdown"]


def test_container_lifespan_on_trio() -> None:
    from crosswind.backends.trio import start_server

    site = StarletteSite()
    container = ASGIContainer(site.app)

    async def main() -> None:
        await container.startup()
        async with trio.open_nursery() as nursery:
            server = await start_server(container, port=0, nursery=nursery)
            port = server.addresses[0][1]
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                    response = await client.get(f"http://127.0.0.1:{port}/greeting")
                    assert response.text == "hi from lifespan"
            finally:
                server.request_shutdown()
        await container.shutdown()

    trio.run(main)
    assert site.log == ["startup", "shutdown"]


def test_container_serves_apps_without_lifespan_support() -> None:
    async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "no lifespan here"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    container = ASGIContainer(plain)

    async def main() -> None:
        await container.startup()
        await container.shutdown()

    asyncio.run(main())  # neither raises nor hangs


def test_container_reports_a_failed_startup() -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    async def main() -> None:
        with pytest.raises(RuntimeError, match="no database"):
            await ASGIContainer(failing).startup()

    asyncio.run(main())
