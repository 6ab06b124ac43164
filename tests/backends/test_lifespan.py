"""The asyncio and trio backends run the application's ``startup()``/``shutdown()``.

``startup`` before the first connection is accepted, ``shutdown`` after the
graceful shutdown has let in-flight requests finish.  ``ASGIContainer`` has
both (the ASGI lifespan protocol), so a Starlette app's lifespan state is
there for its requests under ``crosswind serve``.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.test_adapt import CLIServer, write_module
from tests.support.servers import running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

TIMEOUT = 10.0
ASYNC_BACKENDS = ["asyncio", "trio"]

STARLETTE_LIFESPAN_APP = """
    import contextlib
    import os
    from pathlib import Path

    import anyio
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    LOG = Path(os.environ.get("LIFESPAN_LOG", "lifespan.log"))

    def note(event):
        with LOG.open("a") as log:
            log.write(event + "\\n")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        note("startup")
        yield {"greeting": "hello from lifespan"}
        note("shutdown")

    async def greeting(request):
        return PlainTextResponse(request.state.greeting)

    async def slow(request):
        note("request started")
        await anyio.sleep(0.5)
        note("request done")
        return PlainTextResponse("slow done")

    app = Starlette(routes=[Route("/", greeting), Route("/slow", slow)], lifespan=lifespan)
"""


@pytest.fixture
def serve_cli():
    started: list[CLIServer] = []

    def start(cwd: Path, target: str, *args: str) -> CLIServer:
        started.append(CLIServer(cwd, target, *args))
        return started[-1]

    yield start
    for server in started:
        server.kill()


def read_log(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def wait_until(condition: Any, timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
def test_starlette_lifespan_under_crosswind_serve(
    serve_cli, tmp_path: Path, backend: str
) -> None:
    write_module(tmp_path, "lifespan_site", STARLETTE_LIFESPAN_APP)
    log = tmp_path / "lifespan.log"
    server: CLIServer = serve_cli(tmp_path, "lifespan_site:app", "--backend", backend)
    url = server.url()
    # Started before the server took its first connection.
    assert read_log(log) == ["startup"]
    assert httpx.get(url + "/", timeout=TIMEOUT).text == "hello from lifespan"

    # SIGTERM mid-request: the request finishes, then the lifespan shuts down.
    responses: list[httpx.Response] = []
    client = threading.Thread(
        target=lambda: responses.append(httpx.get(url + "/slow", timeout=TIMEOUT))
    )
    client.start()
    wait_until(lambda: "request started" in read_log(log))
    assert server.stop(signal.SIGTERM) == 0
    client.join(TIMEOUT)
    assert [(r.status_code, r.text) for r in responses] == [(200, "slow done")]
    assert read_log(log) == ["startup", "request started", "request done", "shutdown"]
    assert not any("Traceback" in line for line in server.lines)


class HookedApp:
    """A native app whose hooks and requests append to ``events``, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.ready: str | None = None
        self.entered = threading.Event()
        self.release = threading.Event()

    async def startup(self) -> None:
        self.events.append("startup")
        self.ready = "ready"

    async def shutdown(self) -> None:
        self.events.append("shutdown")

    async def handle(self, exchange: Any) -> None:
        from tests.support.apps import wait_for_event

        if exchange.path == "/wait":
            self.entered.set()
            await wait_for_event(self.release)
        self.events.append(f"answered {exchange.path}")
        await exchange.respond(200, [], str(self.ready).encode())


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
def test_native_hooks_bracket_serving_and_shutdown_waits_for_requests(backend: str) -> None:
    app = HookedApp()
    responses: list[httpx.Response] = []
    with running_server(backend, app) as handle:
        url = f"http://127.0.0.1:{handle.port}"
        assert app.events == ["startup"]
        assert httpx.get(url + "/", timeout=TIMEOUT).text == "ready"
        client = threading.Thread(
            target=lambda: responses.append(httpx.get(url + "/wait", timeout=TIMEOUT))
        )
        client.start()
        assert app.entered.wait(TIMEOUT)
        handle.shutdown()
        time.sleep(0.1)
        # Shutting down, but the in-flight request is not finished: no hook yet.
        assert "shutdown" not in app.events
        app.release.set()
        client.join(TIMEOUT)
    assert app.events == ["startup", "answered /", "answered /wait", "shutdown"]
    assert [r.status_code for r in responses] == [200]


class FailingStartup:
    async def startup(self) -> None:
        raise RuntimeError("no database")

    async def handle(self, exchange: Any) -> None:
        await exchange.respond(200, [], b"unreachable")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("backend", ASYNC_BACKENDS)
def test_failed_startup_stops_the_server_and_frees_the_port(backend: str) -> None:
    port = _free_port()
    with pytest.raises(RuntimeError, match="no database"), \
            running_server(backend, FailingStartup(), port=port):
        pass
    # The socket bound before startup was closed: the port can be listened on again.
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
        again.listen()


FAILING_STARTUP_APP = """
    class App:
        async def startup(self):
            raise RuntimeError("no database")

        async def handle(self, exchange):
            await exchange.respond(200, [], b"unreachable")

    app = App()
"""


def test_cli_reports_a_failed_startup(serve_cli, tmp_path: Path) -> None:
    write_module(tmp_path, "failing_site", FAILING_STARTUP_APP)
    server: CLIServer = serve_cli(tmp_path, "failing_site:app")
    assert server.finish() == 1
    assert "RuntimeError: no database" in server.lines
    assert server.lines[-1] == (
        "crosswind: error: the server did not start: RuntimeError (traceback above)"
    )
    assert not any(line.startswith("Serving on") for line in server.lines)
