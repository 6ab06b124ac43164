"""Framing of a chunked request body, checked before an engine parses it.

:class:`ChunkedScanner` walks the chunked coding (RFC 9112 section 7.1) and
reports how many bytes of the input belong to the current message, so the
policy layer can keep any pipelined request behind them.  It rejects what
engines are lenient about: control characters in chunk extensions, chunk
sizes without a digit cap, a chunk not followed by CRLF, oversized size lines
and trailer sections.  A framing line (size line, trailer line, the CRLF
after chunk data) ending in a bare LF is refused as soon as that LF arrives:
the scanner never waits for more bytes behind it.

A size line that declares more than the body may hold (``max_body`` in
:meth:`ChunkedScanner.scan`) is answered with ``413`` when the line is read,
before any of that chunk's data is waited for.

Trailer fields get the checks header fields get, and the framing fields
(``Content-Length``, ``Transfer-Encoding``) are refused there: RFC 9110
section 6.5.1 forbids them in trailers, and h11 would reinterpret them.

What it accepts it also re-emits (:meth:`ChunkedScanner.take_output`), in
one of two forms:

* canonical chunked bytes (the default), for an engine that parses the
  framing itself: size lines without extensions or whitespace, the same data
  and trailers.  Engines differ in which valid extension syntax they parse
  (h11 refuses whitespace before ``;``), and none uses extensions, so they
  get none;
* with ``decode=True``, the body data alone, and the trailer fields in
  :attr:`ChunkedScanner.trailers`, for an engine that trusts this scan
  instead of parsing the framing a second time.
"""

from __future__ import annotations

import re

from ...errors import RemoteProtocolError, RequestError
from ...grammar import FIELD_CHAR, TCHAR

__all__ = ["ChunkedScanner"]

# At most 16 hex digits: a size that fits in 64 bits, never int() on raw input.
# Extensions are vetted for control characters (held to the octets of a field
# value), not parsed: nobody uses them, and a structural regex with nested
# repeats can backtrack badly.
_SIZE_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})[ \t]*(;" + FIELD_CHAR.encode("ascii") + rb"*)?"
)
_TRAILER_LINE = re.compile(
    rf"({TCHAR}+):[ \t]*({FIELD_CHAR}*)".encode("ascii")
)
_FRAMING_FIELDS = (b"content-length", b"transfer-encoding")

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedScanner:
    """Follows a chunked body through arbitrary splits of its bytes.

    :param max_line: longest chunk-size line (with extensions) accepted.
    :param max_trailer: largest trailer section accepted, in bytes.
    :param decode: emit the body data alone and collect the trailers in
        :attr:`trailers`, instead of emitting canonical chunked bytes.
    """

    __slots__ = (
        "_decode", "_declared", "_line", "_max_line", "_max_trailer", "_output", "_remaining",
        "_state", "_trailer_size", "trailers",
    )

    def __init__(self, max_line: int = 4096, max_trailer: int = 65536, *,
                 decode: bool = False) -> None:
        self._decode = decode
        #: With ``decode=True``: the trailer fields seen so far, names
        #: lowercased and values stripped, as header fields are reported.
        self.trailers: list[tuple[bytes, bytes]] = []
        self._state = _SIZE
        self._line = bytearray()
        self._remaining = 0
        self._declared = 0  # body bytes the size lines so far announced
        self._max_line = max_line
        self._max_trailer = max_trailer
        self._trailer_size = 0
        self._output = bytearray()

    @property
    def done(self) -> bool:
        """True once the last chunk and the trailer section have been seen."""
        return self._state == _DONE

    def take_output(self) -> bytes:
        """Return what the bytes scanned since the last call carried.

        Canonical chunked bytes, or with ``decode=True`` the body data.  A
        framing line appears only once it is complete, so canonical output
        can lag the input count by one partial line.
        """
        output = bytes(self._output)
        self._output.clear()
        return output

    def scan(self, data: bytes | bytearray, start: int = 0, *,
             max_body: int | None = None) -> int:
        """Consume ``data[start:]`` and return how many bytes belong to the body.

        The count is smaller than the input only when the body ends inside it.

        :param data: the buffered input.
        :param start: where the unscanned part of *data* begins.
        :param max_body: the body size allowed now, or ``None`` for no limit.
            A size line that takes the sizes announced so far above it is
            refused when it is read; the caller passes the limit on each call
            because it may change between them.
        :raises RemoteProtocolError: on malformed chunked framing.
        :raises RequestError: a chunk would take the body over *max_body* (413).
        """
        pos = start
        end = len(data)
        output = self._output
        decode = self._decode
        while pos < end and self._state != _DONE:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                output += data[pos : pos + take]
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _DATA_END
                continue
            newline = data.find(b"\n", pos)
            stop = end if newline < 0 else newline + 1
            self._line += data[pos:stop]
            pos = stop
            limit = self._max_line if state != _TRAILER else self._max_trailer
            if len(self._line) > limit + 2:
                raise RemoteProtocolError("chunk size line or trailer too long", 400)
            if newline < 0:
                continue
            line = bytes(self._line)
            self._line.clear()
            if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
                raise RemoteProtocolError("chunked framing line not ended by CRLF", 400)
            line = line[:-2]
            if state == _DATA_END:
                if line:
                    raise RemoteProtocolError("chunk data not followed by CRLF", 400)
                if not decode:
                    output += b"\r\n"
                self._state = _SIZE
            elif state == _SIZE:
                match = _SIZE_LINE.fullmatch(line)
                if match is None:
                    raise RemoteProtocolError("malformed chunk size line", 400)
                size = int(match.group(1), 16)
                self._declared += size
                if max_body is not None and self._declared > max_body:
                    raise RequestError("request body too large", 413)
                if not decode:
                    output += b"%x\r\n" % size
                if size:
                    self._remaining = size
                    self._state = _DATA
                else:
                    self._state = _TRAILER
            else:  # _TRAILER
                if not line:
                    if not decode:
                        output += b"\r\n"
                    self._state = _DONE
                    continue
                self._trailer_size += len(line) + 2
                if self._trailer_size > self._max_trailer:
                    raise RemoteProtocolError("trailer section too large", 431)
                field = _TRAILER_LINE.fullmatch(line)
                if field is None:
                    raise RemoteProtocolError("malformed trailer field", 400)
                name = field.group(1).lower()
                if name in _FRAMING_FIELDS:
                    raise RemoteProtocolError("framing field in trailer section", 400)
                if decode:
                    self.trailers.append((name, field.group(2).rstrip(b" \t")))
                else:
                    output += line + b"\r\n"
        return pos - start
