"""Flask-style request bodies streamed: ``request.stream``, spooled uploads, the limits.

On every backend: bodies with a ``Content-Length`` and chunked ones reach
``request.stream`` whole and in order (plain views on the threads backend,
async views on all three); a view that has not read yet holds the client
back; ``MAX_CONTENT_LENGTH``, ``MAX_FORM_MEMORY_SIZE`` and
``MAX_FORM_PARTS`` answer 413; a large file part lies in a temporary file;
an app may raise the limit above the server's.  Then the same app through
the WSGI container, and under gunicorn and uvicorn.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from crosswind.adapters import WSGIContainer
from crosswind.app import App, request
from crosswind.protocol.limits import Limits

from tests.support.adapter_servers import gunicorn_server, uvicorn_server
from tests.support.servers import BACKENDS, running_server
from tests.support.upload_app import GATE, make_app

pytestmark = pytest.mark.network

TIMEOUT = 10.0
MiB = 1024 * 1024


def _body(size: int) -> bytes:
    # Not one repeated byte: a reordered or dropped piece changes the digest.
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def _pieces(data: bytes, size: int = 10_000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _expect(data: bytes) -> dict[str, Any]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _stream_paths(backend: str) -> list[str]:
    # A plain view can wait for the network only where reads block the thread.
    return ["/sum", "/asum", "/aiter"] if backend == "threads" else ["/asum", "/aiter"]


def _multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "----crosswind-upload-boundary"
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, filename, content in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, httpx.Client]]:
    app = make_app(MAX_CONTENT_LENGTH=4 * MiB, MAX_FORM_MEMORY_SIZE=1000, MAX_FORM_PARTS=5)
    with running_server(request.param, app) as handle, httpx.Client(
        base_url=f"http://127.0.0.1:{handle.port}", timeout=TIMEOUT
    ) as client:
        yield request.param, client


def test_stream_reads_sized_and_chunked_bodies(served: tuple[str, httpx.Client]) -> None:
    backend, client = served
    data = _body(1 * MiB + 7)
    for path in _stream_paths(backend):
        sized = client.post(path, content=data)
        assert sized.json() == _expect(data), (path, "content-length")
        chunked = client.post(path, content=_pieces(data))
        assert chunked.json() == _expect(data), (path, "chunked")
        assert client.post(path, content=b"").json() == _expect(b"")


def test_stream_lines_in_a_plain_view_on_threads() -> None:
    with running_server("threads", make_app()) as handle:
        response = httpx.post(
            f"http://127.0.0.1:{handle.port}/lines",
            content=iter([b"one\ntw", b"o\nthree"]),
            timeout=TIMEOUT,
        )
    assert response.json() == {"lines": ["one\n", "two\n", "three"]}


def test_buffering_accessors_still_work(served: tuple[str, httpx.Client]) -> None:
    _, client = served
    small = _body(5000)
    assert client.post("/data", content=small).json() == _expect(small)
    assert client.post("/adata", content=_pieces(small, 700)).json() == _expect(small)
    assert client.post("/json", json={"a": [1, 2]}).json() == {"json": {"a": [1, 2]}}
    assert client.post("/form", data={"a": ["1", "2"]}).json() == {"form": {"a": ["1", "2"]}}


def test_max_content_length_answers_413(served: tuple[str, httpx.Client]) -> None:
    backend, client = served
    big = _body(4 * MiB + 1)
    for path in [*_stream_paths(backend), "/data"]:
        assert client.post(path, content=big).status_code == 413, (path, "content-length")
        # Chunked: no length to refuse up front; the read past the limit fails.
        assert client.post(path, content=_pieces(big, 64 * 1024)).status_code == 413, path


def test_form_limits_answer_413(served: tuple[str, httpx.Client]) -> None:
    _, client = served
    body, content_type = _multipart([("big", "x" * 1001)], [])
    assert client.post("/form", content=body, headers={"content-type": content_type}).status_code == 413
    body, content_type = _multipart([(f"f{i}", "v") for i in range(6)], [])
    assert client.post("/form", content=body, headers={"content-type": content_type}).status_code == 413
    assert client.post("/form", data={"a": "y" * 1001}).status_code == 413
    # At the limits, accepted; a file part is not held to MAX_FORM_MEMORY_SIZE.
    body, content_type = _multipart([("a", "x" * 1000)], [("f", "a.bin", _body(5000))])
    ok = client.post("/upload", content=body, headers={"content-type": content_type})
    assert ok.status_code == 200
    assert ok.json()["size"] == 5000


def test_large_file_part_is_spooled_to_disk(served: tuple[str, httpx.Client]) -> None:
    _, client = served
    small = _body(100 * 1024)
    large = _body(600 * 1024)
    for path in ("/upload", "/aupload"):
        for content, on_disk in ((small, False), (large, True)):
            body, content_type = _multipart([("kind", "x")], [("f", "f.bin", content)])
            for payload in (body, _pieces(body, 50_000)):
                response = client.post(path, content=payload, headers={"content-type": content_type})
                assert response.json() == {
                    **_expect(content), "on_disk": on_disk, "fields": {"kind": "x"}
                }, (path, len(content))


def test_spooled_files_are_removed_when_the_request_ends() -> None:
    seen: list[Any] = []
    app = App(__name__)

    @app.post("/keep")
    def keep() -> str:
        seen.append(request.files["f"].stream)
        return "ok"

    body, content_type = _multipart([], [("f", "f.bin", _body(600 * 1024))])
    with running_server("threads", app) as handle:
        response = httpx.post(
            f"http://127.0.0.1:{handle.port}/keep", content=body,
            headers={"content-type": content_type}, timeout=TIMEOUT,
        )
    assert response.text == "ok"
    assert seen[0].closed


def _send_until_stalled(sock: socket.socket, total: int, stall: float = 0.5) -> int:
    """Send up to *total* bytes without blocking; stop once the socket stays full *stall* s."""
    piece = b"u" * 65536
    sent = 0
    stalled_since: float | None = None
    deadline = time.monotonic() + TIMEOUT
    sock.setblocking(False)
    while sent < total and time.monotonic() < deadline:
        try:
            sent += sock.send(piece[: total - sent])
            stalled_since = None
        except BlockingIOError:
            now = time.monotonic()
            if stalled_since is None:
                stalled_since = now
            elif now - stalled_since > stall:
                break
            time.sleep(0.005)
    sock.setblocking(True)
    return sent


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_view_that_has_not_read_holds_the_client_back(backend: str) -> None:
    total = 64 * MiB
    path = "/gated" if backend == "threads" else "/agated"
    GATE.clear()
    try:
        with (
            running_server(backend, make_app(MAX_CONTENT_LENGTH=total)) as handle,
            socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as sock,
        ):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 128 * 1024)
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            sent = _send_until_stalled(sock, total)
            # Kernel buffers on both sides plus what the server reads ahead:
            # far from the 64 MiB a server that buffers the body would take.
            assert sent < 16 * MiB, sent
            GATE.set()
            sock.sendall(b"u" * (total - sent))
            reply = bytearray()
            while chunk := sock.recv(65536):
                reply += chunk
        head, _, content = bytes(reply).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b'"size":%d' % total in content.replace(b" ", b"")
    finally:
        GATE.clear()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_app_may_raise_the_limit_above_the_server_default(backend: str) -> None:
    # The server allows 100 KB (as its default allows 100 MiB); the app 1 MB.
    data = _body(300_000)
    path = "/sum" if backend == "threads" else "/asum"
    app = make_app(MAX_CONTENT_LENGTH=1_000_000)
    with running_server(backend, app, limits=Limits(max_body_size=100_000)) as handle:
        url = f"http://127.0.0.1:{handle.port}"
        assert httpx.post(url + path, content=data, timeout=TIMEOUT).json() == _expect(data)
        assert httpx.post(url + path, content=_pieces(data), timeout=TIMEOUT).json() == _expect(data)
    # Without a MAX_CONTENT_LENGTH the server's limit holds.
    with running_server(backend, make_app(), limits=Limits(max_body_size=100_000)) as handle:
        url = f"http://127.0.0.1:{handle.port}"
        assert httpx.post(url + path, content=data, timeout=TIMEOUT).status_code == 413


# -- the WSGI container, and foreign servers -------------------------------------------


def _flask_upload_app() -> Any:
    flask = pytest.importorskip("flask")
    app = flask.Flask(__name__)

    @app.post("/sum")
    def sum_view() -> Any:
        digest = hashlib.sha256()
        size = 0
        while chunk := flask.request.stream.read(65536):
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    return app


@pytest.mark.parametrize("backend", BACKENDS)
def test_wsgi_container_streams_wsgi_input(backend: str) -> None:
    seen: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        stream = environ["wsgi.input"]
        digest = hashlib.sha256()
        size = 0
        while chunk := stream.read(65536):
            seen.append(len(chunk))
            digest.update(chunk)
            size += len(chunk)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{size} {digest.hexdigest()} {environ.get('CONTENT_LENGTH')}".encode()]

    data = _body(2 * MiB + 3)
    with running_server(backend, WSGIContainer(app, max_workers=2)) as handle:
        url = f"http://127.0.0.1:{handle.port}/"
        digest = hashlib.sha256(data).hexdigest()
        assert httpx.post(url, content=data, timeout=TIMEOUT).text == f"{len(data)} {digest} {len(data)}"
        assert httpx.post(url, content=_pieces(data), timeout=TIMEOUT).text == f"{len(data)} {digest} None"
    # Read in pieces as they came, not handed over whole.
    assert max(seen) <= 65536


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_flask_reads_its_stream_in_the_wsgi_container(backend: str) -> None:
    data = _body(1 * MiB)
    container = WSGIContainer(_flask_upload_app(), max_workers=2)
    with running_server(backend, container) as handle:
        url = f"http://127.0.0.1:{handle.port}/sum"
        assert httpx.post(url, content=data, timeout=TIMEOUT).json() == _expect(data)
        assert httpx.post(url, content=_pieces(data), timeout=TIMEOUT).json() == _expect(data)


@pytest.mark.parametrize("worker", ["sync", "gthread"])
def test_under_gunicorn(worker: str) -> None:
    data = _body(1 * MiB + 5)
    big = _body(2 * MiB)
    env = {"UPLOAD_MAX_CONTENT_LENGTH": str(1536 * 1024)}
    with gunicorn_server("tests.support.upload_app:wsgi", worker, env=env) as port:
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
            for path in ("/sum", "/asum"):
                assert client.post(path, content=data).json() == _expect(data), path
                assert client.post(path, content=_pieces(data)).json() == _expect(data), path
            body, content_type = _multipart([("kind", "g")], [("f", "f.bin", data)])
            response = client.post("/upload", content=body, headers={"content-type": content_type})
            assert response.json() == {**_expect(data), "on_disk": True, "fields": {"kind": "g"}}
        for path in ("/sum", "/asum"):
            # A connection of its own: gunicorn closes one whose body was left unread.
            assert httpx.post(url + path, content=big, timeout=TIMEOUT).status_code == 413, path


def test_under_uvicorn() -> None:
    data = _body(1 * MiB + 5)
    app = make_app(MAX_CONTENT_LENGTH=1536 * 1024)
    with uvicorn_server(app.asgi, "h11") as port, httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT
    ) as client:
        for path in ("/asum", "/aiter"):
            assert client.post(path, content=data).json() == _expect(data), path
            assert client.post(path, content=_pieces(data)).json() == _expect(data), path
            assert client.post(path, content=_body(2 * MiB)).status_code == 413, path
        # A plain view under an event loop gets its body collected first.
        assert client.post("/sum", content=data).json() == _expect(data)
        body, content_type = _multipart([("kind", "u")], [("f", "f.bin", data)])
        response = client.post("/aupload", content=body, headers={"content-type": content_type})
        assert response.json() == {**_expect(data), "on_disk": True, "fields": {"kind": "u"}}



@pytest.mark.parametrize("backend", BACKENDS)
def test_a_client_leaving_mid_body_is_no_application_error(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    app = App(__name__)

    @app.post("/read")
    async def read() -> str:
        try:
            while await request.stream.read(1024):
                pass
        except Exception as error:
            seen.append(type(error).__name__)
            raise
        return "all of it"

    with running_server(backend, app) as handle:
        with socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as sock:
            # More than an async view's read-ahead, so the view itself meets the end.
            sock.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" + b"x" * 100_000)
            time.sleep(0.2)
        deadline = time.monotonic() + TIMEOUT
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
        # The server still serves.
        assert httpx.post(f"http://127.0.0.1:{handle.port}/read", content=b"abc", timeout=TIMEOUT).text == "all of it"
    assert seen == ["ClientDisconnected"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
