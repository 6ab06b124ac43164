"""Conditional and range request evaluation (RFC 9110 section 13.2.2).

:func:`evaluate` decides, from the request's precondition and ``Range``
headers and the selected representation's validators, which status the
response gets.  Both framework layers call it after they know the ETag and
modification time and before they send anything, so the precedence rules
live in exactly one place.

The caller is responsible for section 13.2.1: preconditions are only
evaluated when the response without them would have been 2xx (or 412).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Mapping
from typing import Any, Protocol

from .etag import parse_etag, parse_etag_list
from .httpdate import parse_http_date
from .ranges import (
    DEFAULT_MAX_RANGES,
    RangeNotSatisfiable,
    format_content_range,
    parse_range_header,
)

__all__ = ["Decision", "HeaderSource", "evaluate"]


class HeaderSource(Protocol):
    """Anything with a ``get(name)`` for request headers."""

    def get(self, name: str, /) -> Any:  # pragma: no cover - protocol
        """Return the header's value, or ``None`` if absent."""
        ...


@dataclasses.dataclass(frozen=True)
class Decision:
    """What to answer a (possibly conditional, possibly ranged) request with.

    :param status: 200 (send the whole representation), 206 (send *ranges*),
        304 (not modified, no body), 412 (precondition failed) or 416 (range
        not satisfiable).
    :param ranges: for 206, the half-open ``(start, end)`` byte ranges to
        send; one range is sent as is, several as ``multipart/byteranges``.
    :param headers: extra response headers: ``Content-Range`` for a single
        range 206 and for 416.  The caller adds validators (``ETag``,
        ``Last-Modified``) itself.
    """

    status: int
    ranges: tuple[tuple[int, int], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"[0-9]{2}:[0-9]{2}:[0-9]{2}"
# RFC 9110 section 5.6.7: IMF-fixdate, then the obsolete RFC 850 and asctime forms.
_HTTP_DATE_RE = re.compile(
    rf"{_DAY}, [0-9]{{2}} {_MONTH} [0-9]{{4}} {_TIME} GMT"
    rf"|{_LONG_DAY}, [0-9]{{2}}-{_MONTH}-[0-9]{{2}} {_TIME} GMT"
    rf"|{_DAY} {_MONTH} (?: [0-9]|[0-9]{{2}}) {_TIME} [0-9]{{4}}"
)

_OK = Decision(200)
_NOT_MODIFIED = Decision(304)
_PRECONDITION_FAILED = Decision(412)


def _header(headers: HeaderSource | Mapping[str, Any], name: str) -> str | None:
    lowered = name.lower()
    value = headers.get(lowered)
    if value is None and lowered != name:
        value = headers.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple):
        # Several field lines of a list-valued field combine with commas.
        return ", ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in value)
    return str(value)


def _to_seconds(when: datetime.datetime | float | None) -> int | None:
    # HTTP-dates have one-second resolution; a sub-second modification time
    # would otherwise never equal the Last-Modified value the client echoes.
    if when is None:
        return None
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        when = when.timestamp()
    return int(when // 1)


def _date_header(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip(" \t")
    # parse_http_date is lenient (it reads the first date of a list, for one),
    # but these fields must be ignored unless they hold exactly one HTTP-date.
    if not _HTTP_DATE_RE.fullmatch(value):
        return None
    try:
        parsed = parse_http_date(value)
    except (OverflowError, ValueError):
        return None
    if parsed is None:
        return None
    return int(parsed.timestamp())


def _if_match(value: str, etag: str | None, exists: bool) -> bool:
    tags = parse_etag_list(value)
    if tags == "*":
        return exists
    current = parse_etag(etag) if etag is not None else None
    if current is None or current[0]:
        return False
    return any(not weak and opaque == current[1] for weak, opaque in tags)


def _if_none_match(value: str, etag: str | None, exists: bool) -> bool:
    tags = parse_etag_list(value)
    if tags == "*":
        return not exists
    current = parse_etag(etag) if etag is not None else None
    if current is None:
        return True
    return all(opaque != current[1] for _, opaque in tags)


def _if_range(value: str, etag: str | None, modified: int | None) -> bool:
    value = value.strip(" \t")
    # An entity-tag starts with a DQUOTE within its first three characters.
    if '"' in value[:3]:
        tag = parse_etag(value)
        current = parse_etag(etag) if etag is not None else None
        return (
            tag is not None
            and current is not None
            and not tag[0]
            and not current[0]
            and tag[1] == current[1]
        )
    since = _date_header(value)
    return since is not None and modified is not None and since == modified


def _ranged(value: str, size: int, max_ranges: int) -> Decision:
    try:
        ranges = parse_range_header(value, size, max_ranges=max_ranges)
    except RangeNotSatisfiable as exc:
        return Decision(416, headers=(("Content-Range", exc.content_range),))
    if ranges is None:
        return _OK
    headers: tuple[tuple[str, str], ...] = ()
    if len(ranges) == 1:
        headers = (("Content-Range", format_content_range(*ranges[0], size)),)
    return Decision(206, ranges=tuple(ranges), headers=headers)


def evaluate(
    method: str,
    request_headers: HeaderSource | Mapping[str, Any],
    *,
    etag: str | None,
    last_modified: datetime.datetime | float | None,
    size: int | None,
    supports_ranges: bool,
    exists: bool = True,
    max_ranges: int = DEFAULT_MAX_RANGES,
) -> Decision:
    """Evaluate preconditions and ``Range`` in the order RFC 9110 13.2.2 fixes.

    1. ``If-Match`` false -> 412; absent, ``If-Unmodified-Since`` false -> 412.
    2. ``If-None-Match`` false -> 304 for GET/HEAD, else 412.
    3. Absent that, for GET/HEAD, ``If-Modified-Since`` false -> 304.
    4. For GET with ``Range`` (and ``If-Range``, if present, true): 206 or 416.
    5. Otherwise 200.

    Unparseable dates make their header ignored; unparseable entity-tags
    match nothing.

    :param method: the request method (case-sensitive, e.g. ``"GET"``).
    :param request_headers: case-insensitive headers with ``get(name)``, or a
        plain dict keyed by lower-cased names.
    :param etag: the selected representation's entity-tag, e.g. ``"abc"`` or
        ``W/"abc"``, or ``None`` if it has none.
    :param last_modified: its modification time (POSIX seconds or datetime;
        naive means UTC), or ``None`` if unknown.
    :param size: its length in bytes, or ``None`` if unknown (no ranges).
    :param supports_ranges: whether the resource can serve byte ranges.
    :param exists: whether the target resource has a current representation
        (``False`` when e.g. a PUT would create it); decides ``*`` matches.
    :param max_ranges: the most range-specs to accept before answering 416.
    :returns: the :class:`Decision`.
    """
    modified = _to_seconds(last_modified)

    if_match = _header(request_headers, "If-Match")
    if if_match is not None:
        if not _if_match(if_match, etag, exists):
            return _PRECONDITION_FAILED
    else:
        since = _date_header(_header(request_headers, "If-Unmodified-Since"))
        if since is not None and modified is not None and modified > since:
            return _PRECONDITION_FAILED

    safe = method in ("GET", "HEAD")
    if_none_match = _header(request_headers, "If-None-Match")
    if if_none_match is not None:
        if not _if_none_match(if_none_match, etag, exists):
            return _NOT_MODIFIED if safe else _PRECONDITION_FAILED
    elif safe:
        since = _date_header(_header(request_headers, "If-Modified-Since"))
        if since is not None and modified is not None and modified <= since:
            return _NOT_MODIFIED

    if method != "GET" or not supports_ranges or size is None:
        return _OK
    range_value = _header(request_headers, "Range")
    if range_value is None:
        return _OK
    if_range = _header(request_headers, "If-Range")
    if if_range is not None and not _if_range(if_range, etag, modified):
        return _OK
    return _ranged(range_value, size, max_ranges)
