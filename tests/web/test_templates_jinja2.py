"""The Jinja2 engine of Tornado-style handlers (``template_engine="jinja2"``): templates, UI modules, methods."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from crosswind.testing import Client
from crosswind.web import Application, RequestHandler, TemplateModule, UIModule, url
from crosswind.web.templates import Loader

NOW = 1_700_000_000.0


def make_client(handlers, **settings) -> Client:
    settings.setdefault("template_engine", "jinja2")
    settings.setdefault("clock", lambda: NOW)
    settings.setdefault("token_source", lambda n: bytes(range(1, n + 1)))
    return Client(Application(handlers, **settings))


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    (tmp_path / "page.html").write_text(
        "<html><head><title>{{ title }}</title></head><body>"
        "{% for item in items %}<p>{{ item }}</p>{% endfor %}"
        "</body></html>"
    )
    (tmp_path / "namespace.html").write_text(
        "{{ handler.__class__.__name__ }}~{{ request.path }}~{{ current_user }}~"
        "{{ locale.code }}~{{ _('Hello') }}~{{ reverse_url('named', 7) }}~"
        "{{ xsrf_form_html() }}~{{ escape('<&>') }}~{{ json_encode({'a': 1}) }}"
    )
    (tmp_path / "modules.html").write_text(
        "<html><head></head><body>{{ modules.Box('x') }}{{ modules.Box('y') }}"
        "{{ modules.Template('part.html', word='inner') }}{{ shout('hey') }}</body></html>"
    )
    (tmp_path / "part.html").write_text(
        "[{{ word }}]{{ set_resources(embedded_css='.p{}', javascript_files='part.js') }}"
    )
    (tmp_path / "base.html").write_text("<b>{% block body %}{% endblock %}</b>")
    (tmp_path / "child.html").write_text(
        '{% extends "base.html" %}{% block body %}{{ value }}{% endblock %}'
    )
    return tmp_path


class Render(RequestHandler):
    def get_current_user(self):
        return "ann"

    def get(self, name):
        self.render(name + ".html", title="<T>", items=["a&b", "c"], value="v")


class Box(UIModule):
    def render(self, label):
        return f"<div>{label}</div>"

    def embedded_javascript(self):
        return "var box = 1;"

    def css_files(self):
        return ["box.css", "/abs.css"]

    def html_head(self):
        return "<meta name=box>"


def shout(handler, text):
    return text.upper() + "!" + handler.request.method


def test_render_escapes_and_finishes(templates):
    client = make_client([(r"/(\w+)", Render)], template_path=str(templates))
    response = client.get("/page")
    assert response.text == (
        "<html><head><title>&lt;T&gt;</title></head><body><p>a&amp;b</p><p>c</p></body></html>"
    )
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert client.get("/child").text == "<b>v</b>"


def test_autoescape_none_turns_escaping_off(templates):
    client = make_client([(r"/(\w+)", Render)], template_path=str(templates), autoescape=None)
    assert "<title><T></title>" in client.get("/page").text


def test_template_namespace(templates):
    client = make_client(
        [(r"/(\w+)", Render), url(r"/n/(\d+)", Render, name="named")],
        template_path=str(templates),
    )
    parts = client.get("/namespace").text.split("~")
    assert parts[:6] == ["Render", "/namespace", "ann", "en_US", "Hello", "/n/7"]
    assert parts[6].startswith('<input type="hidden" name="_xsrf" value="2|')
    assert parts[7] == "&amp;lt;&amp;amp;&amp;gt;"  # escape() output, escaped again by {{ }}
    assert parts[8] == "{&quot;a&quot;: 1}"  # Tornado's entities, not markupsafe's


def test_ui_modules_methods_and_resources(templates):
    static = templates / "static"
    static.mkdir()
    (static / "box.css").write_text("b{}")
    (static / "part.js").write_text("1")
    client = make_client(
        [(r"/(\w+)", Render)],
        template_path=str(templates),
        static_path=str(static),
        ui_modules={"Box": Box},
        ui_methods={"shout": shout, "_private": shout},
    )
    html = client.get("/modules").text
    head, body = html.split("<body>")
    assert '<link href="/static/box.css?v=' in head
    assert '<link href="/abs.css" type="text/css" rel="stylesheet"/>' in head
    assert '<style type="text/css">\n.p{}\n</style>' in head
    assert "<meta name=box>" in head
    assert "<div>x</div><div>y</div>[inner]HEY!GET" in body
    assert body.count("var box = 1;") == 1  # one instance per module and page
    assert '<script src="/static/part.js?v=' in body


def test_ui_modules_from_a_module_object():
    import types

    bundle = types.ModuleType("bundle")
    bundle.Box = Box
    bundle.NotAModule = object
    app = Application([], ui_modules=bundle, ui_methods=types.ModuleType("empty"))
    assert app.ui_modules["Box"] is Box and "NotAModule" not in app.ui_modules
    assert app.ui_modules["Template"] is TemplateModule


def test_render_string_and_relative_template_path():
    # Without template_path, names resolve next to the module defining the handler.
    here = Path(__file__).parent
    probe = here / "_web_template_probe.html"
    probe.write_text("probe {{ n }}")
    try:

        class Local(RequestHandler):
            def get(self):
                self.write(self.render_string("_web_template_probe.html", n=3))

        assert make_client([(r"/", Local)]).get("/").text == "probe 3"
    finally:
        probe.unlink()


def test_compiled_template_cache_off_rereads_files(templates):
    (templates / "live.html").write_text("one")

    class Live(RequestHandler):
        def get(self):
            self.render("live.html")

    cached = make_client([(r"/", Live)], template_path=str(templates))
    fresh = make_client(
        [(r"/", Live)], template_path=str(templates), compiled_template_cache=False
    )
    assert cached.get("/").text == "one" and fresh.get("/").text == "one"
    (templates / "live.html").write_text("two")
    assert cached.get("/").text == "one"
    assert fresh.get("/").text == "two"


def test_template_loader_setting_and_create_template_loader(templates):
    env = jinja2.Environment(loader=jinja2.DictLoader({"x.html": "dict {{ 1 + 1 }}"}))

    class FromEnv(RequestHandler):
        def get(self):
            self.render("x.html")

    client = make_client([(r"/", FromEnv)], template_loader=Loader(environment=env))
    assert client.get("/").text == "dict 2"

    class Custom(RequestHandler):
        def create_template_loader(self, template_path):
            return Loader(environment=env)

        def get(self):
            self.render("x.html")

    assert make_client([(r"/", Custom)], template_path="/nonexistent").get("/").text == "dict 2"


def test_render_after_finish_and_missing_template():
    class Twice(RequestHandler):
        def get(self):
            self.finish("x")
            with pytest.raises(RuntimeError):
                self.render("anything.html")

    class Missing(RequestHandler):
        def get(self):
            self.render("missing.html")

    assert make_client([(r"/", Twice)]).get("/").text == "x"
    assert make_client([(r"/", Missing)], template_path="/nonexistent").get("/").status_code == 500


def test_loader_whitespace_and_reset(tmp_path):
    (tmp_path / "w.html").write_text("{% if true %}\n  x\n{% endif %}\n")
    assert Loader(str(tmp_path)).load("w.html").generate() == b"\n  x\n"
    assert Loader(str(tmp_path), whitespace="oneline").load("w.html").generate() == b"  x\n"
    with pytest.raises(TypeError):
        Loader()
