"""The pieces behind ``--reload``, ``--limit-concurrency``, ``--limit-max-requests`` and call targets."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from crosswind.serving.capacity import ConcurrencyLimit, RequestBudget
from crosswind.serving.errors import CLIError
from crosswind.serving.loading import parse_target
from crosswind.serving.reload import FileFilter, poll_changes, scan

# -- which files a reload watches -------------------------------------------------------


@pytest.mark.parametrize(
    ("relative", "wanted"),
    [
        ("app.py", True),
        ("pkg/views.py", True),
        ("pkg/views.pyc", False),
        ("__pycache__/app.cpython-311.pyc", False),
        (".venv/lib/site.py", False),
        (".hidden.py", False),
        ("app.py~", False),
        ("templates/index.html", True),  # included below
        ("notes.txt", False),
        ("skip_this.py", False),  # excluded below
        ("build/gen.py", False),  # excluded directory
    ],
)
def test_file_filter(relative: str, wanted: bool) -> None:
    rule = FileFilter(includes=["*.html"], excludes=["skip_*.py", "build"])
    assert rule.wants_file(relative) is wanted


def test_an_include_lifts_a_default_exclude() -> None:
    assert not FileFilter().wants_file(".env")
    assert FileFilter(includes=[".env"]).wants_file(".env")


def test_scan_and_poll_see_changes_additions_and_removals(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "c.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "a.pyc").write_text("")
    rule = FileFilter()
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in scan([tmp_path], rule)) == [
        "a.py", "b.py", "pkg/c.py",
    ]

    steps = [
        lambda: None,
        lambda: os.utime(tmp_path / "a.py", ns=(1, 1)),
        lambda: (tmp_path / "b.py").unlink(),
        lambda: (tmp_path / "pkg" / "new.py").write_text(""),
    ]
    changes = poll_changes([tmp_path], rule, lambda: not steps, sleep=lambda _: steps.pop(0)())
    seen = [sorted(Path(p).name for p in batch) for batch in changes]
    assert seen == [[], ["a.py"], ["b.py"], ["new.py"]]


# -- call targets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        ("app:application", ("app", "application", None, {})),
        ("pkg.web:create_app()", ("pkg.web", "create_app", (), {})),
        ("pkg:factories.make('dev', workers=2)", ("pkg", "factories.make", ("dev",), {"workers": 2})),
    ],
)
def test_parse_target(target: str, parts: tuple[Any, ...]) -> None:
    assert parse_target(target) == parts


@pytest.mark.parametrize(
    "target", ["app", ":app", "app:", "app:make(x)", "app:make(**opts)", "app:make()()", "app:1()"]
)
def test_parse_target_refuses(target: str) -> None:
    with pytest.raises(CLIError):
        parse_target(target)


# -- capacity ------------------------------------------------------------------------------


class Answering:
    """An exchange that records the response it is given."""

    def __init__(self) -> None:
        self.status = 0

    async def respond(self, status: int, headers: Any, body: bytes = b"") -> None:
        self.status = status


class Gate:
    """An application whose requests wait until the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.started = 0

    async def handle(self, exchange: Any) -> None:
        self.started += 1
        await self.open.wait()
        await exchange.respond(200, [])

    async def startup(self) -> str:
        return "started"


def test_concurrency_limit_refuses_only_above_the_limit() -> None:
    async def scenario() -> list[int]:
        gate = Gate()
        limited = ConcurrencyLimit(gate, 2)
        exchanges = [Answering() for _ in range(4)]
        first = [asyncio.ensure_future(limited.handle(e)) for e in exchanges[:3]]
        await asyncio.sleep(0)
        assert limited.active == 2 and gate.started == 2
        gate.open.set()
        await asyncio.gather(*first)
        assert limited.active == 0
        await limited.handle(exchanges[3])
        assert await limited.startup() == "started"  # the hooks pass through
        return [e.status for e in exchanges]

    assert asyncio.run(scenario()) == [200, 200, 503, 200]


def test_request_budget_calls_back_once_when_spent() -> None:
    async def scenario() -> list[str]:
        gate = Gate()
        gate.open.set()
        calls: list[str] = []
        budget = RequestBudget(gate, 2)
        await budget.handle(Answering())
        assert not budget.spent
        await budget.handle(Answering())
        assert budget.spent
        # Bound only now (the server announced itself late): called at once.
        budget.bind(lambda: calls.append("shutdown"))
        await budget.handle(Answering())  # a late request is still answered
        return calls

    assert asyncio.run(scenario()) == ["shutdown"]


@pytest.mark.parametrize("wrapper", [ConcurrencyLimit, RequestBudget])
def test_capacity_bounds_must_be_positive(wrapper: Any) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        wrapper(Gate(), 0)
