"""The h2spec-style conformance cases against crosswind on each HTTP/2 backend.

One server per backend serves every case (each case opens its own
connection), so a case that leaves the server in a bad state shows up in the
cases after it.  The suite itself is checked too: each case must fail
against one of two deliberately wrong servers (:mod:`tests.support.h2spec.fakes`),
so no case passes whatever the server does.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from crosswind.backends._common import make_ssl_context

from tests.support.apps import BasicApp
from tests.support.h2spec import CASES, Case, Target, run_case
from tests.support.h2spec.__main__ import main
from tests.support.h2spec.fakes import agreeable, refusing
from tests.support.servers import running_server, self_signed_certificate

pytestmark = pytest.mark.network

H2_BACKENDS = ["asyncio", "trio"]
#: Seconds a case waits for each answer: only a failing case waits it out, so it
#: can be generous for a loaded machine.
ANSWER_WAIT = 5.0

#: Cases crosswind fails, each with the reason; strict, so a fix shows up.
KNOWN_FAILURES: dict[str, str] = {}


def _param(item: Case) -> object:
    reason = KNOWN_FAILURES.get(item.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(item, id=item.id, marks=marks)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("h2spec"))


@pytest.fixture(scope="module", params=H2_BACKENDS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """Cleartext HTTP/2 by prior knowledge."""
    with running_server(request.param, BasicApp(), http2=True) as handle:
        yield Target("127.0.0.1", handle.port, timeout=ANSWER_WAIT)


@pytest.fixture(scope="module", params=H2_BACKENDS)
def tls_target(request: pytest.FixtureRequest, certificate: tuple[Path, Path]) -> Iterator[Target]:
    """HTTP/2 chosen by ALPN; the ``http2`` flag is for cleartext only."""
    context = make_ssl_context(str(certificate[0]), str(certificate[1]))
    with running_server(request.param, BasicApp(), ssl_context=context) as handle:
        yield Target("127.0.0.1", handle.port, tls=True, timeout=ANSWER_WAIT)


def _check(target: Target, item: Case) -> None:
    result = run_case(target, item)
    if result.outcome == "skip":
        pytest.skip(result.detail)
    assert result.passed, f"{item.title}: expected {item.expected}\n{result.detail}"


@pytest.mark.parametrize("item", [_param(c) for c in CASES])
def test_case(target: Target, item: Case) -> None:
    _check(target, item)


# Past ALPN the connection is the same code as in cleartext, and a TLS handshake per
# case is the slow part, so over TLS the cases of what a server must accept suffice.
@pytest.mark.parametrize("item", [_param(c) for c in CASES if c.group == "generic"])
def test_case_over_tls(tls_target: Target, item: Case) -> None:
    _check(tls_target, item)


def test_every_case_can_fail() -> None:
    with agreeable() as yes, refusing() as no, ThreadPoolExecutor(32) as pool:
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
    with refusing() as port:
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
    # Against a server that refuses any frame, the PING answers fail, as does
    # the error it gets the code of wrong.
    assert [line.split()[:2] for line in out[:5]] == [
        ["FAIL", "generic/3.4/1"],
        ["FAIL", "http2/6.7/1"],
        ["FAIL", "http2/6.7/2"],
        ["ok", "http2/6.7/3"],
        ["FAIL", "http2/6.7/4"],
    ]
    assert out[-1].startswith("5 cases: 1 passed, 4 failed, 0 skipped")
    assert status == 1
