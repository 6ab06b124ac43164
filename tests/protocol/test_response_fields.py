"""``Date`` and ``Server``: stamped once, at the connection, on every kind of response.

The connection is built here with a fake wall clock, so each ``Date`` is compared with
the exact second it should name.  The same checks against real servers on every
backend are in ``tests/backends/test_response_fields.py``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import crosswind.app
import crosswind.web
import pytest
from crosswind.adapters import ASGIContainer, WSGIContainer
from crosswind.errors import RequestError
from crosswind.httpdate import parse_http_date
from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.http1.connection import ServerConnection
from crosswind.testing.client import MemoryTransport, parse_responses

NOW = 1700000000.75
DATE = "Tue, 14 Nov 2023 22:13:20 GMT"
APP_DATE = "Sat, 01 Jan 2000 00:00:00 GMT"
GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def flask_app(own: bool) -> Any:
    app = crosswind.app.App(__name__)

    @app.route("/")
    def index() -> Any:
        if own:
            return "hi", 200, {"Date": APP_DATE, "Server": "mine"}
        return "hi"

    return app


def wsgi_app(own: bool) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", "text/plain")]
        if own:
            headers += [("Date", APP_DATE), ("Server", "mine")]
        start_response("200 OK", headers)
        return [b"hi"]

    return WSGIContainer(app)


def asgi_app(own: bool) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain")]
        if own:
            headers += [(b"date", APP_DATE.encode()), (b"server", b"mine")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hi"})

    return ASGIContainer(app)


def exchange_app(own: bool) -> Any:
    class Native:
        async def handle(self, exchange: Exchange) -> None:
            headers = [(b"Content-Type", b"text/plain")]
            if own:
                headers += [(b"Date", APP_DATE.encode()), (b"Server", b"mine")]
            await exchange.respond(200, headers, b"hi")

    return Native()


def web_app(own: bool) -> Any:
    class Hello(crosswind.web.RequestHandler):
        def get(self) -> None:
            if own:
                self.set_header("Date", APP_DATE)
                self.set_header("Server", "mine")
            self.write("hi")

    # The handler's own Date comes from the application's clock, the same second here.
    return crosswind.web.Application([(r"/", Hello)], clock=lambda: NOW)


APPS: dict[str, Callable[[bool], Any]] = {
    "crosswind.app": flask_app,
    "WSGIContainer": wsgi_app,
    "ASGIContainer": asgi_app,
    "Exchange": exchange_app,
    "crosswind.web": web_app,
}


def serve(app: Any, data: bytes, **options: Any) -> bytes:
    transport = MemoryTransport([data])
    driver = ConnectionDriver(transport, app, clock=lambda: 0.0, **options)
    asyncio.run(driver.run())
    return bytes(transport.sent)


@pytest.mark.parametrize("kind", sorted(APPS))
def test_each_kind_of_application_gets_one_date_and_one_server(kind: str) -> None:
    out = serve(APPS[kind](False), GET + GET, wall_clock=lambda: NOW)
    responses = parse_responses(out)
    assert len(responses) == 2
    for response in responses:
        assert response.status_code == 200 and response.content == b"hi"
        assert response.headers.get_list("Date") == [DATE]
        assert parse_http_date(DATE).timestamp() == int(NOW)  # type: ignore[union-attr]
        assert response.headers.get_list("Server") == ["crosswind"]


@pytest.mark.parametrize("kind", sorted(APPS))
def test_an_applications_own_date_and_server_are_kept_without_a_second_one(kind: str) -> None:
    [response] = parse_responses(serve(APPS[kind](True), GET, wall_clock=lambda: NOW))
    assert response.headers.get_list("Date") == [APP_DATE]
    assert response.headers.get_list("Server") == ["mine"]


@pytest.mark.parametrize("kind", sorted(APPS))
def test_without_the_server_header_no_server_field_is_added(kind: str) -> None:
    out = serve(APPS[kind](False), GET, wall_clock=lambda: NOW, server_header=False)
    [response] = parse_responses(out)
    assert "Server" not in response.headers
    assert response.headers.get_list("Date") == [DATE]
    # An application's own is still sent.
    out = serve(APPS[kind](True), GET, wall_clock=lambda: NOW, server_header=False)
    assert parse_responses(out)[0].headers.get_list("Server") == ["mine"]


def test_a_handler_that_clears_its_server_field_sends_none() -> None:
    class Anonymous(crosswind.web.RequestHandler):
        def get(self) -> None:
            self.clear_header("Server")
            self.write("hi")

    app = crosswind.web.Application([(r"/", Anonymous)])
    [response] = parse_responses(serve(app, GET, wall_clock=lambda: NOW))
    assert "Server" not in response.headers


def test_without_a_wall_clock_no_date_is_added() -> None:
    # The in-memory test client's way, like werkzeug's: no Date it did not ask for.
    [response] = parse_responses(serve(exchange_app(False), GET))
    assert "Date" not in response.headers


def test_the_date_moves_with_the_wall_clock() -> None:
    now = [NOW]

    class Ticking:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [(b"Content-Length", b"0")], b"")
            now[0] += 1.0

    out = serve(Ticking(), GET * 3, wall_clock=lambda: now[0])
    dates = [response.headers["Date"] for response in parse_responses(out)]
    assert dates == [DATE, "Tue, 14 Nov 2023 22:13:21 GMT", "Tue, 14 Nov 2023 22:13:22 GMT"]


# -- responses the connection makes itself -------------------------------------------


def test_a_malformed_request_is_answered_with_a_date() -> None:
    out = serve(exchange_app(False), b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
                wall_clock=lambda: NOW)
    [response] = parse_responses(out)
    assert response.status_code == 400
    assert response.headers.get_list("Date") == [DATE]
    assert response.headers.get_list("Server") == ["crosswind"]


def test_an_application_failure_is_answered_with_a_date() -> None:
    class Failing:
        async def handle(self, exchange: Exchange) -> None:
            raise RuntimeError("boom")

    [response] = parse_responses(serve(Failing(), GET, wall_clock=lambda: NOW))
    assert response.status_code == 500 and response.headers.get_list("Date") == [DATE]


@pytest.mark.parametrize("status", [408, 413, 431])
def test_send_error_stamps_every_status(status: int) -> None:
    conn = ServerConnection(clock=lambda: 0.0, wall_clock=lambda: NOW, server="crosswind")
    conn.receive_data(GET)
    conn.next_event()
    head, _, _ = conn.send_error(RequestError("no", status)).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0].startswith(b"HTTP/1.1 %d " % status)
    assert lines.count(b"Date: " + DATE.encode()) == 1
    assert lines.count(b"Server: crosswind") == 1


def test_send_error_without_a_wall_clock_or_server_adds_neither() -> None:
    conn = ServerConnection(clock=lambda: 0.0)
    out = conn.send_error(RequestError("bad request", 400))
    assert out == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 12\r\nConnection: close\r\n\r\nbad request\n"
    )


def test_a_handler_that_clears_then_sets_a_server_field_sends_its_own() -> None:
    class Renamed(crosswind.web.RequestHandler):
        def get(self) -> None:
            self.clear_header("Server")
            self.set_header("Server", "mine")
            self.write("hi")

    app = crosswind.web.Application([(r"/", Renamed)])
    [response] = parse_responses(serve(app, GET, wall_clock=lambda: NOW))
    assert response.headers.get_list("Server") == ["mine"]


def test_a_server_field_left_out_is_left_out_of_that_response_only() -> None:
    class First:
        async def handle(self, exchange: Exchange) -> None:
            if exchange.path == "/anonymous":
                exchange.omit_server_header()
            await exchange.respond(200, [(b"Content-Length", b"0")], b"")

    out = serve(First(), GET.replace(b"/", b"/anonymous", 1) + GET, wall_clock=lambda: NOW)
    first, second = parse_responses(out)
    assert "Server" not in first.headers
    assert second.headers.get_list("Server") == ["crosswind"]


def test_behind_a_wsgi_server_a_handler_keeps_its_server_field_and_may_clear_it() -> None:
    # The foreign server owns Date and Server there; crosswind's setting does not apply.
    from crosswind.adapters import to_wsgi

    class Hello(crosswind.web.RequestHandler):
        def get(self) -> None:
            if self.get_argument("anonymous", None):
                self.clear_header("Server")
            self.write("hi")

    wsgi = to_wsgi(crosswind.web.Application([(r"/", Hello)]))

    def fields(query: str) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        environ = {
            "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": query,
            "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
            "wsgi.errors": io.StringIO(), "wsgi.multithread": False, "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen.extend(headers)
            return lambda data: None

        assert b"".join(wsgi(environ, start_response)) == b"hi"
        return seen

    assert [value for name, value in fields("") if name == "Server"] == ["crosswind"]
    assert [name for name, _ in fields("anonymous=1") if name == "Server"] == []
