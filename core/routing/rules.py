"""Rules in werkzeug's syntax: :class:`Rule` turns a rule string into the parts
that the matcher files in its trie, and fills a rule's variables back in to
build a URL.

A rule string starts with ``/``.  Between the slashes it holds literal text and
placeholders, ``<name>`` (the ``default`` converter), ``<conv:name>`` or
``<conv(args):name>``, where *conv* names a converter known to the map (see
:mod:`crosswind.routing.converters`).  Each ``/``-delimited piece becomes one
part: a literal part is matched as a whole segment, a part with placeholders as
one regex over the segment.  A converter that may match ``/`` (``path``) makes
its part take every remaining segment.  The domain rule (the subdomain, or the
host with host matching) is parsed the same way into the rule's first part.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .converters import (
    DEFAULT_CONVERTERS,
    BaseConverter,
    ValidationError,
    parse_converter_args,
    quote_path_part,
)

if TYPE_CHECKING:
    from .map import Map

__all__ = ["Rule"]

_RULE_TOKEN_RE = re.compile(
    r"""
      (?P<slash>/)
    | (?P<static>[^</]+)
    | <(?:(?P<conv>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<args>.*?)\))?:)?
       (?P<var>[A-Za-z_][A-Za-z0-9_]*)>
    """,
    re.VERBOSE,
)
_PLACEHOLDER_RE = re.compile(r"<([^>]+)>")
_SLASH_RUN_RE = re.compile("/{2,}")
_SLASH_GROUP = "_cwslash"

#: Converters whose ``to_python`` answer depends on the matched text alone
#: (crosswind's own): a match that ran no other converter may be remembered.
_PURE_CONVERTERS = frozenset(DEFAULT_CONVERTERS.values())


@dataclass(slots=True)
class _Part:
    """One ``/``-delimited piece of a rule (or the domain, or a path-spanning tail)."""

    static: bool
    text: str  # literal text when static, regex source otherwise
    final: bool = False  # consumes every remaining segment
    suffixed: bool = False  # final part whose trailing "/" is optional, for redirects
    weight: tuple[Any, ...] = ()
    groups: tuple[str, ...] = ()

    def key(self) -> tuple[Any, ...]:
        return (self.text, self.final, self.suffixed, self.weight)


class Rule:
    """One URL pattern of a :class:`~crosswind.routing.map.Map`, in werkzeug's rule syntax.

    ``/page/<int:page>`` has a static part and an ``int`` converter; the forms
    are ``<name>`` (the ``default`` converter), ``<conv:name>`` and
    ``<conv(args):name>``.

    :param string: the rule; must start with ``/``.  Ending it with ``/`` makes
        a "branch" URL that redirects when requested without the slash.
    :param endpoint: what a match returns and what
        :meth:`Map.build <crosswind.routing.map.Map.build>` looks up.
    :param methods: accepted methods (``GET`` implies ``HEAD``); ``None`` for any.
    :param defaults: values passed to the view that the URL does not carry; a
        rule with defaults also serves as the canonical URL for those values.
    :param subdomain: subdomain rule (may hold converters), else the map's default.
    :param host: full host rule, used instead of *subdomain* with ``host_matching``.
    :param strict_slashes: override
        :attr:`Map.strict_slashes <crosswind.routing.map.Map.strict_slashes>` for this rule.
    :param merge_slashes: override
        :attr:`Map.merge_slashes <crosswind.routing.map.Map.merge_slashes>` for this rule.
    :param redirect_to: redirect matches to this rule string (placeholders are
        filled from the match) or to what ``redirect_to(map, **values)`` returns.
    :param build_only: never match, only build (for URLs served elsewhere).
    """

    def __init__(
        self,
        string: str,
        endpoint: Any = None,
        methods: Iterable[str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        subdomain: str | None = None,
        host: str | None = None,
        strict_slashes: bool | None = None,
        merge_slashes: bool | None = None,
        redirect_to: str | Callable[..., str] | None = None,
        build_only: bool = False,
    ) -> None:
        if not isinstance(string, str) or not string.startswith("/"):
            raise ValueError(f"URL rule {string!r} must be a string that starts with '/'")
        if isinstance(methods, str):
            raise TypeError("'methods' must be a list of strings, not a string")
        self.rule = string
        self.endpoint = endpoint
        self.defaults: dict[str, Any] = dict(defaults or {})
        self.subdomain = subdomain
        self.host = host
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self.redirect_to = redirect_to
        self.build_only = build_only
        self.methods: frozenset[str] | None = None
        if methods is not None:
            upper = {m.upper() for m in methods}
            if "GET" in upper:
                upper.add("HEAD")
            self.methods = frozenset(upper)
        self.map: Map | None = None
        self.arguments: set[str] = set(self.defaults)
        self.converters: dict[str, BaseConverter] = {}
        self._parts: list[_Part] = []
        # Whether every converter is one of crosswind's own (see Map.match).
        self._pure = True
        self._domain_trace: list[tuple[bool, str]] = []
        self._path_trace: list[tuple[bool, str]] = []

    @property
    def is_branch(self) -> bool:
        """Whether the rule ends with ``/``."""
        return self.rule.endswith("/")

    def __repr__(self) -> str:
        methods = f" ({', '.join(sorted(self.methods))})" if self.methods else ""
        return f"<Rule {self.rule!r}{methods} -> {self.endpoint!r}>"

    # -- compiling ---------------------------------------------------------

    def bind(self, map: Map) -> None:
        """Attach the rule to *map*, taking its defaults and compiling it.

        :param map: the owning map; a rule belongs to one map only.
        :raises ValueError: the rule is already bound or is malformed.
        """
        if self.map is not None:
            raise ValueError(f"rule {self.rule!r} is already bound to a map")
        self.map = map
        if self.strict_slashes is None:
            self.strict_slashes = map.strict_slashes
        if self.merge_slashes is None:
            self.merge_slashes = map.merge_slashes
        if self.subdomain is None:
            self.subdomain = map.default_subdomain
        domain_rule = (self.host or "") if map.host_matching else (self.subdomain or "")
        self.converters = {}
        self.arguments = set(self.defaults)
        if domain_rule:
            parts, self._domain_trace = self._parse(domain_rule)
        else:
            parts, self._domain_trace = [_Part(static=True, text="")], []
        string = _SLASH_RUN_RE.sub("/", self.rule) if self.merge_slashes else self.rule
        path_parts, self._path_trace = self._parse(string)
        self._parts = parts + path_parts
        self._pure = all(type(c) in _PURE_CONVERTERS for c in self.converters.values())

    def _converter(self, conv: str | None, args: str | None) -> BaseConverter:
        assert self.map is not None
        name = conv or "default"
        cls = self.map.converters.get(name)
        if cls is None:
            raise ValueError(f"unknown converter {name!r} in rule {self.rule!r}")
        c_args, c_kwargs = parse_converter_args(args or "")
        return cls(self.map, *c_args, **c_kwargs)

    def _parse(self, string: str) -> tuple[list[_Part], list[tuple[bool, str]]]:
        """Split *string* into trie parts, and a trace of literals/variables for building."""
        trace: list[tuple[bool, str]] = []
        parts: list[_Part] = []
        # The part being assembled: literal strings and (name, converter) pairs.
        pieces: list[str | tuple[str, BaseConverter]] = []
        final = False
        pos = 0
        while pos < len(string):
            token = _RULE_TOKEN_RE.match(string, pos)
            if token is None:
                raise ValueError(f"malformed URL rule {self.rule!r} at {string[pos:]!r}")
            pos = token.end()
            if token.group("slash"):
                trace.append((False, "/"))
                if final:
                    pieces.append("/")
                else:
                    parts.append(self._make_part(pieces, final=False))
                    pieces = []
            elif token.group("static") is not None:
                trace.append((False, token.group("static")))
                pieces.append(token.group("static"))
            else:
                var = token.group("var")
                if var in self.converters:
                    raise ValueError(f"variable {var!r} appears twice in rule {self.rule!r}")
                converter = self._converter(token.group("conv"), token.group("args"))
                self.converters[var] = converter
                self.arguments.add(var)
                trace.append((True, var))
                pieces.append((var, converter))
                if not converter.part_isolating:
                    final = True
        last = self._make_part(pieces, final=final)
        parts.append(last)
        if last.suffixed:
            # Lets "/<path:p>/" requested without its slash reach a state that
            # knows about the slashed rule, so it can redirect.
            parts.append(_Part(static=True, text=""))
        return parts, trace

    @staticmethod
    def _make_part(pieces: list[str | tuple[str, BaseConverter]], *, final: bool) -> _Part:
        if all(isinstance(p, str) for p in pieces):
            return _Part(static=True, text="".join(p for p in pieces if isinstance(p, str)))
        regex: list[str] = []
        groups: list[str] = []
        static_weights: list[tuple[int, int]] = []
        converter_weights: list[int] = []
        for piece in pieces:
            if isinstance(piece, str):
                if piece != "/":
                    static_weights.append((len(static_weights), -len(piece)))
                regex.append(re.escape(piece))
            else:
                group = f"_cw{len(groups)}"
                groups.append(group)
                regex.append(f"(?P<{group}>{piece[1].regex})")
                converter_weights.append(piece[1].weight)
        suffixed = final and pieces[-1] == "/"
        if suffixed:
            regex[-1] = f"(?<!/)(?P<{_SLASH_GROUP}>/?)"
        weight = (
            -len(static_weights),
            tuple(static_weights),
            -len(converter_weights),
            tuple(converter_weights),
        )
        return _Part(
            static=False,
            text="".join(regex) + r"\Z",
            final=final,
            suffixed=suffixed,
            weight=weight,
            groups=tuple(groups),
        )

    # -- matching helpers --------------------------------------------------

    def _to_python(self, raw: Sequence[str]) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        try:
            for (name, converter), text in zip(self.converters.items(), raw, strict=True):
                values[name] = converter.to_python(text)
        except ValidationError:
            return None
        values.update(self.defaults)
        return values

    def suitable_for(self, values: Mapping[str, Any], method: str | None = None) -> bool:
        """Whether :meth:`build` could use this rule for *values* and *method*.

        :param values: the values offered for building.
        :param method: the method the URL is for, or ``None`` for any.
        """
        if method is not None and self.methods is not None and method not in self.methods:
            return False
        for name in self.arguments:
            if name not in self.defaults and name not in values:
                return False
        return all(
            name not in values or values[name] == default for name, default in self.defaults.items()
        )

    def _fill(self, trace: list[tuple[bool, str]], values: Mapping[str, Any]) -> str:
        out: list[str] = []
        for is_var, text in trace:
            if not is_var:
                out.append(quote_path_part(text))
                continue
            value = self.defaults[text] if text in self.defaults else values[text]
            out.append(self.converters[text].to_url(value))
        return "".join(out)

    def build(
        self, values: Mapping[str, Any], append_unknown: bool = True
    ) -> tuple[str, str] | None:
        """Return ``(domain_part, path_with_query)`` or ``None`` if a converter
        refuses a value with :class:`~crosswind.routing.converters.ValidationError`.

        :param values: a value for every argument without a default.
        :param append_unknown: put values the rule does not use in the query.
        """
        try:
            domain = self._fill(self._domain_trace, values)
            path = self._fill(self._path_trace, values)
        except ValidationError:
            return None
        if append_unknown:
            extra = [
                (key, item)
                for key, value in values.items()
                if key not in self.arguments
                for item in (value if isinstance(value, list | tuple | set) else (value,))
                if item is not None
            ]
            if extra:
                path += "?" + urlencode(extra, safe="!$'()*,/:;?@")
        return domain, path

    def _provides_defaults_for(self, other: Rule) -> bool:
        return bool(
            not self.build_only
            and self.defaults
            and self is not other
            and self.endpoint == other.endpoint
            and self.arguments == other.arguments
        )

    def _build_order_key(self) -> tuple[int, int]:
        # Rules that consume more of the values are the better fit, tried first.
        return (-len(self.arguments), -len(self.defaults))
