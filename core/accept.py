"""Content negotiation headers: ``Accept``, ``Accept-Encoding``, ``Accept-Language`` (RFC 9110 §12)."""

from __future__ import annotations

import re

from .grammar import TCHAR, TOKEN

__all__ = ["accepts_encoding", "parse_accept", "parse_accept_language"]

# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_MEDIA_RANGE = re.compile(f"{TCHAR}+(?:/{TCHAR}+)?")
# RFC 4647 §2.1 language-range, which is what Accept-Language carries.
_LANGUAGE_RANGE = re.compile(r"\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def _weighted(value: str | None, item_pattern: re.Pattern[str]) -> list[tuple[str, str, float]]:
    """Split a weighted list into ``(item, params, q)``, dropping malformed members.

    q=0 members are kept here because "explicitly refused" differs from "not mentioned".
    """
    entries: list[tuple[str, str, float]] = []
    if not value:
        return entries
    for member in value.split(","):
        item, *raw_params = member.split(";")
        item = item.strip()
        if not item_pattern.fullmatch(item):
            continue
        q = 1.0
        params: list[str] = []
        valid = True
        for raw in raw_params:
            name, equals, param_value = raw.partition("=")
            name = name.strip()
            param_value = param_value.strip()
            if not equals or not TOKEN.fullmatch(name):
                valid = False
                break
            if name.lower() == "q":
                if not _QVALUE.fullmatch(param_value):
                    valid = False
                    break
                q = float(param_value)
                # The weight ends the member; RFC 9110 no longer defines anything after it.
                break
            params.append(f"{name.lower()}={param_value}")
        if valid:
            entries.append((item, ";".join(params), q))
    return entries


def _ranked(entries: list[tuple[str, float]]) -> list[tuple[str, float]]:
    # sorted() is stable, so equal weights keep the client's order.
    return sorted(entries, key=lambda entry: -entry[1])


def parse_accept_language(value: str | None) -> list[tuple[str, float]]:
    """Parse ``Accept-Language`` into ``(language_range, q)`` pairs, most preferred first.

    ``'da, en-GB;q=0.8, en;q=0.7'`` gives ``[('da', 1.0), ('en-GB', 0.8), ('en', 0.7)]``.
    Tags keep the client's spelling (compare them case-insensitively).  Members with
    ``q=0``, an invalid q (outside 0..1 or more than three decimals) or a malformed tag
    are dropped.  Equal weights keep the client's order.  Never raises.

    :param value: the header value, or ``None`` when the header is absent.
    """
    entries = _weighted(value, _LANGUAGE_RANGE)
    return _ranked([(item, q) for item, _, q in entries if q > 0])


def parse_accept(value: str | None) -> list[tuple[str, float]]:
    """Parse ``Accept`` or ``Accept-Encoding`` into ``(item, q)`` pairs, most preferred first.

    An item is a lowercased token or media range, followed by its non-q parameters as
    written (``'text/html;level=1'``).  The q rules are those of
    :func:`parse_accept_language`.  Never raises.

    :param value: the header value, or ``None`` when the header is absent.
    """
    ranked = []
    for item, params, q in _weighted(value, _MEDIA_RANGE):
        if q > 0:
            ranked.append((f"{item.lower()};{params}" if params else item.lower(), q))
    return _ranked(ranked)


def accepts_encoding(value: str | None, coding: str) -> bool:
    """Tell whether a response may use content *coding*, given ``Accept-Encoding``.

    Follows RFC 9110 §12.5.3: an explicitly listed coding is acceptable when its q is
    above zero; otherwise ``*`` decides; ``identity`` is acceptable unless refused
    outright; ``x-gzip`` counts as ``gzip``.  One deliberate difference: when the header
    is absent (``None``) only ``identity`` is acceptable, because clients that do not ask
    for compression (curl, many scripts) do not expect it, and Tornado behaves so too.

    :param value: the ``Accept-Encoding`` header value, or ``None`` when absent.
    :param coding: the content coding to test, e.g. ``'gzip'``.
    """
    wanted = _canonical_coding(coding)
    if value is None:
        return wanted == "identity"
    star: float | None = None
    for item, _, q in _weighted(value, TOKEN):
        name = _canonical_coding(item)
        if name == wanted:
            return q > 0
        if name == "*" and star is None:
            star = q
    if star is not None:
        return star > 0
    return wanted == "identity"


def _canonical_coding(coding: str) -> str:
    coding = coding.strip().lower()
    return {"x-gzip": "gzip", "x-compress": "compress"}.get(coding, coding)
