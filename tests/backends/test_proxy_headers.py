"""Behind a reverse proxy, through real sockets on every backend and every front end.

The test client plays the proxy.  It connects from ``127.0.0.1`` (trusted
unless a test says otherwise) or from ``127.0.0.2`` -- another loopback
address, so another peer of the same server -- which is not trusted: its
forwarding fields are the spoofing attempt that must change nothing.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from crosswind.adapters import ASGIContainer, WSGIContainer
from crosswind.app import App, request, url_for, websocket
from crosswind.serving.logs import make_access_log
from crosswind.web import Application, RequestHandler

from tests.support.servers import BACKENDS, running_server
from tests.support.ws_client import WSClient

PROXY = "127.0.0.1"
STRANGER = "127.0.0.2"
SPOOF = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "shop.example",
}


def fetch(port: int, path: str = "/", headers: dict[str, str] | None = None,
          source: str = PROXY) -> dict[str, Any]:
    """GET *path* from *source* and decode the JSON the app answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Host": "backend:8000", **(headers or {})})
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body
        return json.loads(body)
    finally:
        conn.close()


# -- one app per front end, each reporting what it sees --------------------------


def tornado_app() -> Application:
    class Seen(RequestHandler):
        def get(self) -> None:
            self.write({
                "client": self.request.remote_ip,
                "scheme": self.request.protocol,
                "host": self.request.host,
                "url": self.request.full_url(),
            })

    return Application([("/", Seen)])


def flask_app() -> App:
    app = App(__name__)

    @app.websocket("/ws")
    async def socket() -> None:
        await websocket.send_json({"client": request.remote_addr, "scheme": websocket.scheme})

    @app.route("/")
    def seen() -> Any:
        return {
            "client": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "url": request.url_root,
            "built": url_for("seen", _external=True),
        }

    return app


def wsgi_app() -> WSGIContainer:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        seen = {
            "client": environ.get("REMOTE_ADDR"),
            "scheme": environ["wsgi.url_scheme"],
            "host": environ.get("HTTP_HOST"),
            "url": environ["SCRIPT_NAME"] + "|" + environ["PATH_INFO"],
        }
        return [json.dumps(seen).encode()]

    return WSGIContainer(app)


def asgi_app() -> ASGIContainer:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": json.dumps({
                "client": scope["client"][0], "scheme": scope["scheme"],
            })})
            await send({"type": "websocket.close"})
            return
        assert scope["type"] == "http"
        host = dict(scope["headers"]).get(b"host", b"").decode()
        body = json.dumps({
            "client": scope["client"][0],
            "scheme": scope["scheme"],
            "host": host,
            "url": scope["root_path"] + "|" + scope["path"],
        }).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return ASGIContainer(app)


FRONT_ENDS = {"tornado": tornado_app, "flask": flask_app, "wsgi": wsgi_app, "asgi": asgi_app}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def serving(backend: str, front: str, **options: Any) -> Any:
    if front == "asgi" and backend == "threads":
        pytest.skip("ASGI apps need an event loop; the threads backend has none")
    return running_server(backend, FRONT_ENDS[front](), **options)


@pytest.mark.parametrize("front", list(FRONT_ENDS))
def test_a_trusted_proxy_names_the_client_scheme_and_host(backend: str, front: str) -> None:
    with serving(backend, front, proxy_headers=True) as handle:
        seen = fetch(handle.port, headers=SPOOF)
    assert seen["client"] == "203.0.113.7"
    assert seen["scheme"] == "https"
    assert seen["host"] == "shop.example"
    if front == "tornado":
        assert seen["url"] == "https://shop.example/"
    elif front == "flask":
        assert seen["url"] == "https://shop.example/"
        assert seen["built"] == "https://shop.example/"


@pytest.mark.parametrize("front", list(FRONT_ENDS))
def test_an_untrusted_peer_cannot_spoof_anything(backend: str, front: str) -> None:
    with serving(backend, front, proxy_headers=True) as handle:
        spoofed = fetch(handle.port, headers=SPOOF, source=STRANGER)
        forwarded = fetch(handle.port, source=STRANGER, headers={
            "Forwarded": 'for=203.0.113.7;proto=https;host="shop.example"'
        })
    for seen in (spoofed, forwarded):
        assert seen["client"] == STRANGER
        assert seen["scheme"] == "http"
        assert seen["host"] == "backend:8000"


def test_without_proxy_headers_even_localhost_is_not_believed(backend: str) -> None:
    with running_server(backend, flask_app()) as handle:
        seen = fetch(handle.port, headers=SPOOF)
    assert (seen["client"], seen["scheme"], seen["host"]) == (PROXY, "http", "backend:8000")


@pytest.mark.parametrize(
    ("allow", "source", "believed"),
    [
        ("*", STRANGER, True),
        ("127.0.0.0/30", STRANGER, True),
        ("127.0.0.0/31", STRANGER, False),  # 127.0.0.0 and .1 only
        ("10.0.0.1, 127.0.0.2", STRANGER, True),
        ("10.0.0.0/8", PROXY, False),
    ],
)
def test_forwarded_allow_ips(backend: str, allow: str, source: str, believed: bool) -> None:
    # Giving the trusted peers turns proxy headers on, as on uvicorn's command line.
    with running_server(backend, tornado_app(), forwarded_allow_ips=allow) as handle:
        seen = fetch(handle.port, headers=SPOOF, source=source)
    assert (seen["client"] == "203.0.113.7") is believed
    assert seen["client"] == ("203.0.113.7" if believed else source)


def test_the_environment_names_the_trusted_peers(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", STRANGER)
    with running_server(backend, tornado_app()) as handle:
        seen = fetch(handle.port, headers=SPOOF, source=STRANGER)
        local = fetch(handle.port, headers=SPOOF, source=PROXY)
    assert seen["client"] == "203.0.113.7"
    assert local["client"] == PROXY


def test_hops_through_several_proxies(backend: str) -> None:
    headers = {
        # The left-most entry is the client's own lie; 10.0.0.5 is the
        # first proxy we trust, so the client is who connected to it.
        "X-Forwarded-For": "6.6.6.6, 198.51.100.9, 10.0.0.5",
        "X-Forwarded-Proto": "https, http",
    }
    with running_server(backend, flask_app(), forwarded_allow_ips="127.0.0.1,10.0.0.0/8") as h:
        seen = fetch(h.port, headers=headers)
        forwarded = fetch(h.port, headers={
            "Forwarded": 'for=6.6.6.6, for="[2001:db8::1]:4711";proto=https;host=a.example, '
                         "for=10.0.0.5;proto=http"
        })
    assert (seen["client"], seen["scheme"]) == ("198.51.100.9", "https")
    assert (forwarded["client"], forwarded["scheme"], forwarded["host"]) == (
        "2001:db8::1", "https", "a.example"
    )


def test_malformed_values_change_nothing(backend: str) -> None:
    with running_server(backend, tornado_app(), proxy_headers=True) as handle:
        seen = fetch(handle.port, headers={
            "X-Forwarded-For": "not-an-address",
            "X-Forwarded-Proto": "gopher",
            "X-Forwarded-Host": "bad host/",
        })
        broken = fetch(handle.port, headers={"Forwarded": 'for="203.0.113.7;proto=https'})
    for values in (seen, broken):
        assert (values["client"], values["scheme"], values["host"]) == (
            PROXY, "http", "backend:8000"
        )


def test_x_forwarded_fields_win_over_forwarded(backend: str) -> None:
    with running_server(backend, flask_app(), proxy_headers=True) as handle:
        seen = fetch(handle.port, headers={
            "X-Forwarded-For": "198.51.100.1",
            "Forwarded": "for=203.0.113.7;proto=https",
        })
    assert (seen["client"], seen["scheme"]) == ("198.51.100.1", "http")


def test_tornado_xheaders_still_read_x_real_ip(backend: str) -> None:
    # xheaders trusts every peer, as in Tornado, with or without proxy headers.
    class Seen(RequestHandler):
        def get(self) -> None:
            self.write({"client": self.request.remote_ip, "scheme": self.request.protocol})

    app = Application([("/", Seen)], xheaders=True)
    with running_server(backend, app) as handle:
        seen = fetch(handle.port, source=STRANGER,
                     headers={"X-Real-Ip": "192.0.2.44", "X-Scheme": "https"})
    assert seen == {"client": "192.0.2.44", "scheme": "https"}


@pytest.mark.parametrize("front", ["flask", "asgi"])
def test_websocket_scheme_is_wss_behind_a_tls_proxy(backend: str, front: str) -> None:
    forwarding = [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https")]
    with (
        serving(backend, front, proxy_headers=True) as handle,
        WSClient(handle.port, "/ws", headers=forwarding) as client,
    ):
        seen = json.loads(client.receive())
    assert seen == {"client": "203.0.113.7", "scheme": "wss"}


def test_the_access_log_names_the_real_client(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("tests.proxy.access")
    with (
        caplog.at_level(logging.INFO, logger=logger.name),
        running_server(backend, tornado_app(), proxy_headers=True,
                       access_log=make_access_log(logger)) as handle,
    ):
        fetch(handle.port, headers=SPOOF)
        fetch(handle.port, headers=SPOOF, source=STRANGER)
    lines = [record.getMessage() for record in caplog.records if record.name == logger.name]
    # Sorted: a line is written once its response is out, and on the threads
    # backend the second connection's may come first.
    assert sorted(line.split()[0] for line in lines) == sorted(["203.0.113.7", STRANGER])


@pytest.mark.parametrize("front", ["flask", "wsgi", "asgi"])
def test_root_path(backend: str, front: str) -> None:
    # The proxy serves the app under /shop and strips the prefix, as uvicorn's
    # --root-path expects.
    with serving(backend, front, root_path="/shop") as handle:
        seen = fetch(handle.port, "/")
    if front == "flask":
        assert seen["url"] == "http://backend:8000/shop/"
        assert seen["built"] == "http://backend:8000/shop/"
    elif front == "wsgi":
        assert seen["url"] == "/shop|/"
    elif front == "asgi":
        assert seen["url"] == "/shop|/shop/"  # uvicorn's scope: path includes root_path


def test_root_path_must_be_a_path() -> None:
    with (
        pytest.raises(ValueError, match="root_path"),
        running_server("asyncio", tornado_app(), root_path="shop"),
    ):
        pass


# -- the same options through App.run and Application.listen -----------------------


@contextlib.contextmanager
def running_in_thread(run: Callable[..., None], *args: Any, **options: Any) -> Iterator[int]:
    """Call the blocking *run* in a thread; yield the port it serves on."""
    handles: list[Any] = []
    ready = threading.Event()

    def started(handle: Any) -> None:
        handles.append(handle)
        ready.set()

    thread = threading.Thread(
        target=run, args=args, daemon=True,
        kwargs={"started": started, "handle_signals": False, **options},
    )
    thread.start()
    assert ready.wait(10)
    try:
        yield handles[0].port
    finally:
        handles[0].shutdown()
        thread.join(10)


def test_app_run_takes_the_options(backend: str) -> None:
    app = flask_app()
    with running_in_thread(app.run, "127.0.0.1", 0, backend=backend, proxy_headers=True,
                           root_path="/shop") as port:
        seen = fetch(port, headers=SPOOF)
    assert (seen["client"], seen["url"]) == ("203.0.113.7", "https://shop.example/shop/")


def test_application_listen_takes_the_options_and_tornados_xheaders(backend: str) -> None:
    with running_in_thread(tornado_app().listen, 0, backend=backend,
                           forwarded_allow_ips=STRANGER) as port:
        assert fetch(port, headers=SPOOF, source=STRANGER)["client"] == "203.0.113.7"
        assert fetch(port, headers=SPOOF)["client"] == PROXY

    class Seen(RequestHandler):
        def get(self) -> None:
            self.write({"client": self.request.remote_ip})

    with running_in_thread(Application([("/", Seen)]).listen, 0, backend=backend,
                           xheaders=True) as port:
        assert fetch(port, source=STRANGER, headers={"X-Real-Ip": "192.0.2.5"}) == {
            "client": "192.0.2.5"
        }
