"""Fuzz target: ``Cookie`` header parsing and the ``Set-Cookie`` round trip.

Findings: ``parse_cookie_header`` raising or returning anything but ``str`` pairs,
``bytes`` and latin-1 text parsing differently, and a cookie that
``format_set_cookie`` accepts not reading back as the same value.
"""

from __future__ import annotations

from _common import FuzzFinding
from crosswind.cookies import format_set_cookie, parse_cookie_header


def test_one_input(data: bytes) -> None:
    text = data.decode("latin-1")
    cookies = parse_cookie_header(text)
    if parse_cookie_header(data) != cookies:
        raise FuzzFinding("bytes and their latin-1 text parse differently")
    for name, value in cookies.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise FuzzFinding(f"non-str cookie {name!r}={value!r}")
        try:
            header = format_set_cookie(name, value, path=None)
        except ValueError:
            continue  # documented: not a token name, or a value with spaces/controls
        if parse_cookie_header(header) != {name: value}:
            raise FuzzFinding(f"{name!r}={value!r} does not survive {header!r}")
