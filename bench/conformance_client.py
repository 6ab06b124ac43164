"""Autobahn|Testsuite's client cases against ``websocket_connect``, with kosoku's fuzzing server.

kosoku (a native runner of the Autobahn case files) serves every case on a
loopback port; the client under test connects once per case, echoes each
message back and ends the run.  This drives crosswind's client three ways:
``asyncio`` and ``trio`` with :func:`crosswind.websocket.websocket_connect`,
``sync`` with :func:`crosswind.websocket.websocket_connect_sync` ::

    .venv/bin/python bench/conformance_client.py                  # all three, every case
    .venv/bin/python bench/conformance_client.py --flavour trio -i '1.*' -i 9.7.1

It prints the count of each verdict per flavour and the cases that did not
pass with kosoku's explanation, and exits with 1 when a case FAILED or
closed wrongly (UNIMPLEMENTED is not a failure: see below).  ``--outdir``
keeps kosoku's HTML and JSON reports, one folder per flavour.

The client offers permessage-deflate as Tornado's does, leaving the server
the client's window size; the 13.x cases whose server asks the client for
``client_no_context_takeover`` need an offer that proposes it, so kosoku
reports them UNIMPLEMENTED.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import json
import re
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FLAVOURS = ("asyncio", "trio", "sync")
#: Big enough for the 9.x cases, whose largest message is 16 MiB.
MAX_MESSAGE_SIZE = 64 * 1024 * 1024
#: Offered on every connection, so that the 12.x and 13.x cases have something to accept.
COMPRESSION: dict[str, Any] = {}
#: Seconds one flavour's run may take before it is given up (make conformance
#: allows the client side 1800 s in all).
RUN_TIMEOUT = 1700.0
#: Seconds kosoku may take to start listening.
START_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Verdict:
    """kosoku's verdict on one case, from its report."""

    case_id: str
    behavior: str
    behavior_close: str
    result: str = ""
    result_close: str = ""

    @property
    def passed(self) -> bool:
        """Both halves acceptable, as kosoku counts a pass."""
        return self.behavior in ("OK", "NON-STRICT", "INFORMATIONAL") and (
            self.behavior_close in ("OK", "INFORMATIONAL")
        )


@contextlib.contextmanager
def fuzzing_server(
    outdir: Path, cases: Sequence[str] | None = None, exclude: Sequence[str] | None = None
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Run kosoku's fuzzing server in a process of its own; yield its port and the process.

    Its own process, so that its Python case files' habits (files left for
    the collector to close) stay out of the client's run.  It writes its
    reports to *outdir* and exits once the client asked for ``/updateReports``.
    """
    command = [str(Path(sys.executable).with_name("kosoku")), "-m", "fuzzingserver",
               "127.0.0.1:0", "-o", str(outdir)]
    for case in cases or ():
        command += ["-i", case]
    for case in exclude or ():
        command += ["-x", case]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + START_TIMEOUT
        port = None
        while port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([process.stderr], [], [], remaining)[0]:
                raise RuntimeError(f"kosoku did not start in {START_TIMEOUT:g} s")
            line = process.stderr.readline()
            if not line:
                raise RuntimeError(f"kosoku exited with {process.wait()} before it listened")
            found = re.search(r"listening on ws://[^:]+:(\d+)", line)
            if found:
                port = int(found[1])
        yield port, process
    finally:
        if process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(RUN_TIMEOUT)
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def read_verdicts(outdir: Path) -> list[Verdict]:
    """The verdicts of kosoku's ``index.json`` in *outdir*, with the prose of those that failed."""
    index = json.loads((outdir / "index.json").read_text(encoding="utf-8"))
    verdicts = []
    for cases in index.values():
        for case_id, entry in cases.items():
            verdict = Verdict(case_id, entry["behavior"], entry["behaviorClose"])
            if not verdict.passed:
                detail = json.loads((outdir / entry["reportfile"]).read_text(encoding="utf-8"))
                verdict = dataclasses.replace(
                    verdict, result=detail.get("result", ""), result_close=detail.get("resultClose", "")
                )
            verdicts.append(verdict)
    return sorted(verdicts, key=lambda v: [int(part) for part in v.case_id.split(".")])


async def _drive_async(base: str, agent: str) -> None:
    from crosswind.websocket import WebSocketClosedError, websocket_connect

    conn = await websocket_connect(f"{base}/getCaseCount")
    count = int(await conn.read_message() or 0)
    await conn.wait_closed()
    for case in range(1, count + 1):
        conn = await websocket_connect(
            f"{base}/runCase?case={case}&agent={agent}",
            compression_options=COMPRESSION,
            max_message_size=MAX_MESSAGE_SIZE,
        )
        while (message := await conn.read_message()) is not None:
            with contextlib.suppress(WebSocketClosedError):
                await conn.write_message(message, binary=isinstance(message, bytes))
        await conn.wait_closed()
    conn = await websocket_connect(f"{base}/updateReports?agent={agent}")
    await conn.read_message()
    await conn.wait_closed()


def _drive_sync(base: str, agent: str) -> None:
    from crosswind.websocket import WebSocketClosedError, websocket_connect_sync

    with websocket_connect_sync(f"{base}/getCaseCount") as conn:
        count = int(conn.read_message() or 0)
    for case in range(1, count + 1):
        with websocket_connect_sync(
            f"{base}/runCase?case={case}&agent={agent}",
            compression_options=COMPRESSION,
            max_message_size=MAX_MESSAGE_SIZE,
        ) as conn:
            for message in conn:
                with contextlib.suppress(WebSocketClosedError):
                    conn.write_message(message, binary=isinstance(message, bytes))
    with websocket_connect_sync(f"{base}/updateReports?agent={agent}") as conn:
        conn.read_message()


def run_cases(
    flavour: str,
    cases: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    outdir: Path | None = None,
) -> list[Verdict]:
    """Run the selected cases with one flavour of the client; kosoku's verdicts, in case order.

    :param outdir: where kosoku writes its reports (a temporary folder when ``None``).
    """
    agent = f"crosswind-{flavour}"
    with contextlib.ExitStack() as stack:
        if outdir is None:
            outdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kosoku-")))
        with fuzzing_server(outdir, cases, exclude) as (port, process):
            base = f"ws://127.0.0.1:{port}"
            if flavour == "asyncio":
                asyncio.run(_drive_async(base, agent))
            elif flavour == "trio":
                import trio

                trio.run(_drive_async, base, agent)
            elif flavour == "sync":
                _drive_sync(base, agent)
            else:
                raise ValueError(f"unknown flavour {flavour!r}; one of {', '.join(FLAVOURS)}")
            process.wait(RUN_TIMEOUT)
        return read_verdicts(outdir)


def count(verdicts: Sequence[Verdict]) -> collections.Counter[str]:
    """How many cases got each verdict; a case whose close was wrong counts under that."""
    counts: collections.Counter[str] = collections.Counter()
    for verdict in verdicts:
        if verdict.behavior_close in ("OK", "INFORMATIONAL"):
            counts[verdict.behavior] += 1
        else:
            counts[f"close {verdict.behavior_close}"] += 1
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flavour", choices=(*FLAVOURS, "all"), default="all")
    parser.add_argument("-i", "--include", action="append", metavar="CASE", help="case or glob")
    parser.add_argument("-x", "--exclude", action="append", metavar="CASE", help="case or glob")
    parser.add_argument("-o", "--outdir", help="write kosoku's reports here, one folder per flavour")
    args = parser.parse_args(argv)
    flavours = FLAVOURS if args.flavour == "all" else (args.flavour,)

    def one(flavour: str) -> tuple[list[Verdict], float]:
        started = time.monotonic()
        outdir = Path(args.outdir) / flavour if args.outdir else None
        return run_cases(flavour, args.include, args.exclude, outdir), time.monotonic() - started

    # The flavours run side by side: a case mostly waits on the network, so
    # three at once take about the time of one.
    with concurrent.futures.ThreadPoolExecutor(len(flavours)) as pool:
        runs = list(pool.map(one, flavours))
    failed = False
    for flavour, (verdicts, took) in zip(flavours, runs, strict=True):
        summary = ", ".join(f"{name} {n}" for name, n in sorted(count(verdicts).items()))
        print(f"{flavour}: {len(verdicts)} cases in {took:.0f} s: {summary}", flush=True)
        for verdict in verdicts:
            if not verdict.passed:
                print(f"  {verdict.case_id}: {verdict.behavior} / {verdict.behavior_close}"
                      f" -- {verdict.result} {verdict.result_close}")
        failed = failed or any(
            v.behavior == "FAILED" or v.behavior_close not in ("OK", "INFORMATIONAL")
            for v in verdicts
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
