"""URL routing in two dialects, each compiled into an index so a lookup does
not try every route's regex in turn.

**Flask/werkzeug rules** -- :class:`Rule` and :class:`Map`.  Rules such as
``/user/<int:id>/`` are split at ``/`` into parts and inserted into a segment
trie shared by all rules of the map: literal segments are dictionary keys,
converter segments are edges with one precompiled regex each.  The trie is
rebuilt lazily on the first match or build after an :meth:`Map.add`, so adding
a thousand rules costs a thousand cheap inserts and one compile.

Ordering rule (the same as werkzeug's): the request's domain part (subdomain,
or host with ``host_matching``) is matched first, then each path segment.  At
every segment a literal child is tried before any converter edge; converter
edges are tried in order of

1. more literal pieces inside the segment first (``<a>-<b>.png`` before ``<a>``),
2. then by the position and length of those pieces (longer text first),
3. then more converters first,
4. then by converter weight, lighter first (``int`` 50, ``string``/``uuid``/
   ``any`` 100, ``path`` 200),
5. then in the order the rules were added.

If a branch fails further down, the search backtracks to the next candidate.
A converter whose ``to_python`` raises :class:`ValidationError` makes its rule
not match and the search goes on (werkzeug 3 answers 404 there instead).

Trailing slashes follow werkzeug: a rule ending in ``/`` requested without it
redirects (308) to the slashed URL, a rule without it requested with it is not
found, and ``strict_slashes=False`` accepts both.  Repeated slashes redirect to
the merged path unless ``merge_slashes=False``.

**Tornado URL specs** -- :class:`URLSpec`, :class:`HandlerTable` and
:class:`HostRouter`.  Tornado's rule is "the first pattern in list order that
matches"; the table keeps it while indexing every pattern by the complete
path segments of its literal prefix (``/api/v1/users/(\\d+)`` is filed under
``"" / "api" / "v1" / "users"``).  A lookup walks that trie along the request
path and runs only the regexes filed on the way, in their original order.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlencode, urljoin

from ..errors import CrosswindError, RequestError
from .converters import (
    DEFAULT_CONVERTERS,
    BaseConverter,
    ValidationError,
    parse_converter_args,
    quote_path_part,
)

__all__ = [
    "BuildError",
    "HandlerMatch",
    "HandlerTable",
    "HostRouter",
    "Map",
    "MethodNotAllowed",
    "NotFound",
    "RequestRedirect",
    "Rule",
    "URLSpec",
    "ValidationError",
    "url",
]


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class NotFound(RequestError):
    """No rule matches the requested URL (404).

    :param reason: the text safe to show the client.
    """

    def __init__(self, reason: str = "Not Found") -> None:
        super().__init__(reason, 404)


class MethodNotAllowed(RequestError):
    """A rule matches the URL but not the method (405).

    :param allowed_methods: the methods some rule for this URL accepts; they
        belong in the response's ``Allow`` header.
    """

    def __init__(self, allowed_methods: Iterable[str]) -> None:
        super().__init__("Method Not Allowed", 405)
        self.allowed_methods: tuple[str, ...] = tuple(sorted(set(allowed_methods)))

    @property
    def allow_header(self) -> str:
        """The value for the ``Allow`` response header, e.g. ``"GET, HEAD"``."""
        return ", ".join(self.allowed_methods)


class RequestRedirect(RequestError):
    """The resource lives at :attr:`new_url`; answer 308 with a ``Location``.

    A 308 (not 301) keeps the method and body of a POST across the redirect.

    :param new_url: where the client should go (absolute when the request's
        host was known, otherwise a path with its query).
    """

    def __init__(self, new_url: str) -> None:
        super().__init__("Permanent Redirect", 308)
        self.new_url = new_url


class BuildError(CrosswindError, LookupError):
    """No rule can build a URL for the endpoint with the values given.

    This is the application's mistake (a bad ``url_for`` call), so it is not a
    :class:`~crosswind.errors.RequestError`.

    :param endpoint: the endpoint that was asked for.
    :param values: the values that were supplied.
    :param method: the method that was asked for, if any.
    :param hint: a sentence that suggests the likely fix.
    """

    def __init__(
        self, endpoint: Any, values: Mapping[str, Any], method: str | None, hint: str = ""
    ) -> None:
        self.endpoint = endpoint
        self.values = dict(values)
        self.method = method
        self.hint = hint
        message = f"Could not build url for endpoint {endpoint!r}"
        if method:
            message += f" ({method!r})"
        if self.values:
            message += f" with values {sorted(self.values)!r}"
        message += "."
        if hint:
            message += " " + hint
        super().__init__(message)


# --------------------------------------------------------------------------
# Flask/werkzeug style: Rule
# --------------------------------------------------------------------------

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
    """One URL pattern of a :class:`Map`, in werkzeug's rule syntax.

    ``/page/<int:page>`` has a static part and an ``int`` converter; the forms
    are ``<name>`` (the ``default`` converter), ``<conv:name>`` and
    ``<conv(args):name>``.

    :param string: the rule; must start with ``/``.  Ending it with ``/`` makes
        a "branch" URL that redirects when requested without the slash.
    :param endpoint: what a match returns and what :meth:`Map.build` looks up.
    :param methods: accepted methods (``GET`` implies ``HEAD``); ``None`` for any.
    :param defaults: values passed to the view that the URL does not carry; a
        rule with defaults also serves as the canonical URL for those values.
    :param subdomain: subdomain rule (may hold converters), else the map's default.
    :param host: full host rule, used instead of *subdomain* with ``host_matching``.
    :param strict_slashes: override :attr:`Map.strict_slashes` for this rule.
    :param merge_slashes: override :attr:`Map.merge_slashes` for this rule.
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
        refuses a value with :class:`ValidationError`.

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


# --------------------------------------------------------------------------
# Flask/werkzeug style: the segment trie
# --------------------------------------------------------------------------


class _State:
    __slots__ = ("dynamic", "rules", "static")

    def __init__(self) -> None:
        self.static: dict[str, _State] = {}
        self.dynamic: list[_Edge] = []
        self.rules: list[Rule] = []


@dataclass(slots=True)
class _Edge:
    part: _Part
    regex: re.Pattern[str]
    state: _State = field(default_factory=_State)


class _SlashRequired(Exception):
    """Internal: the path matches a rule only with a trailing slash added."""


def _build_trie(rules: Iterable[Rule]) -> _State:
    root = _State()
    # Rules whose parts are equal share the edge, so that the search below it
    # sees every rule's continuation (static ones first) before backtracking.
    edges: dict[tuple[int, tuple[Any, ...]], _Edge] = {}
    for rule in rules:
        state = root
        for part in rule._parts:
            if part.static:
                state = state.static.setdefault(part.text, _State())
                continue
            slot = (id(state), part.key())
            edge = edges.get(slot)
            if edge is None:
                edge = edges[slot] = _Edge(part, re.compile(part.text))
                state.dynamic.append(edge)
            state = edge.state
        state.rules.append(rule)
    _sort_edges(root)
    return root


def _sort_edges(root: _State) -> None:
    pending = [root]
    while pending:
        state = pending.pop()
        # list.sort is stable: equal weights keep the order rules were added.
        state.dynamic.sort(key=lambda edge: edge.part.weight)
        pending.extend(state.static.values())
        pending.extend(edge.state for edge in state.dynamic)


class _Search:
    """One walk of the trie for one request; collects methods seen for a 405,
    and notes whether a converter other than crosswind's own ran (``impure``):
    the answer of such a walk may change from one request to the next."""

    __slots__ = ("allowed", "impure", "method")

    def __init__(self, method: str) -> None:
        self.method = method
        self.allowed: set[str] = set()
        self.impure = False

    def _accept(self, rule: Rule, raw: list[str]) -> dict[str, Any] | None:
        if not rule._pure:
            self.impure = True
        values = rule._to_python(raw)
        if values is None:
            return None
        if rule.methods is not None and self.method not in rule.methods:
            self.allowed.update(rule.methods)
            return None
        return values

    def run(
        self, state: _State, parts: list[str], i: int, raw: list[str]
    ) -> tuple[Rule, dict[str, Any]] | None:
        n = len(parts)
        if i == n:
            for rule in state.rules:
                values = self._accept(rule, raw)
                if values is not None:
                    return rule, values
            slashed = state.static.get("")
            if slashed is not None:
                for rule in slashed.rules:
                    if rule.methods is not None and self.method not in rule.methods:
                        continue
                    if not rule._pure:
                        self.impure = True
                    values = rule._to_python(raw)
                    if values is None:
                        continue
                    if rule.strict_slashes:
                        raise _SlashRequired
                    return rule, values
            return None

        segment = parts[i]
        child = state.static.get(segment)
        if child is not None:
            found = self.run(child, parts, i + 1, raw)
            if found is not None:
                return found
        for edge in state.dynamic:
            part = edge.part
            if part.final:
                matched = edge.regex.match("/".join(parts[i:]))
                next_parts, next_i = parts, n
            else:
                matched = edge.regex.match(segment)
                next_parts, next_i = parts, i + 1
            if matched is None:
                continue
            if part.suffixed and matched.group(_SLASH_GROUP) == "/":
                next_parts, next_i = [""], 0
            found = self.run(
                edge.state, next_parts, next_i, raw + [matched.group(g) for g in part.groups]
            )
            if found is not None:
                return found

        if i == n - 1 and segment == "":
            # A lone trailing slash: rules that do not insist on exact slashes
            # may still take the request.
            for rule in state.rules:
                if rule.strict_slashes:
                    continue
                values = self._accept(rule, raw)
                if values is not None:
                    return rule, values
        return None


# --------------------------------------------------------------------------
# Flask/werkzeug style: Map
# --------------------------------------------------------------------------

_PORT_RE = re.compile(r"^(.+):(\d+)$")
_DEFAULT_PORTS = {"http": ":80", "ws": ":80", "https": ":443", "wss": ":443"}


def _canonical_host(host: str, url_scheme: str) -> str:
    host = host.strip().lower()
    default_port = _DEFAULT_PORTS.get(url_scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return host


@dataclass(slots=True)
class _Compiled:
    root: _State
    by_endpoint: dict[Any, list[Rule]]
    # What matching found, by (path, method, domain, redirect_defaults); see
    # Map.match.  It lives and dies with the index, so adding a rule forgets it.
    found: dict[tuple[str, str, str, bool], tuple[Rule, dict[str, Any]]] = field(
        default_factory=dict
    )


class Map:
    """A set of :class:`Rule` objects with the settings they share.

    :param rules: rules to :meth:`add` right away.
    :param strict_slashes: redirect ``/a`` to ``/a/`` for branch rules and
        refuse ``/b/`` for leaf rules (per-rule override possible).
    :param merge_slashes: redirect paths with repeated slashes to the merged path.
    :param redirect_defaults: redirect a URL that spells out a rule's defaults
        to the rule that carries those defaults implicitly.
    :param host_matching: match rules' ``host`` against the request host
        instead of matching ``subdomain`` against a subdomain.
    :param default_subdomain: the subdomain of rules that do not name one.
    :param server_name: the application's host name (``example.com``); with
        it the subdomain is computed from the request host.
    :param converters: extra or replacement converter classes by name.

    A successful :meth:`match` is remembered, so that the next request for the
    same path, method and domain skips the walk of the trie and the
    converters; see :attr:`remembered_matches`.
    """

    #: How many successful matches the map remembers (``0``: none).  A match is
    #: remembered only when nothing but the path, the method, the domain (the
    #: subdomain, or the host with :attr:`host_matching`), the rules and
    #: :attr:`redirect_defaults` decided it: every converter that ran is one of
    #: crosswind's own, and it neither redirected nor failed (redirects, 404
    #: and 405 are worked out again each time).  Each caller gets its own copy
    #: of the values.  Adding a rule forgets everything, and so does reaching
    #: the limit; the bound keeps a client that requests endless distinct paths
    #: from growing the memory, at the price of a walk per request for it.
    remembered_matches: int = 256

    def __init__(
        self,
        rules: Iterable[Rule] | None = None,
        *,
        strict_slashes: bool = True,
        merge_slashes: bool = True,
        redirect_defaults: bool = True,
        host_matching: bool = False,
        default_subdomain: str = "",
        server_name: str | None = None,
        converters: Mapping[str, type[BaseConverter]] | None = None,
    ) -> None:
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self.redirect_defaults = redirect_defaults
        self.host_matching = host_matching
        self.default_subdomain = default_subdomain
        self.server_name = server_name.lower() if server_name else None
        self.converters: dict[str, type[BaseConverter]] = dict(DEFAULT_CONVERTERS)
        if converters:
            self.converters.update(converters)
        self._rules: list[Rule] = []
        self._compiled: _Compiled | None = None
        for rule in rules or ():
            self.add(rule)

    def add(self, rule: Rule) -> None:
        """Bind *rule* to this map; it is indexed on the next match or build.

        :param rule: an unbound rule.
        :raises ValueError: the rule is malformed, names an unknown converter,
            or belongs to another map.
        """
        rule.bind(self)
        self._rules.append(rule)
        self._compiled = None

    def iter_rules(self, endpoint: Any = None) -> Iterator[Rule]:
        """Iterate over all rules, or those of *endpoint*, in the order added.

        :param endpoint: only rules with this endpoint, if given.
        """
        return (r for r in self._rules if endpoint is None or r.endpoint == endpoint)

    def _index(self) -> _Compiled:
        compiled = self._compiled
        if compiled is None:
            # Built aside and swapped in with one assignment, so a concurrent
            # lookup sees either the old index or the complete new one.
            rules = list(self._rules)
            by_endpoint: dict[Any, list[Rule]] = {}
            for rule in rules:
                by_endpoint.setdefault(rule.endpoint, []).append(rule)
            for group in by_endpoint.values():
                group.sort(key=Rule._build_order_key)
            compiled = _Compiled(_build_trie(r for r in rules if not r.build_only), by_endpoint)
            self._compiled = compiled
        return compiled

    # -- matching ----------------------------------------------------------

    def _domain(self, host: str | None, subdomain: str | None, url_scheme: str) -> str | None:
        if self.host_matching:
            if host is None:
                if self.server_name is None:
                    raise ValueError("host_matching needs the request host or a server_name")
                return self.server_name
            return _canonical_host(host, url_scheme)
        if subdomain is not None:
            return subdomain
        if host is None or self.server_name is None:
            return self.default_subdomain
        current = _canonical_host(host, url_scheme).split(".")
        configured = _canonical_host(self.server_name, url_scheme).split(".")
        if current[-len(configured) :] != configured:
            return None  # a host outside server_name matches no rule
        return ".".join(filter(None, current[: -len(configured)]))

    def _host_for(
        self, domain: str, host: str | None, url_scheme: str, server_name: str | None = None
    ) -> str | None:
        if self.host_matching:
            return domain
        server = server_name or self.server_name
        if server is None:
            return host if domain == self._domain(host, None, url_scheme) else None
        return f"{domain}.{server}" if domain else server

    def _walk(
        self, path: str, method: str, domain: str, root: _State | None = None
    ) -> tuple[tuple[Rule, dict[str, Any]] | None, str | None, _Search]:
        """Return (match, path to redirect to, the search: methods seen, purity)."""
        if root is None:
            root = self._index().root
        path = "/" + path.lstrip("/") if path else ""
        search = _Search(method)
        try:
            parts = [domain, *path.split("/")]
            found = search.run(root, parts, 0, [])
        except _SlashRequired:
            return None, path + "/", search
        if found is None and self.merge_slashes and "//" in path:
            merged = _SLASH_RUN_RE.sub("/", path)
            try:
                found = search.run(root, [domain, *merged.split("/")], 0, [])
            except _SlashRequired:
                return None, merged + "/", search
            if found is not None and found[0].merge_slashes is not False:
                return None, merged, search
            found = None
        return found, None, search

    def remembered(
        self, path: str, method: str, domain: str
    ) -> tuple[Rule, dict[str, Any]] | None:
        """The match :meth:`match` remembered for *path*, *method* and *domain*
        (see :attr:`remembered_matches`), as ``(rule, values)`` with values of
        the caller's own; ``None`` if there is none.

        What is remembered is what :meth:`match` returns for that domain whatever
        the host, scheme, query or script name (it neither redirects nor fails),
        so a caller may look here before working out those arguments.

        :param path: the decoded path, as for :meth:`match`.
        :param method: the request method, as for :meth:`match`.
        :param domain: the subdomain (``""`` for none), or the host without a
            default port with :attr:`host_matching`.
        """
        compiled = self._compiled
        if compiled is None:
            return None
        found = compiled.found.get((path, method, domain, self.redirect_defaults))
        if found is None:
            return None
        return found[0], dict(found[1])

    def _url(
        self,
        path: str,
        query_string: str,
        host: str | None,
        url_scheme: str,
        script_name: str,
    ) -> str:
        root = script_name.strip("/")
        path = "/" + (root + "/" if root else "") + path.lstrip("/")
        url = f"{url_scheme}://{host}{path}" if host else path
        return f"{url}?{query_string}" if query_string else url

    def match(
        self,
        path: str,
        method: str = "GET",
        host: str | None = None,
        *,
        subdomain: str | None = None,
        query_string: str = "",
        url_scheme: str = "http",
        script_name: str = "",
        return_rule: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """Find the rule for a request.

        :param path: the percent-*decoded* path, as WSGI's ``PATH_INFO``.
        :param method: the request method.
        :param host: the request's ``Host`` (port allowed); decides the
            subdomain (with :attr:`server_name`) or the host rule, and makes
            redirect URLs absolute.
        :param subdomain: the current subdomain, overriding what *host* implies.
        :param query_string: the raw query, kept on redirects.
        :param url_scheme: ``http`` or ``https``, for redirect URLs.
        :param script_name: the mount point of the application, for redirects.
        :param return_rule: return the :class:`Rule` instead of its endpoint.
        :returns: ``(endpoint, view_args)`` (or ``(rule, view_args)``).
        :raises NotFound: no rule matches.
        :raises MethodNotAllowed: rules match the URL but not *method*.
        :raises RequestRedirect: the canonical URL differs (slashes, defaults,
            ``redirect_to``).
        """
        if subdomain is not None and not self.host_matching:
            domain = subdomain  # what _domain answers, without the call
        else:
            domain = self._domain(host, subdomain, url_scheme)
            if domain is None:
                raise NotFound()
        compiled = self._compiled or self._index()
        # A remembered match (see remembered_matches) skips the walk, the
        # converters and the method and defaults checks: ~2.5 us per hello, ~10 us
        # per /users/42 (measured in memory when crosswind.app kept this memo).
        key = (path, method, domain, self.redirect_defaults)
        remembered = compiled.found.get(key)
        if remembered is not None:
            rule, values = remembered
            return (rule if return_rule else rule.endpoint), dict(values)
        method = method.upper()
        found, redirect_path, search = self._walk(path, method, domain, compiled.root)
        if redirect_path is not None:
            raise RequestRedirect(
                self._url(
                    quote_path_part(redirect_path), query_string, host, url_scheme, script_name
                )
            )
        if found is None:
            if search.allowed:
                raise MethodNotAllowed(search.allowed)
            raise NotFound()
        rule, values = found
        pure = not search.impure
        if self.redirect_defaults and not self._redirect_to_defaults(
            rule, method, values, host, query_string, url_scheme, script_name
        ):
            pure = False
        if rule.redirect_to is not None:
            if isinstance(rule.redirect_to, str):

                def fill(placeholder: re.Match[str]) -> str:
                    name = placeholder.group(1)
                    return rule.converters[name].to_url(values[name])

                target = _PLACEHOLDER_RE.sub(fill, rule.redirect_to)
            else:
                target = rule.redirect_to(self, **values)
            base = self._url("", "", host, url_scheme, script_name)
            raise RequestRedirect(urljoin(base if base.endswith("/") else base + "/", target))
        limit = self.remembered_matches
        if pure and limit > 0:
            found_before = compiled.found
            if len(found_before) >= limit:
                # Forgotten wholesale: cheaper than keeping an order of use.
                compiled.found = found_before = {}
            found_before[key] = (rule, dict(values))
        return (rule if return_rule else rule.endpoint), values

    def _redirect_to_defaults(
        self,
        rule: Rule,
        method: str,
        values: dict[str, Any],
        host: str | None,
        query_string: str,
        url_scheme: str,
        script_name: str,
    ) -> bool:
        """Raise the redirect to the rule that carries *values* as defaults, if
        any; else return whether only crosswind's own converters were asked."""
        pure = True
        for other in self._index().by_endpoint[rule.endpoint]:
            # Rules earlier in build order are the canonical spelling.
            if other is rule:
                return pure
            if other._provides_defaults_for(rule) and other.suitable_for(values, method):
                pure = pure and other._pure
                built = other.build({**values, **other.defaults})
                if built is None:
                    continue
                domain, path = built
                target = self._host_for(domain, host, url_scheme) if host else None
                raise RequestRedirect(
                    self._url(path, query_string, target, url_scheme, script_name)
                )
        return pure

    def allowed_methods(
        self,
        path: str,
        host: str | None = None,
        *,
        subdomain: str | None = None,
        url_scheme: str = "http",
    ) -> frozenset[str] | None:
        """The methods some rule accepts for *path*, e.g. for ``OPTIONS`` and
        the ``Allow`` header.

        :param path: the decoded path.
        :param host: the request's ``Host``, as for :meth:`match`.
        :param subdomain: the current subdomain, overriding *host*.
        :param url_scheme: the request's scheme (a default port in *host* is ignored).
        :returns: the set (empty if nothing matches), or ``None`` when a rule
            without a method restriction matches.
        """
        domain = self._domain(host, subdomain, url_scheme)
        if domain is None:
            return frozenset()
        # No rule lists this method, so the walk visits every matching rule.
        found, redirect_path, search = self._walk(path, "\x00", domain)
        if found is not None:
            return None
        if redirect_path is not None:
            return frozenset()  # the resource lives elsewhere; that URL has its own set
        return frozenset(search.allowed)

    # -- building ----------------------------------------------------------

    def _pick(
        self,
        rules: list[Rule],
        values: Mapping[str, Any],
        method: str | None,
        append_unknown: bool,
        current_host: str | None,
    ) -> tuple[str, str] | None:
        first: tuple[str, str] | None = None
        for rule in rules:
            if not rule.suitable_for(values, method):
                continue
            built = rule.build(values, append_unknown)
            if built is None:
                continue
            if not self.host_matching or built[0] == current_host:
                return built
            if first is None:
                first = built
        return first

    def build(
        self,
        endpoint: Any,
        values: Mapping[str, Any] | None = None,
        *,
        method: str | None = None,
        force_external: bool = False,
        url_scheme: str | None = None,
        anchor: str | None = None,
        host: str | None = None,
        subdomain: str | None = None,
        server_name: str | None = None,
        script_name: str = "",
        append_unknown: bool = True,
    ) -> str:
        """Build the URL of *endpoint*, like Flask's ``url_for``.

        The first rule of the endpoint (rules using more values first) whose
        arguments are all given and whose defaults agree with *values* is used.
        Values the rule does not use become the query string, in the order
        given; lists repeat their key; ``None`` values are dropped.

        :param endpoint: the endpoint of the rule to build.
        :param values: the rule's variables plus extra query arguments.
        :param method: only consider rules that accept this method.
        :param force_external: return ``scheme://host/path`` even for the
            current host.
        :param url_scheme: the scheme of an external URL (default ``http``).
        :param anchor: appended, quoted, after ``#``.
        :param host: the current request's host (the reference for host
            matching and for deciding whether the URL is external).
        :param subdomain: the current subdomain (default: implied by *host*).
        :param server_name: overrides :attr:`Map.server_name` for this call.
        :param script_name: the application's mount point, prefixed to the path.
        :param append_unknown: put unused values in the query string.
        :raises BuildError: no rule of *endpoint* fits *values*.
        :raises ValueError: an external URL is needed but no host is known.
        """
        scheme = url_scheme or "http"
        clean = {k: v for k, v in (values or {}).items() if v is not None}
        compiled = self._index()
        rules = compiled.by_endpoint.get(endpoint)
        if rules is None:
            raise BuildError(endpoint, clean, method, self._endpoint_hint(endpoint))
        current_host = None
        if self.host_matching:
            current_host = (
                _canonical_host(host, scheme) if host else (server_name or self.server_name)
            )
        built = None
        if method is None:
            built = self._pick(rules, clean, "GET", append_unknown, current_host)
        if built is None:
            built = self._pick(rules, clean, method, append_unknown, current_host)
        if built is None:
            raise BuildError(endpoint, clean, method, self._values_hint(rules, clean, method))
        domain, path = built
        if self.host_matching:
            same_place = domain == current_host
            target_host: str | None = domain
        else:
            current = self._domain(host, subdomain, scheme)
            same_place = domain == current
            target_host = self._host_for(domain, host, scheme, server_name)
        if force_external or not same_place:
            if not target_host:
                raise ValueError(
                    f"building an external URL for {endpoint!r} needs server_name or host"
                )
            url = self._url(path, "", target_host, scheme, script_name)
        else:
            url = self._url(path, "", None, scheme, script_name)
        if anchor is not None:
            url += "#" + quote(anchor, safe="%!#$&'()*+,/:;=?@")
        return url

    def _endpoint_hint(self, endpoint: Any) -> str:
        known = {str(r.endpoint): r.endpoint for r in self._rules}
        close = difflib.get_close_matches(str(endpoint), list(known), n=3)
        if not close:
            return ""
        names = " or ".join(repr(known[name]) for name in close)
        return f"Did you mean {names} instead?"

    @staticmethod
    def _values_hint(rules: list[Rule], values: Mapping[str, Any], method: str | None) -> str:
        if method is not None and all(
            r.methods is not None and method not in r.methods for r in rules
        ):
            methods = sorted({m for r in rules for m in r.methods or ()})
            return f"Did you mean to use methods {methods!r}?"
        missing = min(
            (sorted(r.arguments - set(r.defaults) - set(values)) for r in rules),
            key=len,
        )
        if missing:
            return f"Did you forget to specify values {missing!r}?"
        return "The values do not fit the rules' defaults or converters."


# --------------------------------------------------------------------------
# Tornado style: URLSpec, HandlerTable, HostRouter
# --------------------------------------------------------------------------

_REGEX_META = set(".^$*+?{}[]\\|()")
_QUANTIFIERS = set("*+?{")


def _skip_group(pattern: str, start: int) -> tuple[int, bool]:
    """Return the index after the group opening at *start* and whether it
    contains a nested capturing group."""
    depth = 0
    nested_capture = False
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
        elif c == "(":
            if depth > 0 and not pattern.startswith("?", i + 1):
                nested_capture = True
            if depth > 0 and pattern.startswith("?P<", i + 1):
                nested_capture = True
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1, nested_capture
        i += 1
    raise ValueError("unbalanced parenthesis")


def _has_top_level_alternation(pattern: str) -> bool:
    i, depth, in_class = 0, 0, False
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
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
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
        # Nothing escaped (an id, a slug): ~0.5 us less than unquote_to_bytes.
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
            # saves ~0.7 µs per request (bench_h11_cycle hello).
            whole = self._whole_match
            if whole is None:
                whole = self._whole_match = HandlerMatch(self, (), _NO_KWARGS)
            return whole
        if self.regex.groupindex:
            kwargs = {k: _unquote_or_none(v) for k, v in found.groupdict().items()}
            return HandlerMatch(self, (), kwargs)
        # A list comprehension, not a generator for tuple(): ~0.3 us per match.
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
        # The built index without a call: ~0.05 µs per request (bench_h11_cycle hello).
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
                # with named groups, whose values are a dict, is not kept): hello
                # 197k -> 192k, params 482k -> 462k instructions per request
                # (bench/instructions.py).  Forgotten when handlers are added, and
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
            # Only host tables need the host name: skipping it without them saves
            # ~0.5 µs per request (bench_h11_cycle hello).
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
