"""Templates (Jinja2 behind Tornado's loader interface), UI modules and methods, locales."""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

import jinja2
import pytest
from crosswind import locale
from crosswind.testing import Client
from crosswind.web import Application, RequestHandler, TemplateModule, UIModule, url
from crosswind.web.templates import Loader

NOW = 1_700_000_000.0


def make_client(handlers, **settings) -> Client:
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


# -- locales ---------------------------------------------------------------------


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A minimal GNU .mo catalog (what msgfmt writes)."""
    header = "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"
    entries = sorted({"": header, **messages}.items())
    ids = [k.encode() for k, _ in entries]
    strs = [v.encode() for _, v in entries]
    count = len(entries)
    table_start = 28
    data_start = table_start + count * 16
    offsets = []
    blob = b""
    for item in ids + strs:
        offsets.append((len(item), data_start + len(blob)))
        blob += item + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, count, table_start, table_start + count * 8, 0, 0)
    for length, offset in offsets:
        out += struct.pack("<2I", length, offset)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out + blob)


@pytest.fixture
def catalog(tmp_path: Path) -> locale.LocaleCatalog:
    (tmp_path / "es_LA.csv").write_text(
        '"Hello","Hola"\n'
        '"%(name)s liked this","A %(name)s le gustó esto","singular"\n'
        '"%(name)s liked this","A %(name)s les gustó esto","plural"\n'
        '"bad","x","weird"\n'
        "\n",
        encoding="utf-8",
    )
    (tmp_path / "fr.csv").write_text('"Hello","Bonjour"\n', encoding="utf-16")
    (tmp_path / "not-a-locale.csv").write_text('"a","b"\n')
    catalog = locale.LocaleCatalog(clock=lambda: NOW)
    catalog.load_translations(str(tmp_path))
    return catalog


def test_csv_translations(catalog):
    assert catalog.supported_locales == frozenset({"es_LA", "fr", "en_US"})
    es = catalog.get("es-la")
    assert es.code == "es_LA" and es.name == "Español"
    assert es.translate("Hello") == "Hola"
    assert es.translate("%(name)s liked this", "%(name)s liked this", 1) == (
        "A %(name)s le gustó esto"
    )
    assert es.translate("%(name)s liked this", "%(name)s liked this", 2) == (
        "A %(name)s les gustó esto"
    )
    assert es.translate("bad") == "bad"  # the row with an unknown plural marker was skipped
    assert catalog.get("fr_CA").translate("Hello") == "Bonjour"  # language fallback, UTF-16
    assert catalog.get("de", "xx_YY_ZZ").code == "en_US"
    with pytest.raises(ValueError):
        catalog.get_locale("de")


def test_gettext_translations(tmp_path):
    write_mo(
        tmp_path / "pt_BR" / "LC_MESSAGES" / "app.mo",
        {
            "Hello": "Olá",
            "apple\0apples": "maçã\0maçãs",
            "fruit\x04orange": "laranja (fruta)",
        },
    )
    catalog = locale.LocaleCatalog()
    catalog.load_gettext_translations(str(tmp_path), "app")
    pt = catalog.get("pt_BR")
    assert isinstance(pt, locale.GettextLocale)
    assert pt.translate("Hello") == "Olá"
    assert pt.translate("apple", "apples", 1) == "maçã"
    assert pt.translate("apple", "apples", 3) == "maçãs"
    assert pt.pgettext("fruit", "orange") == "laranja (fruta)"
    assert pt.pgettext("color", "orange") == "orange"
    assert pt.pgettext("x", "apple", "apples", 2) == "maçãs"


def test_browser_and_user_locale(catalog):
    class Greeting(RequestHandler):
        def get(self):
            self.write(self.locale.code + ":" + self.locale.translate("Hello"))

    class UserLocale(Greeting):
        def get_user_locale(self):
            return self.settings["locale_catalog"].get("fr")

    client = make_client([(r"/", Greeting), (r"/user", UserLocale)], locale_catalog=catalog)
    assert client.get("/").text == "en_US:Hello"
    header = {"Accept-Language": "de;q=0.9, es-LA;q=0.8, fr;q=0.1"}
    assert client.get("/", headers=header).text == "es_LA:Hola"
    assert client.get("/", headers={"Accept-Language": "xx, fr-FR"}).text == "fr:Bonjour"
    assert client.get("/user", headers=header).text == "fr:Bonjour"


def test_module_level_functions_use_the_default_catalog(tmp_path):
    (tmp_path / "nl_NL.csv").write_text('"Hello","Hallo"\n')
    original = locale.default_catalog
    locale.default_catalog = locale.LocaleCatalog()
    try:
        locale.load_translations(str(tmp_path))
        assert set(locale.get_supported_locales()) == {"nl_NL", "en_US"}
        assert locale.get("nl_nl").translate("Hello") == "Hallo"
        assert locale.get("nl").code == "en_US"  # a language does not pick a region
        assert locale.Locale.get_closest("nl_NL").code == "nl_NL"
        locale.set_default_locale("nl_NL")
        assert locale.get("xx").code == "nl_NL"
        assert locale.Locale.get("nl_NL").translate("Hello") == "Hallo"
    finally:
        locale.default_catalog = original


@pytest.mark.parametrize(
    "seconds_ago,kwargs,expected",
    [
        (5, {}, "5 seconds ago"),
        (1, {}, "1 second ago"),
        (120, {}, "2 minutes ago"),
        (3 * 3600, {}, "3 hours ago"),
        (26 * 3600, {}, "yesterday at 8:13 pm"),
        (26 * 3600, {"shorter": True}, "yesterday"),
        (3 * 86400, {}, "Saturday at 10:13 pm"),
        (40 * 86400, {}, "October 5 at 10:13 pm"),
        (400 * 86400, {"shorter": True}, "October 10, 2022"),
        (3 * 3600, {"relative": False}, "7:13 pm"),
        (5, {"full_format": True}, "November 14, 2023 at 10:13 pm"),
        (-30, {}, "0 seconds ago"),
        (-3600, {}, "November 14, 2023 at 11:13 pm"),
    ],
)
def test_format_date(seconds_ago, kwargs, expected):
    en = locale.LocaleCatalog(clock=lambda: NOW).get("en_US")
    assert en.format_date(NOW - seconds_ago, **kwargs) == expected


def test_format_date_gmt_offset_and_24_hour_locales(catalog):
    en = catalog.get("en_US")
    assert en.format_date(NOW - 10 * 86400, gmt_offset=120) == "November 4 at 8:13 pm"
    es = catalog.get("es_LA")
    assert es.format_date(NOW - 10 * 86400) == "November 4 at 22:13"
    naive = datetime.datetime(2023, 11, 14, 22, 13, 15)
    assert en.format_date(naive) == "5 seconds ago"


def test_format_day_list_and_numbers(catalog):
    en = catalog.get("en_US")
    day = datetime.datetime(2024, 1, 22)
    assert en.format_day(day) == "Monday, January 22"
    assert en.format_day(day, dow=False) == "January 22"
    assert en.list([]) == "" and en.list(["a"]) == "a"
    assert en.list(["a", "b", "c"]) == "a, b and c"
    assert en.friendly_number(1234567) == "1,234,567"
    assert catalog.get("es_LA").friendly_number(1234567) == "1234567"
    assert locale.Locale("fa_IR").rtl and not en.rtl
