"""Entity tags: computing them, parsing lists of them, comparing them.

An entity-tag (RFC 9110 section 8.8.3) is ``[W/]"opaque"``.  The ``W/``
prefix marks a weak validator, one that may stay the same across changes
that do not matter semantically.  Strong comparison (for ``If-Match`` and
``If-Range``) requires both tags to be strong; weak comparison (for
``If-None-Match``) ignores the prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

__all__ = ["compute_etag", "parse_etag", "parse_etag_list", "strong_match", "weak_match"]


def compute_etag(body: bytes | Iterable[bytes]) -> str:
    """Return a strong ETag for a response body, as Tornado computes it.

    :param body: the body, whole (the cheaper form, when it is joined anyway) or
        in any number of pieces.
    :returns: ``"`` + SHA-1 hex digest of the whole body + ``"``.
    """
    if isinstance(body, bytes):
        return '"' + hashlib.sha1(body).hexdigest() + '"'
    hasher = hashlib.sha1()
    for chunk in body:
        hasher.update(chunk)
    return '"' + hasher.hexdigest() + '"'


def _is_etagc(char: str) -> bool:
    # etagc = %x21 / %x23-7E / obs-text: visible ASCII except DQUOTE, plus 0x80-0xFF.
    code = ord(char)
    return code == 0x21 or 0x23 <= code <= 0x7E or 0x80 <= code <= 0xFF


def _scan_tag(text: str, pos: int) -> tuple[tuple[bool, str] | None, int]:
    """Read one entity-tag at *pos*; return it (or None) and the end position."""
    weak = text.startswith("W/", pos)
    start = pos + 2 if weak else pos
    if not text.startswith('"', start):
        return None, pos
    end = start + 1
    while end < len(text) and text[end] != '"':
        if not _is_etagc(text[end]):
            return None, end
        end += 1
    if end >= len(text):
        return None, end
    return (weak, text[start : end + 1]), end + 1


def parse_etag(value: str) -> tuple[bool, str] | None:
    """Parse a single entity-tag such as an ``ETag`` or ``If-Range`` value.

    :param value: the field value; surrounding whitespace is ignored.
    :returns: ``(weak, opaque)`` where *opaque* keeps its double quotes, or
        ``None`` if *value* is not exactly one valid entity-tag.
    """
    text = value.strip(" \t")
    tag, end = _scan_tag(text, 0)
    return tag if tag is not None and end == len(text) else None


def parse_etag_list(header: str | None) -> list[tuple[bool, str]] | Literal["*"]:
    """Parse an ``If-Match`` / ``If-None-Match`` field value.

    Malformed members are skipped rather than failing the whole list, so a
    damaged ``If-Match`` matches nothing (fails safe with 412) and a damaged
    ``If-None-Match`` never produces a 304 by accident.

    :param header: the field value (several field lines joined by commas).
    :returns: ``"*"`` if the value is exactly ``*``; otherwise the list of
        well-formed ``(weak, opaque)`` entity-tags, opaque with its quotes.
    """
    if header is None:
        return []
    text = header.strip(" \t")
    if text == "*":
        return "*"
    tags: list[tuple[bool, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos] in " \t,":
            pos += 1
            continue
        tag, end = _scan_tag(text, pos)
        while end < len(text) and text[end] in " \t":
            end += 1
        if tag is not None and (end == len(text) or text[end] == ","):
            tags.append(tag)
            pos = end
            continue
        # Junk member: skip to the next comma outside a quoted string.
        in_quotes = False
        while pos < len(text) and (in_quotes or text[pos] != ","):
            if text[pos] == '"':
                in_quotes = not in_quotes
            pos += 1
    return tags


def strong_match(a: str | None, b: str | None) -> bool:
    """Strong comparison: both tags valid, neither weak, opaque parts equal.

    :param a: an entity-tag such as ``"xyzzy"`` or ``W/"xyzzy"``.
    :param b: another entity-tag.
    """
    if a is None or b is None:
        return False
    first, second = parse_etag(a), parse_etag(b)
    if first is None or second is None:
        return False
    return not first[0] and not second[0] and first[1] == second[1]


def weak_match(a: str | None, b: str | None) -> bool:
    """Weak comparison: both tags valid and opaque parts equal, weak or not.

    :param a: an entity-tag such as ``"xyzzy"`` or ``W/"xyzzy"``.
    :param b: another entity-tag.
    """
    if a is None or b is None:
        return False
    first, second = parse_etag(a), parse_etag(b)
    if first is None or second is None:
        return False
    return first[1] == second[1]
