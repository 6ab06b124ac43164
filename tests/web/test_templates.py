"""Tornado-style handlers render with Tornado's template language by default; locales.

The templates here are written as for Tornado (``{% end %}``, ``{% module %}``).
The Jinja2 engine has its own file, ``test_templates_jinja2.py``; byte-for-byte
agreement with real Tornado is ``test_template_differential.py``.
"""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

import pytest
from crosswind import locale, template
from crosswind.testing import Client
from crosswind.web import Application, RequestHandler, UIModule, url
from crosswind.web.templates import Jinja2Loader

NOW = 1_700_000_000.0


def make_client(handlers, **settings) -> Client:
    settings.setdefault("clock", lambda: NOW)
    settings.setdefault("token_source", lambda n: bytes(range(1, n + 1)))
    return Client(Application(handlers, **settings))


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    (tmp_path / "page.html").write_text(
        "<html><head><title>{{ title }}</title></head><body>\n"
        "{% for item in items %}<p>{{ item }}</p>{% end %}\n"
        "</body></html>"
    )
    (tmp_path / "namespace.html").write_text(
        "{{ handler.__class__.__name__ }}~{{ request.path }}~{{ current_user }}~"
        "{{ locale.code }}~{{ _('Hello') }}~{{ pgettext('ctx', 'Hello') }}~"
        "{{ reverse_url('named', 7) }}~{{ static_url('s.css', include_version=False) }}~"
        "{% raw xsrf_form_html() %}~{{ escape('<&>') }}~{% raw xhtml_escape('<') %}~"
        "{{ url_escape('a b') }}~{{ json_encode({'a': 1}) }}~{{ squeeze('a   b') }}~"
        "{% raw linkify('http://x.test') %}~{{ datetime.date(2020, 1, 2) }}"
    )
    (tmp_path / "modules.html").write_text(
        "<html><head><title>m</title></head><body>"
        "{% module Box('x') %}{% module Box('y') %}|{{ modules.Box('z') }}|"
        "{% module Template('part.html', word='inner') %}{{ shout('hey') }}"
        "{% module xsrf_form_html() %}{% module linkify('see http://a.test') %}"
        "</body></html>"
    )
    (tmp_path / "part.html").write_text(
        "[{{ word }}]{{ set_resources(embedded_css='.p{}', javascript_files='part.js') }}"
    )
    (tmp_path / "base.html").write_text("<b>{% block body %}{% end %}</b>")
    (tmp_path / "child.html").write_text(
        '{% extends "base.html" %}{% block body %}{{ value }}{% end %}'
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
        return ["box.css", "/abs.css", "box.css"]

    def html_head(self):
        return "<meta name=box>"

    def html_body(self):
        return "<!-- box -->"


def shout(handler, text):
    return text.upper() + "!" + handler.request.method


def test_tornado_is_the_default_engine(templates):
    client = make_client([(r"/(\w+)", Render)], template_path=str(templates))
    response = client.get("/page")
    # .html templates collapse whitespace ("single"), as Tornado's do.
    assert response.text == (
        "<html><head><title>&lt;T&gt;</title></head><body>\n"
        "<p>a&amp;b</p><p>c</p>\n</body></html>"
    )
    assert response.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert client.get("/child").text == "<b>v</b>"
    assert client.app.template_engine == "tornado"


def test_autoescape_and_whitespace_settings(templates):
    (templates / "spaced.html").write_text("a   b\n\n  {{ title }}")
    plain = make_client(
        [(r"/(\w+)", Render)],
        template_path=str(templates),
        autoescape=None,
        template_whitespace="all",
    )
    assert "<title><T></title>" in plain.get("/page").text
    assert plain.get("/spaced").text == "a   b\n\n  <T>"
    oneline = make_client(
        [(r"/(\w+)", Render)], template_path=str(templates), template_whitespace="oneline"
    )
    assert oneline.get("/spaced").text == "a b &lt;T&gt;"


def test_template_namespace(templates):
    client = make_client(
        [(r"/(\w+)", Render), url(r"/n/(\d+)", Render, name="named")],
        template_path=str(templates),
        static_path=str(templates),
    )
    parts = client.get("/namespace").text.split("~")
    assert parts[:8] == ["Render", "/namespace", "ann", "en_US", "Hello", "Hello", "/n/7", "/static/s.css"]
    assert parts[8].startswith('<input type="hidden" name="_xsrf" value="2|')
    assert parts[9:] == [
        "&amp;lt;&amp;amp;&amp;gt;",  # escape() output, escaped again by {{ }}
        "&lt;",
        "a+b",
        "{&quot;a&quot;: 1}",
        "a b",
        '<a href="http://x.test">http://x.test</a>',
        "2020-01-02",
    ]


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
    version = head.split("box.css?v=")[1].split('"')[0]
    assert head == (
        "<html><head><title>m</title>"
        f'<link href="/static/box.css?v={version}" type="text/css" rel="stylesheet"/>'
        '<link href="/abs.css" type="text/css" rel="stylesheet"/>\n'
        '<style type="text/css">\n.p{}\n</style>\n'
        "<meta name=box>\n</head>"
    )
    # {% module %} is not escaped; {{ modules.X() }} is, as in Tornado.
    assert body.startswith(
        "<div>x</div><div>y</div>|&lt;div&gt;z&lt;/div&gt;|[inner]HEY!GET"
        '<input type="hidden" name="_xsrf" value="2|'
    )
    assert 'see <a href="http://a.test">http://a.test</a><script src="/static/part.js?v=' in body
    # Each insertion goes right before </body>, so the last one made comes last.
    assert body.endswith(
        '<script type="text/javascript">\n//<![CDATA[\nvar box = 1;\n//]]>\n</script>\n'
        "<!-- box -->\n</body></html>"
    )
    assert body.count("var box = 1;") == 1  # one instance per module and page


def test_html_body_goes_before_the_first_body_end_and_scripts_before_the_last(templates):
    (templates / "twice.html").write_text(
        "<head></head><body>{% module Box('x') %}<script>'</body>'</script></body>"
    )
    client = make_client(
        [(r"/(\w+)", Render)],
        template_path=str(templates),
        static_path=str(templates),
        ui_modules={"Box": Box},
    )
    html = client.get("/twice").text
    assert "<script>'<!-- box -->\n</body>'</script><script type=" in html
    assert html.endswith("var box = 1;\n//]]>\n</script>\n</body>")


def test_ui_reads_as_attributes(templates):
    class Peek(RequestHandler):
        def get(self):
            self.write(self.ui.shout("a") + self.ui.modules.Box("b") + self.ui._tt_modules.Box("c"))
            with pytest.raises(AttributeError):
                self.ui.missing  # noqa: B018

    client = make_client(
        [(r"/", Peek)], ui_modules={"Box": Box}, ui_methods={"shout": shout}
    )
    assert client.get("/").text == "A!GET<div>b</div><div>c</div>"


def test_render_without_template_path_uses_the_callers_folder():
    here = Path(__file__).parent
    probe = here / "_web_template_probe.html"
    probe.write_text("probe {{ n }}{% if n %}!{% end %}")
    try:

        class Local(RequestHandler):
            def get(self):
                if self.get_argument("string", None):
                    self.write(self.render_string("_web_template_probe.html", n=3))
                else:
                    self.render("_web_template_probe.html", n=4)

        client = make_client([(r"/", Local)])
        assert client.get("/?string=1").text == "probe 3!"
        assert client.get("/").text == "probe 4!"
    finally:
        probe.unlink()


@pytest.mark.parametrize("settings", [{"compiled_template_cache": False}, {"debug": True}])
def test_compiled_template_cache_off_rereads_files(templates, settings):
    (templates / "live.html").write_text("one")

    class Live(RequestHandler):
        def get(self):
            self.render("live.html")

    cached = make_client([(r"/", Live)], template_path=str(templates))
    fresh = make_client([(r"/", Live)], template_path=str(templates), autoreload=False, **settings)
    assert cached.get("/").text == "one" and fresh.get("/").text == "one"
    (templates / "live.html").write_text("two")
    assert cached.get("/").text == "one"
    assert fresh.get("/").text == "two"


def test_loaders_are_made_once_per_folder_and_kept_by_the_application(templates):
    made: list[str] = []

    class Counting(RequestHandler):
        def create_template_loader(self, template_path):
            made.append(template_path)
            return super().create_template_loader(template_path)

        def get(self):
            self.render("child.html", value=1)

    app = Application([(r"/", Counting)], template_path=str(templates))
    client = Client(app)
    assert client.get("/").text == client.get("/").text == "<b>1</b>"
    assert made == [str(templates)]
    loader = app._template_loaders[str(templates)]
    assert isinstance(loader, template.Loader) and loader.autoescape == "xhtml_escape"


def test_template_loader_setting_and_create_template_loader():
    loader = template.DictLoader(
        {"x.html": "dict {{ 1 + 1 }} {% module xsrf_form_html() %}"}, autoescape=None
    )

    class FromSetting(RequestHandler):
        def get(self):
            self.render("x.html")

    text = make_client([(r"/", FromSetting)], template_loader=loader).get("/").text
    assert text.startswith('dict 2 <input type="hidden" name="_xsrf"')

    class Custom(RequestHandler):
        def create_template_loader(self, template_path):
            return template.DictLoader({"x.html": "custom {{ '<' }}"})

        def get(self):
            self.render("x.html")

    assert make_client([(r"/", Custom)], template_path="/nonexistent").get("/").text == "custom &lt;"


def test_template_engine_setting():
    assert Application([]).template_engine == "tornado"
    assert Application([], template_engine="jinja2").template_engine == "jinja2"
    # A Jinja2 loader given as template_loader brings Jinja2's namespace with it.
    jinja = Jinja2Loader("/nonexistent")
    assert Application([], template_loader=jinja).template_engine == "jinja2"
    assert Application([], template_loader=jinja, template_engine="tornado").template_engine == "tornado"
    with pytest.raises(ValueError, match="template_engine"):
        Application([], template_engine="mako")


def test_render_after_finish_and_template_errors(templates):
    (templates / "broken.html").write_text("{% for x in y %}")

    class Twice(RequestHandler):
        def get(self):
            self.finish("x")
            with pytest.raises(RuntimeError):
                self.render("anything.html")

    class Fails(RequestHandler):
        def get(self, name):
            self.render(name)

    assert make_client([(r"/", Twice)]).get("/").text == "x"
    client = make_client([(r"/(.*)", Fails)], template_path=str(templates))
    assert client.get("/missing.html").status_code == 500
    assert client.get("/broken.html").status_code == 500
    traced = make_client([(r"/(.*)", Fails)], template_path=str(templates), serve_traceback=True)
    assert "Missing {% end %} block for for at broken.html:1" in traced.get("/broken.html").text


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
