"""The strategies users import from ``crosswind.testing.strategies`` say what they mean.

Each generated value is checked against crosswind itself and, where a framework
defines the behaviour, against Flask/werkzeug, Tornado or the standard library: a
strategy whose promised meaning were wrong would make every user's test wrong too.
"""

from __future__ import annotations

import urllib.parse
import uuid

import h11
import pytest
import tornado.httputil
from crosswind.cookies import parse_cookie_header
from crosswind.forms import parse_qs, parse_urlencoded
from crosswind.multipart import parse_multipart
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.limits import Limits
from crosswind.routing import Map, MethodNotAllowed, NotFound, RequestRedirect, Rule
from crosswind.testing import serve_bytes
from crosswind.testing.strategies import (
    HOSTILE_FAMILIES,
    SMUGGLE_PROBE,
    HostileRequest,
    HTTPRequest,
    Pipeline,
    cookie_headers,
    hostile_requests,
    multipart_bodies,
    pipelined,
    query_strings,
    route_paths,
    split_into_chunks,
    urlencoded_bodies,
    valid_requests,
)
from hypothesis import event, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_cookie as werkzeug_parse_cookie
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request as WerkzeugRequest


class Recorder:
    """Reads each body whole and answers 200 with a fixed text; keeps what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, list[tuple[bytes, bytes]], bytes]] = []

    async def handle(self, exchange: Exchange) -> None:
        body = await exchange.read_body()
        self.seen.append(
            (exchange.method, exchange.target, exchange.http_version, list(exchange.headers), body)
        )
        await exchange.respond(200, [(b"Content-Type", b"text/plain")], b"ok")


def responses(out: bytes, methods: list[str]) -> list[int]:
    """Statuses of the responses in *out*, parsed strictly by h11 as the client."""
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(out)
    conn.receive_data(b"")
    statuses = []
    for method in methods + ["GET"] * 4:
        if conn.our_state is not h11.IDLE or not conn.trailing_data[0]:
            break
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        while True:
            ev = conn.next_event()
            if type(ev) is h11.Response:
                statuses.append(ev.status_code)
            elif type(ev) in (h11.EndOfMessage, h11.ConnectionClosed) or ev is h11.NEED_DATA:
                break
        if type(ev) is not h11.EndOfMessage or conn.our_state is not h11.DONE:
            break
        if conn.their_state is not h11.DONE:
            break
        conn.start_next_cycle()
    return statuses


def expected_seen(request: HTTPRequest) -> tuple[str, str, str, list[tuple[bytes, bytes]], bytes]:
    served = "1.0" if request.http_version == "1.0" else "1.1"
    return (request.method, request.target, served, list(request.headers), request.body)


def grouped(pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """*pairs* reordered as a MultiDict lists them: by first appearance of each name."""
    order = list(dict.fromkeys(name for name, _ in pairs))
    return [(name, value) for key in order for name, value in pairs if name == key]


# -- requests ---------------------------------------------------------------------------


@given(valid_requests())
def test_a_valid_request_is_served_as_described(request: HTTPRequest) -> None:
    app = Recorder()
    out = serve_bytes(app, [request])
    assert app.seen == [expected_seen(request)]
    assert responses(out, [request.method]) == [200]
    assert bytes(request)[request.head_size - 4 : request.head_size] == b"\r\n\r\n"
    for quirk in request.quirks:
        event(quirk)


@given(valid_requests(quirks=False, methods=["GET", "POST"], http_versions=["1.1"]))
def test_plain_requests_keep_to_what_they_were_asked_for(request: HTTPRequest) -> None:
    assert request.quirks == frozenset()
    assert request.method in ("GET", "POST")
    assert bytes(request).startswith(request.method.encode() + b" /")
    assert b" HTTP/1.1\r\n" in bytes(request)


@given(valid_requests(keep_alive=False))
def test_keep_alive_false_always_closes(request: HTTPRequest) -> None:
    assert not request.keep_alive and not request.pipelinable
    out = serve_bytes(Recorder(), [bytes(request) + SMUGGLE_PROBE])
    assert responses(out, [request.method, "GET"]) == [200]


@given(pipelined())
def test_a_pipeline_is_answered_in_order(stream: Pipeline) -> None:
    assert bytes(stream) == b"".join(stream.requests)
    assert all(r.pipelinable for r in stream.requests[:-1])
    app = Recorder()
    out = serve_bytes(app, [stream])
    assert app.seen == [expected_seen(r) for r in stream.requests]
    assert responses(out, [r.method for r in stream.requests]) == [200] * len(stream.requests)


@given(st.data())
def test_split_into_chunks_joins_back_and_serves_the_same(data: st.DataObject) -> None:
    stream = data.draw(pipelined(max_size=2))
    pieces = data.draw(split_into_chunks(stream))
    assert b"".join(pieces) == stream
    assert all(pieces)
    assert serve_bytes(Recorder(), pieces) == serve_bytes(Recorder(), [stream])


@given(split_into_chunks(b""), split_into_chunks(b"x"), split_into_chunks(b"abc", max_pieces=1))
def test_split_into_chunks_small_inputs(empty, one, whole) -> None:  # type: ignore[no-untyped-def]
    assert (empty, one, whole) == ([], [b"x"], [b"abc"])


def test_split_into_chunks_refuses_no_pieces() -> None:
    with pytest.raises(ValueError, match="max_pieces"):
        split_into_chunks(b"abc", max_pieces=0)


@given(hostile_requests())
def test_a_hostile_request_gets_its_status_and_nothing_behind_it_is_served(
    request: HostileRequest,
) -> None:
    app = Recorder()
    out = serve_bytes(app, [bytes(request) + SMUGGLE_PROBE])
    assert responses(out, ["GET"]) == [request.status], out
    assert out.count(b"HTTP/1.1 ") == 1
    assert app.seen == []  # the recorder reads every body, so body-stage errors also stop it
    event(request.family)


@pytest.mark.parametrize("family", sorted(HOSTILE_FAMILIES))
def test_every_family_is_refused_whole_and_split(family: str) -> None:
    @settings(max_examples=8)
    @given(hostile_requests(families=[family]), st.data())
    def check(request: HostileRequest, data: st.DataObject) -> None:
        assert request.family == family
        stream = bytes(request) + SMUGGLE_PROBE
        pieces = data.draw(split_into_chunks(stream, max_pieces=6))
        out = serve_bytes(Recorder(), pieces)
        assert out == serve_bytes(Recorder(), [stream])
        assert responses(out, ["GET"]) == [request.status]

    check()


@given(hostile_requests(families=["request-line-too-long", "head-too-large",
                                  "too-many-header-fields"],
                        limits=Limits(max_request_line=100, max_head_size=400,
                                      max_header_count=10)))
def test_size_families_follow_the_limits_given(request: HostileRequest) -> None:
    assert len(request) < 2000
    limits = Limits(max_request_line=100, max_head_size=400, max_header_count=10)
    out = serve_bytes(Recorder(), [request], limits=limits)
    assert responses(out, ["GET"]) == [request.status]


def test_unknown_family_names_are_refused() -> None:
    with pytest.raises(ValueError, match="no-such-family"):
        hostile_requests(families=["no-such-family"])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="framings"):
        valid_requests(framings=["gzip"])
    with pytest.raises(ValueError, match="http_versions"):
        valid_requests(http_versions=["2.0"])
    with pytest.raises(ValueError, match="CONNECT"):
        valid_requests(methods=["CONNECT"])
    with pytest.raises(ValueError, match="min_size"):
        pipelined(min_size=3, max_size=2)


# -- field values -------------------------------------------------------------------------


@given(cookie_headers())
def test_cookie_headers_mean_what_they_say(pair: tuple[str, dict[str, str]]) -> None:
    header, cookies = pair
    assert parse_cookie_header(header) == cookies
    flask = werkzeug_parse_cookie(header)
    assert {name: flask[name] for name in flask} == cookies  # first value, like browsers
    names = [piece.split("=", 1)[0].strip() for piece in header.split(";")]
    if len(names) == len(set(names)):  # Tornado lets the last repeat win
        assert tornado.httputil.parse_cookie(header) == cookies


@given(query_strings())
def test_query_strings_decode_to_their_fields(pair: tuple[str, list[tuple[str, str]]]) -> None:
    query, fields = pair
    assert query.isascii()
    assert urllib.parse.parse_qsl(query, keep_blank_values=True, errors="strict") == fields
    # MultiDicts (ours, like werkzeug's) keep each name's values in order, grouped by name.
    assert parse_qs(query).items(multi=True) == grouped(fields)
    environ = EnvironBuilder().get_environ()
    environ["QUERY_STRING"] = query
    assert list(WerkzeugRequest(environ).args.items(multi=True)) == grouped(fields)


@given(urlencoded_bodies())
def test_urlencoded_bodies_decode_to_their_fields(pair: tuple[bytes, list[tuple[str, str]]]) -> None:
    body, fields = pair
    assert parse_urlencoded(body).items(multi=True) == grouped(fields)
    environ = EnvironBuilder(
        method="POST", data=body, content_type="application/x-www-form-urlencoded"
    ).get_environ()
    assert list(WerkzeugRequest(environ).form.items(multi=True)) == grouped(fields)


@given(multipart_bodies())
def test_multipart_bodies_decode_to_their_fields(case) -> None:  # type: ignore[no-untyped-def]
    content_type, body, expected = case
    fields, files = parse_multipart(body, content_type)
    try:
        assert fields.items(multi=True) == grouped(
            [(f.name, f.data.decode("utf-8")) for f in expected if f.filename is None]
        )
        uploads = [(name, (f.filename, f.content_type, f.read()))
                   for name, f in files.items(multi=True)]
        assert uploads == grouped(
            [(f.name, (f.filename, f.content_type, f.data)) for f in expected if f.filename]
        )
    finally:
        for _, upload in files.items(multi=True):
            upload.close()
    environ = EnvironBuilder(method="POST", data=body, content_type=content_type).get_environ()
    flask = WerkzeugRequest(environ)
    assert list(flask.form.items(multi=True)) == fields.items(multi=True)
    assert [(n, (f.filename, f.read())) for n, f in flask.files.items(multi=True)] == grouped(
        [(f.name, (f.filename, f.data)) for f in expected if f.filename is not None]
    )
    flask.close()


# -- routes -------------------------------------------------------------------------------

MAP = Map(
    [
        Rule("/", endpoint="index"),
        Rule("/user/<int:id>", endpoint="user", methods=["GET", "POST"]),
        Rule("/user/<int:id>/posts/<int(fixed_digits=4):year>", endpoint="posts"),
        Rule("/price/<float(signed=True):p>", endpoint="price"),
        Rule("/page/<int(min=1, max=9):n>/", endpoint="page"),
        Rule("/wiki/<path:page>", endpoint="wiki", methods=["GET"]),
        Rule("/files/<path:page>/edit", endpoint="edit", methods=["PUT"]),
        Rule("/id/<uuid:ident>", endpoint="ident"),
        Rule("/<any(about, help):info>", endpoint="info"),
        Rule("/code/<string(length=3):code>", endpoint="code"),
        Rule("/tag/<string(minlength=2, maxlength=5):tag>", endpoint="tag"),
        Rule("/name/<name>", endpoint="name"),
        Rule("/blog/", endpoint="blog", defaults={"page": 1}),
        Rule("/blog/<int:page>", endpoint="blog"),
        Rule("/old/<int:id>", endpoint="old", redirect_to="/user/<id>"),
        Rule("/built", endpoint="built", build_only=True),
    ]
)


@given(route_paths(MAP))
def test_route_paths_reach_their_rule(route) -> None:  # type: ignore[no-untyped-def]
    event(route.rule.endpoint)
    assert route.rule.endpoint != "built"
    assert urllib.parse.unquote(route.url) == route.path
    try:
        rule, values = MAP.match(route.path, route.method, return_rule=True)
    except RequestRedirect:
        # /blog/1 spells out the default of /blog/; /old/ redirects by design
        assert route.rule.endpoint in ("blog", "old")
        return
    except (NotFound, MethodNotAllowed) as error:  # pragma: no cover - the failure
        raise AssertionError(f"{route} did not match: {error!r}") from None
    assert rule is route.rule
    assert values == route.values


def test_route_paths_generate_per_converter() -> None:
    seen: dict[str, object] = {}

    @given(route_paths(MAP, methods=["PUT"]))
    def collect(route) -> None:  # type: ignore[no-untyped-def]
        assert route.method == "PUT"
        assert route.rule.methods is None or "PUT" in route.rule.methods
        seen[route.rule.endpoint] = route.values

    collect()
    assert "edit" in seen and "wiki" not in seen and "user" not in seen


def test_route_paths_on_a_custom_converter() -> None:
    from crosswind.routing.converters import BaseConverter, ValidationError

    class Even(BaseConverter):
        regex = "[0-9]{1,4}"

        def to_python(self, value: str) -> int:
            if int(value) % 2:
                raise ValidationError("odd")
            return int(value)

        def to_url(self, value: int) -> str:
            return str(value)

    custom = Map([Rule("/even/<even:n>", endpoint="even")], converters={"even": Even})

    @given(route_paths(custom))
    def check(route) -> None:  # type: ignore[no-untyped-def]
        assert route.values["n"] % 2 == 0
        assert custom.match(route.path) == ("even", route.values)

    check()


def test_route_paths_on_subdomains() -> None:
    domains = Map(
        [Rule("/", endpoint="sub", subdomain="<user>"), Rule("/x/<uuid:u>", endpoint="x")],
        server_name="example.com",
    )

    @given(route_paths(domains))
    def check(route) -> None:  # type: ignore[no-untyped-def]
        endpoint, values = domains.match(route.path, subdomain=route.domain)
        assert endpoint == route.rule.endpoint and values == route.values
        if endpoint == "x":
            assert isinstance(values["u"], uuid.UUID)

    check()


def test_route_paths_without_reachable_rules() -> None:
    only_built = Map([Rule("/built", endpoint="built", build_only=True)])

    @given(route_paths(only_built))
    def draw(route) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("nothing should be drawn")

    with pytest.raises(ValueError, match="no rule"):
        draw()
