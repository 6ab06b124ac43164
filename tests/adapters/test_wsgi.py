"""WSGI both ways: crosswind apps under WSGI servers, WSGI (Flask) apps under crosswind."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import wsgiref.validate
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from crosswind.adapters import WSGIContainer, to_wsgi
from crosswind.errors import RequestError
from crosswind.protocol.exchange import ClientDisconnected, Exchange
from crosswind.protocol.limits import Limits
from crosswind.web import Application, RequestHandler
from hypothesis import given
from hypothesis import strategies as st

from tests.support.adapter_servers import WSGI_SERVERS, respond_with_info
from tests.support.apps import wait_for_event
from tests.support.servers import BACKENDS, running_server

TIMEOUT = 10.0
_TEXT = [(b"Content-Type", b"text/plain")]


# -- a crosswind application exercising the Exchange surface ---------------------


class Probe:
    """A native crosswind app; ``events`` records what handlers observed."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.release = threading.Event()

    async def handle(self, exchange: Exchange) -> None:
        path = exchange.path
        if path == "/info":
            await respond_with_info(exchange)
        elif path == "/echo":
            await exchange.respond(200, _TEXT, await exchange.read_body())
        elif path == "/first-piece":
            piece = await exchange.read()
            await exchange.respond(200, _TEXT, b"%d" % len(piece))
        elif path == "/ignore-body":
            await exchange.respond(200, _TEXT, b"not read")
        elif path == "/limit":
            exchange.max_body_size = 4
            await exchange.respond(200, _TEXT, await exchange.read_body())
        elif path == "/sleep":
            await asyncio.sleep(0.01)  # needs a real event loop
            await exchange.respond(200, _TEXT, b"slept")
        elif path == "/stream":
            await exchange.start_response(200, _TEXT)
            await exchange.write(b"first;")
            self.events.append("wrote first")
            released = await wait_for_event(self.release, 5.0)
            await exchange.write(b"second" if released else b"not streamed")
            await exchange.end()
        elif path == "/steps":
            await exchange.start_response(200, _TEXT)
            for i in range(3):
                self.events.append(f"write {i}")
                await exchange.write(b"%d;" % i)
            await exchange.end()
        elif path == "/watch":
            exchange.add_close_callback(lambda: self.events.append("close callback"))
            await exchange.start_response(200, _TEXT)
            try:
                while True:
                    await exchange.write(b"tick;")
            except ClientDisconnected:
                self.events.append("handler saw disconnect")
                raise
        elif path == "/refuse":
            raise RequestError("no such thing here", 403)
        elif path == "/fail-early":
            raise RuntimeError("before the head")
        elif path == "/fail-late":
            await exchange.start_response(200, _TEXT)
            await exchange.write(b"partial")
            raise RuntimeError("after the head")
        elif path == "/silent":
            return
        else:
            await exchange.respond(404, _TEXT, b"not found")


def make_environ(path: str = "/", method: str = "GET", body: bytes = b"",
                 **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "testserver",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(extra)
    return environ


class Result:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.code = int(status[:3])
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body


def call(wsgi_app: Any, environ: dict[str, Any]) -> Result:
    """Call *wsgi_app* the way a server does, through wsgiref's validator."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, headers
        return lambda data: None

    iterable = wsgiref.validate.validator(wsgi_app)(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        iterable.close()
    return Result(seen["status"], seen["headers"], body)


# -- to_wsgi, in process ----------------------------------------------------------


def test_wsgi_request_reaches_the_exchange() -> None:
    environ = make_environ(
        "/info", QUERY_STRING="a=1&b=%20", HTTP_X_THING="x", CONTENT_TYPE="text/plain",
        **{"wsgi.url_scheme": "https"},
    )
    result = call(to_wsgi(Probe()), environ)
    assert result.status == "200 OK"
    info = json.loads(result.body)
    assert info["method"] == "GET"
    assert info["target"] == "/info?a=1&b=%20"
    assert (info["path"], info["query"]) == ("/info", "a=1&b=%20")
    assert info["http_version"] == "1.1"
    assert ["x-thing", "x"] in info["headers"]
    assert ["content-type", "text/plain"] in info["headers"]
    assert ["host", "testserver"] in info["headers"]
    assert info["peer"] == ["192.0.2.7", 40000]
    assert info["scheme"] == "https"


def test_path_info_is_encoded_again_relative_to_script_name() -> None:
    # PEP 3333: PATH_INFO holds the decoded bytes as latin-1.
    class PathApp:
        async def handle(self, exchange: Exchange) -> None:
            body = f"{exchange.path} {exchange.info.extra['root_path']}"
            await exchange.respond(200, _TEXT, body.encode())

    environ = make_environ("/caf\xc3\xa9 x/%", SCRIPT_NAME="/mount")
    assert call(to_wsgi(PathApp()), environ).body == b"/caf%C3%A9%20x/%25 /mount"


def test_tornado_style_application_under_wsgi() -> None:
    class Hello(RequestHandler):
        async def get(self, name: str) -> None:
            await asyncio.sleep(0)
            self.write({"hello": name, "q": self.get_argument("q", "")})

        def post(self, name: str) -> None:
            self.write(self.request.body)

    app = Application([(r"/hello/(\w+)", Hello)])
    result = call(app.wsgi, make_environ("/hello/bob", QUERY_STRING="q=1"))
    assert result.code == 200
    assert json.loads(result.body) == {"hello": "bob", "q": "1"}
    assert result.headers["content-type"].startswith("application/json")
    assert call(app.wsgi, make_environ("/hello/bob", "POST", b"payload")).body == b"payload"
    assert call(app.wsgi, make_environ("/nowhere")).code == 404


def test_handler_that_suspends_runs_on_an_event_loop() -> None:
    result = call(to_wsgi(Probe()), make_environ("/sleep"))
    assert (result.code, result.body) == (200, b"slept")


def test_body_is_read_lazily_and_in_pieces() -> None:
    body = b"x" * 200_000
    stream = io.BytesIO(body)
    result = call(to_wsgi(Probe()), make_environ("/first-piece", "POST", body,
                                                 **{"wsgi.input": stream}))
    piece = int(result.body)
    assert 0 < piece < len(body)
    assert stream.tell() == piece  # nothing read beyond what the handler asked for

    untouched = io.BytesIO(body)
    call(to_wsgi(Probe()), make_environ("/ignore-body", "POST", body, **{"wsgi.input": untouched}))
    assert untouched.tell() == 0
    assert call(to_wsgi(Probe()), make_environ("/echo", "POST", body)).body == body


def test_body_over_the_limit_answers_413_without_reading() -> None:
    stream = io.BytesIO(b"y" * 50)
    result = call(to_wsgi(Probe(), max_body_size=10),
                  make_environ("/echo", "POST", b"y" * 50, **{"wsgi.input": stream}))
    assert result.code == 413
    assert result.body == b"request body too large\n"
    assert stream.tell() == 0
    # A handler may lower the limit before it reads.
    assert call(to_wsgi(Probe()), make_environ("/limit", "POST", b"12345")).code == 413
    assert call(to_wsgi(Probe()), make_environ("/limit", "POST", b"1234")).body == b"1234"


def test_terminated_input_without_length_is_bounded_too() -> None:
    environ = make_environ("/echo", "POST", **{"wsgi.input": io.BytesIO(b"z" * 100),
                                              "wsgi.input_terminated": True})
    assert call(to_wsgi(Probe(), max_body_size=99), environ).code == 413
    environ = make_environ("/echo", "POST", **{"wsgi.input": io.BytesIO(b"z" * 100),
                                              "wsgi.input_terminated": True})
    assert call(to_wsgi(Probe(), max_body_size=100), environ).body == b"z" * 100


def test_malformed_content_length_is_a_400() -> None:
    # Not through the validator: it refuses such an environ itself.
    statuses = []
    environ = make_environ("/echo", "POST", CONTENT_LENGTH="12abc")
    body = to_wsgi(Probe())(environ, lambda status, headers: statuses.append(status))
    assert (statuses, list(body)) == (["400 Bad Request"], [b"invalid Content-Length\n"])


def test_head_sends_no_body() -> None:
    result = call(to_wsgi(Probe()), make_environ("/echo", "HEAD"))
    assert (result.code, result.body) == (200, b"")
    assert result.headers["content-length"] == "0"


def test_errors_follow_the_driver_rules(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="crosswind.adapters")
    app = to_wsgi(Probe())
    refused = call(app, make_environ("/refuse"))
    assert (refused.code, refused.body) == (403, b"no such thing here\n")
    assert call(app, make_environ("/fail-early")).code == 500
    assert call(app, make_environ("/silent")).code == 500
    # After the head went out the only honest signal is an aborted response:
    # the server sees the exception and drops the connection.
    chunks = []
    with pytest.raises(RuntimeError, match="after the head"):
        iterable = app(make_environ("/fail-late"), lambda status, headers: None)
        try:
            for chunk in iterable:
                chunks.append(chunk)
        finally:
            iterable.close()
    assert chunks == [b"partial"]


def test_response_streams_as_the_server_iterates() -> None:
    probe = Probe()
    statuses = []
    iterable = to_wsgi(probe)(make_environ("/steps"), lambda s, h: statuses.append(s))
    try:
        assert statuses == ["200 OK"]  # head known before any body was produced
        assert probe.events == []
        assert next(iterable) == b"0;"
        assert probe.events == ["write 0"]  # the handler waits for the server
        assert next(iterable) == b"1;"
        assert probe.events == ["write 0", "write 1"]
        assert list(iterable) == [b"2;"]
    finally:
        iterable.close()


def test_closing_early_runs_close_callbacks_and_stops_the_handler() -> None:
    probe = Probe()
    iterable = to_wsgi(probe)(make_environ("/watch"), lambda s, h: None)
    assert next(iterable) == b"tick;"
    assert next(iterable) == b"tick;"
    iterable.close()
    assert probe.events == ["close callback", "handler saw disconnect"]


# -- to_wsgi under real WSGI servers ------------------------------------------------


@pytest.mark.network
@pytest.mark.parametrize("server", sorted(WSGI_SERVERS))
def test_to_wsgi_under_a_real_server(server: str) -> None:
    probe = Probe()
    with WSGI_SERVERS[server](to_wsgi(probe)) as port, httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT
    ) as client:
        assert client.get("/sleep").text == "slept"
        body = bytes(range(256)) * 1000
        assert client.post("/echo", content=body).content == body
        info = client.get("/info?x=1").json()
        assert info["target"] == "/info?x=1"
        assert info["peer"][0] == "127.0.0.1"
        with client.stream("GET", "/stream") as response:
            pieces = response.iter_raw()
            assert next(pieces) == b"first;"
            probe.release.set()
            assert b"".join(pieces) == b"second"
        assert client.post("/echo", content=b"x" * 10).status_code == 200


#: Served by gunicorn in a subprocess: ``tests.adapters.test_wsgi:GUNICORN_APP``.
GUNICORN_APP = to_wsgi(Probe())


@pytest.mark.network
def test_to_wsgi_under_gunicorn_threads() -> None:
    pytest.importorskip("gunicorn")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"fd://{sock.fileno()}", "--workers", "1",
         "--worker-class", "gthread", "--threads", "2", "--no-control-socket",
         "--log-level", "warning", "--chdir", str(root), "tests.adapters.test_wsgi:GUNICORN_APP"],
        pass_fds=[sock.fileno()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    sock.close()  # gunicorn has its own copy and accepts on it
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as client:
            assert client.get("/sleep").text == "slept"
            body = bytes(range(256)) * 1000
            assert client.post("/echo", content=body).content == body
            steps = client.get("/steps")
            assert steps.text == "0;1;2;"
            assert "content-length" not in steps.headers  # it was streamed
            head = client.head("/echo")
            assert (head.status_code, head.content) == (200, b"")
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, errors.decode()


# -- WSGIContainer hosting Flask on every backend -----------------------------------


class ClosingTracker:
    """WSGI middleware that records whether the server closed each response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.closed = 0
        self.calls = 0
        self.paths: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        result = self.app(environ, start_response)
        tracker = self

        class Closing:
            def __iter__(self) -> Iterator[bytes]:
                return iter(result)

            def close(self) -> None:
                tracker.closed += 1
                tracker.paths.append(environ["PATH_INFO"])
                if hasattr(result, "close"):
                    result.close()

        return Closing()


def make_flask_app(release: threading.Event) -> flask.Flask:
    app = flask.Flask("crosswind_adapter_test")

    @app.get("/hello")
    def hello() -> str:
        return "hello from flask"

    @app.post("/echo")
    def echo() -> flask.Response:
        return flask.Response(flask.request.get_data(), mimetype="application/octet-stream")

    @app.post("/form")
    def form() -> dict[str, Any]:
        return {"form": flask.request.form.to_dict(flat=False)}

    @app.get("/environ")
    @app.get("/environ/<path:rest>")
    def environ(rest: str = "") -> dict[str, Any]:
        env = flask.request.environ
        keys = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "wsgi.url_scheme",
                "HTTP_X_MULTI", "HTTP_X_EVIL", "CONTENT_LENGTH"]
        return {
            "environ": {key: env.get(key) for key in keys},
            "path": flask.request.path,
            "rest": rest,
            "cookies": flask.request.cookies.to_dict(),
            "args": flask.request.args.to_dict(),
        }

    @app.get("/stream")
    def stream() -> flask.Response:
        def generate() -> Iterator[str]:
            yield "first;"
            yield "second" if release.wait(5.0) else "not streamed"

        return flask.Response(generate(), mimetype="text/plain")

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("flask view failed")

    return app


@pytest.fixture(scope="module", params=BACKENDS)
def flask_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, ClosingTracker, Any]]:
    release = threading.Event()
    flask_app = make_flask_app(release)
    flask_app.logger.disabled = True
    # No wsgiref validator here: it rejects werkzeug's read() of a
    # wsgi.input_terminated stream, which PEP 3333 servers may offer.
    tracker = ClosingTracker(flask_app)
    container = WSGIContainer(tracker, max_workers=4)
    with running_server(request.param, container, limits=Limits(max_body_size=100_000)) as handle:
        yield f"http://127.0.0.1:{handle.port}", tracker, release


@pytest.mark.network
def test_flask_basics(flask_server: tuple[str, ClosingTracker, Any]) -> None:
    url, tracker, _ = flask_server
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        before = tracker.calls
        response = client.get("/hello")
        assert (response.status_code, response.text) == (200, "hello from flask")
        assert response.headers["content-length"] == str(len("hello from flask"))
        head = client.head("/hello")
        assert (head.status_code, head.content) == (200, b"")
        body = bytes(range(256)) * 100
        assert client.post("/echo", content=body).content == body
        chunked = client.post("/echo", content=iter([b"ab", b"cd"]))
        assert chunked.content == b"abcd"
        assert client.post("/form", data={"a": ["1", "2"], "b": "x y"}).json() == {
            "form": {"a": ["1", "2"], "b": ["x y"]}
        }
        assert client.get("/boom").status_code == 500
        assert client.get("/missing").status_code == 404
    # Every response iterable was closed, the failed view's included.
    assert tracker.calls - before == 7
    assert tracker.closed == tracker.calls, tracker.paths


@pytest.mark.network
def test_flask_sees_a_pep3333_environ(flask_server: tuple[str, ClosingTracker, Any]) -> None:
    url, _, _ = flask_server
    port = url.rsplit(":", 1)[1]
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        response = client.get(
            "/environ/caf%C3%A9%20x?q=%C3%A9&n=1",
            headers=[("X-Multi", "a"), ("X-Multi", "b"), ("X_Evil", "spoof"),
                     ("Cookie", "one=1"), ("Cookie", "two=2")],
        )
        data = response.json()
        environ = data["environ"]
        assert environ == {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/environ/caf\xc3\xa9 x",
            "QUERY_STRING": "q=%C3%A9&n=1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "HTTP_X_MULTI": "a,b",
            "HTTP_X_EVIL": None,
            "CONTENT_LENGTH": None,
        }
        assert data["path"] == "/environ/café x"
        assert data["rest"] == "café x"
        assert data["args"] == {"q": "é", "n": "1"}
        assert data["cookies"] == {"one": "1", "two": "2"}
        other = client.get("/environ", headers={"Host": "example.com"}).json()["environ"]
        assert (other["SERVER_NAME"], other["SERVER_PORT"]) == ("example.com", "80")


@pytest.mark.network
def test_flask_stream_is_not_buffered(flask_server: tuple[str, ClosingTracker, Any]) -> None:
    url, tracker, release = flask_server
    release.clear()
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client, client.stream(
        "GET", "/stream"
    ) as response:
        pieces = response.iter_raw()
        assert next(pieces) == b"first;"
        release.set()
        assert b"".join(pieces) == b"second"


@pytest.mark.network
def test_flask_body_limit(flask_server: tuple[str, ClosingTracker, Any]) -> None:
    url, tracker, _ = flask_server
    calls = tracker.calls
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        response = client.post("/echo", content=b"x" * 100_001)
    assert response.status_code == 413
    assert tracker.calls == calls  # the WSGI app never ran


# -- both directions at once ---------------------------------------------------------


def _echo_environ(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    keys = ("PATH_INFO", "QUERY_STRING", "REQUEST_METHOD", "HTTP_X_VALUE", "CONTENT_TYPE")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"env": {k: environ.get(k) for k in keys},
                        "body": body.decode("latin-1")}).encode()]


# Validated on both sides: the environ the container builds, and the
# start_response/iteration the adapter performs.
_ROUND_TRIP = to_wsgi(WSGIContainer(wsgiref.validate.validator(_echo_environ), max_workers=2))
_latin1 = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"))


@given(
    path=_latin1.map(lambda s: "/" + s),
    query=st.text(st.sampled_from("abc=&%20+/?é"), max_size=12).map(
        lambda s: s.encode().decode("latin-1")
    ),
    value=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
    body=st.binary(max_size=300),
)
def test_environ_survives_crosswind_in_between(path: str, query: str, value: str,
                                               body: bytes) -> None:
    """WSGI server -> to_wsgi -> Exchange -> WSGIContainer -> WSGI app: same request."""
    environ = make_environ(path, "POST", body, QUERY_STRING=query, HTTP_X_VALUE=value,
                           CONTENT_TYPE="text/plain")
    result = call(_ROUND_TRIP, environ)
    assert result.code == 200
    echoed = json.loads(result.body)
    assert echoed["env"] == {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "POST",
                             "HTTP_X_VALUE": value, "CONTENT_TYPE": "text/plain"}
    assert echoed["body"].encode("latin-1") == body


def test_container_validates_worker_count() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        WSGIContainer(_echo_environ, max_workers=0)


def test_wsgi_app_without_start_response_is_a_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)

    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return [b"no head"]

    assert call(to_wsgi(WSGIContainer(broken)), make_environ("/")).code == 500


def test_start_response_exc_info_replaces_head_before_output() -> None:
    def recovering(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late failure")
        except ValueError:
            import sys

            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"recovered"]

    result = call(to_wsgi(WSGIContainer(recovering)), make_environ("/"))
    assert (result.status, result.body) == ("500 Oops", b"recovered")

