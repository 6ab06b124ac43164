"""HTTP/2 over real sockets on the asyncio and trio backends: h2c by prior knowledge and TLS by ALPN.

The client is h2's own client side over a blocking socket, so every frame the
server sends is checked by an independent HTTP/2 implementation.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crosswind.app
import crosswind.web
import pytest
import trustme
from crosswind.adapters import ASGIContainer, WSGIContainer
from crosswind.backends._common import make_ssl_context
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.limits import Limits
from h2 import events as h2events
from h2.config import H2Configuration
from h2.connection import ConnectionInputs, ConnectionState, H2Connection
from h2.errors import ErrorCodes
from h2.settings import SettingCodes

from tests.support.apps import BasicApp, GateApp
from tests.support.servers import running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

H2_BACKENDS = ["asyncio", "trio"]
TIMEOUT = 5.0


@dataclass
class Response:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: int | None = None

    @property
    def status(self) -> int:
        return int(dict(self.headers)[b":status"])

    def field(self, name: bytes) -> bytes | None:
        return dict(self.headers).get(name)


class Client:
    """An HTTP/2 client on h2 over a blocking socket.

    :param acknowledge: give the server's DATA back to the windows as it is read.
    :param settings: the client's SETTINGS.
    """

    def __init__(
        self,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        acknowledge: bool = True,
        settings: dict[int, int] | None = None,
        validate: bool = True,
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2"
        self.sock = sock
        self.conn = H2Connection(
            H2Configuration(
                client_side=True, header_encoding=None,
                validate_outbound_headers=validate, normalize_outbound_headers=validate,
            )
        )
        # h2 refuses every frame after a GOAWAY; a graceful one is followed by
        # the answers to the streams in flight, which this client reads.
        machine = self.conn.state_machine
        table = dict(machine._transitions)
        for state in (ConnectionState.IDLE, ConnectionState.CLIENT_OPEN):
            table[state, ConnectionInputs.RECV_GOAWAY] = (None, state)
        machine._transitions = table
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.acknowledge = acknowledge
        self.responses: dict[int, Response] = {}
        self.goaway: h2events.ConnectionTerminated | None = None
        self.closed = False
        self.flush()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
        *,
        end: bool = True,
    ) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        fields = [
            (b":method", method.encode()), (b":scheme", b"http"),
            (b":authority", b"localhost"), (b":path", path.encode()), *(headers or []),
        ]
        self.conn.send_headers(stream_id, fields, end_stream=end and body is None)
        self.responses[stream_id] = Response()
        if body is not None:
            self.send_body(stream_id, body, end=end)
        self.flush()
        return stream_id

    def send_body(self, stream_id: int, body: bytes, *, end: bool) -> None:
        """Send *body*, waiting for the server's windows as a client must."""
        view = memoryview(body)
        while True:
            window = min(self.conn.local_flow_control_window(stream_id),
                         self.conn.max_outbound_frame_size)
            size = min(window, len(view))
            if size or not view:
                self.conn.send_data(stream_id, bytes(view[:size]), end_stream=end and size == len(view))
                view = view[size:]
                self.flush()
                if not view:
                    return
            else:
                self.read_once()

    def read_once(self, timeout: float = TIMEOUT) -> None:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(data):
            self._on(event)
        self.flush()

    def _on(self, event: h2events.Event) -> None:
        if isinstance(event, h2events.ResponseReceived):
            self.responses[event.stream_id].headers = list(event.headers)
        elif isinstance(event, h2events.DataReceived):
            self.responses[event.stream_id].body += event.data
            if self.acknowledge:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2events.StreamEnded):
            self.responses[event.stream_id].ended = True
        elif isinstance(event, h2events.StreamReset):
            self.responses[event.stream_id].reset = event.error_code
        elif isinstance(event, h2events.ConnectionTerminated):
            self.goaway = event

    def wait(self, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if self.closed:
                raise AssertionError("the server closed the connection")
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting")
            with contextlib.suppress(TimeoutError):
                self.read_once(left)

    def response(self, stream_id: int) -> Response:
        response = self.responses[stream_id]
        self.wait(lambda: response.ended or response.reset is not None)
        return response

    def wait_closed(self, timeout: float = TIMEOUT) -> None:
        """Read until the server closes, or until its GOAWAY leaves nothing to wait for.

        A client closes its side once the GOAWAY came and its streams are
        answered, as curl and browsers do; the server waits for that.
        """
        end = time.monotonic() + timeout
        while not self.closed and time.monotonic() < end:
            if self.goaway is not None and all(
                r.ended or r.reset is not None for r in self.responses.values()
            ):
                self.closed = True
                break
            with contextlib.suppress(TimeoutError, ConnectionError):
                self.read_once(end - time.monotonic())
        assert self.closed
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


# -- servers -------------------------------------------------------------------------


@dataclass
class TLS:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("h2tls") / "server.pem"
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(path))
    return ca, path


def _tls(tls_files: tuple[trustme.CA, Path], alpn: list[str]) -> TLS:
    ca, path = tls_files
    client = ssl.create_default_context()
    ca.configure_trust(client)
    client.set_alpn_protocols(alpn)
    return TLS(make_ssl_context(str(path)), client)


@contextlib.contextmanager
def h2_server(
    backend: str, app: Any, tls: TLS | None = None, **options: Any
) -> Iterator[Callable[..., Client]]:
    """Serve *app*; yield a function that connects a client to it."""
    if tls is not None:
        options["ssl_context"] = tls.server
    else:
        options["http2"] = True
    with running_server(backend, app, **options) as handle:
        clients: list[Client] = []

        def connect(**settings: Any) -> Client:
            client = Client(handle.port, tls=None if tls is None else tls.client, **settings)
            clients.append(client)
            return client

        connect.handle = handle  # type: ignore[attr-defined]
        try:
            yield connect
        finally:
            for client in clients:
                client.close()


@pytest.fixture(params=H2_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["h2c", "tls"])
def secure(request: pytest.FixtureRequest, tls_files: tuple[trustme.CA, Path]) -> TLS | None:
    return _tls(tls_files, ["h2", "http/1.1"]) if request.param == "tls" else None


# -- both API styles, and hosted applications -------------------------------------------


def flask_style() -> Any:
    app = crosswind.app.App(__name__)

    @app.route("/", methods=["GET", "POST"])
    def index() -> Any:
        request = crosswind.app.request
        return f"{request.environ['SERVER_PROTOCOL']} {len(request.get_data())}"

    return app


def tornado_style() -> Any:
    class Hello(crosswind.web.RequestHandler):
        def get(self) -> None:
            self.write(f"{self.request.version} 0")

        def post(self) -> None:
            self.write(f"{self.request.version} {len(self.request.body)}")

    return crosswind.web.Application([(r"/", Hello)])


def asgi_hosted() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"connection", b"keep-alive")]})
        await send({"type": "http.response.body", "body": f"{scope['http_version']} {size}".encode()})

    return ASGIContainer(app)


def wsgi_hosted() -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        size = len(environ["wsgi.input"].read())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{environ['SERVER_PROTOCOL']} {size}".encode()]

    return WSGIContainer(app)


APPS = {
    "flask-style": (flask_style, "HTTP/2"),
    "tornado-style": (tornado_style, "HTTP/2"),
    "asgi": (asgi_hosted, "2"),
    "wsgi": (wsgi_hosted, "HTTP/2"),
}


@pytest.mark.parametrize("style", list(APPS))
def test_applications_answer_over_http2(backend: str, secure: TLS | None, style: str) -> None:
    make_app, version = APPS[style]
    with h2_server(backend, make_app(), secure) as connect:
        client = connect()
        get = client.request("/")
        post = client.request("/", "POST", body=b"x" * 70000)
        response = client.response(get)
        assert response.status == 200
        assert bytes(response.body) == f"{version} 0".encode()
        assert response.field(b"server") == b"crosswind"
        assert response.field(b"date") is not None
        assert response.field(b"connection") is None  # forbidden in HTTP/2, dropped
        assert bytes(client.response(post).body) == f"{version} 70000".encode()


def test_http11_still_served_beside_http2(backend: str, tls_files: tuple[trustme.CA, Path]) -> None:
    with h2_server(backend, BasicApp()) as connect:
        port = connect.handle.port  # type: ignore[attr-defined]
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"hello world")
    tls = _tls(tls_files, ["http/1.1"])
    with running_server(backend, BasicApp(), ssl_context=tls.server) as handle, socket.create_connection(
        ("127.0.0.1", handle.port), timeout=TIMEOUT
    ) as raw, tls.client.wrap_socket(raw, server_hostname="localhost") as sock:
        assert sock.selected_alpn_protocol() == "http/1.1"
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ")


def test_cleartext_http2_needs_the_option(backend: str) -> None:
    with running_server(backend, BasicApp()) as handle:
        client = Client(handle.port)
        client.wait_closed()  # answered as a bad HTTP/1.1 request, then closed
        client.close()


def test_threads_backend_refuses_http2() -> None:
    with pytest.raises(ValueError, match="HTTP/1.1 only"), running_server(
        "threads", BasicApp(), http2=True
    ):
        pass


# -- many streams at once -------------------------------------------------------------


class MeetingApp:
    """``/meet/N`` answers once N streams have arrived: it cannot finish unless they run together."""

    def __init__(self) -> None:
        self.arrived = 0

    async def handle(self, exchange: Exchange) -> None:
        goal = int(exchange.path.rsplit("/", 1)[1])
        self.arrived += 1
        body = await exchange.read_body()
        for _ in range(2000):
            if self.arrived >= goal:
                break
            await _sleep(0.005)
        await exchange.respond(200, [(b"content-type", b"text/plain")], body[::-1])


async def _sleep(seconds: float) -> None:
    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio

        await trio.sleep(seconds)
    else:
        import asyncio

        await asyncio.sleep(seconds)


def test_many_concurrent_streams_on_one_connection(backend: str, secure: TLS | None) -> None:
    with h2_server(backend, MeetingApp(), secure) as connect:
        client = connect()
        streams = {
            client.request("/meet/60", "POST", body=b"%d-abc" % i): b"%d-abc" % i for i in range(60)
        }
        for stream_id, body in streams.items():
            response = client.response(stream_id)
            assert response.status == 200 and bytes(response.body) == body[::-1]


def test_streams_beyond_the_limit_are_refused(backend: str) -> None:
    app = GateApp()
    with h2_server(backend, app, limits=Limits(h2_max_concurrent_streams=2)) as connect:
        client = connect()
        client.wait(lambda: client.conn.remote_settings.max_concurrent_streams == 2)
        # This client ignores the limit it was told.
        client.conn.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS] = 10
        client.conn.remote_settings.acknowledge()
        waiting = [client.request("/wait") for _ in range(2)]
        extra = client.request("/")
        assert client.response(extra).reset == ErrorCodes.REFUSED_STREAM
        app.release.set()
        assert [bytes(client.response(s).body) for s in waiting] == [b"released"] * 2
        assert client.response(client.request("/")).status == 200


# -- flow control and back-pressure ---------------------------------------------------------


class BigWriter:
    """Writes 1 MiB in 64 KiB pieces and records how far it got."""

    def __init__(self) -> None:
        self.written = 0

    async def handle(self, exchange: Exchange) -> None:
        await exchange.start_response(200, [(b"content-type", b"application/octet-stream")])
        for _ in range(16):
            await exchange.write(b"z" * 65536)
            self.written += 65536
        await exchange.end()


def test_large_response_under_a_small_window_waits_for_the_client(backend: str, secure: TLS | None) -> None:
    app = BigWriter()
    with h2_server(backend, app, secure) as connect:
        client = connect(acknowledge=False, settings={SettingCodes.INITIAL_WINDOW_SIZE: 4096})
        stream_id = client.request("/")
        client.wait(lambda: len(client.responses[stream_id].body) == 4096)
        time.sleep(0.3)
        # The stream's window is full: the handler waits instead of piling up
        # 1 MiB in the server (at most the queue's low-water mark and a piece).
        assert app.written <= 4 * 65536
        client.acknowledge = True
        client.conn.acknowledge_received_data(4096, stream_id)
        client.flush()
        response = client.response(stream_id)
        assert bytes(response.body) == b"z" * (16 * 65536)
        assert app.written == 16 * 65536


def test_request_bodies_with_and_without_length(backend: str) -> None:
    with h2_server(backend, BasicApp()) as connect:
        client = connect()
        body = bytes(range(256)) * 2000  # past the stream's window
        with_length = client.request(
            "/echo", "POST", headers=[(b"content-length", b"%d" % len(body))], body=body
        )
        without = client.request("/echo", "POST", body=body)
        assert bytes(client.response(with_length).body) == body
        assert bytes(client.response(without).body) == body


def test_body_past_the_limit_answers_413_on_its_stream(backend: str) -> None:
    with h2_server(backend, BasicApp(), limits=Limits(max_body_size=1000)) as connect:
        client = connect()
        stream_id = client.request("/echo", "POST", body=b"x" * 5000)
        response = client.response(stream_id)
        assert response.status == 413
        # The connection serves on.
        assert bytes(client.response(client.request("/")).body) == b"hello world"


class SlowReader:
    """Reads a body without end, for the body timeout."""

    async def handle(self, exchange: Exchange) -> None:
        await exchange.read_body()
        await exchange.respond(200, [], b"read")


def test_body_that_stalls_answers_408(backend: str) -> None:
    limits = Limits(body_timeout=0.3, body_rate_grace=30.0)
    with h2_server(backend, SlowReader(), limits=limits) as connect:
        client = connect()
        stream_id = client.request("/", "POST", body=b"part", end=False)
        assert client.response(stream_id).status == 408


# -- the connection's life -------------------------------------------------------------------


def test_graceful_shutdown_sends_goaway_and_finishes_the_stream(backend: str, secure: TLS | None) -> None:
    app = GateApp()
    with h2_server(backend, app, secure) as connect:
        client = connect()
        stream_id = client.request("/wait")
        assert app.entered.wait(TIMEOUT)
        stopper = threading.Thread(target=connect.handle.shutdown)  # type: ignore[attr-defined]
        stopper.start()
        client.wait(lambda: client.goaway is not None)
        assert client.goaway.error_code == ErrorCodes.NO_ERROR
        assert client.goaway.last_stream_id == stream_id
        app.release.set()
        response = client.response(stream_id)
        assert (response.status, bytes(response.body)) == (200, b"released")
        client.wait_closed()
        stopper.join()


def test_idle_connection_ends_with_goaway(backend: str) -> None:
    with h2_server(backend, BasicApp(), limits=Limits(idle_timeout=0.3)) as connect:
        client = connect()
        assert client.response(client.request("/")).status == 200
        client.wait_closed(timeout=5.0)
        assert client.goaway is not None and client.goaway.error_code == ErrorCodes.NO_ERROR


class Closing:
    """Waits for its client to go away and records that the close callback ran."""

    def __init__(self) -> None:
        self.called = threading.Event()

    async def handle(self, exchange: Exchange) -> None:
        if exchange.path == "/ok":
            await exchange.respond(200, [], b"ok")
            return
        exchange.add_close_callback(self.called.set)
        while not exchange.client_disconnected:
            await _sleep(0.01)


def test_reset_stream_runs_the_close_callbacks(backend: str) -> None:
    app = Closing()
    with h2_server(backend, app) as connect:
        client = connect()
        stream_id = client.request("/")
        time.sleep(0.1)
        client.conn.reset_stream(stream_id, ErrorCodes.CANCEL)
        client.flush()
        assert app.called.wait(TIMEOUT)
        assert client.response(client.request("/ok")).status == 200


def test_access_log_per_stream(backend: str) -> None:
    logged: list[tuple[str, int]] = []
    with h2_server(backend, BasicApp(), access_log=lambda ex, s: logged.append((ex.path, ex.status))) as connect:
        client = connect()
        for stream_id in [client.request("/"), client.request("/nothing")]:
            client.response(stream_id)
    assert sorted(logged) == [("/", 200), ("/nothing", 404)]


# -- strictness --------------------------------------------------------------------------------


def test_malformed_request_never_reaches_the_application(backend: str) -> None:
    seen: list[str] = []

    class Recorder(BasicApp):
        async def handle(self, exchange: Exchange) -> None:
            seen.append(exchange.path)
            await super().handle(exchange)

    with h2_server(backend, Recorder()) as connect:
        client = connect(validate=False)
        bad = client.request("/", headers=[(b"Bad-Name", b"x")])
        client.wait(lambda: client.goaway is not None or client.responses[bad].reset is not None)
        connect_request = connect(validate=False)
        stream_id = connect_request.conn.get_next_available_stream_id()
        connect_request.conn.send_headers(stream_id, [(b":method", b"CONNECT"), (b"host", b"x:1")])
        connect_request.responses[stream_id] = Response()
        connect_request.flush()
        assert connect_request.response(stream_id).reset == ErrorCodes.PROTOCOL_ERROR
        good = connect()
        assert good.response(good.request("/ok")).status == 404
    assert seen == ["/ok"]
