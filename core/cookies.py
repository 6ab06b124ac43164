"""The ``Cookie`` request header and the ``Set-Cookie`` response header (RFC 6265 and 6265bis)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

from .grammar import CTL, VCHARS, is_token
from .httpdate import format_http_date

__all__ = [
    "delete_cookie_header",
    "format_set_cookie",
    "parse_cookie_header",
    "parse_cookie_pairs",
]

_OCTAL = frozenset("01234567")


def parse_cookie_header(header: str | bytes | None, *, last_wins: bool = False) -> dict[str, str]:
    """Parse a ``Cookie`` header the way browsers send it, into ``{name: value}``.

    ``'a=1; b="x\\"y"'`` gives ``{'a': '1', 'b': 'x"y'}``.  Like Tornado (and Django
    before it) this follows what browsers do rather than the RFC: pieces are split on
    ``;``, a piece without ``=`` is a value whose name is ``''``, surrounding whitespace
    is dropped, and a double-quoted value is unquoted with the escapes of Python's
    :mod:`http.cookies` (``\\"``, ``\\\\``, octal ``\\073``).  When a name repeats the
    *first* value wins, because browsers send the cookie with the most specific path
    first; Tornado's ``parse_cookie`` keeps the last, which *last_wins* chooses.
    :func:`parse_cookie_pairs` keeps every value.

    The running time is linear in the length of the header whatever it contains, and it
    never raises: a hostile header costs no more than a well-formed one of the same size.

    :param header: the header value; ``bytes`` are decoded as latin-1.
    :param last_wins: keep the last value of a repeated name, as Tornado does.
    """
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    if not isinstance(header, str):
        return {}
    cookies: dict[str, str] = {}
    # split() and partition() each walk their input once; nothing below rescans a piece.
    for piece in header.split(";"):
        name, equals, value = piece.partition("=")
        if not equals:
            name, value = "", name
        name = name.strip()
        value = value.strip()
        if (name or value) and (last_wins or name not in cookies):
            cookies[name] = _unquote(value)
    return cookies


# One pair as werkzeug reads it: a name without blanks, '=', '"' or ';', then optionally
# '=' and a value (quoted with backslash escapes, or a run without blanks, '"' or ';'),
# then ';' or the end.  Each alternative is unambiguous, so a failed match never
# backtracks, and a quoted value's scan stops at the next opening quote at the latest:
# the whole header is read in linear time.
_PAIR = re.compile(
    r"""[ \t]*
    (?P<name>[^ \t=";]+)
    (?:[ \t]*=[ \t]*(?P<value>"(?:[^\\"]|\\.)*"|[^ \t";]*))?
    [ \t]*(?:;|\Z)""",
    re.VERBOSE,
)
_UNSLASH = re.compile(rb"\\([0-3][0-7]{2}|.)")


def _unslash(match: re.Match[bytes]) -> bytes:
    escaped = match.group(1)
    return bytes((int(escaped, 8),)) if len(escaped) == 3 else escaped


def parse_cookie_pairs(header: str | bytes | None) -> list[tuple[str, str]]:
    """Every ``(name, value)`` pair of a ``Cookie`` header, in order, as werkzeug reads them.

    ``'a=1; flag; b=2; a=3'`` gives ``[('a', '1'), ('flag', ''), ('b', '2'), ('a', '3')]``.
    These are werkzeug's rules, for Flask's ``request.cookies`` (a multi-dict where the first
    value of a repeated name wins): a name is a run of characters other than blanks, ``=``,
    ``"`` and ``;``; a name alone has the value ``''``; a value is a run without blanks,
    ``"`` or ``;``, or a double-quoted string whose backslash escapes (``\\"``, octal
    ``\\073`` for one byte) are undone on its UTF-8 bytes.  A piece that breaks these
    rules (``=v``, ``a=two words``) is skipped up to the next ``;``.  A ``str`` header is
    taken as it is; ``bytes`` are decoded as UTF-8, except a name or value that is not
    UTF-8, which is read as latin-1.

    Like :func:`parse_cookie_header` it runs in time linear in the header and never raises.

    :param header: the header value.
    """
    escaped = False
    if isinstance(header, bytes):
        # Bytes that are not UTF-8 become lone surrogates here and latin-1 text below, so
        # one cookie in another encoding spoils only itself.
        header = header.decode("utf-8", "surrogateescape")
        escaped = not header.isascii()
    if not isinstance(header, str):
        return []
    pairs: list[tuple[str, str]] = []
    position = 0
    end = len(header)
    while position < end:
        match = _PAIR.match(header, position)
        if match is None:
            skip = header.find(";", position)
            if skip < 0:
                break
            position = skip + 1
            continue
        position = match.end()
        name, value = match.group("name", "value")
        if value is None:
            value = ""
        elif len(value) >= 2 and value[0] == '"':
            inner = value[1:-1]
            if "\\" in inner:
                # Escapes stand for bytes, so they are undone on the bytes the client sent.
                raw = inner.encode("utf-8", "surrogateescape" if escaped else "surrogatepass")
                value = _UNSLASH.sub(_unslash, raw).decode("utf-8", "replace")
            else:
                value = inner
        if escaped:
            name, value = _latin1_if_escaped(name), _latin1_if_escaped(value)
        pairs.append((name, value))
    return pairs


def _latin1_if_escaped(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("latin-1")
    return text


def _unquote(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    # Splitting on backslashes leaves every escaped character at the head of a piece, so
    # one walk over the pieces decodes everything without ever looking back.
    pieces = inner.split("\\")
    out = [pieces[0]]
    index = 1
    count = len(pieces)
    while index < count:
        piece = pieces[index]
        if not piece:
            # An empty piece is an escaped backslash (or a lone one at the very end); the
            # piece after it is plain text.
            out.append("\\")
            if index + 1 < count:
                out.append(pieces[index + 1])
            index += 2
            continue
        head = piece[0]
        if len(piece) >= 3 and head in "0123" and piece[1] in _OCTAL and piece[2] in _OCTAL:
            out.append(chr(int(piece[:3], 8)))
            out.append(piece[3:])
        elif head == "\n":
            # http.cookies leaves a backslash before a newline untouched.
            out.append("\\")
            out.append(piece)
        else:
            out.append(piece)
        index += 1
    return "".join(out)


# RFC 6265 §4.1.1 cookie-octet: printable ASCII but DQUOTE, comma, semicolon, backslash.
_COOKIE_OCTETS = frozenset(VCHARS) - set('",;\\')
# Tornado's set_cookie refuses these in a value; quoting could carry them, but a space or
# control character in a cookie is nearly always a bug upstream.  (DEL is quoted instead.)
_VALUE_FORBIDDEN = re.compile(r"[\x00-\x20]")
# RFC 6265 av-octet is any CHAR but CTL and ";"; a space is refused too, as Tornado does.
_ATTRIBUTE_FORBIDDEN = re.compile(f"[{re.escape(CTL)} ;]")
_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}

_Expires = datetime.datetime | float | int


def _quote(value: str) -> str:
    if all(char in _COOKIE_OCTETS for char in value):
        return value
    # Same escapes as http.cookies, so Tornado, Python and parse_cookie_header read it back.
    out = ['"']
    for char in value:
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif char in _COOKIE_OCTETS:
            out.append(char)
        else:
            out.append(f"\\{ord(char):03o}")
    out.append('"')
    return "".join(out)


def _check_attribute(cookie: str, attribute: str, value: str) -> None:
    if _ATTRIBUTE_FORBIDDEN.search(value) or not value.isascii():
        raise ValueError(
            f"Invalid cookie attribute {attribute}={value!r} for cookie {cookie!r}: "
            "it must be ASCII without spaces, control characters or ';'"
        )


def format_set_cookie(
    name: str,
    value: str | bytes,
    *,
    max_age: int | float | datetime.timedelta | None = None,
    expires: _Expires | None = None,
    expires_days: float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = None,
    partitioned: bool = False,
    clock: Callable[[], float] | None = None,
) -> str:
    """Build the value of one ``Set-Cookie`` header.

    ``format_set_cookie("sid", "abc", httponly=True, samesite="lax")`` gives
    ``'sid=abc; Path=/; HttpOnly; SameSite=Lax'``.  A value with characters outside
    RFC 6265's cookie-octets (``"``, ``,``, ``;``, ``\\``, DEL, non-ASCII latin-1) is
    double-quoted with :mod:`http.cookies` escapes, as Tornado does, and
    :func:`parse_cookie_header` reads it back unchanged.

    :param name: the cookie name, an RFC 6265 token.
    :param value: the cookie value; ``bytes`` are decoded as UTF-8.
    :param max_age: lifetime in seconds (or a timedelta); ``0`` expires the cookie now.
    :param expires: expiry as an aware or UTC-naive datetime, or a POSIX timestamp.
    :param expires_days: expiry as days from ``clock()``; needs *clock*.
    :param path: the Path attribute; ``None`` leaves it out.
    :param domain: the Domain attribute; ``None`` leaves it out.
    :param secure: add ``Secure``.
    :param httponly: add ``HttpOnly``.
    :param samesite: ``"Lax"``, ``"Strict"`` or ``"None"`` in any case; ``"None"`` also
        adds ``Secure``, since browsers drop SameSite=None cookies without it.
    :param partitioned: add ``Partitioned`` (CHIPS); requires *secure*.
    :param clock: returns the current POSIX time; only used for *expires_days*.
    :raises ValueError: for a name that is not a token, a value containing spaces or
        control characters (``Invalid cookie ...``), attributes containing ``;`` or
        control characters, an unknown SameSite, ``Partitioned`` without ``Secure``, or a
        ``__Secure-``/``__Host-`` prefix whose rules are not met.
    :raises TypeError: for *expires* together with *expires_days*, *expires_days*
        without *clock*, or arguments of the wrong type.
    """
    if not isinstance(name, str) or not is_token(name):
        raise ValueError(f"Invalid cookie name {name!r}: it must be an RFC 6265 token")
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"Invalid cookie {name!r}: bytes value is not UTF-8") from None
    if not isinstance(value, str):
        raise TypeError(f"cookie {name!r} value must be str or bytes, not {type(value).__name__}")
    if _VALUE_FORBIDDEN.search(value):
        # The value is not echoed: it may well be a session secret.
        raise ValueError(f"Invalid cookie {name!r}: value contains a space or control character")
    if any(ord(char) > 0xFF for char in value):
        raise ValueError(
            f"Invalid cookie {name!r}: value has characters beyond latin-1; encode it first"
        )

    parts = [f"{name}={_quote(value)}"]

    if expires is not None and expires_days is not None:
        raise TypeError("pass either expires or expires_days, not both")
    if expires_days is not None:
        if clock is None:
            raise TypeError("expires_days needs a clock (a callable returning POSIX seconds)")
        expires = clock() + expires_days * 86400.0
    if expires is not None:
        if isinstance(expires, bool) or not isinstance(expires, datetime.datetime | int | float):
            raise TypeError(
                f"expires must be a datetime or POSIX timestamp, not {type(expires).__name__}"
            )
        parts.append(f"Expires={format_http_date(expires)}")

    if max_age is not None:
        if isinstance(max_age, datetime.timedelta):
            max_age = max_age.total_seconds()
        if isinstance(max_age, bool) or not isinstance(max_age, int | float):
            raise TypeError(f"max_age must be a number of seconds, not {type(max_age).__name__}")
        # int() keeps anything but digits (and a sign) out of the header.
        parts.append(f"Max-Age={int(max_age)}")

    if domain is not None:
        _check_attribute(name, "Domain", domain)
        parts.append(f"Domain={domain}")
    if path is not None:
        _check_attribute(name, "Path", path)
        parts.append(f"Path={path}")

    samesite_value = None
    if samesite is not None:
        samesite_value = _SAMESITE.get(str(samesite).lower())
        if samesite_value is None:
            raise ValueError(
                f"Invalid SameSite {samesite!r} for cookie {name!r}: use Lax, Strict or None"
            )
        if samesite_value == "None":
            secure = True
    if partitioned and not secure:
        raise ValueError(f"cookie {name!r}: Partitioned requires Secure")
    lowered = name.lower()
    # Browsers match the prefixes case-insensitively (RFC 6265bis §4.1.3), so do we.
    if lowered.startswith("__secure-") and not secure:
        raise ValueError(f"cookie {name!r}: the __Secure- prefix requires Secure")
    if lowered.startswith("__host-") and not (secure and path == "/" and domain is None):
        raise ValueError(
            f"cookie {name!r}: the __Host- prefix requires Secure, Path=/ and no Domain"
        )

    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite_value is not None:
        parts.append(f"SameSite={samesite_value}")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


def delete_cookie_header(
    name: str,
    path: str | None = "/",
    domain: str | None = None,
    *,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = None,
    partitioned: bool = False,
) -> str:
    """Build a ``Set-Cookie`` value that makes the browser drop cookie *name* at once.

    It carries an empty value, ``Max-Age=0`` and an ``Expires`` in 1970, so old and new
    browsers alike forget the cookie.  *path*, *domain* (and for ``SameSite=None`` or
    partitioned cookies, the other attributes) must match those the cookie was set with.

    :param name: the cookie name.
    :param path: the Path it was set with.
    :param domain: the Domain it was set with.
    :param secure: add ``Secure``.
    :param httponly: add ``HttpOnly``.
    :param samesite: as in :func:`format_set_cookie`.
    :param partitioned: add ``Partitioned``.
    """
    return format_set_cookie(
        name,
        "",
        max_age=0,
        expires=0,
        path=path,
        domain=domain,
        secure=secure,
        httponly=httponly,
        samesite=samesite,
        partitioned=partitioned,
    )
