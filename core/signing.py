"""Tornado-compatible signed values (the format behind ``set_signed_cookie``).

Two wire formats exist and both are produced and accepted byte for byte as
Tornado 6 does:

* **Version 1** -- ``base64(value)|timestamp|hex(HMAC-SHA1)``.  The MAC covers
  name, value and timestamp concatenated *without* separators, which is why
  decoding must refuse timestamps far in the future or with leading zeros:
  otherwise trailing digits of the value could be shifted into the timestamp
  without changing the MAC.
* **Version 2** -- ``2|len:key_version|len:timestamp|len:name|len:base64(value)|``
  followed by ``hex(HMAC-SHA256)`` of everything before it.  Length prefixes
  make the fields unambiguous, and the key-version field lets a dict of
  secrets be rotated.

Decoding never raises on untrusted input: anything that is not a valid,
fresh value signed with our secret yields ``None``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping

__all__ = [
    "SecretType",
    "create_signed_value",
    "decode_signed_value",
    "get_signature_key_version",
]

SecretType = str | bytes | Mapping[int, str | bytes]

_SECONDS_PER_DAY = 86400
# Tornado's allowance for clock skew; beyond it a timestamp is treated as forged.
_MAX_FUTURE_SECONDS = 31 * _SECONDS_PER_DAY
# Version numbers above 999 are base64 text of an unversioned (v1) value:
# a v1 payload can only look like ``<digits>|`` when its length is a multiple
# of 4, so everything up to three digits is unambiguous.
_VERSION_RE = re.compile(rb"([1-9][0-9]{0,2})\|")
_DIGITS_RE = re.compile(rb"[0-9]+")


def _to_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _signature_v1(secret: str | bytes, *parts: bytes) -> bytes:
    mac = hmac.new(_to_bytes(secret), digestmod=hashlib.sha1)
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode("ascii")


def _signature_v2(secret: str | bytes, signed: bytes) -> bytes:
    return hmac.new(_to_bytes(secret), signed, hashlib.sha256).hexdigest().encode("ascii")


def _field(data: bytes) -> bytes:
    return b"%d:%s" % (len(data), data)


def create_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes,
    *,
    version: int = 2,
    clock: Callable[[], float],
    key_version: int | None = None,
) -> bytes:
    """Sign *value* under *name* so that :func:`decode_signed_value` can verify it.

    :param secret: the signing key, or a mapping of key version to key when
        keys are rotated (version 2 only; *key_version* then picks the key).
    :param name: the name the value is bound to (normally the cookie name);
        a value signed for one name does not validate for another.
    :param value: the payload; ``str`` is encoded as UTF-8.
    :param version: the wire format, ``1`` or ``2``.
    :param clock: returns the current POSIX time; the value is stamped with it.
    :param key_version: the key version recorded in a version 2 value;
        required when *secret* is a mapping.
    :returns: the signed value, ASCII bytes safe for a cookie.
    :raises ValueError: for an unknown *version*, a mapping *secret* without a
        usable *key_version*, or a *key_version* with version 1.
    """
    if key_version is not None and (
        isinstance(key_version, bool) or not isinstance(key_version, int) or key_version < 0
    ):
        raise ValueError(f"key_version must be a non-negative int, got {key_version!r}")
    timestamp = str(int(clock())).encode("ascii")
    encoded = base64.b64encode(_to_bytes(value))
    if version == 1:
        if isinstance(secret, Mapping):
            raise ValueError("version 1 signed values cannot use a dict of secrets")
        if key_version is not None:
            raise ValueError("version 1 signed values have no key version field")
        signature = _signature_v1(secret, name.encode("utf-8"), encoded, timestamp)
        return b"|".join([encoded, timestamp, signature])
    if version != 2:
        raise ValueError(f"unsupported signed value version {version!r}")
    if isinstance(secret, Mapping):
        if key_version is None:
            raise ValueError("key_version is required when secret is a dict of keys")
        if key_version not in secret:
            raise ValueError(f"key_version {key_version} is not a key of the secret dict")
        secret = secret[key_version]
    to_sign = b"|".join(
        [
            b"2",
            _field(str(key_version or 0).encode("ascii")),
            _field(timestamp),
            _field(name.encode("utf-8")),
            _field(encoded),
            b"",
        ]
    )
    return to_sign + _signature_v2(secret, to_sign)


def _version_of(value: bytes) -> int:
    match = _VERSION_RE.match(value)
    return int(match.group(1)) if match else 1


def _split_v2(value: bytes) -> tuple[int, bytes, bytes, bytes, bytes] | None:
    """Split a version 2 value into its fields, or ``None`` if malformed."""
    rest = value[2:]
    fields = []
    for _ in range(4):
        length, colon, rest = rest.partition(b":")
        # Strict digits: the fields were written by str(len(...)) with no sign or spaces.
        if not colon or not _DIGITS_RE.fullmatch(length) or len(length) > 10:
            return None
        n = int(length)
        if rest[n : n + 1] != b"|":
            return None
        fields.append(rest[:n])
        rest = rest[n + 1 :]
    key_version, timestamp, name, payload = fields
    if not _DIGITS_RE.fullmatch(key_version) or len(key_version) > 10:
        return None
    return int(key_version), timestamp, name, payload, rest


def _fresh(timestamp: bytes, max_age_days: float, clock: Callable[[], float]) -> bool:
    if not _DIGITS_RE.fullmatch(timestamp) or len(timestamp) > 15:
        return False
    stamped = int(timestamp)
    now = clock()
    return now - max_age_days * _SECONDS_PER_DAY <= stamped <= now + _MAX_FUTURE_SECONDS


def _b64decode(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _decode_v1(
    secret: str | bytes, name: bytes, value: bytes, max_age_days: float, clock: Callable[[], float]
) -> bytes | None:
    parts = value.split(b"|")
    if len(parts) != 3:
        return None
    payload, timestamp, passed = parts
    if not hmac.compare_digest(passed, _signature_v1(secret, name, payload, timestamp)):
        return None
    # A leading zero is the one shift of digits between payload and timestamp
    # that the far-future check cannot catch.
    if timestamp.startswith(b"0") or not _fresh(timestamp, max_age_days, clock):
        return None
    return _b64decode(payload)


def _decode_v2(
    secret: SecretType, name: bytes, value: bytes, max_age_days: float, clock: Callable[[], float]
) -> bytes | None:
    fields = _split_v2(value)
    if fields is None:
        return None
    key_version, timestamp, name_field, payload, passed = fields
    if isinstance(secret, Mapping):
        if key_version not in secret:
            return None
        secret = secret[key_version]
    signed = value[: len(value) - len(passed)]
    if not hmac.compare_digest(passed, _signature_v2(secret, signed)):
        return None
    if name_field != name:
        return None
    # Tornado only bounds v2 timestamps from below; the upper bound here is an
    # extra guard that costs nothing for values made by a sane clock.
    if not _fresh(timestamp, max_age_days, clock):
        return None
    return _b64decode(payload)


def decode_signed_value(
    secret: SecretType,
    name: str,
    value: str | bytes | None,
    *,
    max_age_days: float = 31,
    clock: Callable[[], float],
    min_version: int | None = None,
) -> bytes | None:
    """Verify a value made by :func:`create_signed_value` and return its payload.

    :param secret: the key it was signed with, or a mapping of key version to
        key (the version recorded in the value selects the key).
    :param name: the name the value must have been signed for.
    :param value: the signed value as received, possibly ``None`` or garbage.
    :param max_age_days: values stamped longer ago than this are expired.
    :param clock: returns the current POSIX time.
    :param min_version: refuse formats older than this (``1`` or ``2``;
        default ``1``).
    :returns: the payload bytes, or ``None`` if the value is missing, malformed,
        tampered with, signed for another name, expired, dated more than 31
        days in the future, or older than *min_version*.
    :raises ValueError: if *min_version* is greater than 2.
    """
    if min_version is None:
        min_version = 1
    if min_version > 2:
        raise ValueError(f"unsupported min_version {min_version}")
    if not value:
        return None
    if isinstance(value, str):
        if not value.isascii():
            return None
        value = value.encode("ascii")
    elif not isinstance(value, bytes) or not value.isascii():
        return None
    version = _version_of(value)
    if version < min_version:
        return None
    name_bytes = name.encode("utf-8")
    if version == 1:
        if isinstance(secret, Mapping):
            # Key rotation needs the v2 key-version field; a v1 value cannot name its key.
            return None
        return _decode_v1(secret, name_bytes, value, max_age_days, clock)
    if version == 2:
        return _decode_v2(secret, name_bytes, value, max_age_days, clock)
    return None


def get_signature_key_version(value: str | bytes | None) -> int | None:
    """Return the key version recorded in a version 2 signed value.

    The signature is not checked; use this only to choose or audit keys.

    :param value: a signed value as received.
    :returns: the key version, or ``None`` for version 1, malformed or
        missing values.
    """
    if not value:
        return None
    if isinstance(value, str):
        if not value.isascii():
            return None
        value = value.encode("ascii")
    elif not isinstance(value, bytes):
        return None
    if _version_of(value) != 2:
        return None
    fields = _split_v2(value)
    return None if fields is None else fields[0]
