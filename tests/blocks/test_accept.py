import pytest
from crosswind.accept import accepts_encoding, parse_accept, parse_accept_language
from hypothesis import given
from hypothesis import strategies as st


def test_rfc_9110_accept_language_example():
    assert parse_accept_language("da, en-gb;q=0.8, en;q=0.7") == [
        ("da", 1.0),
        ("en-gb", 0.8),
        ("en", 0.7),
    ]


def test_accept_language_sorts_by_q_and_keeps_client_order_for_ties():
    value = "fr;q=0.5, en-US, de;q=0.5, *;q=0.1, es"
    assert parse_accept_language(value) == [
        ("en-US", 1.0),
        ("es", 1.0),
        ("fr", 0.5),
        ("de", 0.5),
        ("*", 0.1),
    ]


@pytest.mark.parametrize(
    "member",
    [
        "xx;q=0",  # refused
        "xx;q=0.000",
        "xx;q=1.5",  # out of range
        "xx;q=1.001",
        "xx;q=-0.5",
        "xx;q=0.1234",  # four decimals
        "xx;q=.5",
        "xx;q=abc",
        "xx;q",
        "en us",  # not a language range
        "toolongsubtag",
        "",
    ],
)
def test_accept_language_drops_refused_and_malformed_members(member):
    assert parse_accept_language(f"{member}, de;q=0.9") == [("de", 0.9)]


@pytest.mark.parametrize("q", ["1", "1.", "1.0", "1.000", "0.5", "0.001", "0."])
def test_valid_qvalues(q):
    expected = [] if float(q) == 0 else [("en", float(q))]
    assert parse_accept_language(f"en;Q={q}") == expected


def test_absent_or_empty_headers_give_empty_lists():
    assert parse_accept_language(None) == []
    assert parse_accept_language("") == []
    assert parse_accept(None) == []


def test_rfc_9110_accept_example_keeps_media_parameters():
    value = (
        "text/*;q=0.3, text/plain;q=0.7, text/plain;format=flowed, "
        "text/plain;format=fixed;q=0.4, */*;q=0.5"
    )
    assert parse_accept(value) == [
        ("text/plain;format=flowed", 1.0),
        ("text/plain", 0.7),
        ("*/*", 0.5),
        ("text/plain;format=fixed", 0.4),
        ("text/*", 0.3),
    ]


def test_parse_accept_encoding_lowercases_codings():
    assert parse_accept("GZIP;q=0.5, br, identity;q=0") == [("br", 1.0), ("gzip", 0.5)]


@pytest.mark.parametrize(
    ("header", "coding", "expected"),
    [
        ("compress, gzip", "gzip", True),
        ("compress, gzip", "br", False),
        ("compress, gzip", "identity", True),
        ("", "gzip", False),
        ("", "identity", True),
        ("*", "gzip", True),
        ("compress;q=0.5, gzip;q=1.0", "gzip", True),
        ("gzip;q=1.0, identity; q=0.5, *;q=0", "gzip", True),
        ("gzip;q=1.0, identity; q=0.5, *;q=0", "br", False),
        ("gzip;q=1.0, identity; q=0.5, *;q=0", "identity", True),
        ("*;q=0", "identity", False),
        ("identity;q=0", "identity", False),
        ("gzip;q=0, *", "gzip", False),
        ("x-gzip", "gzip", True),
        ("GZip", "gzip", True),
        ("gzip;q=2", "gzip", False),
        (None, "gzip", False),
        (None, "identity", True),
    ],
)
def test_accepts_encoding(header, coding, expected):
    assert accepts_encoding(header, coding) is expected


@given(st.text())
def test_parsers_never_raise_and_return_sorted_valid_weights(value):
    for parsed in (parse_accept_language(value), parse_accept(value)):
        weights = [q for _, q in parsed]
        assert weights == sorted(weights, reverse=True)
        assert all(0 < q <= 1 for q in weights)
    accepts_encoding(value, "gzip")
