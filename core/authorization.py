"""The ``Authorization`` and ``WWW-Authenticate`` fields (RFC 9110 section 11).

A client sends credentials in ``Authorization``; a server asks for them with
a challenge in ``WWW-Authenticate``.  Both fields have one shape: a scheme,
then either a token (``Bearer abc``, the base64 of ``Basic``) or
comma-separated ``name=value`` parameters (``Digest realm="x", nonce=...``).
:class:`Authorization` and :class:`WWWAuthenticate` read and write that shape
the way werkzeug 3 does, so a Flask view ported to crosswind sees the same
objects:

- The scheme is kept lowercase in :attr:`~Authorization.type`; it is written
  title-cased (``Basic``, ``Bearer``).
- A value holding an ``=`` before its trailing padding has parameters;
  otherwise it is a token (``abc==`` is a token, ``a=b`` a parameter).
- ``Basic`` credentials are decoded into the ``username`` and ``password``
  parameters.  Credentials that are not strict base64 of UTF-8 text are not
  credentials at all: :meth:`Authorization.from_header` returns ``None``, as
  it does for an empty field, and a view sees "no authorization".  (werkzeug
  raises ``ValueError`` for non-ASCII text there, which Flask turns into a
  500; this is the one place where the two differ.)
- Parameter values may be quoted strings (``"a, b"``) and may use RFC 8187's
  ``name*=UTF-8''%e2%82%ac`` form; a quoted string left open makes the
  parameters empty.

Pure functions and plain objects: no I/O and no state beyond the object.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote

from .grammar import TCHARS

__all__ = [
    "Authorization",
    "WWWAuthenticate",
    "dump_parameters",
    "parse_parameters",
    "quote_parameter",
]

_TOKEN_CHARS = frozenset(TCHARS)
_ESCAPED = re.compile(r"\\(.)", re.ASCII)
# RFC 8187's ext-value: charset ' [language] ' percent-encoded value.
_EXT_VALUE = re.compile(
    r"([\w!#$%&*+\-.^`|~]*)'[\w!#$%&*+\-.^`|~]*'([\w!#$%&'*+\-.^`|~]+)$", re.ASCII
)
# The charsets a modern client sends; any other leaves the value as it came.
_EXT_CHARSETS = frozenset({"ascii", "us-ascii", "utf-8", "iso-8859-1"})
# The Digest parameters RFC 7616 defines as quoted-string only: written quoted
# even when they are plain tokens, because some clients insist on it.
_ALWAYS_QUOTED_DIGEST = frozenset({"realm", "domain", "nonce", "opaque", "qop"})


def quote_parameter(value: object, *, allow_token: bool = True) -> str:
    """*value* as a parameter value: bare if it is a token, else a quoted string.

    :param value: converted with :func:`str`.
    :param allow_token: ``False`` quotes tokens too.
    """
    text = str(value)
    if not text:
        return '""'
    if allow_token and _TOKEN_CHARS.issuperset(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return _ESCAPED.sub(r"\1", value[1:-1])
    return value


def _split_list(value: str) -> list[str]:
    """The comma-separated items of *value*; commas inside quotes do not split."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == ",":
            items.append("".join(current))
            current = []
            continue
        elif char == '"':
            quoted = True
        current.append(char)
    if quoted:
        return []  # an open quoted string: nothing in the field can be trusted
    items.append("".join(current))
    stripped = (item.strip(" \t") for item in items)
    return [_unquote(item) for item in stripped if item]


def parse_parameters(value: str) -> dict[str, str | None]:
    """The ``name=value`` parameters of a field, in order; a bare name maps to ``None``.

    :param value: e.g. ``realm="x, y", nonce=abc, stale``.
    """
    result: dict[str, str | None] = {}
    for item in _split_list(value):
        name, has_value, raw = item.partition("=")
        name = name.strip(" \t")
        if not name:
            continue
        if not has_value:
            result[name] = None
            continue
        raw = raw.strip(" \t")
        if name.endswith("*"):
            name = name[:-1]
            found = _EXT_VALUE.match(raw)
            if found is not None:
                charset, encoded = found.groups()
                if charset.lower() in _EXT_CHARSETS:
                    raw = unquote(encoded, encoding=charset.lower())
                else:
                    raw = encoded
        result[name] = _unquote(raw)
    return result


def dump_parameters(parameters: Mapping[str, str | None]) -> str:
    """The inverse of :func:`parse_parameters`.

    A name ending in ``*`` is taken to carry an encoded value already and is
    written as it is; a ``None`` value writes the name alone.

    :param parameters: the parameters, in the order to write them.
    """
    items = []
    for name, value in parameters.items():
        if value is None:
            items.append(name)
        elif name.endswith("*"):
            items.append(f"{name}={value}")
        else:
            items.append(f"{name}={quote_parameter(value)}")
    return ", ".join(items)


def _split_scheme(value: str) -> tuple[str, str]:
    scheme, _, rest = value.partition(" ")
    return scheme.lower(), rest.strip(" \t")


def _has_parameters(rest: str) -> bool:
    # A token68 may end in "=" padding; an "=" before that separates a parameter.
    return "=" in rest.rstrip("=")


class Authorization:
    """The credentials of an ``Authorization`` request field.

    Either :attr:`parameters` or :attr:`token` carries them, by scheme.
    ``auth.username``, ``auth["username"]`` and ``auth.get("username")`` read
    a parameter (``None`` when absent).

    :param auth_type: the scheme, lowercase (``basic``, ``digest``, ``bearer``).
    :param data: the parameters.
    :param token: the token of a token scheme.
    """

    def __init__(
        self, auth_type: str, data: dict[str, str | None] | None = None, token: str | None = None
    ) -> None:
        self.type = auth_type
        self.parameters: dict[str, str | None] = {} if data is None else data
        self.token = token

    @classmethod
    def from_header(cls, value: str | None) -> Authorization | None:
        """Parse a field value; ``None`` when it is empty or its ``Basic``
        credentials cannot be decoded.

        :param value: the field value, or ``None`` when the field is absent.
        """
        if not value:
            return None
        scheme, rest = _split_scheme(value)
        if scheme == "basic":
            try:
                decoded = base64.b64decode(rest, validate=True).decode()
            except ValueError:
                # binascii.Error, UnicodeError, and non-ASCII text, which werkzeug
                # lets escape as a 500: all of them are credentials that are not.
                return None
            username, _, password = decoded.partition(":")
            return cls(scheme, {"username": username, "password": password})
        if _has_parameters(rest):
            return cls(scheme, parse_parameters(rest))
        return cls(scheme, None, rest)

    def to_header(self) -> str:
        """The field value these credentials are sent as."""
        if self.type == "basic":
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        if self.token is not None:
            return f"{self.type.title()} {self.token}"
        return f"{self.type.title()} {dump_parameters(self.parameters)}"

    def __getattr__(self, name: str) -> str | None:
        # Only reached for names that are not attributes: the parameters.
        if name.startswith("__") or name == "parameters":
            raise AttributeError(name)
        return self.parameters.get(name)

    def __getitem__(self, name: str) -> str | None:
        return self.parameters.get(name)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The parameter *key*, or *default*.

        :param key: the parameter name.
        :param default: returned when it is absent.
        """
        return self.parameters.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.parameters

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Authorization):
            return NotImplemented
        return (self.type, self.token, self.parameters) == (other.type, other.token, other.parameters)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_header()}>"


class _Parameters(MutableMapping[str, "str | None"]):
    """A dict that tells its owner of every change, so the field follows it."""

    def __init__(self, values: Mapping[str, str | None] | None, changed: Callable[[], None]) -> None:
        self._data: dict[str, str | None] = dict(values or {})
        self._changed = changed

    def __getitem__(self, key: str) -> str | None:
        return self._data[key]

    def __setitem__(self, key: str, value: str | None) -> None:
        self._data[key] = value
        self._changed()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._changed()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Parameters):
            return self._data == other._data
        return self._data == other

    def __repr__(self) -> str:
        return repr(self._data)


class WWWAuthenticate:
    """One challenge of a ``WWW-Authenticate`` response field.

    Attribute and item access read and write the parameters
    (``challenge.realm = "Login"``).  A challenge taken from
    ``response.www_authenticate`` writes itself back into the response's
    field on every change.

    :param auth_type: the scheme; kept lowercase.
    :param values: the parameters.
    :param token: the token of a token challenge.
    """

    _OWN = frozenset({"_type", "_parameters", "_token", "_on_update"})

    def __init__(
        self,
        auth_type: str,
        values: Mapping[str, str | None] | None = None,
        token: str | None = None,
    ) -> None:
        self._on_update: Callable[[WWWAuthenticate], None] | None = None
        self._type = auth_type.lower()
        self._parameters = _Parameters(values, self._notify)
        self._token = token

    def _notify(self) -> None:
        if self._on_update is not None:
            self._on_update(self)

    @property
    def type(self) -> str:
        """The scheme, lowercase."""
        return self._type

    @type.setter
    def type(self, value: str) -> None:
        self._type = value
        self._notify()

    @property
    def parameters(self) -> MutableMapping[str, str | None]:
        """The parameters; changing them changes the field."""
        return self._parameters

    @parameters.setter
    def parameters(self, value: Mapping[str, str | None]) -> None:
        self._parameters = _Parameters(value, self._notify)
        self._notify()

    @property
    def token(self) -> str | None:
        """The token of a token challenge."""
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        self._token = value
        self._notify()

    @classmethod
    def from_header(cls, value: str | None) -> WWWAuthenticate | None:
        """Parse one challenge; ``None`` when *value* is empty.

        :param value: the field value.
        """
        if not value:
            return None
        scheme, rest = _split_scheme(value)
        if _has_parameters(rest):
            return cls(scheme, parse_parameters(rest))
        return cls(scheme, None, rest)

    def to_header(self) -> str:
        """The field value of this challenge."""
        if self._token is not None:
            return f"{self._type.title()} {self._token}"
        if not self._parameters:
            return self._type.title()
        if self._type == "digest":
            items = [
                f"{name}={quote_parameter(value, allow_token=name not in _ALWAYS_QUOTED_DIGEST)}"
                for name, value in self._parameters.items()
            ]
            return "Digest " + ", ".join(items)
        return f"{self._type.title()} {dump_parameters(self._parameters)}"

    def __getitem__(self, key: str) -> str | None:
        return self._parameters.get(key)

    def __setitem__(self, key: str, value: str | None) -> None:
        if value is None:
            if key in self._parameters:
                del self._parameters[key]
        else:
            self._parameters[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._parameters:
            del self._parameters[key]

    def __getattr__(self, name: str) -> str | None:
        if name.startswith("__") or name in self._OWN:
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._OWN or name in ("type", "parameters", "token"):
            super().__setattr__(name, value)
        else:
            self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def get(self, key: str, default: str | None = None) -> str | None:
        """The parameter *key*, or *default*.

        :param key: the parameter name.
        :param default: returned when it is absent.
        """
        return self._parameters.get(key, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WWWAuthenticate):
            return NotImplemented
        return (self._type, self._token, dict(self._parameters)) == (
            other._type, other._token, dict(other._parameters)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_header()}>"
