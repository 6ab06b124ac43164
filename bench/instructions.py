"""Instructions per request, counted by callgrind: a yardstick that machine noise cannot move.

Each case serves the same request many times in memory (``crosswind.testing.serve_bytes``,
the whole path a backend runs, without sockets) under ``valgrind --tool=callgrind``, once
with zero requests and once with ``--requests`` of them; the difference, divided by the
count, is what one request costs.  Hash randomization is fixed so that dict layouts, and
with them the counts, repeat from run to run.  Wall-clock figures on a shared machine vary
by 10-20 %; these vary by well under 1 %, which makes them the way to tell whether a small
change to the hot path helped.

Needs valgrind (``apt-get install valgrind``).  Usage::

    python bench/instructions.py                       # every case
    python bench/instructions.py web-hello app-hello   # some
    python bench/instructions.py --requests 5000

Cases: ``exchange-hello`` (a bare ``Exchange`` application: driver and protocol only),
``web-hello``, ``web-params``, ``web-form`` (``crosswind.web`` handlers of the benchmark),
``app-hello``, ``app-params``, ``app-form`` (the same as ``crosswind.app`` views).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CASES = (
    "exchange-hello", "web-hello", "web-params", "web-form", "app-hello", "app-params", "app-form",
)

# What runs under callgrind: serve the case's request *count* times after a warm-up.
_RUNNER = """
import sys
sys.path.insert(0, {servers!r})
sys.path.insert(0, {bench!r})
import bench_h11_cycle as cycle
from crosswind.testing import serve_bytes

case, count = sys.argv[1], int(sys.argv[2])
layer, scenario = case.split("-")
if layer == "exchange":
    class Bare:
        async def handle(self, exchange):
            await exchange.respond(200, [(b"Content-Type", b"text/plain")], b"Hello, world!")
    app = Bare()
elif layer == "app":
    import crosswind.app
    from flask_views import create_app
    app = create_app(crosswind.app)
else:
    app = cycle.APP
request = {{"hello": cycle.HELLO_REQUEST, "params": cycle.PARAMS_REQUEST,
           "form": cycle.FORM_REQUEST}}[scenario]
serve_bytes(app, [request] * 200)
serve_bytes(app, [request] * count)
"""


def count_instructions(case: str, requests: int) -> int:
    """Instructions callgrind counts for the whole process serving *requests* of *case*."""
    runner = _RUNNER.format(servers=str(BENCH / "servers"), bench=str(BENCH))
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", runner, case, str(requests)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"{case}: no instruction count in valgrind's output")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    """Print instructions per request for each case asked for.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description="Instructions per request, in memory.")
    parser.add_argument("cases", nargs="*", help=f"cases to count (default: all of {CASES})")
    parser.add_argument("--requests", type=int, default=3000, help="requests per count")
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be positive")
    unknown = sorted(set(args.cases) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {', '.join(CASES)}")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    print(f"{'case':<16} {'instructions/request':>21}")
    for case in args.cases or CASES:
        base = count_instructions(case, 0)
        full = count_instructions(case, args.requests)
        print(f"{case:<16} {(full - base) // args.requests:>21,}", flush=True)


if __name__ == "__main__":
    main()
