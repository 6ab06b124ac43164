import urllib.parse

import pytest
from crosswind.errors import RequestError
from crosswind.forms import (
    BadRequestKeyError,
    MultiDict,
    encode_query,
    parse_qs,
    parse_urlencoded,
    percent_decode,
)
from hypothesis import given
from hypothesis import strategies as st
from tornado.httputil import parse_qs_bytes
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request


def test_single_lookups_follow_flask_and_get_last_follows_tornado():
    args = parse_qs("tag=a&tag=b&page=2")
    assert args["tag"] == "a"
    assert args.get("tag") == "a"
    assert args.get_first("tag") == "a"
    assert args.get_last("tag") == "b"
    assert args.getlist("tag") == ["a", "b"]
    assert args.get("page", type=int) == 2
    assert args.get("tag", -1, type=int) == -1
    assert args.get_last("missing", "d") == "d"
    assert parse_qs("n=1&n=x&n=3").getlist("n", type=int) == [1, 3]


def test_missing_key_is_a_key_error_and_a_400():
    args = parse_qs("a=1")
    with pytest.raises(KeyError) as info:
        args["user_id"]
    error = info.value
    assert isinstance(error, BadRequestKeyError)
    assert isinstance(error, RequestError)
    assert error.status_code == 400
    assert "user_id" in str(error)
    with pytest.raises(BadRequestKeyError):
        args.pop("user_id")


def test_multidict_views_and_mutation():
    md = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert list(md) == ["a", "b"] and len(md) == 2
    assert md.items() == [("a", "1"), ("b", "2")]
    assert md.items(multi=True) == [("a", "1"), ("a", "3"), ("b", "2")]
    assert md.values() == ["1", "2"]
    assert md.lists() == [("a", ["1", "3"]), ("b", ["2"])]
    assert md.to_dict() == {"a": "1", "b": "2"}
    assert md.to_dict(flat=False) == {"a": ["1", "3"], "b": ["2"]}
    md.add("b", "4")
    md["a"] = "only"
    assert md.getlist("a") == ["only"] and md.getlist("b") == ["2", "4"]
    md.update({"a": ["x", "y"]}, c="z")
    assert md.getlist("a") == ["only", "x", "y"] and md["c"] == "z"
    md.setlist("c", [])
    assert "c" not in md
    assert md.setdefault("d", "e") == "e" and md.setdefault("d", "f") == "e"
    copy = md.copy()
    copy.add("a", "more")
    assert md.getlist("a") == ["only", "x", "y"]
    del md["a"]
    assert md.pop("b") == "2" and md.pop("b", None) is None
    assert md == {"d": "e"}
    assert MultiDict({"k": ["1", "2"]}) == MultiDict([("k", "1"), ("k", "2")])
    assert "MultiDict" in repr(md)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a=1&b=2", [("a", "1"), ("b", "2")]),
        ("q=hello+world%21", [("q", "hello world!")]),
        ("q=%E2%82%AC&plus=%2B", [("q", "\u20ac"), ("plus", "+")]),
        ("a=1;b=2", [("a", "1;b=2")]),  # ';' is not a separator
        ("&&a=1&&", [("a", "1")]),
        ("flag&empty=", [("flag", ""), ("empty", "")]),
        ("=v", [("", "v")]),
        ("bad=%zz%4", [("bad", "%zz%4")]),
        ("k=a=b", [("k", "a=b")]),
        ("", []),
        (b"x=%C3%A9", [("x", "\u00e9")]),
        ("x=\u00e9", [("x", "\u00e9")]),
    ],
)
def test_parse_qs_examples(query, expected):
    assert parse_qs(query).items(multi=True) == expected


def test_blank_values_can_be_dropped():
    assert parse_qs("a=&b&c=1", keep_blank_values=False).items(multi=True) == [("c", "1")]


@pytest.mark.parametrize("query", [b"a=%FF", b"%C3=1", b"a=\xff", b"a=%ED%A0%80"])
def test_invalid_utf8_is_a_400_naming_the_query(query):
    with pytest.raises(RequestError) as info:
        parse_qs(query)
    assert info.value.status_code == 400
    assert "query string" in info.value.reason


def test_field_limits():
    assert len(parse_qs("&".join(f"k{i}=1" for i in range(10)), max_fields=10)) == 10
    assert len(parse_qs("a=1" + "&" * 50, max_fields=1)) == 1  # empty pieces are no fields
    with pytest.raises(RequestError) as info:
        parse_qs("&".join(f"k{i}=1" for i in range(11)), max_fields=10)
    assert info.value.status_code == 400 and "10" in info.value.reason
    with pytest.raises(RequestError) as info:
        parse_urlencoded(b"a=1&b=2", max_fields=1)
    assert info.value.status_code == 413 and "form body" in info.value.reason


def test_parse_urlencoded():
    body = b"name=J%C3%BCrgen+M&lang=de&lang=en"
    form = parse_urlencoded(body)
    assert form["name"] == "J\u00fcrgen M" and form.getlist("lang") == ["de", "en"]
    assert parse_urlencoded(b"name=J%FCrgen", charset="latin-1")["name"] == "J\u00fcrgen"
    with pytest.raises(RequestError) as info:
        parse_urlencoded(b"name=J%FCrgen")
    assert info.value.status_code == 400 and "form body" in info.value.reason
    with pytest.raises(RequestError) as info:
        parse_urlencoded(b"a=1", charset="no-such-charset")
    assert info.value.status_code == 415


def test_encode_query():
    assert encode_query({"q": "a b&c", "n": 5}) == "q=a+b%26c&n=5"
    assert encode_query([("k", "1"), ("k", "2")]) == "k=1&k=2"
    assert encode_query({"k": ["1", "2"]}) == "k=1&k=2"
    assert encode_query(MultiDict([("k", "1"), ("k", "2")])) == "k=1&k=2"
    assert encode_query({"e": "\u20ac~-._"}) == "e=%E2%82%AC~-._"
    with pytest.raises(TypeError):
        encode_query({"k": None})


_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8)


@given(st.lists(st.tuples(_text, _text), max_size=10))
def test_encode_then_parse_round_trips(pairs):
    parsed = parse_qs(encode_query(pairs))
    keys = list(dict.fromkeys(name for name, _ in pairs))
    assert list(parsed) == keys
    for key in keys:
        assert parsed.getlist(key) == [value for name, value in pairs if name == key]


# Digits and letters enough for %20, %41, %26 ("&") and %3D ("="): escaped separators too.
_query = st.text(alphabet="ab=&+%204136Dd;\u00e9", max_size=30)


@given(_query)
def test_parse_qs_matches_python_flask_and_tornado(query):
    try:
        reference = urllib.parse.parse_qsl(query, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        # Python refuses exactly when crosswind must: text that is not UTF-8 once decoded.
        with pytest.raises(RequestError):
            parse_qs(query)
        return
    ours = parse_qs(query)
    for key in dict.fromkeys(name for name, _ in reference):
        assert ours.getlist(key) == [value for name, value in reference if name == key]
    assert len(ours) == len(dict.fromkeys(name for name, _ in reference))
    # Tornado hands back latin-1 names and raw values; get_argument takes the last value.
    tornado_args = parse_qs_bytes(query.encode("utf-8"), keep_blank_values=True)
    for key, values in tornado_args.items():
        assert ours.get_last(key.encode("latin-1").decode("utf-8")) == values[-1].decode("utf-8")
    environ = EnvironBuilder().get_environ()
    environ["QUERY_STRING"] = query.encode("utf-8").decode("latin-1")  # as WSGI carries it
    flask_args = Request(environ).args
    assert ours.items(multi=True) == list(flask_args.items(multi=True))


# Pieces that make escapes (valid, malformed, of separators), multi-byte UTF-8 split across
# escapes and fields, and bytes that no UTF-8 text holds.
_raw_form = st.lists(
    st.sampled_from(
        [b"a", b"b", b"=", b"&", b"+", b"%", b"2", b"6", b"3", b"d", b"z", b"\xc3", b"\xa9",
         b"\xff", b"%C3", b"%a9", b"%26", b"%3D", b"%e2%82", b"%AC"]
    ),
    max_size=16,
).map(b"".join)


def _part_by_part(data, keep_blank_values, charset):
    # The rule spelled out: split, then unescape and decode each name and value alone.
    def decode(raw):
        return urllib.parse.unquote_to_bytes(raw.replace(b"+", b" ")).decode(charset)

    pairs = []
    for piece in data.split(b"&"):
        name, _, value = piece.partition(b"=")
        if piece and (value or keep_blank_values):
            pairs.append((decode(name), decode(value)))
    return MultiDict(pairs).items(multi=True)


@given(_raw_form, st.booleans(), st.sampled_from(["utf-8", "latin-1", "ascii", "utf-16"]))
def test_fields_are_what_each_part_decodes_to(data, keep_blank_values, charset):
    # Form data is unescaped and decoded whole when that cannot change the fields;
    # it must give what decoding every part alone gives, and refuse what that refuses.
    try:
        expected = _part_by_part(data, keep_blank_values, charset)
    except UnicodeDecodeError:
        with pytest.raises(RequestError) as info:
            parse_urlencoded(data, charset=charset)
        assert info.value.status_code == 400
        if charset == "utf-8" and keep_blank_values:
            with pytest.raises(RequestError):
                parse_qs(data)
        return
    if keep_blank_values:
        assert parse_urlencoded(data, charset=charset).items(multi=True) == expected
    if charset == "utf-8":
        assert parse_qs(data, keep_blank_values=keep_blank_values).items(multi=True) == expected


_ESCAPE_PIECES = [b"%", b"\\", b"x", b"4", b"1", b"aF", b"g", b"+", b"%2", b"\\x41", b"\xff"]


@given(st.binary(max_size=40) | st.lists(st.sampled_from(_ESCAPE_PIECES), max_size=12).map(b"".join))
def test_unescape_is_unquote_to_bytes(data):
    # The C fast path must agree with the standard library on every input, the
    # malformed escapes and backslashes included.
    assert percent_decode(data) == urllib.parse.unquote_to_bytes(data)


def test_a_form_with_repeats_blanks_and_bare_names_parses_as_before():
    body = b"a=1&b=&c&a=2&&d=x%3Dy&e=%C3%A9"
    assert parse_urlencoded(body).items(multi=True) == [
        ("a", "1"), ("a", "2"), ("b", ""), ("c", ""), ("d", "x=y"), ("e", "é"),
    ]
    assert parse_qs(body.decode(), keep_blank_values=False).items(multi=True) == [
        ("a", "1"), ("a", "2"), ("d", "x=y"), ("e", "é"),
    ]
    assert parse_qs("x=1&y=2&z=%2B").items(multi=True) == [("x", "1"), ("y", "2"), ("z", "+")]
