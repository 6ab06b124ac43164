"""A case-insensitive, multi-valued, order-keeping collection of HTTP header fields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, Self, TypeVar, overload

from .grammar import FIELD_OCTETS, field_problem, is_field_value, is_token

__all__ = ["Headers", "HeaderValue"]

#: What a header value may be given as; bytes are taken as latin-1, ints are ``str()``-ed.
HeaderValue = str | bytes | int

_MISSING: Any = object()
_T = TypeVar("_T")


def _name(name: str | bytes) -> str:
    if isinstance(name, str):
        text = name
    elif isinstance(name, bytes):
        text = name.decode("latin-1")
    else:
        raise TypeError(f"header name must be str or bytes, not {type(name).__name__}")
    if not is_token(text):
        # Refusing here points at the caller, not at the flush of the response.
        raise ValueError(field_problem(text))
    return text


#: Names :func:`_name` accepted, with their lowercased form.  A server sets the same few
#: names on every response, so each is checked once (see ``bench/NOTES.md``).
#: Bounded, so that varying names cannot grow it.
_KNOWN_NAMES: dict[str, str] = {}
_KNOWN_NAMES_LIMIT = 256
#: The same for names as a connection hands them over: ``bytes`` -> (text, lowercased).
_WIRE_NAMES: dict[bytes, tuple[str, str]] = {}


def _check_name(name: str | bytes) -> tuple[str, str]:
    """Check *name* as :func:`_name` does; return it as text and lowercased."""
    text = _name(name)
    key = text.lower()
    if type(name) is str and len(_KNOWN_NAMES) < _KNOWN_NAMES_LIMIT:
        _KNOWN_NAMES[text] = key
    return text, key


def _value(name: str, value: HeaderValue) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        text = value.decode("latin-1")
    elif isinstance(value, int):
        text = str(value)
    else:
        raise TypeError(
            f"value of header {name!r} must be str, bytes or int, not {type(value).__name__}"
        )
    if not is_field_value(text):
        # A CR or LF let through would smuggle extra header lines or a body.
        raise ValueError(field_problem(name, text))
    return text


class Headers:
    """HTTP header fields: names compare case-insensitively, a name may repeat, order is kept.

    Single-value access (:meth:`get`, ``headers[name]``) returns the *first* value;
    :meth:`get_list` returns them all.  Iteration, :meth:`keys` and ``len()`` see each
    distinct name once (spelled as at its first occurrence), while :meth:`items` and
    :meth:`values` see every field in order, duplicates included.

    :param source: ``None``; a mapping of names to values; another :class:`Headers`;
        or an iterable of ``(name, value)`` pairs, where names and values may be ``bytes``
        (decoded as latin-1), as a parser hands them over.
    :raises ValueError: if a name is not a token, or a value holds a control character
        other than HTAB or a character beyond latin-1 (:func:`crosswind.grammar.field_problem`
        says which); every method that adds or sets a field raises the same.
    """

    __slots__ = ("_pairs", "_map")

    def __init__(
        self,
        source: Headers
        | Mapping[Any, HeaderValue]
        | Iterable[tuple[str | bytes, HeaderValue]]
        | None = None,
    ) -> None:
        # _pairs keeps wire order; _map (lowercased name -> values) makes lookups O(1).
        self._pairs: list[tuple[str, str]] = []
        self._map: dict[str, list[str]] = {}
        if source is None:
            return
        if isinstance(source, Headers):
            self._pairs = source._pairs.copy()
            self._map = {key: values.copy() for key, values in source._map.items()}
            return
        for name, value in _pairs_of(source):
            self.add(name, value)

    @classmethod
    def from_checked(
        cls, pairs: list[tuple[str, str]], index: dict[str, list[str]] | None = None
    ) -> Self:
        """Wrap fields that are known to be valid, skipping every check and copy.

        For code that builds the same fields on every response from literals and values
        it has already checked: *pairs* must be ``str`` fields that :meth:`add` would
        accept unchanged, and *index*, if given, must be what :meth:`add` would have
        built for them; both become this object's own.

        :param pairs: the fields in wire order.
        :param index: lowercased name -> values, built from *pairs* when omitted.
        """
        headers = cls.__new__(cls)
        headers._pairs = pairs
        if index is None:
            index = {}
            for name, value in pairs:
                values = index.get(name.lower())
                if values is None:
                    index[name.lower()] = [value]
                else:
                    values.append(value)
        headers._map = index
        return headers

    @classmethod
    def from_wire(cls, raw: Iterable[tuple[bytes, bytes]]) -> Self:
        """``Headers(raw)`` for ``bytes`` fields as a connection hands them over, only faster.

        One pass over all the bytes finds any octet a field may not hold, and names
        seen before are looked up instead of checked, decoded and lowercased again.
        Anything else (a control character, a name that is not a token, a ``str``
        field) goes through the constructor, errors included.

        :param raw: ``(name, value)`` pairs of ``bytes``.
        :raises ValueError: as the constructor does.
        """
        raw = list(raw)
        try:
            every_byte = b"".join(chain.from_iterable(raw))
        except TypeError:
            return cls(raw)
        if every_byte.translate(None, FIELD_OCTETS):
            return cls(raw)
        pairs: list[tuple[str, str]] = []
        index: dict[str, list[str]] = {}
        names = _WIRE_NAMES
        try:
            for raw_name, raw_value in raw:
                known = names.get(raw_name)
                if known is None:
                    if type(raw_name) is not bytes or not is_token(raw_name):
                        return cls(raw)
                    name = raw_name.decode("latin-1")
                    known = name, name.lower()
                    if len(names) < _KNOWN_NAMES_LIMIT:
                        names[raw_name] = known
                name, key = known
                value = raw_value.decode("latin-1")
                pairs.append((name, value))
                values = index.get(key)
                if values is None:
                    index[key] = [value]
                else:
                    values.append(value)
        except TypeError:  # an unhashable name (a bytearray): the constructor says why
            return cls(raw)
        return cls.from_checked(pairs, index)

    # -- single-field operations -------------------------------------------------------

    def add(self, name: str | bytes, value: HeaderValue) -> None:
        """Append a field, keeping any existing fields of the same name.

        :param name: the field name.
        :param value: the field value.
        """
        key = _KNOWN_NAMES.get(name) if type(name) is str else None
        if key is None:
            name, key = _check_name(name)
        value = _value(name, value)  # type: ignore[arg-type]
        self._pairs.append((name, value))  # type: ignore[arg-type]
        values = self._map.get(key)
        if values is None:
            self._map[key] = [value]
        else:
            values.append(value)

    def set(self, name: str | bytes, value: HeaderValue) -> None:
        """Replace every field called *name* with one field holding *value*.

        The new field, spelled as given here, takes the position of the first one it
        replaces (or goes last).

        :param name: the field name.
        :param value: the field value.
        """
        key = _KNOWN_NAMES.get(name) if type(name) is str else None
        if key is None:
            name, key = _check_name(name)
        self._replace(name, key, _value(name, value))  # type: ignore[arg-type]

    def set_checked(self, name: str, value: str) -> None:
        """:meth:`set` for a value its caller has already checked.

        For code that vets its values itself, or sets values it made (a number, a
        literal): *value* must pass :func:`crosswind.grammar.is_field_value` and is
        stored as given; the name is still checked, once per distinct name.

        :param name: the field name.
        :param value: the field value, already checked.
        :raises ValueError: the name is not a token.
        """
        key = _KNOWN_NAMES.get(name)
        if key is None:
            name, key = _check_name(name)
        index = self._map
        values = index.get(key)
        if values is None:
            # The name is new here, the usual case: no search for fields to replace.
            self._pairs.append((name, value))
            index[key] = [value]
            return
        if len(values) == 1:
            # _replace()'s first case without its call: a handler setting a default
            # again, spelled the same (deliberate, see bench/NOTES.md).
            pairs = self._pairs
            try:
                pairs[pairs.index((name, values[0]))] = (name, value)
            except ValueError:
                pass
            else:
                index[key] = [value]
                return
        self._replace(name, key, value)

    def _replace(self, name: str, key: str, value: str) -> None:
        index = self._map
        values = index.get(key)
        if values is None:
            self._pairs.append((name, value))
        elif len(values) == 1:
            # One field to replace (a handler overriding a default, say): in place
            # instead of rebuilding the list (see bench/NOTES.md).
            pairs = self._pairs
            try:
                # Usually the field is spelled as it is set again: a search in C
                # instead of a lower() per field.
                pairs[pairs.index((name, values[0]))] = (name, value)
            except ValueError:
                for position, pair in enumerate(pairs):
                    if pair[0].lower() == key:
                        pairs[position] = (name, value)
                        break
        else:
            kept: list[tuple[str, str]] = []
            placed = False
            for pair in self._pairs:
                if pair[0].lower() != key:
                    kept.append(pair)
                elif not placed:
                    kept.append((name, value))
                    placed = True
            self._pairs = kept
        index[key] = [value]

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: _T) -> str | _T: ...
    def get(self, name: str, default: Any = None) -> Any:
        """Return the first value of *name*, or *default* if there is none.

        :param name: the field name, in any case.
        :param default: what to return when the field is absent.
        """
        values = self._map.get(name.lower())
        return values[0] if values else default

    def get_list(self, name: str) -> list[str]:
        """Return every value of *name* in order (an empty list if absent).

        :param name: the field name, in any case.
        """
        values = self._map.get(name.lower())
        return values.copy() if values else []

    def setdefault(self, name: str | bytes, default: HeaderValue) -> str:
        """Return the first value of *name*, first adding *default* if it is absent.

        :param name: the field name.
        :param default: the value to add when the field is absent.
        """
        name = _name(name)
        values = self._map.get(name.lower())
        if values:
            return values[0]
        self.add(name, default)
        return self._map[name.lower()][0]

    def pop(self, name: str, default: Any = _MISSING) -> Any:
        """Remove every field called *name* and return the first value.

        :param name: the field name, in any case.
        :param default: returned when absent; without it, absence raises :class:`KeyError`.
        """
        key = name.lower()
        values = self._map.pop(key, None)
        if values is None:
            if default is _MISSING:
                raise KeyError(name)
            return default
        self._pairs = [pair for pair in self._pairs if pair[0].lower() != key]
        return values[0]

    # -- mapping protocol -------------------------------------------------------------

    def __getitem__(self, name: str) -> str:
        values = self._map.get(name.lower())
        if not values:
            raise KeyError(name)
        return values[0]

    def __setitem__(self, name: str, value: HeaderValue) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        self.pop(name)

    def __contains__(self, name: object) -> bool:
        key = _KNOWN_NAMES.get(name) if type(name) is str else None
        if key is not None:
            # A name seen before needs no lower() (hot path, see bench/NOTES.md).
            return key in self._map
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._map)

    def keys(self) -> list[str]:
        """Return each distinct name once, spelled as at its first occurrence, in order."""
        if len(self._map) == len(self._pairs):
            return [pair[0] for pair in self._pairs]
        seen: set[str] = set()
        names = []
        for name, _ in self._pairs:
            key = name.lower()
            if key not in seen:
                seen.add(key)
                names.append(name)
        return names

    def values(self) -> list[str]:
        """Return every value in wire order, duplicates included (parallel to :meth:`items`)."""
        return [pair[1] for pair in self._pairs]

    def items(self) -> list[tuple[str, str]]:
        """Return every ``(name, value)`` field in wire order, duplicates included."""
        return self._pairs.copy()

    def raw(self) -> list[tuple[bytes, bytes]]:
        """Return every field as latin-1 ``(name, value)`` bytes, ready for the wire."""
        return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self._pairs]

    # -- whole-collection operations --------------------------------------------------

    def copy(self) -> Headers:
        """Return an independent copy."""
        return Headers(self)

    def update(
        self,
        other: Headers
        | Mapping[Any, HeaderValue]
        | Iterable[tuple[str | bytes, HeaderValue]]
        | None = None,
        /,
        **kwargs: HeaderValue,
    ) -> None:
        """Replace the fields named in *other* and *kwargs* with the values given there.

        A name that appears several times in the input keeps all of its new values;
        names not mentioned are left alone.

        :param other: anything the constructor accepts.
        :param kwargs: more fields; use this only for names that are Python identifiers.
        """
        incoming = Headers(other)
        for name, value in kwargs.items():
            incoming.add(name, value)
        for name in incoming:
            values = incoming._map[name.lower()]
            self.set(name, values[0])
            for value in values[1:]:
                self.add(name, value)

    def clear(self) -> None:
        """Remove every field."""
        self._pairs = []
        self._map = {}

    def __eq__(self, other: object) -> bool:
        # Order matters among values of one name (it is meaningful there), not across names.
        if isinstance(other, Headers):
            return self._map == other._map
        if isinstance(other, Mapping | list | tuple):
            try:
                return self._map == Headers(other)._map
            except (TypeError, ValueError):
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._pairs!r})"


def _pairs_of(
    source: Mapping[Any, HeaderValue] | Iterable[tuple[str | bytes, HeaderValue]],
) -> Iterable[tuple[Any, Any]]:
    if isinstance(source, Mapping):
        return source.items()
    if isinstance(source, str | bytes):
        raise TypeError("Headers() needs a mapping or (name, value) pairs, not a string")
    return source
