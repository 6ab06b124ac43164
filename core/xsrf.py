"""Tornado-compatible XSRF (cross-site request forgery) tokens.

The defence is a double submit: the server keeps a random token in the
``_xsrf`` cookie and every unsafe request must echo it in a form field or
header, which a foreign site cannot read.  Version 2 tokens are masked with a
fresh random 4-byte XOR mask each time they are rendered
(``2|hex(mask)|hex(mask XOR token)|timestamp``), so pages compressed together
with attacker-chosen text do not leak the token through compression sizes
(BREACH).  Version 1 tokens are the bare hex token.
"""

from __future__ import annotations

import binascii
import hmac
import re
from collections.abc import Callable

__all__ = [
    "TOKEN_LENGTH",
    "check_xsrf",
    "decode_xsrf_token",
    "encode_xsrf_token",
    "new_token",
    "submitted_xsrf_value",
]

TOKEN_LENGTH = 16
_MASK_LENGTH = 4
_NOTHING: tuple[None, None, None] = (None, None, None)
_VERSIONED_RE = re.compile(r"[1-9][0-9]*\|")
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})+")
_DIGITS_RE = re.compile(r"[0-9]{1,15}")


def _xor_mask(mask: bytes, data: bytes) -> bytes:
    # The mask repeats over the data, as in RFC 6455 websocket masking.
    repeated = (mask * (len(data) // len(mask) + 1))[: len(data)]
    return bytes(a ^ b for a, b in zip(data, repeated, strict=True))


def new_token(token_source: Callable[[int], bytes]) -> bytes:
    """Create a fresh raw XSRF token.

    :param token_source: returns that many cryptographically random bytes
        (e.g. :func:`os.urandom`).
    :returns: 16 random bytes.
    :raises ValueError: if *token_source* returns the wrong number of bytes.
    """
    token = token_source(TOKEN_LENGTH)
    if not isinstance(token, bytes) or len(token) != TOKEN_LENGTH:
        raise ValueError(f"token_source must return {TOKEN_LENGTH} bytes")
    return token


def encode_xsrf_token(
    token: bytes,
    timestamp: float,
    *,
    version: int = 2,
    token_source: Callable[[int], bytes],
) -> bytes:
    """Render a raw token for a cookie, form field or header.

    :param token: the raw token (from :func:`new_token` or a decoded cookie).
    :param timestamp: POSIX time the token was created (kept across renders).
    :param version: ``2`` (masked, the default) or ``1`` (bare hex).
    :param token_source: supplies the random 4-byte mask for version 2.
    :returns: ASCII bytes; version 2 output differs on every call.
    :raises ValueError: for an empty token, an unknown version or a mask of
        the wrong size.
    """
    if not token:
        raise ValueError("cannot encode an empty XSRF token")
    if version == 1:
        return binascii.hexlify(token)
    if version != 2:
        raise ValueError(f"unknown XSRF token version {version!r}")
    mask = token_source(_MASK_LENGTH)
    if not isinstance(mask, bytes) or len(mask) != _MASK_LENGTH:
        raise ValueError(f"token_source must return {_MASK_LENGTH} bytes")
    return b"|".join(
        [
            b"2",
            binascii.hexlify(mask),
            binascii.hexlify(_xor_mask(mask, token)),
            str(int(timestamp)).encode("ascii"),
        ]
    )


def decode_xsrf_token(
    cookie_value: str | bytes | None,
) -> tuple[int | None, bytes | None, int | None]:
    """Recover the raw token from a rendered token.

    :param cookie_value: a cookie, form or header value in either version.
    :returns: ``(version, token, timestamp)``; version 1 values carry no
        timestamp, so it is ``None`` for them.  Missing or malformed input,
        or an unknown version, gives ``(None, None, None)``.
    """
    if isinstance(cookie_value, bytes):
        try:
            cookie_value = cookie_value.decode("ascii")
        except UnicodeDecodeError:
            return _NOTHING
    if not isinstance(cookie_value, str) or not cookie_value:
        return _NOTHING
    if _VERSIONED_RE.match(cookie_value):
        parts = cookie_value.split("|")
        if len(parts) != 4 or parts[0] != "2":
            return _NOTHING
        _, mask_hex, masked_hex, timestamp = parts
        if (
            len(mask_hex) != 2 * _MASK_LENGTH
            or not _HEX_RE.fullmatch(mask_hex)
            or not _HEX_RE.fullmatch(masked_hex)
            or not _DIGITS_RE.fullmatch(timestamp)
        ):
            return _NOTHING
        mask = binascii.unhexlify(mask_hex)
        return 2, _xor_mask(mask, binascii.unhexlify(masked_hex)), int(timestamp)
    # Tornado keeps a non-hex v1 cookie as raw bytes; we refuse it instead, since
    # nothing but a forger or a broken client produces one.
    if not _HEX_RE.fullmatch(cookie_value):
        return _NOTHING
    return 1, binascii.unhexlify(cookie_value), None


def check_xsrf(cookie_value: str | bytes | None, submitted_value: str | bytes | None) -> bool:
    """Decide whether a submitted token matches the cookie's token.

    Masks and versions may differ; only the unmasked tokens are compared,
    in constant time.

    :param cookie_value: the ``_xsrf`` cookie as received.
    :param submitted_value: the value from :func:`submitted_xsrf_value`.
    :returns: ``True`` only if both decode and their tokens are equal.
    """
    _, expected, _ = decode_xsrf_token(cookie_value)
    _, submitted, _ = decode_xsrf_token(submitted_value)
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected, submitted)


def _header(headers_get: Callable[[str], str | None], name: str) -> str | None:
    value = headers_get(name)
    # Also accept a plain dict keyed by lower-cased names.
    return value if value is not None else headers_get(name.lower())


def submitted_xsrf_value(
    form_value: str | None, headers_get: Callable[[str], str | None]
) -> str | None:
    """Find the token a request submitted, where Tornado looks for it.

    :param form_value: the ``_xsrf`` form or query argument, if any.
    :param headers_get: looks up a request header by name (case-insensitive,
        or a plain dict's ``get`` with lower-cased keys).
    :returns: the first non-empty of the ``_xsrf`` argument, ``X-XSRFToken``
        and ``X-CSRFToken`` (the Django spelling), stripped; ``None`` if
        none is present.
    """
    for candidate in (
        form_value,
        _header(headers_get, "X-XSRFToken"),
        _header(headers_get, "X-CSRFToken"),
    ):
        if candidate and candidate.strip():
            return candidate.strip()
    return None
