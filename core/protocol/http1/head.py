"""Screening of a request head before any protocol engine parses it.

This module is the strictness layer: it holds the rules that keep request
smuggling and cache poisoning out, so that every engine behind it gets the
same, already-vetted input.  It works on the complete head (request line and
header section, up to and including the blank line), so its verdict never
depends on how TCP split the bytes.

Rules, each answered with a status and a short reason:

* a bare LF (one not preceded by CR) anywhere in the head: 400, as soon as
  it arrives, before any other verdict (:func:`find_head_end` looks for it
  while the head is still incomplete, so such a head never waits for a
  timeout; the same bytes arriving whole get the same answer);
* request line longer than the limit: 414; head larger than the limit or
  more header fields than allowed: 431;
* a line ending in a bare CR, obs-fold (a line starting with
  space or tab), a header name that is not a token, control characters
  (C0 other than HTAB, and DEL) anywhere in the head, a request target with
  bytes outside visible ASCII: 400;
* an HTTP version whose major number is not 1: 505; HTTP/1.2 to 1.9 are
  handled as 1.1 (RFC 9110 section 2.5), and :attr:`Head.http_version` says so;
* a missing or repeated ``Host`` on HTTP/1.1, a repeated ``Host`` on 1.0: 400;
* a ``Host`` value that is not ``uri-host [ ":" port ]`` (RFC 9112 section
  3.2, RFC 3986 section 3.2.2): a bracketed IPv6 address or IPvFuture, or a
  reg-name (IPv4 addresses are reg-names to the syntax), port digits only: 400.
  An empty value is allowed (a target without an authority);
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
from typing import NamedTuple

from ...errors import RemoteProtocolError
from ...grammar import FIELD_CHAR, FIELD_OCTETS, TCHAR, VCHAR
from ..limits import Limits

__all__ = ["Head", "find_head_end", "screen_head"]

# The whole head, checked in one match: a request line, then field lines of a token,
# a colon and field octets.  A head it accepts has no control character, no bare CR or
# LF and no obs-fold; everything else goes to _refusal(), which finds the verdict.  The
# quantifiers are possessive, as no class here overlaps what follows it: nothing
# backtracks, whatever the bytes.
_HEAD = re.compile(
    (
        rf"({TCHAR}++) ({VCHAR}++) HTTP/([0-9])\.([0-9])"
        rf"((?:\r\n{TCHAR}++:{FIELD_CHAR}*+)*+)"
    ).encode("ascii")
)
# The request line alone, for _refusal().  The target is visible ASCII (RFC 9112
# section 3.2 builds it from RFC 3986, which has no raw bytes above 0x7E); h11 refuses
# the same.
_REQUEST_LINE = re.compile(
    rf"({TCHAR}+) ({VCHAR}+) HTTP/([0-9])\.([0-9])".encode("ascii")
)
_DIGITS = re.compile(rb"[0-9]{1,18}")

# Host = uri-host [ ":" port ] (RFC 9112 section 3.2 takes it from RFC 3986 section
# 3.2.2).  IPv4address has no branch of its own: every IPv4 address is also a reg-name
# to the syntax.  The reg-name is written as runs of plain characters between
# pct-encoded triplets, so a value that fails cannot make the regex backtrack.
_H16 = "[0-9A-Fa-f]{1,4}"
_DEC_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LS32 = rf"(?:{_H16}:{_H16}|{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}})"
_IPV6 = "|".join((
    rf"(?:{_H16}:){{6}}{_LS32}",
    rf"::(?:{_H16}:){{5}}{_LS32}",
    rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
    rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
    rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
    rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
    rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
))
_REG_CHAR = r"[A-Za-z0-9\-._~!$&'()*+,;=]"  # unreserved / sub-delims
# The same octets for bytes.lstrip, the likeliest first: each byte is looked up in them.
_REG_NAME_OCTETS = b"0123456789.abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ_~!$&'()*+,;="
_HOST_VALUE = re.compile(
    (
        rf"(?:{_REG_CHAR}*(?:%[0-9A-Fa-f]{{2}}{_REG_CHAR}*)*"
        rf"|\[(?:{_IPV6}|[vV][0-9A-Fa-f]+\.(?:{_REG_CHAR}|:)+)\])"
        r"(?::[0-9]*)?"
    ).encode("ascii")
)

_HOST, _LENGTH, _CODING, _CONNECTION, _EXPECT = range(5)
_SPECIAL = {
    b"host": _HOST,
    b"content-length": _LENGTH,
    b"transfer-encoding": _CODING,
    b"connection": _CONNECTION,
    b"expect": _EXPECT,
}


class Head(NamedTuple):
    """What the policy layer knows about a screened request head.

    A named tuple, built without the Python-level ``__new__`` of its class: one is made
    for every request (deliberate, see bench/NOTES.md).  Its first four fields are those
    of the request event, in its order.

    :param method: the method token, as sent.
    :param target: the request target, as sent.
    :param headers: ``(name, value)`` pairs in order, names lowercased, values
        stripped; framing fields normalized as the module docstring says.
    :param http_version: ``b"1.0"`` or ``b"1.1"`` (a higher 1.x is served as 1.1).
    :param content_length: the body length, ``None`` without the header.
    :param chunked: the body is chunked.
    :param expect_continue: an HTTP/1.1 client waits for ``100 Continue``.
    :param keep_alive: the client allows the connection to be reused.
    """

    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    http_version: bytes
    content_length: int | None
    chunked: bool
    expect_continue: bool
    keep_alive: bool


_new_head = tuple.__new__

_BARE_LF = "bare LF in request head"


def _reject(reason: str, status: int = 400) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status)


def find_head_end(buffer: bytes | bytearray, limits: Limits) -> int:
    """Return the index just past the blank line ending the head, or -1.

    Raises ``400`` for a bare LF, ``414`` or ``431`` as soon as the bytes
    present prove it, whether or not the head is complete yet: a head whose
    lines end in bare LF never ends in CRLF CRLF, and would otherwise wait for
    the header timeout.  A complete head is left to :func:`screen_head`, which
    gives the same verdicts in the same order.

    :param buffer: received bytes, starting at the request line.
    :param limits: the limits to enforce.
    :raises RemoteProtocolError: a bare LF, or a size limit is exceeded.
    """
    head_limit = limits.max_head_size + 4
    end = buffer.find(b"\r\n\r\n", 0, head_limit)
    if 0 <= end <= limits.max_request_line:
        # The usual head: its request line, which ends at or before the blank line, is
        # within the limit, and no CRLF CRLF can come before that line's end; one
        # search instead of two (deliberate, see bench/NOTES.md).
        return end + 4
    line_limit = limits.max_request_line + 2
    line_end = buffer.find(b"\r\n", 0, line_limit)
    if line_end < 0:
        # No CRLF in this window, so any LF in it is a bare one.
        if buffer.find(b"\n", 0, line_limit) >= 0:
            raise _reject(_BARE_LF)
        if len(buffer) > limits.max_request_line + 1:
            raise _reject("request line too long", 414)
        return -1
    end = buffer.find(b"\r\n\r\n", line_end, head_limit)
    if end < 0:
        # Only an incomplete head pays for these counts.  From the start: a
        # bare LF may come before the first CRLF as well.
        if buffer.count(b"\n", 0, head_limit) != buffer.count(b"\r\n", 0, head_limit):
            raise _reject(_BARE_LF)
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
    match = _HEAD.fullmatch(text)
    if match is None:
        raise _refusal(text, limits)
    method, target, major, minor, block = match.groups()
    # The verdicts in the order _refusal() gives them: the sizes, then the version.
    if match.end(4) > limits.max_request_line:
        raise _reject("request line too long", 414)
    # Each line of a block _HEAD accepted is a name, a colon and a value with the
    # blanks around it: splits take them apart, at a fraction of a regex's cost.
    lines = block[2:].split(b"\r\n") if block else ()
    if len(lines) > limits.max_header_count:
        raise _reject("too many header fields", 431)
    if major != b"1":
        raise _reject("HTTP version not supported", 505)
    # RFC 9110 section 2.5: a higher minor version of HTTP/1 is processed as
    # the highest one implemented, with all of 1.1's requirements (Host).
    version = b"1.0" if minor == b"0" else b"1.1"

    # One walk over the fields lowercases their names and notes the framing
    # ones, with lists only for those a request has (most have none of them;
    # see bench/NOTES.md).
    headers: list[tuple[bytes, bytes]] = []
    append = headers.append
    special = _SPECIAL.get
    hosts = 0
    host = b""
    lengths: list[bytes] | None = None
    codings: list[bytes] | None = None
    connection_tokens: list[bytes] | None = None
    expect: bytes | None = None
    for line in lines:
        name, _, value = line.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        append((name, value))
        kind = special(name)
        if kind is None:
            continue
        if kind == _HOST:
            hosts += 1
            host = value
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
    # Empty is valid (RFC 9112 section 3.2: a target without an authority).  A
    # name with or without a port is settled by two strips; the regex runs only
    # on the rest (deliberate: cheaper per request, see bench/instructions.py).
    if host:
        rest = host.lstrip(_REG_NAME_OCTETS)
        if rest and rest.rstrip(b"0123456789") != b":" and _HOST_VALUE.fullmatch(host) is None:
            raise _reject("invalid Host header")

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
    return _new_head(Head, (method, target, headers, version, content_length, chunked,
                            expect_continue, keep_alive))


def _refusal(text: bytes, limits: Limits) -> RemoteProtocolError:
    """The verdict on a head that _HEAD does not accept, the first rule it breaks.

    :param text: the head without its blank line.
    :param limits: the limits to enforce.
    """
    field_count = text.count(b"\r\n")
    # Every byte a head may hold outside its line ends is one a field value may
    # hold: deleting them leaves exactly one CRLF per header line, or the head has
    # a control character or a bare CR or LF.  The count must be the head's own: a
    # bare CR and a bare LF around a field octet ("\r\x80\n") leave a CRLF once the
    # octet is deleted.
    rest = text.translate(None, FIELD_OCTETS)
    bad_octets = rest != b"\r\n" * field_count
    # The bare LF verdict, then the size verdicts, come first so that they match
    # what find_head_end says about the same bytes when they arrive incomplete.
    if bad_octets and text.count(b"\n") != field_count:
        return _reject(_BARE_LF)
    line_end = text.find(b"\r\n")
    request_line = text if line_end < 0 else text[:line_end]
    if len(request_line) > limits.max_request_line:
        return _reject("request line too long", 414)
    if field_count > limits.max_header_count:
        return _reject("too many header fields", 431)
    if bad_octets:
        if rest.translate(None, b"\r\n"):
            return _reject("control character in request head")
        return _reject("bare CR in request head")
    match = _REQUEST_LINE.fullmatch(request_line)
    if match is None:
        return _reject("malformed request line")
    if match.group(3) != b"1":
        return _reject("HTTP version not supported", 505)
    if b"\r\n " in text or b"\r\n\t" in text:
        return _reject("obsolete line folding in header section")
    return _reject("malformed header field")


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
