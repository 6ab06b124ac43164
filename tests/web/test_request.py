"""HTTPServerRequest on its own, Application hooks, and how a handler meets
the exchange: close notices, detach ownership, custom logging and static classes."""

from __future__ import annotations

import logging

import pytest
from crosswind._sync import run_sync
from crosswind.headers import Headers
from crosswind.protocol.driver import ConnectionDriver
from crosswind.testing import Client
from crosswind.testing.client import MemoryTransport
from crosswind.web import (
    Application,
    HandlerDelegate,
    HTTPError,
    HTTPServerRequest,
    RequestHandler,
    StaticFileHandler,
    stream_request_body,
)
from crosswind.web.request import is_valid_ip


def make_app(handlers, **settings) -> Application:
    settings.setdefault("clock", lambda: 1_700_000_000.0)
    settings.setdefault("token_source", lambda n: b"\x03" * n)
    return Application(handlers, **settings)


def test_request_built_directly():
    headers = Headers({"Host": "Example.org:8443", "Cookie": "a=1; b=2"})
    request = HTTPServerRequest("POST", "/x/y?q=1&q=2&e=", "HTTP/1.1", headers, protocol="https")
    assert (request.path, request.query) == ("/x/y", "q=1&q=2&e=")
    assert request.query_arguments == {"q": [b"1", b"2"], "e": [b""]}
    assert request.arguments == request.query_arguments
    assert request.host_name == "example.org"
    assert request.full_url() == "https://Example.org:8443/x/y?q=1&q=2&e="
    assert {k: m.value for k, m in request.cookies.items()} == {"a": "1", "b": "2"}
    assert request.exchange is None and request.get_ssl_certificate() is None
    assert "method='POST'" in repr(request)


def test_ipv6_host_name_and_default_host():
    assert HTTPServerRequest(headers=Headers({"Host": "[::1]:80"})).host_name == "[::1]"
    assert HTTPServerRequest().host == "127.0.0.1"


def test_form_body_parsing_with_charset():
    headers = Headers({"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"})
    request = HTTPServerRequest("POST", "/?a=q", headers=headers, body=b"a=%E9t%E9&b=")
    request._parse_body()
    assert request.body_arguments == {"a": ["été".encode()], "b": [b""]}
    assert request.arguments == {"a": [b"q", "été".encode()], "b": [b""]}


def test_arguments_read_before_the_body_is_parsed_still_take_its_fields():
    headers = Headers({"Content-Type": "application/x-www-form-urlencoded"})
    request = HTTPServerRequest("POST", "/?a=q", headers=headers, body=b"a=b&c=d")
    assert request.arguments == {"a": [b"q"]}
    request._parse_body()
    assert request.arguments == {"a": [b"q", b"b"], "c": [b"d"]}


def test_arguments_keep_their_value_when_the_parts_are_replaced():
    request = HTTPServerRequest("GET", "/?a=1")
    request.query_arguments = {"z": [b"9"]}
    request.body_arguments = {"y": [b"8"]}
    assert request.arguments == {"a": [b"1"]}
    request.arguments = {"x": [b"7"]}
    request.files = {"f": []}
    assert (request.arguments, request.files) == ({"x": [b"7"]}, {"f": []})


def test_other_bodies_are_not_parsed():
    request = HTTPServerRequest("POST", "/", headers=Headers({"Content-Type": "application/json"}), body=b'{"a": 1}')
    request._parse_body()
    assert request.body_arguments == {} and request.files == {}


def test_request_time_reads_the_clock_at_each_call():
    now = [100.0]
    request = HTTPServerRequest(clock=lambda: now[0])
    now[0] = 100.5
    assert request.request_time() == 0.5
    now[0] = 200.0
    assert request.request_time() == 100.0


def test_the_access_log_reads_the_request_time_as_the_response_finishes():
    # As in Tornado: the log sees the time up to the finish, and the count goes on
    # afterwards (Tornado's request_time() reads time.time() until it is asked).
    from crosswind.testing import Client
    from crosswind.web import Application, RequestHandler

    now = [100.0]
    seen: dict[str, float] = {}

    class Slow(RequestHandler):
        def get(self):
            now[0] = 100.25
            self.write("done")

        def on_finish(self):
            now[0] = 101.0
            seen["on_finish"] = self.request.request_time()

    def log(handler):
        seen["logged"] = handler.request.request_time()

    app = Application([(r"/", Slow)], clock=lambda: now[0], log_function=log)
    assert Client(app).get("/").text == "done"
    assert seen == {"logged": 0.25, "on_finish": 1.0}


@pytest.mark.parametrize("ip,valid", [("1.2.3.4", True), ("::1", True), ("1.2.3", False), ("", False), ("a\x00", False)])
def test_is_valid_ip(ip, valid):
    assert is_valid_ip(ip) is valid


def test_get_handler_delegate_and_find_handler():
    class Target(RequestHandler):
        pass

    app = make_app([(r"/t/(\d+)", Target, {"k": 1})])
    found = app.find_handler(HTTPServerRequest(uri="/t/5"))
    assert found == HandlerDelegate(Target, {"k": 1}, [b"5"], {})
    missing = app.find_handler(HTTPServerRequest(uri="/nope"))
    assert missing.handler_class.__name__ == "ErrorHandler" and missing.handler_kwargs == {"status_code": 404}


def test_log_exception_can_be_overridden(caplog):
    seen = []

    class Quiet(RequestHandler):
        def get(self):
            raise HTTPError(409, "conflict %s", "details")

        def log_exception(self, typ, value, tb):
            seen.append((typ.__name__, value.get_message()))

    with caplog.at_level(logging.WARNING, logger="crosswind.general"):
        assert Client(make_app([(r"/", Quiet)])).get("/").status_code == 409
    assert seen == [("HTTPError", "conflict details")]
    assert not [r for r in caplog.records if r.name == "crosswind.general"]


def test_static_handler_class_setting(tmp_path):
    (tmp_path / "f.txt").write_text("content")

    class Tagged(StaticFileHandler):
        def set_extra_headers(self, path):
            self.set_header("X-Static", path)

        @classmethod
        def make_static_url(cls, settings, path, include_version=True):
            return "/cdn/" + path

    class Page(RequestHandler):
        include_host = True

        def get(self):
            self.write(self.static_url("f.txt"))

    client = Client(make_app([(r"/", Page)], static_path=str(tmp_path), static_handler_class=Tagged))
    assert client.get("/static/f.txt").headers["X-Static"] == "f.txt"
    assert client.get("/").text == "http://testserver/cdn/f.txt"


def test_get_template_path_override(tmp_path):
    (tmp_path / "t.html").write_text("from {{ where }}")

    class Custom(RequestHandler):
        def get_template_path(self):
            return str(tmp_path)

        def get(self):
            self.render("t.html", where="override")

    assert Client(make_app([(r"/", Custom)])).get("/").text == "from override"


def test_client_leaving_mid_body_calls_on_connection_close():
    events = []

    @stream_request_body
    class Upload(RequestHandler):
        def data_received(self, chunk):
            events.append(("data", len(chunk)))

        def put(self):
            events.append("put")

        def on_connection_close(self):
            events.append("closed")

    client = Client(make_app([(r"/", Upload)]))
    raw = client.raw([b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", b"x" * 10])
    assert raw == b""
    assert events == [("data", 10), "closed"]


def test_finish_clears_the_close_callback_a_handler_set():
    seen = []

    class Watches(RequestHandler):
        def get(self):
            connection = self.request.connection
            connection.set_close_callback(lambda: seen.append("closed"))
            seen.append(connection.close_callback is not None)
            self.finish("done")
            # A client leaving now has nothing left to interrupt.
            seen.append(connection.close_callback)

    assert Client(make_app([(r"/", Watches)])).get("/").text == "done"
    assert seen == [True, None]


def test_detached_stream_left_open_keeps_the_connection_open():
    kept = []

    class Keep(RequestHandler):
        async def get(self):
            stream = self.detach()
            kept.append(stream)
            await stream.write(b"raw bytes")

    transport = MemoryTransport([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    driver = ConnectionDriver(transport, make_app([(r"/", Keep)]), clock=lambda: 0.0)
    run_sync(driver.run())
    assert bytes(transport.sent) == b"raw bytes"
    assert transport.closed is False  # the stream owns it now
    run_sync(kept[0].close())
    assert transport.closed is True and kept[0].closed()


def test_a_detached_exchange_is_not_answered_by_the_driver():
    class Silent(RequestHandler):
        async def get(self):
            await self.detach().close()

    assert Client(make_app([(r"/", Silent)])).raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b""


def test_finish_returns_an_awaitable_that_sends():
    class Awaiting(RequestHandler):
        async def get(self):
            self.write("a")
            await self.finish()
            self.events = "finished"

    assert Client(make_app([(r"/", Awaiting)])).get("/").text == "a"


def test_application_is_usable_as_wsgi_and_asgi_callables():
    app = make_app([])
    assert callable(app.wsgi) and app.wsgi is app.wsgi
    assert callable(app.asgi) and app.asgi is app.asgi
