"""Multi-valued form data: :class:`MultiDict`, query-string and urlencoded-body parsing.

Query strings and ``application/x-www-form-urlencoded`` bodies may repeat a field
(``?tag=a&tag=b``).  The two frameworks crosswind models disagree about which value a
single lookup returns: Flask's ``request.args["tag"]`` gives the *first*, Tornado's
``get_argument("tag")`` the *last*.  :class:`MultiDict` keeps every value and offers
both; ``md[key]`` and :meth:`MultiDict.get` follow Flask, and Tornado-style layers call
:meth:`MultiDict.get_last`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Generic, TypeVar, overload
from urllib.parse import quote_plus, unquote_to_bytes

from .errors import RequestError

__all__ = [
    "BadRequestKeyError",
    "ESCAPED_SEPARATOR",
    "MultiDict",
    "encode_query",
    "parse_qs",
    "parse_urlencoded",
    "percent_decode",
]

V = TypeVar("V")
T = TypeVar("T")

_MISSING: Any = object()


class BadRequestKeyError(KeyError, RequestError):
    """A required form or query field is missing; answer 400.

    It is a :class:`KeyError` so ``except KeyError`` keeps working, as it does in Flask.

    :param key: the field that was looked up.
    """

    def __init__(self, key: str) -> None:
        RequestError.__init__(self, f"missing required field {key!r}", 400)
        # crosswind.app's Flask-style subclass may be raised without a key.
        self.key: str | None = key

    def __str__(self) -> str:
        return self.reason


class MultiDict(MutableMapping[str, V], Generic[V]):
    """A mapping whose keys may carry several values, kept in the order they arrived.

    Single-value access returns the first value (as Flask does); :meth:`get_last`
    returns the last (as Tornado's ``get_argument`` does); :meth:`getlist` returns all.
    Iteration, ``len()`` and :meth:`keys` see each key once.

    :param source: a mapping (a list value means several values), another
        :class:`MultiDict`, or an iterable of ``(key, value)`` pairs.
    """

    __slots__ = ("_lists",)

    def __init__(
        self, source: Mapping[str, Any] | Iterable[tuple[str, V]] | None = None
    ) -> None:
        self._lists: dict[str, list[V]] = {}
        if source is None:
            return
        if isinstance(source, MultiDict):
            self._lists = {key: values.copy() for key, values in source._lists.items()}
        elif isinstance(source, Mapping):
            for key, value in source.items():
                if isinstance(value, list | tuple):
                    for item in value:
                        self.add(key, item)
                else:
                    self.add(key, value)
        else:
            for key, value in source:
                self.add(key, value)

    # -- lookups -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> V:
        values = self._lists.get(key)
        if not values:
            raise BadRequestKeyError(key)
        return values[0]

    @overload
    def get(self, key: str, default: Any = None, type: None = None) -> Any: ...
    @overload
    def get(self, key: str, default: Any = None, *, type: Callable[[V], T]) -> T | Any: ...

    def get(self, key: str, default: Any = None, type: Callable[[V], Any] | None = None) -> Any:
        """Return the first value of *key*, or *default*; same as :meth:`get_first`.

        :param key: the field name.
        :param default: returned when the key is absent or *type* rejects the value.
        :param type: a converter such as ``int``; a ``ValueError`` or ``TypeError`` from it
            makes the lookup return *default*, as in Flask.
        """
        return self.get_first(key, default, type)

    def get_first(
        self, key: str, default: Any = None, type: Callable[[V], Any] | None = None
    ) -> Any:
        """Return the first value of *key* (Flask's choice), or *default*.

        :param key: the field name.
        :param default: returned when the key is absent or *type* rejects the value.
        :param type: an optional converter; see :meth:`get`.
        """
        values = self._lists.get(key)
        if not values:
            return default
        return _convert(values[0], default, type)

    def get_last(
        self, key: str, default: Any = None, type: Callable[[V], Any] | None = None
    ) -> Any:
        """Return the last value of *key* (Tornado's ``get_argument`` choice), or *default*.

        :param key: the field name.
        :param default: returned when the key is absent or *type* rejects the value.
        :param type: an optional converter; see :meth:`get`.
        """
        values = self._lists.get(key)
        if not values:
            return default
        return _convert(values[-1], default, type)

    def getlist(self, key: str, type: Callable[[V], Any] | None = None) -> list[Any]:
        """Return every value of *key* in order (an empty list when absent).

        :param key: the field name.
        :param type: an optional converter; values it rejects (``ValueError`` or
            ``TypeError``) are left out, as in Flask.
        """
        values = self._lists.get(key)
        if not values:
            return []
        if type is None:
            return values.copy()
        converted = []
        for value in values:
            try:
                converted.append(type(value))
            except (ValueError, TypeError):
                continue
        return converted

    def __contains__(self, key: object) -> bool:
        return key in self._lists

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    # -- changes -----------------------------------------------------------------------

    def add(self, key: str, value: V) -> None:
        """Append *value* to the values of *key*.

        :param key: the field name.
        :param value: the value to append.
        """
        values = self._lists.get(key)
        if values is None:
            self._lists[key] = [value]
        else:
            values.append(value)

    def __setitem__(self, key: str, value: V) -> None:
        self._lists[key] = [value]

    def setlist(self, key: str, values: Iterable[V]) -> None:
        """Replace the values of *key* (an empty iterable removes the key).

        :param key: the field name.
        :param values: the new values.
        """
        new = list(values)
        if new:
            self._lists[key] = new
        else:
            self._lists.pop(key, None)

    def __delitem__(self, key: str) -> None:
        del self._lists[key]

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """Remove *key* and return its first value.

        :param key: the field name.
        :param default: returned when absent; without it absence raises
            :class:`BadRequestKeyError`.
        """
        values = self._lists.pop(key, None)
        if values is None:
            if default is _MISSING:
                raise BadRequestKeyError(key)
            return default
        return values[0]

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return the first value of *key*, adding *default* first when absent.

        :param key: the field name.
        :param default: the value to add when absent.
        """
        values = self._lists.get(key)
        if values:
            return values[0]
        self._lists[key] = [default]
        return default

    def update(self, other: Any = (), /, **kwargs: V) -> None:
        """Add the values of *other* and *kwargs*, keeping existing values (Flask semantics).

        :param other: anything the constructor accepts.
        :param kwargs: more key/value pairs.
        """
        for key, values in MultiDict(other).lists():
            self._lists.setdefault(key, []).extend(values)
        for key, value in kwargs.items():
            self.add(key, value)

    def clear(self) -> None:
        """Remove every key."""
        self._lists.clear()

    def copy(self) -> MultiDict[V]:
        """Return a copy whose value lists are independent of this one."""
        return type(self)(self)

    # -- views -------------------------------------------------------------------------

    def items(self, multi: bool = False) -> list[tuple[str, V]]:  # type: ignore[override]
        """Return ``(key, first value)`` pairs, or every pair when *multi* is true.

        :param multi: give every value; pairs of one key stay together, keys in
            first-seen order.
        """
        if multi:
            return [(key, value) for key, values in self._lists.items() for value in values]
        return [(key, values[0]) for key, values in self._lists.items()]

    def keys(self) -> list[str]:  # type: ignore[override]
        """Return the keys in first-seen order."""
        return list(self._lists)

    def values(self) -> list[V]:  # type: ignore[override]
        """Return the first value of each key."""
        return [values[0] for values in self._lists.values()]

    def lists(self) -> list[tuple[str, list[V]]]:
        """Return ``(key, [values])`` pairs; the lists are copies."""
        return [(key, values.copy()) for key, values in self._lists.items()]

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """Return a plain dict: first values when *flat*, otherwise lists of all values.

        :param flat: whether to keep only the first value of each key.
        """
        if flat:
            return {key: values[0] for key, values in self._lists.items()}
        return {key: values.copy() for key, values in self._lists.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._lists == other._lists
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items(multi=True)!r})"


def _convert(value: Any, default: Any, type: Callable[[Any], Any] | None) -> Any:
    if type is None:
        return value
    try:
        return type(value)
    except (ValueError, TypeError):
        return default


# -- parsing ---------------------------------------------------------------------------


def percent_decode(data: bytes) -> bytes:
    """Percent-decode *data* exactly as :func:`urllib.parse.unquote_to_bytes` does.

    ``%XX`` becomes its byte; a ``%`` not followed by two hex digits stays as it is.
    The common case runs in C: every ``%`` becomes a ``\\x`` escape (after
    backslashes are doubled, so no other escape can arise) for
    ``codecs.escape_decode``, which refuses a ``%`` without two hex digits; then the
    data is decoded the slow way, so the result is the same in every case.  It is
    about ten times faster on a form body (see bench/NOTES.md).
    """
    try:
        decoded: bytes = codecs.escape_decode(data.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:
        return unquote_to_bytes(data)
    return decoded


def _decode_part(raw: bytes, charset: str, where: str) -> str:
    if b"+" in raw:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        raw = percent_decode(raw)
    try:
        return raw.decode(charset)
    except UnicodeDecodeError:
        raise RequestError(f"invalid {charset} in {where}", 400) from None


def _decode_plain(raw: bytes, charset: str, where: str) -> str:
    """:func:`_decode_part` for bytes with nothing left to unescape."""
    try:
        return raw.decode(charset)
    except UnicodeDecodeError:
        raise RequestError(f"invalid {charset} in {where}", 400) from None


#: An escape that decodes to a separator, ``%26`` (``&``) or ``%3D`` (``=``): form data
#: without one can be unescaped whole before it is split into fields.
ESCAPED_SEPARATOR = re.compile(rb"%(26|3[dD])")


#: Charsets in which ``&`` and ``=`` are single bytes that occur inside no other
#: character: a body decoded whole splits into what its parts decode to one by one.
_SPLIT_SAFE_CHARSETS = frozenset({"utf-8", "iso8859-1", "ascii"})


def _parse_text(
    data: bytes, keep_blank_values: bool, charset: str
) -> MultiDict[str] | None:
    """:func:`_parse_pairs` for data without an escaped separator in a split-safe
    charset: unescaped and decoded in one call each, then split as text (deliberate,
    see bench/NOTES.md).  ``None`` when the whole does not decode, so that the part
    at fault is found and reported as :func:`_parse_pairs` reports it."""
    if b"+" in data:
        data = data.replace(b"+", b" ")
    if b"%" in data:
        data = percent_decode(data)
    try:
        text = data.decode(charset)
    except UnicodeDecodeError:
        return None
    lists: dict[str, list[str]] = {}
    # A plain loop: splitting and pairing through map and dict() counted more
    # instructions on the benchmark's form (see bench/NOTES.md).
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if not value and not keep_blank_values:
            continue
        values = lists.get(name)
        if values is None:
            lists[name] = [value]
        else:
            values.append(value)
    result: MultiDict[str] = MultiDict()
    result._lists = lists
    return result


def _parse_pairs(
    data: bytes,
    *,
    keep_blank_values: bool,
    max_fields: int,
    charset: str,
    where: str,
    limit_status: int,
) -> MultiDict[str]:
    result: MultiDict[str] = MultiDict()
    if not data:
        return result
    # Counting separators first refuses a flood before any splitting work is done.
    if data.count(b"&") + 1 > max_fields:
        fields = sum(1 for piece in data.split(b"&") if piece)
        if fields > max_fields:
            raise RequestError(f"too many fields in {where} (limit {max_fields})", limit_status)
    if charset in _SPLIT_SAFE_CHARSETS and (b"%" not in data or ESCAPED_SEPARATOR.search(data) is None):
        parsed = _parse_text(data, keep_blank_values, charset)
        if parsed is not None:
            return parsed
    decode = _decode_part
    if b"%" in data and ESCAPED_SEPARATOR.search(data) is None:
        # No escape decodes to "&" or "=", and none can span one (neither is a hex
        # digit): unescaping the whole body is unescaping every part, in one call
        # instead of one per part (see bench/NOTES.md).  "+" first, as per part.
        data = percent_decode(data.replace(b"+", b" ") if b"+" in data else data)
        decode = _decode_plain
    elif b"%" not in data:
        decode = _decode_plain if b"+" not in data else _decode_part
    for piece in data.split(b"&"):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition(b"=")
        if not raw_value and not keep_blank_values:
            continue
        name = decode(raw_name, charset, where)
        value = decode(raw_value, charset, where) if raw_value else ""
        result.add(name, value)
    return result


def parse_qs(
    query: str | bytes, *, keep_blank_values: bool = True, max_fields: int = 1000
) -> MultiDict[str]:
    """Parse a URL query string (without the ``?``) into a :class:`MultiDict`.

    Fields are separated by ``&`` only (``;`` is data, as in current browsers and
    Python); ``+`` means a space; percent-escapes are decoded and the result must be
    UTF-8.  A malformed escape such as ``%zz`` is kept literally.

    :param query: the query; ``bytes`` straight from the request target, or a ``str``
        (encoded as UTF-8 first, so already-decoded text passes through unchanged).
    :param keep_blank_values: keep ``a=`` and bare ``a`` as empty strings.
    :param max_fields: the most non-empty fields accepted.
    :raises RequestError: 400 for invalid UTF-8 or more than *max_fields* fields.
    """
    data = query.encode("utf-8") if isinstance(query, str) else bytes(query)
    return _parse_pairs(
        data,
        keep_blank_values=keep_blank_values,
        max_fields=max_fields,
        charset="utf-8",
        where="query string",
        limit_status=400,
    )


def parse_urlencoded(
    body: bytes, *, charset: str = "utf-8", max_fields: int = 1000
) -> MultiDict[str]:
    """Parse an ``application/x-www-form-urlencoded`` request body.

    The rules are those of :func:`parse_qs`; blank values are kept.

    :param body: the raw body.
    :param charset: the body's character set (from the Content-Type, if the client
        named one).
    :raises RequestError: 400 for undecodable text, 413 for more than *max_fields*
        fields, 415 for a charset Python does not know.
    """
    try:
        charset = _codec_name(charset)
    except LookupError:
        raise RequestError("unsupported charset in form body", 415) from None
    return _parse_pairs(
        bytes(body),
        keep_blank_values=True,
        max_fields=max_fields,
        charset=charset,
        where="form body",
        limit_status=413,
    )


def _codec_name(charset: str) -> str:
    return codecs.lookup(charset).name


def encode_query(
    data: Mapping[str, Any] | Iterable[tuple[str, Any]],
) -> str:
    """Encode fields as ``application/x-www-form-urlencoded`` (also a query string).

    Spaces become ``+`` and everything but unreserved characters is percent-encoded
    as UTF-8.  Round-trips through :func:`parse_qs`.

    :param data: a :class:`MultiDict` (all values are written), a mapping whose values
        may be lists for repeated fields, or an iterable of ``(name, value)`` pairs.
        Values may be ``str``, ``bytes`` or ``int``.
    :raises TypeError: for any other value type.
    """
    if isinstance(data, MultiDict):
        pairs: Iterable[tuple[str, Any]] = data.items(multi=True)
    elif isinstance(data, Mapping):
        pairs = [
            (key, item)
            for key, value in data.items()
            for item in (value if isinstance(value, list | tuple) else [value])
        ]
    else:
        pairs = data
    return "&".join(f"{_encode_one(name)}={_encode_one(value)}" for name, value in pairs)


def _encode_one(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | bytes | int):
        raise TypeError(f"cannot encode {type(value).__name__} in a query string")
    if isinstance(value, int):
        value = str(value)
    return quote_plus(value, safe="")
