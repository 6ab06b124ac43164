import dataclasses
import datetime
from unittest import mock

import pytest
import tornado.httputil
import tornado.web
import werkzeug.datastructures
from crosswind.conditional import Decision, evaluate
from hypothesis import given
from hypothesis import strategies as st

LM = datetime.datetime(2024, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
LM_TS = LM.timestamp()
LM_DATE = "Mon, 01 Jan 2024 12:00:00 GMT"
BEFORE = "Mon, 01 Jan 2024 11:59:59 GMT"
AFTER = "Mon, 01 Jan 2024 12:00:01 GMT"
ETAG = '"abc"'
SIZE = 10000

OK = Decision(200)
NOT_MODIFIED = Decision(304)
FAILED = Decision(412)
UNSATISFIABLE = Decision(416, headers=(("Content-Range", "bytes */10000"),))
FIRST_100 = Decision(206, ranges=((0, 100),), headers=(("Content-Range", "bytes 0-99/10000"),))


@dataclasses.dataclass
class Case:
    id: str
    headers: dict
    expected: Decision
    method: str = "GET"
    etag: str | None = ETAG
    last_modified: object = LM
    size: int | None = SIZE
    supports_ranges: bool = True
    exists: bool = True


CASES = [
    Case("plain GET", {}, OK),
    Case("plain POST", {}, OK, method="POST"),
    # Step 1: If-Match, strong comparison.
    Case("if-match hit", {"If-Match": ETAG}, OK, method="PUT"),
    Case("if-match in list", {"If-Match": '"x", "abc", "y"'}, OK, method="PUT"),
    Case("if-match miss", {"If-Match": '"other"'}, FAILED, method="PUT"),
    Case("if-match miss on GET", {"If-Match": '"other"'}, FAILED),
    Case("if-match weak header", {"If-Match": 'W/"abc"'}, FAILED, method="PUT"),
    Case("if-match weak current", {"If-Match": '"abc"'}, FAILED, method="PUT", etag='W/"abc"'),
    Case("if-match star", {"If-Match": "*"}, OK, method="PUT"),
    Case("if-match star, no etag", {"If-Match": "*"}, OK, method="PUT", etag=None),
    Case("if-match star, missing", {"If-Match": "*"}, FAILED, method="PUT", exists=False),
    Case("if-match without etag", {"If-Match": ETAG}, FAILED, method="PUT", etag=None),
    Case("if-match garbage", {"If-Match": "abc"}, FAILED, method="PUT"),
    Case("if-match empty", {"If-Match": ""}, FAILED, method="PUT"),
    # Step 2: If-Unmodified-Since, only without If-Match.
    Case("ius before", {"If-Unmodified-Since": BEFORE}, FAILED, method="PUT"),
    Case("ius equal", {"If-Unmodified-Since": LM_DATE}, OK, method="PUT"),
    Case("ius after", {"If-Unmodified-Since": AFTER}, OK, method="PUT"),
    Case("ius invalid", {"If-Unmodified-Since": "yesterday"}, OK, method="PUT"),
    Case("ius two dates", {"If-Unmodified-Since": f"{BEFORE}, {BEFORE}"}, OK, method="PUT"),
    Case("ius no mtime", {"If-Unmodified-Since": BEFORE}, OK, method="PUT", last_modified=None),
    Case("ius ignored by if-match", {"If-Match": ETAG, "If-Unmodified-Since": BEFORE}, OK, "PUT"),
    Case("ius on GET", {"If-Unmodified-Since": BEFORE}, FAILED),
    # Step 3: If-None-Match, weak comparison.
    Case("inm hit GET", {"If-None-Match": ETAG}, NOT_MODIFIED),
    Case("inm hit HEAD", {"If-None-Match": ETAG}, NOT_MODIFIED, method="HEAD"),
    Case("inm hit POST", {"If-None-Match": ETAG}, FAILED, method="POST"),
    Case("inm hit DELETE", {"If-None-Match": ETAG}, FAILED, method="DELETE"),
    Case("inm weak header", {"If-None-Match": 'W/"abc"'}, NOT_MODIFIED),
    Case("inm weak current", {"If-None-Match": '"abc"'}, NOT_MODIFIED, etag='W/"abc"'),
    Case("inm list hit", {"If-None-Match": '"x", W/"abc"'}, NOT_MODIFIED),
    Case("inm miss", {"If-None-Match": '"x", "y"'}, OK),
    Case("inm star", {"If-None-Match": "*"}, NOT_MODIFIED),
    Case("inm star PUT existing", {"If-None-Match": "*"}, FAILED, method="PUT"),
    Case("inm star PUT new", {"If-None-Match": "*"}, OK, method="PUT", exists=False, etag=None),
    Case("inm no etag", {"If-None-Match": ETAG}, OK, etag=None),
    Case("inm garbage", {"If-None-Match": "abc"}, OK),
    Case("inm case-sensitive", {"If-None-Match": '"ABC"'}, OK),
    Case("inm miss ignores ims", {"If-None-Match": '"x"', "If-Modified-Since": AFTER}, OK),
    Case("inm after if-match ok", {"If-Match": ETAG, "If-None-Match": ETAG}, NOT_MODIFIED),
    Case("if-match beats inm", {"If-Match": '"x"', "If-None-Match": ETAG}, FAILED),
    # Step 4: If-Modified-Since, GET/HEAD only.
    Case("ims equal", {"If-Modified-Since": LM_DATE}, NOT_MODIFIED),
    Case("ims after", {"If-Modified-Since": AFTER}, NOT_MODIFIED),
    Case("ims before", {"If-Modified-Since": BEFORE}, OK),
    Case("ims HEAD", {"If-Modified-Since": LM_DATE}, NOT_MODIFIED, method="HEAD"),
    Case("ims POST ignored", {"If-Modified-Since": AFTER}, OK, method="POST"),
    Case("ims invalid", {"If-Modified-Since": "garbage"}, OK),
    Case("ims no mtime", {"If-Modified-Since": AFTER}, OK, last_modified=None),
    Case("ims sub-second mtime", {"If-Modified-Since": LM_DATE}, NOT_MODIFIED, last_modified=LM_TS + 0.9),
    Case("ims float mtime", {"If-Modified-Since": BEFORE}, OK, last_modified=LM_TS),
    Case("ims naive mtime", {"If-Modified-Since": LM_DATE}, NOT_MODIFIED, last_modified=LM.replace(tzinfo=None)),
    Case("ims obsolete date form", {"If-Modified-Since": "Monday, 01-Jan-24 12:00:00 GMT"}, NOT_MODIFIED),
    Case("ims numeric zone", {"If-Modified-Since": "Mon, 01 Jan 2024 12:00:00 +0000"}, OK),
    Case("ims far future", {"If-Modified-Since": "Fri, 31 Dec 9999 23:59:59 GMT"}, NOT_MODIFIED),
    Case("ims overflowing zone", {"If-Modified-Since": "Fri, 31 Dec 9999 23:59:59 -0100"}, OK),
    Case("ims asctime form", {"If-Modified-Since": "Mon Jan  1 12:00:00 2024"}, NOT_MODIFIED),
    # Step 5: Range and If-Range, GET only.
    Case("range single", {"Range": "bytes=0-99"}, FIRST_100),
    Case("range suffix", {"Range": "bytes=-10"}, Decision(206, ((9990, 10000),), (("Content-Range", "bytes 9990-9999/10000"),))),
    Case("range multi", {"Range": "bytes=0-9,100-109"}, Decision(206, ((0, 10), (100, 110)))),
    Case("range unsatisfiable", {"Range": "bytes=10000-"}, UNSATISFIABLE),
    Case("range too many", {"Range": "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 40, 2))}, UNSATISFIABLE),
    Case("range invalid", {"Range": "bytes=5-1"}, OK),
    Case("range other unit", {"Range": "items=0-1"}, OK),
    Case("range HEAD", {"Range": "bytes=0-99"}, OK, method="HEAD"),
    Case("range POST", {"Range": "bytes=0-99"}, OK, method="POST"),
    Case("range unsupported", {"Range": "bytes=0-99"}, OK, supports_ranges=False),
    Case("range unknown size", {"Range": "bytes=0-99"}, OK, size=None),
    Case("if-range etag hit", {"Range": "bytes=0-99", "If-Range": ETAG}, FIRST_100),
    Case("if-range etag miss", {"Range": "bytes=0-99", "If-Range": '"old"'}, OK),
    Case("if-range weak", {"Range": "bytes=0-99", "If-Range": 'W/"abc"'}, OK),
    Case("if-range weak current", {"Range": "bytes=0-99", "If-Range": ETAG}, OK, etag='W/"abc"'),
    Case("if-range no etag", {"Range": "bytes=0-99", "If-Range": ETAG}, OK, etag=None),
    Case("if-range date hit", {"Range": "bytes=0-99", "If-Range": LM_DATE}, FIRST_100),
    Case("if-range date later", {"Range": "bytes=0-99", "If-Range": AFTER}, OK),
    Case("if-range date no mtime", {"Range": "bytes=0-99", "If-Range": LM_DATE}, OK, last_modified=None),
    Case("if-range garbage", {"Range": "bytes=0-99", "If-Range": "garbage"}, OK),
    Case("if-range miss skips 416", {"Range": "bytes=20000-", "If-Range": '"old"'}, OK),
    Case("if-range without range", {"If-Range": '"old"'}, OK),
    # Precedence across steps.
    Case("304 beats 416", {"If-None-Match": ETAG, "Range": "bytes=20000-"}, NOT_MODIFIED),
    Case("304 beats 206", {"If-Modified-Since": LM_DATE, "Range": "bytes=0-99"}, NOT_MODIFIED),
    Case("412 beats 206", {"If-Unmodified-Since": BEFORE, "Range": "bytes=0-99"}, FAILED),
    Case("412 beats 304", {"If-Match": '"x"', "If-Modified-Since": AFTER}, FAILED),
    Case("all pass then range", {"If-Match": ETAG, "If-None-Match": '"x"', "Range": "bytes=0-99"}, FIRST_100),
]

# RFC 9110 section 13.1 examples, for a representation tagged "xyzzy".
RFC_CASES = [
    Case("rfc if-match", {"If-Match": '"xyzzy"'}, OK, method="PUT", etag='"xyzzy"'),
    Case("rfc if-match list", {"If-Match": '"xyzzy", "r2d2xxxx", "c3piozzzz"'}, OK, "PUT", '"xyzzy"'),
    Case("rfc if-match star", {"If-Match": "*"}, OK, method="PUT", etag='"xyzzy"'),
    Case("rfc inm", {"If-None-Match": '"xyzzy"'}, NOT_MODIFIED, etag='"xyzzy"'),
    Case("rfc inm weak", {"If-None-Match": 'W/"xyzzy"'}, NOT_MODIFIED, etag='"xyzzy"'),
    Case("rfc inm list", {"If-None-Match": '"xyzzy", "r2d2xxxx", "c3piozzzz"'}, NOT_MODIFIED, etag='"xyzzy"'),
    Case("rfc inm weak list", {"If-None-Match": 'W/"xyzzy", W/"r2d2xxxx", W/"c3piozzzz"'}, NOT_MODIFIED, etag='"xyzzy"'),
    Case("rfc inm star", {"If-None-Match": "*"}, NOT_MODIFIED, etag='"xyzzy"'),
    Case(
        "rfc ims",
        {"If-Modified-Since": "Sat, 29 Oct 1994 19:43:31 GMT"},
        NOT_MODIFIED,
        last_modified=datetime.datetime(1994, 10, 29, 19, 43, 31, tzinfo=datetime.UTC),
    ),
    Case(
        "rfc ius",
        {"If-Unmodified-Since": "Sat, 29 Oct 1994 19:43:31 GMT"},
        FAILED,
        method="PUT",
        last_modified=datetime.datetime(1994, 10, 29, 19, 43, 32, tzinfo=datetime.UTC),
    ),
    Case("rfc if-range", {"If-Range": '"xyzzy"', "Range": "bytes=0-99"}, FIRST_100, etag='"xyzzy"'),
    Case(
        "rfc if-range date",
        {"If-Range": "Sat, 29 Oct 1994 19:43:31 GMT", "Range": "bytes=0-99"},
        FIRST_100,
        last_modified=datetime.datetime(1994, 10, 29, 19, 43, 31, tzinfo=datetime.UTC),
    ),
]


def lowercased_dict(headers):
    return {name.lower(): value for name, value in headers.items()}


def tornado_headers(headers):
    return tornado.httputil.HTTPHeaders(headers)


def werkzeug_headers(headers):
    return werkzeug.datastructures.Headers(list(headers.items()))


@pytest.mark.parametrize("container", [lowercased_dict, tornado_headers, werkzeug_headers])
@pytest.mark.parametrize("case", CASES + RFC_CASES, ids=lambda c: c.id)
def test_evaluation_table(case, container):
    decision = evaluate(
        case.method,
        container(case.headers),
        etag=case.etag,
        last_modified=case.last_modified,
        size=case.size,
        supports_ranges=case.supports_ranges,
        exists=case.exists,
    )
    assert decision == case.expected


def test_decision_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        OK.status = 304  # type: ignore[misc]


def test_header_values_given_as_lists_or_bytes_are_combined():
    headers = {"if-none-match": ['"x"', b'"abc"']}
    decision = evaluate("GET", headers, etag=ETAG, last_modified=None, size=None, supports_ranges=False)
    assert decision.status == 304


# --- Tornado's If-None-Match handling agrees ---------------------------------------------------


def tornado_says_304(if_none_match: str, etag: str) -> bool:
    app = tornado.web.Application([])
    request = tornado.httputil.HTTPServerRequest(
        start_line=tornado.httputil.RequestStartLine("GET", "/", "HTTP/1.1"),
        headers=tornado.httputil.HTTPHeaders({"Host": "h", "If-None-Match": if_none_match}),
        connection=mock.Mock(),
    )
    handler = tornado.web.RequestHandler(app, request)
    handler.set_header("Etag", etag)
    return handler.check_etag_header()


opaques = st.sampled_from(['"abc"', '"x"', '"a,b"', '""', '"ABC"'])
entity_tags = st.tuples(st.booleans(), opaques).map(lambda t: ("W/" if t[0] else "") + t[1])


@given(
    st.one_of(st.just("*"), st.lists(entity_tags, min_size=1, max_size=4).map(", ".join)),
    entity_tags,
)
def test_if_none_match_agrees_with_tornado(header, etag):
    decision = evaluate(
        "GET", {"if-none-match": header}, etag=etag, last_modified=None, size=None,
        supports_ranges=False,
    )
    assert (decision.status == 304) == tornado_says_304(header, etag)


# --- robustness ---------------------------------------------------------------------------------

header_names = st.sampled_from(
    ["If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Range", "If-Range"]
)
header_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from([ETAG, "*", LM_DATE, "bytes=0-1", 'W/"abc"', "Fri, 31 Dec 9999 23:59:59 -0100"]),
)


@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "get", ""]),
    headers=st.dictionaries(header_names, header_values, max_size=6),
    etag=st.one_of(st.none(), st.just(ETAG), st.just('W/"abc"'), st.text(max_size=10)),
    last_modified=st.one_of(st.none(), st.just(LM), st.floats(0, 2**33)),
    size=st.one_of(st.none(), st.integers(0, 10**9)),
    supports_ranges=st.booleans(),
    exists=st.booleans(),
)
def test_evaluation_never_raises(method, headers, etag, last_modified, size, supports_ranges, exists):
    decision = evaluate(
        method,
        lowercased_dict(headers),
        etag=etag,
        last_modified=last_modified,
        size=size,
        supports_ranges=supports_ranges,
        exists=exists,
    )
    assert decision.status in (200, 206, 304, 412, 416)
    assert bool(decision.ranges) == (decision.status == 206)
    if decision.status == 206:
        assert size is not None
        assert all(0 <= start < end <= size for start, end in decision.ranges)
