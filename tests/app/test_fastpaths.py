"""crosswind.app's shortcuts on the request path keep Flask's behaviour.

URL matches are remembered (by the routing map), request headers are
built on first use, a response's status line and wire headers take shortcuts
in the usual case: each test here sends requests that would tell if a
shortcut answered differently from the full path.
"""

from __future__ import annotations

from typing import Any

import pytest
from crosswind.app import (
    App,
    Response,
    after_this_request,
    appcontext_tearing_down,
    request,
    request_finished,
    request_started,
    request_tearing_down,
)
from crosswind.app.wrappers import Request
from crosswind.routing import Rule
from crosswind.testing import parse_responses, serve_bytes


def get(path: str, method: str = "GET", host: str = "example.com", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode("latin-1")


def serve(app: App, *requests: bytes) -> list[Any]:
    methods = [raw.split(b" ", 1)[0] for raw in requests]
    return parse_responses(serve_bytes(app, list(requests)), methods)


# -- remembered matches (crosswind.routing.Map.match) --------------------------------


def test_view_args_changed_by_a_preprocessor_do_not_reach_the_next_request() -> None:
    app = App(__name__)

    @app.url_value_preprocessor
    def take_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values is not None:
            request.environ["lang"] = values.pop("lang", None)

    @app.get("/", defaults={"lang": "en"})
    def index() -> str:
        return f"lang={request.environ['lang']}"

    responses = serve(app, get("/"), get("/"), get("/"))
    assert [r.content for r in responses] == [b"lang=en"] * 3


def test_a_rule_added_after_requests_is_matched() -> None:
    app = App(__name__)
    app.add_url_rule("/thing", "read", lambda: "read", methods=["GET"])
    first = serve(app, get("/thing"), get("/thing", "POST"))
    assert [r.status_code for r in first] == [200, 405]

    # Flask refuses add_url_rule once serving; the map itself still takes rules.
    app.url_map.add(Rule("/thing", endpoint="write", methods=["POST"]))
    app.view_functions["write"] = lambda: "written"
    second = serve(app, get("/thing"), get("/thing", "POST"))
    assert [(r.status_code, r.content) for r in second] == [(200, b"read"), (200, b"written")]


def test_method_decides_each_time() -> None:
    app = App(__name__)
    app.add_url_rule("/m", "get_it", lambda: "got", methods=["GET"])
    app.add_url_rule("/m", "post_it", lambda: "posted", methods=["POST"])
    responses = serve(app, get("/m"), get("/m", "POST"), get("/m"), get("/m", "DELETE"))
    assert [(r.status_code, r.content) for r in responses[:3]] == [
        (200, b"got"),
        (200, b"posted"),
        (200, b"got"),
    ]
    assert responses[3].status_code == 405


def test_redirects_and_misses_are_answered_every_time() -> None:
    app = App(__name__)
    app.add_url_rule("/dir/", "directory", lambda: "dir")
    responses = serve(app, *[get("/dir")] * 2, *[get("/nope")] * 2, *[get("/dir/")] * 2)
    assert [r.status_code for r in responses] == [308, 308, 404, 404, 200, 200]
    assert [r.headers.get("Location") for r in responses[:2]] == ["http://example.com/dir/"] * 2


def test_redirects_keep_host_and_query_whether_remembered_or_not() -> None:
    app = App(__name__)
    app.add_url_rule("/dir/", "directory", lambda: "dir")
    app.add_url_rule("/", "index", lambda: "index")
    requests = [get("/dir?x=1&y", host="h.example:8080"), get("/"), get("/dir?x=1&y", host="h.example:8080")]
    responses = serve(app, *requests)
    assert [r.status_code for r in responses] == [308, 200, 308]
    assert responses[0].headers["Location"] == "http://h.example:8080/dir/?x=1&y"
    assert responses[2].headers["Location"] == responses[0].headers["Location"]


def test_the_host_is_read_for_a_redirect_only() -> None:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    app.add_url_rule("/dir/", "directory", lambda: "dir")

    def routed(path: str) -> tuple[Any, Any]:
        # A Host the headers refuse (a NUL): a connection never hands one over.
        req = Request({"method": "GET", "path": path, "headers": [(b"host", b"a\0b")]})
        with app.request_context(req):
            return req.url_rule, type(req.routing_exception)

    assert [routed("/")[0].endpoint for _ in range(2)] == ["index", "index"]  # type: ignore[union-attr]
    assert [routed("/dir") for _ in range(2)] == [(None, ValueError)] * 2
    assert [routed("/nope")[1].__name__ for _ in range(2)] == ["NotFound"] * 2


def test_many_spellings_of_one_path_all_match() -> None:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    paths = ["/" * n for n in range(1, 600)]
    responses = serve(app, *[get(path) for path in paths])
    assert {(r.status_code, r.content) for r in responses} == {(200, b"index")}


def test_host_matching_picks_the_rule_of_each_host() -> None:
    app = App(__name__, host_matching=True, static_host="static.example.com")
    app.add_url_rule("/", "a", lambda: "a", host="a.example.com")
    app.add_url_rule("/", "b", lambda: "b", host="b.example.com")
    hosts = ["a.example.com", "b.example.com", "a.example.com", "c.example.com"]
    responses = serve(app, *[get("/", host=host) for host in hosts])
    assert [r.status_code for r in responses] == [200, 200, 200, 404]
    assert [r.content for r in responses[:3]] == [b"a", b"b", b"a"]


def test_subdomain_matching_picks_the_rule_of_each_subdomain() -> None:
    app = App(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    app.add_url_rule("/", "root", lambda: "root")
    app.add_url_rule("/", "api", lambda: "api", subdomain="api")
    hosts = ["example.com", "api.example.com", "example.com", "api.example.com"]
    responses = serve(app, *[get("/", host=host) for host in hosts])
    assert [r.content for r in responses] == [b"root", b"api", b"root", b"api"]


def test_variables_are_converted_for_each_request() -> None:
    app = App(__name__)
    app.add_url_rule("/n/<int:n>", "n", lambda n: str(n * 2))
    responses = serve(app, get("/n/1"), get("/n/2"), get("/n/x"))
    assert [(r.status_code, r.content) for r in responses[:2]] == [(200, b"2"), (200, b"4")]
    assert responses[2].status_code == 404


# -- request headers built on first use ---------------------------------------------------


def test_headers_are_there_when_a_view_reads_them() -> None:
    app = App(__name__)

    @app.get("/")
    def show() -> str:
        return f"{request.host}|{request.headers.get('X-Thing')}|{request.headers['host']}"

    (response,) = serve(app, get("/", extra="X-Thing: yes\r\n"))
    assert response.content == b"example.com|yes|example.com"


def test_host_from_a_scope_of_text_pairs_and_odd_case() -> None:
    text = Request({"headers": [("HOST", "Example.org:80")], "scheme": "http"})
    assert text.host == "Example.org"
    raw = Request({"headers": [(b"Host", b"example.net:443")], "scheme": "https"})
    assert raw.host == "example.net"
    server = Request({"headers": [], "server": ("10.0.0.1", 8080)})
    assert server.host == "10.0.0.1:8080"


def test_a_header_value_with_a_line_break_is_still_refused() -> None:
    req = Request({"headers": [(b"host", b"a\r\nb")]})
    with pytest.raises(ValueError):
        _ = req.host
    with pytest.raises(ValueError):
        _ = req.headers


def test_headers_may_be_replaced() -> None:
    from crosswind.app.wrappers import Headers

    req = Request({"headers": [(b"host", b"one.example")]})
    req.headers = Headers({"Host": "two.example"})
    assert req.host == "two.example"


# -- responses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (None, "200 OK"),
        (201, "201 CREATED"),
        (299, "299 UNKNOWN"),
        ("404", "404 NOT FOUND"),
        ("299 Fine", "299 Fine"),
        (b"418", "418 I'M A TEAPOT"),
        # make_response hands a view's bytearray status over as it does bytes.
        (bytearray(b"202 Later"), "202 Later"),
    ],
)
def test_status_lines(status: Any, line: str) -> None:
    response = Response("x", status=status)
    assert response.status == line
    assert response.status_code == int(line.split()[0])


def test_status_code_setter_spells_the_line() -> None:
    response = Response()
    response.status_code = 503
    assert response.status == "503 SERVICE UNAVAILABLE"
    response.status_code = 599
    assert response.status == "599 UNKNOWN"


def test_wire_headers_as_sent() -> None:
    app = App(__name__)

    @app.get("/empty")
    def empty() -> Any:
        return Response("ignored", status=204)

    @app.get("/stream")
    def stream() -> Any:
        return Response(iter([b"a", b"b"]))

    @app.get("/nolength")
    def nolength() -> Any:
        response = Response("abc")
        del response.headers["Content-Length"]
        return response

    @app.get("/text")
    def text() -> Any:
        return Response("héllo", content_type="text/plain; charset=utf-8")

    responses = serve(app, get("/empty"), get("/stream"), get("/nolength"), get("/text"))
    headers = [r.headers for r in responses]
    assert responses[0].status_code == 204 and "Content-Length" not in headers[0]
    assert responses[1].content == b"ab" and "Content-Length" not in headers[1]
    assert headers[2].get("Content-Length") == "3" and responses[2].content == b"abc"
    assert responses[3].content == "héllo".encode() and headers[3].get("Content-Length") == "6"


def test_a_subclass_wire_headers_is_used() -> None:
    class Tagged(Response):
        def wire_headers(self) -> Any:
            headers = super().wire_headers()
            headers["X-Tagged"] = "1"
            return headers

    app = App(__name__)
    app.response_class = Tagged
    app.add_url_rule("/", "index", lambda: "hi")
    (response,) = serve(app, get("/"))
    assert response.headers.get("X-Tagged") == "1"


def test_head_gets_the_length_without_the_body() -> None:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "hello")
    (response,) = serve(app, get("/", "HEAD"))
    assert response.status_code == 200
    assert response.headers.get("Content-Length") == "5"
    assert response.content == b""


def test_untouched_session_sends_no_cookie() -> None:
    app = App(__name__)
    app.secret_key = "fastpaths"
    app.add_url_rule("/", "index", lambda: "hello")
    (response,) = serve(app, get("/"))
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers


# -- jsonify --------------------------------------------------------------------------------


def _jsonify_body(module: Any, debug: bool, provider: Any = None, **data: Any) -> bytes:
    app = module.Flask(__name__)
    if provider is not None:
        app.json = provider(app)
    app.debug = debug
    with app.test_request_context("/"):
        return module.jsonify(data).get_data()  # type: ignore[no-any-return]


PAYLOAD = {"b": [1, 2.5, None], "a": {"z": "é<>", "y": True}}


@pytest.mark.parametrize("debug", [False, True])
def test_jsonify_writes_what_flask_writes(debug: bool) -> None:
    import crosswind.app
    import flask

    ours = _jsonify_body(crosswind.app, debug, **PAYLOAD)
    assert ours == _jsonify_body(flask, debug, **PAYLOAD)


def test_jsonify_follows_the_provider_as_it_changes() -> None:
    import crosswind.app

    app = App(__name__)
    with app.test_request_context("/"):
        compact = crosswind.app.jsonify(PAYLOAD).get_data()
        app.json.sort_keys = False  # type: ignore[attr-defined]
        unsorted = crosswind.app.jsonify(PAYLOAD).get_data()
        app.json.compact = False  # type: ignore[attr-defined]
        indented = crosswind.app.jsonify(PAYLOAD).get_data()
        app.json.default = lambda value: "set!"  # type: ignore[attr-defined]
        defaulted = crosswind.app.jsonify({"s": {1}}).get_data()
    assert compact.startswith(b'{"a":{"y":true')
    assert unsorted.startswith(b'{"b":[1,2.5,null]')
    assert indented.startswith(b'{\n  "b": [\n')
    assert defaulted == b'{\n  "s": "set!"\n}\n'


def test_jsonify_uses_a_provider_that_overrides_dumps() -> None:
    import crosswind.app
    from crosswind.app.json import DefaultJSONProvider

    class Shouting(DefaultJSONProvider):
        def dumps(self, obj: Any, **kwargs: Any) -> str:
            return super().dumps(obj, **kwargs).upper()

    assert _jsonify_body(crosswind.app, False, Shouting, a="x") == b'{"A":"X"}\n'


# -- sessions -------------------------------------------------------------------------------


def _session_app() -> App:
    from crosswind.app import session

    app = App(__name__)
    app.secret_key = "first"

    @app.get("/set/<name>")
    def set_name(name: str) -> str:
        session["name"] = name
        return "set"

    @app.get("/name")
    def get_name() -> str:
        return str(session.get("name"))

    return app


def _cookie_of(response: Any) -> str:
    return str(response.headers["Set-Cookie"].split(";", 1)[0])


def test_a_changed_secret_key_is_used_at_once() -> None:
    app = _session_app()
    (login,) = serve(app, get("/set/ann"))
    cookie = f"Cookie: {_cookie_of(login)}\r\n"
    (before,) = serve(app, get("/name", extra=cookie))
    app.secret_key = "second"
    (after,) = serve(app, get("/name", extra=cookie))
    app.config["SECRET_KEY_FALLBACKS"] = ["first"]
    (fallback,) = serve(app, get("/name", extra=cookie))
    assert [before.content, after.content, fallback.content] == [b"ann", b"None", b"ann"]


def test_cookies_of_several_cookie_fields_are_all_read() -> None:
    app = _session_app()
    (login,) = serve(app, get("/set/bob"))
    extra = f"Cookie: theme=dark\r\nCookie: {_cookie_of(login)}\r\n"
    (response,) = serve(app, get("/name", extra=extra))
    assert response.content == b"bob"
    assert "Set-Cookie" not in response.headers and response.headers["Vary"] == "Cookie"


def test_an_empty_cookie_field_gives_no_cookies() -> None:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: str(dict(request.cookies)))
    (response,) = serve(app, get("/", extra="Cookie: \r\n"))
    assert response.content == b"{}"


def test_a_custom_converter_runs_for_every_request() -> None:
    from crosswind.routing.converters import BaseConverter, ValidationError

    allowed = {"ann"}

    class Member(BaseConverter):
        def to_python(self, value: str) -> str:
            if value not in allowed:
                raise ValidationError()
            return value

    app = App(__name__)
    app.url_map.converters["member"] = Member
    app.add_url_rule("/m/<member:name>", "member", lambda name: f"hi {name}")
    app.add_url_rule("/n/<int:n>", "number", lambda n: str(n))
    first = serve(app, get("/n/7"), get("/m/ann"), get("/m/ann"), get("/m/bob"))
    allowed.add("bob")
    allowed.discard("ann")
    second = serve(app, get("/n/7"), get("/m/ann"), get("/m/bob"))
    assert [r.status_code for r in first] == [200, 200, 200, 404]
    assert [r.status_code for r in second] == [200, 404, 200]
    assert second[0].content == b"7" and second[2].content == b"hi bob"


def test_each_request_gets_its_own_variables() -> None:
    app = App(__name__)
    seen: list[Any] = []

    @app.url_value_preprocessor
    def take(endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values is not None:
            seen.append(values.pop("n", None))

    @app.get("/n/<int:n>")
    def number() -> str:
        return "ok"

    responses = serve(app, get("/n/5"), get("/n/5"), get("/n/6"), get("/n/5"))
    assert [r.status_code for r in responses] == [200] * 4
    assert seen == [5, 5, 6, 5]


# -- steps skipped when nothing is registered (App.full_dispatch_request, ctx.pop) ----


def test_a_subclass_overriding_a_step_has_it_run() -> None:
    seen: list[str] = []

    class Traced(App):
        async def preprocess_request(self) -> Any:
            seen.append("preprocess")
            return await super().preprocess_request()

        async def dispatch_request(self) -> Any:
            seen.append("dispatch")
            return await super().dispatch_request()

        async def process_response(self, response: Response) -> Response:
            seen.append("process")
            response.headers["X-Processed"] = "yes"
            return await super().process_response(response)

        def do_teardown_request(self, exc: BaseException | None = None) -> None:
            seen.append("teardown request")
            super().do_teardown_request(exc)

        def do_teardown_appcontext(self, exc: BaseException | None = None) -> None:
            seen.append("teardown app")
            super().do_teardown_appcontext(exc)

    assert App._plain_pipeline and App._plain_teardown
    assert not Traced._plain_pipeline and not Traced._plain_teardown
    app = Traced(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    (response,) = serve(app, get("/"))
    assert (response.content, response.headers["X-Processed"]) == (b"index", "yes")
    assert seen == ["preprocess", "dispatch", "process", "teardown request", "teardown app"]


def test_hooks_run_and_receivers_connected_between_requests_hear() -> None:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    seen: list[str] = []

    @app.before_request
    def before() -> None:
        seen.append("before")

    @app.after_request
    def after(response: Response) -> Response:
        seen.append("after")
        return response

    @app.teardown_request
    def teardown_request(exc: BaseException | None) -> None:
        seen.append("teardown request")

    @app.teardown_appcontext
    def teardown_appcontext(exc: BaseException | None) -> None:
        seen.append("teardown app")

    def started(sender: Any, **extra: Any) -> None:
        seen.append("started")

    def finished(sender: Any, **extra: Any) -> None:
        seen.append("finished")

    assert serve(app, get("/"))[0].content == b"index"
    assert seen == ["before", "after", "teardown request", "teardown app"]
    seen.clear()
    request_started.connect(started, app)
    request_finished.connect(finished, app)
    try:
        assert serve(app, get("/"))[0].content == b"index"
    finally:
        request_started.disconnect(started, app)
        request_finished.disconnect(finished, app)
    assert seen == [
        "started", "before", "after", "finished", "teardown request", "teardown app"
    ]


def test_receivers_of_teardown_signals_alone_hear() -> None:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    seen: list[str] = []

    def tearing_down(sender: Any, **extra: Any) -> None:
        seen.append("request")

    def app_tearing_down(sender: Any, **extra: Any) -> None:
        seen.append("app")

    request_tearing_down.connect(tearing_down, app)
    appcontext_tearing_down.connect(app_tearing_down, app)
    try:
        assert serve(app, get("/"))[0].content == b"index"
    finally:
        request_tearing_down.disconnect(tearing_down, app)
        appcontext_tearing_down.disconnect(app_tearing_down, app)
    assert seen == ["request", "app"]


def test_after_this_request_runs_without_after_request_hooks() -> None:
    app = App(__name__)

    @app.get("/")
    def index() -> str:
        @after_this_request
        def tag(response: Response) -> Response:
            response.headers["X-Tag"] = "set"
            return response

        return "index"

    responses = serve(app, get("/"), get("/"))
    assert [r.headers.get("X-Tag") for r in responses] == ["set", "set"]


def test_subclasses_overriding_contexts_status_or_close_are_called() -> None:
    seen: list[str] = []

    class TracedRequest(Request):
        def close(self) -> None:
            seen.append("request close")
            super().close()

    class TracedResponse(Response):
        @property
        def status(self) -> str:
            seen.append("status")
            return "200 FINE"

        def close(self) -> None:
            seen.append("response close")
            super().close()

    class Traced(App):
        request_class = TracedRequest
        response_class = TracedResponse

        def app_context(self) -> Any:
            seen.append("app context")
            return super().app_context()

        def request_context(self, request: Request) -> Any:
            seen.append("request context")
            return super().request_context(request)

    assert App._plain_contexts and Request._plain_close
    assert Response._plain_status and Response._plain_close
    assert not Traced._plain_contexts and not TracedRequest._plain_close
    assert not TracedResponse._plain_status and not TracedResponse._plain_close
    app = Traced(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    raw = serve_bytes(app, [get("/")])
    assert raw.startswith(b"HTTP/1.1 200 FINE\r\n") and raw.endswith(b"index")
    assert seen == ["request context", "app context", "request close", "status", "response close"]


def test_a_list_body_with_call_on_close_functions_runs_them() -> None:
    closed: list[str] = []
    app = App(__name__)

    @app.route("/")
    def index() -> Response:
        response = Response("index")
        response.call_on_close(lambda: closed.append("closed"))
        return response

    (response,) = serve(app, get("/"), get("/"))[:1]
    assert response.content == b"index" and closed == ["closed", "closed"]


def test_a_request_built_from_the_connection_has_the_scope_it_would_be_built_from() -> None:
    seen: list[Any] = []

    class ScopedRequest(Request):
        def __init__(self, scope: dict[str, Any], body: bytes = b"", **kwargs: Any) -> None:
            seen.append(scope["path"])
            super().__init__(scope, body, **kwargs)

    app = App(__name__)

    @app.route("/<path:rest>")
    def echo(rest: str) -> str:
        req = request._get_current_object()  # type: ignore[attr-defined]
        seen.append((req.path, req.query_string, req.scope["raw_path"], req.headers["Host"]))
        return rest

    raw = serve_bytes(app, [get("//caf%C3%A9/x?a=1")])
    assert raw.endswith("café/x".encode())
    assert seen == [("/café/x", b"a=1", b"//caf%C3%A9/x", "example.com")]
    assert Request._plain_init and not ScopedRequest._plain_init
    seen.clear()

    class Scoped(App):
        request_class = ScopedRequest

    app2 = Scoped(__name__)
    app2.view_functions.update(app.view_functions)
    app2.url_map.add(Rule("/<path:rest>", endpoint="echo"))
    raw = serve_bytes(app2, [get("/a?b")])
    assert raw.endswith(b"a") and seen == ["/a", ("/a", b"b", b"/a", "example.com")]


def test_url_adapters_and_matching_overridden_or_asked_for_are_used() -> None:
    seen: list[str] = []

    class Traced(App):
        def create_url_adapter(self, request: Request | None) -> Any:
            seen.append("adapter" if request is not None else "app adapter")
            return super().create_url_adapter(request)

    assert App._plain_url_adapter and not Traced._plain_url_adapter
    app = Traced(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    assert serve_bytes(app, [get("/"), get("/")]).endswith(b"index")
    assert seen == ["adapter", "adapter"]

    plain = App(__name__)

    @plain.route("/items/<int:n>")
    def item(n: int) -> str:
        from crosswind.app import url_for

        return url_for("item", n=n + 1)

    responses = serve(plain, get("/items/1"), get("/items/2"), get("/items/x"))
    assert [r.status_code for r in responses] == [200, 200, 404]
    assert [r.content for r in responses[:2]] == [b"/items/2", b"/items/3"]


def test_a_request_context_overriding_match_request_has_it_called() -> None:
    from crosswind.app.ctx import RequestContext

    seen: list[str] = []

    class TracedContext(RequestContext):
        def match_request(self) -> None:
            seen.append("match")
            super().match_request()

    class Traced(App):
        def request_context(self, request: Request) -> Any:
            return TracedContext(self, request)

    assert RequestContext._plain_match and not TracedContext._plain_match
    app = Traced(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    assert serve_bytes(app, [get("/"), get("/")]).endswith(b"index")
    assert seen == ["match", "match"]


def test_a_response_body_goes_through_an_overridden_set_data() -> None:
    seen: list[bytes] = []

    class Traced(Response):
        def set_data(self, value: Any) -> None:
            seen.append(value)
            super().set_data(value)

    class Unsized(Response):
        automatically_set_content_length = False

    assert Response._plain_set_data and not Traced._plain_set_data
    assert not Unsized._plain_set_data
    plain = Response(b"body", content_type="text/plain")
    again = Response(b"body", content_type="text/plain")  # the checked content type
    assert plain.headers.items() == again.headers.items()
    assert again.headers.items() == [("Content-Type", "text/plain"), ("Content-Length", "4")]
    traced = Traced(b"body", content_type="text/plain")
    assert seen == [b"body"] and traced.get_data() == b"body"
    assert Unsized(b"body", content_type="text/plain").headers.get("Content-Length") is None


def test_the_globals_namespace_is_made_on_first_use_unless_its_class_is_custom() -> None:
    from crosswind.app import g
    from crosswind.app.ctx import _AppCtxGlobals

    made: list[str] = []

    class Globals(_AppCtxGlobals):
        def __init__(self) -> None:
            made.append("made")

    app = App(__name__)
    with app.app_context() as ctx:
        assert ctx._g is None
        g.user = "ann"
        assert isinstance(ctx.g, _AppCtxGlobals) and ctx.g.user == "ann"
    app.app_ctx_globals_class = Globals
    with app.app_context() as ctx:
        assert made == ["made"] and type(ctx.g) is Globals


def test_views_returning_text_bytes_dicts_or_responses_are_answered_as_before() -> None:
    class Own(Response):
        pass

    class Custom(App):
        response_class = Own

    app = Custom(__name__)
    app.add_url_rule("/s", "s", lambda: "text")
    app.add_url_rule("/b", "b", lambda: b"bytes")
    app.add_url_rule("/d", "d", lambda: {"a": 1})
    app.add_url_rule("/r", "r", lambda: Response("plain", status=201))
    app.add_url_rule("/o", "o", lambda: Own("own", status=202))
    with app.test_request_context():
        for path, status, body in [
            ("/s", 200, b"text"), ("/b", 200, b"bytes"), ("/d", 200, b'{"a":1}\n'),
            ("/r", 201, b"plain"), ("/o", 202, b"own"),
        ]:
            response = app.make_response(app.view_functions[path[1:]]())
            assert type(response) is Own
            assert (response.status_code, response.get_data()) == (status, body)
