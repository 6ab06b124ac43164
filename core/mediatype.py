"""Parsing and formatting ``Content-Type`` media types with their parameters (RFC 9110 §8.3)."""

from __future__ import annotations

from collections.abc import Mapping

from .grammar import CTL, is_token

__all__ = ["format_content_type", "parse_content_type"]

# What a parameter value may not hold even quoted: HTAB aside, the controls.
_CONTROLS = frozenset(CTL) - {"\t"}


def parse_content_type(value: str | bytes | None) -> tuple[str, dict[str, str]]:
    """Split a ``Content-Type`` value into its media type and parameters.

    ``'Text/HTML; Charset="utf-8"'`` gives ``('text/html', {'charset': 'utf-8'})``.
    The media type and parameter names are lowercased; parameter values keep their case,
    and quoted-string values are unquoted (a backslash escapes the next character).
    Malformed parameters are skipped and, when a name repeats, the first one wins.
    This never raises: whatever the client sent, the worst outcome is ``('', {})``.

    :param value: the header value; ``bytes`` are decoded as latin-1, ``None`` means absent.
    :returns: ``(mimetype, params)``.
    """
    if not value:
        return "", {}
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    elif not isinstance(value, str):
        return "", {}
    semi = value.find(";")
    if semi < 0:
        return value.strip().lower(), {}
    return value[:semi].strip().lower(), _parse_params(value, semi + 1)


def _parse_params(text: str, pos: int) -> dict[str, str]:
    # One forward pass: `pos` only ever advances, so adversarial input stays linear.
    params: dict[str, str] = {}
    end = len(text)
    equals = -1
    while pos < end:
        semi = text.find(";", pos)
        if equals < pos:
            # Remembered between rounds so a long run of "=" -less pieces is scanned once.
            equals = text.find("=", pos)
            if equals < 0:
                break
        if 0 <= semi < equals:
            # No "=" before the next ";": junk such as "; ; charset" -- skip the piece.
            pos = semi + 1
            continue
        name = text[pos:equals].strip().lower()
        pos = equals + 1
        while pos < end and text[pos] in " \t":
            pos += 1
        if pos < end and text[pos] == '"':
            chars: list[str] = []
            pos += 1
            while pos < end:
                char = text[pos]
                if char == '"':
                    pos += 1
                    break
                if char == "\\" and pos + 1 < end:
                    pos += 1
                    char = text[pos]
                chars.append(char)
                pos += 1
            param_value = "".join(chars)
            # Anything between the closing quote and the next ";" is junk.
            semi = text.find(";", pos)
            pos = end if semi < 0 else semi + 1
        else:
            semi = text.find(";", pos)
            stop = end if semi < 0 else semi
            param_value = text[pos:stop].strip()
            pos = stop + 1
        if name and name not in params:
            params[name] = param_value
    return params


def _quote(value: str) -> str:
    if is_token(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_content_type(mimetype: str, params: Mapping[str, str] | None = None) -> str:
    """Build a ``Content-Type`` value such as ``text/html; charset=utf-8``.

    Parameter values that are not tokens are written as quoted strings.

    :param mimetype: ``type/subtype``, each part an RFC 9110 token.
    :param params: parameters in the order they should appear.
    :raises ValueError: if the media type or a parameter name is not made of tokens, or a
        value contains a control character (CR and LF would split the header).
    """
    kind, slash, subtype = mimetype.partition("/")
    if not (slash and is_token(kind) and is_token(subtype)):
        raise ValueError(f"media type {mimetype!r} is not of the form token/token")
    parts = [mimetype]
    for name, value in (params or {}).items():
        if not is_token(name):
            raise ValueError(f"media type parameter name {name!r} is not a token")
        if not isinstance(value, str):
            raise TypeError(f"media type parameter {name!r} must be a str, not {type(value).__name__}")
        if not _CONTROLS.isdisjoint(value):
            raise ValueError(f"media type parameter {name!r} contains a control character")
        parts.append(f"{name}={_quote(value)}")
    return "; ".join(parts)
