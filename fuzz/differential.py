"""Differential checks of the native protocol engine against h11, on the same request bytes.

Importable by the Hypothesis suite (``tests/protocol/test_engine_differential.py``) and by the
atheris target ``fuzz/targets/engines.py``, which run the same two comparisons:

* :func:`compare_engines` -- one stream, cut into the same reads, through
  :class:`~crosswind.protocol.http1.connection.ServerConnection` with ``engine="native"`` and with
  ``engine="h11"``.  Everything must agree: which requests are accepted; the method,
  target, version, header fields, body and trailers of each; keep-alive after each; the
  status of the refusal, if any.  Both engines sit behind the same policy layer, so any
  difference is an engine fault: native accepting what h11 refuses (native would be less
  strict) or the two parsing a request differently.

* :func:`compare_with_h11` -- the native engine's connection against a bare
  :class:`h11.Connection` serving the same bytes.  Here native may refuse what h11
  accepts (the deliberate cases, :data:`NATIVE_STRICTER`, listed in ``docs/protocol.md``
  under "Native engine vs h11"), but every request native accepts h11 must accept and
  parse alike, except for the valid forms h11 refuses (:data:`H11_REFUSES`).

A disagreement raises :class:`Divergence`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import h11
from crosswind.errors import RequestError
from crosswind.protocol.events import NEED_DATA, Data, EndOfMessage, Request
from crosswind.protocol.http1.connection import ServerConnection
from crosswind.protocol.limits import Limits

__all__ = [
    "H11_CLOSED",
    "H11_REFUSES",
    "H11_REFUSES_VALID_FORM",
    "NATIVE_STRICTER",
    "NATIVE_STRICTER_OUTCOME",
    "NATIVE_STRICTER_RULES",
    "SAME",
    "Divergence",
    "Message",
    "Verdict",
    "bare_h11_verdict",
    "compare_engines",
    "compare_with_h11",
    "engine_verdict",
]

#: Hostile request families (``crosswind.testing.strategies.HOSTILE_FAMILIES``) that h11
#: 0.16 parses, at least in some forms, and the native engine refuses, with the rule.
NATIVE_STRICTER: dict[str, str] = {
    "cl-and-te": "Content-Length with Transfer-Encoding is refused (RFC 9112 section 6.1); "
    "h11 lets chunked win",
    "content-length-too-long": "at most 18 digits; h11 takes 20",
    "chunk-size-too-long": "at most 16 hex digits; h11 takes more leading zeros",
    "chunk-extension-control-char": "controls in a chunk extension are refused; h11 skips "
    "extensions unread",
    "chunked-end-bare-lf": "the line ending a chunked body must be CRLF",
    "trailer-obs-fold-or-control": "trailers get the checks header fields get",
    "control-char-in-field-value": "C0 (but HTAB) and DEL are refused in field values",
    "obs-fold": "obsolete line folding is refused (RFC 9112 section 5.2)",
    "bare-lf": "bare LF line endings are refused (RFC 9112 section 2.2)",
    "request-line-too-long": "Limits.max_request_line; h11 caps only an incomplete head",
    "head-too-large": "Limits.max_head_size; as above",
    "too-many-header-fields": "Limits.max_header_count; h11 has no count limit",
    "unsupported-http-version": "505 for a major version other than 1",
    "transfer-encoding-http10": "Transfer-Encoding on HTTP/1.0 is refused (RFC 9112 section 6.1)",
    "unsupported-expectation": "417 for an Expect other than 100-continue",
}

#: Rules of the policy layer that no hostile family covers, with a request h11 accepts.
NATIVE_STRICTER_RULES: dict[str, bytes] = {
    # RFC 9110 section 6.5.1: framing fields do not belong in trailers; h11 would apply
    # its Content-Length and Transfer-Encoding rules to them.
    "framing-field-in-trailer": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"\r\n0\r\nContent-Length: 5\r\n\r\n",
    # RFC 9110 section 2.5: HTTP/1.2 is served as 1.1, with 1.1's Host requirement;
    # h11 requires Host for exactly 1.1.
    "host-on-http-1.x-above-1.1": b"GET / HTTP/1.2\r\n\r\n",
    # RFC 9112 section 3.2: a Host that is not uri-host [ ":" port ] is a 400; h11 takes
    # any field value.  Userinfo here is what a confused cache or router would key on.
    "invalid-host": b"GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n",
}

#: Valid forms (``HTTPRequest.quirks``) that native serves and h11 refuses.
H11_REFUSES: dict[str, str] = {
    "leading-crlf": "empty lines before a request line are ignored (RFC 9112 section 2.2)",
    "chunk-extension-bws": "whitespace before ';' in a chunk extension (RFC 9112 section 7.1.1)",
}

#: :func:`compare_with_h11` outcomes.
SAME = "same"
NATIVE_STRICTER_OUTCOME = "native-stricter"
H11_CLOSED = "h11-closed"
H11_REFUSES_VALID_FORM = "h11-refuses-valid-form"

_BWS_BEFORE_EXTENSION = re.compile(rb"\r\n[0-9A-Fa-f]+[ \t]+;")


class Divergence(AssertionError):
    """The two sides disagree where they must not."""


@dataclass(frozen=True)
class Message:
    """One request as a parser reported it, the body joined from its pieces.

    :param keep_alive: the connection's decision after it (``None`` for bare h11,
        whose HTTP/1.0 rule differs on purpose).
    """

    method: bytes
    target: bytes
    version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    trailers: tuple[tuple[bytes, bytes], ...]
    keep_alive: bool | None = None

    def parsed(self) -> tuple[object, ...]:
        """Everything but the keep-alive decision."""
        return (self.method, self.target, self.version, self.headers, self.body, self.trailers)


@dataclass(frozen=True)
class Verdict:
    """What one side made of a stream.

    :param messages: the requests accepted, in order.
    :param refusal: the status the next request was refused with, ``None`` if none was.
    """

    messages: tuple[Message, ...]
    refusal: int | None


def _pairs(headers: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((bytes(name), bytes(value)) for name, value in headers)


def engine_verdict(engine: str, chunks: Iterable[bytes], limits: Limits | None = None) -> Verdict:
    """Serve *chunks* (then EOF) through a connection with *engine*; answer each request.

    :param engine: ``"native"`` or ``"h11"``.
    :param chunks: the reads, in order.
    :param limits: the connection's limits.
    """
    conn = ServerConnection(limits, clock=lambda: 0.0, engine=engine)
    reads = iter(chunks)
    messages: list[Message] = []
    request: Request | None = None
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except RequestError as error:
            return Verdict(tuple(messages), error.status_code)
        kind = type(event)
        if event is NEED_DATA:
            conn.receive_data(next(reads, b""))
        elif kind is Request:
            request, body = event, bytearray()  # type: ignore[assignment]
        elif kind is Data:
            body += event.data  # type: ignore[union-attr]
        elif kind is EndOfMessage:
            assert request is not None
            keep_alive = conn.keep_alive
            messages.append(Message(
                request.method, request.target, request.http_version, _pairs(request.headers),
                bytes(body), _pairs(event.trailers), keep_alive,  # type: ignore[union-attr]
            ))
            conn.send_response(200, [(b"Content-Length", b"0")])
            conn.send_end()
            if not conn.start_next_cycle():
                return Verdict(tuple(messages), None)
        else:  # ConnectionClosed between requests
            return Verdict(tuple(messages), None)


def compare_engines(
    chunks: Iterable[bytes],
    limits: Limits | None = None,
    engines: tuple[str, str] = ("native", "h11"),
) -> Verdict:
    """Check that the native and h11 engines make the same of *chunks*; return the verdict.

    :param chunks: the reads, in order.
    :param limits: the connections' limits.
    :param engines: the two engines to compare.
    :raises Divergence: the verdicts differ in anything.
    """
    chunks = list(chunks)
    first, second = (engine_verdict(name, chunks, limits) for name in engines)
    if first != second:
        raise Divergence(f"engines disagree on {b''.join(chunks)[:300]!r}:\n"
                         f"  {engines[0]} {first}\n  {engines[1]} {second}")
    return first


def bare_h11_verdict(data: bytes) -> tuple[Verdict, bool, bool]:
    """What a bare ``h11.Connection`` serving *data* (then EOF) accepts.

    Empty lines before a request line, which RFC 9112 section 2.2 says to ignore and h11
    refuses, are skipped here for it, as the policy layer skips them.  Versions above
    HTTP/1.1 are reported as the 1.1 they are served as.

    :param data: the whole stream.
    :returns: the verdict; whether h11 ended the connection after the last request
        (HTTP/1.0 or ``Connection: close``); whether its refusal (if any) met a chunk
        extension with whitespace before ``;``, a valid form h11 refuses.
    """
    messages: list[Message] = []
    rest = data
    while True:
        while rest[:2] == b"\r\n":
            rest = rest[2:]
        if not rest:
            return Verdict(tuple(messages), None), False, False
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(rest)
        conn.receive_data(b"")
        request: h11.Request | None = None
        body = bytearray()
        try:
            while True:
                event = conn.next_event()
                if type(event) is h11.Request:
                    request = event
                elif type(event) is h11.Data:
                    body += event.data
                elif type(event) is h11.EndOfMessage:
                    break
                else:  # NEED_DATA after EOF does not happen; ConnectionClosed cannot here
                    raise AssertionError(f"unexpected h11 event {event!r}")
        except h11.RemoteProtocolError as exc:
            bws = _BWS_BEFORE_EXTENSION.search(rest) is not None
            return Verdict(tuple(messages), exc.error_status_hint), False, bws
        assert request is not None
        version = request.http_version if request.http_version <= b"1.1" else b"1.1"
        messages.append(Message(request.method, request.target, version,
                                _pairs(request.headers), bytes(body), _pairs(event.headers)))
        if conn.their_state is h11.MUST_CLOSE:
            return Verdict(tuple(messages), None), True, False
        rest = conn.trailing_data[0]


def compare_with_h11(data: bytes, limits: Limits | None = None, engine: str = "native") -> str:
    """Check the native engine against bare h11 on *data*; say how they relate.

    :param data: the whole stream (one read).
    :param limits: the native connection's limits.
    :param engine: the engine to check (the native one unless testing this check).
    :returns: :data:`SAME` (the same requests accepted and parsed alike, and both refuse
        the rest or neither does); ``"native-stricter"`` (native refuses a request h11
        accepts, all before it alike); :data:`H11_CLOSED` (alike until h11 closed after
        an HTTP/1.0 exchange that native keeps alive on request); or
        :data:`H11_REFUSES_VALID_FORM` (alike until h11 refused a chunk extension with
        whitespace before ``;``).
    :raises Divergence: native accepts what h11 refuses, or they parse a request
        differently.
    """
    native = engine_verdict(engine, [data], limits)
    h11_side, h11_closed, valid_form = bare_h11_verdict(data)
    ours, theirs = native.messages, h11_side.messages
    for index, message in enumerate(ours):
        if index == len(theirs):
            if h11_closed:
                return H11_CLOSED
            if valid_form:
                return H11_REFUSES_VALID_FORM
            raise Divergence(f"native accepts request {index} of {data[:300]!r}; h11 refuses it")
        if message.parsed() != theirs[index].parsed():
            raise Divergence(f"request {index} of {data[:300]!r} parsed differently:\n"
                             f"  native {message}\n  h11    {theirs[index]}")
    if len(theirs) > len(ours) or (native.refusal is not None and h11_side.refusal is None):
        if native.refusal is None:
            raise Divergence(f"native stopped after {len(ours)} requests of {data[:300]!r} "
                             "without refusing; h11 went on")
        return NATIVE_STRICTER_OUTCOME
    if native.refusal is None and h11_side.refusal is not None:
        if valid_form:
            return H11_REFUSES_VALID_FORM
        raise Divergence(f"native accepts the end of {data[:300]!r}; h11 refuses it")
    return SAME
