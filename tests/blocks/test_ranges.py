import email.parser
import email.policy

import pytest
from crosswind.errors import RequestError
from crosswind.ranges import (
    RangeNotSatisfiable,
    build_byteranges,
    byteranges_content_type,
    format_content_range,
    format_unsatisfied_range,
    make_boundary,
    parse_range_header,
)
from hypothesis import given
from hypothesis import strategies as st

SIZE = 10000


# RFC 9110 section 14.1.2 examples, on a 10000-byte representation.
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-499", [(0, 500)]),
        ("bytes=500-999", [(500, 1000)]),
        ("bytes=-500", [(9500, 10000)]),
        ("bytes=9500-", [(9500, 10000)]),
        ("bytes=0-0,-1", [(0, 1), (9999, 10000)]),
        # Overlapping/adjacent ranges are coalesced, which sorts them.
        ("bytes=0-999, 4500-5499, -1000", [(0, 1000), (4500, 5500), (9000, 10000)]),
        ("bytes=500-600,601-999", [(500, 1000)]),
        ("bytes=500-700,601-999", [(500, 1000)]),
    ],
)
def test_rfc_examples(header, expected):
    assert parse_range_header(header, SIZE) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=9000-9999,0-99", [(9000, 10000), (0, 100)]),  # client order kept
        ("BYTES=0-1", [(0, 2)]),  # range unit is case-insensitive
        ("  bytes=0-1 ,  ,2-3  ", [(0, 4)]),  # adjacent ranges coalesced
        ("bytes=0-99999999999", [(0, SIZE)]),  # last-pos clamped
        ("bytes=-99999", [(0, SIZE)]),  # suffix longer than the representation
        ("bytes=0-1,20000-30000", [(0, 2)]),  # unsatisfiable member dropped
        ("bytes=0001-0002", [(1, 3)]),
        (f"bytes=0-{'9' * 5000}", [(0, SIZE)]),  # absurd numbers stay cheap
    ],
)
def test_satisfiable_ranges(header, expected):
    assert parse_range_header(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "items=0-1",
        "bytes=1-0",  # last < first makes the whole header invalid
        "bytes=0-1,5-2",
        "bytes=-",
        "bytes=a-b",
        "bytes=0-1;x",
        "bytes=0 -1",
        "bytes=+1-2",
        "bytes=--1",
        "bytes 0-1",
    ],
)
def test_invalid_headers_are_ignored(header):
    assert parse_range_header(header, SIZE) is None


@pytest.mark.parametrize("header", ["bytes=10000-", "bytes=20000-30000", "bytes=-0", "bytes=-0,10000-"])
def test_unsatisfiable_raises_416(header):
    with pytest.raises(RangeNotSatisfiable) as info:
        parse_range_header(header, SIZE)
    assert isinstance(info.value, RequestError)
    assert info.value.status_code == 416
    assert info.value.content_range == "bytes */10000"


def test_empty_representation():
    with pytest.raises(RangeNotSatisfiable):
        parse_range_header("bytes=0-", 0)
    # A non-zero suffix is satisfiable for an empty representation: send it all (200).
    assert parse_range_header("bytes=-5", 0) is None
    with pytest.raises(RangeNotSatisfiable):
        parse_range_header("bytes=-0", 0)


def test_too_many_ranges_is_416_not_ignored():
    sixteen = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(16))
    assert len(parse_range_header(sixteen, SIZE)) == 16
    seventeen = sixteen + ",500-501"
    with pytest.raises(RangeNotSatisfiable, match="Too many"):
        parse_range_header(seventeen, SIZE)
    assert len(parse_range_header(seventeen, SIZE, max_ranges=17)) == 17


def test_overlap_abuse_is_coalesced_to_at_most_the_whole_representation():
    header = "bytes=" + ",".join(["0-"] * 16)
    assert parse_range_header(header, SIZE) == [(0, SIZE)]


def test_negative_size_is_a_programming_error():
    with pytest.raises(ValueError, match="negative"):
        parse_range_header("bytes=0-1", -1)


specs = st.one_of(
    st.builds(lambda a, b: f"{a}-{a + b}", st.integers(0, 3 * SIZE), st.integers(0, SIZE)),
    st.builds(lambda a: f"{a}-", st.integers(0, 3 * SIZE)),
    st.builds(lambda a: f"-{a}", st.integers(0, 3 * SIZE)),
)


@given(st.lists(specs, min_size=1, max_size=16), st.integers(0, 2 * SIZE))
def test_valid_headers_yield_in_bounds_non_overlapping_ranges_or_416(spec_list, size):
    header = "bytes=" + ",".join(spec_list)
    try:
        ranges = parse_range_header(header, size)
    except RangeNotSatisfiable:
        return
    if ranges is None:
        assert size == 0
        return
    assert ranges
    for start, end in ranges:
        assert 0 <= start < end <= size
    assert sum(end - start for start, end in ranges) <= size
    ordered = sorted(ranges)
    assert all(a[1] < b[0] for a, b in zip(ordered, ordered[1:], strict=False))


range_like = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="0123456789-, \t", max_size=100).map(lambda t: "bytes=" + t),
)


@given(range_like, st.integers(0, 10**12))
def test_arbitrary_headers_never_raise_anything_else(header, size):
    try:
        ranges = parse_range_header(header, size)
    except RangeNotSatisfiable as exc:
        assert exc.content_range == f"bytes */{size}"
        return
    assert ranges is None or all(0 <= start < end <= size for start, end in ranges)


def test_format_content_range():
    assert format_content_range(0, 500, 1234) == "bytes 0-499/1234"
    assert format_content_range(1233, 1234, 1234) == "bytes 1233-1233/1234"
    assert format_content_range(0, 10, None) == "bytes 0-9/*"
    assert format_unsatisfied_range(1234) == "bytes */1234"
    for bad in [(5, 5, 10), (-1, 3, 10), (0, 11, 10)]:
        with pytest.raises(ValueError, match="invalid range"):
            format_content_range(*bad)


def test_build_byteranges_is_a_parseable_multipart_body():
    data = bytes(range(256)) * 4
    ranges = parse_range_header("bytes=0-9,-10", len(data))
    body = build_byteranges(
        [(start, end, data[start:end]) for start, end in ranges], "application/octet-stream",
        len(data), "THIS_STRING_SEPARATES",
    )
    assert body.startswith(b"--THIS_STRING_SEPARATES\r\nContent-Type: application/octet-stream\r\n")
    assert body.endswith(b"\r\n--THIS_STRING_SEPARATES--\r\n")
    header = byteranges_content_type("THIS_STRING_SEPARATES")
    assert header == "multipart/byteranges; boundary=THIS_STRING_SEPARATES"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + header.encode() + b"\r\n\r\n" + body
    )
    parts = list(message.iter_parts())
    assert [p["Content-Range"] for p in parts] == ["bytes 0-9/1024", "bytes 1014-1023/1024"]
    assert [p.get_payload(decode=True) for p in parts] == [data[:10], data[-10:]]


def test_build_byteranges_exact_layout_without_content_type():
    body = build_byteranges([(0, 2, b"ab"), (5, 6, b"f")], None, 6, "b")
    assert body == (
        b"--b\r\nContent-Range: bytes 0-1/6\r\n\r\nab\r\n"
        b"--b\r\nContent-Range: bytes 5-5/6\r\n\r\nf\r\n"
        b"--b--\r\n"
    )


def test_build_byteranges_rejects_misuse():
    with pytest.raises(ValueError, match="boundary"):
        build_byteranges([(0, 1, b"a")], None, 1, "bad\r\nboundary")
    with pytest.raises(ValueError, match="boundary"):
        build_byteranges([(0, 1, b"a")], None, 1, "x" * 71)
    with pytest.raises(ValueError, match="bytes of data"):
        build_byteranges([(0, 2, b"a")], None, 2, "b")
    with pytest.raises(ValueError, match="at least one part"):
        build_byteranges([], None, 2, "b")
    with pytest.raises(ValueError, match="line breaks"):
        build_byteranges([(0, 1, b"a")], "text/plain\r\nX: y", 1, "b")


def test_make_boundary_uses_the_token_source():
    assert make_boundary(lambda n: b"\xab" * n) == "ab" * 16
