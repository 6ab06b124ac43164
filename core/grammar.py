"""The HTTP grammar that every check in crosswind shares: tokens, field values, controls.

One home for the character classes of RFC 9110, so that the request screening, the
response writer, :class:`~crosswind.headers.Headers`, the WSGI and ASGI adapters and the
parsers of header values cannot disagree about what a header may hold:

* ``tchar`` and ``token`` (RFC 9110 section 5.6.2): what a header name, a method, a
  media type or a parameter name is made of;
* ``field-vchar`` (``VCHAR`` or ``obs-text``) and field values (section 5.5): a value is
  field-vchars with single spaces or tabs between them, so a value that may still carry
  the optional whitespace around it (``OWS``) is any run of HTAB, SP, VCHAR and obs-text;
* ``CTL`` (RFC 5234 appendix B.1): what no field value may hold, HTAB aside. CR and LF
  among them would split the header block; the others are refused by peers and caches
  in different ways, which is how one response comes to mean two things.

Every set comes as characters (for membership tests and strategies), as a regex class
fragment (to build patterns from), or as a compiled pattern; :func:`is_token`,
:func:`is_field_value` and :func:`field_problem` are the checks themselves, for ``str``
(latin-1 text, the way header fields are kept as text) and ``bytes`` alike.

This is a building block at the root of the package: it imports nothing from crosswind,
so the other building blocks, the protocol layer and the adapters may all use it.
"""

from __future__ import annotations

import re

__all__ = [
    "CTL",
    "FIELD_CHAR",
    "FIELD_OCTETS",
    "OBS_TEXT",
    "TCHAR",
    "TCHARS",
    "TOKEN",
    "TOKEN_BYTES",
    "VCHAR",
    "VCHARS",
    "field_problem",
    "is_field_value",
    "is_token",
]

#: ``tchar``: the characters of a token (RFC 9110 section 5.6.2).
TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: ``VCHAR``: visible US-ASCII, 0x21-0x7E (RFC 5234 appendix B.1).
VCHARS = "".join(map(chr, range(0x21, 0x7F)))
#: ``obs-text``: 0x80-0xFF, allowed in field values for what older senders wrote there.
OBS_TEXT = "".join(map(chr, range(0x80, 0x100)))
#: ``CTL``: the controls 0x00-0x1F and DEL (RFC 5234 appendix B.1).
CTL = "".join(map(chr, range(0x20))) + "\x7f"
#: Every octet a field value may hold, its surrounding whitespace included: HTAB, SP,
#: VCHAR and obs-text.  ``data.translate(None, FIELD_OCTETS)`` leaves what does not belong.
FIELD_OCTETS = ("\t " + VCHARS + OBS_TEXT).encode("latin-1")

# Regex classes, one character each; encode them for a bytes pattern.
#: One ``tchar``, as a regex character class.
TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
#: One ``VCHAR``, as a regex character class.
VCHAR = r"[\x21-\x7e]"
#: One octet of :data:`FIELD_OCTETS` (latin-1 character for text), as a regex class.
FIELD_CHAR = r"[\t\x20-\x7e\x80-\xff]"

#: A whole ``token`` in text: ``TOKEN.fullmatch(name)``.
TOKEN = re.compile(TCHAR + "+")
#: A whole ``token`` in bytes.
TOKEN_BYTES = re.compile(TOKEN.pattern.encode("ascii"))
_FIELD_VALUE = re.compile(FIELD_CHAR + "*")
_FIELD_VALUE_BYTES = re.compile(_FIELD_VALUE.pattern.encode("ascii"))


def is_token(name: str | bytes) -> bool:
    """Whether *name* is an RFC 9110 ``token``: one or more ``tchar``, nothing else.

    :param name: a header name, method, media type or parameter name, as text or bytes.
    """
    if isinstance(name, str):
        return TOKEN.fullmatch(name) is not None
    return TOKEN_BYTES.fullmatch(name) is not None


def is_field_value(value: str | bytes) -> bool:
    """Whether *value* can be sent as a field value: only HTAB, SP, VCHAR and obs-text.

    Whitespace at either end is allowed (it is the ``OWS`` around the value, and a
    recipient strips it).  Text is held to the same octets read as latin-1, so a
    character beyond U+00FF is refused too.

    :param value: the field value, as text or bytes.
    """
    if isinstance(value, str):
        # Printable ASCII, the usual value, is settled by two C-level scans; the regex
        # is only for HTAB and obs-text (and for the refusals).
        return (value.isascii() and value.isprintable()) or _FIELD_VALUE.fullmatch(
            value
        ) is not None
    return _FIELD_VALUE_BYTES.fullmatch(value) is not None


def field_problem(name: str | bytes, value: str | bytes | None = None) -> str | None:
    """Why the header field *name* (with *value*, if given) cannot be sent, or ``None``.

    The reason names the header but never repeats the value, which may be a secret; it
    is the message of the error each caller raises (``ValueError`` in
    :class:`~crosswind.headers.Headers`, ``LocalProtocolError`` in the response writer
    and the adapters), so a refused header reads the same wherever it was refused.

    :param name: the header name, as text or bytes.
    :param value: the value, as text or bytes; ``None`` checks the name alone.
    """
    shown = name.decode("latin-1") if isinstance(name, bytes) else name
    if not is_token(name):
        return f"header name {shown!r} is not a token"
    if value is None or is_field_value(value):
        return None
    if isinstance(value, str) and not all(char <= "\xff" for char in value):
        return f"header {shown!r} has a value that is not latin-1 text"
    return f"header {shown!r} has a control character in its value"
