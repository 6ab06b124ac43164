"""The benchmark harness (bench/run.py): wrk parsing, the report, failure handling, the ceiling."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


run = _load("crosswind_bench_run", BENCH / "run.py")
ceiling = _load("crosswind_bench_ceiling", BENCH / "servers" / "ceiling.py")

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40123/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.86ms  612.31us  14.02ms   90.12%
    Req/Sec     6.61k   312.55     7.01k    80.00%
  Latency Distribution
     50%    4.77ms
     75%    5.01ms
     90%    5.40ms
     99%    1.02s
  19735 requests in 3.00s, 2.45MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   6578.21
Transfer/sec:    836.54KB
"""


def test_parse_wrk_reads_rate_percentiles_and_errors() -> None:
    result = run.parse_wrk(WRK_OUTPUT)
    assert result.requests_per_second == pytest.approx(6578.21)
    assert result.latency_ms == {
        50: pytest.approx(4.77), 75: pytest.approx(5.01), 90: pytest.approx(5.40), 99: 1020.0,
    }
    assert result.p99_ms == 1020.0
    assert result.requests == 19735
    assert result.socket_errors == {"connect": 0, "read": 12, "write": 0, "timeout": 3}
    assert result.non_2xx == 7


def test_parse_wrk_clean_run_has_no_errors() -> None:
    clean = WRK_OUTPUT.replace("  Socket errors: connect 0, read 12, write 0, timeout 3\n", "")
    clean = clean.replace("  Non-2xx or 3xx responses: 7\n", "")
    result = run.parse_wrk(clean)
    assert result.socket_errors == {}
    assert result.non_2xx == 0


def test_parse_wrk_without_rate_is_an_error() -> None:
    with pytest.raises(ValueError, match="Requests/sec"):
        run.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.parametrize(
    ("text", "ms"), [("850.00us", 0.85), ("1.23ms", 1.23), ("2.00s", 2000.0), ("1.50m", 90_000.0)]
)
def test_parse_latency_units(text: str, ms: float) -> None:
    assert run.parse_latency(text) == pytest.approx(ms)


def test_parse_latency_rejects_other_text() -> None:
    with pytest.raises(ValueError):
        run.parse_latency("fast")


def test_form_lua_sends_the_body_the_servers_are_checked_with() -> None:
    lua = (BENCH / "wrk" / "form.lua").read_text()
    body = re.search(r'^wrk\.body = "([^"]*)"$', lua, re.MULTILINE)
    assert body is not None
    assert body.group(1).encode() == run.form_body()
    assert 'wrk.method = "POST"' in lua and f'wrk.path = "{run.FORM_PATH}"' in lua
    assert len(run.form_body()) >= 1000
    assert run.form_body().count(b"&") == run.FORM_FIELD_COUNT - 1


def test_wrk_command_pins_and_passes_scenario_arguments() -> None:
    close = next(s for s in run.SCENARIOS if s.name == "close")
    command = run.wrk_command("http://127.0.0.1:9", close, 3, 32, cpu=1)
    assert command[:3] == ["taskset", "-c", "1"]
    assert command[3:] == [
        "wrk", "-t1", "-c32", "-d3s", "--latency", "--timeout", "5s",
        "-H", "Connection: close", "http://127.0.0.1:9/",
    ]
    assert run.wrk_command("http://h:1", close, 3, 8, cpu=None)[0] == "wrk"


def _runs() -> list:
    def result(rps: float, p99: float, **extra) -> object:
        return run.WrkResult(rps, {50: p99 / 2, 99: p99}, int(rps), **extra)

    return [
        run.Run(0, "ceiling", "hello", result(1000, 1.0), cpu_us=30.0),
        run.Run(1, "ceiling", "hello", result(3000, 3.0), cpu_us=10.0),
        run.Run(2, "ceiling", "hello", result(2000, 2.0), cpu_us=20.0),
        run.Run(0, "x", "hello", result(500, 4.0, non_2xx=2), cpu_us=123.4),
        run.Run(1, "x", "hello", error="server exited with status 1: boom"),
    ]


def test_summary_takes_medians_and_ratio_to_ceiling() -> None:
    servers = [run.Server("ceiling", lambda p: []), run.Server("x", lambda p: [])]
    scenarios = [s for s in run.SCENARIOS if s.name == "hello"]
    table = run.summarize(_runs(), servers, scenarios)
    assert table["ceiling"]["hello"]["rps"] == 2000
    assert table["ceiling"]["hello"]["p99_ms"] == 2.0
    assert table["x"]["hello"]["ratio"] == 0.25
    assert table["x"]["hello"]["rounds"] == 1
    assert table["x"]["hello"]["errors"] == ["server exited with status 1: boom"]
    assert table["ceiling"]["hello"]["cpu_us"] == 20.0
    cpu_row = run.render_text(table, scenarios, run._cpu_cell).splitlines()[-1]
    assert cpu_row.split() == ["x", "123", "(6%)"]  # 123.4 us x 500 req/s

    text = run.render_text(table, scenarios)
    assert "2,000 (1.00x) 2.00ms" in text
    assert "500 (0.25x) 4.00ms !" in text
    meta = run.machine_facts() | {
        "date": "d", "command": "c", "pinning": "p", "connections": 32, "warmup": 1,
        "duration": 3, "rounds": 3, "wall_seconds": 9.0,
    }
    markdown = run.render_markdown(table, scenarios, meta)
    assert "| x | 500 (0.25x) 4.00ms ! |" in markdown
    assert "- x / hello: server exited with status 1: boom" in markdown
    assert "- x / hello: 0 socket errors, 2 non-2xx responses" in markdown
    assert "| x | 123 (6%) |" in markdown


def test_summary_of_a_server_that_never_ran() -> None:
    servers = [run.Server("y", lambda p: [])]
    scenarios = run.SCENARIOS[:1]
    table = run.summarize([run.Run(0, "y", "hello", error="not available")], servers, scenarios)
    assert run.render_text(table, scenarios).splitlines()[-1].split() == ["y", "FAILED"]


@pytest.mark.network
def test_crashing_server_is_reported_not_waited_for(tmp_path: Path) -> None:
    crash = run.Server(
        "crash", lambda port: [sys.executable, "-c", "import sys; sys.exit('no such backend')"]
    )
    start = time.monotonic()
    with pytest.raises(run.ServerFailed, match="exited with status 1.*no such backend"), \
            run.running(crash, None, tmp_path):
        pass
    assert time.monotonic() - start < 5


@pytest.mark.network
def test_server_that_never_listens_times_out_and_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "READY_TIMEOUT", 1.5)
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    silent = run.Server("silent", lambda port: [sys.executable, "-c", code])
    with pytest.raises(run.ServerFailed, match="not ready after"), \
            run.running(silent, None, tmp_path):
        pass
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_process_group_cpu_counts_the_group_and_not_others() -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    process = subprocess.Popen([sys.executable, "-c", burn + "time.sleep(30)"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        used = 0.0
        while time.monotonic() < deadline:
            used = run.process_group_cpu_seconds(process.pid) or 0.0
            if used >= 0.25:
                break
            time.sleep(0.05)
        assert 0.25 <= used < 2.0
        assert run.process_group_cpu_seconds(999_999_999) == 0.0
    finally:
        process.kill()
        process.wait()


def test_missing_package_is_reported_as_unavailable(tmp_path: Path) -> None:
    ghost = run.Server("ghost", lambda port: [], needs=("no_such_module_for_bench",))
    with pytest.raises(run.ServerUnavailable, match="no_such_module_for_bench"), \
            run.running(ghost, None, tmp_path):
        pass


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent += data

    def close(self) -> None:
        self.closed = True


def test_ceiling_answers_pipelined_requests_with_bodies_split_anywhere() -> None:
    form = b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
    stream = form + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + form
    for split in range(1, len(stream)):
        protocol = ceiling.CeilingProtocol()
        transport = _Transport()
        protocol.connection_made(transport)
        protocol.data_received(stream[:split])
        protocol.data_received(stream[split:])
        assert transport.sent.count(b"HTTP/1.1 200 OK") == 3
        assert transport.sent.endswith(b"\r\n\r\nHello, world!")
        assert not transport.closed


def test_ceiling_closes_after_a_connection_close_request() -> None:
    protocol = ceiling.CeilingProtocol()
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"\r\nConnection: close\r\n" in transport.sent
    assert transport.closed


# -- issue 9's target summary --------------------------------------------------


def _target_table(rps: dict[str, dict[str, tuple[float, float]]]) -> dict:
    """A summary of one round where *rps* maps server -> scenario -> (req/s, p99 ms)."""
    runs = [
        run.Run(0, server, scenario, run.WrkResult(rate, {99: p99}, int(rate)))
        for server, cells in rps.items() for scenario, (rate, p99) in cells.items()
    ]
    servers = [run.Server(name, lambda port: []) for name in rps]
    scenarios = [s for s in run.SCENARIOS if s.name in ("hello", "close")]
    return run.summarize(runs, servers, scenarios)


TARGET_RUN = {
    "ceiling": {"hello": (10_000, 0.1), "close": (2_000, 0.1)},
    "crosswind-asyncio": {"hello": (2_100, 4.0), "close": (900, 9.0)},
    "crosswind-trio": {"hello": (3_000, 6.0), "close": (800, 9.0)},
    "crosswind-flask-style-asyncio": {"hello": (2_250, 5.0), "close": (850, 9.0)},
    "crosswind-uvicorn": {"hello": (3_750, 1.0), "close": (1_000, 1.0)},
    "tornado": {"hello": (1_500, 5.0), "close": (800, 12.0)},
    "starlette-uvicorn-h11": {"hello": (2_000, 2.0), "close": (1_100, 8.0)},
    "starlette-on-crosswind": {"hello": (1_000, 0.5), "close": (500, 0.5)},
    "starlette-hypercorn-trio": {"hello": (1_000, 7.0), "close": (400, 10.0)},
}


def test_target_table_gives_each_ratio_to_the_ceiling_and_the_verdict() -> None:
    rows = run.target_rows(_target_table(TARGET_RUN))
    assert rows == [
        ["scenario", "Tornado 6", "uvicorn+h11+Starlette", "uvicorn+httptools+Starlette",
         "crosswind asyncio", "target"],
        ["hello", "0.15", "0.20", "-", "0.21", "≥0.20 met"],
        ["params", "-", "-", "-", "-", "≥0.10"],
        ["form", "-", "-", "-", "-", "≥0.05"],
        ["close", "0.40", "0.55", "-", "0.45", "≥0.50 missed"],
    ]


def test_target_lines_compare_backends_styles_and_p99() -> None:
    lines = run.target_lines(_target_table(TARGET_RUN))
    assert lines == [
        # sqrt(3.00 x 2.00) = 2.449
        "trio backend vs Starlette on hypercorn trio: 2.45x (target ≥2x): met; "
        "geometric mean of hello 3.00x, close 2.00x",
        "threads backend vs Flask on waitress: not measured (target ≥2x)",
        # 2,100 and 2,250 against crosswind-uvicorn's 3,750
        "Tornado-style / Flask-style vs fastest crosswind path on hello: -44% / -40% "
        "(target within 15%): missed; fastest crosswind-uvicorn at 3,750 req/s",
        # Rows served by crosswind (uvicorn hosting it, Starlette on it) are not peers.
        "p99 crosswind asyncio vs best peer: hello 4.00ms vs 2.00ms (starlette-uvicorn-h11, "
        "2.00x); close 9.00ms vs 8.00ms (starlette-uvicorn-h11, 1.12x)",
    ]


def test_style_target_is_met_within_fifteen_percent_and_missing_rows_show() -> None:
    close_enough = {
        "ceiling": {"hello": (10_000, 1.0)},
        "crosswind-asyncio": {"hello": (2_000, 1.0)},
        "crosswind-flask-style-asyncio": {"hello": (1_720, 1.0)},
    }
    style = run.target_lines(_target_table(close_enough))[2]
    assert style == (
        "Tornado-style / Flask-style vs fastest crosswind path on hello: 0% / -14% "
        "(target within 15%): met; fastest crosswind-asyncio at 2,000 req/s"
    )
    del close_enough["crosswind-flask-style-asyncio"]
    style = run.target_lines(_target_table(close_enough))[2]
    assert style.startswith(
        "Tornado-style / Flask-style vs fastest crosswind path on hello: 0% / ? "
        "(target within 15%): missed"
    )


def test_targets_are_in_the_terminal_and_markdown_reports() -> None:
    table = _target_table(TARGET_RUN)
    text = run.render_targets_text(table)
    assert text.splitlines()[2].split() == ["hello", "0.15", "0.20", "-", "0.21", "≥0.20", "met"]
    assert text.endswith(run.target_lines(table)[-1])
    meta = run.machine_facts() | {
        "date": "d", "command": "c", "pinning": "p", "connections": 32, "warmup": 1,
        "duration": 3, "rounds": 1, "wall_seconds": 9.0,
    }
    scenarios = [s for s in run.SCENARIOS if s.name in ("hello", "close")]
    markdown = run.render_markdown(table, scenarios, meta)
    section = markdown.split("## Issue 9 targets\n", 1)[1]
    assert "| hello | 0.15 | 0.20 | - | 0.21 | ≥0.20 met |" in section
    assert "|---|---:|---:|---:|---:|---:|" in section
    assert "- trio backend vs Starlette on hypercorn trio: 2.45x (target ≥2x): met;" in section


def test_the_target_summary_names_rows_that_exist() -> None:
    names = {server.name for server in run.SERVERS}
    named = {row for _, row in run.TARGET_COLUMNS} | set(run.STYLE_ROWS)
    named |= {row for _, ours, peer, _ in run.PEER_TARGETS for row in (ours, peer)}
    assert named <= names
    assert set(run.TARGET_RATIOS) == {scenario.name for scenario in run.SCENARIOS}


NEW_PEERS = [
    "crosswind-flask-style-asyncio", "crosswind-uvicorn", "crosswind-gunicorn",
    "starlette-on-crosswind", "starlette-hypercorn-asyncio", "starlette-hypercorn-trio",
    "flask-waitress",
]


@pytest.mark.network
@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NEW_PEERS)
def test_new_servers_pass_the_smoke_check(name: str, tmp_path: Path) -> None:
    server = next(s for s in run.SERVERS if s.name == name)
    try:
        with run.running(server, None, tmp_path) as live:
            problems = {s.name: run.smoke_check(live.url, s) for s in run.SCENARIOS}
    except run.ServerUnavailable as exc:
        pytest.skip(str(exc))
    assert problems == {s.name: None for s in run.SCENARIOS}


instructions = _load("crosswind_bench_instructions", BENCH / "instructions.py")


@pytest.mark.parametrize("case", instructions.CASES)
def test_instruction_counter_runner_serves_each_case(case: str) -> None:
    # What runs under callgrind, run without it: it must serve the case, or the
    # count would measure a failure.
    runner = instructions._RUNNER.format(
        servers=str(BENCH / "servers"), bench=str(BENCH)
    ) + (
        "\nfrom crosswind.testing import parse_responses"
        "\nprint(*[r.status_code for r in parse_responses(serve_bytes(app, [request] * 3))])"
    )
    # The asyncio cases serve real sockets and show the statuses their client saw.
    result = subprocess.run(
        [sys.executable, "-c", runner, case, "3", "--show"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "200", "200"]


def test_instruction_counter_refuses_unknown_cases(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        instructions.main(["web-hello", "nope"])
    assert "unknown cases ['nope']" in capsys.readouterr().err
