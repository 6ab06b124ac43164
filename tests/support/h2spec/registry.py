"""The case list and the loop that runs it.

A case is a function of one :class:`~tests.support.h2spec.harness.Connection`
registered with :func:`case`, under a group (``generic``, ``http2``,
``hpack``, as h2spec names them) and the section of the RFC it checks.  Its
id, ``group/section/n``, numbers the cases of a section in the order they
are written, so an id names the same case from one run to the next.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.support.h2spec.harness import CaseFailure, CaseSkipped, Connection, Target

__all__ = ["CASES", "Case", "Result", "case", "run_case", "run_cases"]

CaseBody = Callable[[Connection], None]


@dataclass(frozen=True, slots=True)
class Case:
    """One conformance check.

    :param id: ``group/section/n``.
    :param group: ``generic``, ``http2`` or ``hpack``.
    :param section: the RFC section it checks (RFC 9113 for ``generic``
        and ``http2``, RFC 7541 for ``hpack``).
    :param title: what the client sends.
    :param expected: what the server must do, as the RFC says it.
    :param body: the function that sends and checks.
    """

    id: str
    group: str
    section: str
    title: str
    expected: str
    body: CaseBody


#: Every case, in registration order.
CASES: list[Case] = []


def case(group: str, section: str, title: str, expected: str) -> Callable[[CaseBody], CaseBody]:
    """Register the decorated function as the next case of *group*/*section*.

    :param group: ``generic``, ``http2`` or ``hpack``.
    :param section: the RFC section.
    :param title: what the client sends.
    :param expected: what the server must do.
    """

    def register(body: CaseBody) -> CaseBody:
        number = 1 + sum(1 for c in CASES if c.group == group and c.section == section)
        CASES.append(Case(f"{group}/{section}/{number}", group, section, title, expected, body))
        return body

    return register


@dataclass(frozen=True, slots=True)
class Result:
    """What running one case gave.

    :param case: the case.
    :param outcome: ``"pass"``, ``"fail"``, or ``"skip"`` when the server
        does not offer what the case needs.
    :param detail: why it failed or was skipped, else ``""``.
    :param seconds: how long it took.
    """

    case: Case
    outcome: str
    detail: str
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether the server did what the case expects."""
        return self.outcome == "pass"


def run_case(target: Target, item: Case) -> Result:
    """Run one case on a fresh connection to *target*.

    :param target: the server.
    :param item: the case.
    """
    start = time.monotonic()

    def result(outcome: str, detail: str = "") -> Result:
        return Result(item, outcome, detail, time.monotonic() - start)

    try:
        connection = Connection(target)
    except CaseFailure as failure:
        return result("fail", str(failure))
    except OSError as exc:
        return result("fail", f"cannot connect: {exc}")
    try:
        item.body(connection)
    except CaseFailure as failure:
        return result("fail", str(failure))
    except CaseSkipped as skipped:
        return result("skip", str(skipped))
    except Exception as exc:  # a frame the server broke, say: still the server's failure
        return result("fail", "error: " + "".join(traceback.format_exception_only(exc)).strip())
    finally:
        connection.close()
    return result("pass")


def run_cases(
    target: Target,
    cases: Iterable[Case] | None = None,
    report: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Run *cases* (all by default) one after the other.

    :param target: the server.
    :param cases: the cases to run.
    :param report: called with each result as it comes.
    """
    results = []
    for item in CASES if cases is None else cases:
        result = run_case(target, item)
        if report is not None:
            report(result)
        results.append(result)
    return results
