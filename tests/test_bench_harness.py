"""The benchmark harness (bench/run.py): wrk parsing, the report, failure handling, the ceiling."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.bench_scripts import BENCH, load_bench_script

run = load_bench_script("crosswind_bench_run", BENCH / "run.py")
ceiling = load_bench_script("crosswind_bench_ceiling", BENCH / "servers" / "ceiling.py")

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


# -- the round's target summary -------------------------------------------------


def _target_table(rps: dict[str, dict[str, tuple[float, float]]], scenarios=("hello", "close")) -> dict:
    """A summary of one round where *rps* maps server -> scenario -> (req/s, p99 ms)."""
    runs = [
        run.Run(0, server, scenario, run.WrkResult(rate, {99: p99}, int(rate)))
        for server, cells in rps.items() for scenario, (rate, p99) in cells.items()
    ]
    servers = [run.Server(name, lambda port: []) for name in rps]
    chosen = [s for s in run.SCENARIOS if s.name in scenarios]
    return run.summarize(runs, servers, chosen)


TARGET_RUN = {
    "ceiling": {"hello": (10_000, 0.1), "close": (2_000, 0.1)},
    "crosswind-asyncio": {"hello": (3_300, 4.0), "close": (1_200, 9.0)},
    "crosswind-flask-style-asyncio": {"hello": (3_500, 5.0), "close": (1_400, 9.0)},
    "starlette-uvicorn-httptools": {"hello": (2_500, 3.0), "close": (1_000, 8.5)},
    "crosswind-trio": {"hello": (5_500, 6.0), "close": (800, 9.0)},
    "starlette-hypercorn-trio": {"hello": (1_000, 7.0), "close": (400, 10.0)},
    "crosswind-uvicorn": {"hello": (3_750, 1.0), "close": (1_000, 1.0)},
    "tornado": {"hello": (1_500, 5.0), "close": (800, 12.0)},
    "starlette-uvicorn-h11": {"hello": (2_000, 2.0), "close": (1_100, 8.0)},
    "starlette-on-crosswind": {"hello": (1_000, 0.5), "close": (500, 0.5)},
    "crosswind-asyncio-uvloop": {"hello": (3_600, 3.0)},
    "starlette-uvicorn-httptools-uvloop": {"hello": (3_000, 3.0)},
}


def test_verdict_says_met_or_missed_and_by_how_much() -> None:
    assert run.verdict(0.33, 0.30) == "met by 10%"
    assert run.verdict(0.30, 0.30) == "met by 0%"
    assert run.verdict(0.15, 0.30) == "missed by 50%"


def test_target_table_is_the_ratio_of_each_peer_to_the_ceiling() -> None:
    rows = run.target_rows(_target_table(TARGET_RUN))
    assert rows == [
        ["peer", "hello", "params", "form", "close"],
        ["crosswind asyncio, Tornado-style", "0.33", "-", "-", "0.60"],
        ["crosswind asyncio, Flask-style", "0.35", "-", "-", "0.70"],
        ["Starlette on uvicorn + httptools", "0.25", "-", "-", "0.50"],
        ["Starlette on uvicorn + h11", "0.20", "-", "-", "0.55"],
        ["Tornado 6", "0.15", "-", "-", "0.40"],
        ["crosswind trio / Starlette on hypercorn-trio", "0.55 / 0.10", "- / -", "- / -",
         "0.40 / 0.20"],
        ["crosswind threads / Flask on waitress", "- / -", "- / -", "- / -", "- / -"],
        ["crosswind asyncio on uvloop, Tornado-style / Flask-style", "0.36 / -", "- / -",
         "- / -", "- / -"],
        ["Starlette on uvicorn + httptools + uvloop", "0.30", "-", "-", "-"],
        ["target, both API styles", "≥0.30", "≥0.18", "≥0.15", "≥0.65"],
    ]


def test_target_lines_mark_each_target_met_or_missed_with_the_margin() -> None:
    lines = run.target_lines(_target_table(TARGET_RUN))
    assert lines == [
        "Tornado-style on asyncio, ratio to the ceiling (target ≥0.30 / ≥0.65): missed; "
        "hello 0.33 met by 10%, close 0.60 missed by 8%",
        "Flask-style on asyncio, ratio to the ceiling (target ≥0.30 / ≥0.65): met; "
        "hello 0.35 met by 17%, close 0.70 met by 8%",
        # 3,300 / 2,500 = 1.32 and 1,200 / 1,000 = 1.20 against 1.3
        "Tornado-style on asyncio vs Starlette on uvicorn + httptools (target ≥1.3x on each): "
        "missed; hello 1.32x met by 2%, close 1.20x missed by 8%",
        "Flask-style on asyncio vs Starlette on uvicorn + httptools (target ≥1.3x on each): "
        "met; hello 1.40x met by 8%, close 1.40x met by 8%",
        # 3,300 / 3,500 = 0.94 and 1,200 / 1,400 = 0.86 against 0.90
        "Tornado-style vs Flask-style on asyncio (target ≥0.90x on each): missed; "
        "hello 0.94x met by 5%, close 0.86x missed by 5%",
        "trio backend vs Starlette on hypercorn trio (target ≥5x on hello): met; "
        "hello 5.50x met by 10%",
        "threads backend vs Flask on waitress (target ≥3x on hello): not measured",
        # params was not run: the verdict holds for what was.
        "Tornado-style on uvloop vs Starlette on uvicorn + httptools + uvloop "
        "(target ≥1.2x on hello and params): met where measured; hello 1.20x met by 0%, params -",
        "Flask-style on uvloop vs Starlette on uvicorn + httptools + uvloop "
        "(target ≥1.2x on hello and params): not measured",
        # Rows served by crosswind (uvicorn hosting it, Starlette on it) are not peers.
        "p99 crosswind asyncio vs best peer: hello 4.00ms vs 2.00ms (starlette-uvicorn-h11, "
        "2.00x); close 9.00ms vs 8.00ms (starlette-uvicorn-h11, 1.12x)",
    ]


def test_a_faster_tornado_style_path_meets_its_target() -> None:
    faster = {
        "ceiling": {"hello": (10_000, 1.0)},
        "crosswind-asyncio": {"hello": (4_000, 1.0)},
        "crosswind-flask-style-asyncio": {"hello": (3_000, 1.0)},
    }
    style = run.target_lines(_target_table(faster, ("hello",)))[4]
    assert style == (
        "Tornado-style vs Flask-style on asyncio (target ≥0.90x on each): met; "
        "hello 1.33x met by 48%"
    )
    del faster["crosswind-flask-style-asyncio"]
    assert run.target_lines(_target_table(faster, ("hello",)))[4] == (
        "Tornado-style vs Flask-style on asyncio (target ≥0.90x on each): not measured"
    )


def test_targets_are_in_the_terminal_and_markdown_reports() -> None:
    table = _target_table(TARGET_RUN)
    text = run.render_targets_text(table)
    assert text.splitlines()[2].split() == ["crosswind", "asyncio,", "Tornado-style", "0.33",
                                            "-", "-", "0.60"]
    assert text.endswith(run.target_lines(table)[-1])
    meta = run.machine_facts() | {
        "date": "d", "command": "c", "pinning": "p", "connections": 32, "warmup": 1,
        "duration": 3, "rounds": 1, "wall_seconds": 9.0,
    }
    scenarios = [s for s in run.SCENARIOS if s.name in ("hello", "close")]
    markdown = run.render_markdown(table, scenarios, meta)
    section = markdown.split("## Round targets\n", 1)[1]
    assert "| crosswind asyncio, Tornado-style | 0.33 | - | - | 0.60 |" in section
    assert "| target, both API styles | ≥0.30 | ≥0.18 | ≥0.15 | ≥0.65 |" in section
    assert "|---|---:|---:|---:|---:|" in section
    assert "- trio backend vs Starlette on hypercorn trio (target ≥5x on hello): met;" in section
    # Neither extra section without its runs.
    assert "## Concurrency" not in markdown and "## Instructions" not in markdown


def test_the_target_summary_names_rows_that_exist() -> None:
    names = {server.name for server in run.SERVERS}
    named = {row for _, rows in run.TARGET_TABLE for row in rows} | set(run.STYLE_ROWS)
    named |= {row for _, ours, peer, _, _ in run.PEER_TARGETS for row in (ours, peer)}
    named |= set(run.UVLOOP_ROWS) | {run.UVLOOP_PEER, run.LEAD_PEER} | set(run.CROWD_ROWS)
    assert named <= names
    assert set(run.TARGET_RATIOS) == {scenario.name for scenario in run.SCENARIOS}


def test_uvloop_rows_run_only_hello_and_params() -> None:
    by_name = {server.name: server for server in run.SERVERS}
    for name in ("crosswind-asyncio-uvloop", "crosswind-flask-style-asyncio-uvloop",
                 "starlette-uvicorn-httptools-uvloop"):
        server = by_name[name]
        assert [s.name for s in run.SCENARIOS if server.runs(s)] == ["hello", "params"]
        assert "uvloop" in server.needs
    assert "--loop" in by_name["crosswind-asyncio-uvloop"].argv(1)
    assert "--loop" not in by_name["crosswind-asyncio"].argv(1)
    assert all(by_name["crosswind-asyncio"].runs(s) for s in run.SCENARIOS)


# -- many connections ---------------------------------------------------------------


def test_crowd_runs_add_the_connection_limit_to_crosswind_rows_only() -> None:
    by_name = {server.name: server for server in run.SERVERS}
    crosswind = run.crowd_server(by_name["crosswind-asyncio"])
    assert crosswind.argv(7)[-4:] == ["--port", "7", "--max-connections", "2000"]
    assert crosswind.served_from is None
    assert run.crowd_server(by_name["tornado"]).argv(7) == by_name["tornado"].argv(7)
    few, crowd = run.crowd_scenarios(1000)
    assert (few.name, few.connections, crowd.name, crowd.connections) == (
        "hello-c32", 32, "hello-c1000", 1000,
    )
    assert run.wrk_command("http://h:1", crowd, 2, crowd.connections, None)[2] == "-c1000"


def test_crowd_table_gives_the_share_kept_and_p99_against_the_best_peer() -> None:
    levels = run.crowd_scenarios(1000)
    runs = [
        run.Run(0, server, scenario.name, run.WrkResult(rate, {99: p99}, int(rate)))
        for server, figures in {
            "crosswind-asyncio": ((3_000, 20.0), (2_700, 90.0)),
            "crosswind-flask-style-asyncio": ((3_200, 20.0), (2_400, 150.0)),
            "starlette-uvicorn-httptools": ((2_500, 30.0), (2_400, 120.0)),
            "tornado": ((1_500, 30.0), (1_000, 400.0)),
        }.items()
        for scenario, (rate, p99) in zip(levels, figures, strict=True)
    ]
    servers = [run.Server(name, lambda port: []) for name in dict.fromkeys(r.server for r in runs)]
    table = run.summarize(runs, servers, levels)
    rows = run.crowd_rows(table, levels)
    assert rows[0] == ["server", "req/s at 32", "p99 at 32", "req/s at 1000", "p99 at 1000", "kept"]
    assert rows[1] == ["crosswind-asyncio", "3,000", "20.0ms", "2,700", "90.0ms", "0.90x"]
    assert run.crowd_lines(table, levels) == [
        "Tornado-style on asyncio, hello at 1000 connections over 32 (target ≥0.85x, within "
        "15%): met; kept 0.90x met by 6%",
        "Flask-style on asyncio, hello at 1000 connections over 32 (target ≥0.85x, within "
        "15%): missed; kept 0.75x missed by 12%",
        "Tornado-style on asyncio, p99 at 1000 connections vs the best peer (target no worse): "
        "met by 33%; 90.0ms vs 120ms (starlette-uvicorn-httptools)",
        "Flask-style on asyncio, p99 at 1000 connections vs the best peer (target no worse): "
        "missed by 20%; 150ms vs 120ms (starlette-uvicorn-httptools)",
    ]


@pytest.mark.skipif(not os.path.exists("/proc/loadavg"), reason="needs /proc/loadavg")
def test_settling_ends_once_the_machine_is_quiet_and_never_waits_past_its_limit() -> None:
    said: list[str] = []
    # Never more runnable tasks than there are on the whole machine: three readings, no more.
    assert run.settle(limit=10, runnable=1_000_000, echo=said.append) < 5
    assert said == []
    # This process is runnable while it reads, so zero is never reached: the limit ends it.
    waited = run.settle(limit=1.0, runnable=-1, echo=said.append)
    assert 1.0 <= waited < 5
    assert said and "did not settle within 1 s" in said[0]


def test_file_limit_is_raised_toward_what_is_wanted_and_never_above_the_hard_limit() -> None:
    script = (
        "import importlib.util, resource, sys\n"
        f"spec = importlib.util.spec_from_file_location('r', {str(BENCH / 'run.py')!r})\n"
        "run = importlib.util.module_from_spec(spec); sys.modules['r'] = run\n"
        "spec.loader.exec_module(run)\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(run.raise_file_limit(100), run.raise_file_limit(1024),"
        " resource.getrlimit(resource.RLIMIT_NOFILE)[0], run.raise_file_limit(10**9) <= hard)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["256", "1024", "1024", "True"]


# -- instructions in the report -------------------------------------------------------


COUNTS = {"web-hello": 120_000, "app-hello": 130_000, "web-form": 400_000,
          "app-form": 350_000, "exchange-hello": 80_000}


def test_instruction_rows_give_the_cut_from_the_round_start() -> None:
    assert run.instruction_rows(COUNTS) == [
        ["case", "instructions/request", "at the round's start", "cut", "target"],
        # 1 - 120,000 / 192,000 = 37.5 %
        ["web-hello", "120,000", "192,000", "38%", "≥35% met by 3 points"],
        ["app-hello", "130,000", "194,000", "33%", "≥35% missed by 2 points"],
        ["web-form", "400,000", "557,000", "28%", "≥35% missed by 7 points"],
        ["app-form", "350,000", "677,000", "48%", "≥35% met by 13 points"],
        ["exchange-hello", "80,000", "-", "-", "-"],
    ]
    assert run.instruction_lines(COUNTS) == [
        "Tornado-style / Flask-style instructions per request (target ≤1.10x, within 10%): "
        "missed; hello 0.92x met by 19%, form 1.14x missed by 4%"
    ]


def test_instructions_are_left_out_with_a_line_without_valgrind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run.shutil, "which", lambda name: None)
    assert run.count_instructions(100) is None
    assert "valgrind is not installed" in capsys.readouterr().out


def test_concurrency_and_instructions_sections_in_the_markdown_report() -> None:
    table = _target_table(TARGET_RUN)
    levels = run.crowd_scenarios(1000)
    crowd = run.summarize(
        [run.Run(0, "crosswind-asyncio", s.name, run.WrkResult(900, {99: 9.0}, 900))
         for s in levels],
        [run.Server("crosswind-asyncio", lambda port: [])], levels,
    )
    meta = run.machine_facts() | {
        "date": "d", "command": "c", "pinning": "p", "connections": 32, "warmup": 1,
        "duration": 3, "rounds": 1, "wall_seconds": 9.0, "total_seconds": 99.0,
    }
    scenarios = [s for s in run.SCENARIOS if s.name in ("hello", "close")]
    markdown = run.render_markdown(table, scenarios, meta, crowd=(crowd, levels), counts=COUNTS)
    concurrency = markdown.split("## Concurrency: hello at 32 and 1000 keep-alive connections\n")[1]
    assert "| crosswind-asyncio | 900 | 9.00ms | 900 | 9.00ms | 1.00x |" in concurrency
    instructions = markdown.split("## Instructions per request\n")[1]
    assert "| web-hello | 120,000 | 192,000 | 38% | ≥35% met by 3 points |" in instructions
    assert "9 s for this table, 99 s with the concurrency runs" in markdown


NEW_PEERS = [
    "crosswind-flask-style-asyncio", "crosswind-uvicorn", "crosswind-gunicorn",
    "starlette-on-crosswind", "starlette-hypercorn-asyncio", "starlette-hypercorn-trio",
    "flask-waitress", "crosswind-asyncio-uvloop", "crosswind-flask-style-asyncio-uvloop",
    "starlette-uvicorn-httptools-uvloop",
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


instructions = load_bench_script("crosswind_bench_instructions", BENCH / "instructions.py")


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
    # The WebSocket case shows, per round trip, whether the echo came back whole.
    assert result.stdout.split() == ["echoed" if case == "asyncio-wsecho" else "200"] * 3


def test_instruction_counts_run_with_the_address_layout_fixed() -> None:
    # With addresses random, the counts of one tree spread by about 0.5 %; the
    # counter runs valgrind under the prefix, whose child must have ASLR off.
    prefix = instructions._fixed_layout()
    if not prefix:
        pytest.skip("setarch -R is not available or not permitted here: counts keep random addresses")
    shown = subprocess.run(
        [*prefix, "cat", "/proc/self/personality"], capture_output=True, text=True, timeout=10, check=True
    )
    addr_no_randomize = 0x0040000
    assert int(shown.stdout, 16) & addr_no_randomize


def test_instruction_counter_refuses_unknown_cases(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        instructions.main(["web-hello", "nope"])
    assert "unknown cases ['nope']" in capsys.readouterr().err


# -- a baseline commit beside the working tree --------------------------------

ROOT = BENCH.parent


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def baseline_at_head(tmp_path_factory: pytest.TempPathFactory):
    # A baseline is a commit of this repository: an unpacked sdist has none.
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("no git repository to export a baseline commit from")
    return run.prepare_baseline("HEAD", tmp_path_factory.mktemp("baseline"))


def test_baseline_is_the_commit_exported_and_assembled_as_package_dir_maps_it(
    baseline_at_head,
) -> None:
    baseline = baseline_at_head
    # HEAD may have moved since (others commit here): compare with the commit it named.
    assert baseline.ref == "HEAD"
    assert _git("rev-parse", "--verify", baseline.commit).decode().strip() == baseline.commit
    assert baseline.packages == ("crosswind", "crosswind.adapters", "crosswind.backends")
    assert not baseline.tree.resolve().is_relative_to(ROOT)
    assert (baseline.tree / "pyproject.toml").read_bytes() == _git(
        "show", f"{baseline.commit}:pyproject.toml"
    )

    def files(folder: Path) -> set[str]:
        return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}

    site = baseline.site / "crosswind"
    for folder, package in (("backends", site / "backends"), ("adapters", site / "adapters")):
        listed = _git("ls-tree", "-r", "--name-only", baseline.commit, f"{folder}/").decode()
        assert files(package) == {name.removeprefix(f"{folder}/") for name in listed.split()}
    listed = _git("ls-tree", "-r", "--name-only", baseline.commit, "core/").decode().split()
    assert files(site) - {n for n in files(site) if n.startswith(("backends/", "adapters/"))} == {
        name.removeprefix("core/") for name in listed
    }
    for name in ("core/__init__.py", "core/headers.py"):
        assert (site / name.removeprefix("core/")).read_bytes() == _git(
            "show", f"{baseline.commit}:{name}"
        )
    assert (site / "backends" / "asyncio.py").read_bytes() == _git(
        "show", f"{baseline.commit}:backends/asyncio.py"
    )


def test_unknown_ref_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names no commit"):
        run.prepare_baseline("no-such-ref-for-the-bench", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_package_dir_is_required(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match="maps no packages"):
        run.assemble_package(tmp_path, tmp_path / "site")


def _probe(baseline, script: Path) -> subprocess.CompletedProcess[str]:
    """Run *script* the way a baseline row runs its server script."""
    row = run.baseline_server(
        run.Server("probe", lambda port: [], served_from=lambda servers: lambda port: [
            sys.executable, str(script)
        ]),
        baseline,
    )
    return subprocess.run(
        row.argv(0), cwd=baseline.tree, env=baseline.environ(), capture_output=True, text=True,
        timeout=60,
    )


def test_baseline_process_imports_crosswind_from_the_export(baseline_at_head, tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys, crosswind.web, crosswind.backends.asyncio, crosswind.adapters.asgi\n"
        "print(crosswind.web.__file__, crosswind.backends.asyncio.__file__,\n"
        "      crosswind.adapters.asgi.__file__, sys.argv[0], sys.path[0])\n"
    )
    probe = _probe(baseline_at_head, script)
    assert probe.returncode == 0, probe.stderr
    *modules, argv0, path0 = probe.stdout.split()
    site = baseline_at_head.site / "crosswind"
    assert modules == [
        str(site / "web" / "__init__.py"), str(site / "backends" / "asyncio.py"),
        str(site / "adapters" / "asgi.py"),
    ]
    # The script runs as `python SCRIPT` would run it.
    assert (argv0, path0) == (str(script), str(tmp_path))
    found = run.check_baseline_imports(probe.stderr, baseline_at_head)
    assert found["crosswind"] == str(site / "__init__.py")


def test_module_the_baseline_lacks_is_not_taken_from_the_working_tree(
    baseline_at_head, tmp_path: Path
) -> None:
    # The editable install of the working tree would supply crosswind.web if
    # the baseline had none; a baseline without it must fail instead.
    shutil.copytree(baseline_at_head.site, tmp_path / "site")
    shutil.rmtree(tmp_path / "site" / "crosswind" / "web")
    baseline = dataclasses.replace(baseline_at_head, site=tmp_path / "site")
    script = tmp_path / "probe.py"
    script.write_text("import crosswind.web\nprint(crosswind.web.__file__)\n")
    probe = _probe(baseline, script)
    assert probe.returncode == 1
    assert probe.stdout == ""
    assert "ModuleNotFoundError: crosswind.web is not in the baseline" in probe.stderr


def test_baseline_rows_are_served_by_the_export(baseline_at_head) -> None:
    baseline = baseline_at_head
    servers = baseline.tree / "bench" / "servers"
    by_name = {server.name: server for server in run.SERVERS}

    asyncio_row = run.baseline_server(by_name["crosswind-asyncio"], baseline)
    assert asyncio_row.name == "crosswind-asyncio@HEAD"
    assert asyncio_row.baseline is baseline
    argv = asyncio_row.argv(8123)
    assert argv[:2] == [sys.executable, "-c"]
    assert argv[3:] == [
        str(baseline.site), "crosswind,crosswind.adapters,crosswind.backends",
        str(servers / "crosswind_server.py"), "--backend", "asyncio", "--app", "web",
        "--port", "8123",
    ]
    assert asyncio_row.needs == ()

    flask_row = run.baseline_server(by_name["crosswind-flask-style-asyncio"], baseline)
    assert flask_row.argv(1)[5:10] == [
        str(servers / "crosswind_server.py"), "--backend", "asyncio", "--app", "flask",
    ]
    uvicorn_row = run.baseline_server(by_name["crosswind-uvicorn"], baseline)
    uvicorn_argv = uvicorn_row.argv(1)
    assert uvicorn_argv[5:7] == ["-m", "uvicorn"]
    assert uvicorn_argv[uvicorn_argv.index("--app-dir") + 1] == str(servers)
    assert uvicorn_row.needs == ("uvicorn", "httptools")
    for row in (asyncio_row, flask_row, uvicorn_row):
        assert not any(str(run.SERVERS_DIR) in arg for arg in row.argv(1))

    env = baseline.environ({"PYTHONPATH": "/elsewhere", "HOME": "/h"})
    assert env == {"PYTHONPATH": f"{baseline.site}{os.pathsep}/elsewhere", "HOME": "/h"}
    assert baseline.environ({})["PYTHONPATH"] == str(baseline.site)


def test_every_crosswind_row_and_only_those_can_have_a_baseline(baseline_at_head) -> None:
    comparable = {server.name for server in run.SERVERS if server.served_from is not None}
    assert comparable == {
        server.name for server in run.SERVERS
        if server.name.startswith("crosswind-") or server.name.endswith("-on-crosswind")
    }
    assert {"crosswind-asyncio", "crosswind-flask-style-asyncio"} <= comparable
    # The working tree's row serves the same command from the working tree.
    for server in run.SERVERS:
        if server.served_from is not None:
            assert server.served_from(run.SERVERS_DIR)(1) == server.argv(1)
    with pytest.raises(ValueError, match="runs no crosswind code"):
        run.baseline_server(next(s for s in run.SERVERS if s.name == "tornado"), baseline_at_head)


def test_each_baseline_row_follows_its_working_tree_row(baseline_at_head) -> None:
    by_name = {server.name: server for server in run.SERVERS}
    chosen = [by_name[n] for n in ("ceiling", "crosswind-asyncio", "tornado",
                                   "crosswind-flask-style-asyncio")]
    rows = run.with_baselines(chosen, baseline_at_head)
    assert [row.name for row in rows] == [
        "ceiling", "crosswind-asyncio", "crosswind-asyncio@HEAD", "tornado",
        "crosswind-flask-style-asyncio", "crosswind-flask-style-asyncio@HEAD",
    ]
    assert run.baseline_pairs(rows) == [
        ("crosswind-asyncio", "crosswind-asyncio@HEAD"),
        ("crosswind-flask-style-asyncio", "crosswind-flask-style-asyncio@HEAD"),
    ]
    assert run.with_baselines(chosen, None) == chosen


def test_baseline_import_report_is_checked_against_the_export(baseline_at_head) -> None:
    baseline = baseline_at_head
    site = baseline.site / "crosswind"
    inside = {
        "crosswind": str(site / "__init__.py"),
        "crosswind.adapters": str(site / "adapters" / "__init__.py"),
        "crosswind.backends": str(site / "backends" / "__init__.py"),
    }

    def log(found: dict[str, str]) -> str:
        return "starting\n" + run.IMPORTED_FROM + json.dumps(found) + "\nserving\n"

    assert run.check_baseline_imports(log(inside), baseline) == inside
    working_tree = inside | {"crosswind": str(ROOT / "core" / "__init__.py")}
    with pytest.raises(run.BaselineMismatch, match="crosswind came from .*core/__init__.py"):
        run.check_baseline_imports(log(working_tree), baseline)
    partial = {k: v for k, v in inside.items() if k != "crosswind.backends"}
    with pytest.raises(run.BaselineMismatch, match="crosswind.backends came from nowhere"):
        run.check_baseline_imports(log(partial), baseline)
    with pytest.raises(run.BaselineMismatch, match="did not say"):
        run.check_baseline_imports("Traceback ...\n", baseline)
    assert run.check_baseline_imports("Traceback ...\n", baseline, required=False) == {}
    with pytest.raises(run.BaselineMismatch, match="no crosswind here"):
        run.check_baseline_imports(run.NOT_FROM_BASELINE + "no crosswind here\n", baseline,
                                   required=False)


@pytest.mark.network
@pytest.mark.timeout(60)
def test_baseline_row_without_its_crosswind_is_a_hard_error(
    baseline_at_head, tmp_path: Path
) -> None:
    # With nothing on PYTHONPATH, the installed working tree is what Python
    # would import: that must stop the comparison, not fill a row.
    (tmp_path / "site").mkdir()
    empty = dataclasses.replace(baseline_at_head, site=tmp_path / "site")
    server = next(s for s in run.SERVERS if s.name == "crosswind-asyncio")
    row = run.baseline_server(server, empty)
    with pytest.raises(run.BaselineMismatch, match="crosswind is not in the baseline"), \
            run.running(row, None, tmp_path):
        pass


@pytest.mark.network
@pytest.mark.timeout(60)
def test_baseline_row_that_listens_without_saying_where_crosswind_came_from_is_refused(
    baseline_at_head, tmp_path: Path
) -> None:
    # Whatever started it, a row marked as the baseline's is measured only
    # once its process has shown that crosswind came from the export.
    listen = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
        "time.sleep(30)\n"
    )
    row = run.Server(
        "silent@HEAD", lambda port: [sys.executable, "-c", listen, str(port)],
        baseline=baseline_at_head,
    )
    with pytest.raises(run.BaselineMismatch, match="did not say where crosswind came from"), \
            run.running(row, None, tmp_path):
        pass


@pytest.mark.network
@pytest.mark.timeout(60)
def test_baseline_row_serves_from_the_export(baseline_at_head, tmp_path: Path) -> None:
    server = next(s for s in run.SERVERS if s.name == "crosswind-asyncio")
    row = run.baseline_server(server, baseline_at_head)
    with run.running(row, None, tmp_path) as live:
        pid = live.process.pid
        assert Path(f"/proc/{pid}/cwd").resolve() == baseline_at_head.tree.resolve()
        environ = dict(
            item.split("=", 1) for item in
            Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item
        )
        assert environ["PYTHONPATH"].split(os.pathsep)[0] == str(baseline_at_head.site)
        problems = {s.name: run.smoke_check(live.url, s) for s in run.SCENARIOS}
        found = run.check_baseline_imports(live.log_path.read_text(), baseline_at_head)
    assert problems == {s.name: None for s in run.SCENARIOS}
    assert found["crosswind.backends"] == str(
        baseline_at_head.site / "crosswind" / "backends" / "__init__.py"
    )


# The working tree's crosswind-asyncio against its baseline row at `abc`.
BASELINE_META = {"ref": "abc", "commit": "abcdef0123456789", "subject": "the commit before"}


def _baseline_runs() -> list:
    def result(rps: float, p99: float) -> object:
        return run.WrkResult(rps, {99: p99}, int(rps))

    return [
        run.Run(0, "ceiling", "hello", result(10_000, 1.0)),
        run.Run(0, "crosswind-asyncio", "hello", result(1200, 2.0), cpu_us=50.0),
        run.Run(0, "crosswind-asyncio@abc", "hello", result(1000, 4.0), cpu_us=100.0),
        # The next round ran slower for both: paired, the ratio is the same.
        run.Run(1, "ceiling", "hello", result(10_000, 1.0)),
        run.Run(1, "crosswind-asyncio", "hello", result(600, 3.0), cpu_us=60.0),
        run.Run(1, "crosswind-asyncio@abc", "hello", result(500, 2.0)),
        # A round the baseline row failed is no pair.
        run.Run(2, "ceiling", "hello", result(10_000, 1.0)),
        run.Run(2, "crosswind-asyncio", "hello", result(1000, 1.0), cpu_us=1.0),
        run.Run(2, "crosswind-asyncio@abc", "hello", error="wrk failed: timeout"),
        run.Run(0, "crosswind-asyncio", "close", result(900, 9.0)),
    ]


def _baseline_table() -> tuple[dict, dict, list]:
    names = ["ceiling", "crosswind-asyncio", "crosswind-asyncio@abc"]
    servers = [run.Server(name, lambda port: []) for name in names]
    scenarios = [s for s in run.SCENARIOS if s.name in ("hello", "close")]
    runs = _baseline_runs()
    table = run.summarize(runs, servers, scenarios)
    pairs = [("crosswind-asyncio", "crosswind-asyncio@abc")]
    return table, run.compare_to_baseline(runs, pairs, scenarios), scenarios


def test_baseline_ratio_is_the_median_of_rounds_paired_side_by_side() -> None:
    _, comparison, _ = _baseline_table()
    hello = comparison["crosswind-asyncio"]["hello"]
    # Rounds 0 and 1 give 1.2x each; the medians of each row (1,000 vs 750)
    # would say 1.33x, counting round 2 that the baseline never ran.
    assert hello["rps"] == pytest.approx(1.2)
    assert hello["p99_ms"] == pytest.approx(1.0)  # 0.5x and 1.5x
    assert hello["cpu_us"] == pytest.approx(0.5)  # round 1's baseline had no CPU figure
    assert hello["rounds"] == 2
    assert comparison["crosswind-asyncio"]["close"] == {
        "rps": None, "p99_ms": None, "cpu_us": None, "rounds": 0,
    }


def test_baseline_comparison_in_the_terminal_and_markdown_reports() -> None:
    table, comparison, scenarios = _baseline_table()
    meta = run.machine_facts() | {
        "date": "d", "command": "c", "pinning": "p", "connections": 32, "warmup": 1,
        "duration": 3, "rounds": 3, "wall_seconds": 9.0, "baseline": BASELINE_META,
    }
    heading = run.baseline_heading(meta)
    assert heading.startswith("working tree / baseline abc (abcdef0123)")
    text = run.render_text(comparison, scenarios, run._ratio_cell)
    assert text.splitlines()[-1].split() == [
        "crosswind-asyncio", "1.20x", "/", "1.00x", "/", "0.50x", "-",
    ]

    markdown = run.render_markdown(table, scenarios, meta, comparison)
    assert "- baseline: `abc` = abcdef0123 (the commit before)" in markdown
    section = markdown.split("## Against baseline `abc` (abcdef0123)\n", 1)[1]
    section = section.split("## Issue 9 targets", 1)[0]
    assert "| server | hello | close |" in section
    assert "| crosswind-asyncio | 1.20x / 1.00x / 0.50x | - |" in section
    # Both rows stay in the main table, each with its ratio to the ceiling.
    assert "| crosswind-asyncio@abc | 750 (0.07x) 3.00ms ! | - |" in markdown

    without = run.render_markdown(table, scenarios, meta | {"baseline": None})
    assert "Against baseline" not in without and "- baseline:" not in without


def test_targets_leave_baseline_rows_out() -> None:
    faster_baseline = {
        "ceiling": {"hello": (10_000, 1.0)},
        "crosswind-asyncio": {"hello": (2_000, 1.0)},
        "crosswind-flask-style-asyncio": {"hello": (2_000, 1.0)},
        "crosswind-asyncio@abc": {"hello": (4_000, 1.0)},
    }
    with_baseline = run.target_lines(_target_table(faster_baseline, ("hello",)))
    del faster_baseline["crosswind-asyncio@abc"]
    assert with_baseline == run.target_lines(_target_table(faster_baseline, ("hello",)))
    assert with_baseline[4].endswith("hello 1.00x met by 11%")


def test_main_refuses_a_baseline_it_cannot_use(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run.shutil, "which", lambda name: f"/usr/bin/{name}")
    with pytest.raises(SystemExit):
        run.main(["--only", "tornado", "--baseline", "HEAD"])
    assert "none of the servers selected runs crosswind code" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["--only", "crosswind-asyncio", "--baseline", "no-such-ref-for-the-bench"])
    assert "names no commit" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_bench_passes_the_baseline_through() -> None:
    def bench_command(*variables: str) -> str:
        dry = subprocess.run(
            ["make", "-n", "bench", *variables], cwd=ROOT, capture_output=True, text=True,
            check=True,
        ).stdout
        return next(line for line in dry.splitlines() if "bench/run.py" in line)

    assert bench_command("BASELINE=HEAD~3").endswith("bench/run.py --baseline 'HEAD~3'")
    assert bench_command().endswith("bench/run.py")
