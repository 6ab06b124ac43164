"""HTTP/1.1 conformance of every backend, over real loopback sockets with real clients.

One suite, parametrized over the backends, so they cannot drift apart: the
stdlib ``http.client``, ``httpx``, raw sockets (for what clients hide, such
as pipelining and ``100 Continue``) and ``curl`` when it is installed.  Every
network call has a timeout.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from crosswind.backends._common import ServerHandle
from crosswind.errors import RequestError
from crosswind.protocol.exchange import ClientDisconnected, Exchange
from crosswind.protocol.limits import Limits
from crosswind.testing import parse_responses

from tests.support.apps import GateApp
from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

TIMEOUT = 10.0
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")

LIMITS = Limits(
    max_request_line=1024,
    max_head_size=4096,
    max_header_count=20,
    max_body_size=64 * 1024,
    header_timeout=0.5,
    body_timeout=0.5,
    idle_timeout=5.0,
    drain_limit=16 * 1024,
)
BIG = 20 * 1024 * 1024
PATTERN = bytes(range(256)) * 256  # 64 KiB


def pattern(size: int) -> Iterator[bytes]:
    """*size* bytes of a fixed pattern, in 64 KiB pieces."""
    while size > 0:
        piece = PATTERN[: min(size, len(PATTERN))]
        size -= len(piece)
        yield piece


def pattern_sha256(size: int) -> str:
    digest = hashlib.sha256()
    for piece in pattern(size):
        digest.update(piece)
    return digest.hexdigest()


TEXT = [(b"Content-Type", b"text/plain")]


class ConformanceApp:
    """Routes: ``/`` text, ``/peer`` the client's port, ``/echo`` the body,
    ``/hash`` size and SHA-256 of a body of up to 32 MiB (raising the
    per-request limit), ``/download?N`` N pattern bytes flushed in pieces,
    ``/refuse`` a 401 without reading the body."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.failures: list[tuple[str, str]] = []

    async def handle(self, exchange: Exchange) -> None:
        path = exchange.path
        self.started.append(path)
        try:
            if path == "/":
                await exchange.respond(200, TEXT, b"hello world")
            elif path == "/peer":
                peer = exchange.info.peer
                port = peer[1] if isinstance(peer, tuple) else 0
                await exchange.respond(200, TEXT, b"%d" % port)
            elif path == "/echo":
                await exchange.respond(200, TEXT, await exchange.read_body())
            elif path == "/hash":
                exchange.max_body_size = 32 * 1024 * 1024
                digest = hashlib.sha256()
                size = 0
                while piece := await exchange.read():
                    digest.update(piece)
                    size += len(piece)
                framing = "chunked" if exchange.get_header(b"transfer-encoding") else "length"
                body = json.dumps({"size": size, "sha256": digest.hexdigest(), "framing": framing})
                await exchange.respond(200, [(b"Content-Type", b"application/json")], body.encode())
            elif path == "/download":
                await exchange.start_response(200, [(b"Content-Type", b"application/octet-stream")])
                for piece in pattern(int(exchange.query)):
                    await exchange.write(piece)
                await exchange.end()
            elif path == "/refuse":
                await exchange.respond(401, [(b"WWW-Authenticate", b'Basic realm="x"')], b"no")
            else:
                await exchange.respond(404, TEXT, b"not found")
        except (RequestError, ClientDisconnected) as exc:
            self.failures.append((path, type(exc).__name__))
            raise


#: Both protocol engines, so that neither drifts from the other on real sockets.
ENGINES = ["native", "h11"]


@pytest.fixture(
    scope="module",
    params=[(backend, engine) for backend in BACKENDS for engine in ENGINES],
    ids=lambda param: "-".join(param),
)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[ServerHandle, ConformanceApp]]:
    backend, engine = request.param
    app = ConformanceApp()
    with running_server(backend, app, limits=LIMITS, engine=engine) as handle:
        yield handle, app


@pytest.fixture
def port(server: tuple[ServerHandle, ConformanceApp]) -> int:
    return server[0].port


@pytest.fixture
def base(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as closing)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}; got {data!r}"
        data += chunk
    return data


def exchange_raw(port: int, data: bytes) -> bytes:
    with connect(port) as sock:
        sock.sendall(data)
        return read_until_closed(sock)


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "--silent", "--show-error", "--max-time", str(TIMEOUT), *args],
        capture_output=True,
        timeout=TIMEOUT + 5,
        check=True,
    )


# -- keep-alive ----------------------------------------------------------------------


def test_keep_alive_reuses_one_connection(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        ports = []
        for _ in range(3):
            conn.request("GET", "/peer")
            if not ports:
                first_sock = conn.sock
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Connection") is None
            ports.append(int(response.read()))
            assert conn.sock is first_sock, "http.client had to reconnect"
        # The server saw every request come from the same client socket.
        assert ports == [first_sock.getsockname()[1]] * 3
    finally:
        conn.close()


def test_keep_alive_with_httpx(base: str) -> None:
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        ports = {client.get("/peer").text for _ in range(3)}
        assert client.post("/echo", content=b"abc").content == b"abc"
    assert len(ports) == 1


@needs_curl
def test_keep_alive_with_curl(base: str) -> None:
    result = curl("--verbose", f"{base}/peer", f"{base}/peer")
    first, second = result.stdout[: len(result.stdout) // 2], result.stdout[len(result.stdout) // 2 :]
    assert first == second
    assert b"Re-using existing connection" in result.stderr


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    requests = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nthi\r\n2\r\nrd\r\n0\r\n\r\n"
    )
    responses = parse_responses(exchange_raw(port, requests))
    assert [r.content for r in responses] == [b"first", b"hello world", b"third"]
    assert responses[-1].headers.get("Connection") == "close"


def test_http10_connection_closes_after_the_response(port: int) -> None:
    out = exchange_raw(port, b"GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n")
    assert out.count(b"HTTP/1.1 200") == 1
    assert out.endswith(b"hello world")


def test_connection_close_is_honoured(port: int) -> None:
    out = exchange_raw(port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                             b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    (response,) = parse_responses(out)
    assert response.headers.get("Connection") == "close"


# -- 100 Continue ------------------------------------------------------------------------


def test_100_continue_then_body(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 7\r\n\r\n")
        interim = read_until(sock, b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"payload")
        response = read_until(sock, b"payload")
        assert response.startswith(b"HTTP/1.1 200 ")
        # Still usable afterwards.
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_closed(sock).endswith(b"hello world")


def test_no_100_continue_when_the_handler_refuses(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"PUT /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 100000\r\n\r\n")
        out = read_until_closed(sock)  # the server closes: no body will come
    assert b" 100 " not in out
    (response,) = parse_responses(out, [b"PUT"])
    assert response.status_code == 401
    assert response.headers.get("Connection") == "close"


def test_no_100_continue_when_the_body_is_too_large(port: int) -> None:
    with connect(port) as sock:
        sock.sendall(b"PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 100000\r\n\r\n")
        out = read_until_closed(sock)
    assert out.startswith(b"HTTP/1.1 413 ")


def test_100_continue_with_http_client(port: int) -> None:
    # http.client does not wait for 100 Continue; the server must cope with
    # a body that arrives unasked.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", "/echo", body=b"eager", headers={"Expect": "100-continue"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"eager")
    finally:
        conn.close()


@needs_curl
def test_100_continue_upload_with_curl(base: str, tmp_path) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"".join(pattern(300_000)))
    result = curl("--verbose", "-H", "Expect: 100-continue", "--data-binary", f"@{upload}",
                  f"{base}/hash")
    assert b"HTTP/1.1 100 Continue" in result.stderr
    assert json.loads(result.stdout) == {
        "size": 300_000, "sha256": pattern_sha256(300_000), "framing": "length",
    }


# -- bodies ------------------------------------------------------------------------------


def test_chunked_upload_with_httpx(base: str) -> None:
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        response = client.post("/hash", content=pattern(1_000_000))
    assert response.json() == {
        "size": 1_000_000, "sha256": pattern_sha256(1_000_000), "framing": "chunked",
    }


@needs_curl
def test_chunked_upload_with_curl(base: str, tmp_path) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(b"".join(pattern(200_000)))
    result = curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{upload}", f"{base}/hash")
    assert json.loads(result.stdout)["framing"] == "chunked"
    assert json.loads(result.stdout)["sha256"] == pattern_sha256(200_000)


def test_large_upload_is_streamed_and_hashed(base: str) -> None:
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        response = client.post("/hash", content=b"".join(pattern(BIG)))
    assert response.json() == {"size": BIG, "sha256": pattern_sha256(BIG), "framing": "length"}


def test_large_download_is_streamed_in_chunks(base: str) -> None:
    digest = hashlib.sha256()
    size = 0
    with (
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
        client.stream("GET", f"/download?{BIG}") as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        for piece in response.iter_raw():
            digest.update(piece)
            size += len(piece)
    assert (size, digest.hexdigest()) == (BIG, pattern_sha256(BIG))


@needs_curl
def test_download_with_curl(base: str) -> None:
    result = curl(f"{base}/download?1000000")
    assert hashlib.sha256(result.stdout).hexdigest() == pattern_sha256(1_000_000)


def test_head_has_the_length_of_get_and_no_body(port: int, base: str) -> None:
    with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        got = client.get("/")
        headed = client.head("/")
    assert headed.status_code == 200
    assert headed.headers["content-length"] == got.headers["content-length"] == "11"
    assert headed.content == b""
    # On the wire: nothing between the HEAD response and the next response.
    out = exchange_raw(port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                             b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head_end = out.index(b"\r\n\r\n") + 4
    assert out[head_end:].startswith(b"HTTP/1.1 200 ")


@needs_curl
def test_head_with_curl(base: str) -> None:
    result = curl("--head", f"{base}/")
    assert result.stdout.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: 11\r\n" in result.stdout.lower()


# -- limits and refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 5000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-N: 1\r\n" * 25 + b"\r\n", 431),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
         + b"8000\r\n" + b"z" * 0x8000 + b"\r\n" + b"8001\r\n" + b"z" * 0x8001 + b"\r\n0\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),
    ],
    ids=["request-line", "head-size", "header-count", "body-length", "body-chunked",
         "transfer-coding", "version", "no-host", "cl-te", "nul"],
)
def test_limits_and_refusals(
    server: tuple[ServerHandle, ConformanceApp], raw: bytes, status: int
) -> None:
    handle, app = server
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    out = exchange_raw(handle.port, raw + smuggled)
    (response,) = parse_responses(out)
    assert response.status_code == status
    assert response.headers.get("Connection") == "close"
    assert response.headers.get("Content-Type") == "text/plain; charset=utf-8"
    assert "/smuggled" not in app.started


def test_slow_head_and_slow_body_get_408(port: int) -> None:
    with connect(port) as slow_head, connect(port) as slow_body:
        started = time.monotonic()
        slow_head.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow_body.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
        head_out = read_until_closed(slow_head)
        body_out = read_until_closed(slow_body)
        elapsed = time.monotonic() - started
    assert head_out.startswith(b"HTTP/1.1 408 ")
    assert body_out.startswith(b"HTTP/1.1 408 ")
    assert 0.4 < elapsed < 5.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_idle_connection_is_closed_silently(backend: str) -> None:
    limits = LIMITS.replace(idle_timeout=0.3)
    with (
        running_server(backend, ConformanceApp(), limits=limits) as handle,
        connect(handle.port) as idle,
    ):
        started = time.monotonic()
        assert read_until_closed(idle) == b""
        assert 0.2 < time.monotonic() - started < 5.0


# -- disconnects and shutdown ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_disconnect_mid_body_leaves_the_server_healthy(
    server: tuple[ServerHandle, ConformanceApp], how: str
) -> None:
    handle, app = server
    before = len(app.failures)
    started = len(app.started)
    sock = connect(handle.port)
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n" + b"x" * 20000)
    # A reset before the server read the head would discard the request
    # unseen; wait until the handler is reading the body.
    deadline = time.monotonic() + TIMEOUT
    while len(app.started) == started:
        assert time.monotonic() < deadline, "the request never reached the handler"
        time.sleep(0.01)
    if how == "reset":
        # Linger on, timeout 0: close() sends RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    deadline = time.monotonic() + TIMEOUT
    while len(app.failures) == before:
        assert time.monotonic() < deadline, "the handler never learned of the disconnect"
        time.sleep(0.01)
    assert app.failures[before][0] == "/echo"
    with httpx.Client(base_url=f"http://127.0.0.1:{handle.port}", timeout=TIMEOUT) as client:
        assert client.get("/").text == "hello world"


@pytest.mark.parametrize("backend", BACKENDS)
def test_graceful_shutdown_completes_the_request_in_flight(backend: str) -> None:
    app = GateApp()
    results: list[tuple[int, bytes, str | None]] = []

    def in_flight(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/wait")
            response = conn.getresponse()
            results.append((response.status, response.read(), response.getheader("Connection")))
        finally:
            conn.close()

    with running_server(backend, app) as handle:
        client = threading.Thread(target=in_flight, args=(handle.port,))
        client.start()
        try:
            assert app.entered.wait(TIMEOUT)
            handle.shutdown()
            time.sleep(0.05)
            assert client.is_alive()
            app.release.set()
            client.join(TIMEOUT)
        finally:
            app.release.set()
            client.join(TIMEOUT)
    assert results == [(200, b"released", "close")]
