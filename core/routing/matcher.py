"""The matcher of a :class:`~crosswind.routing.map.Map`: one segment trie holding
every rule of the map, walked once per request, so a lookup costs a step per
path segment rather than a regex per rule.

The request's domain part (the subdomain, or the host with host matching) is
the first segment, then come the path's.  Literal segments are dictionary keys;
a segment with converters is an edge carrying one precompiled regex, shared by
every rule whose part is the same.  The order of the search is werkzeug's: at
each segment the literal child is tried before any converter edge, and
converter edges in order of

1. more literal pieces inside the segment first (``<a>-<b>.png`` before ``<a>``),
2. then by the position and length of those pieces (longer text first),
3. then more converters first,
4. then by converter weight, lighter first (``int`` 50, ``string``/``uuid``/
   ``any`` 100, ``path`` 200),
5. then in the order the rules were added.

When a branch fails further down, the search backtracks to the next candidate.
A converter whose ``to_python`` raises
:class:`~crosswind.routing.converters.ValidationError` makes its rule not match,
and the search goes on (werkzeug 3 answers 404 there instead).

The walk answers with a rule and its values, or with nothing; along the way it
collects the methods of rules that matched the URL but not the method (for a
405), and raises ``_SlashRequired`` when only the slashed form of the
path has a rule.  Turning that into a response is the map's business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .rules import _SLASH_GROUP, Rule, _Part

__all__: list[str] = []


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
