"""The many-connections runner (bench/crowd.py): its baseline rows and its CPU table."""

from __future__ import annotations

from pathlib import Path

from tests.support.bench_scripts import BENCH, load_bench_script

crowd = load_bench_script("crosswind_bench_crowd", BENCH / "crowd.py")
run = crowd.run


def test_a_baseline_row_follows_its_own_and_gets_the_connection_limit_too(tmp_path: Path) -> None:
    by_name = {server.name: server for server in run.SERVERS}
    servers = [by_name["crosswind-asyncio"], by_name["starlette-uvicorn-httptools"]]
    baseline = run.Baseline("HEAD~1", "0" * 40, tmp_path / "tree", tmp_path / "site", ("crosswind",))
    rows = crowd.with_twins(servers, baseline)
    assert [row.name for row in rows] == [
        "crosswind-asyncio", "crosswind-asyncio@HEAD~1", "starlette-uvicorn-httptools",
    ]
    twin = run.crowd_server(rows[1]).argv(7)
    # The baseline's own server script, under the launcher that imports only its crosswind.
    assert str(tmp_path / "tree" / "bench" / "servers" / "crosswind_server.py") in twin
    assert twin[-4:] == ["--port", "7", "--max-connections", "2000"]
    assert rows[1].baseline is baseline


def test_cpu_table_gives_each_load_and_their_ratio() -> None:
    levels = run.crowd_scenarios(1000)
    runs = [
        run.Run(0, name, scenario.name, run.WrkResult(3_000.0, {99: 20.0}, 3_000), cpu_us=cpu)
        for name, figures in {"crosswind-asyncio": (80.0, 100.0), "tornado": (120.0, None)}.items()
        for scenario, cpu in zip(levels, figures, strict=True)
    ]
    servers = [run.Server(name, lambda port: []) for name in ("crosswind-asyncio", "tornado")]
    rows = crowd.cpu_rows(run.summarize(runs, servers, levels), levels)
    assert rows == [
        ["server", "CPU us/req at 32", "at 1000", "ratio"],
        ["crosswind-asyncio", "80", "100", "1.25x"],
        ["tornado", "120", "-", "-"],
    ]
