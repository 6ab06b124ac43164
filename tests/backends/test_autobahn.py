"""The Autobahn|Testsuite core cases on every backend, through kosoku's fuzzing client.

The core cases are every case but performance (9.*) and compression (12.*,
13.*), which ``make conformance`` runs (``bench/conformance.py``).  Each
backend serves the Tornado-style echo with and without permessage-deflate;
the Flask-style echo runs on asyncio.  The core cases never offer deflate, so
the deflating echo also gets two compression cases, to show the extension is
really negotiated and used.

Among the close cases are those Tornado 6.6 fails: a close frame with a code
no endpoint may send (7.9.*) must be answered with 1002.
"""

from __future__ import annotations

import pytest

from tests.support.autobahn import CORE_EXCLUDE, run_cases, serving
from tests.support.servers import BACKENDS

pytestmark = [pytest.mark.network, pytest.mark.timeout(120)]

#: How many core cases kosoku holds: a run that ran fewer did not run them all.
CORE_CASES = 247
#: A short compression sample: a small text message, one in each context takeover mode.
COMPRESSION = ("12.1.1", "13.1.1", "13.3.1")
#: Several connections at once: the cases are independent, and the run is shorter.
CONCURRENCY = 4

RUNS = [
    *[(backend, "handler", deflate) for backend in BACKENDS for deflate in (False, True)],
    ("asyncio", "view", True),
]


@pytest.mark.parametrize(("backend", "app_name", "deflate"), RUNS)
def test_core_cases(backend: str, app_name: str, deflate: bool) -> None:
    with serving(backend, app_name, deflate=deflate) as port:
        outcome = run_cases(port, exclude=CORE_EXCLUDE, concurrency=CONCURRENCY)
        assert outcome.failures() == []
        assert len(outcome.results) == CORE_CASES
        assert all(r.behavior == "OK" for r in outcome.results if r.case_id.startswith("7.9."))
        if deflate:
            compressed = run_cases(port, include=COMPRESSION, concurrency=CONCURRENCY)
            assert compressed.failures() == []
            assert [r.case_id for r in compressed.results] == list(COMPRESSION)
