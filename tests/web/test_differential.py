"""The same handler source on real Tornado and on crosswind: the answers must agree.

:func:`build_routes` builds every handler from a ``web`` module, either
``tornado.web`` or ``crosswind.web``.  Tornado serves them from its own I/O
loop in a thread; crosswind serves them on every backend.  Each case sends
the same requests to both and compares status, reason, body and the headers
that matter (Content-Type, Location, Set-Cookie attributes, ETag, Allow,
Content-Range, caching, encoding, ``X-*``).  Values that are random or
timed (XSRF tokens, signature timestamps, ``Expires``) are compared by
meaning rather than by bytes.  Intentional differences are listed in
``docs/porting-from-tornado.md`` and left out of this suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import hashlib
import http.client
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import crosswind.locale
import crosswind.web
import httpx
import pytest
import tornado.httpserver
import tornado.locale
import tornado.netutil
import tornado.web
from crosswind.cookies import parse_cookie_header

from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]

SECRET = "differential-secret"
TIMEOUT = 10.0
STATIC_CONTENT = b"0123456789abcdefghij"
STATIC_MTIME = 1_600_000_000
HOST = "example.test"

# -- the shared handler source --------------------------------------------------


def build_routes(web: ModuleType) -> list[Any]:
    """Every handler of the suite, built from *web* (tornado.web or crosswind.web)."""

    class Plain(web.RequestHandler):
        def get(self):
            self.write("Hello, world")

        def post(self):
            self.write("posted " + self.request.body.decode())

    class Json(web.RequestHandler):
        def get(self):
            self.write({"a": [1, 2], "s": "</script>"})

    class JsonType(web.RequestHandler):
        def get(self):
            self.write({"x": 1})
            self.set_header("Content-Type", "application/vnd.thing+json")

    class ListWrite(web.RequestHandler):
        def get(self):
            self.write([1, 2])

    class Positional(web.RequestHandler):
        def get(self, first, second):
            self.write({"first": first, "second": second})

    class Named(web.RequestHandler):
        def get(self, slug, number):
            self.write({"slug": slug, "number": number})

    class Optional(web.RequestHandler):
        def get(self, part):
            self.write({"part": part})

    class Args(web.RequestHandler):
        def get(self):
            self.write(
                {
                    "last": self.get_argument("a", "default"),
                    "all": self.get_arguments("a"),
                    "raw": self.get_arguments("a", strip=False),
                    "query": self.get_query_argument("a", None),
                    "blank": self.get_argument("blank", "missing"),
                }
            )

        def post(self):
            self.write(
                {
                    "body": self.get_body_arguments("a"),
                    "query": self.get_query_arguments("a"),
                    "all": self.get_arguments("a"),
                    "must": self.get_argument("must"),
                }
            )

    class Required(web.RequestHandler):
        def get(self):
            self.write(self.get_argument("needed"))

    class Latin(web.RequestHandler):
        def decode_argument(self, value, name=None):
            return value.decode("latin-1")

        def get(self, part):
            self.write(part + "|" + self.get_argument("q", ""))

    class Upload(web.RequestHandler):
        def post(self):
            files = {
                name: [(f["filename"], f["content_type"], f["body"].decode()) for f in items]
                for name, items in self.request.files.items()
            }
            self.write({"fields": self.get_body_arguments("title"), "files": files})

    class RequestInfo(web.RequestHandler):
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
                    "protocol": r.protocol,
                    "remote_ip": r.remote_ip,
                    "full_url": r.full_url(),
                    "arguments": {k: [v.decode() for v in vs] for k, vs in r.arguments.items()},
                    "header": r.headers.get("X-Custom"),
                    "cookie": self.get_cookie("flavour", "none"),
                    "cookies": sorted(self.cookies),
                }
            )

    class Status(web.RequestHandler):
        def get(self):
            code = int(self.get_argument("code"))
            self.set_status(code, self.get_argument("reason", None))
            if code not in (204, 304):
                self.write("status %d" % code)

    class Headers(web.RequestHandler):
        def get(self):
            self.set_header("X-Str", "text")
            self.set_header("X-Int", 42)
            self.set_header("X-Date", datetime.datetime(2020, 1, 2, 3, 4, 5))
            self.set_header("X-Bytes", b"raw")
            self.add_header("X-Multi", "one")
            self.add_header("X-Multi", "two")
            self.set_header("X-Removed", "gone")
            self.clear_header("X-Removed")
            self.set_header("Allow", "GET, HEAD")
            self.write("headers")

    class BadHeader(web.RequestHandler):
        def get(self):
            self.set_header("X-Bad", "a\r\nX-Injected: yes")

    class Defaults(web.RequestHandler):
        def set_default_headers(self):
            self.set_header("X-Default", "always")

        def get(self):
            if self.get_argument("fail", None):
                raise web.HTTPError(409)
            self.set_header("X-Temp", "t")
            self.write("dropped")
            self.clear()
            self.write("after clear")

    class Errors(web.RequestHandler):
        def get(self, kind):
            if kind == "http":
                raise web.HTTPError(403, "secret log message %s", "arg")
            if kind == "reason":
                raise web.HTTPError(418, reason="I Am A Teapot")
            if kind == "unknown":
                raise web.HTTPError(599)
            if kind == "send":
                self.write("lost")
                self.send_error(503)
                return
            if kind == "send-reason":
                self.send_error(400, reason="Bad Thing")
                return
            if kind == "finish":
                self.set_status(401)
                self.set_header("WWW-Authenticate", 'Basic realm="x"')
                raise web.Finish("finished early")
            if kind == "finish-empty":
                self.write("kept")
                raise web.Finish()
            if kind == "value":
                raise ValueError("hidden")
            if kind == "missing":
                raise web.MissingArgumentError("thing")

    class CustomError(web.RequestHandler):
        def get(self):
            raise web.HTTPError(402)

        def write_error(self, status_code, **kwargs):
            self.set_header("Content-Type", "application/json")
            self.finish({"error": status_code, "reason": self._reason})

    class Lifecycle(web.RequestHandler):
        def prepare(self):
            self.steps = ["prepare"]
            if self.get_argument("stop", None):
                self.finish("stopped in prepare")

        async def get(self):
            self.steps.append("get")
            await self.flush()
            self.write(",".join(self.steps))

    class AsyncPrepare(web.RequestHandler):
        async def prepare(self):
            self.ready = "async prepare ran"

        def get(self):
            self.write(self.ready)

    class MethodOverride(web.RequestHandler):
        # The X-HTTP-Method-Override idiom: prepare() rewrites the method, and the
        # verb method called is the one it names.
        def prepare(self):
            override = self.request.headers.get("X-HTTP-Method-Override")
            if override:
                self.request.method = override.upper()

        def post(self):
            self.write("post ran")

        def delete(self):
            self.write("delete ran")

    class Stream(web.RequestHandler):
        async def get(self):
            for word in ("alpha", "beta", "gamma"):
                self.write(word + "\n")
                await self.flush()

    class DoubleFinish(web.RequestHandler):
        def get(self):
            self.finish("once")
            with contextlib.suppress(RuntimeError):
                self.finish("twice")

    class NoContent(web.RequestHandler):
        def get(self):
            self.set_status(204)

        def delete(self):
            self.set_status(204)
            self.write("not allowed")

    class Head(web.RequestHandler):
        def get(self):
            self.write("body for get")

        def head(self):
            self.set_header("Content-Length", 12)

    class Etagged(web.RequestHandler):
        def get(self):
            self.write("etag body")

    class CustomEtag(web.RequestHandler):
        def compute_etag(self):
            return '"custom-v1"'

        def get(self):
            self.set_etag_header()
            if self.check_etag_header():
                self.set_status(304)
                return
            self.write("expensive")

    class NoEtag(web.RequestHandler):
        def compute_etag(self):
            return None

        def get(self):
            self.write("untagged")

    class Redirects(web.RequestHandler):
        def get(self, kind):
            if kind == "temp":
                self.redirect("/target?x=1")
            elif kind == "perm":
                self.redirect("/target", permanent=True)
            elif kind == "see-other":
                self.redirect("/target", status=303)
            elif kind == "absolute":
                self.redirect("https://other.example/page")

    class SlashAdd(web.RequestHandler):
        @web.addslash
        def get(self):
            self.write("slashed " + self.request.path)

        @web.addslash
        def post(self):
            self.write("posted")

    class SlashRemove(web.RequestHandler):
        @web.removeslash
        def get(self):
            self.write("unslashed " + self.request.path)

    class Cookies(web.RequestHandler):
        def get(self, kind):
            if kind == "set":
                self.set_cookie("plain", "value")
            elif kind == "attrs":
                self.set_cookie(
                    "full",
                    "v",
                    domain="example.test",
                    path="/sub",
                    expires_days=3,
                    max_age=120,
                    httponly=True,
                    secure=True,
                    samesite="Strict",
                )
            elif kind == "twice":
                self.set_cookie("same", "first")
                self.set_cookie("same", "second")
            elif kind == "clear":
                self.clear_cookie("plain")
                self.clear_cookie("scoped", path="/sub", domain="example.test")
            elif kind == "clear-all":
                self.clear_all_cookies()
            elif kind == "read":
                self.write({"plain": self.get_cookie("plain"), "quoted": self.get_cookie("q")})
            elif kind == "after-error":
                self.set_cookie("survivor", "yes")
                raise web.HTTPError(400)
            elif kind == "bad-value":
                self.set_cookie("bad", "has space")

    class Signed(web.RequestHandler):
        def get(self):
            value = self.get_signed_cookie("user")
            self.write({"user": value.decode() if value else None,
                        "version": self.get_signed_cookie_key_version("user")})

        def post(self):
            self.set_signed_cookie("user", self.get_argument("name"))

    class Login(web.RequestHandler):
        def get(self):
            self.write("login page next=" + self.get_argument("next", ""))

    class Protected(web.RequestHandler):
        def get_current_user(self):
            user = self.get_signed_cookie("user")
            return user.decode() if user else None

        @web.authenticated
        def get(self):
            self.write("welcome " + self.current_user)

        @web.authenticated
        def post(self):
            self.write("protected post")

    class CurrentUser(web.RequestHandler):
        def prepare(self):
            self.current_user = self.get_argument("as", None)

        def get(self):
            self.write({"user": self.current_user})

    class Form(web.RequestHandler):
        def get(self):
            self.write(self.xsrf_form_html())

        def post(self):
            self.write("form accepted")

        put = post

    class Page(web.RequestHandler):
        def get_current_user(self):
            return "reader"

        def get(self):
            self.render(
                "page.html",
                title="A <title> & 'quotes'",
                items=["one", "<two>", 3],
                raw=b"bytes value",
            )

    class ModulePage(web.RequestHandler):
        def get(self):
            self.render("modules.html")

    class Greeting(web.RequestHandler):
        def get(self):
            self.write(self.locale.code + ": " + self.locale.translate("Hello"))

    class StaticUrls(web.RequestHandler):
        def get(self):
            self.write(
                {
                    "versioned": self.static_url("a.txt"),
                    "plain": self.static_url("a.txt", include_version=False),
                    "absolute": self.static_url("style.css", include_host=True),
                }
            )

    class Reverse(web.RequestHandler):
        def get(self):
            self.write(
                {
                    "named": self.reverse_url("named", "a b", 7),
                    "plain": self.reverse_url("plain"),
                }
            )

    class Options(web.RequestHandler):
        SUPPORTED_METHODS = ("GET", "OPTIONS")

        def options(self):
            self.set_header("Allow", "GET, OPTIONS")
            self.set_status(204)

        def get(self):
            self.write("options handler")

    @web.stream_request_body
    class Streamed(web.RequestHandler):
        def prepare(self):
            self.received = []

        def data_received(self, chunk):
            self.received.append(chunk)

        def put(self):
            data = b"".join(self.received)
            self.write({"size": len(data), "head": data[:10].decode(), "body": self.request.body.decode()})

    class Initialized(web.RequestHandler):
        def initialize(self, word, number=1):
            self.word = word
            self.number = number

        def get(self):
            self.write({"word": self.word, "number": self.number})

    return [
        (r"/", Plain),
        (r"/json", Json),
        (r"/json-type", JsonType),
        (r"/list", ListWrite),
        (r"/pos/(\w+)/(.*)", Positional),
        (r"/named/(?P<slug>[a-z-]+)/(?P<number>\d+)", Named),
        (r"/optional/?(\d+)?", Optional),
        (r"/args", Args),
        (r"/required", Required),
        (r"/latin/(.*)", Latin),
        (r"/upload", Upload),
        (r"/info", RequestInfo),
        (r"/status", Status),
        (r"/headers", Headers),
        (r"/bad-header", BadHeader),
        (r"/defaults", Defaults),
        (r"/errors/(\w[\w-]*)", Errors),
        (r"/custom-error", CustomError),
        (r"/lifecycle", Lifecycle),
        (r"/async-prepare", AsyncPrepare),
        (r"/method-override", MethodOverride),
        (r"/stream", Stream),
        (r"/double-finish", DoubleFinish),
        (r"/no-content", NoContent),
        (r"/head", Head),
        (r"/etag", Etagged),
        (r"/custom-etag", CustomEtag),
        (r"/no-etag", NoEtag),
        (r"/redirect/([\w-]+)", Redirects),
        (r"/add/?", SlashAdd),
        (r"/remove/*", SlashRemove),
        (r"/cookies/([\w-]+)", Cookies),
        (r"/signed", Signed),
        (r"/login", Login),
        (r"/protected", Protected),
        (r"/current-user", CurrentUser),
        (r"/form", Form),
        (r"/page", Page),
        (r"/modules", ModulePage),
        (r"/greeting", Greeting),
        (r"/static-urls", StaticUrls),
        web.url(r"/reverse/(.*)/(\d+)", Reverse, name="named"),
        web.url(r"/reverse-plain", Reverse, name="plain"),
        (r"/options", Options),
        (r"/streamed", Streamed),
        (r"/init", Initialized, {"word": "configured"}),
        (r"/init-default", Initialized, {"word": "w", "number": 5}),
        (r"/moved/(.*)", web.RedirectHandler, {"url": "/new/{0}"}),
        (r"/temp-moved", web.RedirectHandler, {"url": "/new?fixed=1", "permanent": False}),
        (r"/open/(.*)", web.RedirectHandler, {"url": "/{0}"}),
        (r"/gone", web.ErrorHandler, {"status_code": 410}),
        (r"/files/(.*)", web.StaticFileHandler, {"path": "{static}", "default_filename": "index.html"}),
    ]


def build_modules(web: ModuleType) -> dict[str, Any]:
    class Badge(web.UIModule):
        def render(self, label):
            return "<span class=badge>" + label + "</span>"

        def embedded_css(self):
            return ".badge{color:red}"

        def javascript_files(self):
            return ["app.js", "https://cdn.example/lib.js"]

        def html_body(self):
            return "<!-- badge -->"

    return {"Badge": Badge}


def shout(handler, text):
    return text.upper() + "!"


#: One template folder, served by both: crosswind renders Tornado's template language.
TEMPLATES = {
    "page.html": (
        "<html><head><title>{{ title }}</title></head><body>"
        "<ul>{% for item in items %}<li>{{ item }}</li>{% end %}</ul>"
        "<p>{{ current_user }} {{ _('Hello') }} {{ locale.code }} {{ raw }}</p>"
        "<p>{{ static_url('a.txt') }} {{ reverse_url('plain') }} {{ shout('hey') }}</p>"
        "{% module xsrf_form_html() %}</body></html>"
    ),
    "modules.html": (
        "<html><head><title>m</title></head><body>"
        "{% module Badge('first') %}{% module Badge('second') %}</body></html>"
    ),
}

# -- servers ------------------------------------------------------------------------


@dataclass
class Site:
    """Files shared by both frameworks."""

    root: Path
    static: Path
    locales: Path

    @property
    def templates(self) -> Path:
        return self.root / "templates"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("differential")
    static = root / "static"
    static.mkdir()
    (static / "a.txt").write_bytes(STATIC_CONTENT)
    (static / "style.css").write_text("body{}")
    (static / "app.js").write_text("var app;")
    (static / "robots.txt").write_text("User-agent: *")
    (static / "dir").mkdir()
    (static / "dir" / "index.html").write_text("<p>index</p>")
    for path in static.rglob("*"):
        os.utime(path, (STATIC_MTIME, STATIC_MTIME))
    (root / "outside.txt").write_text("outside the root")
    (static / "escape.txt").symlink_to(root / "outside.txt")
    locales = root / "locales"
    locales.mkdir()
    (locales / "es_LA.csv").write_text('"Hello","Hola"\n', encoding="utf-8")
    (locales / "fr_FR.csv").write_text('"Hello","Bonjour"\n', encoding="utf-8")
    (root / "templates").mkdir()
    for filename, text in TEMPLATES.items():
        (root / "templates" / filename).write_text(text)
    return Site(root, static, locales)


APPS = ("main", "xsrf", "extras")


def make_application(web: ModuleType, site: Site, variant: str) -> Any:
    """One of the suite's applications, built with *web*."""
    kind = "tornado" if web is tornado.web else "crosswind"
    routes = []
    for route in build_routes(web):
        if isinstance(route, tuple) and len(route) == 3 and route[2].get("path") == "{static}":
            route = (route[0], route[1], {**route[2], "path": str(site.static)})
        routes.append(route)
    settings: dict[str, Any] = {
        "cookie_secret": SECRET,
        "login_url": "/login",
        "template_path": str(site.templates),
        "static_path": str(site.static),
        "ui_modules": build_modules(web),
        "ui_methods": {"shout": shout},
    }
    if kind == "crosswind":
        catalog = crosswind.locale.LocaleCatalog()
        catalog.load_translations(str(site.locales))
        settings["locale_catalog"] = catalog
    if variant == "xsrf":
        settings["xsrf_cookies"] = True
    elif variant == "extras":
        settings["compress_response"] = True
        settings["serve_traceback"] = True

        class Fallback(web.RequestHandler):
            def get(self):
                self.set_status(404)
                self.write("custom fallback for " + self.request.path)

        settings["default_handler_class"] = Fallback
    app = web.Application(routes, **settings)
    if variant == "main":
        app.add_handlers(r"vhost\.test", [(r"/", Plain_for(web))])
    return app


def Plain_for(web: ModuleType) -> type:  # noqa: N802 - a class factory
    class VirtualHost(web.RequestHandler):
        def get(self):
            self.write("virtual host " + self.request.host_name)

    return VirtualHost


@contextlib.contextmanager
def tornado_server(app: Any) -> Iterator[int]:
    loop = asyncio.new_event_loop()
    ports: list[int] = []
    ready = threading.Event()
    server_box: list[Any] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = tornado.httpserver.HTTPServer(app)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        server_box.append(server)
        ports.append(sockets[0].getsockname()[1])
        loop.call_soon(ready.set)
        loop.run_forever()
        server.stop()
        loop.run_until_complete(server.close_all_connections())
        loop.close()

    thread = threading.Thread(target=run, name="tornado-server", daemon=True)
    thread.start()
    assert ready.wait(TIMEOUT), "tornado did not start"
    try:
        yield ports[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)


@pytest.fixture(scope="module")
def tornado_ports(site: Site) -> Iterator[dict[str, int]]:
    tornado.locale.load_translations(str(site.locales))
    with contextlib.ExitStack() as stack:
        yield {
            variant: stack.enter_context(tornado_server(make_application(tornado.web, site, variant)))
            for variant in APPS
        }
    tornado.locale.load_translations(str(site.root / "static" / "dir"))  # no csv: back to none


@pytest.fixture(scope="module", params=BACKENDS)
def crosswind_ports(request: pytest.FixtureRequest, site: Site) -> Iterator[dict[str, int]]:
    with contextlib.ExitStack() as stack:
        yield {
            variant: stack.enter_context(
                running_server(request.param, make_application(crosswind.web, site, variant))
            ).port
            for variant in APPS
        }


# -- sending and comparing ----------------------------------------------------------------


class Sender:
    """Sends requests to one framework's servers."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.ports = ports
        self.clients: dict[str, httpx.Client] = {}

    def __call__(self, method: str, path: str, app: str = "main", **kwargs: Any) -> httpx.Response:
        if "/.." in path:
            return self.raw(method, path, app, kwargs.pop("headers", {}))
        client = self.clients.get(app)
        if client is None:
            client = self.clients[app] = httpx.Client(
                base_url=f"http://127.0.0.1:{self.ports[app]}", timeout=TIMEOUT
            )
        client.cookies.clear()
        headers = {"Host": HOST, **kwargs.pop("headers", {})}
        return client.request(method, path, headers=headers, **kwargs)

    def raw(self, method: str, path: str, app: str, headers: dict[str, str]) -> httpx.Response:
        """Send *path* exactly as written (httpx would remove its dot segments)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.ports[app], timeout=TIMEOUT)
        try:
            connection.request(method, path, headers={"Host": HOST, **headers})
            answer = connection.getresponse()
            return httpx.Response(
                answer.status,
                headers=answer.getheaders(),
                content=answer.read(),
                extensions={"reason_phrase": answer.reason.encode("latin-1")},
            )
        finally:
            connection.close()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


COMPARED_HEADERS = (
    "content-type",
    "location",
    "etag",
    "allow",
    "content-range",
    "vary",
    "content-encoding",
    "cache-control",
    "accept-ranges",
    "last-modified",
    "www-authenticate",
    "content-language",
)


def _date(value: str) -> float:
    return email.utils.parsedate_to_datetime(value).timestamp()


def _cookie(header: str, signed: bool) -> dict[str, Any]:
    pair, _, rest = header.partition(";")
    name, _, value = pair.partition("=")
    name = name.strip()
    value = parse_cookie_header(f"{name}={value.strip()}").get(name, "")
    if signed and value:
        decoded = tornado.web.decode_signed_value(SECRET, name, value)
        value = ("signed", decoded)
    attributes: dict[str, Any] = {}
    for part in rest.split(";"):
        key, _, attr_value = part.strip().partition("=")
        key = key.lower()
        if not key:
            continue
        if key == "expires":
            attributes[key] = round(_date(attr_value) / 60)  # same minute is the same expiry
        elif key == "samesite":
            attributes[key] = attr_value.lower()
        else:
            attributes[key] = attr_value
    return {"name": name, "value": value, "attributes": attributes}


XSRF_VALUE = re.compile(r'value="2\|[0-9a-f]{8}\|[0-9a-f]{32}\|\d+"')
#: Options for pages carrying a fresh XSRF token.
RANDOM_TOKEN_PAGE = {
    "body": lambda b: XSRF_VALUE.sub("TOKEN", b.decode()),
    "random_cookies": frozenset({"_xsrf"}),
    "random_etag": True,
}


@dataclass
class Options:
    signed_cookies: frozenset[str] = frozenset()
    random_cookies: frozenset[str] = frozenset()
    body: Callable[[bytes], Any] | None = None
    compare_length: bool = True
    expires_header: bool = False
    #: The body holds a random token, so its hash (the ETag) differs by design.
    random_etag: bool = False


def comparable(response: httpx.Response, options: Options) -> dict[str, Any]:
    headers = response.headers
    out: dict[str, Any] = {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "body": options.body(response.content) if options.body else response.content,
    }
    for name in COMPARED_HEADERS:
        out[name] = headers.get_list(name)
    if options.random_etag:
        out["etag"] = [bool(value) for value in out["etag"]]
    for name in sorted({key.lower() for key in headers}):
        if name.startswith("x-"):
            out[name] = headers.get_list(name)
    if options.compare_length and "content-encoding" not in headers:
        out["content-length"] = headers.get("content-length")
        out["chunked"] = "chunked" in headers.get("transfer-encoding", "")
    if options.expires_header:
        out["expires"] = round(_date(headers["expires"]) / 60) if "expires" in headers else None
    cookies = []
    for header in headers.get_list("set-cookie"):
        cookie = _cookie(header, signed=header.split("=", 1)[0] in options.signed_cookies)
        if cookie["name"] in options.random_cookies:
            cookie["value"] = bool(cookie["value"])
        cookies.append(cookie)
    out["set-cookie"] = sorted(cookies, key=lambda c: c["name"])
    return out


CASES: dict[str, tuple[Callable[[Sender], list[httpx.Response]], Options]] = {}


def case(name: str, **options: Any) -> Callable[[Callable[[Sender], list[httpx.Response]]], None]:
    def register(function: Callable[[Sender], list[httpx.Response]]) -> None:
        assert name not in CASES, name
        CASES[name] = (function, Options(**options))

    return register


def simple(name: str, method: str, path: str, app: str = "main", options: dict | None = None, **kwargs: Any) -> None:
    def run(send: Sender) -> list[httpx.Response]:
        return [send(method, path, app, **kwargs)]

    assert name not in CASES, name
    CASES[name] = (run, Options(**(options or {})))


# -- the cases -------------------------------------------------------------------------

# Output basics
simple("plain-get", "GET", "/")
simple("plain-post", "POST", "/", content=b"data")
simple("json-dict", "GET", "/json")
simple("json-content-type-override", "GET", "/json-type")
simple("write-list-refused", "GET", "/list")
simple("streamed-flushes", "GET", "/stream")
simple("double-finish", "GET", "/double-finish")
simple("lifecycle-async-verb", "GET", "/lifecycle")
simple("lifecycle-prepare-finishes", "GET", "/lifecycle?stop=1")
simple("async-prepare", "GET", "/async-prepare")
simple("prepare-overrides-method", "POST", "/method-override", headers={"X-HTTP-Method-Override": "delete"})
simple("prepare-keeps-method", "POST", "/method-override")
simple("initialize-kwargs", "GET", "/init")
simple("initialize-all-kwargs", "GET", "/init-default")

# Routing
simple("positional-groups", "GET", "/pos/abc/d%20e%2Ff")
simple("unicode-path-group", "GET", "/pos/x/%C3%A9t%C3%A9")
simple("invalid-utf8-path-group", "GET", "/pos/x/%FF")
simple("named-groups", "GET", "/named/my-slug/42")
simple("optional-group-absent", "GET", "/optional")
simple("optional-group-present", "GET", "/optional/7")
simple("unknown-path-404", "GET", "/no/such/page")
simple("pattern-is-anchored", "GET", "/json/extra")
simple("virtual-host", "GET", "/", headers={"Host": "vhost.test:8000"})
simple("default-handler-class", "GET", "/nowhere", app="extras")
simple("reverse-url", "GET", "/reverse/x/1")
simple("latin1-decode-argument", "GET", "/latin/%E9t%E9?q=%E9")

# Arguments
simple("argument-last-value", "GET", "/args?a=1&a=%20two%20&blank=")
simple("argument-default", "GET", "/args")
simple("argument-control-chars", "GET", "/args?a=x%01y%7F")
simple("argument-plus-and-percent", "GET", "/args?a=a+b%2Bc%26d")
simple("argument-missing-400", "GET", "/required")
simple("invalid-utf8-argument-400", "GET", "/required?needed=%FF")
simple("body-and-query-arguments", "POST", "/args?a=q", data={"a": ["b1", "b2"], "must": "m"})
simple("body-argument-missing-400", "POST", "/args", data={"a": "x"})
simple(
    "multipart-upload",
    "POST",
    "/upload",
    data={"title": "Report"},
    files={"doc": ("notes.txt", b"file content", "text/plain")},
)
simple("request-attributes", "GET", "/info?x=1&x=2&y=", headers={"X-Custom": "yes", "Cookie": "flavour=mint; other=1"})
simple("request-attributes-quoted-cookie", "GET", "/info", headers={"Cookie": 'flavour="a;b"'})
simple(
    "request-cookie-repeated-last-wins",
    "GET",
    "/info",
    headers={"Cookie": "flavour=mint; lonely; other=1; flavour=lime"},
)

# Status and headers
simple("status-201", "GET", "/status?code=201")
simple("status-custom-reason", "GET", "/status?code=299&reason=Fine%20Here")
simple("status-unknown-code", "GET", "/status?code=599")
simple("status-reason-with-markup", "GET", "/status?code=200&reason=%3Cb%3E")
simple("status-204-no-body", "GET", "/status?code=204")
simple("status-304-no-body", "GET", "/status?code=304")
simple("header-value-types", "GET", "/headers")
simple("header-injection-500", "GET", "/bad-header")
simple("default-headers-and-clear", "GET", "/defaults")
simple("default-headers-on-error", "GET", "/defaults?fail=1")
simple("no-content-handler", "GET", "/no-content")
simple("no-content-with-body-500", "DELETE", "/no-content")
simple("options-verb", "OPTIONS", "/options")
simple("method-not-implemented-405", "POST", "/json")
simple("method-not-supported-405", "POST", "/options")
simple("head-without-handler-405", "HEAD", "/json")
simple("head-handler", "HEAD", "/head")

# Errors
simple("http-error-403", "GET", "/errors/http")
simple("http-error-reason", "GET", "/errors/reason")
simple("http-error-unknown-code", "GET", "/errors/unknown")
simple("send-error-discards-output", "GET", "/errors/send")
simple("send-error-reason", "GET", "/errors/send-reason")
simple("finish-exception", "GET", "/errors/finish")
simple("finish-exception-empty", "GET", "/errors/finish-empty")
simple("uncaught-exception-500", "GET", "/errors/value")
simple("missing-argument-error", "GET", "/errors/missing")
simple("custom-write-error", "GET", "/custom-error")
simple("error-handler-410", "GET", "/gone")
simple("error-handler-post-skips-xsrf", "POST", "/gone", app="xsrf")
simple(
    "serve-traceback",
    "GET",
    "/errors/value",
    app="extras",
    options={
        "body": lambda b: (b.startswith(b"Traceback"), b.strip().splitlines()[-1]),
        "compare_length": False,
    },
)

# ETags
simple("etag-set", "GET", "/etag")
simple(
    "etag-list-match-304",
    "GET",
    "/etag",
    headers={"If-None-Match": '"other", W/"%s"' % hashlib.sha1(b"etag body").hexdigest()},
)
simple("etag-star-304", "GET", "/etag", headers={"If-None-Match": "*"})
simple("etag-no-match", "GET", "/etag", headers={"If-None-Match": '"nope"'})
simple("etag-not-on-post", "POST", "/")
simple("custom-etag-304", "GET", "/custom-etag", headers={"If-None-Match": 'W/"custom-v1"'})
simple("custom-etag-200", "GET", "/custom-etag")
simple("etag-disabled", "GET", "/no-etag", headers={"If-None-Match": "*"})


@case("etag-round-trip")
def _etag_round_trip(send: Sender) -> list[httpx.Response]:
    first = send("GET", "/etag")
    return [first, send("GET", "/etag", headers={"If-None-Match": first.headers["etag"]})]


# Redirects
simple("redirect-temporary", "GET", "/redirect/temp")
simple("redirect-permanent", "GET", "/redirect/perm")
simple("redirect-303", "GET", "/redirect/see-other")
simple("redirect-absolute", "GET", "/redirect/absolute")
simple("redirect-handler-substitution", "GET", "/moved/a/b?k=v")
simple("redirect-handler-temporary", "GET", "/temp-moved?extra=2")
simple("redirect-handler-open-redirect-400", "GET", "/open/%2Fevil.example")
simple("redirect-handler-backslash-400", "GET", "/open/%5Cevil.example")
simple("addslash-redirect", "GET", "/add?q=1")
simple("addslash-ok", "GET", "/add/")
simple("addslash-post-404", "POST", "/add")
simple("removeslash-redirect", "GET", "/remove///?q=1")
simple("removeslash-ok", "GET", "/remove")

# Cookies
simple("set-cookie-plain", "GET", "/cookies/set")
simple("set-cookie-attributes", "GET", "/cookies/attrs")
simple("set-cookie-twice-last-wins", "GET", "/cookies/twice")
simple("clear-cookie", "GET", "/cookies/clear")
simple("clear-all-cookies", "GET", "/cookies/clear-all", headers={"Cookie": "one=1; two=2"})
simple("read-cookies", "GET", "/cookies/read", headers={"Cookie": 'plain=p; q="a\\"b"'})
simple("cookie-survives-error", "GET", "/cookies/after-error")
simple("cookie-bad-value-500", "GET", "/cookies/bad-value")
simple("signed-cookie-set", "POST", "/signed", data={"name": "alice"}, options={"signed_cookies": frozenset({"user"})})
simple("signed-cookie-absent", "GET", "/signed")
simple("signed-cookie-forged", "GET", "/signed", headers={"Cookie": "user=alice"})


@case("signed-cookie-round-trip", signed_cookies=frozenset({"user"}))
def _signed_round_trip(send: Sender) -> list[httpx.Response]:
    first = send("POST", "/signed", data={"name": "bob"})
    cookie = first.headers["set-cookie"].split(";", 1)[0]
    return [first, send("GET", "/signed", headers={"Cookie": cookie})]


@case("signed-cookie-from-other-framework")
def _signed_foreign(send: Sender) -> list[httpx.Response]:
    value = tornado.web.create_signed_value(SECRET, "user", "carol").decode()
    return [send("GET", "/signed", headers={"Cookie": f'user="{value}"'})]


# Login
simple("authenticated-redirects-to-login", "GET", "/protected?page=2")
simple("authenticated-post-403", "POST", "/protected")


@case("authenticated-with-user")
def _authenticated_user(send: Sender) -> list[httpx.Response]:
    value = tornado.web.create_signed_value(SECRET, "user", "dave").decode()
    return [send("GET", "/protected", headers={"Cookie": f'user="{value}"'})]


simple("current-user-set-in-prepare", "GET", "/current-user?as=erin")
simple("current-user-none", "GET", "/current-user")

# XSRF
simple("xsrf-get-sets-cookie", "GET", "/form", app="xsrf", options=RANDOM_TOKEN_PAGE)
simple("xsrf-post-without-token-403", "POST", "/form", app="xsrf")
simple("xsrf-post-bad-token-403", "POST", "/form", app="xsrf", data={"_xsrf": "2|abcd|ef|1"}, headers={"Cookie": "_xsrf=2|00000000|00|1"})


@case("xsrf-form-round-trip")
def _xsrf_round_trip(send: Sender) -> list[httpx.Response]:
    first = send("GET", "/form", "xsrf")
    token = re.search(r'value="([^"]+)"', first.text).group(1)
    cookie = first.headers["set-cookie"].split(";", 1)[0]
    return [
        send("POST", "/form", "xsrf", data={"_xsrf": token}, headers={"Cookie": cookie}),
        send("PUT", "/form", "xsrf", headers={"Cookie": cookie, "X-XSRFToken": token}),
        send("POST", "/form", "xsrf", headers={"Cookie": cookie, "X-CSRFToken": token}),
    ]


@case("xsrf-mismatched-token-403")
def _xsrf_mismatch(send: Sender) -> list[httpx.Response]:
    first = send("GET", "/form", "xsrf")
    second = send("GET", "/form", "xsrf")
    token = re.search(r'value="([^"]+)"', first.text).group(1)
    other_cookie = second.headers["set-cookie"].split(";", 1)[0]
    return [send("POST", "/form", "xsrf", data={"_xsrf": token}, headers={"Cookie": other_cookie})]


# Templates, UI modules, locale
simple("template-render", "GET", "/page", options=RANDOM_TOKEN_PAGE)
simple(
    "template-render-locale",
    "GET",
    "/page",
    headers={"Accept-Language": "es-LA,en;q=0.5"},
    options=RANDOM_TOKEN_PAGE,
)
simple("ui-module-resources", "GET", "/modules")
simple("browser-locale", "GET", "/greeting", headers={"Accept-Language": "de;q=0.9, fr-FR;q=0.8"})
simple("browser-locale-default", "GET", "/greeting")
simple("browser-locale-language-fallback", "GET", "/greeting", headers={"Accept-Language": "es-la"})

# Static files
simple("static-file", "GET", "/static/a.txt")
simple("static-head", "HEAD", "/static/a.txt")
simple("static-css-type", "GET", "/static/style.css")
simple("static-robots", "GET", "/robots.txt")
simple("static-missing-404", "GET", "/static/missing.txt")
simple("static-dotdot-403", "GET", "/static/../outside.txt")
simple("static-encoded-dotdot-403", "GET", "/static/%2e%2e/outside.txt")
simple("static-absolute-path-403", "GET", "/static//etc/passwd")
simple("static-symlink-out-403", "GET", "/static/escape.txt")
simple("static-directory-403", "GET", "/static/dir")
simple("static-if-modified-since-304", "GET", "/static/a.txt", headers={"If-Modified-Since": "Sun, 13 Sep 2020 12:26:40 GMT"})
simple("static-if-modified-since-older", "GET", "/static/a.txt", headers={"If-Modified-Since": "Sun, 13 Sep 2020 12:26:39 GMT"})
simple("static-range", "GET", "/static/a.txt", headers={"Range": "bytes=2-5"})
simple("static-range-open-end", "GET", "/static/a.txt", headers={"Range": "bytes=15-"})
simple("static-range-suffix", "GET", "/static/a.txt", headers={"Range": "bytes=-4"})
simple("static-range-clamped", "GET", "/static/a.txt", headers={"Range": "bytes=10-999"})
simple("static-range-whole-is-200", "GET", "/static/a.txt", headers={"Range": "bytes=0-"})
simple("static-range-unsatisfiable-416", "GET", "/static/a.txt", headers={"Range": "bytes=50-60"})
simple("static-range-invalid-ignored", "GET", "/static/a.txt", headers={"Range": "bytes=x-y"})
simple("static-range-last-before-first-416", "GET", "/static/a.txt", headers={"Range": "bytes=10-5"})
simple("static-range-last-just-before-first-416", "GET", "/static/a.txt", headers={"Range": "bytes=5-4"})
simple("static-range-backwards-head-416", "HEAD", "/static/a.txt", headers={"Range": "bytes=10-5"})
simple("static-range-empty-suffix-416", "GET", "/static/a.txt", headers={"Range": "bytes=-0"})
simple("static-range-single-byte", "GET", "/static/a.txt", headers={"Range": "bytes=5-5"})
simple("static-range-head", "HEAD", "/static/a.txt", headers={"Range": "bytes=0-1"})
simple("static-versioned-cache", "GET", "/static/a.txt?v=1", options={"expires_header": True})
simple("static-default-filename", "GET", "/files/dir/")
simple("static-directory-redirect", "GET", "/files/dir")
simple("static-urls", "GET", "/static-urls")


@case("static-etag-304")
def _static_etag(send: Sender) -> list[httpx.Response]:
    first = send("GET", "/static/a.txt")
    return [first, send("GET", "/static/a.txt", headers={"If-None-Match": first.headers["etag"]})]


# Gzip (compress_response)
simple("gzip-large-text", "GET", "/stream", app="extras", headers={"Accept-Encoding": "gzip"}, options={"compare_length": False})
simple("gzip-small-body-not-compressed", "GET", "/", app="extras", headers={"Accept-Encoding": "gzip"})
simple("gzip-not-accepted", "GET", "/", app="extras", headers={"Accept-Encoding": "identity"})
simple("gzip-json", "GET", "/info", app="extras", headers={"Accept-Encoding": "gzip"}, options={"compare_length": False})

# Streamed request bodies
simple("stream-request-body", "PUT", "/streamed", content=b"0123456789" * 5000)
simple("stream-request-body-empty", "PUT", "/streamed", content=b"")


@pytest.fixture(scope="module")
def senders(tornado_ports, crosswind_ports) -> Iterator[tuple[Sender, Sender]]:
    pair = (Sender(tornado_ports), Sender(crosswind_ports))
    yield pair
    for sender in pair:
        sender.close()


def test_there_are_enough_cases():
    assert len(CASES) >= 80


def test_cases_answer_what_their_names_say(tornado_ports) -> None:
    # Guards the suite itself: a typo in a route would make both sides 404 alike.
    send = Sender(tornado_ports)
    try:
        statuses = {name: [r.status_code for r in CASES[name][0](send)] for name in CASES}
    finally:
        send.close()
    for name, codes in statuses.items():
        marker = re.search(r"-(\d{3})$", name)
        if marker:
            assert codes[-1] == int(marker.group(1)), (name, codes)
        elif "unknown-path" not in name and "missing" not in name:
            assert codes[-1] != 404 or name in {"default-handler-class", "pattern-is-anchored"}, (
                name,
                codes,
            )


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_answer(name: str, senders: tuple[Sender, Sender]) -> None:
    function, options = CASES[name]
    tornado_send, crosswind_send = senders
    expected = [comparable(r, options) for r in function(tornado_send)]
    actual = [comparable(r, options) for r in function(crosswind_send)]
    assert actual == expected
