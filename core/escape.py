"""Escaping and unescaping for HTML, URLs and JSON, with Tornado's function names.

``tornado.escape`` is imported by many Tornado applications and templates; this
module offers the same names so that ``from crosswind.escape import ...`` is a
drop-in change.  Everything here is pure string manipulation.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from typing import Any, overload
from urllib.parse import quote, quote_plus, unquote, unquote_plus, unquote_to_bytes

__all__ = [
    "json_decode",
    "json_encode",
    "linkify",
    "native_str",
    "recursive_unicode",
    "squeeze",
    "to_basestring",
    "to_unicode",
    "url_escape",
    "url_unescape",
    "utf8",
    "xhtml_escape",
    "xhtml_unescape",
]


# Only None passes through as None: text or bytes always come back converted.
@overload
def utf8(value: str | bytes) -> bytes: ...
@overload
def utf8(value: None) -> None: ...
def utf8(value: str | bytes | None) -> bytes | None:
    """Encode *value* as UTF-8; bytes and ``None`` pass through.

    :param value: text, bytes or ``None``.
    :raises TypeError: for any other type.
    """
    if value is None or isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise TypeError("Expected bytes, unicode, or None; got %r" % type(value))
    return value.encode("utf-8")


@overload
def to_unicode(value: str | bytes) -> str: ...
@overload
def to_unicode(value: None) -> None: ...
def to_unicode(value: str | bytes | None) -> str | None:
    """Decode *value* from UTF-8; text and ``None`` pass through.

    :param value: text, bytes or ``None``.
    :raises TypeError: for any other type.
    """
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, bytes):
        raise TypeError("Expected bytes, unicode, or None; got %r" % type(value))
    return value.decode("utf-8")


#: Tornado's names for :func:`to_unicode` (Python 3 has one string type).
native_str = to_unicode
to_basestring = to_unicode


def recursive_unicode(obj: Any) -> Any:
    """Decode every ``bytes`` inside dicts, lists and tuples.

    :param obj: a structure such as ``request.arguments``.
    """
    if isinstance(obj, dict):
        return {recursive_unicode(k): recursive_unicode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [recursive_unicode(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(recursive_unicode(item) for item in obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    return obj


def xhtml_escape(value: str | bytes) -> str:
    """Escape ``& < > " '`` for use in HTML text or a quoted attribute.

    The entities are those of :func:`html.escape` (``&quot;``, ``&#x27;``),
    as in Tornado 6.4 and later.

    :param value: text or UTF-8 bytes.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return html.escape(str(value))


def xhtml_unescape(value: str | bytes) -> str:
    """Replace HTML entities and character references by their characters.

    :param value: text or UTF-8 bytes.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return html.unescape(value)


def json_encode(value: Any) -> str:
    """Serialize *value* as JSON that is safe to embed in an HTML ``<script>``.

    ``</`` is written ``<\\/`` so a string cannot close the script element.

    :param value: anything :func:`json.dumps` accepts.
    """
    return json.dumps(value).replace("</", "<\\/")


def json_decode(value: str | bytes) -> Any:
    """Parse JSON text (``bytes`` are decoded as UTF-8).

    :param value: the JSON document.
    :raises ValueError: if it is not valid JSON.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return json.loads(value)


def squeeze(value: str) -> str:
    """Collapse every run of whitespace into one space and strip the ends.

    :param value: the text.
    """
    return re.sub(r"[\x00-\x20]+", " ", value).strip()


def url_escape(value: str | bytes, plus: bool = True) -> str:
    """Percent-encode *value* for a URL.

    :param value: text (encoded as UTF-8) or bytes.
    :param plus: encode spaces as ``+`` (query strings); ``False`` keeps ``/``
        and encodes spaces as ``%20`` (paths).
    """
    if plus:
        return quote_plus(value)
    return quote(value)


def url_unescape(
    value: str | bytes, encoding: str | None = "utf-8", plus: bool = True
) -> str | bytes:
    """Decode a percent-encoded value.

    :param value: the encoded value.
    :param encoding: decode the result with this; ``None`` returns bytes.
    :param plus: treat ``+`` as a space (query strings).
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if encoding is None:
        if plus:
            value = value.replace("+", " ")
        return unquote_to_bytes(value)
    if plus:
        return unquote_plus(value, encoding=encoding)
    return unquote(value, encoding=encoding)


_URL_RE = re.compile(
    r"\b((?:([\w-]+):(/{1,3})|www[.])(?:(?:(?:[^\s&()]|&amp;|&quot;)*"
    r"(?:[^!\"#$%&'()*+,.:;<=>?@\[\]^`{|}~\s]))|(?:\((?:[^\s&()]|&amp;|&quot;)*\)))+)"
)


_SHORTEN_AT = 30


def _shortened(url: str, scheme_length: int) -> str:
    """The label for a long URL: host plus a hint of the path, then "..."."""
    rest = url[scheme_length:]
    host, slash, path = rest.partition("/")
    label = url
    if slash:
        hint = path.split("/", 1)[0][:8].split("?")[0].split(".")[0]
        label = url[:scheme_length] + host + "/" + hint
    if len(label) > _SHORTEN_AT * 1.5:
        label = label[:_SHORTEN_AT]
    if label == url:
        return url
    cut = label.rfind("&")
    if cut > _SHORTEN_AT - 5:  # do not end inside an entity such as &amp;
        label = label[:cut]
    return label + "..."


def linkify(
    text: str | bytes,
    shorten: bool = False,
    extra_params: str | Callable[[str], str] = "",
    require_protocol: bool = False,
    permitted_protocols: tuple[str, ...] | list[str] = ("http", "https"),
) -> str:
    """Escape *text* as HTML and turn the URLs in it into links.

    :param text: plain text.
    :param shorten: abbreviate long URLs in the link text (the full URL
        goes into a ``title``).
    :param extra_params: extra attributes for each ``<a>`` tag, e.g.
        ``'rel="nofollow"'``, or a function of the URL returning them.
    :param require_protocol: only link URLs that name a scheme (not ``www.``).
    :param permitted_protocols: schemes that may be linked; anything else
        (``javascript:``) stays text.
    """
    text = xhtml_escape(text)

    def make_link(match: re.Match[str]) -> str:
        url, scheme, slashes = match.group(1), match.group(2), match.group(3)
        if require_protocol and not scheme:
            return url
        if scheme and scheme not in permitted_protocols:
            return url
        href = url if scheme else "http://" + url
        # Tornado keeps one space before the extra parameters whenever some were
        # given, even blank ones, and always for a function.
        if callable(extra_params):
            params = " " + extra_params(href).strip()
        else:
            params = " " + extra_params.strip() if extra_params else ""
        label = url
        if shorten and len(url) > _SHORTEN_AT:
            scheme_length = len(scheme) + 1 + len(slashes or "") if scheme else 0
            short = _shortened(url, scheme_length)
            if len(short) < len(url):
                label = short
                params += f' title="{href}"'
        return f'<a href="{href}"{params}>{label}</a>'

    return _URL_RE.sub(make_link, text)
