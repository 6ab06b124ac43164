"""crosswind.template against tornado.template: the same sources, the same bytes.

Each case is a set of template files, the one to render, its variables and the
loader's settings.  Both engines render it through their own ``DictLoader``
(and, for the file cases, their own ``Loader`` over one temporary folder); the
outputs must be equal byte for byte.  Malformed templates must fail the same
way: the same ``str(error)`` for Tornado's ``ParseError``s, and for errors
Tornado lets through, the same exception type and the same template line.
"""

from __future__ import annotations

import datetime
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import tornado.template as tt
from crosswind import template as cw

NOW = datetime.datetime(2024, 5, 17, 9, 30)


class Modules:
    """A stand-in for the handler's ``_tt_modules`` (UI modules return text)."""

    def Entry(self, title: str) -> str:  # noqa: N802 - UI modules are classes, named so
        return f"<article>{title}</article>"

    def Raw(self) -> bytes:  # noqa: N802
        return b"<b>bytes & all</b>"


def _upper(value: bytes) -> bytes:
    return value.upper()


def _wrap(value: bytes) -> str:
    return "[" + value.decode("utf-8") + "]"


def _bracket_escape(value: bytes) -> bytes:
    return b"<<" + value.replace(b"<", b"&lt;") + b">>"


VARIABLES: dict[str, Any] = {
    "name": '<Ada & Bob\'s "team">',
    "items": ["a<", "b&", 'c"'],
    "pairs": [("x", 1), ("y", 2)],
    "number": 42,
    "ratio": 0.5,
    "nothing": None,
    "data": {"k": "</script>", "n": [1, 2]},
    "raw_bytes": "café ünïcode ☃".encode(),
    "text": "café ünïcode ☃ 日本",
    "url": "http://example.com/a b?c=d&e=f",
    "now": NOW,
    "upper": _upper,
    "wrap": _wrap,
    "bracket": _bracket_escape,
    "_tt_modules": Modules(),
    "long_text": "see http://www.example.com/a/very/long/path/to/somewhere?with=query&and=more now",
}

# (id, files, entry point, loader settings)
CASES: list[tuple[str, dict[str, str], str, dict[str, Any]]] = [
    ("plain text", {"t.txt": "hello\n  world\t\t!\n\n\n"}, "t.txt", {}),
    ("plain html collapses", {"t.html": "<p>  a \t b  </p>\n\n\n  <i>c</i>  \n"}, "t.html", {}),
    ("plain js collapses", {"t.js": "var a  =  1;\n\n\n  var b;\n"}, "t.js", {}),
    ("pre keeps spaces", {"t.html": "<pre>  a\n\n   b  </pre>\n\n  x"}, "t.html", {}),
    (
        "expressions escaped",
        {"t.html": "{{ name }}|{{ number }}|{{ ratio }}|{{ nothing }}"},
        "t.html",
        {},
    ),
    ("expression of bytes", {"t.html": "{{ raw_bytes }}-{{ text }}"}, "t.html", {}),
    ("expression tuple", {"t.txt": "{{ 1, 'a' }}"}, "t.txt", {}),
    ("expression trailing comment", {"t.txt": "{{ number # the answer }}"}, "t.txt", {}),
    ("expression spans lines", {"t.txt": "a\n{{\n number\n }}\nb"}, "t.txt", {}),
    (
        "namespace functions",
        {
            "t.html": (
                "{{ escape(name) }}|{{ xhtml_escape('<') }}|{{ url_escape(url) }}|"
                "{{ url_escape(url, plus=False) }}|{{ json_encode(data) }}|{{ squeeze('  a \\n b  ') }}|"
                "{{ linkify(url) }}|{{ linkify(long_text, shorten=True) }}|{{ datetime.date(2020, 1, 2) }}|"
                "{{ now.isoformat() }}|{{ __name__ }}"
            )
        },
        "t.html",
        {},
    ),
    ("raw", {"t.html": "{% raw name %}|{% raw raw_bytes %}|{% raw number %}"}, "t.html", {}),
    ("autoescape off", {"t.html": "{{ name }}"}, "t.html", {"autoescape": None}),
    (
        "autoescape custom",
        {"t.html": "{{ name }}{{ raw_bytes }}"},
        "t.html",
        {"autoescape": "bracket"},
    ),
    (
        "autoescape None directive",
        {"t.html": "{{ name }}{% autoescape None %}{{ name }}"},
        "t.html",
        {},
    ),
    (
        "autoescape directive switches",
        {"t.html": "{% autoescape bracket %}{{ name }}"},
        "t.html",
        {},
    ),
    (
        "autoescape last wins",
        {"t.html": "{% autoescape None %}{{ name }}{% autoescape xhtml_escape %}{{ name }}"},
        "t.html",
        {},
    ),
    (
        "if elif else",
        {
            "t.txt": (
                "{% for n in range(5) %}{% if n == 0 %}zero{% elif n % 2 %}odd{% else %}even{% end %},{% end %}"
            )
        },
        "t.txt",
        {},
    ),
    (
        "for else break continue",
        {
            "t.txt": (
                "{% for i in items %}{% if i == 'b&' %}{% continue %}{% end %}[{{ i }}]"
                "{% if i == 'c\"' %}{% break %}{% end %}{% else %}done{% end %}"
            )
        },
        "t.txt",
        {},
    ),
    ("for unpacking", {"t.html": "{% for k, v in pairs %}{{ k }}={{ v }};{% end %}"}, "t.html", {}),
    (
        "while",
        {"t.txt": "{% set n = 3 %}{% while n %}{{ n }}{% set n -= 1 %}{% end %}"},
        "t.txt",
        {},
    ),
    (
        "while else",
        {"t.txt": "{% set n = 0 %}{% while n < 2 %}{{ n }}{% set n += 1 %}{% else %}!{% end %}"},
        "t.txt",
        {},
    ),
    (
        "try except else finally",
        {
            "t.txt": (
                "{% try %}{{ 1 // 0 }}{% except ZeroDivisionError %}div{% else %}ok{% finally %}fin{% end %}"
                "{% try %}fine{% except %}no{% else %}+else{% end %}"
            )
        },
        "t.txt",
        {},
    ),
    (
        "nested control flow",
        {
            "t.html": (
                "<ul>\n{% for i, item in enumerate(items) %}\n  {% if i %}\n    {% for c in item %}"
                "{% if c == '&' %}{% break %}{% end %}<b>{{ c }}</b>{% end %}\n  {% else %}\n    first\n"
                "  {% end %}\n{% end %}\n</ul>\n"
            )
        },
        "t.html",
        {},
    ),
    (
        "set and scoping",
        {"t.txt": "{% set a = 1 %}{% set b = a + number %}{{ a }} {{ b }}"},
        "t.txt",
        {},
    ),
    (
        "import and from",
        {
            "t.txt": (
                "{% import math %}{% from os import path as p %}{{ math.floor(2.5) }} {{ p.join('a', 'b') }}"
            )
        },
        "t.txt",
        {},
    ),
    (
        "apply",
        {"t.html": "{% apply upper %}Hi {{ name }}!{% end %} {% apply wrap %}x{% end %}"},
        "t.html",
        {},
    ),
    (
        "apply in loop",
        {"t.txt": "{% for i in items %}{% apply upper %}{{ i }}{% end %}{% end %}"},
        "t.txt",
        {},
    ),
    (
        "nested apply",
        {"t.txt": "{% apply wrap %}a{% apply upper %}b{% end %}c{% end %}"},
        "t.txt",
        {},
    ),
    ("module", {"t.html": "{% module Entry('x<y') %}|{% module Raw() %}"}, "t.html", {}),
    ("comments", {"t.txt": "a{# a comment {{ x }} #}b{% comment anything at all %}c"}, "t.txt", {}),
    ("literals", {"t.txt": "{{! x }} {%! if %} {#! c #} {{!}}"}, "t.txt", {}),
    ("braces", {"t.txt": "{ } {a} {{{ number }}} {{{{ number }}}} {{ {} }} x{ y{"}, "t.txt", {}),
    ("trailing brace", {"t.txt": "ends with {"}, "t.txt", {}),
    ("unicode", {"t.html": "Grüße {{ text }} ☃ {{ 'é' }}\n\n  日本"}, "t.html", {}),
    (
        "whitespace directive",
        {
            "t.html": (
                "a   b\n\n\n{% whitespace all %}c   d\n\n\n{% whitespace oneline %}e  \n\n f{% whitespace single %}"
                "  g  \n\n  h"
            )
        },
        "t.html",
        {},
    ),
    ("loader whitespace all", {"t.html": "a    b\n\n\nc"}, "t.html", {"whitespace": "all"}),
    ("loader whitespace oneline", {"t.txt": "a    b\n\n\nc"}, "t.txt", {"whitespace": "oneline"}),
    ("loader whitespace single", {"t.txt": "a    b\n\n\nc"}, "t.txt", {"whitespace": "single"}),
    (
        "include",
        {
            "page.html": "<h1>{{ name }}</h1>\n{% include 'part.html' %}\n{% include \"part.html\" %}",
            "part.html": "<p>  {{ number }}  </p>\n",
        },
        "page.html",
        {},
    ),
    (
        "include sees the caller's variables",
        {
            "page.txt": "{% set local = 'from page' %}{% for item in items %}{% include inc.txt %}{% end %}",
            "inc.txt": "[{{ local }} {{ item }}]",
        },
        "page.txt",
        {},
    ),
    (
        "include relative paths",
        {
            "a/page.html": "{% include 'b/part.html' %}|{% include '../top.html' %}|{% include /top.html %}",
            "a/b/part.html": "part{% include '../sib.html' %}",
            "a/sib.html": "sib",
            "top.html": "top",
            "/top.html": "absolute",
        },
        "a/page.html",
        {},
    ),
    (
        "include keeps its own whitespace and autoescape",
        {
            "page.html": "{% autoescape None %}{{ name }}|{% include 'part.txt' %}",
            "part.txt": "{{ name }}   \n\n  x",
        },
        "page.html",
        {},
    ),
    (
        "extends one level",
        {
            "base.html": "<title>{% block title %}Default{% end %}</title>\n<body>{% block body %}{% end %}</body>",
            "page.html": "{% extends 'base.html' %}{% block title %}{{ name }}{% end %}{% block body %}B{% end %}",
        },
        "page.html",
        {},
    ),
    (
        "extends several levels",
        {
            "base.html": "[{% block a %}A0{% end %}|{% block b %}B0{% end %}|{% block c %}C0{% end %}]",
            "mid.html": "{% extends base.html %}{% block a %}A1{% block inner %}I1{% end %}{% end %}{% block b %}B1{% end %}",
            "page.html": "{% extends 'mid.html' %}{% block inner %}I2{% end %}{% block c %}C2{% end %}ignored text",
        },
        "page.html",
        {},
    ),
    (
        "extends with autoescape per template",
        {
            "base.html": "{{ name }}{% block x %}{{ name }}{% end %}",
            "page.html": "{% extends base.html %}{% autoescape None %}{% block x %}{{ name }}{% end %}",
        },
        "page.html",
        {},
    ),
    (
        "extends and include mix",
        {
            "base.html": "{% include 'head.html' %}{% block main %}main{% end %}",
            "head.html": "<head>{% block head %}h{% end %}</head>",
            "page.html": "{% extends base.html %}{% block head %}HEAD{% end %}{% block main %}{% include 'part.html' %}{% end %}",
            "part.html": "{% block part %}p{% end %}",
        },
        "page.html",
        {},
    ),
    (
        "extends not first",
        {
            "base.html": "[{% block b %}0{% end %}]",
            "page.html": "text {% extends base.html %}{% block b %}1{% end %}",
        },
        "page.html",
        {},
    ),
    (
        "block in a loop",
        {
            "base.html": "{% for i in range(3) %}{% block row %}{{ i }}{% end %}{% end %}",
            "page.html": "{% extends base.html %}{% block row %}<{{ i }}>{% set last = i %}{% end %}",
        },
        "page.html",
        {},
    ),
    (
        "loader namespace",
        {"t.html": "{{ greet('x') }}"},
        "t.html",
        {"namespace": {"greet": lambda s: "hi " + s}},
    ),
    (
        "kwargs override namespace",
        {"t.html": "{{ escape('<') }}"},
        "t.html",
        {"namespace": {"escape": lambda s: "ns"}},
    ),
]


def _tornado_loader(files: dict[str, str], settings: dict[str, Any]) -> tt.BaseLoader:
    return tt.DictLoader(files, **settings)


def _our_loader(files: dict[str, str], settings: dict[str, Any]) -> cw.BaseLoader:
    return cw.DictLoader(files, **settings)


@pytest.mark.parametrize(
    ("files", "entry", "settings"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_same_bytes_through_dict_loader(
    files: dict[str, str], entry: str, settings: dict[str, Any]
) -> None:
    expected = _tornado_loader(files, settings).load(entry).generate(**VARIABLES)
    assert _our_loader(files, settings).load(entry).generate(**VARIABLES) == expected


@pytest.mark.parametrize(
    ("files", "entry", "settings"),
    [c[1:] for c in CASES if not any(name.startswith("/") for name in c[1])],
    ids=[c[0] for c in CASES if not any(name.startswith("/") for name in c[1])],
)
def test_same_bytes_through_file_loader(
    tmp_path: Path, files: dict[str, str], entry: str, settings: dict[str, Any]
) -> None:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    expected = tt.Loader(str(tmp_path), **settings).load(entry).generate(**VARIABLES)
    assert cw.Loader(str(tmp_path), **settings).load(entry).generate(**VARIABLES) == expected


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"autoescape": None}, {"autoescape": "bracket"}, {"whitespace": "oneline"},
     {"compress_whitespace": True}, {"compress_whitespace": False}, {"name": "x.js"},
     {"name": "x.txt"}, {"name": "x.html", "whitespace": "all"}],
)  # fmt: skip
def test_same_bytes_for_a_bare_template(kwargs: dict[str, Any]) -> None:
    source = "<p>  {{ name }}  </p>\n\n\n   {{ raw_bytes }}\t\t.\n"
    expected = tt.Template(source, **kwargs).generate(**VARIABLES)
    assert cw.Template(source, **kwargs).generate(**VARIABLES) == expected
    assert cw.Template(source.encode(), **kwargs).generate(**VARIABLES) == expected


@pytest.mark.parametrize("mode", ["all", "single", "oneline"])
@pytest.mark.parametrize(
    "text", ["", "a b", "  a \t\t b \n\n\n  c  \r\n d\x0b\x0ce \n", " \n \t\n"]
)
def test_filter_whitespace(mode: str, text: str) -> None:
    assert cw.filter_whitespace(mode, text) == tt.filter_whitespace(mode, text)


def test_filter_whitespace_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="invalid whitespace mode bogus"):
        cw.filter_whitespace("bogus", "x")
    with pytest.raises(ValueError, match="invalid whitespace mode"):
        cw.Template("x", whitespace="bogus")
    with pytest.raises(ValueError, match="cannot set both"):
        cw.Template("x", whitespace="all", compress_whitespace=True)


# -- caching -------------------------------------------------------------------------


@pytest.mark.parametrize("engine", [tt, cw], ids=["tornado", "crosswind"])
def test_loader_caches_until_reset(tmp_path: Path, engine: Any) -> None:
    (tmp_path / "page.html").write_text("one {% include 'part.html' %}")
    (tmp_path / "part.html").write_text("a")
    loader = engine.Loader(str(tmp_path))
    first = loader.load("page.html")
    assert loader.load("page.html") is first
    assert first.generate() == b"one a"
    (tmp_path / "page.html").write_text("two {% include 'part.html' %}")
    (tmp_path / "part.html").write_text("b")
    assert loader.load("page.html").generate() == b"one a"
    loader.reset()
    again = loader.load("page.html")
    assert again is not first
    assert again.generate() == b"two b"
    # Names are cached under their resolved form.
    assert sorted(loader.templates) == ["page.html", "part.html"]


def test_resolve_path_agrees(tmp_path: Path) -> None:
    cases = [
        ("x.html", None), ("x.html", "<string>"), ("x.html", "a/b.html"), ("../x.html", "a/b.html"),
        ("/abs.html", "a/b.html"), ("x.html", "/abs/b.html"), ("./y/../x.html", "a/b.html"),
        ("../../out.html", "a/b.html"),
    ]  # fmt: skip
    ours_d, theirs_d = cw.DictLoader({}), tt.DictLoader({})
    ours_f, theirs_f = cw.Loader(str(tmp_path)), tt.Loader(str(tmp_path))
    for name, parent in cases:
        assert ours_d.resolve_path(name, parent) == theirs_d.resolve_path(name, parent)
        assert ours_f.resolve_path(name, parent) == theirs_f.resolve_path(name, parent)


# -- errors ----------------------------------------------------------------------------

# Sources Tornado refuses with a ParseError; the message must read the same.
PARSE_ERRORS = {
    "unclosed if": "a\n{% if x %}\nb",
    "unclosed nested": "{% for x in y %}\n{% if x %}{% end %}\n{% while 1 %}",
    "unclosed block": "{% block b %}x",
    "unclosed apply": "\n\n{% apply f %}x",
    "unclosed try": "{% try %}x{% except %}",
    "unknown operator": "x\n{% bogus thing %}",
    "unknown with": "{% with open('f') as f %}{% end %}",
    "end without block": "a\n\n{% end %}",
    "end extra": "{% if 1 %}{% end %}{% end %}",
    "else outside": "{% else %}",
    "elif outside": "\n{% elif x %}",
    "except outside": "{% except %}",
    "finally outside": "{% finally %}",
    "else on block": "{% block b %}{% else %}{% end %}",
    "elif on for": "{% for x in y %}{% elif 1 %}{% end %}",
    "except on if": "{% if 1 %}{% except %}{% end %}",
    "finally on while": "{% while 1 %}{% finally %}{% end %}",
    "else on apply": "{% apply f %}{% else %}{% end %}",
    "break outside": "{% break %}",
    "continue outside": "{% if 1 %}{% continue %}{% end %}",
    "break in a block of a child": "{% extends b %}{% block row %}{% break %}{% end %}",
    "trailing double brace": "ends {{ number }} with {{",
    "break in apply in loop": "{% for x in y %}{% apply f %}{% break %}{% end %}{% end %}",
    "missing end expression": "a\n{{ x ",
    "missing end block": "a\n\n{% if x ",
    "missing end comment": "{# never closed\n",
    "empty expression": "{{   }}",
    "empty expression over lines": "{{\n\n}}",
    "empty block tag": "a{%  %}",
    "extends without path": "{% extends %}",
    "extends quotes only": "{% extends '' %}",
    "include without path": '{% include "" %}',
    "set without statement": "{% set %}",
    "import without statement": "{% import %}",
    "from without statement": "{% from %}",
    "apply without name": "{% apply %}\nx\n{% end %}",
    "block without name": "{% block %}x\n{% end %}",
    "error inside a block body first": "{% block %}{% bogus %}{% end %}",
}


@pytest.mark.parametrize("source", PARSE_ERRORS.values(), ids=PARSE_ERRORS.keys())
@pytest.mark.parametrize("name", ["<string>", "page.html"])
def test_same_parse_errors(source: str, name: str) -> None:
    with pytest.raises(tt.ParseError) as theirs:
        tt.Template(source, name=name)
    with pytest.raises(cw.ParseError) as ours:
        cw.Template(source, name=name)
    assert _same_set_order(str(ours.value)) == _same_set_order(str(theirs.value))
    assert (ours.value.filename, ours.value.lineno) == (theirs.value.filename, theirs.value.lineno)
    assert ours.value.lineno >= 1


def _same_set_order(message: str) -> str:
    """*message* with a printed set's items sorted: Tornado's order follows the hash seed."""
    if "{'" not in message:
        return message
    head, rest = message.split("{", 1)
    items, tail = rest.split("}", 1)
    return head + "{" + ", ".join(sorted(items.split(", "))) + "}" + tail


def test_clause_messages_list_the_blocks_in_a_fixed_order() -> None:
    with pytest.raises(cw.ParseError, match=r"else outside \{'if', 'for', 'while', 'try'\} block"):
        cw.Template("{% else %}")
    with pytest.raises(cw.ParseError, match=r"break outside \{'for', 'while'\} block"):
        cw.Template("{% break %}")


def test_parse_error_in_an_included_template_names_it() -> None:
    files = {"page.html": "a\n{% include 'bad.html' %}", "bad.html": "\n\n{% end %}"}
    with pytest.raises(tt.ParseError) as theirs:
        tt.DictLoader(files).load("page.html")
    with pytest.raises(cw.ParseError) as ours:
        cw.DictLoader(files).load("page.html")
    assert str(ours.value) == str(theirs.value) == "Extra {% end %} block at bad.html:3"


def test_parse_error_str_is_tornados() -> None:
    for args in [("m",), ("m", "f.html"), ("m", "f.html", 7)]:
        assert str(cw.ParseError(*args)) == str(tt.ParseError(*args))


# Errors Tornado does not turn into ParseError: ours still carry the place.
def test_extends_without_loader_names_the_line() -> None:
    source = "x\n{% extends base.html %}"
    with pytest.raises(tt.ParseError) as theirs:
        tt.Template(source, name="p.html")
    with pytest.raises(cw.ParseError) as ours:
        cw.Template(source, name="p.html")
    assert ours.value.message == theirs.value.message
    assert str(ours.value) == f"{theirs.value.message} at p.html:2"


def test_unknown_whitespace_directive_names_the_line() -> None:
    source = "a\n{% whitespace bogus %}"
    with pytest.raises(Exception, match="invalid whitespace mode bogus"):
        tt.Template(source)
    with pytest.raises(cw.ParseError) as ours:
        cw.Template(source, name="w.html")
    assert str(ours.value) == "invalid whitespace mode bogus at w.html:2"


SYNTAX_ERRORS = {
    "bad expression": ("a\n\nb {{ 1 + }}", 3),
    "bad statement": ("{% set x = = 2 %}", 1),
    "bad if": ("\n{% if %}x{% end %}", 2),
    "two elses": ("{% if 1 %}{% else %}\n{% else %}{% end %}", 2),
    "unclosed paren": ("{{ (1 }}\nx\n{{ 2 }}", 1),
    "bad module": ("\n{% module %}", 2),
    "bad include": ("{% include 'part.html' %}", 2),
}


@pytest.mark.parametrize(("source", "line"), SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS.keys())
def test_python_syntax_errors(source: str, line: int, caplog: pytest.LogCaptureFixture) -> None:
    files = {"page.html": source, "part.html": "x\n{{ ) }}"}
    with pytest.raises(SyntaxError) as theirs:
        tt.DictLoader(files).load("page.html")
    with pytest.raises(cw.TemplateSyntaxError) as ours:
        cw.DictLoader(files).load("page.html")
    assert isinstance(ours.value, SyntaxError) and isinstance(ours.value, cw.ParseError)
    # Tornado names the generated line; its comment holds the template line.
    name = "part.html" if "include" in source else "page.html"
    assert _template_place(theirs.value.text or "").split(" ")[0] == f"{name}:{line}"
    assert (ours.value.filename, ours.value.lineno) == (name, line)
    assert str(ours.value).endswith(f" at {name}:{line}")


def _innermost_generated_line(error: BaseException) -> str:
    """The source line of the innermost generated frame, as a traceback shows it."""
    frames = traceback.extract_tb(error.__traceback__)
    generated = [f for f in frames if f.filename.endswith(".generated.py")]
    return generated[-1].line or ""


def _template_place(line: str) -> str:
    return line.split("  # ", 1)[1].strip()


RUNTIME_ERRORS = {
    "name error": ({"page.html": "a\n\n{{ missing }}"}, NameError),
    "zero division in loop": (
        {"page.html": "{% for i in [1, 0] %}\n{{ 1 // i }}\n{% end %}"},
        ZeroDivisionError,
    ),
    "key error in set": ({"page.html": "\n{% set x = data['nope'] %}"}, KeyError),
    "in an include": (
        {"page.html": "a\n{% include 'inc.html' %}", "inc.html": "\n\n{{ 1 / 0 }}"},
        ZeroDivisionError,
    ),
    "in a block": (
        {
            "base.html": "x\n{% block b %}{% end %}",
            "page.html": "{% extends base.html %}\n\n{% block b %}\n{{ None.attr }}{% end %}",
        },
        AttributeError,
    ),
    "in apply": ({"page.html": "{% apply upper %}\n{{ items[9] }}{% end %}"}, IndexError),
    "in the apply function": ({"page.html": "{% apply int %}\nx{% end %}"}, ValueError),
    "autoescape function fails": ({"page.html": "{% autoescape wrap %}\n\n{{ 1 }}"}, TypeError),
}


@pytest.mark.parametrize(("files", "kind"), RUNTIME_ERRORS.values(), ids=RUNTIME_ERRORS.keys())
def test_runtime_errors_point_at_the_same_template_line(files: dict[str, str], kind: type) -> None:
    variables = dict(VARIABLES, wrap=lambda value: value + 1)
    with pytest.raises(kind) as theirs:
        tt.DictLoader(files).load("page.html").generate(**variables)
    with pytest.raises(kind) as ours:
        cw.DictLoader(files).load("page.html").generate(**variables)
    theirs_place = _template_place(_innermost_generated_line(theirs.value))
    ours_place = _template_place(_innermost_generated_line(ours.value))
    assert ours_place == theirs_place
    # The note repeats the place for readers of a bare ``str(error)``.
    name, line = ours_place.split(" ")[0].rsplit(":", 1)
    assert f"in template {name}, line {line}" in getattr(ours.value, "__notes__", [])


def test_traceback_shows_the_generated_line(capsys: pytest.CaptureFixture[str]) -> None:
    template = cw.Template("a\n{{ 1 // 0 }}", name="shown.html")
    try:
        template.generate()
    except ZeroDivisionError:
        traceback.print_exc(file=sys.stdout)
    out = capsys.readouterr().out
    assert 'File "shown_html.generated.py"' in out
    assert "_tt_tmp = 1 // 0  # shown.html:2" in out
    assert "in template shown.html, line 2" in out


def test_nul_in_an_expression_is_a_template_syntax_error() -> None:
    with pytest.raises((ValueError, SyntaxError)):
        tt.Template("{{ '\x00' }}")
    with pytest.raises(cw.TemplateSyntaxError) as ours:
        cw.Template("a\n{{ '\x00' }}", name="nul.html")
    assert (ours.value.filename, ours.value.lineno) == ("nul.html", 2)
