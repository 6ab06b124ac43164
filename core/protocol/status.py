"""Reason phrases for HTTP status codes."""

from __future__ import annotations

from http import HTTPStatus

__all__ = ["reason_phrase"]

_PHRASES = {status.value: status.phrase.encode("ascii") for status in HTTPStatus}
# RFC 9110 renamed these; the stdlib of Python 3.11 still has the old names.
_PHRASES[413] = b"Content Too Large"
_PHRASES[422] = b"Unprocessable Content"


def reason_phrase(status: int) -> bytes:
    """The standard reason phrase for *status*, or ``b"Unknown"``."""
    return _PHRASES.get(status, b"Unknown")
