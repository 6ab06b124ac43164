"""Routing lookup cost for small and large route tables.

Builds 10 and 1,000 routes in each dialect (Flask-style rules in a
``crosswind.routing.Map``; Tornado-style regexes in a ``HandlerTable``), times
lookups of paths that match and paths that do not, and prints microseconds per
lookup plus the 1000/10 ratio (target: at most 3x).  For scale it also times
werkzeug's Map and a plain first-match scan over the Tornado regexes.

Run: ``.venv/bin/python bench/bench_routing.py``
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

from crosswind.routing import HandlerTable, Map, NotFound, RequestRedirect, Rule

FLASK_TEMPLATES = [
    "/api/v1/resource{i}/",
    "/api/v1/resource{i}/<int:id>",
    "/api/v1/resource{i}/<int:id>/items/<slug>",
    "/api/v1/resource{i}/<uuid:key>/files/<path:name>",
]
TORNADO_TEMPLATES = [
    r"/api/v1/resource{i}/",
    r"/api/v1/resource{i}/([0-9]+)",
    r"/api/v1/resource{i}/([0-9]+)/items/([^/]+)",
    r"/api/v1/resource{i}/([0-9a-f-]{{36}})/files/(.+)",
]
SAMPLE_PATHS = [
    "/api/v1/resource{i}/",
    "/api/v1/resource{i}/42",
    "/api/v1/resource{i}/42/items/blue-widget",
    "/api/v1/resource{i}/12345678-1234-5678-1234-56781234abcd/files/docs/a.txt",
]
MISSES = [
    "/api/v1/resource{i}/not-a-number",
    "/api/v1/nothing{i}/42",
    "/api/v2/resource{i}/42",
    "/static/site{i}.css",
]
BUDGET_S = 0.5  # per measurement; the best pass counts, to damp noise


def route_count(n: int) -> list[tuple[int, int]]:
    """(template index, resource number) for n routes."""
    return [(k % 4, k // 4) for k in range(n)]


def paths_for(n: int, templates: list[str], rng: random.Random) -> list[str]:
    resources = max(1, n // 4)
    return [templates[k % len(templates)].format(i=rng.randrange(resources)) for k in range(1000)]


def time_per_lookup(lookup: Callable[[str], object], paths: list[str]) -> float:
    """Best pass over *paths*, in microseconds per lookup, within a time budget."""
    best = float("inf")
    deadline = time.perf_counter() + BUDGET_S
    passes = 0
    while passes < 3 or time.perf_counter() < deadline:
        start = time.perf_counter()
        for path in paths:
            lookup(path)
        best = min(best, (time.perf_counter() - start) / len(paths))
        passes += 1
    return best * 1e6


def flask_lookup(m: Map) -> Callable[[str], object]:
    def lookup(path: str) -> object:
        try:
            return m.match(path)
        except (NotFound, RequestRedirect):
            return None

    return lookup


def build_flask(n: int) -> Map:
    return Map([Rule(FLASK_TEMPLATES[t].format(i=i), endpoint=(t, i)) for t, i in route_count(n)])


def build_tornado(n: int) -> HandlerTable:
    return HandlerTable([(TORNADO_TEMPLATES[t].format(i=i), (t, i)) for t, i in route_count(n)])


def linear_tornado(n: int) -> Callable[[str], object]:
    regexes = [re.compile(TORNADO_TEMPLATES[t].format(i=i) + "$") for t, i in route_count(n)]

    def lookup(path: str) -> object:
        for regex in regexes:
            found = regex.match(path)
            if found:
                return found
        return None

    return lookup


def werkzeug_lookup(n: int) -> Callable[[str], object] | None:
    try:
        import werkzeug.exceptions
        import werkzeug.routing
    except ImportError:
        return None
    m = werkzeug.routing.Map(
        [
            werkzeug.routing.Rule(FLASK_TEMPLATES[t].format(i=i), endpoint=f"{t}-{i}")
            for t, i in route_count(n)
        ]
    )
    adapter = m.bind("example.com")

    def lookup(path: str) -> object:
        try:
            return adapter.match(path)
        except (werkzeug.exceptions.NotFound, werkzeug.routing.RequestRedirect):
            return None

    return lookup


def main() -> None:
    rng = random.Random(1)
    rows: list[tuple[str, str, float, float]] = []
    for label, builder, templates in (
        ("crosswind Map (Flask rules)", lambda n: flask_lookup(build_flask(n)), SAMPLE_PATHS),
        ("crosswind HandlerTable (Tornado)", lambda n: build_tornado(n).find, SAMPLE_PATHS),
        ("werkzeug Map (reference)", werkzeug_lookup, SAMPLE_PATHS),
        ("linear regex scan (reference)", linear_tornado, SAMPLE_PATHS),
    ):
        for kind, sample in (("match", templates), ("miss", MISSES)):
            small_lookup = builder(10)
            if small_lookup is None:
                continue
            small = time_per_lookup(small_lookup, paths_for(10, sample, rng))
            large = time_per_lookup(builder(1000), paths_for(1000, sample, rng))
            rows.append((label, kind, small, large))

    start = time.perf_counter()
    big = build_flask(1000)
    big.match("/api/v1/resource0/")
    build_ms = (time.perf_counter() - start) * 1e3

    print(f"{'router':34} {'lookup':6} {'10 routes':>11} {'1000 routes':>12} {'ratio':>6}")
    for label, kind, small, large in rows:
        print(f"{label:34} {kind:6} {small:9.2f}us {large:10.2f}us {large / small:5.2f}x")
    print(f"\nadding 1000 Flask rules + first match (compile): {build_ms:.1f} ms")


if __name__ == "__main__":
    main()
