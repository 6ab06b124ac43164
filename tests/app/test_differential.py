"""The same Flask application source, run by real Flask and by crosswind.app.

``define`` below is written once against a namespace of Flask names; it is
executed with ``flask`` (and werkzeug) and with ``crosswind.app``.  Every
case then sends the same request(s) through each framework's test client
and requires the same status, body and relevant headers.  The differences
that are intentional are listed in ``docs/porting-from-flask.md`` and
normalised here explicitly (attribute order inside ``Set-Cookie``, the
order of ``Allow``, values that embed the current time).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import http.client
import io
import os
import types
import uuid
from typing import Any

import flask
import pytest
import werkzeug.datastructures
import werkzeug.exceptions
from crosswind import app as cw
from crosswind.app import exceptions as cw_exceptions
from crosswind.app.views import MethodView as CwMethodView
from crosswind.app.views import View as CwView
from crosswind.authorization import WWWAuthenticate as CwWWWAuthenticate
from crosswind.routing import BuildError as CwBuildError
from flask.views import MethodView as FlaskMethodView
from flask.views import View as FlaskView
from werkzeug.routing import BuildError as FlaskBuildError

from tests.support.servers import BACKENDS, running_server

NAMES = [
    "request", "session", "g", "jsonify", "abort", "redirect", "url_for", "flash",
    "get_flashed_messages", "make_response", "send_file", "send_from_directory",
    "render_template", "render_template_string", "stream_with_context", "after_this_request",
    "Blueprint", "Response", "current_app", "has_request_context", "has_app_context",
    "escape", "Markup", "get_template_attribute", "stream_template", "stream_template_string",
]


def namespace(kind: str) -> types.SimpleNamespace:
    if kind == "flask":
        ns = types.SimpleNamespace(**{name: getattr(flask, name, None) for name in NAMES})
        ns.App = flask.Flask
        ns.HTTPException = werkzeug.exceptions.HTTPException
        ns.NotFound = werkzeug.exceptions.NotFound
        ns.BuildError = FlaskBuildError
        ns.View, ns.MethodView = FlaskView, FlaskMethodView
        ns.WWWAuthenticate = werkzeug.datastructures.WWWAuthenticate
        from markupsafe import Markup, escape

        ns.Markup, ns.escape = Markup, escape
    else:
        ns = types.SimpleNamespace(**{name: getattr(cw, name) for name in NAMES})
        ns.App = cw.App
        ns.HTTPException = cw_exceptions.HTTPException
        ns.NotFound = cw_exceptions.NotFound
        ns.BuildError = CwBuildError
        ns.View, ns.MethodView = CwView, CwMethodView
        ns.WWWAuthenticate = CwWWWAuthenticate
    return ns


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Boom(Exception):
    pass


def define(ns: types.SimpleNamespace, root: str) -> Any:  # noqa: C901 - one app, many views
    request, session, g = ns.request, ns.session, ns.g
    app = ns.App("difftest", root_path=root)
    app.secret_key = "differential-secret"
    app.config["MAX_CONTENT_LENGTH"] = 4096
    teardown_log: list[str] = []

    @app.template_filter("shout")
    def shout(value: str) -> str:
        return value.upper() + "!"

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {"site": "diff"}

    @app.before_request
    def before() -> Any:
        g.seen = "before"
        if request.path == "/blocked":
            return "blocked by hook", 403
        return None

    @app.after_request
    def after(response: Any) -> Any:
        response.headers["X-After"] = "1"
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        teardown_log.append(f"{request.path}:{type(exc).__name__ if exc else None}")

    @app.errorhandler(Boom)
    def on_boom(error: Boom) -> Any:
        return {"boom": str(error)}, 418

    @app.errorhandler(ValueError)
    def on_value_error(error: ValueError) -> Any:
        return f"bad value: {error}", 400

    # -- routing ---------------------------------------------------------------
    @app.route("/")
    def index() -> str:
        return "index"

    @app.route("/hello/<name>")
    def hello(name: str) -> str:
        return f"Hello {name}"

    @app.route("/int/<int:n>")
    def int_view(n: int) -> Any:
        return {"double": n * 2}

    @app.route("/float/<float:x>")
    def float_view(x: float) -> str:
        return repr(x)

    @app.route("/path/<path:p>")
    def path_view(p: str) -> str:
        return p

    @app.route("/uuid/<uuid:u>")
    def uuid_view(u: uuid.UUID) -> str:
        return u.hex

    @app.route("/any/<any(red, blue):color>")
    def any_view(color: str) -> str:
        return color

    @app.route("/slash/")
    def slash() -> str:
        return "slash"

    @app.route("/noslash")
    def noslash() -> str:
        return "noslash"

    @app.route("/relaxed", strict_slashes=False)
    def relaxed() -> str:
        return "relaxed"

    @app.route("/only-get")
    def only_get() -> str:
        return "only get"

    @app.route("/both", methods=["GET", "POST"])
    def both() -> str:
        return request.method

    @app.route("/page/", defaults={"n": 1})
    @app.route("/page/<int:n>")
    def page(n: int) -> str:
        return f"page {n}"

    @app.route("/no-options", provide_automatic_options=False)
    def no_options() -> str:
        return "no options"

    def attr_view() -> str:
        return request.method

    attr_view.methods = ["PUT"]  # type: ignore[attr-defined]
    attr_view.required_methods = ["PATCH"]  # type: ignore[attr-defined]
    app.add_url_rule("/attr", view_func=attr_view)

    @app.get("/short")
    def short_get() -> str:
        return "short get"

    @app.post("/short")
    def short_post() -> str:
        return "short post"

    @app.route("/urls")
    def urls() -> Any:
        return {
            "plain": ns.url_for("hello", name="a b"),
            "query": ns.url_for("index", q="x y", tags=["1", "2"]),
            "anchor": ns.url_for("index", _anchor="top part"),
            "external": ns.url_for("int_view", n=3, _external=True),
            "scheme": ns.url_for("index", _external=True, _scheme="https"),
            "static": ns.url_for("static", filename="hello.txt"),
            "bp": ns.url_for("shop.item", item_id=7),
            "default": ns.url_for("page", n=1),
            "method": ns.url_for("both", _method="POST"),
            "nested": ns.url_for("parent.child.leaf"),
        }

    @app.route("/bad-url")
    def bad_url() -> Any:
        try:
            ns.url_for("helo")
        except ns.BuildError as error:
            return {"error": type(error).__name__, "names_endpoint": "'helo'" in str(error),
                    "suggests": "'hello'" in str(error)}
        return "built?"

    # -- request ---------------------------------------------------------------
    @app.route("/args")
    def args() -> Any:
        return {
            "a": request.args.get("a"),
            "all": request.args.getlist("a"),
            "n": request.args.get("n", type=int),
            "missing": request.args.get("missing", "dflt"),
            "dict": request.args.to_dict(),
        }

    @app.route("/args-key")
    def args_key() -> str:
        return request.args["must"]

    @app.route("/form", methods=["POST"])
    def form() -> Any:
        return {"name": request.form["name"], "tags": request.form.getlist("tag"),
                "values": request.values.to_dict(flat=False), "data": request.get_data(as_text=True)}

    @app.route("/values", methods=["GET", "POST"])
    def values() -> Any:
        return sorted(request.values.items(multi=True))

    @app.route("/json", methods=["POST"])
    def json_view() -> Any:
        return {"got": request.get_json(), "is_json": request.is_json}

    @app.route("/json-silent", methods=["POST"])
    def json_silent() -> Any:
        return {"got": request.get_json(silent=True)}

    @app.route("/json-force", methods=["POST"])
    def json_force() -> Any:
        return {"got": request.get_json(force=True)}

    @app.route("/raw", methods=["POST", "PUT"])
    def raw() -> Any:
        return {"data": request.data.decode(), "len": request.content_length,
                "mimetype": request.mimetype, "params": request.mimetype_params,
                "text": request.get_data(as_text=True)}

    @app.route("/stream-read", methods=["POST"])
    def stream_read() -> Any:
        first = request.stream.read(3)
        return {"first": first.decode(), "rest": request.stream.read().decode()}

    @app.route("/upload", methods=["POST"])
    def upload() -> Any:
        f = request.files["file"]
        target = os.path.join(root, "uploads", f"saved-{request.form['kind']}.bin")
        content = f.read()
        f.seek(0)
        f.save(target)
        with open(target, "rb") as saved:
            same = saved.read() == content
        return {"filename": f.filename, "mimetype": f.mimetype, "size": len(content),
                "name": f.name, "saved": same, "kind": request.form["kind"],
                "others": sorted(request.files.keys()), "bool": bool(f)}

    @app.route("/headers")
    def headers() -> Any:
        return {"x": request.headers.get("X-Test"), "missing": request.headers.get("X-None"),
                "ua": request.user_agent.string, "cookies": request.cookies.to_dict(),
                "route": request.access_route}

    @app.route("/info/<part>")
    def info(part: str) -> Any:
        return {
            "path": request.path, "full_path": request.full_path,
            "script_root": request.script_root, "url": request.url,
            "base_url": request.base_url, "url_root": request.url_root,
            "host": request.host, "host_url": request.host_url, "method": request.method,
            "remote_addr": request.remote_addr, "scheme": request.scheme,
            "secure": request.is_secure, "endpoint": request.endpoint,
            "view_args": request.view_args, "blueprint": request.blueprint,
            "query": request.query_string.decode(),
        }

    @app.route("/context")
    def context() -> Any:
        return {"req": ns.has_request_context(), "app": ns.has_app_context(),
                "name": ns.current_app.name, "g": g.seen, "g_default": g.get("nope", 5),
                "g_in": "seen" in g}

    @app.route("/teardown-log")
    def teardown_view() -> Any:
        return list(teardown_log)

    # -- responses ---------------------------------------------------------------
    @app.route("/created")
    def created() -> Any:
        return "made", 201

    @app.route("/with-headers")
    def with_headers() -> Any:
        return "hdrs", {"X-One": "1", "X-Two": "2"}

    @app.route("/triple")
    def triple() -> Any:
        return "triple", 202, [("X-Multi", "a"), ("X-Single", "b")]

    @app.route("/custom-status")
    def custom_status() -> Any:
        return "custom", "299 VERY CUSTOM"

    @app.route("/plain")
    def plain() -> Any:
        return ns.Response("plain text", mimetype="text/plain")

    @app.route("/xml")
    def xml() -> Any:
        return ns.Response("<a/>", mimetype="application/xml")

    @app.route("/made")
    def made() -> Any:
        response = ns.make_response("made it", 203)
        response.headers["X-Made"] = "yes"
        response.set_data(response.get_data(as_text=True) + "!")
        return response

    @app.route("/list")
    def list_view() -> Any:
        return [1, "two", {"three": 3}]

    @app.route("/jsonify-args")
    def jsonify_args() -> Any:
        return ns.jsonify(1, 2, 3)

    @app.route("/jsonify-kwargs")
    def jsonify_kwargs() -> Any:
        return ns.jsonify(b=2, a=1)

    @app.route("/jsonify-types")
    def jsonify_types() -> Any:
        return ns.jsonify(
            when=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
            day=datetime.date(2024, 1, 2),
            price=decimal.Decimal("9.99"),
            id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
            point=Point(1, 2),
            html=ns.Markup("<b>x</b>"),
            text="ünï<>&",
        )

    @app.route("/stream")
    def stream() -> Any:
        def generate() -> Any:
            yield "one,"
            yield "two,"
            yield "three"

        return generate()

    @app.route("/stream-ctx")
    def stream_ctx() -> Any:
        @ns.stream_with_context
        def generate() -> Any:
            yield "hello "
            yield request.args.get("name", "nobody")

        return ns.Response(generate(), mimetype="text/plain")

    @app.route("/cookie-set")
    def cookie_set() -> Any:
        response = ns.make_response("cookie set")
        response.set_cookie("flavour", "choc chip", httponly=True, samesite="Lax")
        response.set_cookie("plain", "abc", path="/cookie", domain="example.com", secure=True)
        response.set_cookie("weird", 'a;b"c,d')
        return response

    @app.route("/cookie-read")
    def cookie_read() -> Any:
        return request.cookies.to_dict()

    @app.route("/cookie-lists")
    def cookie_lists() -> Any:
        cookies = request.cookies
        return {"first": {key: cookies[key] for key in cookies},
                "lists": {key: cookies.getlist(key) for key in cookies}}

    @app.route("/cookie-del")
    def cookie_del() -> Any:
        response = ns.make_response("deleted")
        response.delete_cookie("flavour")
        return response

    @app.route("/this-request")
    def this_request() -> Any:
        @ns.after_this_request
        def add(response: Any) -> Any:
            response.headers["X-This"] = "once"
            return response

        return "after this"

    @app.route("/redirect")
    def redirect_view() -> Any:
        return ns.redirect(ns.url_for("hello", name="there"), 301)

    @app.route("/redirect-ext")
    def redirect_ext() -> Any:
        return ns.redirect("https://example.com/a b?x=<y>")

    @app.route("/escape")
    def escape_view() -> Any:
        return str(ns.escape("<script>&'\"")) + str(ns.Markup("<b>%s</b>") % "<i>")

    # -- errors ---------------------------------------------------------------------
    @app.route("/abort/<int:code>")
    def abort_code(code: int) -> Any:
        ns.abort(code)

    @app.route("/abort-desc")
    def abort_desc() -> Any:
        ns.abort(403, description="You shall not pass\nreally.")

    @app.route("/abort-response")
    def abort_response() -> Any:
        ns.abort(ns.Response("teapot body", 418))

    @app.route("/abort-unknown")
    def abort_unknown() -> Any:
        try:
            ns.abort(299)
        except LookupError as error:
            return f"lookup: {error}"

    @app.route("/crash")
    def crash() -> Any:
        raise RuntimeError("kaboom")

    @app.route("/boom")
    def boom() -> Any:
        raise Boom("handled")

    @app.route("/value-error")
    def value_error() -> Any:
        raise ValueError("nope")

    @app.route("/none")
    def none_view() -> Any:
        return None

    @app.route("/blocked")
    def blocked() -> str:
        return "never"

    # -- templates --------------------------------------------------------------------
    @app.route("/tpl")
    def tpl() -> Any:
        return ns.render_template("page.html", title="<T>", items=["a", "b"])

    @app.route("/tpl-string")
    def tpl_string() -> Any:
        return ns.render_template_string(
            "{{ x }}|{{ x|safe }}|{{ site }}|{{ 'hey'|shout }}|{{ request.path }}|"
            "{{ g.seen }}|{{ config['MAX_CONTENT_LENGTH'] }}|{{ url_for('index') }}|"
            "{{ data|tojson }}",
            x="<b>", data={"a": "<x>"},
        )

    @app.route("/tpl-stream")
    def tpl_stream() -> Any:
        return ns.stream_template("page.html", title="<S>", items=["x", "y", "z"])

    @app.route("/tpl-stream-string")
    def tpl_stream_string() -> Any:
        # The template reads request, g and session after the view has returned.
        return ns.stream_template_string(
            "{% for i in range(3) %}[{{ i }} {{ request.args.get('q') }}]{% endfor %}"
            "{{ g.seen }} {{ session.get('user') }} {{ site }}",
        )

    @app.route("/tpl-stream-headers")
    def tpl_stream_headers() -> Any:
        return ns.stream_template_string("{{ a }}-{{ b }}", a=1, b="<2>"), 201, {"X-One": "s"}

    @app.route("/tpl-macro")
    def tpl_macro() -> Any:
        return ns.get_template_attribute("macros.html", "greet")("Ann")

    # -- authorization -----------------------------------------------------------------
    @app.route("/auth")
    def auth_info() -> Any:
        auth = request.authorization
        if auth is None:
            return {"auth": None}
        return {
            "type": auth.type, "token": auth.token, "parameters": auth.parameters,
            "username": auth.username, "password": auth.password, "realm": auth.get("realm"),
            "has_nonce": "nonce" in auth, "header": auth.to_header(),
        }

    @app.route("/challenge/<kind>")
    def challenge(kind: str) -> Any:
        response = ns.make_response("login first", 401)
        if kind == "basic":
            response.www_authenticate = ns.WWWAuthenticate("basic", {"realm": "Staff area"})
        elif kind == "edit":
            # Changing the object the response hands out changes the field.
            response.www_authenticate.realm = "edited"
            response.www_authenticate.charset = "UTF-8"
        elif kind == "digest":
            response.www_authenticate = ns.WWWAuthenticate(
                "digest", {"realm": "r", "nonce": "abc", "qop": "auth", "algorithm": "MD5", "stale": "FALSE"}
            )
        elif kind == "bearer":
            response.www_authenticate = ns.WWWAuthenticate("bearer", {"error": "invalid_token", "error_description": "the token expired"})
        elif kind == "token":
            response.www_authenticate = ns.WWWAuthenticate("negotiate", token="abc==")
        elif kind == "several":
            response.www_authenticate = [
                ns.WWWAuthenticate("basic", {"realm": "a"}), ns.WWWAuthenticate("bearer"),
            ]
        elif kind == "removed":
            response.headers["WWW-Authenticate"] = "Basic realm=x"
            response.www_authenticate = None
        elif kind == "abort":
            ns.abort(401, www_authenticate=ns.WWWAuthenticate("basic", {"realm": "from abort"}))
        sent = response.headers.getlist("WWW-Authenticate")
        read = response.www_authenticate
        response.set_data(f"{sent} {read.type} {read.get('realm')} {read.token}")
        return response

    # -- sessions and flashes ------------------------------------------------------------
    @app.route("/login", methods=["POST"])
    def login() -> Any:
        session["user"] = request.form["user"]
        session["roles"] = ("a", "b")
        if request.form.get("remember"):
            session.permanent = True
        return "logged in"

    @app.route("/me")
    def me() -> Any:
        return {"user": session.get("user"), "roles": list(session.get("roles", ())),
                "permanent": session.permanent, "new": session.new}

    @app.route("/logout")
    def logout() -> Any:
        session.pop("user", None)
        session.pop("roles", None)
        return "logged out"

    @app.route("/counter")
    def counter() -> Any:
        session["n"] = session.get("n", 0) + 1
        session.setdefault("items", []).append(session["n"])
        return {"n": session["n"], "items": session["items"]}

    @app.route("/flash")
    def flash_view() -> Any:
        ns.flash("plain message")
        ns.flash("careful", "warning")
        ns.flash("broken", "error")
        return ns.redirect(ns.url_for("show_flashes"))

    @app.route("/flashes")
    def show_flashes() -> Any:
        mode = request.args.get("mode")
        if mode == "categories":
            return {"m": [list(x) for x in ns.get_flashed_messages(with_categories=True)]}
        if mode == "filter":
            return {"m": ns.get_flashed_messages(category_filter=["error", "warning"])}
        return {"m": ns.get_flashed_messages(), "again": ns.get_flashed_messages()}

    # -- files ---------------------------------------------------------------------
    @app.route("/file")
    def file_view() -> Any:
        return ns.send_file("files/report.txt")

    @app.route("/file-attach")
    def file_attach() -> Any:
        return ns.send_file("files/report.txt", as_attachment=True, download_name="my report.txt")

    @app.route("/file-unicode")
    def file_unicode() -> Any:
        return ns.send_file("files/report.txt", as_attachment=True, download_name="résumé.txt")

    @app.route("/file-bytes")
    def file_bytes() -> Any:
        return ns.send_file(io.BytesIO(b"in memory bytes"), mimetype="application/x-thing")

    @app.route("/file-named")
    def file_named() -> Any:
        return ns.send_file(io.BytesIO(b"a,b\n1,2\n"), download_name="data.csv")

    @app.route("/file-maxage")
    def file_maxage() -> Any:
        return ns.send_file("files/report.txt", max_age=60)

    @app.route("/dir/<path:name>")
    def from_dir(name: str) -> Any:
        return ns.send_from_directory("files", name)

    # -- class-based views ------------------------------------------------------------
    class Things(ns.MethodView):
        def get(self, thing_id: int | None = None) -> Any:
            return {"get": thing_id}

        def post(self) -> Any:
            return {"post": request.form.get("x")}, 201

    things = Things.as_view("things")
    app.add_url_rule("/things", view_func=things, methods=["GET", "POST"])
    app.add_url_rule("/things/<int:thing_id>", view_func=things, methods=["GET"])

    def add_header(view: Any) -> Any:
        def wrapped(**kwargs: Any) -> Any:
            response = ns.make_response(view(**kwargs))
            response.headers["X-Decorated"] = "yes"
            return response

        return wrapped

    class Plain(ns.View):
        methods = ["GET", "DELETE"]
        decorators = [add_header]

        def __init__(self, word: str) -> None:
            self.word = word

        def dispatch_request(self, **kwargs: Any) -> Any:
            return f"{self.word} {request.method} {kwargs}"

    app.add_url_rule("/plain-view/<x>", view_func=Plain.as_view("plain_view", "hi"))

    # -- blueprints ---------------------------------------------------------------------
    shop = ns.Blueprint("shop", "difftest", url_prefix="/shop")

    @shop.before_request
    def shop_before() -> None:
        g.shop = "open"

    @shop.route("/")
    def shop_index() -> Any:
        return {"g": g.shop, "endpoint": request.endpoint, "bp": request.blueprint,
                "rel": ns.url_for(".item", item_id=2)}

    @shop.route("/item/<int:item_id>")
    def item(item_id: int) -> Any:
        if item_id == 404:
            ns.abort(404)
        return f"item {item_id}"

    @shop.route("/key")
    def shop_key() -> Any:
        return request.form["missing"]

    @shop.errorhandler(404)
    def shop_404(error: Any) -> Any:
        return {"shop_missing": error.code}, 404

    @shop.errorhandler(KeyError)
    def shop_key_error(error: Any) -> Any:
        return "shop key error", 422

    @shop.app_template_filter("reverse_it")
    def reverse_it(value: str) -> str:
        return value[::-1]

    @shop.route("/filter")
    def shop_filter() -> Any:
        return ns.render_template_string("{{ 'abc'|reverse_it }}")

    app.register_blueprint(shop)
    app.register_blueprint(shop, url_prefix="/store", name="store")

    parent = ns.Blueprint("parent", "difftest", url_prefix="/parent")
    child = ns.Blueprint("child", "difftest", url_prefix="/child")

    @child.route("/leaf")
    def leaf() -> Any:
        return {"endpoint": request.endpoint, "bp": request.blueprint,
                "url": ns.url_for(".leaf"), "parent": ns.url_for("parent.top")}

    @parent.route("/")
    def top() -> str:
        return "parent top"

    @parent.after_request
    def parent_after(response: Any) -> Any:
        response.headers["X-Parent"] = "yes"
        return response

    parent.register_blueprint(child)
    app.register_blueprint(parent)

    lang = ns.Blueprint("lang", "difftest", url_prefix="/<lang_code>")

    @lang.url_defaults
    def add_lang(endpoint: str, values: dict[str, Any]) -> None:
        values.setdefault("lang_code", g.lang_code)

    @lang.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.lang_code = values.pop("lang_code") if values else None

    @lang.route("/about")
    def about() -> Any:
        return {"lang": g.lang_code, "self": ns.url_for(".about")}

    app.register_blueprint(lang)
    return app


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = tmp_path_factory.mktemp("diffapp")
    (base / "static").mkdir()
    (base / "static" / "hello.txt").write_text("static hello\n")
    (base / "files").mkdir()
    (base / "files" / "report.txt").write_text("0123456789abcdefghij")
    (base / "secret.txt").write_text("do not serve")
    (base / "uploads").mkdir()
    (base / "templates").mkdir()
    (base / "templates" / "page.html").write_text(
        "<h1>{{ title }}</h1>{% for i in items %}<li>{{ i|shout }}</li>{% endfor %}"
        "{{ site }} {{ request.endpoint }} {{ session.get('user') }}"
    )
    (base / "templates" / "macros.html").write_text(
        "{% macro greet(name) %}Hi {{ name }}!{% endmacro %}"
    )
    for path in base.rglob("*"):
        if path.is_file():
            os.utime(path, (1_700_000_000, 1_700_000_000))
    return str(base)


@pytest.fixture(scope="module")
def apps(root: str) -> dict[str, Any]:
    return {"flask": define(namespace("flask"), root), "crosswind": define(namespace("crosswind"), root)}


# Headers whose values must agree when either side sends them.
COMPARED = [
    "Content-Type", "Content-Length", "Location", "Vary", "Content-Disposition",
    "Cache-Control", "ETag", "Last-Modified", "Content-Range", "Accept-Ranges",
    "Content-Encoding", "WWW-Authenticate", "X-After", "X-One", "X-Two", "X-Multi",
    "X-Single", "X-Made", "X-This", "X-Decorated", "X-Parent",
]


def cookie_view(header: str) -> tuple[str, str, frozenset[str]]:
    pair, _, rest = header.partition(";")
    name, _, value = pair.partition("=")
    attributes = set()
    for piece in rest.split(";"):
        key, eq, attr = piece.strip().partition("=")
        if not key:
            continue
        key = key.lower()
        if key == "expires" and attr.strip() != "Thu, 01 Jan 1970 00:00:00 GMT":
            attr = "<future>"  # derived from the current time on both sides
        attributes.add(f"{key}={attr}" if eq else key)
    if name == "session" and value:
        value = "<signed>"  # carries a timestamp; cross-reading is tested elsewhere
    return name, value, frozenset(attributes)


def observed(response: Any) -> dict[str, Any]:
    headers = {name: response.headers.get(name) for name in COMPARED}
    allow = response.headers.get("Allow")
    body = response.get_data()
    response.close()
    return {
        "status": response.status_code,
        "body": body,
        "headers": headers,
        "allow": sorted(a.strip() for a in allow.split(",")) if allow else None,
        "cookies": sorted(cookie_view(h) for h in response.headers.getlist("Set-Cookie")),
    }


def run(apps: dict[str, Any], steps: list[tuple[str, str, dict[str, Any]]]) -> None:
    clients = {name: app.test_client() for name, app in apps.items()}
    for method, path, kwargs in steps:
        results = {}
        for name, client in clients.items():
            prepared = dict(kwargs)
            if "data" in prepared and isinstance(prepared["data"], dict):
                # File streams are consumed by a request; give each side its own.
                prepared["data"] = {
                    key: (io.BytesIO(value[0]), *value[1:]) if isinstance(value, tuple) else value
                    for key, value in prepared["data"].items()
                }
            results[name] = observed(client.open(path, method=method, **prepared))
        assert results["crosswind"] == results["flask"], f"{method} {path}"


def get(path: str, **kwargs: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [("GET", path, kwargs)]


CASES: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    # routing
    "index": get("/"),
    "variable": get("/hello/world"),
    "variable-unicode": get("/hello/%C3%A9t%C3%A9"),
    "variable-space": get("/hello/a%20b"),
    "int": get("/int/21"),
    "int-rejects-text": get("/int/abc"),
    "float": get("/float/2.5"),
    "path": get("/path/a/b/c.txt"),
    "uuid": get("/uuid/12345678-1234-5678-1234-567812345678"),
    "uuid-bad": get("/uuid/not-a-uuid"),
    "any": get("/any/blue"),
    "any-miss": get("/any/green"),
    "branch": get("/slash/"),
    "branch-redirect": get("/slash"),
    "branch-redirect-query": get("/slash?x=1&y=2"),
    "leaf-with-slash": get("/noslash/"),
    "relaxed": get("/relaxed"),
    "relaxed-slash": get("/relaxed/"),
    "not-found": get("/does/not/exist"),
    "405": [("POST", "/only-get", {})],
    "405-delete": [("DELETE", "/both", {})],
    "options-auto": [("OPTIONS", "/only-get", {})],
    "options-disabled": [("OPTIONS", "/no-options", {})],
    "head": [("HEAD", "/", {})],
    "head-json": [("HEAD", "/int/3", {})],
    "both-get": get("/both"),
    "both-post": [("POST", "/both", {})],
    "defaults": get("/page/"),
    "defaults-redirect": get("/page/1"),
    "defaults-other": get("/page/2"),
    "view-attributes": [("PUT", "/attr", {}), ("PATCH", "/attr", {}), ("GET", "/attr", {})],
    "shortcuts": [("GET", "/short", {}), ("POST", "/short", {})],
    "url-for": get("/urls"),
    "url-for-error": get("/bad-url"),
    "merge-slashes": get("/hello//x"),
    # request data
    "args": get("/args?a=1&a=2&n=5&x=%20y"),
    "args-bad-type": get("/args?n=five"),
    "args-not-utf8": get("/args?a=%ff%C3%A9&a=ok"),
    "args-query-string-kw": get("/args", query_string={"a": ["p", "q"], "n": "3"}),
    "args-missing-key": get("/args-key"),
    "args-present-key": get("/args-key?must=here"),
    "form": [("POST", "/form", {"data": {"name": "Ann", "tag": ["x", "y"]}})],
    "form-query-and-body": [("POST", "/form?name=q", {"data": {"name": "body"}})],
    "form-missing-key": [("POST", "/form", {"data": {"other": "1"}})],
    "form-claims-latin1": [("POST", "/form", {"data": "name=%E9t%E9", "content_type": "application/x-www-form-urlencoded; charset=latin-1"})],
    "form-garbage-multipart": [("POST", "/form", {"data": b"garbage", "content_type": "multipart/form-data; boundary=b"})],
    "form-too-large": [("POST", "/form", {"data": {"name": "x" * 5000}})],
    "values-get": get("/values?a=1"),
    "values-post": [("POST", "/values?a=1", {"data": {"b": "2"}})],
    "json": [("POST", "/json", {"json": {"a": [1, 2], "b": None}})],
    "json-malformed": [("POST", "/json", {"data": "{bad", "content_type": "application/json"})],
    "json-wrong-type": [("POST", "/json", {"data": "{}", "content_type": "text/plain"})],
    "json-plus-type": [("POST", "/json", {"data": '{"v": 1}', "content_type": "application/vnd.api+json"})],
    "json-silent": [("POST", "/json-silent", {"data": "nope", "content_type": "application/json"})],
    "json-force": [("POST", "/json-force", {"data": "[1, 2]", "content_type": "text/plain"})],
    "raw-body": [("POST", "/raw", {"data": "hello body", "content_type": "text/plain; charset=utf-8"})],
    "stream-read": [("POST", "/stream-read", {"data": "abcdefg", "content_type": "text/plain"})],
    "raw-form-body-is-empty": [("POST", "/raw", {"data": {"a": "1"}})],
    "raw-too-large": [("PUT", "/raw", {"data": b"x" * 5000, "content_type": "text/plain"})],
    "upload": [("POST", "/upload", {"data": {"kind": "a", "file": (b"file content \x00\xff", "notes.txt")}})],
    "upload-type": [("POST", "/upload", {"data": {"kind": "b", "file": (b"PNG", "pic.png", "image/png"), "extra": (b"1", "x.bin")}})],
    "upload-missing": [("POST", "/upload", {"data": {"kind": "c"}})],
    "headers": get("/headers", headers={"X-Test": "yes", "User-Agent": "diff/1.0", "X-Forwarded-For": "10.0.0.1, 10.0.0.2"}),
    "request-info": get("/info/p%C3%A4rt?q=1&r=%20"),
    "request-info-https": get("/info/x", base_url="https://secure.example:8443/"),
    "request-info-remote": get("/info/y", environ_base={"REMOTE_ADDR": "192.0.2.7"}),
    "context": get("/context"),
    "teardown": [("GET", "/", {}), ("GET", "/value-error", {}), ("GET", "/teardown-log", {})],
    # responses
    "tuple-status": get("/created"),
    "tuple-headers": get("/with-headers"),
    "tuple-triple": get("/triple"),
    "custom-status": get("/custom-status"),
    "response-plain": get("/plain"),
    "response-xml": get("/xml"),
    "make-response": get("/made"),
    "list-json": get("/list"),
    "jsonify-args": get("/jsonify-args"),
    "jsonify-kwargs": get("/jsonify-kwargs"),
    "jsonify-types": get("/jsonify-types"),
    "stream": get("/stream"),
    "stream-with-context": get("/stream-ctx?name=Zed"),
    "head-stream": [("HEAD", "/stream", {})],
    "options-blueprint": [("OPTIONS", "/shop/", {})],
    "405-blueprint": [("POST", "/shop/item/1", {})],
    "cookies": [("GET", "/cookie-set", {}), ("GET", "/cookie-read", {}), ("GET", "/cookie-del", {}), ("GET", "/cookie-read", {})],
    "after-this-request": [("GET", "/this-request", {}), ("GET", "/", {})],
    "redirect": get("/redirect"),
    "redirect-follow": get("/redirect", follow_redirects=True),
    "redirect-external": get("/redirect-ext"),
    "escape": get("/escape"),
    # errors
    "abort-400": get("/abort/400"),
    "abort-401": get("/abort/401"),
    "abort-403": get("/abort/403"),
    "abort-404": get("/abort/404"),
    "abort-409": get("/abort/409"),
    "abort-410": get("/abort/410"),
    "abort-413": get("/abort/413"),
    "abort-418": get("/abort/418"),
    "abort-422": get("/abort/422"),
    "abort-429": get("/abort/429"),
    "abort-500": get("/abort/500"),
    "abort-503": get("/abort/503"),
    "abort-description": get("/abort-desc"),
    "abort-response": get("/abort-response"),
    "abort-unknown": get("/abort-unknown"),
    "unhandled": get("/crash"),
    "handled-class": get("/boom"),
    "handled-builtin": get("/value-error"),
    "view-returned-none": get("/none"),
    "before-request-short-circuit": get("/blocked"),
    # templates
    "template": [("POST", "/login", {"data": {"user": "tpl"}}), ("GET", "/tpl", {})],
    "template-string": get("/tpl-string"),
    "template-macro": get("/tpl-macro"),
    "template-stream": [("POST", "/login", {"data": {"user": "st"}}), ("GET", "/tpl-stream", {})],
    "template-stream-string": [
        ("POST", "/login", {"data": {"user": "<u>"}}), ("GET", "/tpl-stream-string?q=<q>", {}),
    ],
    "template-stream-status-headers": get("/tpl-stream-headers"),
    "template-stream-head": [("HEAD", "/tpl-stream", {})],
    # authorization
    "auth-none": get("/auth"),
    "auth-basic": get("/auth", headers={"Authorization": "Basic dXNlcjpwYXNz"}),
    "auth-basic-kw": get("/auth", auth=("ann", "s3cr:et \u00e9")),
    "auth-basic-lowercase-scheme": get("/auth", headers={"Authorization": "basic  YTpi "}),
    "auth-basic-no-colon": get("/auth", headers={"Authorization": "Basic dXNlcg=="}),
    "auth-basic-bad-base64": get("/auth", headers={"Authorization": "Basic !!notbase64"}),
    "auth-basic-not-utf8": get("/auth", headers={"Authorization": "Basic /w=="}),
    "auth-empty": get("/auth", headers={"Authorization": ""}),
    "auth-bearer": get("/auth", headers={"Authorization": "Bearer eyJhbGciOi.eyJzdWIi.c2ln=="}),
    "auth-digest": get("/auth", headers={"Authorization": 'Digest username="Mufasa", realm="a, b", nonce=dcd98b, uri="/dir/index.html", qop=auth, nc=00000001, response="6629fae4"'}),
    "auth-params-unclosed-quote": get("/auth", headers={"Authorization": 'Digest realm="open, nonce=x'}),
    "auth-params-ext-value": get("/auth", headers={"Authorization": "Custom title*=UTF-8''%e2%82%ac%20rates, flag"}),
    "auth-scheme-only": get("/auth", headers={"Authorization": "Negotiate"}),
    "challenge-none": get("/challenge/none"),
    "challenge-basic": get("/challenge/basic"),
    "challenge-edit": get("/challenge/edit"),
    "challenge-digest": get("/challenge/digest"),
    "challenge-bearer": get("/challenge/bearer"),
    "challenge-token": get("/challenge/token"),
    "challenge-several": get("/challenge/several"),
    "challenge-removed": get("/challenge/removed"),
    "challenge-abort": get("/challenge/abort"),
    # sessions and flashes
    "session-flow": [
        ("GET", "/me", {}), ("POST", "/login", {"data": {"user": "ann"}}), ("GET", "/me", {}),
        ("GET", "/logout", {}), ("GET", "/me", {}),
    ],
    "session-permanent": [("POST", "/login", {"data": {"user": "bo", "remember": "1"}}), ("GET", "/me", {})],
    "session-mutation": [("GET", "/counter", {}), ("GET", "/counter", {}), ("GET", "/counter", {})],
    "flash-categories": [("GET", "/flash", {}), ("GET", "/flashes?mode=categories", {}), ("GET", "/flashes", {})],
    "flash-filter": [("GET", "/flash", {}), ("GET", "/flashes?mode=filter", {})],
    "flash-once": [("GET", "/flash", {"follow_redirects": True}), ("GET", "/flashes", {})],
    # files
    "static": get("/static/hello.txt"),
    "static-head": [("HEAD", "/static/hello.txt", {})],
    "static-missing": get("/static/nope.txt"),
    "static-escape": get("/static/..%2fsecret.txt"),
    "send-file": get("/file"),
    "send-file-attachment": get("/file-attach"),
    "send-file-unicode-name": get("/file-unicode"),
    "send-file-bytesio": get("/file-bytes"),
    "send-file-guessed": get("/file-named"),
    "send-file-max-age": get("/file-maxage"),
    "send-file-if-modified-since": get("/file", headers={"If-Modified-Since": "Wed, 15 Nov 2023 00:00:00 GMT"}),
    "send-file-stale-if-modified-since": get("/file", headers={"If-Modified-Since": "Mon, 13 Nov 2023 00:00:00 GMT"}),
    "send-file-range": get("/file", headers={"Range": "bytes=2-5"}),
    "send-file-suffix-range": get("/file", headers={"Range": "bytes=-4"}),
    "send-file-range-unsatisfiable": get("/file", headers={"Range": "bytes=100-200"}),
    "send-from-directory": get("/dir/report.txt"),
    "send-from-directory-missing": get("/dir/absent.txt"),
    "send-from-directory-escape": get("/dir/..%2fsecret.txt"),
    # class-based views
    "methodview-get": get("/things"),
    "methodview-arg": get("/things/5"),
    "methodview-post": [("POST", "/things", {"data": {"x": "y"}})],
    "methodview-head": [("HEAD", "/things/5", {})],
    "methodview-405": [("DELETE", "/things", {})],
    "view-decorators": [("GET", "/plain-view/a", {}), ("DELETE", "/plain-view/b", {}), ("POST", "/plain-view/c", {})],
    # blueprints
    "bp-index": get("/shop/"),
    "bp-redirect": get("/shop"),
    "bp-item": get("/shop/item/3"),
    "bp-404-handler": get("/shop/item/404"),
    "bp-404-unmatched-url": get("/shop/nothing"),
    "bp-key-error-handler": [("POST", "/shop/key", {}), ("GET", "/shop/key", {})],
    "bp-second-name": get("/store/"),
    "bp-template-filter": get("/shop/filter"),
    "bp-nested": get("/parent/child/leaf"),
    "bp-parent": get("/parent/"),
    "bp-url-processors": get("/de/about"),
}


def test_enough_cases() -> None:
    requests = sum(len(steps) for steps in CASES.values())
    assert len(CASES) >= 80 and requests >= 100


@pytest.mark.parametrize("case", list(CASES))
def test_same_as_flask(apps: dict[str, Any], case: str) -> None:
    run(apps, CASES[case])


def test_etag_conditional_same_as_flask(apps: dict[str, Any]) -> None:
    etags = {}
    for name, app in apps.items():
        response = app.test_client().get("/file")
        etags[name] = response.headers["ETag"]
        response.close()
    assert etags["crosswind"] == etags["flask"]
    run(apps, get("/file", headers={"If-None-Match": etags["flask"]}))
    run(apps, get("/file", headers={"Range": "bytes=0-3", "If-Range": etags["flask"]}))
    run(apps, get("/file", headers={"Range": "bytes=0-3", "If-Range": '"other"'}))


COOKIE_HEADERS = [
    "x=1; y=2; x=3",
    "a=1; flag; b=2",
    "=v; a=two words; b=\"q;uoted\"; b=plain",
    'c="\\303\\251t\\303\\251"; c=\u00e9',
]


@pytest.mark.parametrize("header", COOKIE_HEADERS)
def test_repeated_and_bare_cookies_same_as_flask(apps: dict[str, Any], header: str) -> None:
    # Flask's client replaces a Cookie header with its jar unless cookies are off.
    got = {}
    for name, app in apps.items():
        client = app.test_client(use_cookies=False)
        got[name] = observed(client.get("/cookie-lists", headers={"Cookie": header}))
    assert got["crosswind"] == got["flask"]
    assert got["flask"]["body"] != b'{"first":{},"lists":{}}\n'


def domain_apps(ns: types.SimpleNamespace) -> list[Any]:
    sub = ns.App("subdomains", subdomain_matching=True)
    sub.config["SERVER_NAME"] = "example.com"

    @sub.route("/", subdomain="<user>")
    def userpage(user: str) -> str:
        return f"user {user} {ns.url_for('userpage', user='z')} {ns.url_for('plain')}"

    @sub.route("/plain")
    def plain() -> str:
        return f"plain {ns.url_for('userpage', user='q')}"

    hosts = ns.App("hosts", host_matching=True, static_host="static.example")

    @hosts.route("/", host="a.example")
    def a() -> str:
        return f"A {ns.url_for('b')} {ns.url_for('static', filename='x.css')}"

    @hosts.route("/", host="b.example")
    def b() -> str:
        return "B"

    trusted = ns.App("trusted")
    trusted.config["TRUSTED_HOSTS"] = [".example.com", "localhost", "bücher.example"]

    @trusted.route("/")
    def where() -> str:
        return f"{ns.request.host} {ns.url_for('where', _external=True)}"

    @trusted.errorhandler(400)
    def refused(error: Any) -> Any:
        return f"refused {type(error).__name__}: {error.description}", 400

    plain_trusted = ns.App("plain_trusted")
    plain_trusted.config["TRUSTED_HOSTS"] = ["good.example"]

    @plain_trusted.route("/")
    def plain_where() -> str:
        return "served"

    variable_hosts = ns.App("variable_hosts", host_matching=True, static_folder=None)
    variable_hosts.config["SERVER_NAME"] = "example.com"

    @variable_hosts.route("/", host="<user>.users.example")
    def user_home(user: str) -> str:
        return f"home of {user} {ns.url_for('user_home', user='eve')} {ns.url_for('shared')}"

    @variable_hosts.route("/shared", host="example.com")
    def shared() -> str:
        return f"shared {ns.url_for('user_home', user='sam', _external=True)}"

    server_named = ns.App("server_named")
    server_named.config["SERVER_NAME"] = "example.com:8080"

    @server_named.route("/here")
    def here() -> str:
        return f"{ns.request.host} {ns.url_for('here', _external=True)}"

    return [sub, hosts, trusted, plain_trusted, variable_hosts, server_named]


DOMAIN_CASES = [
    (0, "/", "http://bob.example.com/"),
    (0, "/plain", "http://bob.example.com/"),
    (0, "/", "http://example.com/"),
    (0, "/plain", "http://example.com/"),
    (1, "/", "http://a.example/"),
    (1, "/", "http://b.example/"),
    (1, "/", "http://c.example/"),
    # TRUSTED_HOSTS: a domain with its subdomains, a name, an IDNA name; ports are ignored
    (2, "/", "http://example.com/"),
    (2, "/", "http://deep.sub.example.com:8443/"),
    (2, "/", "http://localhost:5000/"),
    (2, "/", "http://xn--bcher-kva.example/"),
    (2, "/", "http://evil.example.org/"),
    (2, "/", "http://example.com.evil.org/"),
    (2, "/", "http://notexample.com/"),
    (2, "/missing", "http://evil.example.org/"),
    (3, "/", "http://good.example/"),
    (3, "/", "http://bad.example/"),
    (3, "/nowhere", "http://bad.example/"),
    # host matching with a variable part, and SERVER_NAME for rules without a host
    (4, "/", "http://ann.users.example/"),
    (4, "/", "http://users.example/"),
    (4, "/shared", "http://example.com/"),
    (4, "/shared", "http://other.example/"),
    # SERVER_NAME does not restrict which hosts are served (Flask 3.1)
    (5, "/here", "http://example.com:8080/"),
    (5, "/here", "http://elsewhere.example/"),
]


def test_subdomain_and_host_matching_same_as_flask() -> None:
    ours, theirs = domain_apps(namespace("crosswind")), domain_apps(namespace("flask"))
    for index, path, base in DOMAIN_CASES:
        got = observed(ours[index].test_client().get(path, base_url=base))
        want = observed(theirs[index].test_client().get(path, base_url=base))
        assert got == want, (path, base)


def test_url_for_outside_requests_uses_server_name_same_as_flask() -> None:
    ours, theirs = domain_apps(namespace("crosswind")), domain_apps(namespace("flask"))
    built = []
    for apps, url_for in ((ours, cw.url_for), (theirs, flask.url_for)):
        urls = []
        for index, endpoint, values in [
            (0, "userpage", {"user": "kim"}), (0, "plain", {}),
            (4, "user_home", {"user": "lee"}), (4, "shared", {}),
            (5, "here", {}), (5, "here", {"_external": False, "q": "1"}),
        ]:
            with apps[index].app_context():
                urls.append(url_for(endpoint, **values))
        built.append(urls)
    assert built[0] == built[1]
    assert built[1][4] == "http://example.com:8080/here"


# The newer pieces once more over real connections: what the in-memory client
# compared above must hold for a server on each backend (a streamed template
# goes out chunked, Host comes from the wire).
WIRE_CASES = [
    ("main", "/auth", {"Authorization": "Basic dXNlcjpwYXNz"}),
    ("main", "/auth", {"Authorization": "Bearer abc=="}),
    ("main", "/auth", {"Authorization": "Basic !!"}),
    ("main", "/challenge/several", {}),
    ("main", "/challenge/digest", {}),
    ("main", "/tpl-stream-string?q=%3Cq%3E", {}),
    ("main", "/tpl-stream", {}),
    ("trusted", "/", {"Host": "www.example.com"}),
    ("trusted", "/", {"Host": "localhost:8080"}),
    ("trusted", "/", {"Host": "evil.example.org"}),
    ("trusted", "/missing", {"Host": "evil.example.org"}),
]


def wire_view(status: int, body: bytes, headers: Any) -> dict[str, Any]:
    return {
        "status": status,
        "body": body,
        "content_type": headers.get("Content-Type"),
        # An http.client message or a werkzeug Headers.
        "www_authenticate": (
            headers.get_all("WWW-Authenticate", []) if isinstance(headers, http.client.HTTPMessage)
            else headers.getlist("WWW-Authenticate")
        ),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_new_pieces_same_as_flask_on_every_backend(apps: dict[str, Any], backend: str) -> None:
    ours = {"main": apps["crosswind"], "trusted": domain_apps(namespace("crosswind"))[2]}
    theirs = {"main": apps["flask"], "trusted": domain_apps(namespace("flask"))[2]}
    for name, app in ours.items():
        with running_server(backend, app) as server:
            for which, path, headers in WIRE_CASES:
                if which != name:
                    continue
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                try:
                    connection.request("GET", path, headers=headers)
                    response = connection.getresponse()
                    got = wire_view(response.status, response.read(), response.headers)
                finally:
                    connection.close()
                host = headers.get("Host", "localhost")
                client_headers = {k: v for k, v in headers.items() if k != "Host"}
                expected = theirs[which].test_client().get(path, base_url=f"http://{host}/", headers=client_headers)
                want = wire_view(expected.status_code, expected.get_data(), expected.headers)
                expected.close()
                assert got == want, (backend, path, headers)
