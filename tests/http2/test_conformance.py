"""The h2spec-style conformance cases against crosswind on each HTTP/2 backend.

One server per backend serves every case (each case opens its own
connection), so a case that leaves the server in a bad state shows up in the
cases after it.  The suite itself is checked too: each case must fail
against one of two deliberately wrong servers (:mod:`tests.support.h2spec.fakes`),
so no case passes whatever the server does.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.h2spec import CASES, Target, run_case
from tests.support.h2spec.__main__ import main
from tests.support.h2spec.fakes import agreeable, hasty

pytestmark = pytest.mark.network


def test_every_case_can_fail() -> None:
    with agreeable() as yes, hasty() as no, ThreadPoolExecutor(32) as pool:
        verdicts = {}
        for port in (yes, no):
            fake = Target("127.0.0.1", port, timeout=0.3)
            verdicts[port] = list(pool.map(lambda c, t=fake: run_case(t, c).outcome, CASES))
    never_failing = [
        c.id
        for c, a, b in zip(CASES, verdicts[yes], verdicts[no], strict=True)
        if "fail" not in (a, b)
    ]
    assert never_failing == []


def test_case_ids_are_unique_and_grouped() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert {c.group for c in CASES} == {"generic", "http2", "hpack"}
    assert len(CASES) >= 146  # h2spec's count


def test_runner_prints_a_line_per_case_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    with hasty() as port:
        status = main(
            [
                "--port",
                str(port),
                "--timeout",
                "0.3",
                "--case",
                "http2/6.7/",
                "--case",
                "generic/3.4",
            ]
        )
    out = capsys.readouterr().out.splitlines()
    # Against a server that closes on any frame, the PING answers fail and the errors pass.
    assert [line.split()[:2] for line in out[:5]] == [
        ["FAIL", "generic/3.4/1"],
        ["FAIL", "http2/6.7/1"],
        ["FAIL", "http2/6.7/2"],
        ["ok", "http2/6.7/3"],
        ["ok", "http2/6.7/4"],
    ]
    assert out[-1].startswith("5 cases: 2 passed, 3 failed, 0 skipped")
    assert status == 1
