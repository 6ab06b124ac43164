"""Flask-compatible signed session cookies.

A Flask session cookie is an :mod:`itsdangerous` URL-safe timed signature
(HMAC-SHA1 with a salt-derived key by default) over a compact "tagged JSON"
document.  Tagged JSON wraps the Python types plain JSON cannot carry in a
one-key object whose key starts with a space, e.g. ``{" t": [1, 2]}`` for
the tuple ``(1, 2)``.  :class:`SessionSerializer` writes cookies a Flask app
with the same secret accepts and reads the cookies such an app writes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import decimal
import hashlib
import json
import math
import uuid
import zlib
from collections.abc import Callable, Iterable
from typing import Any

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer
from markupsafe import Markup

from .httpdate import format_http_date, parse_http_date

__all__ = ["SessionSerializer", "TaggedJSONCodec", "json_fallback"]

# The tag keys Flask's TaggedJSONSerializer registers by default.
_TAG_DICT = " di"
_TAG_TUPLE = " t"
_TAG_BYTES = " b"
_TAG_MARKUP = " m"
_TAG_UUID = " u"
_TAG_DATETIME = " d"
_TAGS = frozenset({_TAG_DICT, _TAG_TUPLE, _TAG_BYTES, _TAG_MARKUP, _TAG_UUID, _TAG_DATETIME})


def json_fallback(value: Any) -> Any:
    """Convert what JSON cannot hold the way Flask's JSON provider does.

    Dates become HTTP dates, ``Decimal`` and ``UUID`` strings, dataclasses
    dicts, objects with ``__html__`` their markup; so the same session
    produces the same bytes here and in Flask.

    :raises TypeError: for any other type.
    """
    if isinstance(value, datetime.datetime):
        return format_http_date(value)
    if isinstance(value, datetime.date):
        midnight = datetime.datetime.combine(value, datetime.time(), datetime.UTC)
        return format_http_date(midnight)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class TaggedJSONCodec:
    """Flask's tagged JSON: JSON plus tuple, bytes, Markup, UUID and datetime.

    Output is compact, key-sorted and ASCII-only, exactly as Flask writes it
    inside an application context, so cookies are byte-identical.
    """

    def tag(self, value: Any) -> Any:
        """Return *value* as plain JSON data with tags for the extra types.

        :param value: the object to convert.
        """
        # The order of these checks is the order Flask applies its tags in.
        if isinstance(value, dict):
            if len(value) == 1:
                key = next(iter(value))
                if key in _TAGS:
                    return {_TAG_DICT: {f"{key}__": self.tag(value[key])}}
            return {k: self.tag(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return {_TAG_TUPLE: [self.tag(item) for item in value]}
        if isinstance(value, list):
            return [self.tag(item) for item in value]
        if isinstance(value, bytes):
            return {_TAG_BYTES: base64.b64encode(value).decode("ascii")}
        if callable(getattr(value, "__html__", None)):
            return {_TAG_MARKUP: str(value.__html__())}
        if isinstance(value, uuid.UUID):
            return {_TAG_UUID: value.hex}
        if isinstance(value, datetime.datetime):
            return {_TAG_DATETIME: format_http_date(value)}
        return value

    def untag(self, value: Any) -> Any:
        """Rebuild Python objects from tagged JSON data, innermost first.

        :param value: data as returned by :func:`json.loads`.
        """
        if isinstance(value, list):
            return [self.untag(item) for item in value]
        if not isinstance(value, dict):
            return value
        value = {k: self.untag(v) for k, v in value.items()}
        if len(value) != 1:
            return value
        key, inner = next(iter(value.items()))
        if key == _TAG_DICT:
            (escaped, item), = inner.items()
            return {escaped[:-2]: item}
        if key == _TAG_TUPLE:
            return tuple(inner)
        if key == _TAG_BYTES:
            return base64.b64decode(inner)
        if key == _TAG_MARKUP:
            return Markup(inner)
        if key == _TAG_UUID:
            return uuid.UUID(inner)
        if key == _TAG_DATETIME:
            return parse_http_date(inner)
        return value

    def dumps(self, value: Any) -> str:
        """Serialize *value* to tagged JSON text.

        :param value: the object to serialize.
        :raises TypeError: if it contains a type neither tags nor JSON support.
        """
        return json.dumps(
            self.tag(value),
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=True,
            default=json_fallback,
        )

    def loads(self, text: str | bytes) -> Any:
        """Parse tagged JSON text back into Python objects.

        :param text: the JSON document.
        """
        return self.untag(json.loads(text))


class _ClockedSigner(TimestampSigner):
    """itsdangerous reads the wall clock itself; this one asks our clock."""

    def __init__(self, *args: Any, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock())


class SessionSerializer:
    """Read and write Flask session cookies.

    :param secret_key: the application's ``SECRET_KEY``; signs new cookies.
    :param salt: Flask's session salt (``"cookie-session"``).
    :param fallback_keys: older keys (``SECRET_KEY_FALLBACKS``) still accepted
        when reading, so keys can be rotated without logging everyone out.
    :param digest: the :mod:`hashlib` name of the HMAC digest (Flask: sha1).
    :param key_derivation: how itsdangerous derives the signing key from the
        secret and salt (Flask: ``"hmac"``).
    :raises ValueError: for an empty secret or an unknown digest.
    """

    def __init__(
        self,
        secret_key: str | bytes,
        *,
        salt: str = "cookie-session",
        fallback_keys: Iterable[str | bytes] = (),
        digest: str = "sha1",
        key_derivation: str = "hmac",
    ) -> None:
        if not secret_key:
            raise ValueError("a session secret_key must not be empty")
        try:
            hashlib.new(digest)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"unknown digest {digest!r}") from exc
        if key_derivation not in ("concat", "django-concat", "hmac", "none"):
            raise ValueError(f"unknown key_derivation {key_derivation!r}")
        # itsdangerous signs with the last key and tries all of them when reading.
        # itsdangerous takes the keys all str or all bytes; it encodes str as UTF-8, as here.
        self._keys = [
            key.encode() if isinstance(key, str) else key for key in [*fallback_keys, secret_key]
        ]
        self._salt = salt
        self._digest = digest
        self._key_derivation = key_derivation
        self._codec = TaggedJSONCodec()

    def _digest_method(self, data: bytes = b"") -> Any:
        return hashlib.new(self._digest, data)

    def _serializer(self, clock: Callable[[], float]) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            self._keys,
            salt=self._salt,
            serializer=self._codec,
            signer=_ClockedSigner,
            signer_kwargs={
                "key_derivation": self._key_derivation,
                "digest_method": self._digest_method,
                "clock": clock,
            },
        )

    def dumps(self, session: dict[str, Any], *, clock: Callable[[], float]) -> str:
        """Sign *session* into a cookie value.

        :param session: the session data.
        :param clock: returns the current POSIX time, recorded in the cookie.
        :returns: the cookie value (URL-safe ASCII).
        :raises TypeError: if *session* holds a value that cannot be serialized.
        """
        return self._serializer(clock).dumps(session)

    def loads(
        self, cookie: str, *, max_age: float | None, clock: Callable[[], float]
    ) -> dict[str, Any] | None:
        """Verify a session cookie and return its data.

        :param cookie: the cookie value as received.
        :param max_age: seconds a cookie stays valid after signing, or ``None``
            for no limit; with a limit, cookies stamped in the future are
            refused too.
        :param clock: returns the current POSIX time.
        :returns: the session dict, or ``None`` if the cookie is malformed,
            tampered with, signed by another key, or expired.
        """
        try:
            # itsdangerous compares a whole-second age with max_age: flooring keeps every
            # verdict and gives it the int it is typed for.
            whole_age = None if max_age is None else math.floor(max_age)
            data = self._serializer(clock).loads(cookie, max_age=whole_age)
        except (
            BadData,
            ValueError,
            TypeError,
            AttributeError,
            UnicodeError,
            binascii.Error,
            zlib.error,
            RecursionError,
        ):
            # Only our own key could have signed a payload that fails to
            # decode, but a session read must still never crash a request.
            return None
        return data if isinstance(data, dict) else None
