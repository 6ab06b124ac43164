"""Pages rendered by the same handler source on real Tornado and on crosswind: the same bytes.

:func:`build_routes` builds the handlers, UI modules and UI methods from a
``web`` module, ``tornado.web`` or ``crosswind.web``; both applications read one
template folder written on disk in Tornado's syntax (inheritance, includes from
a subfolder, every tag, ``{% module %}``, the built-in ``Template`` module with
``set_resources``).  Tornado serves from its own I/O loop in a thread, crosswind
from every backend, and each page must come back with the same status,
Content-Type and body, byte for byte.

Two values would differ by design, and are made equal rather than ignored:

* **XSRF tokens.** Every request carries an ``_xsrf`` cookie holding a fixed
  token and timestamp, so both frameworks reuse it instead of drawing one.  What
  ``xsrf_form_html()`` writes is still masked with four fresh random bytes per
  page (Tornado draws them from ``os.urandom``), so each form value is replaced
  by the token it unmasks to, plus its timestamp, before comparing.  A wrong
  token or timestamp still fails.
* **Static versions** (``static_url``'s ``?v=``) are hashes of the files'
  contents in both, so they are compared as they are.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import crosswind.locale
import crosswind.web
import httpx
import pytest
import tornado.locale
import tornado.web

from tests.support.servers import BACKENDS, running_server
from tests.web.test_differential import tornado_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]

TIMEOUT = 10.0
TOKEN = bytes(range(16))
MASK = b"\x05\x06\x07\x08"
XSRF_COOKIE = "2|%s|%s|1700000000" % (
    MASK.hex(),
    bytes(b ^ MASK[i % 4] for i, b in enumerate(TOKEN)).hex(),
)
XSRF_VALUE = re.compile(rb'value="2\|([0-9a-f]{8})\|([0-9a-f]{32})\|(\d+)"')


# -- the shared source -------------------------------------------------------------

TEMPLATES = {
    "base.html": """<!doctype html>
<html>
<head>
<title>{% block title %}Site{% end %}</title>
<link rel="stylesheet" href="{{ static_url('site.css') }}">
</head>
<body>
<nav>{{ reverse_url('home') }} {{ reverse_url('item', 42) }} {{ current_user }}</nav>
{% block body %}{% end %}
{% include "parts/footer.html" %}
</body>
</html>
""",
    "page.html": """{% extends "base.html" %}
{% block title %}{{ title }} &mdash; {% raw title %}{% end %}
{% block body %}
{# a comment #}{% comment another %}
<h1>{{ _("Hello") }}, {{ locale.code }} {{ pgettext("greeting", "Hello") }}</h1>
<ul>
{% for i, item in enumerate(items) %}
  {% if i == 0 %}<li class="first">{{ item }}</li>
  {% elif item is None %}<li>none</li>
  {% else %}<li>{{ item }}</li>{% end %}
{% end %}
</ul>
{% set total = sum(n for n in numbers) %}<p>{{ total }} {{ json_encode({"k": items[0]}) }}</p>
{% apply squash %}  spaced    out   {{ "<text>" }}  {% end %}
{% try %}{{ 1 / zero }}{% except ZeroDivisionError %}<p>divided</p>{% end %}
{% while numbers %}{{ numbers.pop() }}{% end %}
{% whitespace all %}
<pre>  kept   as   is  </pre>
{% whitespace oneline %}
<p>   one
   line   </p>
<form method="post">{% module xsrf_form_html() %}</form>
<form method="post">{% raw xsrf_form_html() %}</form>
{% module Widget("first", 1) %}{% module Widget("second", 2) %}
{{ modules.Widget("escaped", 3) }}
{% module Template("parts/card.html", name="card <one>") %}
{% module Template("parts/card.html", name="card two") %}
{% module linkify("see http://example.test/a?b=1&c=2") %}
<p>{{ shout("quiet") }} {{ url_escape("a b/c") }} {{ xhtml_escape("<&>") }} {{ escape('"') }}</p>
<p>{{ linkify("www.example.test") }} {{ datetime.date(2020, 2, 29).isoformat() }}</p>
<p>{{ request.path }} {{ handler.__class__.__name__ }} {{ static_url("app.js") }}</p>
<p>{{ b"bytes value" }} {{ 3.5 }} {{ None }}</p>
{{!not a tag}} {%!not a tag %}
{% end %}
""",
    "parts/footer.html": '<footer>{% include "legal.html" %}</footer>\n',
    "parts/legal.html": "<small>{{ _('Hello') }} &copy; {{ year }}</small>",
    "parts/card.html": (
        '{{ set_resources(embedded_css=".card{}", css_files=["card.css", "site.css"], '
        'javascript_files="card.js", embedded_javascript="var card;", '
        'html_head="<meta name=card>", html_body="<i>card</i>") }}'
        "<div class=card>{{ name }}</div>"
    ),
    "plain.txt": "text   {{ word }}\n\n\n  {{ '<' }}",
    "entry.html": "<article>{{ title }}</article>",
    "nested.html": (
        "<html><head></head><body>{% module Entry('<t>') %}"
        "<script>var s = '</body>';</script>{% module Widget('w', 0) %}</body></html>"
    ),
    "bad.html": "{% for x in xs %}",
}


def build_routes(web: ModuleType) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """Routes, UI modules and UI methods built from *web*."""

    class Widget(web.UIModule):
        def render(self, label, number):
            return "<span>%s:%d:%s</span>" % (label, number, self.current_user)

        def embedded_javascript(self):
            return "var widget = true;"

        def javascript_files(self):
            return ["widget.js", "https://cdn.example/lib.js", "/abs/widget.js", "widget.js"]

        def embedded_css(self):
            return ".widget{color:red}"

        def css_files(self):
            return "widget.css"

        def html_head(self):
            return "<meta name=widget>"

        def html_body(self):
            return b"<!-- widget -->"

    class Entry(web.UIModule):
        def render(self, title):
            return self.render_string("entry.html", title=title)

    class Base(web.RequestHandler):
        def get_current_user(self):
            return self.get_argument("user", None)

    class Page(Base):
        def get(self, item=None):
            self.render(
                "page.html",
                title="A <title>",
                items=["<first>", None, "third & last"],
                numbers=[1, 2, 3],
                zero=0,
                year=2024,
            )

    class Plain(Base):
        def get(self):
            self.set_header("Content-Type", "text/plain")
            self.write(self.render_string("plain.txt", word="w"))

    class Nested(Base):
        def get(self):
            self.render("nested.html")

    class Broken(Base):
        def get(self):
            self.render("bad.html")

    routes = [
        web.url(r"/", Page, name="home"),
        web.url(r"/item/(\d+)", Page, name="item"),
        (r"/plain", Plain),
        (r"/nested", Nested),
        (r"/broken", Broken),
    ]
    return routes, {"Widget": Widget, "Entry": Entry}, {"shout": shout, "squash": squash}


def shout(handler, text):
    return text.upper() + "!" + handler.request.method


def squash(handler, data):
    # {% apply %} hands over the bytes its body rendered to.
    return " ".join(data.decode().split())


# -- servers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("render-differential")
    # One copy per variant: Tornado keeps loaders per folder for the whole
    # process, so two applications sharing a folder would share its settings.
    for variant in VARIANTS:
        for name, text in TEMPLATES.items():
            path = root / variant / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    static = root / "static"
    static.mkdir()
    for name in ("site.css", "app.js", "widget.js", "widget.css", "card.css", "card.js"):
        (static / name).write_text("/* " + name + " */")
    (root / "locales").mkdir()
    (root / "locales" / "es_LA.csv").write_text('"Hello","Hola"\n', encoding="utf-8")
    return root


VARIANTS = {
    "default": {},
    "raw": {"autoescape": None, "template_whitespace": "all"},
}


def make_application(web: ModuleType, site: Path, variant: str) -> Any:
    routes, modules, methods = build_routes(web)
    settings: dict[str, Any] = {
        "template_path": str(site / variant),
        "static_path": str(site / "static"),
        "ui_modules": modules,
        "ui_methods": methods,
        **VARIANTS[variant],
    }
    if web is crosswind.web:
        catalog = crosswind.locale.LocaleCatalog()
        catalog.load_translations(str(site / "locales"))
        settings["locale_catalog"] = catalog
    return web.Application(routes, **settings)


@pytest.fixture(scope="module")
def tornado_ports(site: Path) -> Iterator[dict[str, int]]:
    tornado.locale.load_translations(str(site / "locales"))
    try:
        with contextlib.ExitStack() as stack:
            yield {
                variant: stack.enter_context(tornado_server(make_application(tornado.web, site, variant)))
                for variant in VARIANTS
            }
    finally:
        tornado.locale.load_translations(str(site / "static"))  # no csv: back to none


@pytest.fixture(scope="module", params=BACKENDS)
def crosswind_ports(request: pytest.FixtureRequest, site: Path) -> Iterator[dict[str, int]]:
    with contextlib.ExitStack() as stack:
        yield {
            variant: stack.enter_context(
                running_server(request.param, make_application(crosswind.web, site, variant))
            ).port
            for variant in VARIANTS
        }


# -- comparing ---------------------------------------------------------------------


def _unmask(match: re.Match[bytes]) -> bytes:
    mask, masked, timestamp = (bytes.fromhex(match[1].decode()), bytes.fromhex(match[2].decode()), match[3])
    token = bytes(b ^ mask[i % 4] for i, b in enumerate(masked))
    return b'value="' + token.hex().encode() + b"|" + timestamp + b'"'


def fetch(port: int, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    response = httpx.get(
        f"http://127.0.0.1:{port}{path}",
        headers={"Cookie": "_xsrf=" + XSRF_COOKIE, **headers},
        timeout=TIMEOUT,
    )
    return response.status_code, response.headers.get("content-type", ""), response.content


#: (name, application, path, request headers, the status both must answer)
PAGES = [
    ("page", "default", "/?user=ann", {}, 200),
    ("page-translated", "default", "/item/7", {"Accept-Language": "es-LA"}, 200),
    ("page-no-autoescape-all-whitespace", "raw", "/?user=<b>", {}, 200),
    ("render-string-text-file", "default", "/plain", {}, 200),
    ("render-string-text-file-raw", "raw", "/plain", {}, 200),
    ("module-render-string-and-two-body-ends", "default", "/nested", {}, 200),
    ("template-parse-error-500", "default", "/broken", {}, 500),
]


@pytest.mark.parametrize(
    ("variant", "path", "headers", "status"), [p[1:] for p in PAGES], ids=[p[0] for p in PAGES]
)
def test_same_page(
    tornado_ports, crosswind_ports, variant: str, path: str, headers: dict[str, str], status: int
) -> None:
    expected = fetch(tornado_ports[variant], path, headers)
    got = fetch(crosswind_ports[variant], path, headers)
    assert expected[0] == status
    assert got[:2] == expected[:2]
    assert XSRF_VALUE.sub(_unmask, got[2]) == XSRF_VALUE.sub(_unmask, expected[2])


def test_the_pages_hold_what_they_compare(tornado_ports) -> None:
    """The corpus is not vacuous: Tornado's own page has every injection and a real token."""
    status, _, body = fetch(tornado_ports["default"], "/?user=ann", {})
    assert status == 200
    unmasked = XSRF_VALUE.sub(_unmask, body)
    assert unmasked.count(b'value="' + TOKEN.hex().encode() + b'|1700000000"') == 2
    for piece in (
        b'<script src="/static/widget.js?v=',
        b'<script src="https://cdn.example/lib.js"',
        b'<link href="/static/card.css?v=',
        b'<style type="text/css">\n.widget{color:red}\n.card{}\n</style>',
        b"<meta name=widget><meta name=card>\n</head>",
        b"<!-- widget --><i>card</i>\n</body>",
        b"&lt;span&gt;escaped:3:ann&lt;/span&gt;",
        b"<div class=card>card &lt;one&gt;</div>",
        b"QUIET!GET",
        b"spaced out &lt;text&gt;",
    ):
        assert piece in body, piece
    assert body.count(b"widget.js?v=") == 1
    assert fetch(tornado_ports["default"], "/item/7", {"Accept-Language": "es-LA"})[2].count(b"Hola") >= 2


# -- the blog example's templates ----------------------------------------------------------


BLOG_TEMPLATES = Path(__file__).resolve().parents[2] / "examples" / "blog" / "templates"


class _BlogLocale:
    code = "en_US"

    @staticmethod
    def format_date(value: Any) -> str:
        return "on " + value.isoformat()


class _BlogModules:
    """What a handler's ``_tt_modules`` gives the blog's templates, over one engine's loader."""

    def __init__(self, loader: Any, namespace: dict[str, Any]) -> None:
        self.loader, self.namespace = loader, namespace

    def Entry(self, post: Any, full: bool = False) -> str:  # noqa: N802 - the module's name
        values = {**self.namespace, "post": post, "full": full}
        return self.loader.load("entry.html").generate(**values).decode()

    def xsrf_form_html(self) -> str:
        return '<input type="hidden" name="_xsrf" value="t"/>'


@pytest.mark.parametrize("page", ["home.html", "post.html", "compose.html", "login.html"])
@pytest.mark.parametrize("user", [None, "alice"])
def test_blog_example_templates_render_as_with_tornado(page: str, user: str | None) -> None:
    """``examples/blog`` is written in Tornado's syntax: both engines give the same page."""
    import datetime

    import crosswind.template
    import tornado.template

    from examples.blog.app import Post

    post = Post(1, "A <title>", "Body & more " * 30, "alice", datetime.datetime(2024, 5, 6, 7, 8))
    pages = []
    for engine in (tornado.template, crosswind.template):
        loader = engine.Loader(str(BLOG_TEMPLATES))
        namespace: dict[str, Any] = {
            "static_url": lambda path: "/static/" + path + "?v=1",
            "reverse_url": lambda name, *args: "/" + "/".join([name, *map(str, args)]),
            "current_user": user,
            "locale": _BlogLocale,
            "posts": [post, post],
            "post": post,
            "error": "<no>",
            "next": "/back?a=1&b=2",
        }
        namespace["_tt_modules"] = _BlogModules(loader, namespace)
        pages.append(loader.load(page).generate(**namespace))
    assert pages[0] == pages[1]
    assert pages[0].endswith(b"</html>\n")
    assert (b"A &lt;title&gt;" in pages[0]) == (page in ("home.html", "post.html"))
    assert (b"Log out alice" in pages[0]) == (user == "alice")
