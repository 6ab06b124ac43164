"""Hostile clients against a crosswind server, and what a normal client sees meanwhile.

Each run starts ``python -m crosswind serve tests.support.apps:app`` on one
backend, in its own process on a free loopback port, then an attacking process
that drives every attacker from one asyncio event loop:

- ``slowloris``: each attacker trickles a request head that never ends, one
  byte every 2 s, and reconnects at once when the server cuts it;
- ``slowbody``: each attacker sends a whole head announcing a body of
  1,000,000 bytes, then one byte of it a second, and reconnects when cut;
- ``none``: no attacker, to show what the normal clients see on a quiet server.

While the attack holds, two normal clients in this process make sequential
``GET /`` requests: one over a new connection each time, one over a single
keep-alive connection (reopened when it fails).  Every request gets 10 s in
all; the report gives per client the requests made, the failures, and the
latency percentiles of the answered ones.  With ``--baseline REF`` each backend
is followed by the same run served from that commit's export, as
``bench/run.py`` does it.

Run ``python bench/attacks.py --help``; ``bench/README.md`` explains it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import queue
import random
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import (  # noqa: E402  (the baseline machinery lives beside this script)
    RESULTS_DIR,
    ROOT,
    Baseline,
    BaselineMismatch,
    Server,
    ServerFailed,
    baseline_facts,
    baseline_server,
    machine_facts,
    prepare_baseline,
    running,
)

__all__ = ["ATTACKS", "Attack", "ClientReport", "main", "percentile", "serve_command"]

HOST = "127.0.0.1"
BACKENDS = ("asyncio", "trio", "threads")
#: Seconds a normal request may take in all: connecting, sending, reading the answer.
CLIENT_TIMEOUT = 10.0
#: Seconds the attackers get to make their first connection each.
RAMP_TIMEOUT = 20.0
#: Seconds the attacking process gets to stop and report once told to.
ATTACKERS_STOP_TIMEOUT = 15.0
#: File descriptors beyond the attackers' own: the loop, pipes, the interpreter.
SPARE_FDS = 64
#: What a server needs at least: ``Limits.max_connections`` slots and its backlog.
SERVER_FDS = 1000 + 1024


@dataclass(frozen=True)
class Attack:
    """One kind of hostile client.

    :param name: the name ``--attack`` takes.
    :param attackers: how many run at once by default.
    :param opening: bytes sent at once on connecting.
    :param trickle: bytes then sent one at a time, cycled for ever.
    :param interval: seconds between two trickled bytes.
    """

    name: str
    attackers: int
    opening: bytes
    trickle: bytes
    interval: float


ATTACKS: tuple[Attack, ...] = (
    Attack(
        "slowloris", 2000,
        opening=b"", interval=2.0,
        # A request line, then header lines without end: the blank line never comes.
        trickle=b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n",
    ),
    Attack(
        "slowbody", 1100,
        opening=b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n",
        trickle=b"x", interval=1.0,
    ),
    Attack("none", 0, opening=b"", trickle=b"", interval=1.0),
)


# -- the attacking process -----------------------------------------------------


@dataclass
class Tally:
    """What the attackers did and what the server did to them.

    :param connected: connections established, reconnections included.
    :param connect_failures: connection attempts refused or timed out.
    :param cut: connections the server closed or reset.
    :param answers: the status line's code the server sent before cutting
        (``"none"`` when it sent nothing, ``"reset"`` when the connection was reset).
    :param open: connections open now.
    :param peak_open: the most open at once.
    :param lifetimes: seconds each cut connection was held.
    :param bytes_sent: bytes the attackers wrote.
    """

    connected: int = 0
    connect_failures: int = 0
    cut: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    open: int = 0
    peak_open: int = 0
    lifetimes: list[float] = field(default_factory=list)
    bytes_sent: int = 0

    def summary(self) -> dict[str, Any]:
        """The figures the report shows, JSON-ready."""
        held = sorted(self.lifetimes)
        return {
            "connected": self.connected,
            "connect_failures": self.connect_failures,
            "cut": self.cut,
            "answers": dict(self.answers),
            "open": self.open,
            "peak_open": self.peak_open,
            "held_p50_s": percentile(held, 50),
            "held_max_s": held[-1] if held else None,
            "bytes_sent": self.bytes_sent,
        }


async def _hold(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, attack: Attack,
    tally: Tally,
) -> str:
    """Trickle *attack*'s bytes until the server ends the connection; what it answered.

    The first byte leaves at once: the server's head deadline starts with it.
    """
    if attack.opening:
        writer.write(attack.opening)
        tally.bytes_sent += len(attack.opening)
    answer = bytearray()
    loop = asyncio.get_running_loop()
    due = loop.time()
    for byte in itertools.cycle(attack.trickle):
        # Read while waiting for the next byte's turn: the server's answer
        # and its close arrive here.
        while (wait := due - loop.time()) > 0:
            try:
                async with asyncio.timeout(wait):
                    chunk = await reader.read(4096)
            except TimeoutError:
                break
            except OSError:
                return "reset"
            if not chunk:
                return _status(answer)
            answer += chunk
        try:
            writer.write(bytes((byte,)))
            await writer.drain()
        except OSError:
            return "reset"
        tally.bytes_sent += 1
        due += attack.interval
    raise AssertionError("itertools.cycle ended")


def _status(answer: bytes) -> str:
    parts = bytes(answer).split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return parts[1].decode()
    return "none" if not answer else "garbage"


async def _attacker(port: int, attack: Attack, tally: Tally, first: asyncio.Future[None]) -> None:
    """One attacker: connect, hold the connection as long as the server lets it, reconnect."""
    # Spread the attackers over one interval, so their bytes do not all leave at once.
    phase = random.uniform(0, attack.interval)
    await asyncio.sleep(phase)
    loop = asyncio.get_running_loop()
    while True:
        try:
            async with asyncio.timeout(CLIENT_TIMEOUT):
                reader, writer = await asyncio.open_connection(HOST, port)
        except (OSError, TimeoutError):
            tally.connect_failures += 1
            if not first.done():
                first.set_result(None)
            await asyncio.sleep(0.5)
            continue
        if not first.done():
            first.set_result(None)
        tally.connected += 1
        tally.open += 1
        tally.peak_open = max(tally.peak_open, tally.open)
        opened = loop.time()
        try:
            answer = await _hold(reader, writer, attack, tally)
        finally:
            tally.open -= 1
            writer.transport.abort()
        tally.cut += 1
        tally.answers[answer] += 1
        tally.lifetimes.append(loop.time() - opened)


async def _attack(port: int, attack: Attack, count: int, out: TextIO, limit: float) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def wait_for_stdin() -> None:
        sys.stdin.read()  # the harness closes our stdin to stop us
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_stdin, daemon=True).start()
    tally = Tally()
    firsts = [loop.create_future() for _ in range(count)]
    tasks = [loop.create_task(_attacker(port, attack, tally, first)) for first in firsts]
    started = loop.time()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(RAMP_TIMEOUT):
            await asyncio.gather(*firsts)
    out.write("ready " + json.dumps(tally.summary() | {"ramp_s": loop.time() - started}) + "\n")
    out.flush()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            await stop.wait()
    summary = tally.summary()  # before cancelling, which closes every connection
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    out.write("done " + json.dumps(summary) + "\n")
    out.flush()


def attackers_main(argv: Sequence[str]) -> int:
    """The attacking process: ``attacks.py attackers ATTACK PORT COUNT LIMIT``.

    Prints ``ready {...}`` once every attacker has tried its first connection
    (or after :data:`RAMP_TIMEOUT`), then ``done {...}`` when its standard input
    closes or *LIMIT* seconds later, each with a :class:`Tally` summary.

    :param argv: the attack's name, the port, how many attackers, the longest
        it may run in seconds.
    """
    name, port, count, limit = argv
    attack = next(a for a in ATTACKS if a.name == name)
    wanted = int(count) + SPARE_FDS
    if not raise_fd_limit(wanted):
        print(f"error: {wanted} file descriptors needed, the hard limit is "
              f"{resource.getrlimit(resource.RLIMIT_NOFILE)[1]}", file=sys.stderr)
        return 2
    asyncio.run(_attack(int(port), attack, int(count), sys.stdout, float(limit)))
    return 0


def raise_fd_limit(wanted: int) -> bool:
    """Raise the soft limit on open files to the hard limit; whether *wanted* fit under it.

    :param wanted: how many descriptors the caller needs.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    elif hard == resource.RLIM_INFINITY and soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return hard == resource.RLIM_INFINITY or hard >= wanted


# -- the normal clients ---------------------------------------------------------


class RequestFailed(Exception):
    """A normal request got no good answer in time; the message says how it failed."""


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise RequestFailed("timeout")
    return left


def _get(sock: socket.socket, deadline: float, close: bool) -> None:
    """Send ``GET /`` on *sock* and read a whole 200 answer by *deadline*."""
    sock.settimeout(_remaining(deadline))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (b"Connection: close\r\n" if close else b"")
        + b"\r\n"
    )
    data = bytearray()
    while (end := data.find(b"\r\n\r\n")) < 0:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(65536)
        if not chunk:
            raise RequestFailed("closed")
        data += chunk
    head = bytes(data[:end]).decode("latin-1").split("\r\n")
    status = head[0].split(" ")[1] if head[0].count(" ") else "?"
    length = next(
        (int(line.split(":", 1)[1]) for line in head[1:]
         if line.lower().startswith("content-length:")),
        0,
    )
    body = data[end + 4:]
    while len(body) < length:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(65536)
        if not chunk:
            raise RequestFailed("closed")
        body += chunk
    if status != "200":
        raise RequestFailed(f"status {status}")


@dataclass
class ClientReport:
    """What one normal client saw.

    :param kind: ``new`` (a connection per request) or ``keepalive``.
    :param latencies: seconds each answered request took, connecting included.
    :param failures: how each failed request failed, by count.
    """

    kind: str
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """Requests, failures and latency percentiles in milliseconds, JSON-ready."""
        done = sorted(self.latencies)
        failed = sum(self.failures.values())
        return {
            "requests": len(done) + failed,
            "failed": failed,
            "failures": dict(self.failures),
            **{f"p{p}_ms": _ms(percentile(done, p)) for p in (50, 90, 99)},
            "max_ms": _ms(done[-1] if done else None),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The nearest-rank *p*-th percentile of *ordered* (sorted), or ``None`` if empty.

    :param ordered: values in ascending order.
    :param p: between 0 and 100.
    """
    if not ordered:
        return None
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _failure(exc: BaseException) -> str:
    if isinstance(exc, RequestFailed):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__


def _new_connections(port: int, until: float, pause: float, report: ClientReport) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        deadline = started + CLIENT_TIMEOUT
        try:
            with socket.create_connection((HOST, port), timeout=CLIENT_TIMEOUT) as sock:
                _get(sock, deadline, close=True)
        except (OSError, RequestFailed) as exc:
            report.failures[_failure(exc)] += 1
        else:
            report.latencies.append(time.monotonic() - started)
        time.sleep(pause)


def _keep_alive(port: int, until: float, pause: float, report: ClientReport) -> None:
    sock: socket.socket | None = None
    try:
        while time.monotonic() < until:
            started = time.monotonic()
            deadline = started + CLIENT_TIMEOUT
            try:
                if sock is None:
                    sock = socket.create_connection((HOST, port), timeout=CLIENT_TIMEOUT)
                _get(sock, deadline, close=False)
            except (OSError, RequestFailed) as exc:
                report.failures[_failure(exc)] += 1
                if sock is not None:
                    sock.close()
                sock = None
            else:
                report.latencies.append(time.monotonic() - started)
            time.sleep(pause)
    finally:
        if sock is not None:
            sock.close()


def measure_clients(port: int, seconds: float, pause: float) -> list[ClientReport]:
    """Run both normal clients against *port* for *seconds*; what each saw.

    :param port: the server's port on 127.0.0.1.
    :param seconds: how long they keep making requests.
    :param pause: seconds each waits between two requests.
    """
    until = time.monotonic() + seconds
    reports = [ClientReport("new"), ClientReport("keepalive")]
    threads = [
        threading.Thread(target=run, args=(port, until, pause, report), daemon=True)
        for run, report in zip((_new_connections, _keep_alive), reports, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # A request begun before the end has CLIENT_TIMEOUT to finish.
        thread.join(seconds + CLIENT_TIMEOUT + 5)
    return reports


# -- one run ----------------------------------------------------------------------


def serve_command(backend: str) -> list[str]:
    """The command line that serves the test application on *backend* (``--port`` added later).

    Only flags that the baseline's command line knows too: the old code must
    start the same way.

    :param backend: asyncio, trio or threads.
    """
    return [
        sys.executable, "-m", "crosswind", "serve", "tests.support.apps:app",
        "--backend", backend, "--host", HOST, "--no-access-log", "--log-level", "warning",
        # Attackers still connected at the end are not worth waiting for.
        "--shutdown-timeout", "1",
    ]


def _server(backend: str) -> Server:
    command = serve_command(backend)

    def argv(port: int) -> list[str]:
        return [*command, "--port", str(port)]

    # The same command serves a baseline: run.py starts it in the export, whose
    # crosswind and tests.support come first.
    return Server(
        backend, argv, needs=(f"crosswind.backends.{backend}",), smoke_check=False,
        served_from=lambda servers: argv,
    )


class _Attackers:
    """The attacking process, reading its report lines in a thread so every wait is bounded."""

    def __init__(self, attack: Attack, port: int, count: int, limit: float, log: Path) -> None:
        self.log = log
        with open(log, "wb") as errors:
            # Not a pipe: a full one would stall the attackers.
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "attackers",
                 attack.name, str(port), str(count), str(limit)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, word: str, timeout: float) -> dict[str, Any]:
        """The report after *word* the process prints next, waiting at most *timeout*."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise ServerFailed(f"the attackers said nothing for {timeout:.0f} s") from None
        if line is None or not line.startswith(word + " "):
            error = ""
            if line is None:
                with contextlib.suppress(OSError):
                    error = self.log.read_text("utf-8", "replace")[-300:]
            raise ServerFailed(f"the attackers stopped before {word!r}: {line!r} {error}")
        report: dict[str, Any] = json.loads(line.removeprefix(word + " "))
        return report

    def stop(self) -> dict[str, Any] | None:
        """Tell the process to stop; its last report, or ``None`` if it had none to give."""
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            return self.expect("done", ATTACKERS_STOP_TIMEOUT)
        except ServerFailed:
            return None
        finally:
            try:
                self.process.wait(ATTACKERS_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(ATTACKERS_STOP_TIMEOUT)


@contextlib.contextmanager
def attacking(
    attack: Attack, port: int, count: int, limit: float, log: Path
) -> Iterator[_Attackers]:
    """Start the attacking process against *port*; it is always stopped afterwards.

    :param attack: what the attackers do.
    :param port: the server's port.
    :param count: how many attackers.
    :param limit: the longest the process may run, in seconds.
    :param log: where its standard error goes.
    """
    attackers = _Attackers(attack, port, count, limit, log)
    try:
        yield attackers
    finally:
        if attackers.process.poll() is None:
            attackers.stop()


def one_run(
    server: Server, attack: Attack, count: int, args: argparse.Namespace, cpu: int | None,
    log_dir: Path,
) -> dict[str, Any]:
    """Serve, attack, measure the normal clients, stop everything; the row of the report.

    :param server: the row to start.
    :param attack: the attack.
    :param count: how many attackers.
    :param args: the command line (``duration``, ``pause``).
    :param cpu: the CPU to pin the server to, or ``None``.
    :param log_dir: where the server's output goes.
    :raises BaselineMismatch: a baseline row would not run the baseline's code.
    """
    row: dict[str, Any] = {"server": server.name, "attack": attack.name, "attackers": count}
    try:
        with running(server, cpu, log_dir) as live:
            port = int(live.url.rsplit(":", 1)[1])
            limit = RAMP_TIMEOUT + args.duration + 2 * CLIENT_TIMEOUT + 30
            log = log_dir / f"attackers-{attack.name}-{live.process.pid}.log"
            with attacking(attack, port, count, limit, log) as attackers:
                row["ramp"] = attackers.expect("ready", RAMP_TIMEOUT + 10)
                load_before = os.getloadavg()[0]
                cpu_before = live.cpu_seconds()
                started = time.monotonic()
                clients = measure_clients(port, args.duration, args.pause)
                row["seconds"] = round(time.monotonic() - started, 1)
                cpu_after = live.cpu_seconds()
                row["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                if cpu_before is not None and cpu_after is not None:
                    row["server_cpu_s"] = round(cpu_after - cpu_before, 2)
                row["tally"] = attackers.stop()
            live.check_alive()
        row["clients"] = {report.kind: report.summary() for report in clients}
    except ServerFailed as exc:
        row["error"] = str(exc)
    return row


# -- the report -------------------------------------------------------------------


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _failed(summary: dict[str, Any]) -> str:
    if not summary["failed"]:
        return "0"
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(summary["failures"].items()))
    return f"{summary['failed']} ({kinds})"


def _answers(tally: dict[str, Any] | None) -> str:
    if tally is None:
        return "-"
    return ", ".join(f"{n} {kind}" for kind, n in sorted(tally["answers"].items())) or "none cut"


def render_markdown(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The report: the run's facts, then per attack a table for each normal client
    and one for the attackers.

    :param rows: from :func:`one_run`.
    :param meta: the run's facts.
    """
    lines = [
        "# Hostile clients: what a normal client sees",
        "",
        f"- date: {meta['date']}",
        f"- commit: `{meta['commit']}`"
        + (f", uncommitted changes in `{'`, `'.join(meta['dirty'])}`" if meta["dirty"] else ""),
        f"- command: `{meta['command']}`",
        f"- machine: {meta['nproc']} CPUs, {meta['cpu_model']}, {meta['platform']}, "
        f"Python {meta['python']}",
        f"- load average at the start: {meta['load_average']}",
        f"- {meta['pinning']}",
        f"- {meta['duration']:.0f} s of normal requests per row, a pause of "
        f"{meta['pause'] * 1000:.0f} ms after each; every request gets "
        f"{CLIENT_TIMEOUT:.0f} s in all",
    ]
    if "baseline" in meta:
        baseline = meta["baseline"]
        lines.append(
            f"- baseline: `{baseline['ref']}` = {baseline['commit'][:10]} \"{baseline['subject']}\""
        )
    lines += [
        "",
        "Latencies are in milliseconds, over the answered requests; a failed request",
        "is counted under failed, by how it failed (timeout: no whole answer in",
        f"{CLIENT_TIMEOUT:.0f} s).  The keep-alive client's first request, and its first",
        "after a failure, include connecting.",
    ]
    for attack in dict.fromkeys(row["attack"] for row in rows):
        group = [row for row in rows if row["attack"] == attack]
        if lines[-1]:
            lines.append("")
        lines += [f"## {attack}", ""]
        for kind, title in (("new", "a new connection per request"),
                            ("keepalive", "one keep-alive connection")):
            lines += [f"Normal client, {title}:", ""]
            lines += _table(["server", "requests", "failed", "p50", "p90", "p99", "max"], [
                [row["server"], "FAILED", row["error"], "", "", "", ""] if "error" in row else [
                    row["server"], str(row["clients"][kind]["requests"]),
                    _failed(row["clients"][kind]),
                    *(_cell(row["clients"][kind][key])
                      for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms")),
                ]
                for row in group
            ])
            lines.append("")
        if attack == "none":
            continue
        lines += ["Attackers and server:", ""]
        lines += _table(
            ["server", "attackers", "open at start", "connections", "cut", "answers when cut",
             "held p50 s", "server CPU s", "load avg"],
            [
                [row["server"], str(row["attackers"]), "-", "-", "-", "-", "-", "-", "-"]
                if "error" in row else [
                    row["server"], str(row["attackers"]), str(row["ramp"]["open"]),
                    str((row["tally"] or {}).get("connected", "-")),
                    str((row["tally"] or {}).get("cut", "-")), _answers(row["tally"]),
                    _cell((row["tally"] or {}).get("held_p50_s")),
                    _cell(row.get("server_cpu_s")), " / ".join(map(str, row["load"])),
                ]
                for row in group
            ],
        )
    return "\n".join(lines) + "\n"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _line(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"FAILED: {row['error']}"
    parts = []
    for kind, summary in row["clients"].items():
        parts.append(
            f"{kind} {summary['requests']} req, {summary['failed']} failed, "
            f"p50/p99/max {_cell(summary['p50_ms'])}/{_cell(summary['p99_ms'])}/"
            f"{_cell(summary['max_ms'])} ms"
        )
    tally = row["tally"] or {}
    if row["attackers"]:
        parts.append(f"attackers open {row['ramp']['open']}, cut {tally.get('cut', '-')}")
    return "; ".join(parts)


# -- the campaign -----------------------------------------------------------------


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _pin() -> tuple[int | None, str]:
    """Keep this process (the normal clients) and the attackers off the server's CPU."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, "not pinned (no CPU affinity here)"
    if len(available) < 2:
        return None, "not pinned (only one CPU)"
    if shutil.which("taskset") is None:
        return None, "not pinned (taskset not found)"
    server, clients = available[0], available[1:]
    os.sched_setaffinity(0, clients)
    cpus = ",".join(map(str, clients))
    return server, f"server on CPU {server}, attackers and normal clients on CPU {cpus}"


def _dirty() -> list[str]:
    """Folders of served code with uncommitted changes: the tree row serves them too."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "core", "backends", "adapters", "tests/support"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout
    return sorted({line[3:].strip() for line in status.splitlines() if line[3:].strip()})


def _names(text: str, known: Sequence[str], what: str, parser: argparse.ArgumentParser) -> list[str]:
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        parser.error(f"--{what}: choose among {', '.join(known)}")
    return wanted


def main(argv: Sequence[str] | None = None) -> int:
    """Run the attacks; the exit status is 1 when a row could not be measured, 2 when a
    baseline row would not have run the baseline's code or the file limit is too low.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["attackers"]:
        return attackers_main(argv[1:])
    parser = argparse.ArgumentParser(
        description="Hostile clients against each crosswind backend, and how a normal "
        "client fares meanwhile."
    )
    parser.add_argument("--backends", default=",".join(BACKENDS), metavar="NAME,NAME",
                        help="backends to serve with (default all three)")
    parser.add_argument("--attack", default="slowloris,slowbody", metavar="NAME,NAME",
                        help="attacks to run, among slowloris, slowbody and none "
                             "(no attack: the quiet reference)")
    parser.add_argument("--duration", type=float, default=80.0,
                        help="seconds of normal requests per backend and attack (default 80)")
    parser.add_argument("--attackers", type=int, metavar="N",
                        help="attackers at once (default 2000 for slowloris, 1100 for slowbody)")
    parser.add_argument("--pause", type=float, default=0.05,
                        help="seconds each normal client waits between requests (default 0.05)")
    parser.add_argument("--baseline", metavar="REF",
                        help="also serve each backend from this commit (NAME@REF), in the same run")
    parser.add_argument("--output", type=Path,
                        help="the report (default bench/results/attacks-COMMIT.md)")
    args = parser.parse_args(argv)
    backends = _names(args.backends, BACKENDS, "backends", parser)
    attacks = [
        next(a for a in ATTACKS if a.name == name)
        for name in _names(args.attack, [a.name for a in ATTACKS], "attack", parser)
    ]
    if args.duration <= 0 or args.pause < 0 or (args.attackers is not None and args.attackers < 1):
        parser.error("--duration must be positive, --pause not negative, --attackers at least 1")
    most = max((args.attackers or a.attackers) if a.attackers else 0 for a in attacks)
    # The server and the attacking process inherit this process's limit.
    wanted = max(most, SERVER_FDS) + SPARE_FDS
    if not raise_fd_limit(wanted):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        print(f"error: the hard limit on open files is {hard}; {wanted} are needed "
              f"(raise it with ulimit -Hn as root, or use fewer --attackers)", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _exit_on_signal)
    server_cpu, pinning = _pin()
    facts = machine_facts()
    meta: dict[str, Any] = facts | {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([_relative(Path(sys.executable)), *sys.argv]),
        "dirty": _dirty(),
        "pinning": pinning,
        "duration": args.duration,
        "pause": args.pause,
    }
    output = args.output or RESULTS_DIR / f"attacks-{facts['commit']}.md"
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="crosswind-attacks-") as scratch:
        baseline: Baseline | None = None
        if args.baseline is not None:
            (folder := Path(scratch, "baseline")).mkdir()
            try:
                baseline = prepare_baseline(args.baseline, folder)
            except ValueError as exc:
                parser.error(f"--baseline: {exc}")
            meta["baseline"] = baseline_facts(baseline)
            print(f"baseline {baseline.ref} = {baseline.short}: {meta['baseline']['subject']}")
        (log_dir := Path(scratch, "logs")).mkdir()
        print(f"{pinning}; {args.duration:.0f} s per row", flush=True)
        try:
            for attack in attacks:
                count = (args.attackers or attack.attackers) if attack.attackers else 0
                for backend in backends:
                    server = _server(backend)
                    for row_server in [server] + ([baseline_server(server, baseline)]
                                                  if baseline else []):
                        row = one_run(row_server, attack, count, args, server_cpu, log_dir)
                        rows.append(row)
                        print(f"{attack.name:<9} {row_server.name:<20} {_line(row)}", flush=True)
        except BaselineMismatch as exc:
            print(f"error: a baseline row would not run the baseline's code: {exc}",
                  file=sys.stderr)
            return 2
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_markdown(rows, meta), "utf-8")
    print(f"wrote {_relative(output)}")
    return 1 if any("error" in row for row in rows) else 0


def _relative(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.absolute().relative_to(Path.cwd()))
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
