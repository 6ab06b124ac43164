"""A smoke run of Autobahn|Testsuite's client cases against ``websocket_connect``.

kosoku's fuzzing server plays the Autobahn cases; ``bench/conformance_client.py``
drives crosswind's client through them on asyncio, on trio and blocking.  Here
a few cases from each group run (the full suite takes many minutes: ``make
conformance``); every one must pass.
"""

from __future__ import annotations

import pytest

from tests.support.bench_scripts import BENCH, load_bench_script

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

pytest.importorskip("kosoku", reason="kosoku (the Autobahn case runner) is not installed")

#: One or a few cases of each group: framing, pings, reserved bits, opcodes,
#: fragmentation, UTF-8, close codes, a large message, compression.
CASES = [
    "1.1.1", "1.2.8", "2.10", "3.2", "4.2.4", "5.15", "6.2.3", "7.1.5", "7.5.1", "7.9.3",
    "9.1.1", "10.1.1", "13.1.1",
]


conformance = load_bench_script(
    "crosswind_conformance_client", BENCH / "conformance_client.py"
)


@pytest.mark.parametrize("flavour", conformance.FLAVOURS)
def test_autobahn_cases_pass(flavour: str) -> None:
    verdicts = conformance.run_cases(flavour, CASES)
    assert sorted(verdict.case_id for verdict in verdicts) == sorted(CASES)
    failing = [
        f"{v.case_id}: {v.behavior} / {v.behavior_close}: {v.result} {v.result_close}"
        for v in verdicts
        if not v.passed
    ]
    assert failing == []
