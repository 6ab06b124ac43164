"""HTTP-date (RFC 9110 section 5.6.7) parsing and formatting."""

from __future__ import annotations

import datetime
import email.utils

__all__ = ["format_http_date", "parse_http_date"]

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
