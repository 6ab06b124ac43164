"""Raw HTTP/1.1 requests and what the server must make of them.

Each case is the exact bytes a client sends, written as a Python bytes
literal so every ``\\r\\n`` is visible, with the expected outcome:

* :class:`Valid` -- what an echo application observes: method, target,
  header fields (names lowercased, values as received), HTTP version and the
  de-chunked body.
* :class:`Invalid` -- the status the server answers with before closing, and
  the *stage* at which the request is refused: ``"head"`` (the application
  is never called) or ``"body"`` (the application got the head, but reading
  the body fails before any of it is delivered, because the framing error is
  already in the bytes the connection holds).

:class:`EchoApp` is that application: it records what it was given and
answers with the method, target and body, so the response bytes depend on
everything it read.

Used by ``test_http_cases.py`` (each case, fed whole, with a valid request
pipelined behind it) and ``test_protocol_properties.py`` (random splits).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crosswind.errors import RequestError
from crosswind.protocol.exchange import Exchange

__all__ = ["FOLLOW_UP", "INVALID", "VALID", "EchoApp", "Invalid", "Seen", "Valid"]

#: A valid request sent right behind every case.  After a valid case it must
#: be answered; after an invalid one it must never be processed.
FOLLOW_UP = b"GET /follow-up HTTP/1.1\r\nHost: example.com\r\n\r\n"


@dataclass(frozen=True)
class Valid:
    name: str
    raw: bytes
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    version: str = "1.1"
    #: The path the exchange reports (differs from target for absolute-form).
    path: str | None = None


@dataclass(frozen=True)
class Invalid:
    name: str
    raw: bytes
    status: int
    stage: str = "head"
    reason_has: str = field(default="")


@dataclass
class Seen:
    """One call of :class:`EchoApp`: the head, the body pieces, how reading ended."""

    method: str
    target: str
    path: str
    version: str
    headers: list[tuple[bytes, bytes]]
    pieces: list[bytes] = field(default_factory=list)
    complete: bool = False
    error: int | None = None

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)


class EchoApp:
    """Reads the whole body, then answers ``200`` echoing the request."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    async def handle(self, exchange: Exchange) -> None:
        seen = Seen(
            exchange.method,
            exchange.target,
            exchange.path,
            exchange.http_version,
            list(exchange.headers),
        )
        self.seen.append(seen)
        try:
            while piece := await exchange.read():
                seen.pieces.append(piece)
        except RequestError as error:
            seen.error = error.status_code
            raise
        seen.complete = True
        answer = b"%s %s %s\n" % (
            exchange.method.encode(), exchange.target.encode("latin-1"), exchange.http_version.encode()
        )
        await exchange.respond(200, [(b"Content-Type", b"text/plain")], answer + seen.body)

    @property
    def completed(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.complete]


H = (b"host", b"example.com")
_HOST = b"Host: example.com\r\n"

VALID: list[Valid] = [
    Valid("simple-get", b"GET / HTTP/1.1\r\n" + _HOST + b"\r\n", "GET", "/", [H]),
    Valid(
        "query-and-headers",
        b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n"
        b"User-Agent: test/1.0\r\n\r\n",
        "GET",
        "/a/b?x=1&y=%20",
        [H, (b"accept", b"*/*"), (b"user-agent", b"test/1.0")],
    ),
    Valid(
        "content-length-body",
        b"POST /submit HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world",
        "POST",
        "/submit",
        [H, (b"content-length", b"11")],
        b"hello world",
    ),
    Valid(
        "content-length-zero",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n",
        "POST",
        "/",
        [H, (b"content-length", b"0")],
    ),
    Valid(
        # RFC 9110 section 8.6: a list of identical values may be accepted
        # (and h11 hands the application the single value).
        "content-length-identical-list",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3, 3\r\n\r\nabc",
        "POST",
        "/",
        [H, (b"content-length", b"3")],
        b"abc",
    ),
    Valid(
        "chunked-body",
        b"POST /up HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "POST",
        "/up",
        [H, (b"transfer-encoding", b"chunked")],
        b"hello world",
    ),
    Valid(
        # RFC 9112 section 7.1.1 example shape: extensions with and without values.
        "chunk-extensions",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4;name=value\r\nWiki\r\n5;flag\r\npedia\r\n"
        b'E ; quoted="a b;c"\r\n in\r\n\r\nchunks.\r\n0;last\r\n\r\n',
        "POST",
        "/",
        [H, (b"transfer-encoding", b"chunked")],
        b"Wikipedia in\r\n\r\nchunks.",
    ),
    Valid(
        "chunked-trailers",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n"
        b"Trailer: Expires\r\n\r\n3\r\nabc\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
        b"X-Checksum: 123\r\n\r\n",
        "POST",
        "/",
        [H, (b"transfer-encoding", b"chunked"), (b"trailer", b"Expires")],
        b"abc",
    ),
    Valid(
        "chunk-size-case-and-leading-zeros",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"000a\r\n0123456789\r\n0B\r\nabcdefghijk\r\n000\r\n\r\n",
        "POST",
        "/",
        [H, (b"transfer-encoding", b"chunked")],
        b"0123456789abcdefghijk",
    ),
    Valid(
        "transfer-coding-name-case-insensitive",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding:  Chunked \r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n",
        "POST",
        "/",
        [H, (b"transfer-encoding", b"chunked")],  # h11 lowercases the coding
        b"ok",
    ),
    Valid(
        # RFC 9112 section 3.2.2: a server must accept absolute-form.
        "absolute-form-target",
        b"GET http://example.com/over/there?name=ferret HTTP/1.1\r\n" + _HOST + b"\r\n",
        "GET",
        "http://example.com/over/there?name=ferret",
        [H],
        path="/over/there",
    ),
    Valid(
        "asterisk-form-options",
        b"OPTIONS * HTTP/1.1\r\n" + _HOST + b"\r\n",
        "OPTIONS",
        "*",
        [H],
    ),
    Valid(
        "lowercase-header-names",
        b"GET / HTTP/1.1\r\nhost: example.com\r\nx-custom-header: Value\r\n\r\n",
        "GET",
        "/",
        [H, (b"x-custom-header", b"Value")],
    ),
    Valid(
        "mixed-case-header-names",
        b"GET / HTTP/1.1\r\nHOST: example.com\r\nX-CuStOm: v\r\n\r\n",
        "GET",
        "/",
        [H, (b"x-custom", b"v")],
    ),
    Valid(
        # RFC 9110 section 5.5: obs-text is allowed in field values.
        "obs-text-in-value",
        b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Name: caf\xe9 \x80\xff end\r\n\r\n",
        "GET",
        "/",
        [H, (b"x-name", b"caf\xe9 \x80\xff end")],
    ),
    Valid(
        "whitespace-around-value-and-inner-tab",
        b"GET / HTTP/1.1\r\nHost:example.com\r\nX-A: \t a\tb \t\r\n\r\n",
        "GET",
        "/",
        [H, (b"x-a", b"a\tb")],
    ),
    Valid(
        "empty-header-value",
        b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
        "GET",
        "/",
        [H, (b"x-empty", b""), (b"x-blank", b"")],
    ),
    Valid(
        "repeated-non-host-headers-keep-order",
        b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\n\r\n",
        "GET",
        "/",
        [H, (b"x-a", b"1"), (b"x-b", b"2"), (b"x-a", b"3")],
    ),
    Valid(
        # RFC 9112 section 2.2: empty lines before the request line are ignored.
        "leading-empty-lines",
        b"\r\n\r\nGET / HTTP/1.1\r\n" + _HOST + b"\r\n",
        "GET",
        "/",
        [H],
    ),
    Valid(
        "extension-method",
        b"M-SEARCH * HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "M-SEARCH",
        "*",
        [H],
    ),
    Valid(
        "http10-without-host",
        b"GET /old HTTP/1.0\r\n\r\n",
        "GET",
        "/old",
        [],
        version="1.0",
    ),
    Valid(
        "http10-with-body",
        b"POST /old HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
        "POST",
        "/old",
        [(b"content-length", b"2")],
        b"hi",
        version="1.0",
    ),
    Valid(
        # RFC 9110 section 2.5: a higher 1.x minor version is processed as
        # the highest 1.x this server implements.  h11 alone would pass
        # b"1.2" through and skip its Host check; the connection normalizes it.
        "higher-minor-version-is-1.1",
        b"GET / HTTP/1.2\r\n" + _HOST + b"\r\n",
        "GET",
        "/",
        [H],
        version="1.1",
    ),
    Valid(
        "request-line-at-limit",
        b"GET /" + b"a" * (8192 - 14) + b" HTTP/1.1\r\n" + _HOST + b"\r\n",
        "GET",
        "/" + "a" * (8192 - 14),
        [H],
    ),
    Valid(
        "header-count-at-limit",
        b"GET / HTTP/1.1\r\n" + _HOST + b"".join(b"X-%d: v\r\n" % i for i in range(99)) + b"\r\n",
        "GET",
        "/",
        [H] + [(b"x-%d" % i, b"v") for i in range(99)],
    ),
    Valid(
        "expect-100-continue-body-read",
        b"PUT /f HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n"
        b"Content-Length: 4\r\n\r\ndata",
        "PUT",
        "/f",
        [H, (b"expect", b"100-continue"), (b"content-length", b"4")],
        b"data",
    ),
]


def _te(value: bytes, body: bytes = b"0\r\n\r\n") -> bytes:
    return b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: " + value + b"\r\n\r\n" + body


def _chunked(body: bytes) -> bytes:
    return _te(b"chunked", body)


def _header(line: bytes) -> bytes:
    return b"GET / HTTP/1.1\r\nHost: example.com\r\n" + line + b"\r\n\r\n"


INVALID: list[Invalid] = [
    # -- request smuggling: framing headers ------------------------------
    Invalid(
        "cl-te",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 6\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
        400,
    ),
    Invalid(
        "te-cl",
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
        400,
    ),
    Invalid("te-cl-zero", _te(b"chunked\r\nContent-Length: 0"), 400),
    Invalid("te-space-before-colon", b"POST / HTTP/1.1\r\nHost: example.com\r\n"
            b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
    Invalid("te-obs-fold", b"POST / HTTP/1.1\r\nHost: example.com\r\n"
            b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400),
    Invalid("te-tab-fold", b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: x\r\n"
            b"\tchunked\r\n\r\n0\r\n\r\n", 400),
    # RFC 9112 section 6.1: chunked must not be applied twice; not "unknown".
    Invalid("te-chunked-twice", _te(b"chunked, chunked"), 400),
    Invalid("te-chunked-twice-two-fields", _te(b"chunked\r\nTransfer-Encoding: chunked"), 400),
    # RFC 9112 section 6.3: chunked not final means the length is unknowable.
    Invalid("te-xchunked", _te(b"xchunked"), 400),
    Invalid("te-chunked-not-last", _te(b"chunked, identity"), 400),
    Invalid("te-empty", _te(b""), 400),
    Invalid("te-identity-only", _te(b"identity"), 400),
    # RFC 9112 section 6.1: a coding we do not implement.
    Invalid("te-gzip-chunked", _te(b"gzip, chunked"), 501),
    Invalid("te-in-http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    Invalid("cl-differing-duplicates", b"POST / HTTP/1.1\r\nHost: example.com\r\n"
            b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    Invalid("cl-differing-list", b"POST / HTTP/1.1\r\nHost: example.com\r\n"
            b"Content-Length: 3, 4\r\n\r\nabcd", 400),
    Invalid("cl-plus", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: +3\r\n\r\nabc", 400),
    Invalid("cl-negative", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: -1\r\n\r\n", 400),
    Invalid("cl-hex", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0x3\r\n\r\nabc", 400),
    Invalid("cl-empty", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length:\r\n\r\n", 400),
    Invalid("cl-inner-space", b"POST / HTTP/1.1\r\nHost: example.com\r\n"
            b"Content-Length: 1 2\r\n\r\n", 400),
    Invalid("cl-overflowing-digits", b"POST / HTTP/1.1\r\nHost: example.com\r\n"
            b"Content-Length: 99999999999999999999999\r\n\r\n", 400),
    Invalid("cl-over-body-limit", b"POST / HTTP/1.1\r\nHost: example.com\r\n"
            b"Content-Length: 104857601\r\n\r\n", 413, "body"),
    # -- header syntax ----------------------------------------------------
    Invalid("space-before-colon", b"GET / HTTP/1.1\r\nHost : example.com\r\n\r\n", 400),
    Invalid("header-name-paren", _header(b"X(a): b"), 400),
    Invalid("header-name-at", _header(b"X@y: b"), 400),
    Invalid("header-name-quote", _header(b'X"y: b'), 400),
    Invalid("header-name-non-ascii", _header(b"X-\xe9: b"), 400),
    Invalid("header-empty-name", _header(b": b"), 400),
    Invalid("header-no-colon", _header(b"X-Nothing"), 400),
    Invalid("nul-in-value", _header(b"X-A: a\x00b"), 400),
    Invalid("del-in-value", _header(b"X-A: a\x7fb"), 400),
    Invalid("escape-in-value", _header(b"X-A: a\x1bb"), 400),
    Invalid("vertical-tab-in-value", _header(b"X-A: a\x0bb"), 400),
    Invalid("bare-cr-in-value", _header(b"X-A: a\rb"), 400),
    Invalid("bare-cr-line-end", b"GET / HTTP/1.1\r\nHost: example.com\rX-A: b\r\n\r\n", 400),
    Invalid("bare-lf-line-ends", b"GET / HTTP/1.1\nHost: example.com\n\n", 400),
    Invalid("bare-lf-one-header", b"GET / HTTP/1.1\r\nHost: example.com\nX-A: b\r\n\r\n", 400),
    Invalid("obs-fold", _header(b"X-A: first\r\n  continued"), 400),
    Invalid("whitespace-before-first-header", b"GET / HTTP/1.1\r\n Host: example.com\r\n\r\n", 400),
    # -- request line -----------------------------------------------------
    Invalid("nul-in-target", b"GET /a\x00b HTTP/1.1\r\n" + _HOST + b"\r\n", 400),
    Invalid("del-in-target", b"GET /a\x7fb HTTP/1.1\r\n" + _HOST + b"\r\n", 400),
    Invalid("tab-in-target", b"GET /a\tb HTTP/1.1\r\n" + _HOST + b"\r\n", 400),
    Invalid("space-in-target", b"GET /a b HTTP/1.1\r\n" + _HOST + b"\r\n", 400),
    Invalid("double-space", b"GET  / HTTP/1.1\r\n" + _HOST + b"\r\n", 400),
    Invalid("non-token-method", b"GE(T / HTTP/1.1\r\n" + _HOST + b"\r\n", 400),
    Invalid("lowercase-protocol", b"GET / http/1.1\r\n" + _HOST + b"\r\n", 400),
    Invalid("missing-version", b"GET /\r\n" + _HOST + b"\r\n", 400),
    Invalid("two-digit-minor-version", b"GET / HTTP/1.10\r\n" + _HOST + b"\r\n", 400),
    Invalid("http2-version", b"GET / HTTP/2.0\r\n" + _HOST + b"\r\n", 505),
    Invalid("http09-version", b"GET / HTTP/0.9\r\n" + _HOST + b"\r\n", 505),
    Invalid("http3-version", b"GET / HTTP/3.1\r\n" + _HOST + b"\r\n", 505),
    # -- Host ---------------------------------------------------------------
    Invalid("http11-no-host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400),
    Invalid("http11-two-hosts", b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400),
    Invalid("http11-two-identical-hosts", b"GET / HTTP/1.1\r\n" + _HOST + _HOST + b"\r\n", 400),
    Invalid("http10-two-hosts", b"GET / HTTP/1.0\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400),
    Invalid("higher-minor-version-no-host", b"GET / HTTP/1.2\r\n\r\n", 400),
    # -- limits (defaults) ------------------------------------------------
    Invalid("request-line-over-limit", b"GET /" + b"a" * (8192 - 13) + b" HTTP/1.1\r\n" + _HOST
            + b"\r\n", 414),
    Invalid("request-line-never-ends", b"GET /" + b"a" * 9000, 414),
    Invalid("head-over-limit", b"GET / HTTP/1.1\r\n" + _HOST
            + b"".join(b"X-%02d: %s\r\n" % (i, b"v" * 1000) for i in range(70)) + b"\r\n", 431),
    Invalid("header-count-over-limit", b"GET / HTTP/1.1\r\n" + _HOST
            + b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n", 431),
    Invalid("expect-unknown", _header(b"Expect: 200-ok"), 417),
    # -- chunked framing (found while the body is read) -----------------------
    Invalid("chunk-size-0x-prefix", _chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-size-overflow", _chunked(b"10000000000000005\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-size-negative", _chunked(b"-5\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-size-leading-space", _chunked(b" 5\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-size-empty", _chunked(b"\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-data-longer-than-size", _chunked(b"3\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-missing-crlf", _chunked(b"5\r\nhello0\r\n\r\n"), 400, "body"),
    Invalid("chunk-bare-lf-after-data", _chunked(b"5\r\nhello\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-size-bare-lf", _chunked(b"5\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-ext-nul", _chunked(b"5;a=\x00\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-ext-control", _chunked(b"5;a=\x01b\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-ext-del", _chunked(b"5;a\x7f\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("chunk-ext-bare-cr", _chunked(b"5;a\rb\r\nhello\r\n0\r\n\r\n"), 400, "body"),
    Invalid("trailer-obs-fold", _chunked(b"0\r\nX-T: a\r\n b\r\n\r\n"), 400, "body"),
    Invalid("trailer-no-colon", _chunked(b"0\r\nX-T\r\n\r\n"), 400, "body"),
    Invalid("trailer-control-char", _chunked(b"0\r\nX-T: a\x01\r\n\r\n"), 400, "body"),
]
