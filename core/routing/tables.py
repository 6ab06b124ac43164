"""Tornado's handler tables: :class:`URLSpec` (alias :data:`url`) ties a path
regex to a handler, :class:`HandlerTable` is an ordered list of them, and
:class:`HostRouter` puts tables per virtual host in front of a table for any
host, as ``tornado.web.Application`` does.

Tornado's rule is "the first pattern in list order that matches".  A table
keeps it while indexing every pattern by the complete path segments of its
literal prefix (``/api/v1/users/(\\d+)`` is filed under
``"" / "api" / "v1" / "users"``): a lookup walks that trie along the request
path and runs only the regexes filed on the way, in their original order.
Patterns are matched against the raw, still percent-encoded path; the groups a
match captures are handed over percent-decoded, as bytes, and decoded as UTF-8
on request (:class:`HandlerMatch`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from ..errors import RequestError

__all__ = ["HandlerMatch", "HandlerTable", "HostRouter", "URLSpec", "url"]

_REGEX_META = set(".^$*+?{}[]\\|()")
_QUANTIFIERS = set("*+?{")
_PORT_RE = re.compile(r"^(.+):(\d+)$")


def _syntax_positions(pattern: str, start: int = 0) -> Iterator[int]:
    """Indices of the characters of *pattern*, from *start*, that are regex syntax:
    neither escaped nor inside a character class (whose brackets are skipped too)."""
    i = start
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern.startswith("]", i + 1):
                i += 1
        else:
            yield i
        i += 1


def _skip_group(pattern: str, start: int) -> tuple[int, bool]:
    """Return the index after the group opening at *start* and whether it
    contains a nested capturing group."""
    depth = 0
    nested_capture = False
    for i in _syntax_positions(pattern, start):
        c = pattern[i]
        if c == "(":
            if depth > 0 and (
                not pattern.startswith("?", i + 1) or pattern.startswith("?P<", i + 1)
            ):
                nested_capture = True
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1, nested_capture
    raise ValueError("unbalanced parenthesis")


def _has_top_level_alternation(pattern: str) -> bool:
    depth = 0
    for i in _syntax_positions(pattern):
        c = pattern[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
    return False


def _literal_char(pattern: str, i: int) -> tuple[str, int] | None:
    """The literal character at *i* and the index after it, or ``None``."""
    c = pattern[i]
    if c == "\\":
        if i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            return pattern[i + 1], i + 2
        return None
    if c in _REGEX_META:
        return None
    return c, i + 1


def _literal_prefix(regex: re.Pattern[str]) -> str:
    """The text every string this regex matches (from its start) begins with."""
    if regex.flags & (re.IGNORECASE | re.VERBOSE):
        return ""
    pattern = regex.pattern
    if _has_top_level_alternation(pattern):
        return ""
    i = 1 if pattern.startswith("^") else 0
    out: list[str] = []
    while i < len(pattern):
        literal = _literal_char(pattern, i)
        if literal is None:
            break
        char, after = literal
        if after < len(pattern) and pattern[after] in _QUANTIFIERS:
            break  # this character may repeat or vanish
        out.append(char)
        i = after
    return "".join(out)


def _reverse_template(regex: re.Pattern[str]) -> tuple[tuple[str | None, ...] | None, str]:
    """Split a pattern into literal text and ``None`` slots for its groups.

    Returns ``(None, reason)`` when the pattern is not a plain literal with
    simple groups (the same cases Tornado refuses, and a few it would
    reverse into nonsense such as a quantified literal).
    """
    pattern = regex.pattern
    if pattern.startswith("^"):
        pattern = pattern[1:]
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1]
    pieces: list[str | None] = []
    text: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "(":
            if pattern.startswith("?", i + 1) and not pattern.startswith("?P<", i + 1):
                return None, "it has a non-capturing or special group"
            try:
                i, nested = _skip_group(pattern, i)
            except ValueError:
                return None, "its parentheses do not balance"
            if nested:
                return None, "it has nested groups"
            pieces.append("".join(text))
            pieces.append(None)
            text = []
            continue
        if c == ".":
            # Tornado reverses an unescaped dot as a dot ("/favicon.ico").
            text.append(c)
            i += 1
            continue
        literal = _literal_char(pattern, i)
        if literal is None:
            return None, f"{pattern[i : i + 2]!r} is not literal text"
        char, i = literal
        text.append(char)
    pieces.append("".join(text))
    return tuple(p for p in pieces if p != ""), ""


# The keyword arguments of every match without groups: shared, so read-only.
_NO_KWARGS: Mapping[str, bytes | None] = MappingProxyType({})


def _unquote_or_none(value: str | None) -> bytes | None:
    if value is None:
        return None
    if "%" not in value:
        # Nothing escaped (an id, a slug): no unquote_to_bytes (see bench/NOTES.md).
        return value.encode("utf-8")
    return unquote_to_bytes(value)


def _decode_arg(value: bytes | None, name: str | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(f"Invalid unicode in {name or 'url'}", 400) from None


class URLSpec:
    """A Tornado-style mapping from a path regex to a handler.

    Unnamed groups become positional arguments of the handler method, named
    groups keyword arguments; the two may not be mixed.

    :param pattern: the regex; a string gets a ``$`` appended unless it ends
        with one (a compiled pattern is used as is).  It is matched from the
        start of the raw (still percent-encoded) path.
    :param handler: the handler class (or any target) to dispatch to.
    :param kwargs: keyword arguments for the handler's ``initialize``.
    :param name: a name for :meth:`HandlerTable.reverse_url`.
    :raises ValueError: named and unnamed groups are mixed.
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        handler: Any,
        kwargs: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(pattern, str):
            regex = re.compile(pattern if pattern.endswith("$") else pattern + "$")
        elif isinstance(pattern, re.Pattern) and isinstance(pattern.pattern, str):
            regex = pattern
        else:
            raise TypeError(f"URL pattern must be a str or compiled str regex, not {pattern!r}")
        if regex.groupindex and len(regex.groupindex) != regex.groups:
            raise ValueError(
                f"groups in URL regexes must be all named or all positional: {regex.pattern!r}"
            )
        self.regex = regex
        self.handler = handler
        self.handler_class = handler
        self.kwargs: dict[str, Any] = dict(kwargs or {})
        self.name = name
        self._template, self._irreversible_reason = _reverse_template(regex)
        self.prefix = _literal_prefix(regex)
        self._whole_match: HandlerMatch | None = None

    def __repr__(self) -> str:
        return (
            f"URLSpec({self.regex.pattern!r}, {self.handler!r}, "
            f"kwargs={self.kwargs!r}, name={self.name!r})"
        )

    def match(self, path: str) -> HandlerMatch | None:
        """Match the raw request path against this spec.

        :param path: the path as sent (percent-encoded, no query string).
        """
        found = self.regex.match(path)
        if found is None:
            return None
        if not self.regex.groups:
            # Nothing in a match without groups varies, so one is made per spec:
            # deliberate, see bench/NOTES.md.
            whole = self._whole_match
            if whole is None:
                whole = self._whole_match = HandlerMatch(self, (), _NO_KWARGS)
            return whole
        if self.regex.groupindex:
            kwargs = {k: _unquote_or_none(v) for k, v in found.groupdict().items()}
            return HandlerMatch(self, (), kwargs)
        # A list comprehension, not a generator for tuple() (see bench/NOTES.md).
        return HandlerMatch(self, tuple([_unquote_or_none(v) for v in found.groups()]), {})

    def reverse(self, *args: str | bytes | int | float) -> str:
        """Build the path by putting *args* into the pattern's groups, in order.

        Each argument is turned into text (``str()`` for non-strings), encoded
        as UTF-8 and percent-encoded with ``/`` left alone.

        :param args: one value per group.
        :raises ValueError: the pattern cannot be reversed or the number of
            arguments is wrong.
        """
        if self._template is None:
            raise ValueError(
                f"cannot reverse URL regex {self.regex.pattern!r}: {self._irreversible_reason}"
            )
        if len(args) != self.regex.groups:
            raise ValueError(
                f"URL {self.regex.pattern!r} takes {self.regex.groups} argument(s), got {len(args)}"
            )
        values = iter(args)
        out: list[str] = []
        for piece in self._template:
            if piece is not None:
                out.append(piece)
                continue
            value = next(values)
            if not isinstance(value, str | bytes):
                value = str(value)
            if isinstance(value, str):
                value = value.encode("utf-8")
            out.append(quote(value, safe="/"))
        return "".join(out)


#: Tornado's short name for :class:`URLSpec`.
url = URLSpec


@dataclass(frozen=True, slots=True)
class HandlerMatch:
    """What a Tornado-style lookup found.

    :param spec: the matching :class:`URLSpec`.
    :param raw_path_args: percent-decoded bytes of unnamed groups (``None``
        for an optional group that did not take part).
    :param raw_path_kwargs: the same for named groups.
    """

    spec: URLSpec
    raw_path_args: tuple[bytes | None, ...]
    raw_path_kwargs: Mapping[str, bytes | None]

    @property
    def handler(self) -> Any:
        """The spec's handler."""
        return self.spec.handler

    @property
    def handler_kwargs(self) -> dict[str, Any]:
        """The spec's keyword arguments for the handler's ``initialize``."""
        return self.spec.kwargs

    @property
    def path_args(self) -> list[str | None]:
        """Unnamed groups decoded as UTF-8, as Tornado's default ``decode_argument``.

        :raises RequestError: 400 if a value is not valid UTF-8.
        """
        return [_decode_arg(v, None) for v in self.raw_path_args]

    @property
    def path_kwargs(self) -> dict[str, str | None]:
        """Named groups decoded as UTF-8.

        :raises RequestError: 400 if a value is not valid UTF-8.
        """
        return {k: _decode_arg(v, k) for k, v in self.raw_path_kwargs.items()}


_HandlerEntry = (
    URLSpec
    | tuple[str | re.Pattern[str], Any]
    | tuple[str | re.Pattern[str], Any, Mapping[str, Any] | None]
    | tuple[str | re.Pattern[str], Any, Mapping[str, Any] | None, str | None]
    | list[Any]
)


def _as_spec(entry: _HandlerEntry) -> URLSpec:
    if isinstance(entry, URLSpec):
        return entry
    if isinstance(entry, tuple | list) and 2 <= len(entry) <= 4:
        return URLSpec(*entry)
    raise TypeError(
        "a handler entry must be a URLSpec or a (pattern, handler[, kwargs[, name]]) "
        f"tuple, not {entry!r}"
    )


class _PrefixNode:
    __slots__ = ("candidates", "children", "own")

    def __init__(self) -> None:
        self.children: dict[str, _PrefixNode] = {}
        self.own: list[tuple[int, URLSpec]] = []
        self.candidates: tuple[URLSpec, ...] = ()


#: Paths a HandlerTable remembers the match of.
_FOUND_LIMIT = 1024


class HandlerTable:
    """An ordered Tornado handler list: the first spec that matches wins.

    :param handlers: ``URLSpec`` objects or ``(pattern, handler)``,
        ``(pattern, handler, kwargs)``, ``(pattern, handler, kwargs, name)``
        tuples.
    """

    def __init__(self, handlers: Iterable[_HandlerEntry] | None = None) -> None:
        self.specs: list[URLSpec] = []
        self.named: dict[str, URLSpec] = {}
        self._root: _PrefixNode | None = None
        self._found: dict[str, HandlerMatch] = {}
        self.add(handlers or ())

    def add(self, handlers: Iterable[_HandlerEntry]) -> None:
        """Append handlers after the existing ones.

        :param handlers: entries as for the constructor.
        """
        for entry in handlers:
            spec = _as_spec(entry)
            self.specs.append(spec)
            if spec.name:
                # Like Tornado, a later spec with the same name replaces the earlier.
                self.named[spec.name] = spec
        self._root = None
        self._found = {}

    def _index(self) -> _PrefixNode:
        root = self._root
        if root is not None:
            return root
        root = _PrefixNode()
        for order, spec in enumerate(self.specs):
            node = root
            # Only segments followed by "/" in the prefix are certain to be whole.
            for segment in spec.prefix.split("/")[:-1]:
                node = node.children.setdefault(segment, _PrefixNode())
            node.own.append((order, spec))
        pending: list[tuple[_PrefixNode, list[tuple[int, URLSpec]]]] = [(root, [])]
        while pending:
            node, inherited = pending.pop()
            merged = sorted(inherited + node.own, key=lambda item: item[0])
            node.candidates = tuple(spec for _, spec in merged)
            pending.extend((child, merged) for child in node.children.values())
        self._root = root
        return root

    def candidates(self, path: str) -> tuple[URLSpec, ...]:
        """The specs that could match *path*, in table order (for inspection).

        :param path: the raw request path.
        """
        # The built index without a call (hot path, see bench/NOTES.md).
        node = self._root or self._index()
        segments = path.split("/")
        for segment in segments[:-1]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        return node.candidates

    def find(self, path: str) -> HandlerMatch | None:
        """The first spec, in table order, whose pattern matches *path*.

        :param path: the raw (percent-encoded) request path without the query.
        """
        found = self._found.get(path)
        if found is not None:
            return found
        for spec in self.candidates(path):
            found = spec.match(path)
            if found is not None:
                # What a path matched is remembered (the match is frozen, and one
                # with named groups, whose values are a dict, is not kept; see
                # bench/NOTES.md).  Forgotten when handlers are added, and
                # wholesale at _FOUND_LIMIT paths.  Misses (404s) are not kept.
                if not found.raw_path_kwargs:
                    if len(self._found) >= _FOUND_LIMIT:
                        self._found = {}
                    self._found[path] = found
                return found
        return None

    def reverse_url(self, name: str, *args: str | bytes | int | float) -> str:
        """Build the path of the spec called *name*.

        :param name: the spec's name.
        :param args: one value per group of its pattern.
        :raises KeyError: no spec has that name.
        :raises ValueError: wrong number of arguments or irreversible pattern.
        """
        spec = self.named.get(name)
        if spec is None:
            raise KeyError(f"{name} not found in named urls")
        return spec.reverse(*args)

    reverse = reverse_url


def _host_name(host: str) -> str:
    host = host.lower()
    found = _PORT_RE.match(host)
    return found.group(1) if found else host


def _host_regex(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, str):
        return re.compile(pattern if pattern.endswith("$") else pattern + "$")
    return pattern


class HostRouter:
    """Tornado ``Application`` routing: virtual-host tables plus a fallback.

    A lookup tries, in order: every host table (in the order added) whose
    pattern matches the request's host name (lowercased, port removed) --
    if one matches the host but not the path, the next matching table is
    tried, as in Tornado; then the *handlers* given here, which serve any
    host; then, unless the request came through a proxy that set
    ``X-Real-Ip``, every host table whose pattern matches *default_host*.

    :param handlers: handlers for every host.
    :param default_host: the host name assumed for requests no host table takes.
    """

    def __init__(
        self,
        handlers: Iterable[_HandlerEntry] | None = None,
        default_host: str | None = None,
    ) -> None:
        self.default_host = default_host
        self.wildcard = HandlerTable(handlers)
        self.hosts: list[tuple[re.Pattern[str], HandlerTable]] = []
        self._default_tables: list[tuple[re.Pattern[str], HandlerTable]] = []

    def add_handlers(
        self, host_pattern: str | re.Pattern[str], handlers: Iterable[_HandlerEntry]
    ) -> None:
        """Add a table for hosts matching *host_pattern* (``$`` is appended).

        :param host_pattern: regex for the host name, e.g. ``r"www\\.example\\.com"``.
        :param handlers: the table's entries.
        """
        entry = (_host_regex(host_pattern), HandlerTable(handlers))
        self.hosts.append(entry)
        if self.default_host is not None:
            self._default_tables.append(entry)

    def find(self, path: str, host: str = "", *, x_real_ip: bool = False) -> HandlerMatch | None:
        """Find the handler for a request, or ``None`` (Tornado answers 404).

        :param path: the raw request path without the query.
        :param host: the ``Host`` header value (a port is ignored).
        :param x_real_ip: whether the request carries an ``X-Real-Ip`` header,
            which disables the *default_host* fallback.
        """
        if self.hosts:
            # Only host tables need the host name, so it is worked out only for them
            # (see bench/NOTES.md).
            name = _host_name(host)
            for pattern, table in self.hosts:
                if pattern.match(name):
                    found = table.find(path)
                    if found is not None:
                        return found
        found = self.wildcard.find(path)
        if found is not None:
            return found
        if not x_real_ip and self.default_host is not None:
            for pattern, table in self._default_tables:
                if pattern.match(self.default_host):
                    found = table.find(path)
                    if found is not None:
                        return found
        return None

    def reverse_url(self, name: str, *args: str | bytes | int | float) -> str:
        """Build the path of the spec called *name*, searching host tables
        first (in order added), then the any-host handlers.

        :param name: the spec's name.
        :param args: one value per group of its pattern.
        :raises KeyError: no table has a spec with that name.
        """
        for table in [t for _, t in self.hosts] + [self.wildcard]:
            if name in table.named:
                return table.reverse_url(name, *args)
        raise KeyError(f"{name} not found in named urls")

    reverse = reverse_url
