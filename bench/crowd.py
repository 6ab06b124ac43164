"""The many-connections part of ``bench/run.py`` alone, with a commit to compare against.

``run.py`` measures ``hello`` at 32 and at 1,000 keep-alive connections after its
main table, for the working tree only.  This runs that part by itself, adds the
server's CPU time per request at each load (the figure that stays usable on a
loaded machine, where requests/s move with the neighbours), and with
``--baseline REF`` serves the crosswind rows from that commit too, each beside
its own row in every round::

    .venv/bin/python bench/crowd.py --baseline HEAD~1 --rounds 2
    .venv/bin/python bench/crowd.py --only crosswind-asyncio,starlette-uvicorn-httptools

Servers, pinning, warm-up, the file limit and ``--max-connections`` for crosswind
rows are those of ``run.py`` (``bench/README.md``, "Many connections").  Nothing
is written to ``results/``: the figures are printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (the HTTP harness beside this file)

__all__ = ["cpu_rows", "main", "with_twins"]


def with_twins(servers: list[run.Server], baseline: run.Baseline) -> list[run.Server]:
    """*servers*, each row running crosswind code followed by the same row served by *baseline*.

    The baseline's row gets the same arguments for these runs (``--max-connections``),
    which ``run.py`` leaves out of baseline rows because its main table does not need them.

    :param servers: the rows selected.
    :param baseline: the exported commit.
    """
    rows: list[run.Server] = []
    for server in servers:
        rows.append(server)
        if server.served_from is not None:
            twin = run.baseline_server(server, baseline)
            rows.append(dataclasses.replace(twin, crowd_args=server.crowd_args))
    return rows


def cpu_rows(
    table: dict[str, dict[str, dict[str, Any]]], levels: tuple[run.Scenario, run.Scenario]
) -> list[list[str]]:
    """Per row: the server's CPU time per request at few and many connections, and their ratio.

    :param table: from ``run.summarize`` over *levels*.
    :param levels: from ``run.crowd_scenarios``.
    """
    few, crowd = levels
    rows = [["server", f"CPU us/req at {few.connections}", f"at {crowd.connections}", "ratio"]]
    for name, row in table.items():
        low, high = row[few.name]["cpu_us"], row[crowd.name]["cpu_us"]
        rows.append([
            name,
            "-" if low is None else f"{low:.0f}",
            "-" if high is None else f"{high:.0f}",
            f"{high / low:.2f}x" if low and high else "-",
        ])
    return rows


def main(argv: list[str] | None = None) -> int:
    """Parse *argv*, measure, print the tables; the exit status.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="NAME,NAME",
                        help=f"servers to run (default: {','.join(run.CROWD_ROWS)})")
    parser.add_argument("--baseline", metavar="REF",
                        help="also serve the crosswind rows from this commit")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (order alternates)")
    parser.add_argument("--connections", type=int, default=run.FEW, help="the few connections")
    parser.add_argument("--concurrency", type=int, default=run.CROWD, help="the many connections")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup <= 0 or args.rounds < 1:
        parser.error("--duration and --warmup must be positive, --rounds >= 1")
    if not 0 < args.connections < args.concurrency:
        parser.error("--connections must be positive and below --concurrency")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk, or `make bench`)")
    servers = run._select(args.only or ",".join(run.CROWD_ROWS), run.SERVERS, "server")

    server_cpu, wrk_cpu, pinning = run._cpus()
    print(pinning)
    with tempfile.TemporaryDirectory(prefix="crosswind-crowd-") as scratch:
        rows = list(servers)
        if args.baseline is not None:
            (folder := Path(scratch, "baseline")).mkdir()
            try:
                baseline = run.prepare_baseline(args.baseline, folder)
            except ValueError as exc:
                parser.error(f"--baseline: {exc}")
            print(f"baseline {args.baseline} = {baseline.short}")
            rows = with_twins(servers, baseline)
        (log_dir := Path(scratch, "logs")).mkdir()
        measured = run._crowd_campaign(args, rows, server_cpu, wrk_cpu, log_dir)
    if measured is None:
        return 1
    runs, levels = measured
    table = run.summarize(runs, [run.crowd_server(s) for s in rows], levels)
    print(f"\nhello at {levels[0].connections} and {levels[1].connections} connections:")
    print(run._fixed_width(run.crowd_rows(table, levels)))
    print("\nserver CPU time per request:")
    print(run._fixed_width(cpu_rows(table, levels)))
    print("\n" + "\n".join(run.crowd_lines(table, levels)))
    notes = run._notes(table)
    if notes:
        print("\nProblems:\n" + "\n".join(f"- {note}" for note in notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
