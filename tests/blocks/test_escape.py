"""crosswind.escape matches tornado.escape on the functions Tornado applications use."""

from __future__ import annotations

import pytest
import tornado.escape
from crosswind import escape
from hypothesis import given
from hypothesis import strategies as st

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(texts)
def test_property_xhtml_escape_matches_tornado(text):
    assert escape.xhtml_escape(text) == tornado.escape.xhtml_escape(text)
    assert escape.xhtml_unescape(escape.xhtml_escape(text)) == text


@given(texts)
def test_property_url_escape_round_trips_like_tornado(text):
    for plus in (True, False):
        encoded = escape.url_escape(text, plus=plus)
        assert encoded == tornado.escape.url_escape(text, plus=plus)
        assert escape.url_unescape(encoded, plus=plus) == text
        assert escape.url_unescape(encoded, encoding=None, plus=plus) == text.encode("utf-8")


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=10))))
def test_property_json_matches_tornado(value):
    assert escape.json_encode(value) == tornado.escape.json_encode(value)
    assert escape.json_decode(escape.json_encode(value).encode()) == value


@pytest.mark.parametrize(
    "text,kwargs",
    [
        ("see http://example.com/a?b=1&c=2 now", {}),
        ("www.example.com and https://x.example/(paren)", {}),
        ("www.example.com only", {"require_protocol": True}),
        ("javascript:alert(1) and ftp://files.example/x", {}),
        ("ftp://files.example/x", {"permitted_protocols": ["ftp"]}),
        ("http://example.com/" + "a" * 40, {"shorten": True}),
        ("http://example.com/x", {"extra_params": 'rel="nofollow"'}),
        ("<b>http://example.com/</b>", {}),
        ("http://example.com/x", {"extra_params": "  "}),
        ("http://example.com/x", {"extra_params": lambda url: ""}),
        ("http://example.com/x and www.example.org", {"extra_params": lambda url: f' data-u="{url}" '}),
        ("http://example.com/" + "b" * 40, {"shorten": True, "extra_params": " "}),
    ],
)
def test_linkify_matches_tornado(text, kwargs):
    assert escape.linkify(text, **kwargs) == tornado.escape.linkify(text, **kwargs)


def test_conversions():
    assert escape.utf8("é") == b"\xc3\xa9" and escape.utf8(b"x") == b"x" and escape.utf8(None) is None
    assert escape.to_unicode(b"\xc3\xa9") == "é" and escape.native_str is escape.to_unicode
    assert escape.recursive_unicode({b"k": [b"v", (b"t",)]}) == {"k": ["v", ("t",)]}
    assert escape.squeeze("  a \n\t b  ") == "a b"
    with pytest.raises(TypeError):
        escape.utf8(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        escape.to_unicode(3)  # type: ignore[arg-type]


def test_json_encode_cannot_close_a_script_element():
    assert "</" not in escape.json_encode({"a": "</script><script>alert(1)"})


PIECES = st.sampled_from(
    [
        "http://example.com/path/to/page.html?x=1&y=2",
        "https://very-long-host-name.example.org/abcdefghijklmnop/qrstuv",
        "www.example.net",
        "(http://paren.example/x)",
        "javascript:alert(1)",
        "mailto:a@b.example",
        " ",
        "text",
        "<tag>",
        "&amp;",
        '"quoted"',
    ]
)


@given(st.lists(PIECES, max_size=6), st.booleans(), st.booleans())
def test_property_linkify_matches_tornado(pieces, shorten, require_protocol):
    text = " ".join(pieces)
    assert escape.linkify(text, shorten=shorten, require_protocol=require_protocol) == (
        tornado.escape.linkify(text, shorten=shorten, require_protocol=require_protocol)
    )
