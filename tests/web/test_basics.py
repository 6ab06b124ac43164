"""crosswind.web basics through the in-memory client: routing, arguments,
status and headers, output, errors, ETags, redirects, transforms, logging."""

from __future__ import annotations

import datetime
import gzip
import logging

import pytest
from crosswind.testing import Client
from crosswind.web import (
    Application,
    ErrorHandler,
    Finish,
    HTTPError,
    MissingArgumentError,
    OutputTransform,
    RedirectHandler,
    RequestHandler,
    addslash,
    removeslash,
    url,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = 1_700_000_000.0


def make_app(handlers, **settings):
    settings.setdefault("clock", lambda: NOW)
    settings.setdefault("token_source", lambda n: bytes(range(n)))
    return Application(handlers, **settings)


def client_for(handlers, **settings) -> Client:
    return Client(make_app(handlers, **settings))


# -- routing ----------------------------------------------------------------


class EchoArgs(RequestHandler):
    def get(self, *args):
        self.write({"args": list(args), "kwargs": self.path_kwargs})


class EchoKwargs(RequestHandler):
    def get(self, **kwargs):
        self.write({"kwargs": kwargs})


def test_positional_and_named_groups_are_unquoted_and_decoded():
    client = client_for([(r"/a/(\w+)/(.*)", EchoArgs), (r"/k/(?P<name>[^/]+)", EchoKwargs)])
    assert client.get("/a/x/%C3%A9%20y").json() == {"args": ["x", "é y"], "kwargs": {}}
    assert client.get("/k/b%2Fc").json() == {"kwargs": {"name": "b/c"}}


def test_invalid_utf8_in_path_group_is_400():
    client = client_for([(r"/a/(.*)", EchoArgs)])
    assert client.get("/a/%FF").status_code == 400


def test_patterns_are_anchored_and_first_match_wins():
    class First(RequestHandler):
        def get(self):
            self.write("first")

    class Second(RequestHandler):
        def get(self, rest):
            self.write("second " + rest)

    client = client_for([(r"/x", First), (r"/x(.*)", Second)])
    assert client.get("/x").text == "first"
    assert client.get("/xy").text == "second y"


def test_unknown_path_is_tornado_404_page():
    response = client_for([]).get("/missing")
    assert response.status_code == 404
    assert response.text == "<html><title>404: Not Found</title><body>404: Not Found</body></html>"


def test_default_handler_class():
    class Fallback(RequestHandler):
        def initialize(self, word):
            self.word = word

        def get(self):
            self.set_status(410)
            self.write(self.word)

    client = client_for(
        [], default_handler_class=Fallback, default_handler_args={"word": "gone"}
    )
    response = client.get("/anything")
    assert (response.status_code, response.text) == (410, "gone")


def test_host_tables_and_default_host():
    class Named(RequestHandler):
        def initialize(self, label):
            self.label = label

        def get(self):
            self.write(self.label)

    app = make_app([(r"/any", Named, {"label": "wildcard"})], default_host="main.test")
    app.add_handlers(r"main\.test", [(r"/", Named, {"label": "main"})])
    app.add_handlers(r"other\.test", [(r"/", Named, {"label": "other"})])
    client = Client(app)
    assert client.get("/", headers={"Host": "other.test:8080"}).text == "other"
    assert client.get("/", headers={"Host": "MAIN.test"}).text == "main"
    # An unknown host falls back to default_host's table...
    assert client.get("/", headers={"Host": "unknown.test"}).text == "main"
    # ...unless a proxy set X-Real-Ip (Tornado's rule).
    response = client.get("/", headers={"Host": "unknown.test", "X-Real-Ip": "10.0.0.1"})
    assert response.status_code == 404
    assert client.get("/any", headers={"Host": "other.test"}).text == "wildcard"


def test_reverse_url_quotes_arguments():
    app = make_app([url(r"/user/(\d+)/(.*)", EchoArgs, name="user")])
    assert app.reverse_url("user", 42, "a b/c") == "/user/42/a%20b/c"
    with pytest.raises(KeyError):
        app.reverse_url("nope")


def test_handler_given_by_dotted_name():
    client = client_for([(r"/", "crosswind.web.stock_handlers.ErrorHandler", {"status_code": 418})])
    assert client.get("/").status_code == 418


def test_route_target_must_be_a_handler():
    with pytest.raises(TypeError, match="RequestHandler"):
        make_app([(r"/", object)])


def test_initialize_receives_route_kwargs_and_unexpected_kwargs_fail():
    class Plain(RequestHandler):
        def get(self):
            self.write("x")

    client = client_for([(r"/", Plain, {"surprise": 1})])
    assert client.get("/").status_code == 500


# -- arguments --------------------------------------------------------------


class ArgHandler(RequestHandler):
    def get(self):
        self.write(
            {
                "last": self.get_argument("a", None),
                "all": self.get_arguments("a"),
                "raw": self.get_argument("a", None, strip=False),
                "query": self.get_query_arguments("a"),
            }
        )

    def post(self):
        self.write(
            {
                "body": self.get_body_arguments("a"),
                "query": self.get_query_arguments("a"),
                "all": self.get_arguments("a"),
                "required": self.get_argument("must"),
            }
        )


def test_get_argument_returns_last_value_stripped():
    data = client_for([(r"/", ArgHandler)]).get("/?a=1&a=%20two%20").json()
    assert data == {"last": "two", "all": ["1", "two"], "raw": " two ", "query": ["1", "two"]}


def test_control_characters_become_spaces():
    data = client_for([(r"/", ArgHandler)]).get("/?a=x%01y").json()
    assert data["last"] == "x y"


def test_body_and_query_arguments_are_separate_and_merged():
    client = client_for([(r"/", ArgHandler)])
    data = client.post("/?a=q", data={"a": "b", "must": "m"}).json()
    assert data == {"body": ["b"], "query": ["q"], "all": ["q", "b"], "required": "m"}


def test_missing_argument_is_400():
    response = client_for([(r"/", ArgHandler)]).post("/", data={"a": "b"})
    assert response.status_code == 400
    assert "400: Bad Request" in response.text


def test_missing_argument_error_is_an_http_error():
    error = MissingArgumentError("x")
    assert isinstance(error, HTTPError) and error.status_code == 400 and error.arg_name == "x"
    assert str(error) == "HTTP 400: Bad Request (Missing argument x)"


def test_invalid_utf8_argument_is_400_only_when_used():
    class Lazy(RequestHandler):
        def get(self):
            if self.get_argument("use", None):
                self.get_argument("bad")
            self.write("fine")

    client = client_for([(r"/", Lazy)])
    assert client.get("/?bad=%FF").text == "fine"
    assert client.get("/?bad=%FF&use=1").status_code == 400


def test_decode_argument_can_be_overridden():
    class Latin(RequestHandler):
        def decode_argument(self, value, name=None):
            return value.decode("latin-1")

        def get(self, part):
            self.write(part + "|" + self.get_argument("q"))

    client = client_for([(r"/(.*)", Latin)])
    assert client.get("/%E9?q=%E9").text == "é|é"


def test_multipart_files_and_fields():
    class Upload(RequestHandler):
        def post(self):
            upload = self.request.files["doc"][0]
            self.write(
                {
                    "field": self.get_body_argument("title"),
                    "filename": upload.filename,
                    "type": upload["content_type"],
                    "size": len(upload.body),
                }
            )

    body = (
        b"--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n"
        b"--XX\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n"
        b"Content-Type: text/plain\r\n\r\nabcdef\r\n--XX--\r\n"
    )
    response = client_for([(r"/", Upload)]).post(
        "/", data=body, headers={"Content-Type": "multipart/form-data; boundary=XX"}
    )
    assert response.json() == {"field": "Hello", "filename": "a.txt", "type": "text/plain", "size": 6}


def test_malformed_multipart_is_400():
    class Upload(RequestHandler):
        def post(self):
            self.write("no")

    response = client_for([(r"/", Upload)]).post(
        "/", data=b"garbage", headers={"Content-Type": "multipart/form-data; boundary=XX"}
    )
    assert response.status_code == 400


@given(st.lists(st.text(min_size=0, max_size=8), min_size=1, max_size=4))
def test_property_arguments_round_trip(values):
    class Echo(RequestHandler):
        def get(self):
            self.write({"v": self.get_arguments("v", strip=False)})

    client = client_for([(r"/", Echo)])
    got = client.get("/", params={"v": values}).json()["v"]
    # Tornado turns C0 controls (except \t\n\v\f\r) into spaces.
    expected = [
        "".join(" " if ("\x00" <= c <= "\x08" or "\x0e" <= c <= "\x1f") else c for c in v)
        for v in values
    ]
    assert got == expected


# -- the request object ------------------------------------------------------


def test_request_attributes():
    class Info(RequestHandler):
        def get(self):
            r = self.request
            self.write(
                {
                    "method": r.method,
                    "uri": r.uri,
                    "path": r.path,
                    "query": r.query,
                    "version": r.version,
                    "host": r.host,
                    "host_name": r.host_name,
                    "remote_ip": r.remote_ip,
                    "protocol": r.protocol,
                    "full_url": r.full_url(),
                    "cookie": r.cookies["c"].value,
                    "header": r.headers["X-Thing"],
                    "time": r.request_time(),
                }
            )

    data = client_for([(r"/p", Info)]).get(
        "/p?x=1", headers={"X-Thing": "y", "Host": "Example.com:81"}, cookies={"c": "v"}
    ).json()
    assert data == {
        "method": "GET",
        "uri": "/p?x=1",
        "path": "/p",
        "query": "x=1",
        "version": "HTTP/1.1",
        "host": "Example.com:81",
        "host_name": "example.com",
        "remote_ip": "127.0.0.1",
        "protocol": "http",
        "full_url": "http://Example.com:81/p?x=1",
        "cookie": "v",
        "header": "y",
        "time": 0.0,
    }


def test_xheaders_setting_trusts_proxy_headers_only_when_enabled():
    class Info(RequestHandler):
        def get(self):
            self.write({"ip": self.request.remote_ip, "proto": self.request.protocol})

    headers = {"X-Forwarded-For": "1.2.3.4, 5.6.7.8", "X-Forwarded-Proto": "https"}
    assert client_for([(r"/", Info)]).get("/", headers=headers).json() == {
        "ip": "127.0.0.1",
        "proto": "http",
    }
    trusted = client_for([(r"/", Info)], xheaders=True)
    assert trusted.get("/", headers=headers).json() == {"ip": "5.6.7.8", "proto": "https"}
    assert trusted.get("/", headers={"X-Real-Ip": "not-an-ip"}).json()["ip"] == "127.0.0.1"


# -- status and headers -------------------------------------------------------


def test_set_status_with_custom_reason_and_unknown_code():
    class Status(RequestHandler):
        def get(self):
            self.set_status(int(self.get_argument("code")), self.get_argument("reason", None))

    client = client_for([(r"/", Status)])
    response = client.get("/?code=299&reason=Fine%20Thing")
    assert (response.status_code, response.reason) == (299, "Fine Thing")
    assert client.get("/?code=599").reason == "Unknown"
    assert client.get("/?code=201&reason=%3Cscript%3E").reason == "Unknown"


def test_header_value_types():
    class Headers(RequestHandler):
        def get(self):
            self.set_header("X-Str", "a")
            self.set_header("X-Bytes", b"b\xe9")
            self.set_header("X-Int", 42)
            self.set_header("X-Date", datetime.datetime(2020, 1, 2, 3, 4, 5))
            self.add_header("X-Multi", "1")
            self.add_header("X-Multi", "2")
            self.set_header("X-Gone", "x")
            self.clear_header("X-Gone")

    response = client_for([(r"/", Headers)]).get("/")
    assert response.headers["X-Str"] == "a"
    assert response.headers["X-Bytes"] == "b\xe9"
    assert response.headers["X-Int"] == "42"
    assert response.headers["X-Date"] == "Thu, 02 Jan 2020 03:04:05 GMT"
    assert response.headers.get_list("X-Multi") == ["1", "2"]
    assert "X-Gone" not in response.headers


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
def test_header_injection_is_refused(value):
    seen = []

    class Inject(RequestHandler):
        def get(self):
            try:
                self.set_header("X-Bad", value)
            except ValueError as exc:
                seen.append(str(exc))
                self.write("refused")

    response = client_for([(r"/", Inject)]).get("/")
    assert response.text == "refused" and "Unsafe header value" in seen[0]
    assert "X-Injected" not in response.headers


def test_unsupported_header_type_is_type_error():
    class Bad(RequestHandler):
        def get(self):
            with pytest.raises(TypeError):
                self.set_header("X", 1.5)
            self.write("ok")

    assert client_for([(r"/", Bad)]).get("/").text == "ok"


def test_default_headers_and_clear():
    class Defaults(RequestHandler):
        def set_default_headers(self):
            self.set_header("Server", "MyServer")
            self.set_header("X-Always", "yes")

        def get(self):
            self.set_header("X-Temp", "1")
            self.write("discarded")
            self.clear()
            self.write("kept")

    response = client_for([(r"/", Defaults)]).get("/")
    assert response.text == "kept"
    assert response.headers["Server"] == "MyServer"
    assert response.headers["X-Always"] == "yes"
    assert "X-Temp" not in response.headers
    assert response.headers["Date"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_default_headers_survive_errors():
    class Failing(RequestHandler):
        def set_default_headers(self):
            self.set_header("X-Always", "yes")

        def get(self):
            raise HTTPError(409)

    response = client_for([(r"/", Failing)]).get("/")
    assert response.status_code == 409 and response.headers["X-Always"] == "yes"


# -- output --------------------------------------------------------------------


def test_write_dict_is_json_and_list_is_refused():
    errors = []

    class Output(RequestHandler):
        def get(self):
            try:
                self.write([1, 2])
            except TypeError as exc:
                errors.append(str(exc))
            self.write({"html": "</script>"})

    response = client_for([(r"/", Output)]).get("/")
    assert response.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert response.content == b'{"html": "<\\/script>"}'
    assert "Lists not accepted for security reasons" in errors[0]


def test_write_after_finish_and_double_finish_raise():
    errors = []

    class Twice(RequestHandler):
        def get(self):
            self.finish("done")
            for attempt in (lambda: self.write("x"), self.finish):
                try:
                    attempt()
                except RuntimeError as exc:
                    errors.append(str(exc))

    response = client_for([(r"/", Twice)]).get("/")
    assert response.text == "done"
    assert errors == ["Cannot write() after finish()", "finish() called twice"]


def test_flush_streams_chunks_without_content_length():
    class Stream(RequestHandler):
        async def get(self):
            self.write("a")
            await self.flush()
            self.write("b")
            self.flush()  # not awaited: still sent, in order
            self.write("c")

    response = client_for([(r"/", Stream)]).get("/")
    assert response.text == "abc"
    assert "Content-Length" not in response.headers
    assert "Etag" not in response.headers


def test_head_gets_headers_and_content_length_but_no_body():
    class Page(RequestHandler):
        def get(self):
            self.write("hello")

        head = get

    response = client_for([(r"/", Page)]).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == "5"


def test_204_and_304_drop_body_headers_and_refuse_bodies():
    class NoContent(RequestHandler):
        def get(self):
            self.set_status(204)

        def post(self):
            self.set_status(204)
            self.write("oops")

    client = client_for([(r"/", NoContent)])
    response = client.get("/")
    assert response.status_code == 204
    assert "Content-Type" not in response.headers and "Content-Length" not in response.headers
    assert client.post("/").status_code == 500


def test_async_verb_and_prepare():
    class Async(RequestHandler):
        async def prepare(self):
            self.seen = ["prepare"]

        async def get(self):
            self.seen.append("get")
            self.write(",".join(self.seen))

    assert client_for([(r"/", Async)]).get("/").text == "prepare,get"


def test_prepare_can_finish_early():
    class Early(RequestHandler):
        def prepare(self):
            self.finish("from prepare")

        def get(self):
            raise AssertionError("not reached")

    assert client_for([(r"/", Early)]).get("/").text == "from prepare"


def test_on_finish_runs_after_response():
    events = []

    class Tracked(RequestHandler):
        def get(self):
            events.append("get")

        def on_finish(self):
            events.append(("on_finish", self.get_status()))

    client_for([(r"/", Tracked)]).get("/")
    assert events == ["get", ("on_finish", 200)]


# -- errors -------------------------------------------------------------------


def test_supported_methods_and_unimplemented_verbs_are_405():
    class OnlyGet(RequestHandler):
        SUPPORTED_METHODS = ("GET", "PROPFIND")

        def get(self):
            self.write("g")

    client = client_for([(r"/", OnlyGet)])
    assert client.post("/").status_code == 405
    assert client.request("PROPFIND", "/").status_code == 405
    assert client.request("BREW", "/").status_code == 405


def test_http_error_reason_and_log_message(caplog):
    class Teapot(RequestHandler):
        def get(self):
            raise HTTPError(418, "secret %s", "detail", reason="I Am A Teapot")

    with caplog.at_level(logging.WARNING):
        response = client_for([(r"/", Teapot)]).get("/")
    assert (response.status_code, response.reason) == (418, "I Am A Teapot")
    assert "secret" not in response.text
    assert "418: I Am A Teapot" in response.text
    assert any("secret detail" in r.getMessage() for r in caplog.records)


def test_http_error_str_and_percent_handling():
    assert str(HTTPError(404)) == "HTTP 404: Not Found"
    assert str(HTTPError(500, "a %s b", "x")) == "HTTP 500: Internal Server Error (a x b)"
    plain = HTTPError(500, "100% sure")
    assert plain.log_message == "100%% sure" and plain.get_message() == "100% sure"


def test_uncaught_exception_is_500_without_traceback(caplog):
    class Boom(RequestHandler):
        def get(self):
            raise ValueError("hidden detail")

    with caplog.at_level(logging.ERROR):
        response = client_for([(r"/", Boom)]).get("/")
    assert response.status_code == 500
    assert "hidden detail" not in response.text
    assert any("Uncaught exception" in r.getMessage() for r in caplog.records)


def test_serve_traceback_shows_traceback():
    class Boom(RequestHandler):
        def get(self):
            raise ValueError("visible detail")

    response = client_for([(r"/", Boom)], serve_traceback=True).get("/")
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "text/plain"
    assert "ValueError: visible detail" in response.text


def test_debug_implies_serve_traceback_and_cache_settings():
    app = make_app([], debug=True, autoreload=False)
    assert app.settings["serve_traceback"] is True
    assert app.settings["compiled_template_cache"] is False
    assert app.settings["static_hash_cache"] is False
    assert app.settings["autoreload"] is False  # an explicit value wins


def test_custom_write_error():
    class Custom(RequestHandler):
        def get(self):
            raise HTTPError(403)

        def write_error(self, status_code, **kwargs):
            self.write({"error": status_code, "has_exc": "exc_info" in kwargs})

    response = client_for([(r"/", Custom)]).get("/")
    assert response.status_code == 403 and response.json() == {"error": 403, "has_exc": True}


def test_send_error_discards_unflushed_output():
    class Send(RequestHandler):
        def get(self):
            self.write("partial")
            self.set_header("X-Lost", "1")
            self.send_error(503, reason="Busy Now")

    response = client_for([(r"/", Send)]).get("/")
    assert (response.status_code, response.reason) == (503, "Busy Now")
    assert "partial" not in response.text and "X-Lost" not in response.headers


def test_error_after_flush_closes_without_completing_the_response():
    class Late(RequestHandler):
        async def get(self):
            self.write("start")
            await self.flush()
            raise ValueError("late")

    client = client_for([(r"/", Late)])
    raw = client.raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert b"start" in raw
    assert not raw.endswith(b"0\r\n\r\n")  # no final chunk: the client sees truncation


def test_error_after_unawaited_flush_still_sends_the_partial_response():
    finished = []

    class Late(RequestHandler):
        def get(self):
            self.write("part")
            self.flush()
            raise ValueError("late")

        def on_finish(self):
            finished.append(self.get_status())

    raw = client_for([(r"/", Late)]).raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"4\r\npart\r\n")
    assert finished == [200]


def test_finish_exception_ends_request_quietly():
    class Quit(RequestHandler):
        def get(self):
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Basic realm="x"')
            raise Finish("bye")

    response = client_for([(r"/", Quit)]).get("/")
    assert (response.status_code, response.text) == (401, "bye")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="x"'


def test_error_handler_ignores_xsrf_for_post():
    client = client_for([(r"/gone", ErrorHandler, {"status_code": 410})], xsrf_cookies=True)
    assert client.post("/gone").status_code == 410
    assert client.post("/missing").status_code == 404


# -- etags ------------------------------------------------------------------


class Hello(RequestHandler):
    def get(self):
        self.write("hello")


def test_automatic_etag_and_304():
    client = client_for([(r"/", Hello)])
    first = client.get("/")
    etag = first.headers["Etag"]
    assert etag == '"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"'  # sha1("hello")
    for header in (etag, "W/" + etag, '"other", ' + etag, "*"):
        response = client.get("/", headers={"If-None-Match": header})
        assert response.status_code == 304 and response.content == b""
        assert "Content-Type" not in response.headers
    assert client.get("/", headers={"If-None-Match": '"other"'}).status_code == 200


def test_compute_etag_none_disables_etags():
    class NoTag(Hello):
        def compute_etag(self):
            return None

    response = client_for([(r"/", NoTag)]).get("/", headers={"If-None-Match": "*"})
    assert response.status_code == 200 and "Etag" not in response.headers


def test_etag_only_for_200_get():
    class Created(RequestHandler):
        def get(self):
            self.set_status(201)
            self.write("x")

        def post(self):
            self.write("x")

    client = client_for([(r"/", Created)])
    assert "Etag" not in client.get("/").headers
    assert "Etag" not in client.post("/").headers


def test_explicit_check_etag_header():
    class Early(RequestHandler):
        def compute_etag(self):
            return '"v1"'

        def get(self):
            self.set_etag_header()
            if self.check_etag_header():
                self.set_status(304)
                return
            self.write("expensive")

    client = client_for([(r"/", Early)])
    assert client.get("/", headers={"If-None-Match": '"v1"'}).status_code == 304
    assert client.get("/").text == "expensive"


# -- redirects ----------------------------------------------------------------


def test_redirect_statuses():
    class Go(RequestHandler):
        def get(self):
            kind = self.get_argument("k")
            if kind == "temp":
                self.redirect("/t")
            elif kind == "perm":
                self.redirect("/p", permanent=True)
            elif kind == "303":
                self.redirect("/s", status=303)
            else:
                try:
                    self.redirect("/x", status=200)
                except ValueError:
                    self.write("bad status")

    client = client_for([(r"/", Go)])
    assert (client.get("/?k=temp").status_code, client.get("/?k=temp").headers["Location"]) == (302, "/t")
    assert client.get("/?k=perm").status_code == 301
    assert client.get("/?k=303").status_code == 303
    assert client.get("/?k=bad").text == "bad status"


def test_redirect_handler_substitutes_and_keeps_query():
    client = client_for(
        [
            (r"/(.*?)/(.*?)/(.*)", RedirectHandler, {"url": "/{1}/{0}/{2}"}),
            (r"/old", RedirectHandler, {"url": "/new?x=1", "permanent": False}),
        ]
    )
    response = client.get("/a/b/c?q=1")
    assert (response.status_code, response.headers["Location"]) == (301, "/b/a/c?q=1")
    response = client.get("/old?y=2")
    assert (response.status_code, response.headers["Location"]) == (302, "/new?x=1&y=2")


@pytest.mark.parametrize("path", ["//evil.example/x", "/%2Fevil.example", "/%5Cevil.example"])
def test_redirect_handler_refuses_changing_the_host(path):
    client = client_for([(r"/(.*)", RedirectHandler, {"url": "/{0}"})])
    response = client.get(path)
    assert response.status_code == 400 and "Location" not in response.headers


@pytest.mark.parametrize("decorator,path,expected", [(addslash, "/a", "/a/"), (removeslash, "/a/", "/a")])
def test_slash_decorators(decorator, path, expected):
    class Slash(RequestHandler):
        @decorator
        def get(self):
            self.write("page")

        @decorator
        def post(self):
            self.write("page")

    client = client_for([(r"/a/?", Slash), (r"/b/*", Slash), (r"//+evil/?", Slash)])
    response = client.get(path + "?q=1")
    assert (response.status_code, response.headers["Location"]) == (301, expected + "?q=1")
    assert client.post(path).status_code == 404
    assert client.get(expected).text == "page"


def test_slash_decorators_refuse_protocol_relative_redirects():
    class Slash(RequestHandler):
        @addslash
        def get(self):
            self.write("page")

    class Unslash(RequestHandler):
        @removeslash
        def get(self):
            self.write("page")

    client = client_for([(r"/a(/.*)", Slash), (r"/b(/.*)", Unslash), (r"(//.*)", Unslash)])
    assert client.get("//evil.example/").status_code == 403


# -- transforms, logging -------------------------------------------------------


def test_compress_response_gzips_text_when_accepted():
    class Big(RequestHandler):
        def get(self):
            self.write("x" * 2000)

    client = client_for([(r"/", Big), (r"/small", Hello)], compress_response=True)
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(response.content) == b"x" * 2000
    assert int(response.headers["Content-Length"]) == len(response.content)
    plain = client.get("/")
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in client.get("/", headers={"Accept-Encoding": "gzip;q=0"}).headers
    small = client.get("/small", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers


def test_gzip_streams_flushed_output():
    class Chunks(RequestHandler):
        async def get(self):
            self.write("a" * 10)
            await self.flush()
            self.write("b" * 10)

    client = client_for([(r"/", Chunks)], compress_response=True)
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(response.content) == b"a" * 10 + b"b" * 10


def test_custom_transform():
    class Upper(OutputTransform):
        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            headers["X-Transformed"] = "yes"
            return status_code, headers, chunk.upper()

    client = client_for([(r"/", Hello)])
    client.app.add_transform(Upper)
    response = client.get("/")
    assert response.text == "HELLO" and response.headers["X-Transformed"] == "yes"


def test_log_function_and_default_access_log(caplog):
    logged = []
    client = client_for([(r"/", Hello)], log_function=lambda h: logged.append(h.get_status()))
    client.get("/")
    client.get("/missing")
    assert logged == [200, 404]
    with caplog.at_level(logging.INFO, logger="crosswind.web.access"):
        client_for([(r"/", Hello)]).get("/?a=1")
    assert any(r.getMessage().startswith("200 GET /?a=1 (127.0.0.1)") for r in caplog.records)


def test_access_log_level_follows_the_status_that_get_status_reports(caplog):
    # As in Tornado, the access log asks the handler for its status: an override
    # of get_status() is what gets logged, and its level (2xx info, 4xx warning).
    class Reported(Hello):
        def get_status(self):
            return 418

    with caplog.at_level(logging.INFO, logger="crosswind.web.access"):
        client = client_for([(r"/", Hello), (r"/reported", Reported)])
        client.get("/")
        assert client.get("/reported").status_code == 200
    logged = [(r.levelno, r.getMessage().split(" ")[0]) for r in caplog.records
              if r.name == "crosswind.web.access"]
    assert logged == [(logging.INFO, "200"), (logging.WARNING, "418")]


def test_the_verb_method_gets_the_arguments_prepare_left():
    # Tornado calls the verb method with self.path_args and self.path_kwargs as they
    # are after prepare(), even on a route without groups.
    class Rewritten(RequestHandler):
        def prepare(self):
            self.path_args = ["from-prepare"]

        def get(self, *args):
            self.write({"args": list(args)})

    assert client_for([(r"/", Rewritten)]).get("/").json() == {"args": ["from-prepare"]}


def test_every_overridden_hook_runs_in_order_even_one_level_down():
    # The life cycle skips hooks a class leaves alone; overriding one, here or in a
    # base class of the handler, must bring its call back.
    events = []

    class Hooked(RequestHandler):
        def initialize(self):
            events.append("initialize")

        def set_default_headers(self):
            events.append("set_default_headers")
            self.set_header("X-Default", "1")

        def prepare(self):
            events.append("prepare")

        def compute_etag(self):
            events.append("compute_etag")
            return '"fixed"'

        def flush(self, include_footers=False):
            events.append(f"flush {include_footers}")
            return super().flush(include_footers)

        def finish(self, chunk=None):
            events.append("finish")
            return super().finish(chunk)

        def on_finish(self):
            events.append("on_finish")

    class Leaf(Hooked):
        def get(self):
            events.append("get")
            self.write("body")

    response = client_for([(r"/", Leaf)]).get("/")
    assert response.text == "body"
    assert response.headers["X-Default"] == "1"
    assert response.headers["Etag"] == '"fixed"'
    assert events == [
        "set_default_headers",
        "initialize",
        "prepare",
        "get",
        "finish",
        "compute_etag",
        "flush True",
        "on_finish",
    ]


def test_an_application_overriding_find_handler_is_asked_for_every_request():
    class Hello(RequestHandler):
        def get(self, *args):
            self.write(f"hello {args}")

    class Routed(Application):
        def find_handler(self, request, **kwargs):
            return self.get_handler_delegate(request, Hello, path_args=[b"chosen"])

    app = Routed([(r"/", ErrorHandler, {"status_code": 404})], clock=lambda: NOW)
    assert Client(app).get("/").text == "hello ('chosen',)"
