"""Serializing responses: the status line, the header block and body framing.

The framing rules of RFC 9112 section 6, decided once per response:

* no body at all for a response to ``HEAD`` and for 1xx, 204 and 304 (the
  headers stay as the application set them, so ``HEAD`` reports the length a
  ``GET`` would have);
* a ``Content-Length`` the application set is held to: more bytes than it
  declared, or fewer by the end, is a :class:`LocalProtocolError`;
* otherwise ``Transfer-Encoding: chunked`` for HTTP/1.1 clients, and for
  HTTP/1.0 clients a body delimited by closing the connection.

The header block also carries the fields RFC 9110 asks of every origin
server's response, unless the application set its own: ``Date`` (section
6.6.1) when the writer is given a wall clock, and ``Server`` (section 10.2.4)
when it is given a value for it.  The walk over the application's fields that
finds the framing fields notes these two as well, so a response that already
has them (every ``crosswind.web`` response) costs nothing more.

Every header name must be a token and no value, nor the reason phrase, may
hold a control character other than HTAB (the rule of :mod:`crosswind.grammar`,
which :class:`~crosswind.headers.Headers` and the WSGI and ASGI adapters keep
too): whatever the application passes, nothing it writes can split the header
block, and a refusal is a :class:`LocalProtocolError` that names the header.

Serializing here rather than in h11 is deliberate (``bench/NOTES.md``): h11
validated each header again and ran its state machine for events that carry no
decision crosswind has not already made.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from contextlib import suppress
from typing import Any, NamedTuple

from ...errors import LocalProtocolError
from ...grammar import FIELD_OCTETS, field_problem, is_token
from ...httpdate import DateCache
from ..status import reason_phrase

__all__ = ["CONTINUE", "SERVER_NAME", "ResponseWriter", "server_line"]

_DIGITS = re.compile(rb"[0-9]{1,18}")
_TEXT_DIGITS = re.compile(_DIGITS.pattern.decode("ascii"))

_OTHER, _LENGTH_FIELD, _CODING_FIELD, _CONNECTION_FIELD = range(4)
# Bits, above the framing kinds: head() ORs together the ones it sees.
_DATE_FIELD, _SERVER_FIELD = 4, 8
_BOTH_NOTED = _DATE_FIELD | _SERVER_FIELD
_FIELD_KINDS = {
    b"content-length": _LENGTH_FIELD,
    b"transfer-encoding": _CODING_FIELD,
    b"connection": _CONNECTION_FIELD,
    b"date": _DATE_FIELD,
    b"server": _SERVER_FIELD,
}
# Names seen valid once (bytes or str), with what they mean here.  Real applications
# use a few dozen names; bounded so a hostile application cannot grow it without limit.
_KNOWN_NAMES: dict[bytes | str, int] = {}
_MAX_REMEMBERED = 512


class _Line(NamedTuple):
    """A response field as head() writes it, made once per distinct field."""

    kind: int
    #: The whole line, ``name: value`` and CRLF, as bytes.
    line: bytes
    #: What the value means for framing: the length of a ``Content-Length``, whether a
    #: ``Transfer-Encoding`` is a valid ``chunked`` or a ``Connection`` says ``close``;
    #: ``None`` for a value that is not a valid length or coding.
    meaning: int | bool | None


# Fields already written once, by (name, value) as the application passed them, one
# table for bytes fields and one for text: most responses repeat the fields of earlier
# ones (Content-Type, Server, the Date of this second, a Content-Length), and each is
# then looked up instead of being concatenated, encoded, validated and, for the framing
# fields, parsed again (deliberate, see bench/NOTES.md).  Only lines that passed the
# block check are kept.  Emptied when full: values that never repeat (an ETag of
# changing content, say) cannot grow it, and the common fields come back at once.
_BYTES_LINES: dict[tuple[bytes, bytes], _Line] = {}
_TEXT_LINES: dict[tuple[str, str], _Line] = {}
_MAX_LINES = 512
# Longer lines are written every time rather than kept.
_MAX_KEPT_LINE = 1024

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

#: The ``Server`` value crosswind sends: the product alone, without its
#: version, which RFC 9110 section 10.2.4 counts as needless detail that
#: helps an attacker more than anyone else.
SERVER_NAME = "crosswind"

_NONE, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(4)
# The mode between reset() and head(): no head written yet (data() and end() add nothing).
_NO_HEAD = -1

# Status lines with the standard phrase, asked for by b"" or by the phrase
# itself: a lookup instead of a call and a format (see bench/NOTES.md).
_STATUS_LINES: dict[tuple[int, bytes], bytes] = {}
for _status in range(100, 600):
    _phrase = reason_phrase(_status)
    if _phrase != b"Unknown":
        _STATUS_LINES[_status, b""] = _STATUS_LINES[_status, _phrase] = (
            b"HTTP/1.1 %d %s\r\n" % (_status, _phrase)
        )
del _status, _phrase

_MIXED = "response header names and values must be all bytes or all str"


def _name_kind(name: bytes | str) -> int:
    """Validate a header name not seen before and say what it means for framing."""
    if type(name) is not str and type(name) is not bytes:
        raise LocalProtocolError(f"invalid response header name {name!r}")
    if not is_token(name):
        raise LocalProtocolError(f"response {field_problem(name)}")
    raw = name.encode("ascii") if isinstance(name, str) else name
    kind = _FIELD_KINDS.get(raw.lower(), _OTHER)
    if len(_KNOWN_NAMES) < _MAX_REMEMBERED:
        _KNOWN_NAMES[name] = kind
    return kind


def _new_line(name: Any, value: Any, text: bool) -> _Line | None:
    """Write a field that is not in the tables yet; ``None`` if it is no latin-1 text.

    Control characters are left to the block check of head(), which sees every line.

    :raises LocalProtocolError: the name is not a token, or names and values are not
        all of the type of the first name.
    """
    try:
        kind = _KNOWN_NAMES.get(name)
        if kind is None:
            kind = _name_kind(name)
        # Concatenation, not %: a str among bytes (or bytes among str) fails here
        # instead of being written as its repr.
        if text:
            line = (name + ": " + value + "\r\n").encode("latin-1")
        else:
            line = name + b": " + value + b"\r\n"
    except TypeError:
        raise LocalProtocolError(_MIXED) from None
    except UnicodeEncodeError:
        return None
    meaning: int | bool | None = None
    if kind == _LENGTH_FIELD:
        if (_TEXT_DIGITS if text else _DIGITS).fullmatch(value) is not None:
            meaning = int(value)
    elif kind == _CODING_FIELD:
        if value.strip().lower() == ("chunked" if text else b"chunked"):
            meaning = True
    elif kind == _CONNECTION_FIELD:
        meaning = ("close" if text else b"close") in value.lower()
    return _Line(kind, line, meaning)


def _keep(lines: dict[Any, _Line], fresh: list[tuple[Any, _Line]]) -> None:
    """Add lines that passed the block check to their table."""
    if len(lines) + len(fresh) > _MAX_LINES:
        lines.clear()
    for field, entry in fresh:
        if len(entry.line) <= _MAX_KEPT_LINE:
            with suppress(TypeError):  # unhashable: written each time
                lines[field] = entry


@functools.lru_cache(maxsize=8)
def server_line(server: str) -> bytes:
    """The ``Server`` field line for *server*, checked once per value, not per connection.

    :raises LocalProtocolError: *server* is not a valid field value.
    """
    problem = field_problem("Server", server)
    if problem is not None:
        raise LocalProtocolError(f"response {problem}")
    return f"Server: {server}\r\n".encode("latin-1")


class ResponseWriter:
    """Frames the response to one request.

    :param head_request: the request was ``HEAD``: send no body bytes.
    :param http10: the client speaks HTTP/1.0 (no chunked coding).
    :param connect: the request was ``CONNECT``: a 2xx answer opens a tunnel
        and carries no framing headers and no body (RFC 9110 section 9.3.6).
    :param date: the wall clock's HTTP-date: every response without a
        ``Date`` field gets one.  ``None`` adds none (a server without a
        clock sends none, RFC 9110 section 6.6.1).
    :param server: the value of a ``Server`` field added to every response
        without one; ``None`` adds none.
    :raises LocalProtocolError: *server* is not a valid field value.
    """

    __slots__ = (
        "_connect", "_date", "_head_request", "_http10", "_mode", "_no_server", "_remaining",
        "_server_line",
    )

    def __init__(
        self,
        *,
        head_request: bool,
        http10: bool,
        connect: bool = False,
        date: DateCache | None = None,
        server: str | None = None,
    ) -> None:
        self._date = date
        self._server_line = None if server is None else server_line(server)
        self.reset(head_request, http10, connect)

    def reset(self, head_request: bool, http10: bool, connect: bool = False) -> None:
        """Start over for the response to another request (arguments as for the class)."""
        self._head_request = head_request
        self._http10 = http10
        self._connect = connect
        self._mode = _NO_HEAD
        self._remaining = 0
        self._no_server = False

    def omit_server(self) -> None:
        """Add no ``Server`` field to this response (one in its headers is still sent)."""
        self._no_server = True

    def head(
        self,
        status: int,
        headers: Iterable[tuple[bytes, bytes]] | Iterable[tuple[str, str]],
        reason: bytes,
        keep_alive: bool,
        length: int | None = None,
        body: bytes | None = None,
    ) -> tuple[bytes, bool]:
        """Serialize the status line and headers (and, given *body*, the whole response).

        :param status: the status code.
        :param headers: ``(name, value)`` pairs, all ``bytes`` or all ``str``
            (sent as latin-1); names in any case.
        :param reason: the reason phrase (``b""``: the standard one).
        :param keep_alive: whether the connection may stay open.
        :param length: the length of the whole body, when it is known up
            front: a ``Content-Length`` field is added unless the headers
            frame the body themselves (or the status has no body).
        :param body: the whole body, with *length* its length: the bytes
            returned are then those of :meth:`data` and :meth:`end` too, in one
            call instead of three.
        :returns: the bytes, and whether the connection can stay open after
            this response (a close-delimited body cannot).
        :raises LocalProtocolError: a header is not valid HTTP, or *body*
            contradicts a ``Content-Length`` of the headers (the head was
            written then: :attr:`head_written` tells the two apart).
        """
        # A list, to look at the first name and, on a refusal, walk the fields again.
        fields: list[tuple[Any, Any]] = headers if type(headers) is list else list(headers)
        # Text fields are written as latin-1 (crosswind.web keeps its headers as str).
        text = type(fields[0][0]) is str if fields else False
        lines: dict[Any, _Line] = _TEXT_LINES if text else _BYTES_LINES
        status_line = _STATUS_LINES.get((status, reason))
        check = status_line is None  # a reason phrase of the application's
        if status_line is None:
            status_line = b"HTTP/1.1 %d %s\r\n" % (status, reason or reason_phrase(status))
        parts = [status_line]
        fresh: list[tuple[Any, _Line]] | None = None  # lines not in the tables yet
        declared = None  # the application's Content-Length value
        number: int | None = None  # the body length, once known
        chunked = False
        says_close = False
        noted = 0  # the _DATE_FIELD and _SERVER_FIELD bits of the fields seen
        tunnel = self._connect and 200 <= status < 300
        for field in fields:
            try:
                entry = lines.get(field)
            except TypeError:  # unhashable: a list, or a bytearray value
                entry = None
            if entry is None:
                name, value = field
                entry = _new_line(name, value, text)
                if entry is None:  # not latin-1
                    raise self._refusal(fields, reason)
                if fresh is None:
                    fresh = []
                fresh.append((field, entry))
            kind, line, meaning = entry
            if kind:
                if kind >= _DATE_FIELD:
                    noted |= kind
                elif tunnel and kind != _CONNECTION_FIELD:
                    continue  # the tunnel's bytes follow, not a framed body
                elif kind == _LENGTH_FIELD:
                    if meaning is None or declared is not None and field[1] != declared:
                        raise LocalProtocolError(f"invalid Content-Length {field[1]!r}")
                    declared = field[1]
                    number = meaning
                elif kind == _CODING_FIELD:
                    if meaning is None:
                        raise LocalProtocolError(
                            f"unsupported response Transfer-Encoding {field[1]!r}"
                        )
                    chunked = True
                    if self._http10:
                        continue  # an HTTP/1.0 client cannot read chunks
                elif meaning:
                    says_close = True
            parts.append(line)
        # One test when the application set both, as crosswind.web does.
        if noted != _BOTH_NOTED:
            date = self._date
            if date is not None and not noted & _DATE_FIELD:
                parts.append(date.field_line())
            server_line = self._server_line
            if server_line is not None and not noted & _SERVER_FIELD and not self._no_server:
                parts.append(server_line)

        no_body = self._head_request or tunnel or status < 200 or status in (204, 304)
        if (
            length is not None
            and declared is None
            and not chunked
            and not tunnel
            and status not in (204, 304)
        ):
            # A HEAD response reports the length the GET would have.
            number = length
            parts.append(b"Content-Length: %d\r\n" % length)
        if no_body:
            mode = _NONE
        elif number is not None and not chunked:
            mode = _LENGTH
            self._remaining = number
        elif not self._http10:
            mode = _CHUNKED
            if not chunked:
                parts.append(b"Transfer-Encoding: chunked\r\n")
        else:
            mode = _UNTIL_CLOSE
            keep_alive = False
        if says_close:
            keep_alive = False
        elif not keep_alive:
            parts.append(b"Connection: close\r\n")
        elif self._http10:
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        block = b"".join(parts)
        if check or fresh is not None:
            # One C-level pass over the whole block instead of a check per value
            # (see bench/NOTES.md): deleting every octet a field value may hold
            # leaves only the line ends put there above, or a control character;
            # the reason phrase is held to the same octets.
            if block.translate(None, FIELD_OCTETS) != b"\r\n" * len(parts):
                raise self._refusal(fields, reason)
            if fresh is not None:
                _keep(lines, fresh)
        # Set once the block passed: a refused head leaves head_written false.
        self._mode = mode
        if body is None:
            return block, keep_alive
        # What data() and end() would add, without their calls.
        if mode == _LENGTH:
            if len(body) != self._remaining:
                self.data(body)  # raises when longer,
                self.end()  # and when shorter
            self._remaining = 0
            return block + body, keep_alive
        if mode == _NONE:
            return block, keep_alive
        return block + self.data(body) + self.end(), keep_alive

    @property
    def head_written(self) -> bool:
        """:meth:`head` has written the head of the current response."""
        return self._mode != _NO_HEAD

    @staticmethod
    def _refusal(headers: Iterable[tuple[Any, Any]], reason: bytes) -> LocalProtocolError:
        """The error for a block that holds what no header may: which field, or the reason."""
        for name, value in headers:
            problem = field_problem(name, value)
            if problem is not None:
                return LocalProtocolError(f"response {problem}")
        return LocalProtocolError(f"reason phrase {reason!r} has a control character")

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
