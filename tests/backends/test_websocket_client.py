"""``crosswind.websocket.websocket_connect`` and ``websocket_connect_sync`` against real servers.

One script runs with Tornado's own client against a Tornado server; its
transcript is the reference.  crosswind's client, on asyncio, on trio and
blocking, must produce the same transcript against that Tornado server and
against crosswind's servers on every backend.  The rest checks behaviour a
script cannot show: limits, pings, compression, timeouts, refusals, TLS, and
a server of the independent ``websockets`` library.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import crosswind.web
import crosswind.websocket
import pytest
import tornado.httpclient
import tornado.web
import tornado.websocket
import trio
from crosswind.websocket import (
    HandshakeFailed,
    WebSocketClosedError,
    WebSocketHandshakeError,
    WebSocketTimeoutError,
    websocket_connect,
    websocket_connect_sync,
)

from tests.support.servers import BACKENDS, running_server, self_signed_certificate
from tests.web.test_differential import tornado_server
from tests.web.test_websocket_differential import build_app

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

FLAVOURS = ["asyncio", "trio", "sync"]
ASYNC_FLAVOURS = ["asyncio", "trio"]


def run_async(flavour: str, fn: Callable[..., Any], *args: Any) -> Any:
    if flavour == "asyncio":
        return asyncio.run(fn(*args))
    return trio.run(fn, *args)


# -- the script ------------------------------------------------------------------


async def script_async(connect: Any, closed_error: type[Exception], url: str) -> list[Any]:
    conn = await connect(f"{url}/ws/lobby", subprotocols=["other", "chat"])
    seen: list[Any] = [("subprotocol", conn.selected_subprotocol), await conn.read_message()]
    for message, binary in (("hello", False), (b"abc", True), ("json", False), ("bye", False)):
        await conn.write_message(message, binary=binary)
        seen.append(await conn.read_message())
    seen.append(("closed", conn.close_code, conn.close_reason))
    with pytest.raises(closed_error):
        await conn.write_message("too late")
    conn.close()  # already closed: does nothing (and Tornado's client wants it called)
    return seen


def script_sync(url: str) -> list[Any]:
    with websocket_connect_sync(f"{url}/ws/lobby", subprotocols=["other", "chat"]) as conn:
        seen: list[Any] = [("subprotocol", conn.selected_subprotocol), conn.read_message()]
        for message, binary in (("hello", False), (b"abc", True), ("json", False), ("bye", False)):
            conn.write_message(message, binary=binary)
            seen.append(conn.read_message())
        seen.append(("closed", conn.close_code, conn.close_reason))
        with pytest.raises(WebSocketClosedError):
            conn.write_message("too late")
    return seen


def run_script(flavour: str, url: str) -> list[Any]:
    if flavour == "sync":
        return script_sync(url)
    return run_async(flavour, script_async, websocket_connect, WebSocketClosedError, url)


@pytest.fixture(scope="module")
def tornado_url() -> Iterator[str]:
    with tornado_server(build_app(tornado.web, tornado.websocket)) as port:
        yield f"ws://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def reference(tornado_url: str) -> list[Any]:
    seen = asyncio.run(
        script_async(
            tornado.websocket.websocket_connect, tornado.websocket.WebSocketClosedError, tornado_url
        )
    )
    # What the script relies on, so that equal transcripts mean something.
    assert seen[0] == ("subprotocol", "chat")
    assert json.loads(seen[1]) == {"room": "lobby", "subprotocol": "chat"}
    assert seen[2:] == [
        "echo: hello", b"cba", '{"list": [1, 2], "text": "\\u00e9"}', None, ("closed", 4001, "bye")
    ]
    return seen


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_against_tornado_as_tornado_client_does(
    flavour: str, tornado_url: str, reference: list[Any]
) -> None:
    assert run_script(flavour, tornado_url) == reference


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_against_crosswind_as_tornado_client_does(
    backend: str, flavour: str, reference: list[Any]
) -> None:
    app = build_app(crosswind.web, crosswind.websocket)
    with running_server(backend, app) as handle:
        assert run_script(flavour, f"ws://127.0.0.1:{handle.port}") == reference


# -- a configurable crosswind server ---------------------------------------------------


class Talker(crosswind.websocket.WebSocketHandler):
    """Says what it is told: ``big N`` sends N bytes, ``close C`` closes with C, the rest is echoed."""

    def get_compression_options(self) -> dict[str, Any] | None:
        return {} if self.get_argument("deflate", None) else None

    async def on_message(self, message: str | bytes) -> None:
        if isinstance(message, str) and message.startswith("big "):
            await self.write_message("x" * int(message[4:]))
        elif isinstance(message, str) and message.startswith("close "):
            self.close(int(message[6:]), "as asked")
        else:
            await self.write_message(message, binary=isinstance(message, bytes))


class Refuse(crosswind.web.RequestHandler):
    def get(self) -> None:
        self.set_status(403)
        self.set_header("X-Why", "members only")
        self.finish("no entry")


def talker_app(**settings: Any) -> crosswind.web.Application:
    return crosswind.web.Application([(r"/talk", Talker), (r"/refuse", Refuse)], **settings)


@pytest.fixture(scope="module")
def talker_url() -> Iterator[str]:
    with running_server("asyncio", talker_app(websocket_ping_interval=0.1)) as handle:
        yield f"ws://127.0.0.1:{handle.port}"


@pytest.mark.parametrize("flavour", ASYNC_FLAVOURS)
def test_callback_gets_each_message_then_none(flavour: str, talker_url: str) -> None:
    async def main() -> list[Any]:
        got: list[Any] = []
        conn = await websocket_connect(f"{talker_url}/talk", on_message_callback=got.append)
        conn.write_message("one")
        conn.write_message(b"two", binary=True)
        conn.write_message("close 4002")
        await conn.wait_closed()
        with pytest.raises(RuntimeError):
            await conn.read_message()
        return [*got, conn.close_code, conn.close_reason]

    assert run_async(flavour, main) == ["one", b"two", None, 4002, "as asked"]


@pytest.mark.parametrize("flavour", ASYNC_FLAVOURS)
def test_a_callback_that_raises_is_logged_and_drops_the_connection(
    flavour: str, talker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[Any] = []

    def callback(message: Any) -> None:
        got.append(message)
        if message == "boom":
            raise ValueError("boom")

    async def main() -> Any:
        conn = await websocket_connect(f"{talker_url}/talk", on_message_callback=callback)
        conn.write_message("boom")
        await conn.wait_closed()
        return conn.close_code

    assert run_async(flavour, main) is None  # dropped, as Tornado drops it: no close frame
    assert got == ["boom", None]
    assert "on_message_callback failed" in caplog.text


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_read_message_keeps_returning_none_after_the_close(flavour: str, talker_url: str) -> None:
    # Tornado's returns None once and then waits forever; None for good is kinder.
    url = f"{talker_url}/talk"
    if flavour == "sync":
        with websocket_connect_sync(url) as conn:
            conn.write_message("close 4000")
            got = [conn.read_message(), conn.read_message(), conn.read_message()]
    else:

        async def main() -> list[Any]:
            conn = await websocket_connect(url)
            conn.write_message("close 4000")
            return [await conn.read_message(), await conn.read_message(), await conn.read_message()]

        got = run_async(flavour, main)
    assert got == [None, None, None]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_message_over_max_message_size_closes_with_1009(flavour: str, talker_url: str) -> None:
    url = f"{talker_url}/talk"
    if flavour == "sync":
        with websocket_connect_sync(url, max_message_size=1000) as conn:
            conn.write_message("big 1000")
            assert conn.read_message() == "x" * 1000
            conn.write_message("big 1001")
            assert conn.read_message() is None
            code = conn.close_code
    else:

        async def main() -> int | None:
            conn = await websocket_connect(url, max_message_size=1000)
            await conn.write_message("big 1000")
            assert await conn.read_message() == "x" * 1000
            await conn.write_message("big 1001")
            assert await conn.read_message() is None
            return conn.close_code

        code = run_async(flavour, main)
    assert code == 1009


@pytest.mark.parametrize("flavour", ASYNC_FLAVOURS)
def test_pings_of_the_server_are_answered(flavour: str, talker_url: str) -> None:
    # The server pings every 0.1 s and drops a client silent for 0.1 s; the
    # client's reader answers while this one waits.
    async def main() -> Any:
        conn = await websocket_connect(f"{talker_url}/talk")
        await (asyncio.sleep(0.6) if flavour == "asyncio" else trio.sleep(0.6))
        await conn.write_message("still here")
        return await conn.read_message()

    assert run_async(flavour, main) == "still here"


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A server that completes the handshake, then never reads or writes again."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    kept: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            sock, _ = listener.accept()
            kept.append(sock)
            ws = WSConnection(ConnectionType.SERVER)
            while True:
                ws.receive_data(sock.recv(4096))
                if any(isinstance(event, Request) for event in ws.events()):
                    sock.sendall(ws.send(AcceptConnection()))
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(5)
        for sock in kept:
            sock.close()
        listener.close()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_unanswered_ping_ends_the_connection(flavour: str) -> None:
    with silent_server() as port:
        url = f"ws://127.0.0.1:{port}/"
        started = time.monotonic()
        if flavour == "sync":
            with websocket_connect_sync(url, ping_interval=0.2, ping_timeout=0.2) as conn:
                assert conn.read_message(timeout=5) is None
                code = conn.close_code
        else:

            async def main() -> int | None:
                conn = await websocket_connect(url, ping_interval=0.2, ping_timeout=0.2)
                assert await conn.read_message() is None
                return conn.close_code

            code = run_async(flavour, main)
        assert code is None  # no close frame: Tornado reports no code
        assert 0.3 < time.monotonic() - started < 3


def test_a_blocking_read_times_out() -> None:
    with silent_server() as port, websocket_connect_sync(f"ws://127.0.0.1:{port}/") as conn:
        conn.protocol.limits = conn.protocol.limits.replace(ws_close_timeout=0.2)
        with pytest.raises(WebSocketTimeoutError):
            conn.read_message(timeout=0.2)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("deflate", [True, False])
def test_compression_when_asked_and_accepted(flavour: str, deflate: bool, talker_url: str) -> None:
    url = f"{talker_url}/talk" + ("?deflate=1" if deflate else "")
    text = "compressible " * 1000
    if flavour == "sync":
        with websocket_connect_sync(url, compression_options={"compression_level": 9}) as conn:
            conn.write_message(text)
            echoed = conn.read_message()
            extensions = conn.protocol.extensions
    else:

        async def main() -> tuple[Any, Any]:
            conn = await websocket_connect(url, compression_options={})
            await conn.write_message(text)
            echoed = await conn.read_message()
            conn.close()
            await conn.wait_closed()
            return echoed, conn.protocol.extensions

        echoed, extensions = run_async(flavour, main)
    assert echoed == text
    assert [extension.name for extension in extensions] == (
        ["permessage-deflate"] if deflate else []
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_connect_timeout(flavour: str) -> None:
    # A listener that never accepts: TCP connects (the backlog), nothing answers.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"ws://127.0.0.1:{listener.getsockname()[1]}/"
        started = time.monotonic()
        with pytest.raises(WebSocketTimeoutError, match="connect_timeout"):
            if flavour == "sync":
                websocket_connect_sync(url, connect_timeout=0.3)
            else:
                run_async(flavour, lambda: websocket_connect(url, connect_timeout=0.3))
        assert time.monotonic() - started < 3


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_refused_handshake_carries_the_status(flavour: str, talker_url: str) -> None:
    url = f"{talker_url}/refuse"
    with pytest.raises(WebSocketHandshakeError) as caught:
        if flavour == "sync":
            websocket_connect_sync(url)
        else:
            run_async(flavour, lambda: websocket_connect(url))
    error = caught.value
    assert error.code == 403
    assert error.response.headers["X-Why"] == "members only"
    assert error.response.body == b"no entry"


def test_an_invalid_101_fails_the_handshake() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer() -> None:
            sock, _ = listener.accept()
            with sock:
                sock.recv(4096)
                sock.sendall(
                    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"
                )

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(HandshakeFailed, match="Accept"):
            websocket_connect_sync(f"ws://127.0.0.1:{listener.getsockname()[1]}/")
        thread.join(5)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_headers_and_request_objects(flavour: str) -> None:
    class Greet(crosswind.websocket.WebSocketHandler):
        def open(self) -> None:
            self.write_message(self.request.headers.get("X-Name", "nobody"))

    app = crosswind.web.Application([(r"/greet", Greet)])
    with running_server("asyncio", app) as handle:
        url = f"ws://127.0.0.1:{handle.port}/greet"
        request = tornado.httpclient.HTTPRequest(url, headers={"X-Name": "tornado"})
        if flavour == "sync":
            with websocket_connect_sync(url, headers={"X-Name": "ada"}) as conn:
                got = [conn.read_message()]
            with websocket_connect_sync(request) as conn:
                got.append(conn.read_message())
        else:

            async def main() -> list[Any]:
                conn = await websocket_connect(url, headers=[("X-Name", "ada")])
                first = await conn.read_message()
                conn.close()
                conn = await websocket_connect(request)
                second = await conn.read_message()
                conn.close()
                return [first, second]

            got = run_async(flavour, main)
    assert got == ["ada", "tornado"]


# -- TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("wss"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_wss(backend: str, flavour: str, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    with running_server(backend, talker_app(), ssl_context=server_context) as handle:
        url = f"wss://localhost:{handle.port}/talk"
        if flavour == "sync":
            with websocket_connect_sync(url, ssl_context=client_context) as conn:
                conn.write_message("secret")
                got = conn.read_message()
        else:

            async def main() -> Any:
                conn = await websocket_connect(url, ssl_context=client_context)
                await conn.write_message("secret")
                echoed = await conn.read_message()
                conn.close()
                await conn.wait_closed()
                return echoed

            got = run_async(flavour, main)
        assert got == "secret"
        # Without the certificate's CA, the server is not trusted.
        with pytest.raises(ssl.SSLCertVerificationError):
            if flavour == "sync":
                websocket_connect_sync(url)
            else:
                run_async(flavour, lambda: websocket_connect(url))


# -- the websockets library --------------------------------------------------------


@pytest.fixture(scope="module")
def websockets_url() -> Iterator[str]:
    sync_server = pytest.importorskip(
        "websockets.sync.server", reason="the websockets library is not installed"
    )

    def handler(connection: Any) -> None:
        for message in connection:
            if message == "close":
                connection.close(4003, "asked to")
                return
            connection.send(message)

    with sync_server.serve(handler, "127.0.0.1", 0, subprotocols=["chat"]) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        server.shutdown()
        thread.join(5)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_against_the_websockets_library(flavour: str, websockets_url: str) -> None:
    options: dict[str, Any] = {"subprotocols": ["chat"], "compression_options": {}}
    if flavour == "sync":
        with websocket_connect_sync(websockets_url, **options) as conn:
            got = [conn.selected_subprotocol, [e.name for e in conn.protocol.extensions]]
            for message in ("text", b"\x00bytes", "é" * 5000):
                conn.write_message(message, binary=isinstance(message, bytes))
                got.append(conn.read_message())
            conn.write_message("close")
            got += [conn.read_message(), conn.close_code, conn.close_reason]
    else:

        async def main() -> list[Any]:
            conn = await websocket_connect(websockets_url, **options)
            got = [conn.selected_subprotocol, [e.name for e in conn.protocol.extensions]]
            for message in ("text", b"\x00bytes", "é" * 5000):
                await conn.write_message(message, binary=isinstance(message, bytes))
                got.append(await conn.read_message())
            await conn.write_message("close")
            got += [await conn.read_message(), conn.close_code, conn.close_reason]
            await conn.wait_closed()
            return got

        got = run_async(flavour, main)
    assert got == [
        "chat", ["permessage-deflate"], "text", b"\x00bytes", "é" * 5000, None, 4003, "asked to"
    ]
