"""Serializing responses: the status line, the header block and body framing.

The framing rules of RFC 9112 section 6, decided once per response:

* no body at all for a response to ``HEAD`` and for 1xx, 204 and 304 (the
  headers stay as the application set them, so ``HEAD`` reports the length a
  ``GET`` would have);
* a ``Content-Length`` the application set is held to: more bytes than it
  declared, or fewer by the end, is a :class:`LocalProtocolError`;
* otherwise ``Transfer-Encoding: chunked`` for HTTP/1.1 clients, and for
  HTTP/1.0 clients a body delimited by closing the connection.

Every header name must be a token and no value may hold a control
character other than HTAB: whatever the application passes, nothing it
writes can split the header block.  Serializing here rather than in h11
saves about 20 µs per request (``bench/bench_h11_cycle.py``): h11 validated
each header again and ran its state machine for events that carry no
decision crosswind has not already made.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import LocalProtocolError
from .status import reason_phrase

__all__ = ["CONTINUE", "ResponseWriter"]

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]{1,18}")
# Names seen valid once need no regex again; real applications use a few
# dozen.  Bounded so a hostile application cannot grow it without limit.
_VALID_NAMES: set[bytes] = set()
_MAX_REMEMBERED = 512

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

_NONE, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(4)


class ResponseWriter:
    """Frames the response to one request.

    :param head_request: the request was ``HEAD``: send no body bytes.
    :param http10: the client speaks HTTP/1.0 (no chunked coding).
    """

    __slots__ = ("_head_request", "_http10", "_mode", "_remaining")

    def __init__(self, *, head_request: bool, http10: bool) -> None:
        self._head_request = head_request
        self._http10 = http10
        self._mode = _NONE
        self._remaining = 0

    def head(
        self,
        status: int,
        headers: Iterable[tuple[bytes, bytes]],
        reason: bytes,
        keep_alive: bool,
    ) -> tuple[bytes, bool]:
        """Serialize the status line and headers.

        :returns: the bytes, and whether the connection can stay open after
            this response (a close-delimited body cannot).
        :raises LocalProtocolError: a header is not valid HTTP.
        """
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, reason or reason_phrase(status))]
        length: bytes | None = None
        chunked = False
        says_close = False
        for name, value in headers:
            if name not in _VALID_NAMES:
                if _TOKEN.fullmatch(name) is None:
                    raise LocalProtocolError(f"invalid response header name {name!r}")
                if len(_VALID_NAMES) < _MAX_REMEMBERED:
                    _VALID_NAMES.add(name)
            if _BAD_VALUE.search(value) is not None:
                raise LocalProtocolError(
                    f"response header {name.decode('latin-1')!r} has a control character"
                )
            lowered = name.lower()
            if lowered == b"content-length":
                if length is not None and value != length or _DIGITS.fullmatch(value) is None:
                    raise LocalProtocolError(f"invalid Content-Length {value!r}")
                length = value
            elif lowered == b"transfer-encoding":
                if value.strip().lower() != b"chunked":
                    raise LocalProtocolError(f"unsupported response Transfer-Encoding {value!r}")
                chunked = True
                if self._http10:
                    continue  # an HTTP/1.0 client cannot read chunks
            elif lowered == b"connection" and b"close" in value.lower():
                says_close = True
            lines.append(b"%s: %s\r\n" % (name, value))

        if self._head_request or status < 200 or status in (204, 304):
            self._mode = _NONE
        elif length is not None and not chunked:
            self._mode = _LENGTH
            self._remaining = int(length)
        elif not self._http10:
            self._mode = _CHUNKED
            if not chunked:
                lines.append(b"Transfer-Encoding: chunked\r\n")
        else:
            self._mode = _UNTIL_CLOSE
            keep_alive = False
        if says_close:
            keep_alive = False
        elif not keep_alive:
            lines.append(b"Connection: close\r\n")
        elif self._http10:
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        return b"".join(lines), keep_alive

    def data(self, data: bytes) -> bytes:
        """Frame a piece of the body."""
        mode = self._mode
        if mode == _LENGTH:
            if len(data) > self._remaining:
                raise LocalProtocolError("response body longer than its Content-Length")
            self._remaining -= len(data)
            return data
        if mode == _CHUNKED:
            return b"%x\r\n%s\r\n" % (len(data), data) if data else b""
        if mode == _UNTIL_CLOSE:
            return data
        return b""

    def end(self) -> bytes:
        """Frame the end of the body."""
        mode = self._mode
        if mode == _CHUNKED:
            return b"0\r\n\r\n"
        if mode == _LENGTH and self._remaining:
            raise LocalProtocolError("response body shorter than its Content-Length")
        return b""
