"""HTTP/2 against real clients: curl, httpx, h2load and Chromium.

Each server runs on a free loopback port, on the asyncio and the trio
backend, once over TLS (ALPN ``h2``, with a test CA the clients trust) and
once in cleartext by prior knowledge (h2c).  The application mounts a
Flask-style app under ``/flask`` beside Tornado-style handlers, so both
programming models are reached through the same HTTP/2 connection code.

Bodies are larger than the stream's flow control window on purpose
(``Limits.h2_initial_window_size``, 256 KiB): an upload passes only if the
server reopens the window as its handler reads, and a download only if it
sends as the client's WINDOW_UPDATE frames allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import socket
import ssl
import threading
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import httpx
import pytest
from crosswind import app as flask_style
from crosswind.app import mount
from crosswind.backends._common import make_ssl_context
from crosswind.web import Application, HTTPError, RequestHandler
from selenium.webdriver.support.ui import WebDriverWait

from examples.demo import make_demo
from tests.support.apps import wait_for_event
from tests.support.browser import needs_chromium, start_browser
from tests.support.h2_clients import (
    Authority,
    curl,
    h2load,
    make_authority,
    needs_curl_http2,
    needs_h2load,
)
from tests.support.servers import running_server, self_signed_certificate

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

#: The backends that speak HTTP/2 (threads stays HTTP/1.1).
H2_BACKENDS = ["asyncio", "trio"]
TRANSPORTS = ["tls", "h2c"]
#: Seconds a handler waits for its siblings in ``/gather``.
GATHER_WAIT = 10.0
#: Seconds the browser may take over a page.
BROWSER_WAIT = 15.0
POLL = 0.05

#: 4 MiB: past the windows curl and httpx open, so the download waits on WINDOW_UPDATEs.
BIG = hashlib.sha256(b"crosswind").digest() * (4 * 1024 * 1024 // 32)
#: 1 MiB: four stream windows (Limits.h2_initial_window_size) and the whole connection window.
UPLOAD = bytes(range(256)) * (1024 * 1024 // 256)



def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the application ---------------------------------------------------------


class Hello(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("X-Style", "tornado")
        self.write("hello from a RequestHandler")


class Echo(RequestHandler):
    def post(self) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("X-Body-SHA256", digest(self.request.body))
        self.write(self.request.body)


class Big(RequestHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/octet-stream")
        self.write(BIG)


@dataclass
class _Gate:
    arrived: int = 0
    event: threading.Event | None = None


_GATES: dict[str, _Gate] = {}
_GATES_LOCK = threading.Lock()


class Gather(RequestHandler):
    """Answers only once ``n`` requests with the same ``key`` are in the server at once.

    Streams served one after another would never get there: each would time
    out with 504.  The answer names the client's address as the server saw it,
    so a test can tell whether the requests shared one connection.
    """

    async def get(self) -> None:
        key, wanted = self.get_query_argument("key"), int(self.get_query_argument("n"))
        with _GATES_LOCK:
            gate = _GATES.setdefault(key, _Gate(event=threading.Event()))
            gate.arrived += 1
            if gate.arrived >= wanted:
                gate.event.set()  # type: ignore[union-attr]
        if not await wait_for_event(gate.event, GATHER_WAIT):  # type: ignore[arg-type]
            raise HTTPError(504)
        peer = self.request.exchange.info.peer  # type: ignore[union-attr]
        self.write({"peer": list(peer)})


def make_flask_style() -> Any:
    app = flask_style.Flask(__name__)

    @app.get("/hello")
    def hello() -> Any:
        response = flask_style.make_response("hello from a view")
        response.headers["X-Style"] = "flask"
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        return response

    @app.post("/echo")
    def echo() -> Any:
        data = flask_style.request.get_data()
        response = flask_style.make_response(data)
        response.headers["Content-Type"] = "application/octet-stream"
        response.headers["X-Body-SHA256"] = digest(data)
        return response

    return app


def make_app() -> Any:
    tornado_style = Application(
        [(r"/hello", Hello), (r"/echo", Echo), (r"/big", Big), (r"/gather", Gather)]
    )
    return mount(tornado_style, "/flask", make_flask_style())


# -- servers -----------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A running server: its base URL, and how clients reach it.

    :param backend: the backend's name.
    :param transport: ``tls`` or ``h2c``.
    :param url: ``https://127.0.0.1:PORT`` or ``http://127.0.0.1:PORT``.
    :param authority: the CA the TLS server's certificate comes from.
    """

    backend: str
    transport: str
    url: str
    authority: Authority

    def curl_options(self) -> tuple[str, ...]:
        return ("--http2",) if self.transport == "tls" else ("--http2-prior-knowledge",)

    @property
    def cacert(self) -> Path | None:
        return self.authority.ca_path if self.transport == "tls" else None

    def client(self, **options: Any) -> httpx.AsyncClient:
        """An httpx client speaking only HTTP/2 (ALPN over TLS, prior knowledge in cleartext)."""
        if self.transport == "tls":
            return httpx.AsyncClient(
                http2=True, verify=self.authority.client_context(), base_url=self.url, **options
            )
        return httpx.AsyncClient(http1=False, http2=True, base_url=self.url, **options)


@contextlib.contextmanager
def serving(
    backend: str, app: Any, certificate: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Serve *app* over HTTP/2 on *backend* for the block; yields the base URL.

    :param certificate: the certificate and key files for TLS; cleartext
        HTTP/2 by prior knowledge without them.
    """
    if certificate is None:
        options: dict[str, Any] = {"http2": True}
    else:
        # No http2 flag: over TLS, ALPN offering h2 is what turns HTTP/2 on.
        options = {"ssl_context": make_ssl_context(str(certificate[0]), str(certificate[1]))}
    with running_server(backend, app, **options) as handle:
        yield f"{'https' if certificate else 'http'}://127.0.0.1:{handle.port}"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return make_authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(
    scope="module",
    params=[(backend, transport) for backend in H2_BACKENDS for transport in TRANSPORTS],
    ids=lambda param: "-".join(param),
)
def server(request: pytest.FixtureRequest, authority: Authority) -> Iterator[Served]:
    backend, transport = request.param
    certificate = (authority.cert_path, authority.key_path) if transport == "tls" else None
    with serving(backend, make_app(), certificate) as url:
        yield Served(backend, transport, url, authority)


# -- curl --------------------------------------------------------------------


@needs_curl_http2
@pytest.mark.parametrize(
    ("path", "style", "text"),
    [("/hello", "tornado", "hello from a RequestHandler"), ("/flask/hello", "flask", "hello from a view")],
    ids=["tornado-style", "flask-style"],
)
def test_curl_gets_a_page_over_http2(
    server: Served, tmp_path: Path, path: str, style: str, text: str
) -> None:
    response = curl(server.url + path, *server.curl_options(), cacert=server.cacert, directory=tmp_path)
    assert response.version == "2"
    assert response.status == 200
    assert response.header("x-style") == style
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.header("content-length") == str(len(text))
    assert response.body == text.encode()


@needs_curl_http2
@pytest.mark.parametrize("path", ["/echo", "/flask/echo"], ids=["tornado-style", "flask-style"])
def test_curl_posts_a_body_larger_than_the_stream_window(
    server: Served, tmp_path: Path, path: str
) -> None:
    response = curl(
        server.url + path, *server.curl_options(), cacert=server.cacert, data=UPLOAD,
        directory=tmp_path,
    )
    assert (response.version, response.status) == ("2", 200)
    assert response.header("x-body-sha256") == digest(UPLOAD)
    assert response.body == UPLOAD


@needs_curl_http2
def test_curl_downloads_a_large_response_at_a_steady_rate(
    server: Served, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A client reading steadily but slower than loopback: the response waits on the socket,
    # while the client's WINDOW_UPDATE frames keep coming in.
    response = curl(
        server.url + "/big", *server.curl_options(), "--limit-rate", "2M", cacert=server.cacert,
        directory=tmp_path,
    )
    assert (response.version, response.status) == ("2", 200)
    assert len(response.body) == len(BIG)
    assert digest(response.body) == digest(BIG)


@needs_curl_http2
def test_curl_asking_for_http1_still_gets_it(server: Served, tmp_path: Path) -> None:
    # Over TLS by ALPN; in cleartext the same port tells HTTP/1.1 from the HTTP/2 preface.
    response = curl(server.url + "/hello", "--http1.1", cacert=server.cacert, directory=tmp_path)
    assert (response.version, response.status) == ("1.1", 200)
    assert response.body == b"hello from a RequestHandler"


# -- httpx -------------------------------------------------------------------


def test_httpx_multiplexes_concurrent_requests_on_one_connection(server: Served) -> None:
    count = 40
    key = uuid.uuid4().hex

    async def main() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=1)
        async with server.client(limits=limits, timeout=GATHER_WAIT + 10) as client:
            return await asyncio.gather(
                *(client.get("/gather", params={"key": key, "n": count}) for _ in range(count))
            )

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * count
    assert {r.http_version for r in responses} == {"HTTP/2"}
    # One client address for all: the server saw every stream on the same connection.
    assert len({tuple(r.json()["peer"]) for r in responses}) == 1
    assert len({r.extensions["stream_id"] for r in responses}) == count


def test_httpx_uploads_interleave_without_mixing_bodies(
    server: Served, request: pytest.FixtureRequest
) -> None:
    bodies = [bytes([n]) * (300 * 1024 + n) for n in range(8)]

    async def main() -> list[httpx.Response]:
        async with server.client(limits=httpx.Limits(max_connections=1), timeout=20) as client:
            return await asyncio.gather(*(
                client.post("/flask/echo" if n % 2 else "/echo", content=body)
                for n, body in enumerate(bodies)
            ))

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * len(bodies)
    assert {r.http_version for r in responses} == {"HTTP/2"}
    assert [r.content for r in responses] == bodies


# -- h2load ------------------------------------------------------------------


@needs_h2load
def test_h2load_smoke(server: Served) -> None:
    summary = h2load(server.url + "/hello", requests=200, clients=4, streams=10)
    assert summary.protocol == ("h2" if server.transport == "tls" else "h2c")
    assert (summary.total, summary.done, summary.succeeded) == (200, 200, 200)
    assert (summary.failed, summary.errored, summary.timeout) == (0, 0, 0)
    assert summary.status.get("2xx") == 200


# -- Chromium ----------------------------------------------------------------


@needs_chromium
@pytest.mark.parametrize("backend", H2_BACKENDS)
def test_chromium_loads_the_demo_and_its_assets_over_http2(backend: str, tmp_path: Path) -> None:
    certificate = self_signed_certificate(tmp_path)
    browser = start_browser(arguments=["--ignore-certificate-errors"])
    try:
        browser.set_page_load_timeout(BROWSER_WAIT)
        with serving(backend, make_demo(), certificate) as url:
            try:
                browser.get(url + "/")
                WebDriverWait(browser, BROWSER_WAIT, POLL).until(
                    lambda driver: driver.execute_script(
                        "return document.readyState === 'complete'"
                        " && performance.getEntriesByType('resource').length > 0"
                    )
                )
                assert browser.title == "crosswind demo"
                navigation = browser.execute_script(
                    "return performance.getEntriesByType('navigation')[0].nextHopProtocol"
                )
                assets = browser.execute_script(
                    "return performance.getEntriesByType('resource')"
                    ".map(entry => [entry.name, entry.nextHopProtocol])"
                )
            finally:
                # Before the server stops: a shutdown with the browser's connection still
                # open is test_shutdown_closes_a_connected_http2_client's business.
                browser.quit()
        # The stylesheet is at least there, and every asset shared the page's protocol.
        assert any(name.endswith(".css") or ".css?" in name for name, _ in assets), assets
        assert navigation == "h2"
        assert {protocol for _, protocol in assets} == {"h2"}, assets
    finally:
        browser.quit()


# -- shutdown ------------------------------------------------------------------


@pytest.mark.parametrize("backend", H2_BACKENDS)
def test_shutdown_closes_a_connected_http2_client(backend: str, tmp_path: Path) -> None:
    """A browser keeps its HTTP/2 connection open: stopping the server must end and free it."""
    certificate = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(cafile=str(certificate[0]))
    context.set_alpn_protocols(["h2"])
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sock: ssl.SSLSocket | None = None
        try:
            with serving(backend, make_app(), certificate) as url:
                sock = context.wrap_socket(
                    socket.create_connection(
                        ("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=GATHER_WAIT
                    ),
                    server_hostname="localhost",
                )
                assert sock.selected_alpn_protocol() == "h2"
                client.initiate_connection()
                sock.sendall(client.data_to_send())
                while "SettingsAcknowledged" not in seen:
                    seen += _receive(sock, client)
            # The server has stopped; the client never said goodbye.
            while "end of stream" not in seen:
                seen += _receive(sock, client)
        finally:
            if sock is not None:
                sock.close()
        gc.collect()
    assert "ConnectionTerminated" in seen, seen
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def _receive(sock: ssl.SSLSocket, client: h2.connection.H2Connection) -> list[str]:
    """What one read brings: the h2 events' names, or ``end of stream``."""
    data = sock.recv(65536)
    if not data:
        return ["end of stream"]
    names = [type(event).__name__ for event in client.receive_data(data)]
    sock.sendall(client.data_to_send())
    return names
