"""Byte-range requests (RFC 9110 section 14): ``Range``, ``Content-Range``
and ``multipart/byteranges`` bodies.

Ranges are returned half-open, ``(start, end)`` with *end* exclusive, so
``body[start:end]`` is the selected part; the inclusive ``first-last`` form
only appears on the wire.

Outcomes of :func:`parse_range_header` follow section 14.2: a header that is
not a valid ``bytes`` ranges-specifier is ignored (``None``, answer 200 with
the whole representation); a valid one none of whose ranges fall inside the
representation raises :class:`RangeNotSatisfiable` (answer 416).

Abuse (CVE-2011-3192 style) is handled as section 15.5.17 allows: more than
*max_ranges* range-specs is rejected with 416, which costs the server
nothing, rather than ignored, which would send the whole representation.
Overlapping or adjacent ranges are coalesced, so the parts served never add
up to more bytes than the representation has.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from .errors import RequestError

__all__ = [
    "DEFAULT_MAX_RANGES",
    "RangeNotSatisfiable",
    "build_byteranges",
    "byteranges_content_type",
    "format_content_range",
    "format_unsatisfied_range",
    "make_boundary",
    "parse_range_header",
]

DEFAULT_MAX_RANGES = 16
# Longer numbers are beyond any real size; capping them keeps int() cheap.
_MAX_DIGITS = 20
_HUGE = 10**_MAX_DIGITS
_SPEC_RE = re.compile(r"([0-9]*)-([0-9]*)")
# RFC 2046 boundary characters, 1 to 70 of them, not ending in a space.
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


class RangeNotSatisfiable(RequestError):
    """No requested range overlaps the representation, or too many were asked for.

    :param size: the representation's length, for ``Content-Range: bytes */size``.
    :param reason: a short explanation safe to send to the client.
    """

    def __init__(self, size: int, reason: str = "Requested range not satisfiable") -> None:
        super().__init__(reason, status_code=416)
        self.size = size
        self.content_range = format_unsatisfied_range(size)


def _position(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _HUGE if len(digits) > _MAX_DIGITS else int(digits)


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    ordered = sorted(ranges)
    merged = [ordered[0]]
    for start, end in ordered[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def parse_range_header(
    value: str | None, size: int, *, max_ranges: int = DEFAULT_MAX_RANGES
) -> list[tuple[int, int]] | None:
    """Resolve a ``Range`` header against a representation of *size* bytes.

    :param value: the ``Range`` field value, or ``None`` if absent.
    :param size: the length of the selected representation.
    :param max_ranges: the most range-specs one request may contain.
    :returns: the satisfiable ranges as half-open ``(start, end)`` pairs in the
        client's order (sorted and merged instead if any overlap or touch),
        or ``None`` if the header must be ignored: absent, not ``bytes``,
        syntactically invalid, or a suffix range of an empty representation
        (whose whole, empty body is the answer).
    :raises RangeNotSatisfiable: if the header is valid but no range overlaps
        the representation, or it has more than *max_ranges* range-specs.
    :raises ValueError: if *size* is negative.
    """
    if size < 0:
        raise ValueError(f"representation size must not be negative, got {size}")
    if value is None:
        return None
    unit, equals, range_set = value.strip(" \t").partition("=")
    if not equals or unit.lower() != "bytes":
        return None
    specs = [spec.strip(" \t") for spec in range_set.split(",")]
    specs = [spec for spec in specs if spec]
    if not specs:
        return None
    parsed: list[tuple[int | None, int | None]] = []
    for spec in specs:
        match = _SPEC_RE.fullmatch(spec)
        if match is None:
            return None
        first, last = match.groups()
        if first:
            low, high = _position(first), (_position(last) if last else None)
            if high is not None and high < low:
                return None
            parsed.append((low, high))
        elif last:
            parsed.append((None, _position(last)))
        else:
            return None
    if len(parsed) > max_ranges:
        raise RangeNotSatisfiable(size, "Too many ranges requested")
    satisfiable: list[tuple[int, int]] = []
    wants_suffix = False
    for start, stop in parsed:
        if start is None:
            assert stop is not None
            if stop > 0:
                wants_suffix = True
                if size > 0:
                    satisfiable.append((max(size - stop, 0), size))
        elif start < size:
            satisfiable.append((start, size if stop is None else min(stop + 1, size)))
    if not satisfiable:
        if size == 0 and wants_suffix:
            return None
        raise RangeNotSatisfiable(size)
    ordered = sorted(satisfiable)
    if any(b[0] <= a[1] for a, b in zip(ordered, ordered[1:], strict=False)):
        return _coalesce(satisfiable)
    return satisfiable


def format_content_range(start: int, end: int, size: int | None) -> str:
    """Format a ``Content-Range`` value for a part being sent.

    :param start: first byte offset, inclusive.
    :param end: end offset, exclusive (as returned by :func:`parse_range_header`).
    :param size: the whole representation's length, or ``None`` if unknown.
    :returns: e.g. ``bytes 0-499/1234``.
    :raises ValueError: for an empty or out-of-bounds range.
    """
    if not 0 <= start < end or (size is not None and end > size):
        raise ValueError(f"invalid range [{start}, {end}) for size {size}")
    return f"bytes {start}-{end - 1}/{'*' if size is None else size}"


def format_unsatisfied_range(size: int) -> str:
    """Format the ``Content-Range`` value a 416 response carries.

    :param size: the representation's length.
    :returns: e.g. ``bytes */1234``.
    """
    return f"bytes */{size}"


def make_boundary(token_source: Callable[[int], bytes]) -> str:
    """Create a multipart boundary that cannot occur in the body by chance.

    :param token_source: returns that many random bytes.
    :returns: 32 hex characters.
    """
    return token_source(16).hex()


def byteranges_content_type(boundary: str) -> str:
    """The ``Content-Type`` of a 206 response carrying several ranges.

    :param boundary: the boundary passed to :func:`build_byteranges`.
    """
    return f"multipart/byteranges; boundary={boundary}"


def build_byteranges(
    parts: Iterable[tuple[int, int, bytes]],
    content_type: str | None,
    size: int,
    boundary: str,
) -> bytes:
    """Build a ``multipart/byteranges`` body (RFC 9110 section 14.6).

    :param parts: ``(start, end, data)`` for each range, *end* exclusive and
        ``len(data) == end - start``, in the order to send them.
    :param content_type: the representation's media type, repeated in each
        part, or ``None`` to omit it.
    :param size: the whole representation's length.
    :param boundary: the delimiter, 1-70 RFC 2046 boundary characters.
    :returns: the complete body, closing delimiter included.
    :raises ValueError: for a bad boundary, a part whose data does not match
        its range, or no parts at all.
    """
    if not _BOUNDARY_RE.fullmatch(boundary):
        raise ValueError(f"invalid multipart boundary {boundary!r}")
    delimiter = f"--{boundary}\r\n".encode("ascii")
    chunks: list[bytes] = []
    for start, end, data in parts:
        if len(data) != end - start:
            raise ValueError(f"part [{start}, {end}) has {len(data)} bytes of data")
        head = f"Content-Range: {format_content_range(start, end, size)}\r\n"
        if content_type is not None:
            if "\r" in content_type or "\n" in content_type:
                raise ValueError("content_type must not contain line breaks")
            head = f"Content-Type: {content_type}\r\n{head}"
        chunks += [delimiter, head.encode("latin-1"), b"\r\n", data, b"\r\n"]
    if not chunks:
        raise ValueError("a multipart/byteranges body needs at least one part")
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks)
