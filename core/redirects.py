"""Checks on redirect targets, so a path from a request cannot send users to another host.

A browser cleans a URL before resolving it: it strips surrounding control
characters and spaces, drops tabs and newlines anywhere, and reads ``\\``
as ``/`` in http(s) URLs.  ``/\\evil.example`` therefore means
``//evil.example``, a protocol-relative URL naming another host.  These
helpers look at URLs the way a browser will.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["is_protocol_relative", "normalize_url_like_browser", "scheme_and_netloc"]

_LEADING_JUNK = "".join(chr(i) for i in range(0x21))


def normalize_url_like_browser(url: str) -> str:
    """Clean *url* the way a WHATWG URL parser does before parsing it.

    :param url: the URL as it would appear in a ``Location`` header.
    """
    url = url.strip(_LEADING_JUNK)
    url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    return url.replace("\\", "/")


def is_protocol_relative(url: str) -> bool:
    """Tell whether a browser would read *url* as ``//host/...``.

    :param url: a redirect target.
    """
    return normalize_url_like_browser(url).startswith("//")


def scheme_and_netloc(url: str) -> tuple[str, str]:
    """The lowercased scheme and authority a browser would see in *url*.

    Both are empty for a relative URL.

    :param url: the URL.
    :raises ValueError: for URLs :func:`urllib.parse.urlsplit` refuses.
    """
    url = normalize_url_like_browser(url)
    # Browsers skip any number of slashes before the host of a scheme-relative URL.
    url = re.sub(r"^//+", "//", url)
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
