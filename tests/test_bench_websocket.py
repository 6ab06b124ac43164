"""The WebSocket benchmark (bench/websocket.py): its frames, its client against a real server, its report."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from wsproto.frame_protocol import FrameProtocol, Opcode

from tests.support.bench_scripts import BENCH, load_bench_script

wsbench = load_bench_script("crosswind_bench_websocket", BENCH / "websocket.py")
run = wsbench.run


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70_000])
@pytest.mark.parametrize("opcode", [wsbench.TEXT, wsbench.BINARY])
def test_client_frames_are_masked_frames_a_server_reads_back(opcode: int, size: int) -> None:
    payload = bytes((i * 7) % 251 for i in range(size))
    if opcode == wsbench.TEXT:
        payload = b"a" * size
    server = FrameProtocol(client=False, extensions=[])
    server.receive_bytes(wsbench.client_frame(opcode, payload))
    frames = list(server.received_frames())
    assert len(frames) == 1
    frame = frames[0]
    assert frame.opcode == Opcode(opcode) and frame.message_finished
    assert (frame.payload.encode() if isinstance(frame.payload, str) else frame.payload) == payload


@pytest.mark.parametrize("size", [0, 16, 126, 65536, 1 << 20])
def test_expected_replies_are_what_a_server_frames(size: int) -> None:
    payload = b"x" * size
    server = FrameProtocol(client=False, extensions=[])
    assert wsbench.server_frame(wsbench.BINARY, payload) == server.send_data(payload, fin=True)


@pytest.fixture(scope="module")
def asyncio_row(tmp_path_factory: pytest.TempPathFactory):
    row = next(s for s in wsbench.WS_SERVERS if s.name == "crosswind-asyncio")
    with run.running(row.as_server(), None, tmp_path_factory.mktemp("ws-logs")) as live:
        yield live


def _port(live) -> int:
    return int(live.url.rsplit(":", 1)[1])


@pytest.mark.network
@pytest.mark.timeout(60)
def test_smoke_check_passes_the_crosswind_server(asyncio_row) -> None:
    assert wsbench.smoke(_port(asyncio_row), fanout=True) is None


@pytest.mark.network
@pytest.mark.timeout(60)
def test_smoke_check_refuses_a_server_that_does_not_upgrade(tmp_path: Path) -> None:
    ceiling = next(s for s in run.SERVERS if s.name == "ceiling")
    with run.running(ceiling, None, tmp_path) as live:
        problem = wsbench.smoke(_port(live), fanout=False)
    assert problem is not None and "handshake refused" in problem


@pytest.mark.network
@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["echo", "echo-1mib", "fanout"])
def test_each_scenario_measures_rate_latency_and_both_cpus(asyncio_row, name: str) -> None:
    scenario = next(s for s in wsbench.WS_SCENARIOS if s.name == name)
    if scenario.fanout:
        scenario = wsbench.WsScenario("fanout", "deliveries/s", 20, fanout=True)
    result = wsbench.measure_scenario(
        _port(asyncio_row), scenario, 0.2, 0.4, None, asyncio_row.cpu_seconds
    )
    assert result.get("error") is None
    assert result["rate"] > 0 and result["per_second"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert result["client_cpu"] > 0
    assert result["server_cpu_us"] is not None


@pytest.mark.network
@pytest.mark.timeout(60)
def test_capacity_holds_connections_that_still_answer_and_costs_memory(asyncio_row) -> None:
    pid = asyncio_row.process.pid
    result = wsbench.measure_capacity(_port(asyncio_row), pid, 60, 2, None)
    assert result["error"] is None
    assert result["held"] == result["answered"] == 60
    assert result["rss_held_kib"] >= result["rss_idle_kib"] > 0
    assert result["probe_idle_ms"] is not None and result["probe_held_ms"] is not None
    assert not result["probe_errors"]


def _cell(rate: float | None, errors: list[str] | None = None) -> dict:
    return {
        "rate": rate, "per_second": rate, "p50_ms": 1.0, "p99_ms": 2.0, "client_cpu": 0.25,
        "server_cpu_us": 50.0, "rounds": 1, "measured": True, "errors": errors or [],
    }


def test_summary_takes_medians_over_rounds() -> None:
    rows = [s for s in wsbench.WS_SERVERS if s.name == "tornado"]
    echo = [s for s in wsbench.WS_SCENARIOS if s.name == "echo"]
    runs = [
        {"round": i, "server": "tornado", "scenario": "echo", "rate": rate, "per_second": rate,
         "p50_ms": 1.0, "p99_ms": p99, "client_cpu": 0.1, "server_cpu_us": 80.0}
        for i, (rate, p99) in enumerate([(100.0, 9.0), (300.0, 3.0), (200.0, 5.0)])
    ] + [{"round": 3, "server": "tornado", "scenario": "echo", "error": "boom"}]
    cell = wsbench.summarize(runs, rows, echo)["tornado"]["echo"]
    assert (cell["rate"], cell["p99_ms"], cell["rounds"], cell["errors"]) == (200.0, 5.0, 3, ["boom"])


def test_targets_and_report_name_ratios_client_cpu_and_capacity() -> None:
    table = {
        "crosswind-asyncio": {"echo": _cell(3000.0)},
        "tornado": {"echo": _cell(1000.0)},
        "starlette-uvicorn-websockets": {"echo": _cell(4000.0)},
        "crosswind-threads": {"echo": _cell(None, ["server exited"])},
    }
    lines = wsbench.target_lines(table)
    assert lines[0].startswith("crosswind-asyncio vs tornado echo: 3.00x") and lines[0].endswith("met")
    assert lines[1].startswith("crosswind-asyncio vs starlette-uvicorn-websockets echo: 0.75x")
    assert lines[1].endswith("missed")
    assert "not measured" in lines[2]
    section = {
        "table": table,
        "capacity": {
            "crosswind-asyncio": {
                "held": 10_000, "answered": 10_000, "wanted": 10_000, "rss_idle_kib": 30_000,
                "rss_held_kib": 180_000, "kib_per_connection": 15.0,
                "probe_idle_ms": (1.0, 2.0), "probe_held_ms": (1.5, 3.0), "probe_errors": [],
                "open_seconds": 12.0, "error": None,
            },
            "crosswind-threads": {"held": 0, "error": "refused"},
        },
        "runs": [],
        "meta": {"pinning": "not pinned", "duration": 1, "warmup": 1, "rounds": 1,
                 "scenarios": ["echo"], "capacity_connections": 10_000},
    }
    text = wsbench.render_text(section)
    markdown = "\n".join(wsbench.render_markdown(section))
    for report in (text, markdown):
        assert "[client 25%]" in report
        assert "15.0 (≤20 met)" in report
        assert "10,000 (10,000)" in report
        assert "crosswind-threads / echo: server exited" in report
        assert "FAILED: refused" in report
    assert wsbench.failed(section)


def test_run_py_lists_the_websocket_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert "starlette-uvicorn-websockets" in listed and "capacity" in listed


def test_each_crosswind_row_and_only_those_gets_a_baseline_twin(tmp_path: Path) -> None:
    baseline = run.Baseline("HEAD~2", "0" * 40, tmp_path / "tree", tmp_path / "site", ("crosswind",))
    rows = [row.name for row in wsbench.with_baselines(wsbench.WS_SERVERS, baseline)]
    crosswind = [row.name for row in wsbench.WS_SERVERS if row.name.startswith("crosswind-")]
    assert rows[rows.index("crosswind-asyncio") + 1] == "crosswind-asyncio@HEAD~2"
    assert [name for name in rows if "@" in name] == [f"{name}@HEAD~2" for name in crosswind]
    twin = next(row for row in wsbench.with_baselines(wsbench.WS_SERVERS, baseline)
                if row.name == "crosswind-trio@HEAD~2")
    argv = twin.as_server().argv(8000)
    # Served from the export's own bench/servers, with its own crosswind first.
    assert str(tmp_path / "tree" / "bench" / "servers" / "ws_server.py") in argv
    assert str(tmp_path / "site") in argv
    assert wsbench.with_baselines(wsbench.WS_SERVERS, None) == list(wsbench.WS_SERVERS)


@pytest.mark.network
@pytest.mark.timeout(60)
def test_a_connection_whose_echo_never_comes_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server that upgrades every connection and then swallows what it gets.
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.recv(4096)
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + wsbench._ACCEPT + b"\r\n\r\n"
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setattr(wsbench, "STALL_SECONDS", 0.2)  # the client processes are forked
    try:
        scenario = wsbench.WsScenario("echo", "round trips/s", 2)
        result = wsbench.measure_scenario(
            listener.getsockname()[1], scenario, 0.1, 0.4, None, lambda: None
        )
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
    assert result["error"] == "2 connection(s) waited over 0.2 s for an echo"
