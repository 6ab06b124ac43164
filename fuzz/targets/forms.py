"""Fuzz target: query strings and urlencoded bodies.

Findings: an exception other than :class:`~crosswind.errors.RequestError`, a result
that differs from :func:`urllib.parse.parse_qsl` (what Tornado and werkzeug build on),
and :func:`~crosswind.forms.encode_query` output that does not parse back to the
same fields.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from _common import FuzzFinding
from crosswind.errors import RequestError
from crosswind.forms import encode_query, parse_qs, parse_urlencoded


def _grouped(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    order = list(dict.fromkeys(name for name, _ in pairs))
    return [(name, value) for key in order for name, value in pairs if name == key]


def test_one_input(data: bytes) -> None:
    try:
        fields = parse_urlencoded(data, max_fields=10**6)
    except RequestError:
        fields = None
    try:
        as_query = parse_qs(data, max_fields=10**6)
    except RequestError:
        as_query = None
    if (fields is None) != (as_query is None) or (
        fields is not None and as_query is not None and fields != as_query
    ):
        raise FuzzFinding("a body and the same query string parse differently")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        try:
            reference = parse_qsl(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            reference = None
        if reference is None:
            if as_query is not None:
                raise FuzzFinding("accepted a query Python refuses as not UTF-8")
        elif as_query is None or as_query.items(multi=True) != _grouped(reference):
            raise FuzzFinding(f"differs from parse_qsl: {reference!r}")
    if as_query is not None:
        pairs = as_query.items(multi=True)
        if parse_qs(encode_query(pairs), max_fields=10**6).items(multi=True) != pairs:
            raise FuzzFinding("encode_query does not round-trip")
