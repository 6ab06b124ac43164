"""Screening of a request head before any protocol engine parses it.

This module is the strictness layer: it holds the rules that keep request
smuggling and cache poisoning out, so that every engine behind it gets the
same, already-vetted input.  It works on the complete head (request line and
header section, up to and including the blank line), so its verdict never
depends on how TCP split the bytes.

Rules, each answered with a status and a short reason:

* request line longer than the limit: 414; head larger than the limit or
  more header fields than allowed: 431;
* a line ending in a bare CR or bare LF, obs-fold (a line starting with
  space or tab), a header name that is not a token, control characters
  (C0 other than HTAB, and DEL) anywhere in the head, a request target with
  bytes outside visible ASCII: 400;
* an HTTP version whose major number is not 1: 505; HTTP/1.2 to 1.9 are
  handled as 1.1 (RFC 9110 section 2.5), and :attr:`Head.http_version` says so;
* a missing or repeated ``Host`` on HTTP/1.1, a repeated ``Host`` on 1.0: 400;
* ``Content-Length`` together with ``Transfer-Encoding``, a
  ``Content-Length`` that is not digits (or lists differing values),
  ``Transfer-Encoding`` on HTTP/1.0, not ending in ``chunked`` or naming
  ``chunked`` twice: 400;
  any coding besides a single ``chunked``: 501;
* an ``Expect`` other than ``100-continue``: 417.

Bytes 0x80-0xFF in field values are accepted (RFC 9110 section 5.5 obs-text).
The character classes (token, field value, control) are those of
:mod:`crosswind.grammar`, which the response side checks against too.

What it accepts it also parses, once: :attr:`Head.headers` holds every
field with its name lowercased and its value without surrounding
whitespace, and the framing fields in the one form they can have once
accepted (``Content-Length`` a single number, listed once;
``Transfer-Encoding`` exactly ``chunked``), as h11 reports them.  An engine
that trusts this parse (:mod:`crosswind.protocol.http1.native_engine`) does no work of its
own on the head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import RemoteProtocolError
from ...grammar import FIELD_OCTETS, TCHAR, VCHAR
from ..limits import Limits

__all__ = ["Head", "find_head_end", "screen_head"]

# The target is visible ASCII (RFC 9112 section 3.2 builds it from RFC 3986,
# which has no raw bytes above 0x7E); h11 refuses the same.
_REQUEST_LINE = re.compile(
    rf"({TCHAR}+) ({VCHAR}+) HTTP/([0-9])\.([0-9])".encode("ascii")
)
# One findall over the whole header block instead of a match per line
# (deliberate: see bench/NOTES.md).  Anchored at
# line starts, a line that is not `token ":" OWS value` yields no match at
# all, so as many matches as lines proves every line well formed.  The value
# ends at its last non-blank byte; the trailing `[ \t]*` never needs to give
# anything back, so nothing here backtracks.  `[^ \t\r\n]` is field-vchar
# here: the control characters are refused before this runs.
_FIELD = re.compile(
    rf"^({TCHAR}+):[ \t]*((?:[^ \t\r\n]+(?:[ \t]+[^ \t\r\n]+)*)?)[ \t]*(?=\r|\Z)".encode("ascii"),
    re.M,
)
_DIGITS = re.compile(rb"[0-9]{1,18}")

_HOST, _LENGTH, _CODING, _CONNECTION, _EXPECT = range(5)
_SPECIAL = {
    b"host": _HOST,
    b"content-length": _LENGTH,
    b"transfer-encoding": _CODING,
    b"connection": _CONNECTION,
    b"expect": _EXPECT,
}


@dataclass(slots=True)
class Head:
    """What the policy layer knows about a screened request head.

    :param method: the method token, as sent.
    :param target: the request target, as sent.
    :param http_version: ``b"1.0"`` or ``b"1.1"`` (a higher 1.x is served as 1.1).
    :param headers: ``(name, value)`` pairs in order, names lowercased, values
        stripped; framing fields normalized as the module docstring says.
    :param content_length: the body length, ``None`` without the header.
    :param chunked: the body is chunked.
    :param expect_continue: an HTTP/1.1 client waits for ``100 Continue``.
    :param keep_alive: the client allows the connection to be reused.
    """

    method: bytes
    target: bytes
    http_version: bytes
    headers: list[tuple[bytes, bytes]]
    content_length: int | None
    chunked: bool
    expect_continue: bool
    keep_alive: bool


def _reject(reason: str, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status)


def find_head_end(buffer: bytes | bytearray, limits: Limits) -> int:
    """Return the index just past the blank line ending the head, or -1.

    Raises ``414`` or ``431`` as soon as the bytes present prove a limit is
    exceeded, whether or not the head is complete yet.

    :param buffer: received bytes, starting at the request line.
    :param limits: the limits to enforce.
    :raises RemoteProtocolError: a size limit is exceeded.
    """
    line_end = buffer.find(b"\r\n", 0, limits.max_request_line + 2)
    if line_end < 0:
        if len(buffer) > limits.max_request_line + 1:
            raise _reject("request line too long", 414)
        return -1
    end = buffer.find(b"\r\n\r\n", line_end, limits.max_head_size + 4)
    if end < 0:
        if len(buffer) > limits.max_head_size + 3:
            raise _reject("request header section too large", 431)
        return -1
    return end + 4


def screen_head(head: bytes, limits: Limits) -> Head:
    """Check a complete head (ending with CRLF CRLF) and extract its framing.

    :param head: the request line and header section with its blank line.
    :param limits: the limits to enforce.
    :raises RemoteProtocolError: with the status to answer, on any violation.
    """
    text = head[:-4]
    # Size verdicts come first so that they match what find_head_end says
    # about the same bytes when they arrive incomplete.
    line_end = text.find(b"\r\n")
    request_line = text if line_end < 0 else text[:line_end]
    if len(request_line) > limits.max_request_line:
        raise _reject("request line too long", 414)
    field_count = text.count(b"\r\n")
    if field_count > limits.max_header_count:
        raise _reject("too many header fields", 431)
    # Every byte a head may hold outside its line ends is one a field value may
    # hold: deleting them leaves exactly one CRLF per header line, or the head has
    # a control character or a bare CR or LF.  One C-level pass instead of a
    # regex search and three counts (see bench/NOTES.md).
    rest = text.translate(None, FIELD_OCTETS)
    if rest != b"\r\n" * field_count:
        if rest.translate(None, b"\r\n"):
            raise _reject("control character in request head")
        raise _reject("bare CR or LF in request head")
    match = _REQUEST_LINE.fullmatch(request_line)
    if match is None:
        raise _reject("malformed request line")
    method, target, major, minor = match.groups()
    if major != b"1":
        raise _reject("HTTP version not supported", 505)
    # RFC 9110 section 2.5: a higher minor version of HTTP/1 is processed as
    # the highest one implemented, with all of 1.1's requirements (Host).
    version = b"1.0" if minor == b"0" else b"1.1"

    headers: list[tuple[bytes, bytes]] = []
    if field_count:
        found = _FIELD.findall(text, line_end + 2)
        if len(found) != field_count:
            if b"\r\n " in text or b"\r\n\t" in text:
                raise _reject("obsolete line folding in header section")
            raise _reject("malformed header field")
        headers = [(name.lower(), value) for name, value in found]

    # Lists only for the framing fields a request has (most have none of
    # them; see bench/NOTES.md).
    hosts = 0
    lengths: list[bytes] | None = None
    codings: list[bytes] | None = None
    connection_tokens: list[bytes] | None = None
    expect: bytes | None = None
    special = _SPECIAL.get
    for name, value in headers:
        kind = special(name)
        if kind is None:
            continue
        if kind == _HOST:
            hosts += 1
        elif kind == _LENGTH:
            lengths = (lengths or []) + _list_items(value, lower=False)
        elif kind == _CODING:
            codings = (codings or []) + _list_items(value)
        elif kind == _CONNECTION:
            connection_tokens = (connection_tokens or []) + _list_items(value)
        else:
            expect = value.lower()

    if hosts > 1 or (hosts == 0 and version == b"1.1"):
        raise _reject("missing or repeated Host header")

    content_length: int | None = None
    chunked = False
    if codings:
        if lengths:
            raise _reject("both Content-Length and Transfer-Encoding")
        if version == b"1.0":
            raise _reject("Transfer-Encoding in an HTTP/1.0 request")
        if codings[-1] != b"chunked":
            raise _reject("Transfer-Encoding must end with chunked")
        if codings.count(b"chunked") > 1:
            raise _reject("chunked applied more than once")
        if len(codings) > 1:
            raise _reject("transfer coding not supported", 501)
        chunked = True
        if (b"transfer-encoding", b"chunked") not in headers:  # "Chunked", say
            headers = _normalize(headers, b"transfer-encoding", b"chunked")
    elif lengths:
        first = lengths[0]
        if _DIGITS.fullmatch(first) is None or any(other != first for other in lengths):
            raise _reject("invalid Content-Length")
        content_length = int(first)
        if len(lengths) > 1:
            headers = _normalize(headers, b"content-length", first)

    expect_continue = False
    if expect is not None:
        if expect != b"100-continue":
            raise _reject("unsupported expectation", 417)
        expect_continue = version == b"1.1"

    if connection_tokens is None:
        keep_alive = version == b"1.1"
    elif version == b"1.1":
        keep_alive = b"close" not in connection_tokens
    else:
        keep_alive = b"keep-alive" in connection_tokens and b"close" not in connection_tokens
    return Head(method, target, version, headers, content_length, chunked, expect_continue,
                keep_alive)


def _list_items(value: bytes, lower: bool = True) -> list[bytes]:
    """The comma-separated items of a field value (already stripped as a whole)."""
    if b"," not in value:
        # One item, the usual case ("close", "chunked", a length): no split and
        # no comprehension (see bench/NOTES.md).
        return [value.lower() if lower else value]
    return [part.strip().lower() if lower else part.strip() for part in value.split(b",")]


def _normalize(
    headers: list[tuple[bytes, bytes]], name: bytes, value: bytes
) -> list[tuple[bytes, bytes]]:
    """Keep the first field called *name*, with *value*, and drop its repeats.

    A framing field that was accepted has exactly one meaning; reporting it in
    that one form means no layer above can read a second one into it.
    """
    out: list[tuple[bytes, bytes]] = []
    seen = False
    for field in headers:
        if field[0] == name:
            if seen:
                continue
            seen = True
            field = (name, value)
        out.append(field)
    return out
