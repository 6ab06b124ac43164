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
  (C0 other than HTAB, and DEL) anywhere in the head: 400;
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
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import RemoteProtocolError
from .limits import Limits

__all__ = ["Head", "find_head_end", "screen_head"]

_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_REQUEST_LINE = re.compile(
    rb"([" + _TCHAR + rb"]+) ([^\x00-\x20\x7f]+) HTTP/([0-9])\.([0-9])"
)
# Greedy value then rstrip: a lazy `(.*?)[ \t]*` backtracks quadratically on
# long runs of spaces.
_HEADER_LINE = re.compile(rb"([" + _TCHAR + rb"]+):[ \t]*(.*)")
# C0 controls other than HTAB, CR and LF, plus DEL; CR and LF are checked by
# splitting on CRLF and looking for leftovers.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]{1,18}")


@dataclass(slots=True)
class Head:
    """What the policy layer needs to know about a screened request head."""

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

    :raises RemoteProtocolError: with the status to answer, on any violation.
    """
    # Size verdicts come first so that they match what find_head_end says
    # about the same bytes when they arrive incomplete.
    lines = head[:-4].split(b"\r\n")
    request_line = lines[0]
    if len(request_line) > limits.max_request_line:
        raise _reject("request line too long", 414)
    if len(lines) - 1 > limits.max_header_count:
        raise _reject("too many header fields", 431)
    if _CONTROL.search(head) is not None:
        raise _reject("control character in request head")
    text = head[:-4]
    crlf = text.count(b"\r\n")
    if text.count(b"\r") != crlf or text.count(b"\n") != crlf:
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
    hosts = 0
    lengths: list[bytes] = []
    codings: list[bytes] = []
    connection_tokens: list[bytes] = []
    expect: bytes | None = None
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise _reject("obsolete line folding in header section")
        header = _HEADER_LINE.fullmatch(line)
        if header is None:
            raise _reject("malformed header field")
        name = header.group(1).lower()
        value = header.group(2).rstrip(b" \t")
        headers.append((name, value))
        if name == b"host":
            hosts += 1
        elif name == b"content-length":
            lengths.extend(part.strip() for part in value.split(b","))
        elif name == b"transfer-encoding":
            codings.extend(part.strip().lower() for part in value.split(b","))
        elif name == b"connection":
            connection_tokens.extend(part.strip().lower() for part in value.split(b","))
        elif name == b"expect":
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
    elif lengths:
        first = lengths[0]
        if _DIGITS.fullmatch(first) is None or any(other != first for other in lengths):
            raise _reject("invalid Content-Length")
        content_length = int(first)

    expect_continue = False
    if expect is not None:
        if expect != b"100-continue":
            raise _reject("unsupported expectation", 417)
        expect_continue = version == b"1.1"

    if version == b"1.1":
        keep_alive = b"close" not in connection_tokens
    else:
        keep_alive = b"keep-alive" in connection_tokens and b"close" not in connection_tokens
    return Head(
        method=method,
        target=target,
        http_version=version,
        headers=headers,
        content_length=content_length,
        chunked=chunked,
        expect_continue=expect_continue,
        keep_alive=keep_alive,
    )
