import hashlib
from unittest import mock

import pytest
import tornado.httputil
import tornado.web
from crosswind.etag import compute_etag, parse_etag, parse_etag_list, strong_match, weak_match
from hypothesis import given
from hypothesis import strategies as st


def tornado_etag(chunks):
    app = tornado.web.Application([])
    request = tornado.httputil.HTTPServerRequest(
        start_line=tornado.httputil.RequestStartLine("GET", "/", "HTTP/1.1"),
        headers=tornado.httputil.HTTPHeaders({"Host": "example.com"}),
        connection=mock.Mock(),
    )
    handler = tornado.web.RequestHandler(app, request)
    for chunk in chunks:
        handler.write(chunk)
    return handler.compute_etag()


@given(st.lists(st.binary(max_size=50), max_size=5))
def test_compute_etag_matches_tornado(chunks):
    assert compute_etag(chunks) == tornado_etag(chunks)


def test_compute_etag_is_quoted_sha1_of_the_whole_body():
    assert compute_etag([b"hello ", b"world"]) == f'"{hashlib.sha1(b"hello world").hexdigest()}"'
    assert compute_etag([]) == '"da39a3ee5e6b4b0d3255bfef95601890afd80709"'
    assert compute_etag(iter([b"a", b"b"])) == compute_etag([b"ab"])


# RFC 9110 section 8.8.3.2, the comparison table.
@pytest.mark.parametrize(
    ("a", "b", "strong", "weak"),
    [
        ('W/"1"', 'W/"1"', False, True),
        ('W/"1"', 'W/"2"', False, False),
        ('W/"1"', '"1"', False, True),
        ('"1"', '"1"', True, True),
    ],
)
def test_rfc_9110_comparison_examples(a, b, strong, weak):
    assert strong_match(a, b) is strong
    assert weak_match(a, b) is weak
    assert strong_match(b, a) is strong
    assert weak_match(b, a) is weak


@pytest.mark.parametrize("bad", ["1", '"1', 'w/"1"', ' W/ "1"', '"a"b', '"a b"', "", None, '"\x7f"'])
def test_malformed_tags_never_match(bad):
    assert not strong_match(bad, '"1"')
    assert not weak_match(bad, bad)


def test_parse_single_etag():
    assert parse_etag('"xyzzy"') == (False, '"xyzzy"')
    assert parse_etag(' W/"xyzzy" ') == (True, '"xyzzy"')
    assert parse_etag('""') == (False, '""')
    assert parse_etag('"a,b"') == (False, '"a,b"')
    assert parse_etag('"\x80\xff"') == (False, '"\x80\xff"')
    assert parse_etag('"a" "b"') is None
    assert parse_etag("*") is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # RFC 9110 section 13.1.1 and 13.1.2 examples.
        ('"xyzzy"', [(False, '"xyzzy"')]),
        (
            '"xyzzy", "r2d2xxxx", "c3piozzzz"',
            [(False, '"xyzzy"'), (False, '"r2d2xxxx"'), (False, '"c3piozzzz"')],
        ),
        (
            'W/"xyzzy", W/"r2d2xxxx", W/"c3piozzzz"',
            [(True, '"xyzzy"'), (True, '"r2d2xxxx"'), (True, '"c3piozzzz"')],
        ),
        ("*", "*"),
        (" * ", "*"),
        # Commas inside an opaque tag belong to the tag.
        ('"a,b", W/"c"', [(False, '"a,b"'), (True, '"c"')]),
        # Empty list elements are allowed by the list syntax.
        (', ,"a",,', [(False, '"a"')]),
        # Junk members are dropped, the rest kept.
        ('xyzzy, "ok", "unterminated', [(False, '"ok"')]),
        ('"a"junk, "b"', [(False, '"b"')]),
        ('*, "a"', [(False, '"a"')]),
        ("", []),
        (None, []),
    ],
)
def test_parse_etag_list(header, expected):
    assert parse_etag_list(header) == expected


@given(st.text(max_size=100))
def test_parse_etag_list_never_raises_and_only_returns_valid_tags(header):
    parsed = parse_etag_list(header)
    if parsed != "*":
        for weak, opaque in parsed:
            rendered = f'W/{opaque}' if weak else opaque
            assert parse_etag(rendered) == (weak, opaque)
            assert opaque in header


opaque_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'),
    max_size=10,
)


@given(st.lists(st.tuples(st.booleans(), opaque_text), max_size=6))
def test_rendered_lists_parse_back(tags):
    header = ", ".join(f'{"W/" if weak else ""}"{opaque}"' for weak, opaque in tags)
    assert parse_etag_list(header) == [(weak, f'"{opaque}"') for weak, opaque in tags]
