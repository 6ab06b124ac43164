"""The route table of an application, for ``python -m crosswind routes``.

Applications are recognised by their shape, as :mod:`.loading` recognises
them, so this module imports neither framework:

- a Flask-style ``App`` (or a real Flask application) has a ``url_map``
  whose ``iter_rules()`` yields rules with ``endpoint``, ``methods``, ``rule``,
  ``subdomain`` and ``host``;
- a Tornado-style ``Application`` has a ``router`` with ``hosts`` (pairs of a
  host pattern and a table) and a ``wildcard`` table, whose ``specs`` carry a
  ``regex``, a ``handler_class`` and a ``name``;
- anything with ``mounts`` (``crosswind.mount.Mount``, or an ``App`` with
  applications mounted on it) lists its applications' routes under their
  prefixes, after its own.

The table is laid out as ``flask routes`` lays it out: the same columns,
widths and sort orders, and ``HEAD`` and ``OPTIONS`` left out unless asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["SORT_KEYS", "RouteRow", "format_routes", "route_rows"]

#: The orders ``--sort`` accepts; ``match`` keeps the order rules are tried in.
SORT_KEYS = ("endpoint", "methods", "domain", "rule", "match")

#: Methods answered for every route, shown only with ``--all-methods``.
_IMPLIED_METHODS = frozenset({"HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One route.

    :param endpoint: the endpoint (Flask) or the name or handler class (Tornado).
    :param methods: the methods it answers; ``{"*"}`` for a handler that takes any.
    :param rule: the URL rule or pattern, with its mount prefix.
    :param domain: the subdomain or host it is limited to, ``""`` for any.
    :param domain_kind: what *domain* is: a ``"subdomain"`` or a ``"host"``.
    """

    endpoint: str
    methods: frozenset[str]
    rule: str
    domain: str = ""
    domain_kind: Literal["subdomain", "host"] = "subdomain"


def route_rows(app: Any, prefix: str = "") -> list[RouteRow]:
    """The routes of *app*, in the order they are tried.

    :param app: a Flask-style or Tornado-style application, or a mount of them.
    :param prefix: the path *app* is mounted at.
    :raises TypeError: *app* has no route table this module knows.
    """
    rows: list[RouteRow] | None = None
    url_map = getattr(app, "url_map", None)
    router = getattr(app, "router", None)
    if url_map is not None and hasattr(url_map, "iter_rules"):
        rows = list(_map_rows(url_map, prefix))
    elif router is not None and hasattr(router, "wildcard"):
        rows = list(_router_rows(router, prefix))
    mounts = getattr(app, "mounts", None)
    if isinstance(mounts, list | tuple):
        rows = rows or []
        for mount_prefix, mounted in mounts:
            rows.extend(route_rows(mounted, prefix + mount_prefix))
    if rows is None:
        raise TypeError(
            f"{type(app).__name__} has no route table: expected a Flask-style App, "
            "a Tornado-style Application or a mount of them"
        )
    return rows


def _map_rows(url_map: Any, prefix: str) -> Iterator[RouteRow]:
    host_matching = bool(getattr(url_map, "host_matching", False))
    for rule in url_map.iter_rules():
        domain = (rule.host if host_matching else rule.subdomain) or ""
        yield RouteRow(
            str(rule.endpoint),
            frozenset(rule.methods or ()),
            prefix + rule.rule,
            domain,
            "host" if host_matching else "subdomain",
        )


def _router_rows(router: Any, prefix: str) -> Iterator[RouteRow]:
    # Host tables are tried before the any-host handlers: list them first.
    tables = [(_pattern(host), table) for host, table in router.hosts]
    tables.append(("", router.wildcard))
    for host, table in tables:
        for spec in table.specs:
            handler = spec.handler_class
            yield RouteRow(
                spec.name or getattr(handler, "__name__", repr(handler)),
                _handler_methods(handler),
                prefix + _pattern(spec.regex),
                host,
                "host",
            )


def _pattern(regex: Any) -> str:
    # Tornado anchors what the user wrote with "$"; show what they wrote.
    pattern: str = getattr(regex, "pattern", regex)
    return pattern[:-1] if pattern.endswith("$") else pattern


def _handler_methods(handler: Any) -> frozenset[str]:
    supported = getattr(handler, "SUPPORTED_METHODS", ())
    found = {
        method
        for method in supported
        if callable(func := getattr(handler, method.lower(), None))
        and getattr(func, "__name__", "") != "_unimplemented_method"
    }
    # A handler that implements no method itself (a fallback, an error
    # handler) takes any request in its prepare().
    return frozenset(found) if found else frozenset({"*"})


def format_routes(
    rows: list[RouteRow], sort: str = "endpoint", all_methods: bool = False
) -> list[str]:
    """The lines of the table ``flask routes`` would print for *rows*.

    :param rows: the routes, in the order they are tried.
    :param sort: one of :data:`SORT_KEYS`; ``domain`` without a domain
        column keeps that order, as Flask does.
    :param all_methods: show ``HEAD`` and ``OPTIONS`` too.
    """
    if not rows:
        return ["No routes were registered."]
    ignored = frozenset() if all_methods else _IMPLIED_METHODS
    has_domain = any(row.domain for row in rows)
    domain_title = (
        "Subdomain" if all(row.domain_kind == "subdomain" for row in rows) else "Host"
    )
    table: list[list[str]] = []
    for row in rows:
        cells = [row.endpoint, ", ".join(sorted(row.methods - ignored))]
        if has_domain:
            cells.append(row.domain)
        cells.append(row.rule)
        table.append(cells)
    headers = ["Endpoint", "Methods"]
    sorts = ["endpoint", "methods"]
    if has_domain:
        headers.append(domain_title)
        sorts.append("domain")
    headers.append("Rule")
    sorts.append("rule")
    if sort in sorts:
        column = sorts.index(sort)
        table.sort(key=lambda cells: cells[column])
    table.insert(0, headers)
    widths = [max(len(cells[i]) for cells in table) for i in range(len(headers))]
    table.insert(1, ["-" * width for width in widths])
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        for cells in table
    ]
