"""Every Autobahn|Testsuite case against crosswind's WebSocket servers, and a report of the verdicts.

kosoku (a native runner of the Autobahn case files) plays the fuzzing client
against the echo servers of ``tests/support/autobahn.py``: the Tornado-style
``WebSocketHandler`` on each backend and the Flask-style ``@app.websocket``
view on asyncio, each with and without permessage-deflate, over every case
(performance 9.* and compression 12.*, 13.* included)::

    .venv/bin/python bench/conformance.py                         # what `make conformance` runs
    .venv/bin/python bench/conformance.py --backends trio -i '7.*' --no-client

The report, a markdown table of the verdict counts per row with every case
that was not ``OK``, goes to ``bench/results/conformance-COMMIT.md``.
Without deflate the compression cases are ``UNIMPLEMENTED``, as Autobahn
says of a server that declines the extension; that is no failure.

Each server runs in a process of its own, so that it and kosoku (whose cases
are Python run under the same lock) each have a CPU.

When ``bench/conformance_client.py`` exists (the client side: kosoku's
fuzzing server against ``websocket_connect``), it runs afterwards with the
same case selection and its output is added to the report.

The exit status is 1 when any case FAILED or ended in ERROR, or the client
side failed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.autobahn import (  # noqa: E402
    ACCEPTABLE,
    describe,
    run_cases,
    serving,
    verdict,
)
from tests.support.servers import BACKENDS  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
CLIENT_SCRIPT = ROOT / "bench" / "conformance_client.py"
VERDICTS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR")
#: The client side gets this long before it is given up.
CLIENT_TIMEOUT = 1800.0
#: Seconds a server process gets to start, and to stop once told to.
SERVER_TIMEOUT = 20.0


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout


@contextlib.contextmanager
def _server_process(backend: str, app_name: str, deflate: bool) -> Iterator[int]:
    """Serve the echo from a child process (see :func:`_serve_child`); its port."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", f"{backend},{app_name},{int(deflate)}"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        line = child.stdout.readline()  # the child prints its port, or dies and closes stdout
        if not line.strip().isdigit():
            raise RuntimeError(f"the {backend} server did not start: {line!r}")
        yield int(line)
    finally:
        if child.stdin is not None:
            child.stdin.close()  # the child's signal to stop
        try:
            child.wait(SERVER_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _serve_child(spec: str) -> int:
    """In the child: serve the echo, print the port, stop when stdin closes."""
    backend, app_name, deflate = spec.split(",")
    with serving(backend, app_name, deflate=deflate == "1") as port:
        print(port, flush=True)
        sys.stdin.read()
    return 0


def _rows(backends: Sequence[str], view_backends: Sequence[str]) -> list[tuple[str, str, bool]]:
    rows = [(backend, "handler", deflate) for backend in backends for deflate in (False, True)]
    rows += [(backend, "view", deflate) for backend in view_backends for deflate in (False, True)]
    return rows


def _failed(counts: Counter[str]) -> bool:
    return any(verdict not in ACCEPTABLE and verdict != "UNIMPLEMENTED" for verdict in counts)


def _run_client(include: Sequence[str] | None, exclude: Sequence[str] | None) -> tuple[int, str]:
    command = [sys.executable, str(CLIENT_SCRIPT)]
    for case in include or ():
        command += ["-i", case]
    for case in exclude or ():
        command += ["-x", case]
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return 1, f"gave up after {CLIENT_TIMEOUT:.0f} s"
    return done.returncode, (done.stdout + done.stderr).strip()


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--serve"]:
        return _serve_child(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="backends serving the Tornado-style echo (comma-separated)")
    parser.add_argument("--view-backends", default="asyncio",
                        help="backends serving the Flask-style echo (comma-separated, or empty)")
    parser.add_argument("-i", "--include", action="append", metavar="CASE",
                        help="case id or glob (repeatable; default every case)")
    parser.add_argument("-x", "--exclude", action="append", metavar="CASE",
                        help="case id or glob left out (repeatable)")
    parser.add_argument("-p", "--concurrency", type=int, default=2,
                        help="cases run at once (the machine has 2 CPUs to share)")
    parser.add_argument("--no-client", action="store_true",
                        help="skip bench/conformance_client.py even when it exists")
    parser.add_argument("--output", type=Path,
                        help="the report (default bench/results/conformance-COMMIT.md)")
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    names = [name for name in args.backends.split(",") if name]
    view_names = [name for name in args.view_backends.split(",") if name]
    unknown = sorted(set(names + view_names) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backends {', '.join(unknown)}: choose among {', '.join(BACKENDS)}")

    commit = _git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in _git("status", "--porcelain", "--", "core", "backends").splitlines()]
    started = datetime.datetime.now(datetime.UTC)
    lines = [
        "# Autobahn|Testsuite: crosswind's WebSocket servers",
        "",
        f"- date: {started:%Y-%m-%d %H:%M} UTC",
        f"- commit: `{commit}`"
        + (f", uncommitted changes in `{'`, `'.join(dirty)}`" if dirty else ""),
        f"- command: `{shlex.join(['.venv/bin/python', 'bench/conformance.py', *arguments])}`",
        f"- cases: {', '.join(args.include) if args.include else 'all'}"
        + (f", except {', '.join(args.exclude)}" if args.exclude else "")
        + f"; {args.concurrency} at a time",
        f"- machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        "",
        "Each row is one echo server: `handler` is a Tornado-style `WebSocketHandler`, `view` a",
        "Flask-style `@app.websocket` view; `deflate` says whether it accepts permessage-deflate.",
        "A case's verdict is its message verdict, or FAILED when its closing handshake failed.",
        "",
        f"| backend | echo | deflate | {' | '.join(VERDICTS)} | seconds |",
        "|---|---|---|" + "---:|" * (len(VERDICTS) + 1),
    ]
    details: list[str] = []
    client: list[str] = []
    output_path = args.output or RESULTS_DIR / f"conformance-{commit}.md"
    output_path.parent.mkdir(parents=True, exist_ok=True)
    rows = _rows(names, view_names)

    def write(done: int) -> None:
        # After every row, so that a long run stopped halfway still leaves its figures.
        progress = [] if done == len(rows) else ["", f"Stopped or still running: {done} of {len(rows)} rows."]
        notes = ["", "## Cases not OK", *details] if details else []
        output_path.write_text("\n".join([*lines, *progress, *notes, *client]) + "\n", encoding="utf-8")

    failed = False
    for done, (backend, app_name, deflate) in enumerate(rows):
        write(done)
        print(f"{backend} {app_name} deflate={deflate} ...", file=sys.stderr, flush=True)
        began = time.monotonic()
        with _server_process(backend, app_name, deflate) as port:
            outcome = run_cases(
                port, include=args.include, exclude=args.exclude, concurrency=args.concurrency
            )
        seconds = time.monotonic() - began
        counts = outcome.counts
        failed = failed or _failed(counts) or not outcome.results
        cells = " | ".join(str(counts.get(verdict, 0)) for verdict in VERDICTS)
        row = f"| {backend} | {app_name} | {'yes' if deflate else 'no'} | {cells} | {seconds:.0f} |"
        lines.append(row)
        print(row, file=sys.stderr, flush=True)
        unimplemented = [r.case_id for r in outcome.results if verdict(r) == "UNIMPLEMENTED"]
        others = [describe(r) for r in outcome.results if verdict(r) not in ("OK", "UNIMPLEMENTED")]
        if others or unimplemented:
            details += ["", f"### {backend}, {app_name}, deflate {'yes' if deflate else 'no'}", ""]
            details += [f"- {line}" for line in others]
            if unimplemented:
                details.append(
                    f"- UNIMPLEMENTED, the compression cases a server without deflate declines: "
                    f"{len(unimplemented)}, {unimplemented[0]} to {unimplemented[-1]}"
                )
    write(len(rows))

    if CLIENT_SCRIPT.exists() and not args.no_client:
        print("client side: bench/conformance_client.py ...", file=sys.stderr, flush=True)
        status, output = _run_client(args.include, args.exclude)
        failed = failed or status != 0
        client = ["", "## Client side (`bench/conformance_client.py`)", "",
                  f"Exit status {status}.", "", "```", output, "```"]
        write(len(rows))
    shown = output_path.relative_to(ROOT) if output_path.is_relative_to(ROOT) else output_path
    print(f"wrote {shown}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
