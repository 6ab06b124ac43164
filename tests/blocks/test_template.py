"""crosswind.template on its own: properties over a grammar of templates, and what
it adds to Tornado's behaviour (errors with a place, cycles, the code listing).

The byte-for-byte corpus against tornado.template is in
``test_template_differential.py``; the properties here draw sources from a
grammar of tags and text, so they reach the combinations a corpus does not.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import tornado.template as tt
from crosswind import template as cw
from hypothesis import given
from hypothesis import strategies as st

# Pieces of template source: balanced or not, valid Python or not, on purpose.
TEXT = st.sampled_from(
    ["a", " ", "  ", "\n", "\n\n  ", "\t", "<pre>  x\n\n</pre>", "{", "}", "{a}", "%", "#",
     "é☃", "'", '"', "\\", "{{!", "{%!", "{#!", "}}", "%}", "#}", "{{{"]
)  # fmt: skip
TAGS = st.sampled_from(
    ["{{ x }}", "{{ y }}", "{{ 1 }}", "{{ }}", "{{ 1 + }}", "{{ x, y }}", "{{ items[0] }}",
     "{% raw x %}", "{% raw %}", "{% module M() %}", "{% set z = 1 %}", "{{ z }}", "{% set %}",
     "{% import math %}", "{% from os import sep %}", "{% import %}", "{# c #}", "{# ", "{{ ",
     "{% ", "{% %}", "{% bogus %}", "{% comment x %}", "{% autoescape None %}",
     "{% autoescape wrap %}", "{% whitespace oneline %}", "{% whitespace single %}",
     "{% whitespace all %}", "{% whitespace wrong %}", "{% break %}", "{% continue %}",
     "{% include 'inc.html' %}", "{% include %}", "{% extends 'base.html' %}", "{% extends %}",
     "{% end %}", "{% else %}", "{% elif y %}", "{% except %}", "{% finally %}"]
)  # fmt: skip
OPENERS = st.sampled_from(
    ["{% if x %}", "{% if not x %}", "{% for i in items %}", "{% while False %}", "{% try %}",
     "{% apply wrap %}", "{% block b %}", "{% block c %}", "{% block %}", "{% apply %}",
     "{% if %}"]
)  # fmt: skip
CLAUSES = st.sampled_from(["{% else %}", "{% elif y %}", "{% except Exception %}", "{% finally %}"])


@st.composite
def sources(draw: st.DrawFn, depth: int = 0) -> str:
    """A template source: a run of pieces, some of them nested blocks."""
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 9 if depth < 3 else 5))
        if kind <= 2:
            parts.append(draw(TEXT))
        elif kind <= 5:
            parts.append(draw(TAGS))
        else:
            inner = [draw(sources(depth + 1))]
            for _ in range(draw(st.integers(0, 2))):
                inner += [draw(CLAUSES), draw(sources(depth + 1))]
            closing = draw(st.sampled_from(["{% end %}", "{% end %}", "{% end %}", ""]))
            parts.append(draw(OPENERS) + "".join(inner) + closing)
    return "".join(parts)


FILES = {
    "base.html": "<{% block b %}B{% end %}|{% block c %}C{% end %}>",
    "inc.html": "[inc {{ x }}]",
}


class Modules:
    def M(self) -> str:  # noqa: N802 - UI modules are classes
        return "<m>"


VARIABLES: dict[str, Any] = {
    "x": "<x&>",
    "y": 0,
    "items": ["i<", "j"],
    "wrap": lambda value: b"(" + value + b")",
    "_tt_modules": Modules(),
}


def _ours(source: str) -> cw.Template:
    return cw.DictLoader({**FILES, "page.html": source}).load("page.html")


def _render(template: Any) -> tuple[str, Any]:
    try:
        return ("ok", template.generate(**VARIABLES))
    except Exception as error:  # a runtime error of the template's own Python
        return ("raised", type(error))


@given(sources())
def test_property_any_source_compiles_or_raises_parse_error_with_a_line(source: str) -> None:
    try:
        template = _ours(source)
    except cw.ParseError as error:
        assert error.lineno >= 1, (source, error)
        assert error.filename in ("page.html", "base.html", "inc.html"), (source, error)
        return
    assert "def _tt_execute():" in template.code


@given(sources())
def test_property_same_verdict_and_bytes_as_tornado(source: str) -> None:
    logging.getLogger("tornado.application").disabled = True
    try:
        theirs = tt.DictLoader({**FILES, "page.html": source}).load("page.html")
    except tt.ParseError as expected:
        with pytest.raises(cw.ParseError) as raised:
            _ours(source)
        assert raised.value.message == expected.message or "outside {" in expected.message
        assert (raised.value.filename, raised.value.lineno) == (expected.filename, expected.lineno)
        return
    except SyntaxError:
        with pytest.raises(cw.TemplateSyntaxError):
            _ours(source)
        return
    except Exception as expected:  # an unknown whitespace mode
        assert "invalid whitespace mode" in str(expected)
        with pytest.raises(cw.ParseError, match="invalid whitespace mode"):
            _ours(source)
        return
    finally:
        logging.getLogger("tornado.application").disabled = False
    assert _render(_ours(source)) == _render(theirs)


# -- what crosswind adds ------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.html": "x\n{% include a.html %}"}, "a.html includes or extends itself at a.html:2"),
        (
            {"a.html": "{% extends b.html %}", "b.html": "\n{% extends a.html %}"},
            "a.html includes or extends itself at b.html:2",
        ),
        (
            {
                "a.html": "{% include b.html %}",
                "b.html": "{% include c.html %}",
                "c.html": "{% include b.html %}",
            },
            "b.html includes or extends itself at c.html:1",
        ),
    ],
)
def test_a_template_that_reaches_itself_is_a_parse_error(
    files: dict[str, str], message: str
) -> None:
    # Tornado recurses until RecursionError here.
    loader = cw.DictLoader(files)
    with pytest.raises(cw.ParseError) as raised:
        loader.load("a.html")
    assert str(raised.value) == message
    # Nothing half-compiled stays in the cache, and the loader is still usable.
    assert "a.html" not in loader.templates
    with pytest.raises(cw.ParseError):
        loader.load("a.html")


def test_the_same_template_may_be_included_twice_and_nested() -> None:
    loader = cw.DictLoader(
        {
            "a.html": "{% include b.html %}{% include b.html %}",
            "b.html": "{% include c.html %}",
            "c.html": "c",
        }
    )
    assert loader.load("a.html").generate() == b"cc"


def test_template_syntax_error_is_both_kinds() -> None:
    with pytest.raises(cw.TemplateSyntaxError) as raised:
        cw.Template("line one\n{% set x = = 1 %}", name="s.html")
    error = raised.value
    assert isinstance(error, SyntaxError) and isinstance(error, cw.ParseError)
    assert (error.filename, error.lineno) == ("s.html", 2)
    assert str(error) == "invalid syntax in `x = = 1` at s.html:2"
    assert error.text is not None and "# s.html:2" in error.text


def test_generated_code_names_template_lines() -> None:
    loader = cw.DictLoader(
        {
            "page.html": "a\n{% include 'part.html' %}\n{{ x }}",
            "part.html": "\n{{ y }}",
        }
    )
    template = loader.load("page.html")
    code = template.code
    assert "_tt_tmp = x  # page.html:3" in code
    assert "_tt_tmp = y  # part.html:2 (via page.html:2)" in code
    listing = template.numbered_code()
    assert listing.splitlines()[0] == " 1  def _tt_execute():  # page.html:0"
    assert len(listing.splitlines()) == len(code.splitlines())
    compile(code, "check", "exec")


def test_runtime_error_note_for_nested_templates() -> None:
    loader = cw.DictLoader(
        {
            "page.html": "{% for v in [1] %}\n{% include 'inner.html' %}{% end %}",
            "inner.html": "\n\n{{ v.nope }}",
        }
    )
    with pytest.raises(AttributeError) as raised:
        loader.load("page.html").generate()
    assert raised.value.__notes__ == ["in template inner.html, line 3"]


def test_parse_error_is_raised_for_deep_nesting() -> None:
    source = "{% if 1 %}" * 150 + "x" + "{% end %}" * 150
    with pytest.raises(cw.ParseError, match="nested more than 100 deep"):
        cw.Template(source)
    moderate = "{% if 1 %}" * 15 + "x" + "{% end %}" * 15
    assert cw.Template(moderate).generate() == tt.Template(moderate).generate() == b"x"


def test_base_loader_is_abstract() -> None:
    loader = cw.BaseLoader()
    with pytest.raises(NotImplementedError):
        loader.load("x")
    assert (loader.autoescape, loader.namespace, loader.whitespace) == ("xhtml_escape", {}, None)


def test_loader_namespace_is_the_callers_dict() -> None:
    namespace: dict[str, Any] = {"early": 1}
    loader = cw.DictLoader({"t": "{{ early }} {{ late }}"}, namespace=namespace)
    namespace["late"] = "added after"
    assert loader.load("t").generate() == b"1 added after"


def test_a_name_with_a_line_break_cannot_escape_its_comment() -> None:
    # Found by the template fuzz target: "\r" in an included name ended the
    # "# name:line" comment and the rest of the name became code.
    loader = cw.DictLoader({"page.html": "{% include \x0f\r\x0f %}", "\x0f\r\x0f": "{{ 1 }}"})
    template = loader.load("page.html")
    assert template.generate() == b"1"
    assert "# \\x0f\\r\\x0f:1 (via page.html:1)" in template.code


def test_multiline_expressions_keep_the_line_map() -> None:
    template = cw.Template("{{ (1 +\n 2) }}\n{{ (3 +\r\n 4) }}\n\n{{ 1 / 0 }}", name="m.txt")
    with pytest.raises(ZeroDivisionError) as raised:
        template.generate()
    assert raised.value.__notes__ == ["in template m.txt, line 6"]
    with pytest.raises(cw.TemplateSyntaxError) as syntax:
        cw.Template("{{ (1 +\n 2) }}\n{% set x = (1 %}", name="m.txt")
    assert syntax.value.lineno == 3
