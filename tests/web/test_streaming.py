"""Streamed request bodies, detach(), connection-close notice, FallbackHandler,
route registration, listen() and autoreload."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import httpx
import pytest
from crosswind.testing import Client
from crosswind.web import (
    Application,
    FallbackHandler,
    RequestHandler,
    RouteRegistry,
    autoreload,
    stream_request_body,
)

from tests.support.servers import BACKENDS, running_server

TIMEOUT = 5.0


def make_app(handlers, **settings) -> Application:
    settings.setdefault("clock", lambda: 1_700_000_000.0)
    settings.setdefault("token_source", lambda n: b"\x02" * n)
    return Application(handlers, **settings)


# -- stream_request_body ---------------------------------------------------------


@stream_request_body
class Collect(RequestHandler):
    def prepare(self):
        self.events = ["prepare:" + str(self.request.body == b"")]
        limit = self.get_query_argument("limit", None)
        if limit:
            self.request.connection.set_max_body_size(int(limit))

    async def data_received(self, chunk):
        self.events.append(chunk.decode())

    def put(self):
        self.write({"events": self.events, "args": self.request.body_arguments})

    post = put


def chunks_request(parts: list[bytes], path: str = "/") -> list[bytes]:
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {sum(map(len, parts))}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    ).encode()
    return [head, *parts]


def test_stream_request_body_runs_prepare_first_and_feeds_chunks():
    client = Client(make_app([(r"/", Collect)]))
    raw = client.raw(chunks_request([b"a=1", b"&b=2"]))
    assert raw.startswith(b"HTTP/1.1 200 ")
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert body == b'{"events": ["prepare:True", "a=1", "&b=2"], "args": {}}'


def test_streamed_chunked_body():
    client = Client(make_app([(r"/", Collect)]))
    raw = client.raw(
        [
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"3\r\nabc\r\n",
            b"2\r\nde\r\n0\r\n\r\n",
        ]
    )
    assert raw.split(b"\r\n\r\n", 1)[1].endswith(b'"abc", "de"], "args": {}}')


def test_per_handler_body_limit_answers_413():
    client = Client(make_app([(r"/", Collect)]))
    raw = client.raw(chunks_request([b"x" * 10, b"y" * 10], "/?limit=12"))
    assert raw.startswith(b"HTTP/1.1 413 ")


def test_stream_request_body_needs_a_handler_class():
    with pytest.raises(TypeError):
        stream_request_body(object)


def test_non_streaming_body_over_the_limit_is_refused_before_the_handler():
    calls = []

    class Plain(RequestHandler):
        def post(self):
            calls.append(1)

    from crosswind.protocol.limits import Limits

    client = Client(make_app([(r"/", Plain)]), limits=Limits(max_body_size=5))
    assert client.post("/", data=b"0123456789").status_code == 413
    assert calls == []


@pytest.mark.network
@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_large_body_over_a_real_connection(backend):
    @stream_request_body
    class Count(RequestHandler):
        def prepare(self):
            self.size = 0
            self.pieces = 0

        def data_received(self, chunk):
            self.size += len(chunk)
            self.pieces += 1

        def post(self):
            self.write({"size": self.size, "several": self.pieces > 1})

    body = b"z" * (3 * 1024 * 1024)
    with running_server(backend, make_app([(r"/", Count)])) as handle:
        response = httpx.post(f"http://127.0.0.1:{handle.port}/", content=body, timeout=TIMEOUT)
    assert response.json() == {"size": len(body), "several": True}


@pytest.mark.network
def test_streamed_body_is_read_only_as_fast_as_the_handler_takes_it():
    total = 64 * 1024 * 1024
    gate = threading.Event()
    started = threading.Event()

    @stream_request_body
    class Gated(RequestHandler):
        def prepare(self):
            self.size = 0

        async def data_received(self, chunk):
            started.set()
            while not gate.is_set():
                await asyncio.sleep(0.005)
            self.size += len(chunk)

        def post(self):
            self.write({"size": self.size})

    sent = [0]
    with running_server("asyncio", make_app([(r"/", Gated)])) as handle:
        sock = socket.create_connection(("127.0.0.1", handle.port), timeout=30)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total)

        def pump() -> None:
            piece = b"x" * 65536
            while sent[0] < total:
                sock.sendall(piece)
                sent[0] += len(piece)

        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        assert started.wait(TIMEOUT)
        time.sleep(0.5)
        # The handler holds the first chunk: the server stops reading, the
        # kernel buffers fill, and the client cannot send the rest.
        assert sent[0] < total // 2
        gate.set()
        sender.join(30)
        response = b""
        while not response.endswith(b"}"):
            response += sock.recv(4096)
        sock.close()
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b'{"size": %d}' % total)


# -- detach ----------------------------------------------------------------------


class Echo(RequestHandler):
    async def get(self):
        stream = self.detach()
        await stream.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n")
        while True:
            line = await stream.read_until(b"\n")
            if line.strip() == b"quit":
                break
            await stream.write(b"echo:" + line)
        await stream.write(b"bye\n")
        await stream.close()


def test_detach_in_memory_reads_bytes_sent_behind_the_head():
    client = Client(make_app([(r"/", Echo)]))
    raw = client.raw(
        [b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\nfirst\n", b"second\nquit\n"]
    )
    assert raw == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\n"
        b"echo:first\necho:second\nbye\n"
    )


@pytest.mark.network
@pytest.mark.parametrize("backend", BACKENDS)
def test_detach_over_a_real_connection(backend):
    with (
        running_server(backend, make_app([(r"/", Echo)])) as handle,
        socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        assert received.startswith(b"HTTP/1.1 101 ")
        sock.sendall(b"hello\n")
        received = b""
        while not received.endswith(b"\n"):
            received += sock.recv(4096)
        assert received == b"echo:hello\n"
        sock.sendall(b"quit\n")
        rest = b""
        while chunk := sock.recv(4096):
            rest += chunk
        assert rest == b"bye\n"


def test_detach_after_the_head_was_sent_fails():
    errors = []

    class Late(RequestHandler):
        async def get(self):
            await self.flush()
            try:
                self.detach()
            except Exception as exc:
                errors.append(type(exc).__name__)

    Client(make_app([(r"/", Late)])).get("/")
    assert errors == ["LocalProtocolError"]


def test_iostream_reads():
    from crosswind._sync import run_sync
    from crosswind.web.iostream import DetachedIOStream, StreamClosedError, UnsatisfiableReadError

    class Feed:
        def __init__(self, *parts):
            self.parts = list(parts)
            self.closed = False

        async def receive(self):
            return self.parts.pop(0) if self.parts else b""

    async def scenario():
        stream = DetachedIOStream(Feed(b"abc", b"def\r\nxyz", b"12345"))
        assert await stream.read_bytes(2) == b"ab"
        assert await stream.read_until(b"\r\n") == b"cdef\r\n"
        assert await stream.read_bytes(10, partial=True) == b"xyz"
        assert await stream.read_until_regex(rb"\d{3}") == b"123"
        assert await stream.read_until_close() == b"45"
        with pytest.raises(StreamClosedError):
            await stream.read_bytes(1)
        limited = DetachedIOStream(Feed(b"aaaaaaaa"))
        with pytest.raises(UnsatisfiableReadError):
            await limited.read_until(b"\n", max_bytes=4)

    run_sync(scenario())


# -- the client going away ---------------------------------------------------------


@pytest.mark.network
def test_on_connection_close_is_called_when_the_client_leaves():
    closed = threading.Event()
    entered = threading.Event()

    class Slow(RequestHandler):
        async def get(self):
            self.gone = asyncio.Event()
            entered.set()
            await asyncio.wait_for(self.gone.wait(), TIMEOUT)

        def on_connection_close(self):
            closed.set()
            self.gone.set()

    with running_server("asyncio", make_app([(r"/", Slow)])) as handle:
        sock = socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert entered.wait(TIMEOUT)
        # An abortive close (RST): the asyncio backend treats a bare FIN as a
        # half-close and keeps the connection open for the response.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        assert closed.wait(TIMEOUT)


# -- FallbackHandler -----------------------------------------------------------------


class Native(RequestHandler):
    def get(self):
        self.write("native")


def wsgi_app(environ, start_response):
    body = f"wsgi {environ['PATH_INFO']} {environ['wsgi.input'].read().decode()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def asgi_app(scope, receive, send):
    message = await receive()
    await send(
        {"type": "http.response.start", "status": 201, "headers": [(b"content-type", b"text/plain")]}
    )
    await send({"type": "http.response.body", "body": b"asgi " + message.get("body", b"")})


def test_fallback_to_a_crosswind_application():
    inner = make_app([(r"/inner", Native)])
    client = Client(make_app([(r"/native", Native), (r".*", FallbackHandler, {"fallback": inner})]))
    assert client.get("/native").text == "native"
    assert client.get("/inner").text == "native"
    assert client.get("/elsewhere").status_code == 404


@pytest.mark.network
@pytest.mark.parametrize("fallback,expected", [(wsgi_app, (200, "wsgi /x body")), (asgi_app, (201, "asgi body"))])
def test_fallback_to_wsgi_and_asgi(fallback, expected):
    app = make_app([(r"/native", Native), (r".*", FallbackHandler, {"fallback": fallback})])
    with running_server("asyncio", app) as handle:
        base = f"http://127.0.0.1:{handle.port}"
        assert httpx.get(base + "/native", timeout=TIMEOUT).text == "native"
        response = httpx.post(base + "/x", content=b"body", timeout=TIMEOUT)
    assert (response.status_code, response.text) == expected


# -- route() and make_app() ------------------------------------------------------------


registry = RouteRegistry()


@registry.route(r"/hello/(\w+)", name="hello")
class RegisteredHello(RequestHandler):
    def get(self, name):
        self.write("hello " + name + " " + self.reverse_url("hello", "x"))


@registry.route(r"/only", host=r"api\.test", kwargs={"word": "api"})
class RegisteredHost(RequestHandler):
    def initialize(self, word):
        self.word = word

    def get(self):
        self.write(self.word)


def test_make_app_builds_routes_from_registered_modules():
    app = registry.make_app([sys.modules[__name__]], {"clock": lambda: 0.0}, debug=False)
    client = Client(app)
    assert client.get("/hello/bob").text == "hello bob /hello/x"
    assert client.get("/only").status_code == 404
    assert client.get("/only", headers={"Host": "api.test"}).text == "api"


def test_make_app_imports_modules_by_name(tmp_path, monkeypatch):
    package = tmp_path / "regpkg_web"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "views.py").write_text(
        textwrap.dedent(
            """
            from crosswind.web import RequestHandler, route

            @route(r"/from-module")
            class FromModule(RequestHandler):
                def get(self):
                    self.write("imported")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from crosswind.web import make_app

    client = Client(make_app(["regpkg_web.views"], {"cookie_secret": "x"}))
    assert client.get("/from-module").text == "imported"
    assert client.app.settings["cookie_secret"] == "x"
    # Routes of modules not listed stay out.
    assert Client(make_app([types.ModuleType("empty")])).get("/from-module").status_code == 404


# -- listen() and autoreload --------------------------------------------------------------


@pytest.mark.network
@pytest.mark.parametrize("backend", BACKENDS)
def test_listen_serves_on_the_chosen_backend(backend):
    app = make_app([(r"/", Native)])
    handles = []
    ready = threading.Event()

    def started(handle):
        handles.append(handle)
        ready.set()

    thread = threading.Thread(
        target=app.listen,
        args=(0,),
        kwargs={"backend": backend, "started": started, "handle_signals": False},
        daemon=True,
    )
    thread.start()
    assert ready.wait(TIMEOUT)
    try:
        assert httpx.get(f"http://127.0.0.1:{handles[0].port}/", timeout=TIMEOUT).text == "native"
    finally:
        handles[0].shutdown()
        thread.join(TIMEOUT)


def test_listen_with_unknown_backend_fails():
    from crosswind.serving.errors import CLIError

    with pytest.raises(CLIError, match="unknown backend"):
        make_app([]).listen(0, backend="no-such-backend")


def test_snapshot_and_changed_files(tmp_path):
    first = tmp_path / "a.py"
    first.write_text("x = 1")
    before = autoreload.snapshot([str(first), str(tmp_path / "missing.py")])
    assert list(before) == [str(first)]
    os.utime(first, (1, 1))
    second = tmp_path / "b.py"
    second.write_text("")
    after = autoreload.snapshot([str(first), str(second)])
    assert autoreload.changed_files(before, after) == sorted([str(first), str(second)])
    assert autoreload.changed_files(after, after) == []
    assert str(Path(autoreload.__file__).resolve()) in autoreload.module_files()


def test_reloader_child_just_serves(monkeypatch):
    monkeypatch.setenv(autoreload.CHILD_ENV, "1")
    calls = []
    autoreload.run_with_reloader(lambda: calls.append("served"))
    assert calls == ["served"]


@pytest.mark.timeout(60)
def test_reloader_restarts_the_server_when_a_module_changes(tmp_path):
    watched = tmp_path / "watched_mod.py"
    watched.write_text("VALUE = 1\n")
    pids = tmp_path / "pids.txt"
    script = tmp_path / "serve.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, sys, time
            sys.path.insert(0, {str(tmp_path)!r})
            import watched_mod
            from crosswind.web.autoreload import run_with_reloader

            def serve():
                with open({str(pids)!r}, "a") as f:
                    f.write(f"{{os.getpid()}}\\n")
                time.sleep(60)

            run_with_reloader(serve, interval=0.05)
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != autoreload.CHILD_ENV}
    parent = subprocess.Popen([sys.executable, str(script)], env=env)

    def started() -> list[str]:
        return pids.read_text().split() if pids.exists() else []

    try:
        deadline = time.monotonic() + 20
        while len(started()) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(started()) == 1
        watched.write_text("VALUE = 2\n")
        os.utime(watched, (time.time() + 5, time.time() + 5))
        while len(started()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        first, second = started()[:2]
        assert first != second and str(parent.pid) not in (first, second)
    finally:
        parent.terminate()
        parent.wait(20)
    # The supervisor took its child down with it.
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(int(started()[-1]), 0)
