"""Fuzz target: decoding Tornado-compatible signed values.

Input: used as a signed value as is, and as an edit applied to genuine values.

Findings: any exception from decoding (it must return ``None`` for bad input), a
payload other than the genuine one recovered from an edited value (a forgery), and
a key version reported for something that is not a version 2 value.
"""

from __future__ import annotations

from _common import FuzzFinding
from crosswind.signing import create_signed_value, decode_signed_value, get_signature_key_version

NOW = 1_700_000_000.0
SECRETS = {0: b"zero-secret", 7: "seven-secret"}
PAYLOAD = b"user-42|admin=0"


def _clock() -> float:
    return NOW


GENUINE = [
    (b"secret", create_signed_value(b"secret", "sid", PAYLOAD, version=1, clock=_clock)),
    (b"secret", create_signed_value(b"secret", "sid", PAYLOAD, version=2, clock=_clock)),
    (SECRETS, create_signed_value(SECRETS, "sid", PAYLOAD, clock=_clock, key_version=7)),
]


def _decode(secret: object, value: bytes | str) -> bytes | None:
    result = decode_signed_value(secret, "sid", value, clock=_clock)  # type: ignore[arg-type]
    if result is not None and not isinstance(result, bytes):
        raise FuzzFinding(f"decoded to {type(result).__name__}")
    return result


def test_one_input(data: bytes) -> None:
    for secret, _ in GENUINE:
        _decode(secret, data)
        _decode(secret, data.decode("latin-1"))
    version = get_signature_key_version(data)
    if version is not None and (not isinstance(version, int) or not data.startswith(b"2|")):
        raise FuzzFinding(f"key version {version!r} for a value that is not version 2")
    if len(data) < 2:
        return
    # An edit: at offset data[0], replace data[1] bytes with the rest of the input.
    for secret, value in GENUINE:
        at = data[0] % (len(value) + 1)
        edited = value[:at] + data[2:] + value[at + data[1] % 8 :]
        decoded = _decode(secret, edited)
        if decoded is not None and decoded != PAYLOAD:
            raise FuzzFinding(f"edited value decoded to another payload: {decoded!r}")
