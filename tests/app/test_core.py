"""crosswind.app behaviour beyond what the differential suite compares:
contexts, async views and hooks, configuration, API misuse, signals,
class-based views, templates and bad input."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from typing import Any

import pytest
from crosswind.app import (
    App,
    Blueprint,
    Config,
    MethodView,
    Request,
    Response,
    View,
    abort,
    after_this_request,
    appcontext_popped,
    appcontext_pushed,
    before_render_template,
    copy_current_request_context,
    current_app,
    flash,
    g,
    got_request_exception,
    has_app_context,
    has_request_context,
    make_response,
    message_flashed,
    render_template_string,
    request,
    request_finished,
    request_started,
    request_tearing_down,
    stream_with_context,
    template_rendered,
    url_for,
)
from crosswind.app.exceptions import BadRequestKeyError, HTTPException, NotFound
from crosswind.app.signals import Signal
from crosswind.routing import BuildError
from crosswind.testing import Client as RawClient
from hypothesis import given
from hypothesis import strategies as st


def make_app(**config: Any) -> App:
    app = App(__name__)
    app.secret_key = "core-tests"
    app.config.update(config)
    return app


# -- contexts -----------------------------------------------------------------------------


def test_proxies_fail_clearly_outside_contexts() -> None:
    assert not has_request_context() and not has_app_context()
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        request.path  # noqa: B018
    with pytest.raises(RuntimeError, match="Working outside of application context"):
        current_app.name  # noqa: B018
    assert not request  # an unbound proxy is falsy, as in Flask


def test_test_request_context_builds_a_request() -> None:
    app = make_app()

    @app.route("/user/<int:uid>", methods=["GET", "POST"])
    def user(uid: int) -> str:
        return str(uid)

    with app.test_request_context(
        "/user/5?x=1", method="POST", data={"k": "v"}, headers={"X-A": "b"}
    ):
        assert has_request_context() and has_app_context()
        assert isinstance(request, Request)
        assert request.method == "POST"
        assert request.args["x"] == "1"
        assert request.form["k"] == "v"
        assert request.headers["X-A"] == "b"
        assert request.endpoint == "user" and request.view_args == {"uid": 5}
        assert url_for("user", uid=7) == "/user/7"
        assert url_for("user", uid=7, _external=True) == "http://localhost/user/7"
        assert current_app._get_current_object() is app
    assert not has_request_context()


def test_app_context_keeps_g_per_context_and_builds_urls_with_server_name() -> None:
    app = make_app()

    @app.route("/p/<name>")
    def page(name: str) -> str:
        return name

    with app.app_context():
        g.value = 1
        assert g.get("value") == 1 and "value" in g
        with pytest.raises(RuntimeError, match="SERVER_NAME"):
            url_for("page", name="a")
    with app.app_context():
        assert g.get("value") is None
    app.config.update(SERVER_NAME="example.org", PREFERRED_URL_SCHEME="https")
    with app.app_context():
        assert url_for("page", name="a b") == "https://example.org/p/a%20b"


def test_g_is_fresh_for_every_request() -> None:
    app = make_app()

    @app.route("/")
    def index() -> Any:
        seen = g.get("mark")
        g.mark = "set"
        return {"seen": seen}

    client = app.test_client()
    assert client.get("/").json == {"seen": None}
    assert client.get("/").json == {"seen": None}


def test_copy_current_request_context_runs_in_another_thread() -> None:
    app = make_app()
    results: list[str] = []

    @app.route("/work")
    def work() -> str:
        @copy_current_request_context
        def job() -> None:
            results.append(f"{request.path}?{request.args['n']}")

        thread = threading.Thread(target=job)
        thread.start()
        thread.join()
        return "ok"

    assert app.test_client().get("/work?n=3").text == "ok"
    assert results == ["/work?3"]
    with pytest.raises(RuntimeError, match="request context"):
        copy_current_request_context(lambda: None)


def test_after_this_request_needs_a_request_and_runs_once() -> None:
    with pytest.raises(RuntimeError):
        after_this_request(lambda response: response)
    app = make_app()

    @app.route("/")
    def index() -> str:
        after_this_request(lambda response: response.headers.add("X-Once", "1") or response)
        return "x"

    @app.route("/other")
    def other() -> str:
        return "y"

    client = app.test_client()
    assert client.get("/").headers["X-Once"] == "1"
    assert "X-Once" not in client.get("/other").headers


def test_teardown_functions_see_the_error_and_run_in_reverse() -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    calls: list[str] = []

    @app.teardown_request
    def first(exc: BaseException | None) -> None:
        calls.append(f"request-1 {type(exc).__name__}")

    @app.teardown_request
    def second(exc: BaseException | None) -> None:
        calls.append(f"request-2 {type(exc).__name__}")

    @app.teardown_appcontext
    def appctx(exc: BaseException | None) -> None:
        calls.append(f"appctx {type(exc).__name__}")

    @app.route("/fail")
    def fail() -> str:
        raise ZeroDivisionError

    assert app.test_client().get("/fail").status_code == 500
    assert calls == [
        "request-2 ZeroDivisionError",
        "request-1 ZeroDivisionError",
        "appctx ZeroDivisionError",
    ]


# -- async views and hooks -------------------------------------------------------------------


def test_async_views_and_hooks_are_awaited() -> None:
    app = make_app()
    order: list[str] = []

    @app.before_request
    async def before() -> None:
        await asyncio.sleep(0)
        order.append("before")

    @app.after_request
    async def after(response: Response) -> Response:
        await asyncio.sleep(0)
        order.append("after")
        response.headers["X-Async"] = "yes"
        return response

    @app.errorhandler(KeyError)
    async def on_key(error: KeyError) -> Any:
        await asyncio.sleep(0)
        return {"missing": str(error)}, 404

    @app.route("/sleep")
    async def sleepy() -> Any:
        await asyncio.sleep(0.001)
        order.append("view")
        return {"path": request.path}

    @app.route("/missing")
    async def missing() -> Any:
        await asyncio.sleep(0)
        return {}["nothing"]

    class Things(MethodView):
        async def get(self) -> str:
            await asyncio.sleep(0)
            return "async method view"

    app.add_url_rule("/things", view_func=Things.as_view("things"))

    client = app.test_client()
    response = client.get("/sleep")
    assert response.json == {"path": "/sleep"} and response.headers["X-Async"] == "yes"
    assert order == ["before", "view", "after"]
    assert client.get("/missing").status_code == 404
    assert client.get("/things").text == "async method view"


def test_test_client_works_from_inside_a_running_loop() -> None:
    app = make_app()

    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0)
        return "inner loop"

    async def main() -> str:
        return app.test_client().get("/").text

    assert asyncio.run(main()) == "inner loop"


def test_async_view_without_an_event_loop_fails_clearly() -> None:
    # The raw in-memory client has no loop: an async view that truly waits
    # cannot run there, and the driver answers 500 instead of hanging.
    app = make_app()

    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0.01)
        return "never"

    @app.route("/instant")
    async def instant() -> str:
        return "no waiting needed"

    client = RawClient(app)
    assert client.get("/instant").text == "no waiting needed"
    assert client.get("/").status_code == 500


def test_testing_mode_reraises_view_exceptions() -> None:
    app = make_app(TESTING=True)

    @app.route("/")
    def index() -> str:
        raise LookupError("from the view")

    with pytest.raises(LookupError, match="from the view"):
        app.test_client().get("/")
    app.testing = False
    assert app.test_client().get("/").status_code == 500


def test_errorhandler_for_500_receives_the_original_exception() -> None:
    app = make_app()

    @app.errorhandler(500)
    def on_500(error: Any) -> Any:
        return {"original": type(error.original_exception).__name__}, 500

    @app.route("/")
    def index() -> str:
        raise OSError("disk")

    response = app.test_client().get("/")
    assert response.status_code == 500 and response.json == {"original": "OSError"}


# -- configuration ----------------------------------------------------------------------------


class Settings:
    DEBUG_TOOLBAR = True
    lowercase = "ignored"


def test_config_loaders(tmp_path: Any) -> None:
    config = Config(tmp_path, {"KEEP": 1})
    config.from_mapping({"A": 1, "lower": 2}, B=2)
    config.from_object(Settings)
    config.from_object("tests.app.test_core.Settings")
    (tmp_path / "settings.py").write_text("FROM_FILE = 'yes'\nlower = 1\n")
    assert config.from_pyfile("settings.py")
    assert config.from_pyfile("missing.py", silent=True) is False
    with pytest.raises(OSError, match="Unable to load configuration file"):
        config.from_pyfile("missing.py")
    (tmp_path / "data.json").write_text('{"JSON_KEY": [1, 2], "skip": 0}')
    assert config.from_file("data.json", load=json.load)
    env = {"APP_NUM": "5", "APP_TEXT": "plain", "APP_DB__HOST": "h", "APP_DB__PORT": "1", "OTHER": "x"}
    config.from_prefixed_env("APP", environ=env)
    assert config["KEEP"] == 1 and config["A"] == 1 and config["B"] == 2 and "lower" not in config
    assert config["DEBUG_TOOLBAR"] is True and "lowercase" not in config
    assert config["FROM_FILE"] == "yes" and config["JSON_KEY"] == [1, 2] and "skip" not in config
    assert config["NUM"] == 5 and config["TEXT"] == "plain"
    assert config["DB"] == {"HOST": "h", "PORT": 1}
    config.from_mapping(IMAGE_STORE_TYPE="fs", IMAGE_STORE_PATH="/x", IMAGE_OTHER=1)
    assert config.get_namespace("IMAGE_STORE_") == {"type": "fs", "path": "/x"}
    assert config.get_namespace("IMAGE_STORE_", lowercase=False, trim_namespace=False) == {
        "IMAGE_STORE_TYPE": "fs",
        "IMAGE_STORE_PATH": "/x",
    }


def test_app_settings_are_config_shortcuts() -> None:
    app = App(__name__)
    assert app.config["SESSION_COOKIE_NAME"] == "session" and app.secret_key is None
    app.secret_key = "s"
    app.permanent_session_lifetime = 60
    assert app.config["SECRET_KEY"] == "s"
    assert app.permanent_session_lifetime.total_seconds() == 60
    app.debug = True
    assert app.config["DEBUG"] is True


# -- API misuse --------------------------------------------------------------------------------


def test_route_registration_errors() -> None:
    app = make_app()
    with pytest.raises(TypeError, match="list of strings"):
        app.add_url_rule("/x", "x", lambda: "", methods="GET")

    @app.route("/a")
    def view() -> str:
        return "a"

    with pytest.raises(AssertionError, match="overwriting an existing endpoint function: view"):
        app.add_url_rule("/b", "view", lambda: "b")
    with pytest.raises(ValueError, match="not a recognized HTTP error code"):
        app.errorhandler(299)(lambda error: "")
    with pytest.raises(TypeError, match="instance, not a class"):
        app.register_error_handler(ValueError(), lambda e: "")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'methods' argument"):
        app.get("/c", methods=["POST"])
    app.test_client().get("/a")
    with pytest.raises(AssertionError, match="already handled its first request"):
        app.add_url_rule("/late", "late", lambda: "")


def test_blueprint_errors() -> None:
    with pytest.raises(ValueError, match="may not contain a dot"):
        Blueprint("a.b", __name__)
    bp = Blueprint("bp", __name__)
    with pytest.raises(ValueError, match="'endpoint' may not contain a dot"):
        bp.add_url_rule("/x", "x.y", lambda: "")
    with pytest.raises(ValueError, match="on itself"):
        bp.register_blueprint(bp)
    app = make_app()
    app.register_blueprint(bp)
    with pytest.raises(ValueError, match="already registered"):
        app.register_blueprint(Blueprint("bp", __name__))


def test_url_for_unknown_endpoint_names_it_and_close_matches() -> None:
    app = make_app()

    @app.route("/profile")
    def profile() -> str:
        return ""

    with app.test_request_context(), pytest.raises(BuildError) as info:
        url_for("profil")
    assert "'profil'" in str(info.value) and "Did you mean 'profile'" in str(info.value)
    with app.test_request_context(), pytest.raises(ValueError, match="_external"):
        url_for("profile", _scheme="https", _external=False)


def test_url_build_error_handlers_may_supply_a_url() -> None:
    app = make_app()
    app.url_build_error_handlers.append(lambda error, endpoint, values: f"/fallback/{endpoint}")
    with app.test_request_context():
        assert url_for("anything") == "/fallback/anything"


def test_abort_raises_http_exceptions_with_descriptions() -> None:
    with pytest.raises(NotFound) as info:
        abort(404)
    assert info.value.code == 404 and "not found on the server" in info.value.description
    with pytest.raises(HTTPException) as custom:
        abort(400, description="bad thing")
    assert custom.value.description == "bad thing"
    with pytest.raises(LookupError, match="no exception for 299"):
        abort(299)


# -- bad input ---------------------------------------------------------------------------------


def test_malformed_json_message_and_debug_detail() -> None:
    app = make_app()

    @app.route("/j", methods=["POST"])
    def j() -> Any:
        return {"got": request.get_json()}

    client = app.test_client()
    response = client.post("/j", data="{nope", content_type="application/json")
    assert response.status_code == 400 and b"could not understand" in response.data
    app.debug = True
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.post("/j", data="{nope", content_type="application/json")
    assert response.status_code == 400 and b"Failed to decode JSON object" in response.data


def test_missing_form_key_is_a_400_that_is_also_a_key_error() -> None:
    app = make_app()
    caught: list[bool] = []

    @app.route("/f", methods=["POST"])
    def f() -> str:
        try:
            return request.form["absent"]
        except KeyError as error:
            caught.append(isinstance(error, BadRequestKeyError))
            raise

    assert app.test_client().post("/f", data={"x": "1"}).status_code == 400
    assert caught == [True]


def test_max_content_length_refuses_declared_and_chunked_bodies() -> None:
    app = make_app(MAX_CONTENT_LENGTH=10)

    @app.route("/body", methods=["POST"])
    def body() -> Any:
        return {"n": len(request.get_data())}

    @app.route("/ignore", methods=["POST"])
    def ignore() -> str:
        return "did not read"

    client = app.test_client()
    assert client.post("/body", data=b"x" * 10).json == {"n": 10}
    assert client.post("/body", data=b"x" * 11).status_code == 413
    assert client.post("/ignore", data=b"x" * 11).text == "did not read"
    chunked = (
        b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
    )
    raw = RawClient(app).raw(chunked)
    assert raw.startswith(b"HTTP/1.1 413 ")


def test_max_form_parts_and_memory() -> None:
    app = make_app(MAX_FORM_PARTS=3, MAX_FORM_MEMORY_SIZE=20)

    @app.route("/form", methods=["POST"])
    def form() -> Any:
        return request.form.to_dict()

    client = app.test_client()
    assert client.post("/form", data={"a": "1", "b": "2"}).json == {"a": "1", "b": "2"}
    assert client.post("/form", data={k: "1" for k in "abcd"}).status_code == 413
    assert client.post("/form", data={"a": "x" * 30}).status_code == 413


def test_view_returning_bad_types() -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=True)

    @app.route("/none")
    def none() -> Any:
        return None

    @app.route("/int")
    def integer() -> Any:
        return 5

    @app.route("/tuple")
    def tuple_view() -> Any:
        return ("a", 200, {}, "extra")

    client = app.test_client()
    with pytest.raises(TypeError, match="did not return a valid response"):
        client.get("/none")
    with pytest.raises(TypeError, match="but it was a int"):
        client.get("/int")
    with pytest.raises(TypeError, match="valid response tuple"):
        client.get("/tuple")


# -- signals -----------------------------------------------------------------------------------


def test_signals_fire_in_order_with_their_data() -> None:
    app = make_app()
    seen: list[Any] = []

    @app.route("/")
    def index() -> str:
        flash("hi", "info")
        return render_template_string("{{ x }}", x=1)

    @app.route("/fail")
    def fail() -> str:
        raise RuntimeError("x")

    def record(name: str) -> Any:
        def receiver(sender: Any, **extra: Any) -> None:
            seen.append((name, sender is app, sorted(extra)))

        return receiver

    receivers = {
        request_started: record("started"),
        before_render_template: record("before_render"),
        template_rendered: record("rendered"),
        message_flashed: record("flashed"),
        request_finished: record("finished"),
        got_request_exception: record("exception"),
        request_tearing_down: record("tearing_down"),
        appcontext_pushed: record("pushed"),
        appcontext_popped: record("popped"),
    }
    for signal, receiver in receivers.items():
        signal.connect(receiver, app)
    try:
        client = app.test_client()
        client.get("/")
        assert [name for name, _, _ in seen] == [
            "pushed", "started", "flashed", "before_render", "rendered", "finished",
            "tearing_down", "popped",
        ]
        assert all(is_app for _, is_app, _ in seen)
        assert ("flashed", True, ["category", "message"]) in seen
        assert ("rendered", True, ["context", "template"]) in seen
        seen.clear()
        client.get("/fail")
        assert "exception" in [name for name, _, _ in seen]
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver)
    seen.clear()
    app.test_client().get("/")
    assert seen == []


def test_signal_type_basics() -> None:
    signal = Signal("demo")
    calls: list[Any] = []

    def receiver(sender: Any, **kw: Any) -> str:
        calls.append((sender, kw))
        return "r"

    with signal.connected_to(receiver, sender="a"):
        assert signal.send("a", x=1) == [(receiver, "r")]
        assert signal.send("b", x=2) == []
    assert signal.send("a") == []

    def temporary(sender: Any) -> None:
        calls.append("temp")

    signal.connect(temporary)  # held weakly, like blinker
    del temporary
    signal.send("a")
    assert calls == [("a", {"x": 1})]


# -- class-based views, templates, streaming --------------------------------------------------


def test_view_init_every_request_false_shares_one_instance() -> None:
    app = make_app()
    created: list[int] = []

    class Counter(View):
        init_every_request = False

        def __init__(self) -> None:
            created.append(1)
            self.hits = 0

        def dispatch_request(self) -> str:
            self.hits += 1
            return str(self.hits)

    app.add_url_rule("/c", view_func=Counter.as_view("counter"))
    client = app.test_client()
    assert [client.get("/c").text for _ in range(3)] == ["1", "2", "3"]
    assert created == [1]


def test_templates_from_app_and_blueprint_folders(tmp_path: Any) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("{{ value }} {{ g.tag }}")
    (tmp_path / "templates" / "note.txt").write_text("{{ value }}")
    (tmp_path / "bp_templates").mkdir()
    (tmp_path / "bp_templates" / "bp_only.html").write_text("bp {{ value }}")
    app = App(__name__, root_path=str(tmp_path))
    bp = Blueprint("bp", __name__, template_folder="bp_templates", root_path=str(tmp_path))
    app.register_blueprint(bp)

    from crosswind.app import render_template

    @app.route("/<name>")
    def show(name: str) -> str:
        g.tag = "<g>"
        return render_template(name, value="<v>")

    client = app.test_client()
    assert client.get("/page.html").text == "&lt;v&gt; &lt;g&gt;"
    assert client.get("/note.txt").text == "<v>"  # not an HTML template: no escaping
    assert client.get("/bp_only.html").text == "bp &lt;v&gt;"


def test_stream_with_context_defers_teardown_until_the_body_is_done() -> None:
    app = make_app()
    events: list[str] = []

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        events.append("teardown")

    @app.route("/s")
    def stream() -> Any:
        def generate() -> Any:
            events.append("first chunk")
            yield request.args["word"]
            events.append("last chunk")
            yield "!"

        return stream_with_context(generate())

    assert app.test_client().get("/s?word=hey").text == "hey!"
    assert events == ["first chunk", "last chunk", "teardown"]


def test_async_generator_bodies_are_streamed() -> None:
    app = make_app()

    @app.route("/agen")
    async def agen() -> Any:
        async def generate() -> Any:
            for part in ("a", "b", "c"):
                await asyncio.sleep(0)
                yield part

        return Response(generate(), mimetype="text/plain")

    response = app.test_client().get("/agen")
    assert response.text == "abc" and "Content-Length" not in response.headers


def test_response_object_api() -> None:
    response = Response("body", status="201 MADE UP", mimetype="text/csv")
    assert response.status_code == 201 and response.status == "201 MADE UP"
    assert response.content_type == "text/csv; charset=utf-8"
    response.status_code = 404
    assert response.status == "404 NOT FOUND"
    response.set_cookie("a", "x y;z")
    response.set_cookie("b", "v", max_age=0, samesite="Strict", secure=True)
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies[0] == 'a="x y\\073z"; Path=/'
    assert cookies[1].startswith("b=v; ") and "Max-Age=0" in cookies[1] and "SameSite=Strict" in cookies[1]
    response.cache_control.max_age = 30
    response.cache_control.public = True
    assert response.headers["Cache-Control"] == "max-age=30, public"
    response.vary.add("Accept")
    response.vary.add("accept")
    assert response.headers["Vary"] == "Accept"
    assert ("Vary", "Accept") in list(response.headers)
    response.add_etag()
    assert response.get_etag() == (hashlib.sha1(b"body").hexdigest(), False)
    with pytest.raises(ValueError):
        response.headers["X-Bad"] = "a\nb"


def test_make_response_variants() -> None:
    app = make_app()
    with app.test_request_context():
        assert make_response().status_code == 200
        response = make_response(("text", 202, {"X-A": "1"}))
        assert response.status_code == 202 and response.headers["X-A"] == "1"
        assert make_response({"a": 1}).json == {"a": 1}
        assert make_response(iter(["a", "b"])).is_streamed


# -- cookies, static files of blueprints, run() ---------------------------------------------


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30))
def test_cookie_values_are_quoted_like_flask_and_read_back(value: str) -> None:
    from werkzeug.http import dump_cookie

    response = Response()
    response.set_cookie("k", value)
    ours = response.headers["Set-Cookie"].removesuffix("; Path=/")
    if not any("\x1a" <= char <= "\x1f" for char in value):
        # Flask leaves 0x1A-0x1F raw inside the quotes; crosswind escapes them too,
        # because a control character is not valid in a header field.
        assert ours == dump_cookie("k", value).removesuffix("; Path=/")
    with make_app().test_request_context(headers={"Cookie": ours}):
        assert request.cookies["k"] == value


def test_blueprint_static_folder(tmp_path: Any) -> None:
    (tmp_path / "bp_static").mkdir()
    (tmp_path / "bp_static" / "app.js").write_text("console.log(1)")
    app = make_app()
    bp = Blueprint("admin", __name__, static_folder="bp_static", url_prefix="/admin",
                   root_path=str(tmp_path))
    app.register_blueprint(bp)
    client = app.test_client()
    response = client.get("/admin/bp_static/app.js")
    assert response.data == b"console.log(1)" and response.mimetype == "text/javascript"
    with app.test_request_context():
        assert url_for("admin.static", filename="app.js") == "/admin/bp_static/app.js"


def test_run_serves_on_a_backend() -> None:
    import httpx

    app = make_app()

    @app.route("/")
    def index() -> str:
        return "running"

    handles: list[Any] = []
    ready = threading.Event()

    def started(handle: Any) -> None:
        handles.append(handle)
        ready.set()

    thread = threading.Thread(
        target=app.run,
        kwargs={"port": 0, "backend": "threads", "started": started, "handle_signals": False},
        daemon=True,
    )
    thread.start()
    assert ready.wait(10)
    try:
        assert httpx.get(f"http://127.0.0.1:{handles[0].port}/", timeout=10).text == "running"
    finally:
        handles[0].shutdown()
        thread.join(10)
    assert not thread.is_alive()
