"""The HTTP/2 benchmark (bench/http2.py): reading h2load, the command it runs, its verdicts."""

from __future__ import annotations

import os

import pytest

from tests.support.bench_scripts import BENCH, load_bench_script

# The name tests/support/h2_clients.py loads it under, so both share one copy.
h2bench = load_bench_script("crosswind_bench_http2", BENCH / "http2.py")

# h2load 1.52's output, trimmed of its progress lines.
COUNTED = """\
starting benchmark...
spawning thread #0: 4 total client(s). 200 total requests
Application protocol: h2c

finished in 259.57ms, 770.52 req/s, 35.59KB/s
requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 9.24KB (9460) total, 1.19KB (1220) headers (space savings 94.65%), 2.54KB (2600) data
"""

TIMED = """\
Application protocol: h2
Main benchmark duration is over for thread #0. Stopping all clients.

finished in 2.00s, 576.00 req/s, 27.53KB/s
requests: 1152 total, 1472 started, 1152 done, 1152 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 1159 2xx, 0 3xx, 0 4xx, 0 5xx
"""

NOT_FOUND = """\
finished in 9.10ms, 549.45 req/s, 12.34KB/s
requests: 5 total, 5 started, 5 done, 0 succeeded, 5 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 5 4xx, 0 5xx
"""


def test_a_counted_run_is_read_whole() -> None:
    summary = h2bench.parse_h2load(COUNTED)
    assert summary.requests_per_second == 770.52
    assert (summary.total, summary.started, summary.done, summary.succeeded) == (200, 200, 200, 200)
    assert (summary.failed, summary.errored, summary.timeout) == (0, 0, 0)
    assert summary.status == {"2xx": 200, "3xx": 0, "4xx": 0, "5xx": 0}
    assert summary.protocol == "h2c"
    assert summary.clean


def test_a_timed_run_leaves_requests_in_flight_out() -> None:
    summary = h2bench.parse_h2load(TIMED)
    assert (summary.requests_per_second, summary.started, summary.done) == (576.0, 1472, 1152)
    assert summary.protocol == "h2"
    assert summary.clean


def test_error_statuses_are_not_clean() -> None:
    summary = h2bench.parse_h2load(NOT_FOUND)
    assert (summary.succeeded, summary.failed, summary.status["4xx"]) == (0, 5, 5)
    assert summary.protocol is None
    assert not summary.clean


def test_output_without_a_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="no h2load summary"):
        h2bench.parse_h2load("connect to 127.0.0.1:1 failed: Connection refused\n")


def test_the_command_takes_a_count_or_a_duration_and_is_pinned() -> None:
    assert h2bench.h2load_command(
        "http://127.0.0.1:1/", requests=200, clients=4, streams=10, timeout=5
    ) == ["h2load", "-t", "1", "-c", "4", "-m", "10", "-T", "5", "-n", "200", "http://127.0.0.1:1/"]
    pinned = h2bench.h2load_command("http://h/", seconds=2.4, clients=32, streams=10, cpu=1)
    assert pinned[:3] == ["taskset", "-c", "1"] and pinned[-3:] == ["-D", "2", "http://h/"]
    with pytest.raises(ValueError):
        h2bench.h2load_command("http://h/", clients=1, streams=1)
    with pytest.raises(ValueError):
        h2bench.h2load_command("http://h/", requests=1, seconds=1, clients=1, streams=1)


def _cell(rps: float | None, cpu_us: float | None) -> dict[str, object]:
    return {"rps": rps, "cpu_us": cpu_us, "rounds": 2, "bad": 0, "errors": [], "unavailable": False}


def test_targets_compare_to_hypercorn_and_to_http1() -> None:
    scenarios = [s for s in h2bench.run.SCENARIOS if s.name == "hello"]
    table = {
        "crosswind-asyncio-h2": {"hello": _cell(3000.0, 150.0)},
        "crosswind-flask-style-asyncio-h2": {"hello": _cell(2000.0, 200.0)},
        h2bench.HYPERCORN: {"hello": _cell(900.0, 900.0)},
        "crosswind-asyncio-http1": {"hello": _cell(5000.0, 120.0)},
    }
    lines = h2bench.targets(table, scenarios)
    assert lines == [
        f"hello: crosswind-asyncio-h2 / {h2bench.HYPERCORN} req/s: 3.33x (target >= 3x: met)",
        f"hello: crosswind-flask-style-asyncio-h2 / {h2bench.HYPERCORN} req/s: 2.22x "
        "(target >= 3x: missed)",
        "hello: crosswind-asyncio-h2 / crosswind-asyncio-http1 CPU per request: 1.25x "
        "(target <= 1.5x: met)",
    ]
    table["crosswind-asyncio-h2"]["hello"] = _cell(None, None)
    assert h2bench.targets(table, scenarios)[0].endswith("not measured (target >= 3x)")


@pytest.mark.network
def test_the_h2_client_checks_answers_and_holds_open_streams_on_crosswind() -> None:
    import crosswind.web
    from handlers import routes  # bench/servers, on the path once bench/http2.py is loaded

    from tests.support.servers import running_server

    app = crosswind.web.Application(routes(crosswind.web))
    with running_server("asyncio", app, http2=True) as handle:
        url = f"http://127.0.0.1:{handle.port}"
        for scenario in h2bench.run.SCENARIOS:
            if scenario.name in h2bench.SCENARIO_NAMES:
                assert h2bench.smoke_check(url, scenario) is None
        wrong = h2bench.run.Scenario("hello", "/nowhere", (), h2bench.run.SCENARIOS[0].check)
        assert "answered 404" in (h2bench.smoke_check(url, wrong) or "")
        held = h2bench.measure_idle_streams(handle.port, os.getpgid(0), connections=3, streams=5)
    assert (held["held"], held["streams_refused"], held["error"]) == (3, 0, None)
    assert held["rss_idle_kib"] and held["rss_held_kib"]
