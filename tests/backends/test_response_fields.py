"""``Date`` and ``Server`` on every backend: real servers, read from the raw bytes.

Raw bytes rather than a client library, so a duplicated field shows as two lines.
The in-memory checks, against a fake wall clock, are in
``tests/protocol/test_response_fields.py``.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import crosswind.app
import crosswind.web
import pytest
from crosswind.adapters import ASGIContainer, WSGIContainer
from crosswind.httpdate import parse_http_date

from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

TIMEOUT = 5.0
GET = b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"


def flask_app() -> Any:
    app = crosswind.app.App(__name__)

    @app.route("/")
    def index() -> Any:
        return "hi"

    @app.route("/own")
    def own() -> Any:
        return "hi", 200, {"Date": "Sat, 01 Jan 2000 00:00:00 GMT", "Server": "mine"}

    return app


def wsgi_app() -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    return WSGIContainer(app)


def asgi_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # lifespan: nothing to set up
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hi"})

    return ASGIContainer(app)


def web_app() -> Any:
    class Hello(crosswind.web.RequestHandler):
        def get(self) -> None:
            self.write("hi")

    return crosswind.web.Application([(r"/", Hello)])


APPS = {"crosswind.app": flask_app, "WSGIContainer": wsgi_app, "ASGIContainer": asgi_app,
        "crosswind.web": web_app}


def exchange(port: int, request: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Send *request* and read the answer to its end: its status line and its fields."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    fields = [line.split(b":", 1) for line in head[1:]]
    return head[0], [(name.lower(), value.strip()) for name, value in fields]


def values(fields: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for field, value in fields if field == name]


def assert_one_date_of_now(fields: list[tuple[bytes, bytes]], before: float) -> None:
    [date] = values(fields, b"date")
    parsed = parse_http_date(date.decode())
    assert parsed is not None
    # HTTP-dates have whole seconds: the one of the request, or the next.
    assert int(before) <= parsed.timestamp() <= time.time()


@pytest.mark.parametrize(
    ("kind", "backend"),
    # An ASGI application needs an event loop: the threaded backend refuses it.
    [(kind, backend) for kind in sorted(APPS) for backend in BACKENDS
     if (kind, backend) != ("ASGIContainer", "threads")],
)
def test_every_kind_of_application_answers_with_one_date_and_one_server(
    backend: str, kind: str
) -> None:
    with running_server(backend, APPS[kind]()) as handle:
        before = time.time()
        status, fields = exchange(handle.port, GET)
    assert status == b"HTTP/1.1 200 OK"
    assert_one_date_of_now(fields, before)
    assert values(fields, b"server") == [b"crosswind"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_malformed_request_is_answered_with_a_date(backend: str) -> None:
    with running_server(backend, flask_app()) as handle:
        before = time.time()
        status, fields = exchange(handle.port, b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
    assert status == b"HTTP/1.1 400 Bad Request"
    assert_one_date_of_now(fields, before)
    assert values(fields, b"server") == [b"crosswind"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_applications_own_date_and_server_are_not_duplicated(backend: str) -> None:
    with running_server(backend, flask_app()) as handle:
        _, fields = exchange(handle.port, GET.replace(b"/", b"/own", 1))
    assert values(fields, b"date") == [b"Sat, 01 Jan 2000 00:00:00 GMT"]
    assert values(fields, b"server") == [b"mine"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["crosswind.app", "crosswind.web"])
def test_without_the_server_header_no_server_field_is_sent(backend: str, kind: str) -> None:
    with running_server(backend, APPS[kind](), server_header=False) as handle:
        before = time.time()
        _, fields = exchange(handle.port, GET)
        _, refused = exchange(handle.port, b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
    assert values(fields, b"server") == [] and values(refused, b"server") == []
    assert_one_date_of_now(fields, before)
