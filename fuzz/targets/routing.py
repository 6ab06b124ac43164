"""Fuzz target: compiling and matching werkzeug-style rules and Tornado URL specs.

Input, as UTF-8 text: lines before the first blank line are rules (a line starting
with ``^`` is a Tornado pattern, any other a werkzeug rule string); lines after it
are paths to look up.

Findings: an exception other than the documented ones (``ValueError``/``TypeError``
for a malformed rule, ``re.error`` for a bad Tornado regex, ``NotFound``,
``MethodNotAllowed`` and ``RequestRedirect`` from matching); a match whose values
:meth:`Map.build` cannot turn back into a URL that matches the same rule with the
same values; and a :class:`HandlerTable` lookup (indexed by literal prefix) that
differs from trying every spec in order.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from _common import FuzzFinding
from crosswind.routing import (
    BuildError,
    HandlerTable,
    Map,
    MethodNotAllowed,
    NotFound,
    RequestRedirect,
    Rule,
    URLSpec,
)
from crosswind.routing.converters import ValidationError

_METHODS = ("GET", "POST", "DELETE")


def _werkzeug(rules: list[str], paths: list[str]) -> None:
    url_map = Map()
    for index, line in enumerate(rules):
        methods = [_METHODS[index % 3]] if index % 4 == 3 else None
        try:
            rule = Rule(line, endpoint=index, methods=methods)
            rule.bind(Map())  # a scratch map: compile it to look at its converters
        except (ValueError, TypeError):
            continue  # documented: a malformed rule or converter arguments
        url_map.add(Rule(line, endpoint=index, methods=methods))
    for path in paths:
        for method in ("GET", "POST"):
            try:
                rule, values = url_map.match(path, method, return_rule=True)
            except (NotFound, MethodNotAllowed, RequestRedirect):
                continue
            try:
                built = url_map.build(rule.endpoint, values, method=method)
            except (BuildError, ValidationError, ValueError):
                continue  # a converter may refuse to write back what it read (any, int)
            try:
                again, again_values = url_map.match(unquote(built.split("?", 1)[0]), method,
                                                    return_rule=True)
            except RequestRedirect:
                continue
            except (NotFound, MethodNotAllowed) as error:
                raise FuzzFinding(f"{path!r} -> {built!r} no longer matches: {error!r}") from None
            if again.endpoint == rule.endpoint and again_values != values:
                raise FuzzFinding(f"{path!r} -> {built!r} matches with other values")


def _tornado(patterns: list[str], paths: list[str]) -> None:
    specs = []
    for index, pattern in enumerate(patterns):
        try:
            specs.append(URLSpec(pattern, index))
        except (re.error, ValueError, TypeError, OverflowError, RecursionError):
            continue  # documented: the pattern is not a usable regex
    table = HandlerTable(specs)
    for path in paths:
        linear = next((m for spec in specs if (m := spec.match(path)) is not None), None)
        found = table.find(path)
        if (found is None) != (linear is None) or (
            found is not None and linear is not None and found.spec is not linear.spec
        ):
            raise FuzzFinding(f"indexed lookup of {path!r} differs from trying every spec")


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    head, _, tail = text.partition("\n\n")
    rules = [line for line in head.split("\n") if line][:16]
    paths = tail.split("\n")[:16]
    _werkzeug([r for r in rules if not r.startswith("^")], paths)
    _tornado([r for r in rules if r.startswith("^")], paths)
