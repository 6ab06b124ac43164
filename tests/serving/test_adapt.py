"""``python -m crosswind serve`` with WSGI and ASGI applications: detection and serving.

The served applications are real Flask and Starlette apps, written into a
temporary directory and imported by a ``crosswind serve`` subprocess.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from crosswind.adapters import ASGIContainer, WSGIContainer, to_asgi, to_wsgi
from crosswind.serving.errors import CLIError
from crosswind.serving.loading import detect_app_kind, load_app

from tests.support.cli_process import CLIProcess

pytestmark = [pytest.mark.timeout(60)]

TIMEOUT = 10.0
SERVING = re.compile(r"^Serving on http://127\.0\.0\.1:(\d+) \((\w+)\)$")


class CLIServer(CLIProcess):
    """``python -m crosswind serve TARGET --port 0 ARGS`` run in *cwd*."""

    def __init__(self, cwd: Path, target: str, *args: str) -> None:
        super().__init__("serve", target, "--port", "0", *args, cwd=cwd)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.wait_for(SERVING).group(1)}"


@pytest.fixture
def serve_cli():
    started: list[CLIServer] = []

    def start(cwd: Path, target: str, *args: str) -> CLIServer:
        server = CLIServer(cwd, target, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


FLASK_APP = """
    from flask import Flask, Response, jsonify, request

    app = Flask(__name__)

    @app.get("/")
    def index():
        return "hello " + request.args.get("name", "nobody")

    @app.post("/form")
    def form():
        return jsonify(sorted(request.form.items()))

    @app.get("/stream")
    def stream():
        def parts():
            for number in range(3):
                yield f"part {number};"
        return Response(parts(), mimetype="text/plain")

    @app.get("/where")
    def where():
        return jsonify(host=request.host, path=request.path, remote=request.remote_addr)
"""

STARLETTE_APP = """
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    async def greet(request):
        return PlainTextResponse(f"hi {request.path_params['name']}")

    async def echo(request):
        body = await request.json()
        return JSONResponse({"got": body, "length": request.headers["content-length"]})

    async def count(request):
        async def numbers():
            for number in range(3):
                yield f"{number}\\n".encode()
        return StreamingResponse(numbers(), media_type="text/plain")

    app = Starlette(routes=[
        Route("/hi/{name}", greet),
        Route("/echo", echo, methods=["POST"]),
        Route("/count", count),
    ])
"""


# -- serving real Flask and Starlette apps ---------------------------------------


@pytest.mark.network
@pytest.mark.parametrize("backend", ["asyncio", "trio", "threads"])
def test_flask_app_is_served_through_the_wsgi_container(serve_cli, tmp_path, backend) -> None:
    write_module(tmp_path, "flask_site", FLASK_APP)
    server = serve_cli(tmp_path, "flask_site:app", "--backend", backend)
    url = server.url()
    assert "flask_site:app is a WSGI application; serving it through WSGIContainer" in server.lines
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        hello = client.get("/", params={"name": "ada lovelace"})
        assert (hello.status_code, hello.text) == (200, "hello ada lovelace")
        assert hello.headers["content-type"] == "text/html; charset=utf-8"
        form = client.post("/form", data={"b": "2", "a": "x y"})
        assert form.json() == [["a", "x y"], ["b", "2"]]
        stream = client.get("/stream")
        assert stream.text == "part 0;part 1;part 2;"
        where = client.get("/where").json()
        assert where == {"host": url.removeprefix("http://"), "path": "/where", "remote": "127.0.0.1"}
        missing = client.get("/nowhere")
        assert missing.status_code == 404 and "Not Found" in missing.text
    assert server.stop() == 0
    assert not any("Traceback" in line for line in server.lines)


@pytest.mark.network
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_starlette_app_is_served_through_the_asgi_container(serve_cli, tmp_path, backend) -> None:
    write_module(tmp_path, "starlette_site", STARLETTE_APP)
    server = serve_cli(tmp_path, "starlette_site:app", "--backend", backend)
    url = server.url()
    assert (
        "starlette_site:app is an ASGI 3 application; serving it through ASGIContainer"
        in server.lines
    )
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        greet = client.get("/hi/b%C3%A9a")
        assert (greet.status_code, greet.text) == (200, "hi béa")
        echo = client.post("/echo", json={"n": [1, 2]})
        assert echo.json() == {"got": {"n": [1, 2]}, "length": str(len(echo.request.content))}
        count = client.get("/count")
        assert count.text == "0\n1\n2\n"
        assert "content-length" not in count.headers  # streamed, chunk by chunk
        assert client.get("/nowhere").status_code == 404
    assert server.stop() == 0
    assert not any("Traceback" in line for line in server.lines)


@pytest.mark.network
@pytest.mark.parametrize("backend", ["asyncio", "trio", "threads"])
def test_flask_stream_with_context(backend: str) -> None:
    # Each step of a streamed WSGI response may run on another worker thread;
    # stream_with_context must still find the request context it pushed.
    import flask

    from tests.support.servers import running_server

    app = flask.Flask(__name__)

    @app.get("/")
    def stream() -> flask.Response:
        def parts():
            yield "a"
            yield flask.request.args["b"]

        return flask.Response(flask.stream_with_context(parts()))

    with running_server(backend, WSGIContainer(app)) as handle:
        response = httpx.get(f"http://127.0.0.1:{handle.port}/?b=c", timeout=TIMEOUT)
    assert response.text == "ac"


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crosswind", *args],
        cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )


def test_asgi_app_on_the_threads_backend_is_refused(tmp_path) -> None:
    write_module(tmp_path, "starlette_site", STARLETTE_APP)
    result = run_cli(tmp_path, "serve", "starlette_site:app", "--backend", "threads", "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "crosswind: error: starlette_site:app is an ASGI application, which the threads "
        "backend cannot run (it has no event loop); use --backend asyncio or trio"
    ]


def test_something_that_is_no_application_is_refused_with_the_reason(tmp_path) -> None:
    write_module(tmp_path, "odd", "def one(environ):\n    return []\n")
    result = run_cli(tmp_path, "serve", "odd:one", "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "crosswind: error: odd:one is not a crosswind application, an ASGI 3 application or a "
        "WSGI application: it is callable but takes neither (environ, start_response) nor, "
        "asynchronously, (scope, receive, send)"
    )


# -- detection, in process ---------------------------------------------------------


class NativeApp:
    async def handle(self, exchange: Any) -> None:
        await exchange.respond(200, [], b"native")


class ASGIObject:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pass


class SyncHandle:
    def handle(self, exchange: Any) -> None:
        pass


class WSGIClass:
    """PEP 3333's class-based application: calling the class starts the response."""

    def __init__(self, environ: Any, start_response: Any) -> None:
        self.start_response = start_response

    def __iter__(self):
        self.start_response("200 OK", [])
        yield b""


async def asgi_function(scope: Any, receive: Any, send: Any) -> None:
    pass


async def asgi_with_options(scope: Any, receive: Any, send: Any, *, debug: bool) -> None:
    pass


def wsgi_function(environ: Any, start_response: Any) -> list[bytes]:
    return []


async def two_arguments(scope: Any, receive: Any) -> None:
    pass


def test_detects_the_kind_of_application() -> None:
    import flask
    import starlette.applications
    from crosswind.app import App
    from crosswind.web import Application

    assert detect_app_kind(NativeApp()) == "crosswind"
    assert detect_app_kind(Application([])) == "crosswind"
    # The Flask-style App is a WSGI callable too; native serving wins.
    assert detect_app_kind(App(__name__)) == "crosswind"
    assert detect_app_kind(starlette.applications.Starlette()) == "asgi"
    assert detect_app_kind(ASGIObject()) == "asgi"
    assert detect_app_kind(asgi_function) == "asgi"
    assert detect_app_kind(functools.partial(asgi_with_options, debug=True)) == "asgi"
    assert detect_app_kind(flask.Flask(__name__)) == "wsgi"
    assert detect_app_kind(flask.Flask(__name__).wsgi_app) == "wsgi"
    assert detect_app_kind(wsgi_function) == "wsgi"
    assert detect_app_kind(lambda *args: []) == "wsgi"
    assert detect_app_kind(WSGIClass) == "wsgi"


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (object(), "it has no async handle(exchange) method and is not callable"),
        (SyncHandle(), "its handle is not a coroutine function"),
        (NativeApp, "it is a class; name an instance of it"),
        (ASGIObject, "takes neither"),  # the class, not an instance
        (two_arguments, "it is an async callable but does not take (scope, receive, send)"),
        (lambda environ: [], "takes neither (environ, start_response)"),
    ],
)
def test_detection_says_what_is_missing(obj: Any, reason: str) -> None:
    with pytest.raises(TypeError) as info:
        detect_app_kind(obj)
    assert reason in str(info.value)


def test_load_app_wraps_foreign_apps_and_unwraps_crosswind_adapters(monkeypatch) -> None:
    import flask
    import starlette.applications

    module = type(sys)("adapt_targets")
    module.flask_app = flask.Flask(__name__)  # type: ignore[attr-defined]
    module.starlette_app = starlette.applications.Starlette()  # type: ignore[attr-defined]
    module.native = NativeApp()  # type: ignore[attr-defined]
    module.native_asgi = to_asgi(module.native)  # type: ignore[attr-defined]
    module.native_wsgi = to_wsgi(module.native)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "adapt_targets", module)

    wsgi = load_app("adapt_targets:flask_app", "threads")
    assert isinstance(wsgi, WSGIContainer) and wsgi.wsgi_app is module.flask_app
    asgi = load_app("adapt_targets:starlette_app", "trio")
    assert isinstance(asgi, ASGIContainer) and asgi.asgi_app is module.starlette_app
    assert load_app("adapt_targets:native", "threads") is module.native
    # app.asgi / app.wsgi of a crosswind application: no round trip through a container.
    assert load_app("adapt_targets:native_asgi", "threads") is module.native
    assert load_app("adapt_targets:native_wsgi") is module.native
    with pytest.raises(CLIError, match="threads backend cannot run") as info:
        load_app("adapt_targets:starlette_app", "threads")
    assert info.value.exit_code == 2
