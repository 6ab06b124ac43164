import pytest
from crosswind.mediatype import format_content_type, parse_content_type
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/html", ("text/html", {})),
        ('Text/HTML; Charset="utf-8"', ("text/html", {"charset": "utf-8"})),
        # RFC 9110 §8.3.1: these four are equivalent.
        ("text/html;charset=utf-8", ("text/html", {"charset": "utf-8"})),
        ('text/html;charset="utf-8"', ("text/html", {"charset": "utf-8"})),
        ("Text/HTML;Charset=UTF-8", ("text/html", {"charset": "UTF-8"})),
        ("text/html; charset=utf-8", ("text/html", {"charset": "utf-8"})),
        (
            'multipart/form-data; boundary="a;b\\"c\\\\d"; x=1',
            ("multipart/form-data", {"boundary": 'a;b"c\\d', "x": "1"}),
        ),
        ("a/b; junk; ;; k=v ; k=second", ("a/b", {"k": "v"})),
        ('a/b; q="unterminated', ("a/b", {"q": "unterminated"})),
        ('a/b; q="x"trailing; r=2', ("a/b", {"q": "x", "r": "2"})),
        ("a/b; =novalue; n=", ("a/b", {"n": ""})),
        ("", ("", {})),
        (None, ("", {})),
        (b"text/plain; charset=latin-1", ("text/plain", {"charset": "latin-1"})),
    ],
)
def test_parse_content_type(value, expected):
    assert parse_content_type(value) == expected


def test_parse_is_linear_on_hostile_parameters():
    # Each of these would make a rescanning parser quadratic; 200k characters must be quick.
    for hostile in ["a/b" + ";" * 200_000, "a/b;" + "x" * 200_000 + "=1", 'a/b;k="' + "\\" * 200_000]:
        assert parse_content_type(hostile)[0] == "a/b"


def test_format_content_type_quotes_only_when_needed():
    assert format_content_type("text/html", {"charset": "utf-8"}) == "text/html; charset=utf-8"
    assert format_content_type("multipart/form-data", {"boundary": 'a b"c'}) == (
        'multipart/form-data; boundary="a b\\"c"'
    )
    assert format_content_type("application/json") == "application/json"


@pytest.mark.parametrize(
    ("mimetype", "params"),
    [("texthtml", {}), ("text/html;x", {}), ("text/html", {"bad name": "v"}), ("a/b", {"k": "x\r\ny"})],
)
def test_format_content_type_refuses_malformed_input(mimetype, params):
    with pytest.raises(ValueError):
        format_content_type(mimetype, params)


_tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-+.", min_size=1, max_size=8)


@given(
    st.tuples(_tokens, _tokens),
    st.dictionaries(
        _tokens,
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=10),
        max_size=4,
    ),
)
def test_format_then_parse_round_trips(mimetype_parts, params):
    mimetype = "/".join(mimetype_parts)
    # Values with spaces, quotes or backslashes come back intact because they get quoted.
    assert parse_content_type(format_content_type(mimetype, params)) == (mimetype, params)


@given(st.one_of(st.text(), st.binary()))
def test_parse_content_type_never_raises(value):
    mimetype, params = parse_content_type(value)
    assert isinstance(mimetype, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
