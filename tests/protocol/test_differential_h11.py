"""Differential tests: crosswind's verdict on request bytes against h11's own.

For a stream of requests, an echo application behind crosswind (with either of its
protocol engines) records what it was given; h11, acting as a server on the same bytes, says what it parses.  The two must
agree on which requests are accepted and on their method, target, header fields and
body, except where crosswind is deliberately stricter (:data:`STRICTER_THAN_H11` for the
generated hostile families, :data:`STRICTER_RULES_THAN_H11` for rules no family covers) or
accepts an RFC-valid form h11 refuses (:data:`H11_REFUSES`).  All the lists are in
``docs/protocol.md`` under "Stricter than h11".

Every byte crosswind writes must also parse cleanly with h11 acting as the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import h11
import pytest
from crosswind.errors import RemoteProtocolError
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.http1.connection import ServerConnection
from crosswind.protocol.http1.engine import DEFAULT_ENGINE, available_engines
from crosswind.testing import serve_bytes
from crosswind.testing.strategies import (
    HOSTILE_FAMILIES,
    SMUGGLE_PROBE,
    HostileRequest,
    Pipeline,
    hostile_requests,
    pipelined,
    split_into_chunks,
)
from hypothesis import assume, event, given
from hypothesis import strategies as st

#: Hostile families h11 (0.16) parses as a request, at least in some forms, and
#: crosswind refuses; the reason is the rule crosswind applies.
STRICTER_THAN_H11: dict[str, str] = {
    "cl-and-te": "RFC 9112 section 6.1: a server MAY reject; h11 lets chunked win, which is "
    "the smuggling vector when a proxy in front honoured Content-Length",
    "content-length-too-long": "at most 18 digits; h11 takes up to 20",
    "chunk-size-too-long": "at most 16 hex digits (a size that fits 64 bits); h11 takes more "
    "when they are leading zeros",
    "chunk-extension-control-char": "control characters in chunk extensions are refused; "
    "h11 skips extensions unread",
    "chunked-end-bare-lf": "the line ending a chunked body must be CRLF; h11 takes a bare LF",
    "trailer-obs-fold-or-control": "trailers get the same checks as header fields; h11 "
    "unfolds them and lets control characters through",
    "control-char-in-field-value": "C0 controls (other than HTAB) and DEL in a field value "
    "are refused; h11 lets most through",
    "obs-fold": "RFC 9112 section 5.2: a server MAY reject obs-fold; h11 unfolds",
    "bare-lf": "RFC 9112 section 2.2: bare LF line endings are refused; h11 takes them",
    "request-line-too-long": "Limits.max_request_line (8 KiB); h11 only caps a head it is "
    "still waiting for (16 KiB), and one that arrives whole passes",
    "head-too-large": "Limits.max_head_size (64 KiB); as above for h11",
    "too-many-header-fields": "Limits.max_header_count (100); h11 has no count limit",
    "unsupported-http-version": "505 for any major version but 1; h11 parses HTTP/2.0 and "
    "HTTP/0.9 request lines as if they were HTTP/1.1",
    "transfer-encoding-http10": "RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 "
    "request is a framing fault; h11 ignores it and reads no body",
    "unsupported-expectation": "RFC 9110 section 10.1.1: 417 for an expectation other than "
    "100-continue; h11 ignores Expect",
}

#: Rules no hostile family covers, with a request h11 parses and crosswind refuses (400).
STRICTER_RULES_THAN_H11: dict[str, tuple[str, bytes]] = {
    "invalid-host": ("RFC 9112 section 3.2: a Host that is not uri-host [ \":\" port ] is a "
                     "400; h11 takes any field value",
                     b"GET / HTTP/1.1\r\nHost: example.com/admin\r\n\r\n"),
    "bare-lf-in-an-incomplete-head": ("a bare LF is refused when it arrives; h11 waits for "
                                      "the rest of the head (and takes LF line endings)",
                                      b"GET / HTTP/1.1\nHost: example.com\n"),
}

#: Valid forms (HTTPRequest.quirks) crosswind accepts and h11 refuses.
H11_REFUSES: dict[str, str] = {
    "leading-crlf": "RFC 9112 section 2.2: a server SHOULD ignore empty lines before a "
    "request line; h11 answers 400",
    "chunk-extension-bws": "RFC 9112 section 7.1.1 allows whitespace before ';' in a chunk "
    "extension; h11 refuses the size line",
}


@dataclass
class Parsed:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    version: str
    body: bytearray = field(default_factory=bytearray)

    def key(self) -> tuple[str, str, list[tuple[bytes, bytes]], str, bytes]:
        return (self.method, self.target, self.headers, self.version, bytes(self.body))


class Recorder:
    """Reads each body and answers 200 with it; records every complete request."""

    def __init__(self) -> None:
        self.complete: list[Parsed] = []

    async def handle(self, exchange: Exchange) -> None:
        seen = Parsed(exchange.method, exchange.target, list(exchange.headers),
                      exchange.http_version)
        while piece := await exchange.read():
            seen.body += piece
        self.complete.append(seen)
        await exchange.respond(200, [(b"Content-Type", b"application/octet-stream")],
                               bytes(seen.body))


ENGINES = st.sampled_from(available_engines())


def crosswind_view(
    chunks: list[bytes], last_method: str = "GET", engine: str = DEFAULT_ENGINE
) -> tuple[list[Parsed], list[int], bytes]:
    """What the application completed, the statuses answered, and the raw output."""
    app = Recorder()
    out = serve_bytes(app, chunks, engine=engine)
    # The request after the last complete one is the one an error may answer.
    methods = [p.method for p in app.complete] + [last_method if not app.complete else "GET"]
    return app.complete, parse_strictly(out, methods), out


def h11_view(data: bytes) -> tuple[list[Parsed], bool]:
    """The requests h11's server completes from *data*, and whether it refused the rest."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    done: list[Parsed] = []
    current: Parsed | None = None
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError:
            return done, True
        kind = type(ev)
        if kind is h11.Request:
            version = ev.http_version.decode()
            current = Parsed(ev.method.decode(), ev.target.decode("latin-1"),
                             list(ev.headers), "1.0" if version == "1.0" else "1.1")
        elif kind is h11.Data:
            assert current is not None
            current.body += ev.data
        elif kind is h11.EndOfMessage:
            assert current is not None
            done.append(current)
            conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return done, False
            conn.start_next_cycle()
        else:  # NEED_DATA, PAUSED: nothing more to parse
            return done, False


def parse_strictly(out: bytes, methods: list[str]) -> list[int]:
    """Statuses of every response in *out*, parsed by h11 as the client.

    Fails on any byte h11 refuses, on a response cut short and on bytes after a
    response that closed the connection.
    """
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(out)
    conn.receive_data(b"")
    statuses: list[int] = []
    while conn.trailing_data[0]:
        method = methods[len(statuses)] if len(statuses) < len(methods) else "GET"
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        while True:
            ev = conn.next_event()  # raises h11.RemoteProtocolError on bad bytes
            if type(ev) is h11.Response:
                statuses.append(ev.status_code)
            elif type(ev) is h11.EndOfMessage:
                break
            elif type(ev) is not h11.Data:
                assert type(ev) is h11.InformationalResponse, f"response cut short: {ev!r}"
        if conn.their_state is h11.MUST_CLOSE or conn.our_state is h11.MUST_CLOSE:
            assert conn.trailing_data[0] == b"", "bytes after the response that closed"
            break
        conn.start_next_cycle()
    return statuses


# -- valid streams ------------------------------------------------------------------------


@given(pipelined(), ENGINES, st.data())
def test_valid_streams_are_parsed_alike(stream: Pipeline, engine: str, data: st.DataObject) -> None:
    chunks = data.draw(split_into_chunks(stream, max_pieces=4))
    ours, statuses, _ = crosswind_view(chunks, engine=engine)
    assert statuses == [200] * len(stream.requests)
    assert len(ours) == len(stream.requests)
    theirs, refused = h11_view(bytes(stream))
    quirks = frozenset().union(*(r.quirks for r in stream.requests))
    h11_refusal = quirks & set(H11_REFUSES)
    if h11_refusal:
        # h11 agrees up to the first request using a form it refuses.
        first_bad = next(i for i, r in enumerate(stream.requests) if r.quirks & set(H11_REFUSES))
        assert refused and len(theirs) == first_bad
        for quirk in h11_refusal:
            event(f"h11 refuses {quirk}")
    else:
        assert not refused and len(theirs) == len(stream.requests)
    assert [p.key() for p in ours[: len(theirs)]] == [p.key() for p in theirs]


# -- hostile streams ----------------------------------------------------------------------


@given(st.lists(pipelined(max_size=2), max_size=1), hostile_requests(), ENGINES)
def test_hostile_streams_are_refused_where_h11_refuses_them(
    before: list[Pipeline], hostile: HostileRequest, engine: str
) -> None:
    prefix = [r for p in before for r in p.requests
              if r.pipelinable and not r.quirks & set(H11_REFUSES)]
    stream = b"".join(prefix) + bytes(hostile) + SMUGGLE_PROBE
    ours, statuses, _ = crosswind_view([stream], engine=engine)
    # Crosswind: the valid requests before it answered, then one refusal, then nothing.
    assert statuses == [200] * len(prefix) + [hostile.status]
    assert [p.target for p in ours] == [r.target for r in prefix]
    theirs, _ = h11_view(stream)
    assert [p.key() for p in theirs[: len(prefix)]] == [p.key() for p in ours]
    h11_accepted = len(theirs) > len(prefix)
    event(f"{hostile.family}: h11 {'accepts' if h11_accepted else 'refuses'}")
    if hostile.family not in STRICTER_THAN_H11:
        assert not h11_accepted, f"h11 accepted {hostile.family} but crosswind refused it"


def test_the_documented_lists_name_real_families_and_quirks() -> None:
    assert set(STRICTER_THAN_H11) <= set(HOSTILE_FAMILIES)
    assert set(H11_REFUSES) <= {"leading-crlf", "chunk-extension-bws"}


_H = b"Host: example.com\r\n"
_TE = b"Transfer-Encoding: chunked\r\n"

#: One concrete request per stricter family, which h11 parses and crosswind refuses.
STRICTER_EXAMPLES: dict[str, tuple[bytes, int]] = {
    "cl-and-te": (b"POST / HTTP/1.1\r\n" + _H + b"Content-Length: 4\r\n" + _TE
                  + b"\r\n0\r\n\r\n", 400),
    "content-length-too-long": (b"POST / HTTP/1.1\r\n" + _H
                                + b"Content-Length: 0000000000000000005\r\n\r\nhello", 400),
    "chunk-size-too-long": (b"POST / HTTP/1.1\r\n" + _H + _TE
                            + b"\r\n00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
    "chunk-extension-control-char": (b"POST / HTTP/1.1\r\n" + _H + _TE
                                     + b"\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n", 400),
    "chunked-end-bare-lf": (b"POST / HTTP/1.1\r\n" + _H + _TE + b"\r\n0\r\n\n", 400),
    "trailer-obs-fold-or-control": (b"POST / HTTP/1.1\r\n" + _H + _TE
                                    + b"\r\n0\r\nX-T: a\r\n b\r\n\r\n", 400),
    "control-char-in-field-value": (b"GET / HTTP/1.1\r\n" + _H + b"X-A: a\x01b\r\n\r\n", 400),
    "obs-fold": (b"GET / HTTP/1.1\r\n" + _H + b"X-A: a\r\n b\r\n\r\n", 400),
    "bare-lf": (b"GET / HTTP/1.1\n" + _H + b"\r\n", 400),
    "request-line-too-long": (b"GET /" + b"a" * 8192 + b" HTTP/1.1\r\n" + _H + b"\r\n", 414),
    "head-too-large": (b"GET / HTTP/1.1\r\n" + _H + b"X-A: " + b"a" * 65536 + b"\r\n\r\n", 431),
    "too-many-header-fields": (b"GET / HTTP/1.1\r\n" + _H + b"X-A: 1\r\n" * 100 + b"\r\n", 431),
    "unsupported-http-version": (b"GET / HTTP/2.0\r\n" + _H + b"\r\n", 505),
    "transfer-encoding-http10": (b"POST / HTTP/1.0\r\n" + _TE + b"\r\n0\r\n\r\n", 400),
    "unsupported-expectation": (b"GET / HTTP/1.1\r\n" + _H + b"Expect: 200-ok\r\n\r\n", 417),
}


def test_every_stricter_family_is_a_case_h11_accepts() -> None:
    # Keeps the list honest: each entry is a request h11 really lets through.
    assert set(STRICTER_EXAMPLES) == set(STRICTER_THAN_H11)
    for family, (raw, status) in STRICTER_EXAMPLES.items():
        theirs, refused = h11_view(raw)
        assert len(theirs) == 1 and not refused, family
        for engine in available_engines():
            ours, statuses, _ = crosswind_view([raw + SMUGGLE_PROBE], engine=engine)
            assert (ours, statuses) == ([], [status]), (family, engine)


def test_every_stricter_rule_is_a_case_h11_does_not_refuse() -> None:
    for rule, (_, raw) in STRICTER_RULES_THAN_H11.items():
        _, refused = h11_view(raw)
        assert not refused, rule
        for engine in available_engines():
            # No end of input: the refusal must come from the bytes alone.
            conn = ServerConnection(clock=lambda: 0.0, engine=engine)
            conn.receive_data(raw)
            with pytest.raises(RemoteProtocolError) as caught:
                conn.next_event()
            assert caught.value.status_code == 400, (rule, engine)


def test_h11_refusals_are_valid_requests_crosswind_serves() -> None:
    examples = {
        "leading-crlf": b"\r\nGET / HTTP/1.1\r\n" + _H + b"\r\n",
        "chunk-extension-bws": b"POST / HTTP/1.1\r\n" + _H + _TE
        + b"\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n",
    }
    assert set(examples) == set(H11_REFUSES)
    for quirk, raw in examples.items():
        assert h11_view(raw) == ([], True), quirk
        for engine in available_engines():
            ours, statuses, _ = crosswind_view([raw], engine=engine)
            assert statuses == [200] and len(ours) == 1, (quirk, engine)


def test_the_documented_lists_are_in_the_protocol_doc() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    section = doc.split("## Stricter than h11", 1)[1]
    for name in [*STRICTER_THAN_H11, *STRICTER_RULES_THAN_H11, *H11_REFUSES]:
        assert f"`{name}`" in section, name


# -- responses ----------------------------------------------------------------------------


@given(st.binary(max_size=200), st.sampled_from(["GET", "HEAD", "POST"]), ENGINES)
def test_responses_to_arbitrary_bytes_parse(noise: bytes, method: str, engine: str) -> None:
    # Whatever the client sent, crosswind's answer is valid HTTP/1.1 for h11 (which
    # parse_strictly checks); a response to HEAD is told apart by its method.
    assume(b"HEAD" not in noise)
    ours, statuses, _ = crosswind_view([method.encode() + b" " + noise], method, engine)
    assert statuses[: len(ours)] == [200] * len(ours)
    assert len(statuses) <= len(ours) + 1
