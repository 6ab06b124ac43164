"""Clients that hog, trickle, vanish or get refused mid-upload, on every backend.

Each test is about what a user of the server observes: who gets answered,
with what, and that nobody waits for a timeout that should not apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from crosswind.backends._common import ServerHandle
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.limits import Limits
from crosswind.web import Application, RequestHandler

from tests.support.apps import BasicApp, wait_for_event
from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(90)]

TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def read_response(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    """Everything the server sends until it closes; a reset raises."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_answer(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    """What the server sent to a client that was still sending, up to its close or a reset.

    The server answers such a client (a 408) and closes without reading
    on, so a byte the client sent in the meantime, however soon it
    stopped, draws a reset from the server's kernel.  The reset comes
    after the answer, which the kernel hands over first: the client has
    been told, and that is what is read here.
    """
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def trickle(sock: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Send *data* a byte at a time, one every *every* seconds, until answered, refused or told to stop.

    It stops once the server has said something: a byte sent after the
    server closed would draw a reset, and a reset discards the answer
    before the test could read it.
    """
    for byte in data:
        if stop.wait(every):
            return
        try:
            if select.select([sock], [], [], 0)[0]:
                return
            sock.send(bytes([byte]))
        except OSError:
            return


class Tricklers:
    """Clients that each send *first* at once, then trickle *rest* a byte every *every* seconds.

    Leaving the block stops them and closes their connections.
    """

    def __init__(self, port: int, first: bytes, rest: bytes, every: float) -> None:
        self.port, self.first, self.rest, self.every = port, first, rest, every
        self.sockets: list[socket.socket] = []
        self._senders: list[threading.Thread] = []
        self._stop = threading.Event()

    def add(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        self.sockets.append(sock)
        if self.first:
            sock.sendall(self.first)
        sender = threading.Thread(target=trickle, args=(sock, self.rest, self.every, self._stop))
        sender.start()
        self._senders.append(sender)
        return sock

    def __enter__(self) -> Tricklers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for sock in self.sockets:
            sock.close()
        for sender in self._senders:
            sender.join(TIMEOUT)


def normal_request_is_served_promptly(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        started = time.monotonic()
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b"hello world"
        # Seconds, not the 60 s header timeout the clients in the way have.
        assert time.monotonic() - started < 5.0
    finally:
        conn.close()


# -- slow bodies ----------------------------------------------------------------------


def test_a_body_below_the_rate_floor_is_answered_408_without_waiting_for_body_timeout(
    backend: str,
) -> None:
    limits = Limits(min_body_rate=200, body_rate_grace=0.5, body_timeout=60)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    with (
        running_server(backend, BasicApp(), limits=limits) as handle,
        Tricklers(handle.port, head, b"x" * 1000, 0.1) as slow,
    ):
        started = time.monotonic()
        response = read_answer(slow.add())
        took = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408 ")
    assert response.endswith(b"the request body arrived too slowly\n")
    # 10 bytes a second falls behind 200 a second as soon as the grace ends.
    assert took < 5.0


def test_an_honest_slow_upload_above_the_floor_gets_through(backend: str) -> None:
    limits = Limits(min_body_rate=200, body_rate_grace=0.5)
    body = b"y" * 2000
    with (
        running_server(backend, BasicApp(), limits=limits) as handle,
        socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as client,
    ):
        client.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body))
        # 1,000 bytes a second, in pieces, for two seconds: five times the floor.
        for start in range(0, len(body), 100):
            client.sendall(body[start : start + 100])
            time.sleep(0.1)
        response = read_response(client)
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(body)


def test_a_body_past_its_deadline_is_answered_408_however_steady(backend: str) -> None:
    limits = Limits(min_body_rate=1, body_rate_grace=0.1, body_deadline=1.0)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    # 50 bytes a second is far above the floor of 1, but never ends.
    with (
        running_server(backend, BasicApp(), limits=limits) as handle,
        Tricklers(handle.port, head, b"z" * 5000, 0.02) as steady,
    ):
        response = read_answer(steady.add())
    assert response.startswith(b"HTTP/1.1 408 ")
    assert response.endswith(b"the request body took too long\n")


# -- slowloris ------------------------------------------------------------------------


def test_trickling_heads_cannot_lock_a_client_out_when_every_slot_is_taken(backend: str) -> None:
    limits = Limits(max_connections=4, header_timeout=60)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    with (
        running_server(backend, BasicApp(), limits=limits) as handle,
        Tricklers(handle.port, b"", head, 0.2) as tricklers,
    ):
        for _ in range(limits.max_connections):
            tricklers.add()
            time.sleep(0.1)  # each one is older than the next
        time.sleep(1.0)  # past the second a connection may wait before it may be shed
        # Every slot holds a client that is still sending its head: a normal
        # client is still served, at once, not after 60 s.
        for _ in range(3):
            normal_request_is_served_promptly(handle.port)
        # The oldest trickler made room first, and was told why.
        assert read_answer(tricklers.sockets[0]).startswith(b"HTTP/1.1 408 ")


def test_trickling_bodies_are_shed_for_a_client_when_every_slot_is_taken(backend: str) -> None:
    # The grace lets a slow body go on while the server has room; a full
    # server sheds bodies already below the floor to let a new client in.
    limits = Limits(max_connections=3, body_rate_grace=60, body_timeout=60)
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
    with (
        running_server(backend, BasicApp(), limits=limits) as handle,
        Tricklers(handle.port, head, b"b" * 100, 0.5) as tricklers,
    ):
        for _ in range(limits.max_connections):
            tricklers.add()
        time.sleep(1.2)
        normal_request_is_served_promptly(handle.port)
        # One of them made room (which one depends on when each body began),
        # and was told why.
        ready, _, _ = select.select(tricklers.sockets, [], [], TIMEOUT)
        assert ready, "no trickler was shed"
        assert read_answer(ready[0]).startswith(b"HTTP/1.1 408 ")


# -- refusing an upload ---------------------------------------------------------------


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_an_upload_refused_midway_gets_its_413_not_a_reset(backend: str, framing: str) -> None:
    limits = Limits(max_body_size=64 * 1024)
    piece = b"u" * 16384
    if framing == "chunked":
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        body = (b"%x\r\n%s\r\n" % (len(piece), piece)) * 256 + b"0\r\n\r\n"
    else:
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (256 * len(piece))
        body = piece * 256
    with running_server(backend, BasicApp(), limits=limits) as handle:
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as client:
                sending = threading.Thread(target=_send_ignoring_errors, args=(client, head + body))
                sending.start()
                try:
                    # A reset would raise here and lose the answer.
                    response = read_response(client)
                finally:
                    sending.join(TIMEOUT)
            assert response.startswith(b"HTTP/1.1 413 "), response[:100]


def _send_ignoring_errors(sock: socket.socket, data: bytes) -> None:
    # The server stops reading once its lingering is over.
    with contextlib.suppress(OSError):
        sock.sendall(data)


# -- clients that leave ---------------------------------------------------------------


def leave_a_long_poll(port: int, heard: list) -> float:
    """Ask for ``/poll``, hang up once the server waits, then wait until *heard* fills.

    Returns when the client left, in ``time.monotonic()`` terms.
    """
    client = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    client.sendall(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)  # the handler is waiting now, writing nothing
    left = time.monotonic()
    client.close()
    deadline = left + TIMEOUT
    while not heard and time.monotonic() < deadline:
        time.sleep(0.01)
    return left


def _long_poll_app(closed: list[float]) -> Application:
    class LongPoll(RequestHandler):
        async def get(self) -> None:
            self.gone = threading.Event()
            await wait_for_event(self.gone, TIMEOUT)
            self.write("nobody left")

        def on_connection_close(self) -> None:
            closed.append(time.monotonic())
            self.gone.set()

    return Application([(r"/poll", LongPoll)])


def test_a_client_leaving_a_long_poll_is_noticed_while_the_handler_waits(backend: str) -> None:
    closed: list[float] = []
    with running_server(backend, _long_poll_app(closed)) as handle:
        left = leave_a_long_poll(handle.port, closed)
    assert closed, "on_connection_close never ran"
    assert closed[0] - left < 1.0


def test_a_flask_style_view_hears_its_client_leave_a_long_poll(backend: str) -> None:
    from crosswind.app import App, request

    app = App(__name__)
    closed: list[float] = []

    @app.get("/poll")
    async def poll() -> str:
        gone = threading.Event()

        def left() -> None:
            closed.append(time.monotonic())
            gone.set()

        request.on_disconnect(left)
        await wait_for_event(gone, TIMEOUT)
        return "nobody left"

    with running_server(backend, app) as handle:
        left_at = leave_a_long_poll(handle.port, closed)
    assert closed, "the view never heard that its client left"
    assert closed[0] - left_at < 1.0


def test_on_disconnect_needs_a_connection() -> None:
    from crosswind.app import App, request

    app = App(__name__)
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="no connection"):
        request.on_disconnect(lambda: None)


@pytest.mark.parametrize("runtime", ["asyncio", "trio"])
def test_a_hosted_asgi_app_waiting_on_receive_gets_http_disconnect(runtime: str) -> None:
    # The ASGI container needs an event loop, so asyncio and trio only.
    from crosswind.adapters import ASGIContainer

    seen: list[tuple[str, float]] = []

    async def long_poll(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        assert (await receive())["type"] == "http.request"
        message = await receive()  # nothing more comes but the client leaving
        seen.append((message["type"], time.monotonic()))

    with running_server(runtime, ASGIContainer(long_poll)) as handle:
        left = leave_a_long_poll(handle.port, seen)
    assert seen and seen[0][0] == "http.disconnect"
    assert seen[0][1] - left < 1.0


def test_a_kept_alive_connection_stays_served_after_a_watched_request(backend: str) -> None:
    # Watching for the client to leave must take nothing from the next request.
    class Quick(RequestHandler):
        def get(self) -> None:
            self.write("quick")

        def on_connection_close(self) -> None:
            pass

    app = Application([(r"/quick", Quick)])
    with running_server(backend, app) as handle:
        conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=TIMEOUT)
        try:
            for _ in range(20):
                conn.request("GET", "/quick")
                assert conn.getresponse().read() == b"quick"
        finally:
            conn.close()


# -- graceful shutdown under load -----------------------------------------------------


def test_shutdown_under_load_answers_every_request_sent_before_it(backend: str) -> None:
    # A load client in its own process keeps 32 connections busy with
    # keep-alive requests; the server is told to shut down in the middle.
    with running_server(backend, BasicApp()) as handle:
        load = subprocess.Popen(
            [sys.executable, "-m", "tests.support.load_client", str(handle.port), "32", "20"],
            stdout=subprocess.PIPE, cwd=ROOT,
        )
        try:
            time.sleep(2.0)
            requested = time.monotonic()
            handle.shutdown()
            out, _ = load.communicate(timeout=30)
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()
    result = json.loads(out)
    assert result["answered"] > 100
    # A request sent after the shutdown began may meet a connection closing
    # as idle; one the server could have read before then must be answered.
    assert [t for t in result["lost"] if t < requested] == []


def test_a_client_in_the_backlog_when_the_shutdown_starts_is_answered(backend: str) -> None:
    """A client the kernel connected before the shutdown, not yet accepted, gets its answer.

    The first request's handler connects a second client and sends its
    request while the server cannot accept: on asyncio, after the shutdown
    has started and its task is queued ahead of the next accept (the
    handler holds the loop); elsewhere just before it starts (trio's loop
    and the threads' accept thread may win the race, and accept it as
    usual).  Closing the listener with the client in its backlog would
    reset it, its request lost.
    """
    handles: list[ServerHandle] = []
    late: list[socket.socket] = []

    def connect_late() -> None:
        client = socket.create_connection(("127.0.0.1", handles[0].port), timeout=TIMEOUT)
        late.append(client)
        client.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")

    class StartsTheShutdown:
        async def handle(self, exchange: Exchange) -> None:
            if exchange.path == "/stop" and backend == "asyncio":
                handles[0].shutdown()
                await asyncio.sleep(0)  # the shutdown's task is created, its first step not run
                connect_late()
            elif exchange.path == "/stop":
                connect_late()
                handles[0].shutdown()
            await exchange.respond(200, [(b"Content-Type", b"text/plain")], exchange.path.encode())

    with running_server(backend, StartsTheShutdown()) as handle:
        handles.append(handle)
        with socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as first:
            first.sendall(b"GET /stop HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(first).endswith(b"/stop")
        with late[0]:
            answer = read_response(late[0])
    # Answered, and then closed by the shutdown (read_response reads to the end).
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"/late")


# -- shutdown timeout -----------------------------------------------------------------


def test_a_blocked_handler_does_not_stretch_the_shutdown_timeout_on_threads() -> None:
    class Blocks:
        async def handle(self, exchange: Exchange) -> None:
            time.sleep(20)  # a blocking call no shutdown can interrupt

    stopped: list[float] = []
    done = threading.Event()
    client = socket.socket()

    def run(handle_box: list[Callable[[], None]]) -> None:
        from crosswind.backends.threads import serve

        def started(handle: object) -> None:
            handle_box.append(handle)  # type: ignore[arg-type]
            done.set()

        serve(Blocks(), "127.0.0.1", 0, started=started, handle_signals=False,
              shutdown_timeout=1.0)
        stopped.append(time.monotonic())

    box: list = []
    server = threading.Thread(target=run, args=(box,), daemon=True)
    server.start()
    assert done.wait(TIMEOUT)
    handle = box[0]
    try:
        client.settimeout(TIMEOUT)
        client.connect(("127.0.0.1", handle.port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        requested = time.monotonic()
        handle.shutdown()
        server.join(TIMEOUT)
    finally:
        client.close()
    assert stopped
    # The timeout, then a short grace for workers blocked in I/O; asyncio
    # and trio take about as long.
    assert stopped[0] - requested < 1.9
