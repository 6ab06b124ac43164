"""HTTP-date (RFC 9110 section 5.6.7) parsing and formatting."""

from __future__ import annotations

import datetime
import email.utils
import functools
from collections.abc import Callable

__all__ = ["DateCache", "format_http_date", "parse_http_date"]

_Timestamp = float | int | datetime.datetime


def format_http_date(when: _Timestamp) -> str:
    """Format *when* as an IMF-fixdate such as ``Sun, 06 Nov 1994 08:49:37 GMT``.

    :param when: a POSIX timestamp, or a datetime (naive ones are taken as UTC).
    """
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        when = when.timestamp()
    return email.utils.formatdate(when, usegmt=True)


def parse_http_date(value: str) -> datetime.datetime | None:
    """Parse any of the three HTTP-date forms into an aware UTC datetime.

    Returns ``None`` for anything that is not a date, never raises.
    """
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return parsed.astimezone(datetime.UTC)
    except (TypeError, ValueError, IndexError, OverflowError, AttributeError):
        # Not a date, or one whose offset moves it outside datetime's range.
        return None


@functools.lru_cache(maxsize=4)
def _date_forms(second: float) -> tuple[str, bytes, bytes]:
    """The HTTP-date of *second* as text, as bytes and as a ``Date`` field line.

    Shared by every :class:`DateCache`: the HTTP/1.1 and HTTP/2 connections
    make one each, and a new connection in a second already formatted then
    formats nothing.
    """
    text = format_http_date(second)
    data = text.encode("ascii")
    return text, data, b"Date: " + data + b"\r\n"


class DateCache:
    """The current second as an HTTP-date, formatted once per second.

    A server stamps every response with ``Date`` (RFC 9110 section 6.6.1), and
    the value changes once a second: formatting it per response would redo the
    same work thousands of times.  Both forms are kept, for callers that write
    headers as text and for those that write bytes.

    :param clock: POSIX seconds, such as :func:`time.time`.
    """

    __slots__ = ("_bytes", "_line", "_second", "_text", "clock")

    def __init__(self, clock: Callable[[], float]) -> None:
        #: The clock read on every call; assignable.
        self.clock = clock
        self._second = -1.0
        self._text = ""
        self._bytes = b""
        self._line = b""

    def _refresh(self, second: float) -> None:
        self._text, self._bytes, self._line = _date_forms(second)
        self._second = second

    def as_str(self) -> str:
        """The HTTP-date of the clock's current second, as ``str``."""
        # Floor division, not int(): a float operation instead of a call to
        # the int type, on every response (see bench/NOTES.md).
        second = self.clock() // 1
        if second != self._second:
            self._refresh(second)
        return self._text

    def as_bytes(self) -> bytes:
        """The HTTP-date of the clock's current second, as ``bytes``."""
        second = self.clock() // 1
        if second != self._second:
            self._refresh(second)
        return self._bytes

    def field_line(self) -> bytes:
        """The ``Date`` field of the clock's current second: ``Date: ...`` and CRLF."""
        second = self.clock() // 1
        if second != self._second:
            self._refresh(second)
        return self._line
