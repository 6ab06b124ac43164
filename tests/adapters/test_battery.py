"""One request battery against every real server the adapters can sit behind.

The application is the project's demo (a Tornado-style site, the blog and
the Flask-style example, :mod:`examples.demo`) with a few extra routes under
``/battery`` for what the demo does not do: a streamed response, a large
upload and plain cookies.  It is served

* as WSGI (:func:`~crosswind.adapters.to_wsgi`) by gunicorn's sync and
  gthread workers, waitress and wsgiref,
* as ASGI (:func:`~crosswind.adapters.to_asgi`) by uvicorn (h11 and
  httptools), hypercorn (asyncio and trio) and daphne,
* natively by crosswind's asyncio, trio and threads backends,

and each test below runs once per server, so any difference between the
paths shows up as one failing ``[server]`` case.  gunicorn and daphne run in
subprocesses that import :data:`BATTERY_WSGI` / :data:`BATTERY_ASGI`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from crosswind.adapters import to_asgi, to_wsgi
from crosswind.errors import RequestError
from crosswind.mount import Mount
from crosswind.protocol.exchange import Exchange
from crosswind.web import Application, HTTPError, RequestHandler

from examples.demo import make_demo
from tests.support.adapter_servers import (
    ASGI_SERVERS,
    TIMEOUT,
    WSGI_SERVERS,
    daphne_server,
    gunicorn_server,
)
from tests.support.apps import wait_for_event
from tests.support.servers import BACKENDS, running_server

pytestmark = pytest.mark.network

#: Where subprocess servers look for the files that release streamed responses.
SIGNALS_VARIABLE = "CROSSWIND_BATTERY_SIGNALS"

UPLOAD = random.Random(20240601).randbytes(2 * 1024 * 1024)


# -- the application ------------------------------------------------------------------


class FileFlag:
    """A flag another process raises by creating a file (``threading.Event``'s reading side).

    Subprocess servers share no memory with the test, so a streamed
    response waits for a file instead of an event.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def is_set(self) -> bool:
        return self.path.exists()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set() and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.is_set()


class _Signalled(RequestHandler):
    def initialize(self, signals: Path) -> None:
        self.signals = signals

    def signal_path(self, suffix: str = "") -> Path:
        token = self.get_argument("token")
        if not token.isalnum():
            raise HTTPError(400)
        return self.signals / (token + suffix)


class StreamHandler(_Signalled):
    """Sends a first piece, then the second once the client has seen the first.

    A server that buffered the response would hold the first piece back, the
    client would never release the second, and the body would end in
    ``not streamed`` after five seconds.
    """

    async def get(self) -> None:
        release = FileFlag(self.signal_path())
        self.set_header("Content-Type", "text/plain")
        self.write("first;")
        await self.flush()
        released = await wait_for_event(release, 5.0)  # type: ignore[arg-type]
        self.write("second" if released else "not streamed")


class EndlessHandler(_Signalled):
    """Streams until the client hangs up (ten seconds at most), and notes that it heard.

    ``on_connection_close`` is the Tornado-style face of the exchange's close
    callbacks: behind an ASGI server an ``http.disconnect`` message must
    reach it, behind a WSGI server the server closing the response iterable.
    """

    async def get(self) -> None:
        self.note = self.signal_path(".closed")
        self.closed = threading.Event()
        self.set_header("Content-Type", "text/plain")
        deadline = time.monotonic() + 10.0
        while not self.closed.is_set() and time.monotonic() < deadline:
            self.write("tick;" * 200)
            await self.flush()
            await wait_for_event(self.closed, 0.01)  # type: ignore[arg-type]

    def on_connection_close(self) -> None:
        self.closed.set()
        self.note.touch()


class UploadHandler(RequestHandler):
    def post(self) -> None:
        body = self.request.body
        self.write({"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)})


class CookieHandler(RequestHandler):
    """Sets two cookies in one response and reports the ones the request carried."""

    def get(self) -> None:
        self.set_cookie("first", "1")
        self.set_cookie("second", "two", httponly=True)
        self.write({"seen": {name: self.get_cookie(name) for name in sorted(self.cookies)}})


class EndlessExchange:
    """:class:`EndlessHandler` as a bare crosswind application, on the Exchange API.

    Unlike a ``RequestHandler`` it never reads the (empty) request body
    before it asks for a close callback.
    """

    def __init__(self, signals: Path) -> None:
        self.signals = signals

    async def handle(self, exchange: Exchange) -> None:
        token = parse_qs(exchange.query).get("token", [""])[0]
        if not token.isalnum():
            raise RequestError("bad token", 400)
        note = self.signals / (token + ".closed")
        closed = threading.Event()

        def on_close() -> None:
            closed.set()
            note.touch()

        exchange.add_close_callback(on_close)
        await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
        deadline = time.monotonic() + 10.0
        while not closed.is_set() and time.monotonic() < deadline:
            await exchange.write(b"tick;" * 200)
            await wait_for_event(closed, 0.01)
        if not closed.is_set():
            await exchange.end()


def make_battery_app(signals: Path) -> Mount:
    """The demo with the battery's extra routes under ``/battery`` and ``/raw``.

    :param signals: the directory :class:`StreamHandler` and the endless
        responses use.
    """
    extra = Application([
        (r"/stream", StreamHandler, {"signals": signals}),
        (r"/endless", EndlessHandler, {"signals": signals}),
        (r"/upload", UploadHandler),
        (r"/cookies", CookieHandler),
    ])
    return Mount([("/battery", extra), ("/raw/endless", EndlessExchange(signals)),
                  ("", make_demo())])


_BATTERY = make_battery_app(Path(os.environ.get(SIGNALS_VARIABLE) or tempfile.gettempdir()))
#: For gunicorn: ``tests.adapters.test_battery:BATTERY_WSGI``.
BATTERY_WSGI = to_wsgi(_BATTERY)
#: For daphne: ``tests.adapters.test_battery:BATTERY_ASGI``.
BATTERY_ASGI = to_asgi(_BATTERY)


# -- the servers ------------------------------------------------------------------------


def _in_process(
    start: Callable[[object], AbstractContextManager[int]], adapt: Callable[[Mount], object]
) -> Callable[[Path], AbstractContextManager[int]]:
    return lambda signals: start(adapt(make_battery_app(signals)))


def _crosswind(backend: str) -> Callable[[Path], AbstractContextManager[int]]:
    @contextlib.contextmanager
    def serve(signals: Path) -> Iterator[int]:
        with running_server(backend, make_battery_app(signals)) as handle:
            yield handle.port

    return serve


def _environment(signals: Path) -> dict[str, str]:
    return {SIGNALS_VARIABLE: str(signals)}


SERVERS: dict[str, Callable[[Path], AbstractContextManager[int]]] = {
    "gunicorn-sync": lambda signals: gunicorn_server(
        "tests.adapters.test_battery:BATTERY_WSGI", "sync", env=_environment(signals)),
    "gunicorn-gthread": lambda signals: gunicorn_server(
        "tests.adapters.test_battery:BATTERY_WSGI", "gthread", env=_environment(signals)),
    **{name: _in_process(start, to_wsgi) for name, start in WSGI_SERVERS.items()},
    **{name: _in_process(start, to_asgi) for name, start in ASGI_SERVERS.items()},
    "daphne": lambda signals: daphne_server(
        "tests.adapters.test_battery:BATTERY_ASGI", env=_environment(signals)),
    **{f"crosswind-{backend}": _crosswind(backend) for backend in BACKENDS},
}


@dataclass
class Site:
    server: str
    url: str
    signals: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=TIMEOUT)


@pytest.fixture(scope="module", params=list(SERVERS))
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    signals = tmp_path_factory.mktemp("signals")
    with SERVERS[request.param](signals) as port:
        yield Site(request.param, f"http://127.0.0.1:{port}", signals)


# -- the battery --------------------------------------------------------------------------


def test_page(site: Site) -> None:
    with site.client() as client:
        response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>crosswind is running</h1>" in response.text


def test_json_with_query(site: Site) -> None:
    with site.client() as client:
        echo = client.get("/api/echo", params={"name": "wörld & co"})
        info = client.get("/api/info")
    assert echo.status_code == 200
    assert echo.headers["content-type"].startswith("application/json")
    assert echo.json() == {"hello": "wörld & co"}
    assert info.json()["server"] == "crosswind"


def test_form_post(site: Site) -> None:
    with site.client() as client:
        response = client.post("/api/echo", data={"name": "ann é"})
    assert (response.status_code, response.json()) == (200, {"hello": "ann é"})


def test_form_login_then_json_post_with_the_session_cookie(site: Site) -> None:
    with site.client() as client:
        assert client.post("/flask/api/notes", json={"text": "x"}).status_code == 401
        login = client.post("/flask/auth/login",
                            data={"username": "demo", "password": "demo-password"})
        assert login.status_code == 302
        assert login.headers["location"] == "/flask/"
        assert "session" in client.cookies
        created = client.post("/flask/api/notes", json={"text": " from the battery "})
        assert created.status_code == 201
        assert created.json()["text"] == "from the battery"
        assert created.json()["owner"] == "demo"
        listed = client.get("/flask/api/notes").json()
        assert created.json() in listed
        refused = client.post("/flask/api/notes", json={"text": ""})
        assert (refused.status_code, refused.json()) == (
            400, {"error": "Bad Request", "status": 400, "message": "a non-empty 'text' is required"})


def test_cookies_set_and_sent_back(site: Site) -> None:
    with site.client() as client:
        first = client.get("/battery/cookies")
        set_cookies = first.headers.get_list("set-cookie")
        again = client.get("/battery/cookies")
    assert first.json() == {"seen": {}}
    # Two Set-Cookie fields, never folded into one.
    assert sorted(value.split(";")[0] for value in set_cookies) == ["first=1", "second=two"]
    assert any("httponly" in value.lower() for value in set_cookies)
    assert again.json() == {"seen": {"first": "1", "second": "two"}}


def test_streamed_response(site: Site) -> None:
    token = secrets.token_hex(8)
    with site.client() as client, client.stream(
        "GET", "/battery/stream", params={"token": token}
    ) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        pieces = response.iter_raw()
        assert next(pieces) == b"first;"
        (site.signals / token).touch()
        assert b"".join(pieces) == b"second"


@pytest.mark.parametrize("path", ["/battery/endless", "/raw/endless"])
def test_hanging_up_reaches_the_close_callbacks(site: Site, path: str) -> None:
    token = secrets.token_hex(8)
    with site.client() as client, client.stream("GET", path, params={"token": token}) as response:
        assert next(response.iter_raw()).startswith(b"tick;")
    # Leaving the block closed the connection with the response unfinished.
    note = FileFlag(site.signals / (token + ".closed"))
    assert note.wait(TIMEOUT), "the handler never heard that the client left"


def test_not_found(site: Site) -> None:
    with site.client() as client:
        tornado_side = client.get("/no/such/page")
        flask_side = client.get("/flask/no/such/page")
        battery_side = client.get("/battery/nothing")
    assert tornado_side.status_code == 404
    assert flask_side.status_code == 404
    assert battery_side.status_code == 404


def test_head(site: Site) -> None:
    with site.client() as client:
        page = client.get("/flask/auth/login")
        head = client.head("/flask/auth/login")
    assert page.status_code == 200 and "<form" in page.text
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == page.headers["content-type"]
    assert head.headers["content-length"] == str(len(page.content))


def test_large_upload(site: Site) -> None:
    with site.client() as client:
        response = client.post("/battery/upload", content=UPLOAD,
                               headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    assert response.json() == {"sha256": hashlib.sha256(UPLOAD).hexdigest(),
                               "length": len(UPLOAD)}



def test_chunked_upload(site: Site) -> None:
    if site.server == "wsgiref":
        pytest.skip("wsgiref does not decode chunked request bodies: the app sees none")
    with site.client() as client:
        response = client.post(
            "/battery/upload",
            content=(UPLOAD[i : i + 65536] for i in range(0, len(UPLOAD), 65536)),
            headers={"Content-Type": "application/octet-stream"},
        )
    assert "content-length" not in response.request.headers  # it went chunked
    assert response.status_code == 200
    assert response.json() == {"sha256": hashlib.sha256(UPLOAD).hexdigest(),
                               "length": len(UPLOAD)}
