"""Hypothesis properties of crosswind.routing: agreement with werkzeug on
random rule tables, build/match round trips per converter, converters that
never cross "/", order independence, and the Tornado index keeping
first-match-wins."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import werkzeug.exceptions as wz_exc
import werkzeug.routing as wz
from crosswind.routing import (
    HandlerTable,
    Map,
    MethodNotAllowed,
    NotFound,
    RequestRedirect,
    Rule,
    URLSpec,
)
from hypothesis import given
from hypothesis import strategies as st

# -- differential test against werkzeug -------------------------------------

WORDS = ["a", "b", "users", "v1"]
CONVERTERS = ["<{}>", "<int:{}>", "<float:{}>", "<any(a, b, x):{}>", "<string(length=2):{}>"]


@st.composite
def rule_strings(draw: st.DrawFn) -> str:
    n = draw(st.integers(0, 3))
    segments: list[str] = []
    for i in range(n):
        kind = draw(st.sampled_from(["word", "conv", "mixed"]))
        if kind == "word":
            segments.append(draw(st.sampled_from(WORDS)))
        elif kind == "conv":
            segments.append(draw(st.sampled_from(CONVERTERS)).format(f"v{i}"))
        else:
            segments.append("v" + draw(st.sampled_from(CONVERTERS)).format(f"v{i}"))
    if draw(st.booleans()):
        segments.append(f"<path:p{n}>")
        if draw(st.booleans()):
            segments.append(draw(st.sampled_from(WORDS)))
    rule = "/" + "/".join(segments)
    if segments and draw(st.booleans()):
        rule += "/"
    return rule


rule_tables = st.lists(
    st.tuples(
        rule_strings(),
        st.sampled_from([None, ("GET",), ("POST",), ("GET", "PUT")]),
        st.sampled_from([None, False]),
    ),
    min_size=1,
    max_size=8,
)
path_pieces = st.sampled_from(["a", "b", "x", "users", "v1", "1", "22", "1.5", "ab", "v7", ""])
request_paths = st.lists(path_pieces, max_size=5).map(lambda parts: "/" + "/".join(parts))


def ours_outcome(m: Map, path: str, method: str) -> tuple:
    try:
        return ("match", *m.match(path, method, host="example.com"))
    except RequestRedirect as e:
        return ("redirect", e.new_url)
    except MethodNotAllowed as e:
        return ("405", e.allowed_methods)
    except NotFound:
        return ("404",)


def wz_outcome(adapter: wz.MapAdapter, path: str, method: str) -> tuple:
    try:
        endpoint, values = adapter.match(path, method)
        return ("match", endpoint, dict(values))
    except wz.RequestRedirect as e:
        return ("redirect", e.new_url)
    except wz_exc.MethodNotAllowed as e:
        return ("405", tuple(sorted(e.valid_methods or ())))
    except wz_exc.NotFound:
        return ("404",)


@given(rule_tables, st.lists(request_paths, min_size=1, max_size=6))
def test_random_tables_match_like_werkzeug(table: list, paths: list[str]) -> None:
    ours = Map()
    theirs = wz.Map()
    for i, (string, methods, strict) in enumerate(table):
        ours.add(Rule(string, endpoint=i, methods=methods, strict_slashes=strict))
        theirs.add(wz.Rule(string, endpoint=i, methods=methods, strict_slashes=strict))
    adapter = theirs.bind("example.com")
    for path in paths:
        for method in ("GET", "POST"):
            assert ours_outcome(ours, path, method) == wz_outcome(adapter, path, method), (
                path,
                method,
            )


# -- build(match(path)) round trips ---------------------------------------

no_slash_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1
)
path_text = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\n"), min_size=1),
    min_size=1,
    max_size=4,
).map("/".join)
plain_floats = st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False).filter(
    lambda f: "e" not in repr(f)
)

ROUND_TRIP_MAP = Map(
    [
        Rule("/s/<value>", "string"),
        Rule("/i/<int:value>", "int"),
        Rule("/si/<int(signed=True):value>", "signed"),
        Rule("/fd/<int(fixed_digits=5):value>", "fixed"),
        Rule("/f/<float:value>", "float"),
        Rule("/p/<path:value>/end", "path"),
        Rule("/u/<uuid:value>", "uuid"),
        Rule("/a/<any(alpha, 'b c', 'd,e'):value>", "any"),
    ]
)


def round_trip(endpoint: str, value: Any) -> None:
    url = ROUND_TRIP_MAP.build(endpoint, {"value": value})
    assert ROUND_TRIP_MAP.match(unquote(url)) == (endpoint, {"value": value})


@given(no_slash_text)
def test_round_trip_string(value: str) -> None:
    round_trip("string", value)


@given(st.integers(min_value=0))
def test_round_trip_int(value: int) -> None:
    round_trip("int", value)


@given(st.integers())
def test_round_trip_signed_int(value: int) -> None:
    round_trip("signed", value)


@given(st.integers(min_value=0, max_value=99999))
def test_round_trip_fixed_digits(value: int) -> None:
    round_trip("fixed", value)


@given(plain_floats)
def test_round_trip_float(value: float) -> None:
    round_trip("float", value)


@given(path_text)
def test_round_trip_path(value: str) -> None:
    round_trip("path", value)


@given(st.uuids())
def test_round_trip_uuid(value: Any) -> None:
    round_trip("uuid", value)


@given(st.sampled_from(["alpha", "b c", "d,e"]))
def test_round_trip_any(value: str) -> None:
    round_trip("any", value)


# -- string converters never cross "/" -------------------------------------

SEGMENT_MAP = Map(
    [
        Rule("/s/<value>", "string"),
        Rule("/l/<string(minlength=1, maxlength=8):value>", "bounded"),
        Rule("/x/<a>-<b>", "pair"),
    ]
)


@given(st.sampled_from(["/s/", "/l/", "/x/"]), st.text(st.sampled_from("ab/-"), min_size=1))
def test_string_converters_never_match_across_slashes(prefix: str, rest: str) -> None:
    try:
        _, values = SEGMENT_MAP.match(prefix + rest)
    except (NotFound, RequestRedirect):
        return
    assert all("/" not in value for value in values.values())


@given(no_slash_text, no_slash_text)
def test_a_slash_inside_a_string_value_is_not_found(a: str, b: str) -> None:
    for prefix in ("/s/", "/l/"):
        try:
            SEGMENT_MAP.match(f"{prefix}{a}/{b}")
        except NotFound:
            continue
        raise AssertionError(f"{prefix}{a}/{b} matched")


# -- order independence ----------------------------------------------------

# Pairwise disjoint: no path is matched by two of these.
DISJOINT_RULES = [
    "/",
    "/p/",
    "/p/<int:n>",
    "/p/<any(new, top):which>",
    "/p/<uuid:u>",
    "/p/d",
    "/p/<int:n>/comments/<int:c>",
    "/p/<int:n>/edit",
    "/files/<path:f>",
    "/q/<string(length=3):code>",
    "/q/<string(length=4):code>/x",
    "/r/<float:f>",
    "/users/<name>",
    "/users/<name>/",
]
PROBES = [
    "/", "/p", "/p/", "/p/7", "/p/new", "/p/d", "/p/7/edit", "/p/7/comments/3",
    "/p/12345678-1234-5678-1234-56781234abcd", "/files/a/b", "/files", "/q/abc", "/q/abcd/x",
    "/q/ab", "/r/1.5", "/r/1", "/users/al", "/users/al/", "/users/al/x", "/nope",
]  # fmt: skip


def answers(order: list[int]) -> list[tuple]:
    m = Map([Rule(DISJOINT_RULES[i], endpoint=i) for i in order])
    return [ours_outcome(m, path, "GET") for path in PROBES]


REFERENCE_ANSWERS = answers(list(range(len(DISJOINT_RULES))))


@given(st.permutations(range(len(DISJOINT_RULES))))
def test_disjoint_rules_in_any_order_give_the_same_answers(order: list[int]) -> None:
    assert answers(list(order)) == REFERENCE_ANSWERS


def test_the_order_probe_is_meaningful() -> None:
    assert sum(1 for a in REFERENCE_ANSWERS if a[0] == "match") >= 12


# -- Tornado index keeps first-match-wins ------------------------------------

tornado_pieces = st.sampled_from(
    ["/", "api", "v1", "users", r"(\d+)", "([^/]+)", "(.*)", "x?", r"\.json", "a|b", "(?:a|b)"]
)
tornado_patterns = st.lists(tornado_pieces, min_size=1, max_size=5).map(
    lambda parts: "".join(parts)
)


def compiles(pattern: str) -> bool:
    try:
        URLSpec(pattern, None)
    except (re.error, ValueError):
        return False
    return True


@given(
    st.lists(tornado_patterns.filter(compiles), min_size=1, max_size=10),
    st.lists(
        st.lists(st.sampled_from(["api", "v1", "users", "7", "a", "b", "x", ".json", ""])).map(
            lambda parts: "/" + "/".join(parts)
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_tornado_index_returns_the_first_spec_that_matches(
    patterns: list[str], paths: list[str]
) -> None:
    specs = [URLSpec(p, i) for i, p in enumerate(patterns)]
    table = HandlerTable(specs)
    for path in paths:
        expected = next((s for s in specs if s.regex.match(path)), None)
        found = table.find(path)
        assert (found.spec if found else None) is expected, (path, patterns)
