"""Properties of the connection that must hold for any input, checked with Hypothesis.

* How TCP splits a byte stream never changes the outcome: the same bytes go
  out and the application observes the same requests.
* Pipelined requests are answered in order, each exactly as it was sent.
* A request the connection rejects gets exactly one response, the last one
  on the wire, and nothing of it (nor of what follows it) reaches the
  application as a request.
* Every byte the core writes parses cleanly with h11 acting as the client.
"""

from __future__ import annotations

from dataclasses import dataclass

import h11
from crosswind.testing import serve_bytes
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.support.http_cases import FOLLOW_UP, INVALID, EchoApp, Invalid

# -- generated requests ----------------------------------------------------------

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Header names whose meaning the connection or h11 acts on; generated
# requests set their framing explicitly instead.
RESERVED = {"host", "content-length", "transfer-encoding", "connection", "expect", "upgrade",
            "te", "trailer", "keep-alive", "proxy-connection"}

tokens = st.text(TCHARS, min_size=1, max_size=12)
header_names = tokens.filter(lambda n: n.lower() not in RESERVED)
# Field values: visible ASCII and obs-text, with inner (never outer) spaces and tabs.
_value_bytes = st.sampled_from(
    [bytes([b]) for b in range(0x21, 0x7F)] + [bytes([b]) for b in range(0x80, 0x100)]
)
field_values = st.one_of(
    st.just(b""),
    st.builds(
        lambda a, mid, z: a + mid + z,
        _value_bytes,
        st.lists(st.one_of(_value_bytes, st.sampled_from([b" ", b"\t"])), max_size=20).map(
            b"".join
        ),
        _value_bytes,
    ),
    _value_bytes,
)
methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    tokens.map(str.upper).filter(lambda m: m not in ("HEAD", "CONNECT")),
)
_path_chars = "abcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:@"
targets = st.builds(
    lambda segments, query: "/" + "/".join(segments) + (f"?{query}" if query else ""),
    st.lists(st.text(_path_chars, max_size=8), max_size=4),
    st.one_of(st.none(), st.text(_path_chars + "/?", min_size=1, max_size=16)),
)


@dataclass(frozen=True)
class Req:
    method: str
    target: str
    headers: tuple[tuple[bytes, bytes], ...]  # extra fields, as sent
    body: bytes
    framing: str  # "none", "length" or "chunked"
    raw: bytes

    def observed_headers(self) -> list[tuple[bytes, bytes]]:
        """The fields an application sees: names lowercased, in order."""
        seen = [(b"host", b"example.com")]
        seen += [(name.lower(), value) for name, value in self.headers]
        if self.framing == "length":
            seen.append((b"content-length", b"%d" % len(self.body)))
        elif self.framing == "chunked":
            seen.append((b"transfer-encoding", b"chunked"))
        return seen

    def echo(self) -> bytes:
        return b"%s %s 1.1\n" % (self.method.encode(), self.target.encode()) + self.body


@st.composite
def requests(draw: st.DrawFn) -> Req:
    method = draw(methods)
    target = draw(targets)
    names = draw(st.lists(header_names, max_size=6))
    headers = tuple((name.encode(), draw(field_values)) for name in names)
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked"]) if body else
                   st.sampled_from(["none", "length", "chunked"]))
    host = draw(st.sampled_from([b"Host", b"host", b"HOST"]))
    lines = [b"%s %s HTTP/1.1" % (method.encode(), target.encode()), host + b": example.com"]
    lines += [name + b":" + draw(st.sampled_from([b"", b" ", b"\t", b"  "])) + value
              for name, value in headers]
    payload = b""
    if framing == "length":
        lines.append(b"Content-Length: %d" % len(body))
        payload = body
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked")
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=4))))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        for piece in pieces:
            if piece:
                extension = draw(st.sampled_from([b"", b";a=b", b' ; q="x y"', b";flag"]))
                size = draw(st.sampled_from([b"%x", b"%X", b"0%x"])) % len(piece)
                payload += size + extension + b"\r\n" + piece + b"\r\n"
        payload += b"0\r\n"
        if draw(st.booleans()):
            payload += b"X-Trailer: " + draw(field_values) + b"\r\n"
        payload += b"\r\n"
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + payload
    return Req(method, target, headers, body, framing, raw)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


cut_lists = st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=12)

# -- what a client makes of the output ---------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


def parse_strictly(out: bytes) -> list[Answer]:
    """Parse *out* with h11 as the client of as many GET requests as it answers.

    Fails on any byte h11 refuses, on bytes after a response that closes the
    connection, and on a response cut short.
    """
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(out)
    conn.receive_data(b"")
    answers: list[Answer] = []
    while True:
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "example.com")]))
        conn.send(h11.EndOfMessage())
        status, headers, body = 0, [], bytearray()
        while True:
            event = conn.next_event()  # raises h11.RemoteProtocolError on bad bytes
            if type(event) is h11.Response:
                status, headers = event.status_code, list(event.headers)
            elif type(event) is h11.Data:
                body += event.data
            elif type(event) is h11.EndOfMessage:
                break
            elif type(event) is h11.ConnectionClosed:
                assert status == 0, "a response was cut short"
                return answers
            else:
                assert type(event) is h11.InformationalResponse, event
        answers.append(Answer(status, headers, bytes(body)))
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            assert conn.trailing_data == (b"", True), "bytes after the closing response"
            return answers
        conn.start_next_cycle()
        if conn.trailing_data == (b"", True):
            return answers


def observed(app: EchoApp) -> list[tuple[str, str, list[tuple[bytes, bytes]], bytes, bool]]:
    return [(s.method, s.target, s.headers, s.body, s.complete) for s in app.seen]


def run(chunks: list[bytes]) -> tuple[bytes, EchoApp]:
    app = EchoApp()
    return serve_bytes(app, chunks), app


def check_outcome(out: bytes, app: EchoApp) -> Answer | None:
    """Every complete request got its 200, in order; an error, if any, came last.

    Returns the error response, if there was one.
    """
    answers = parse_strictly(out)
    answered = len(app.completed)
    # The echo application answers 200, and only once it read a whole request.
    assert [a.status for a in answers[:answered]] == [200] * answered
    assert [a.body for a in answers[:answered]] == [
        b"%s %s %s\n" % (s.method.encode(), s.target.encode("latin-1"), s.version.encode()) + s.body
        for s in app.completed
    ]
    if len(answers) == answered:
        return None
    assert len(answers) == answered + 1, "something was answered after a rejection"
    error = answers[-1]
    assert error.status >= 400
    assert error.header(b"connection") == b"close"
    # At most the head of the rejected request reached the application.
    rejected = app.seen[answered:]
    assert len(rejected) <= 1 and all(not s.complete for s in rejected)
    return error


def check_rejection(out: bytes, app: EchoApp, answered: int) -> Answer:
    """*answered* requests got 200s, then exactly one error ended the connection."""
    error = check_outcome(out, app)
    assert error is not None, "the request was not rejected"
    assert len(app.completed) == answered
    assert all(s.target != "/follow-up" for s in app.seen)
    return error


# -- properties -------------------------------------------------------------------------


@given(st.lists(requests(), min_size=1, max_size=4), cut_lists)
def test_any_split_of_a_valid_stream_gives_the_same_outcome(reqs: list[Req], cuts: list[int]):
    stream = b"".join(r.raw for r in reqs)
    whole_out, whole_app = run([stream])
    split_out, split_app = run(split(stream, cuts))
    assert split_out == whole_out
    assert observed(split_app) == observed(whole_app)
    assert check_outcome(split_out, split_app) is None


@given(st.lists(requests(), min_size=1, max_size=4), cut_lists)
def test_pipelined_requests_are_seen_as_sent_and_answered_in_order(
    reqs: list[Req], cuts: list[int]
) -> None:
    out, app = run(split(b"".join(r.raw for r in reqs), cuts))
    assert [(s.method, s.target, s.headers, s.body) for s in app.seen] == [
        (r.method, r.target, r.observed_headers(), r.body) for r in reqs
    ]
    answers = parse_strictly(out)
    assert [(a.status, a.body) for a in answers] == [(200, r.echo()) for r in reqs]
    assert all(a.header(b"connection") is None for a in answers)


@given(st.sampled_from(INVALID), cut_lists)
def test_invalid_table_split_anyhow_gets_one_response(case: Invalid, cuts: list[int]) -> None:
    stream = case.raw + FOLLOW_UP
    whole_out, _ = run([stream])
    out, app = run(split(stream, cuts))
    error = check_rejection(out, app, 0)
    assert error.status == case.status
    assert out == whole_out
    if case.stage == "head":
        assert app.seen == []
    else:
        assert [s.error for s in app.seen] == [case.status]


MUTATIONS = ["insert", "delete", "replace", "duplicate-line"]


def mutate(stream: bytearray, kind: str, where: int, data: bytes) -> None:
    at = where % (len(stream) + 1)
    if kind == "insert":
        stream[at:at] = data
    elif kind == "delete":
        del stream[at : at + len(data)]
    elif kind == "replace":
        stream[at : at + len(data)] = data
    else:  # repeat the line around *at*: duplicate fields, chunk lines, request lines
        start = stream.rfind(b"\r\n", 0, at) + 2
        end = stream.find(b"\r\n", at)
        if end > start:
            stream[end:end] = b"\r\n" + stream[start:end]


_interesting = st.one_of(
    st.binary(min_size=1, max_size=3),
    st.sampled_from([b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b";", b"\x7f", b"0",
                     b"f", b",", b"\r\n "]),
)


@given(
    st.lists(requests(), min_size=1, max_size=3),
    st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 1 << 20), _interesting),
             min_size=1, max_size=3),
    cut_lists,
)
def test_mutated_streams_are_answered_or_rejected_cleanly(
    reqs: list[Req], mutations: list[tuple[str, int, bytes]], cuts: list[int]
) -> None:
    stream = bytearray(b"".join(r.raw for r in reqs))
    for mutation in mutations:
        mutate(stream, *mutation)
    stream += FOLLOW_UP
    # A response to HEAD or CONNECT would need the client to know the method.
    assume(b"HEAD " not in stream and b"CONNECT " not in stream)
    whole_out, whole_app = run([bytes(stream)])
    out, app = run(split(bytes(stream), cuts))
    assert out == whole_out
    assert [s for s in observed(app) if s[4]] == [s for s in observed(whole_app) if s[4]]
    error = check_outcome(out, app)
    event("rejected" if error else "accepted")


@given(st.lists(requests(), min_size=1, max_size=3), st.sampled_from(INVALID), cut_lists)
def test_rejection_behind_valid_requests_ends_the_connection(
    reqs: list[Req], case: Invalid, cuts: list[int]
) -> None:
    stream = b"".join(r.raw for r in reqs) + case.raw + FOLLOW_UP
    out, app = run(split(stream, cuts))
    error = check_rejection(out, app, len(reqs))
    assert error.status == case.status
    assert [s.target for s in app.completed] == [r.target for r in reqs]
