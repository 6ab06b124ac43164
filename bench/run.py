"""Benchmark crosswind against a bare-asyncio ceiling and peer servers, with wrk.

Every server runs as a subprocess pinned to one CPU while wrk runs pinned to
another; each (server, scenario) pair is warmed up, then measured once per
round, and the server order alternates between rounds so drift (thermal,
page cache, other tenants) does not always favour the same server.  The
median over rounds is reported as requests/s, its ratio to the ceiling, and
the p99 latency.

Run ``python bench/run.py --help``; ``bench/README.md`` explains the table.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVERS_DIR = BENCH / "servers"
RESULTS_DIR = BENCH / "results"
sys.path.insert(0, str(SERVERS_DIR))

from scenarios import (  # noqa: E402  (lives beside the server scripts)
    FORM_FIELD_COUNT,
    FORM_PATH,
    HELLO_BODY,
    PARAMS_TARGET,
    form_body,
    user_payload,
)

__all__ = [
    "SCENARIOS",
    "SERVERS",
    "Scenario",
    "Server",
    "WrkResult",
    "main",
    "parse_latency",
    "parse_wrk",
    "render_targets_text",
    "target_lines",
    "target_rows",
]

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


# -- what is measured --------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One kind of load: what wrk sends and what a correct server answers.

    :param name: the column name.
    :param target: the request target wrk and the smoke check use.
    :param wrk_args: extra wrk arguments (a Lua script, headers).
    :param check: given status, headers and body of the smoke request, a
        problem description or ``None`` when the answer is right.
    :param method: the smoke request's method.
    :param body: the smoke request's body.
    :param headers: the smoke request's extra headers.
    """

    name: str
    target: str
    wrk_args: tuple[str, ...]
    check: Callable[[int, http.client.HTTPMessage, bytes], str | None]
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def _expect_body(expected: bytes) -> Callable[[int, http.client.HTTPMessage, bytes], str | None]:
    def check(status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
        if status != 200 or body != expected:
            return f"answered {status} {body[:60]!r}, expected 200 {expected[:60]!r}"
        return None

    return check


def _check_params(status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if status != 200 or document != user_payload(42, ["a", "b"]):
        return f"answered {status} {body[:60]!r}, not the expected JSON document"
    return None


def _check_close(status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
    problem = _expect_body(HELLO_BODY)(status, headers, body)
    if problem:
        return problem
    # wrk reconnects only when the response says so; without the header it
    # would count the server's close as a read error.
    if "close" not in (headers.get("Connection") or "").lower():
        return "answered Connection: close without a Connection: close header"
    return None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("hello", "/", (), _expect_body(HELLO_BODY)),
    Scenario("params", PARAMS_TARGET, (), _check_params),
    Scenario(
        "form", FORM_PATH, ("-s", str(BENCH / "wrk" / "form.lua")),
        _expect_body(str(FORM_FIELD_COUNT).encode()), method="POST", body=form_body(),
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
    ),
    Scenario(
        "close", "/", ("-H", "Connection: close"), _check_close,
        headers=(("Connection", "close"),),
    ),
)


# -- who is measured ---------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """One row of the table.

    :param name: the row name.
    :param argv: given the port, the command that serves on ``127.0.0.1:port``.
    :param needs: modules that must be importable, else the row is skipped
        with a message instead of failing obscurely.
    :param smoke_check: whether its answers must match the scenarios (the
        ceiling answers every request with the same canned bytes).
    """

    name: str
    argv: Callable[[int], list[str]]
    needs: tuple[str, ...] = ()
    smoke_check: bool = True


def _script(name: str, *args: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, str(SERVERS_DIR / name), *args, "--port", str(port)]


def _crosswind(
    backend: str, app: str = "web", name: str | None = None, engine: str | None = None
) -> Server:
    needs = {"web": "crosswind.web", "flask": "crosswind.app"}.get(app, "crosswind.adapters")
    engine_args = ("--engine", engine) if engine else ()
    return Server(
        name or f"crosswind-{backend}",
        _script("crosswind_server.py", "--backend", backend, "--app", app, *engine_args),
        needs=(needs, f"crosswind.backends.{backend}"),
    )


def _uvicorn(app: str, *options: str) -> Callable[[int], list[str]]:
    return lambda port: [
        sys.executable, "-m", "uvicorn", app, "--app-dir", str(SERVERS_DIR),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--no-access-log", "--log-level", "warning", *options,
    ]


def _hypercorn(worker_class: str) -> Callable[[int], list[str]]:
    # Hypercorn puts the application path's directory on sys.path itself.
    return lambda port: [
        sys.executable, "-m", "hypercorn", str(SERVERS_DIR / "starlette_app") + ":app",
        "--bind", f"127.0.0.1:{port}", "--worker-class", worker_class, "--workers", "1",
        "--log-level", "warning",
    ]


#: The gunicorn worker of the ``crosswind-gunicorn`` row: gthread with 4
#: threads, the faster of the two on the 2-CPU bench machine (3 s x 2 rounds,
#: req/s hello/params/form/close: gthread 1,855/1,239/1,235/1,595, sync
#: 1,064/936/672/1,009).  The sync worker serves one connection at a time and
#: closes it after each response, so its CPU sat idle 60 % of the run.
GUNICORN_WORKER: tuple[str, ...] = ("--worker-class", "gthread", "--threads", "4")


def _gunicorn(app: str, worker: Sequence[str]) -> Callable[[int], list[str]]:
    return lambda port: [
        sys.executable, "-m", "gunicorn", "--chdir", str(SERVERS_DIR), *worker,
        "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app,
    ]


# A new peer is one entry; the issue-9 summary below names rows it compares.
SERVERS: tuple[Server, ...] = (
    Server("ceiling", _script("ceiling.py"), smoke_check=False),
    _crosswind("asyncio"),
    # The foundation's goal (issue 2) is stated for the h11 engine.
    _crosswind("asyncio", name="crosswind-asyncio-h11", engine="h11"),
    _crosswind("trio"),
    _crosswind("threads"),
    _crosswind("asyncio", "flask", "crosswind-flask-style-asyncio"),
    Server(
        "crosswind-uvicorn",
        _uvicorn("crosswind_apps:asgi", "--http", "httptools", "--loop", "asyncio"),
        needs=("crosswind.web", "uvicorn", "httptools"),
    ),
    Server(
        "crosswind-gunicorn",
        _gunicorn("crosswind_apps:wsgi", GUNICORN_WORKER),
        needs=("crosswind.web", "gunicorn"),
    ),
    Server("tornado", _script("tornado_server.py"), needs=("tornado",)),
    Server(
        "starlette-uvicorn-h11",
        _uvicorn("starlette_app:app", "--http", "h11", "--loop", "asyncio"),
        needs=("starlette", "uvicorn", "h11"),
    ),
    Server(
        "starlette-uvicorn-httptools",
        _uvicorn("starlette_app:app", "--http", "httptools", "--loop", "asyncio"),
        needs=("starlette", "uvicorn", "httptools"),
    ),
    _crosswind("asyncio", "starlette_app:app", "starlette-on-crosswind"),
    Server(
        "starlette-hypercorn-asyncio", _hypercorn("asyncio"), needs=("starlette", "hypercorn")
    ),
    Server(
        "starlette-hypercorn-trio", _hypercorn("trio"), needs=("starlette", "hypercorn", "trio")
    ),
    Server("flask-waitress", _script("flask_waitress.py"), needs=("flask", "waitress")),
)


# -- wrk ---------------------------------------------------------------------


@dataclass
class WrkResult:
    """What one wrk run reported.

    :param requests_per_second: wrk's ``Requests/sec``.
    :param latency_ms: percentile (50, 75, 90, 99) to milliseconds.
    :param requests: completed requests.
    :param socket_errors: wrk's connect/read/write/timeout counters.
    :param non_2xx: responses that were not 2xx or 3xx.
    """

    requests_per_second: float
    latency_ms: dict[int, float]
    requests: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0

    @property
    def p99_ms(self) -> float | None:
        return self.latency_ms.get(99)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_latency(text: str) -> float:
    """Convert one of wrk's latency figures (``850.00us``, ``1.23ms``, ``2.00s``) to ms.

    :param text: the figure as wrk printed it.
    :raises ValueError: when it is not a wrk latency.
    """
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, the latency distribution and error counts from wrk's ``--latency`` output.

    :param output: wrk's standard output.
    :raises ValueError: when the output has no ``Requests/sec`` line (wrk failed).
    """
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", output, re.MULTILINE)
    if rps is None:
        raise ValueError("wrk printed no Requests/sec line")
    latency = {
        int(percent): parse_latency(value)
        for percent, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE)
    }
    requests = re.search(r"^\s*([0-9]+) requests in ", output, re.MULTILINE)
    errors = re.search(
        r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", output)
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        latency_ms=latency,
        requests=int(requests.group(1)) if requests else 0,
        socket_errors=(
            dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
            if errors else {}
        ),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def wrk_command(
    url: str, scenario: Scenario, seconds: float, connections: int, cpu: int | None
) -> list[str]:
    """The wrk invocation for one run, pinned to *cpu* when given.

    :param url: ``http://host:port``.
    :param scenario: what to send.
    :param seconds: how long to run.
    :param connections: concurrent connections (one wrk thread drives them all).
    :param cpu: the CPU to pin wrk to, or ``None``.
    """
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "--timeout", "5s", *scenario.wrk_args, url + scenario.target,
    ]
    return _pinned(command, cpu)


def _pinned(command: list[str], cpu: int | None) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


# -- the server's life -------------------------------------------------------


class ServerFailed(Exception):
    """The server could not be measured; the message goes in its row."""


class ServerUnavailable(ServerFailed):
    """The server's packages are not installed: reported, but not a failure of the run."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def process_group_cpu_seconds(pgid: int) -> float | None:
    """User plus system CPU seconds used so far by the live processes of group *pgid*.

    Read from ``/proc``, so ``None`` where there is none.  CPU time per request
    barely moves when other work shares the machine, unlike requests/s.

    :param pgid: the process group (the server's pid: it leads its own session).
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name, which may itself contain spaces or ")".
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class RunningServer:
    """A started server: where it listens and how to ask after it."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        """Raise :class:`ServerFailed` if the server has exited."""
        code = self.process.poll()
        if code is not None:
            raise ServerFailed(f"server exited with status {code}: {_log_tail(self.log_path)}")

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server's process group has used so far."""
        return process_group_cpu_seconds(self.process.pid)


@contextlib.contextmanager
def running(server: Server, cpu: int | None, log_dir: Path) -> Iterator[RunningServer]:
    """Start *server*, wait until it accepts connections, and always kill it afterwards.

    :param server: what to start.
    :param cpu: the CPU to pin it to, or ``None``.
    :param log_dir: where its output goes (quoted in failure messages).
    :raises ServerFailed: it is not installed, exited, or did not listen in time.
    """
    missing = [name for name in server.needs if not _importable(name)]
    if missing:
        raise ServerUnavailable(f"not available: cannot import {', '.join(missing)}")
    port = _free_port()
    log_path = log_dir / f"{server.name}.log"
    command = _pinned(server.argv(port), cpu)
    with open(log_path, "wb") as log:
        # A session of its own, so killing the group reaches every child
        # (uvicorn's reloader, taskset's exec) and Ctrl-C here is not theirs.
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    handle = RunningServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            handle.check_alive()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerFailed(
                        f"port {port} not ready after {READY_TIMEOUT:.0f} s: {_log_tail(log_path)}"
                    ) from None
                time.sleep(0.05)
        yield handle
    finally:
        _stop(process)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def smoke_check(url: str, scenario: Scenario) -> str | None:
    """Send the scenario's request once; a problem description, or ``None`` if answered right.

    :param url: ``http://host:port``.
    :param scenario: the request to send and the answer to expect.
    """
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(
            scenario.method, scenario.target, body=scenario.body or None,
            headers=dict(scenario.headers),
        )
        response = connection.getresponse()
        body = response.read()
        return scenario.check(response.status, response.headers, body)
    except (OSError, http.client.HTTPException) as exc:
        return f"request failed: {exc}"
    finally:
        connection.close()


# -- the campaign ------------------------------------------------------------


@dataclass
class Run:
    """One measured (round, server, scenario), or why it could not be."""

    round: int
    server: str
    scenario: str
    result: WrkResult | None = None
    error: str | None = None
    unavailable: bool = False
    #: Server CPU time per completed request, in microseconds.
    cpu_us: float | None = None


def _cpus() -> tuple[int | None, int | None, str]:
    """CPUs for the server and for wrk, and a sentence saying what was done."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except AttributeError:
        available = list(range(os.cpu_count() or 1))
    if shutil.which("taskset") is None:
        return None, None, "not pinned (taskset not found)"
    if len(available) < 2:
        return None, None, "not pinned (only one CPU)"
    server, client = available[0], available[1]
    return server, client, f"server on CPU {server}, wrk on CPU {client} (taskset)"


def _measure(
    runs: list[Run], round_index: int, server: Server, scenarios: Sequence[Scenario],
    args: argparse.Namespace, server_cpu: int | None, wrk_cpu: int | None, log_dir: Path,
) -> None:
    def record(scenario: Scenario, **outcome: Any) -> None:
        runs.append(Run(round_index, server.name, scenario.name, **outcome))
        run = runs[-1]
        shown = (
            f"{run.result.requests_per_second:,.0f} req/s p99 {_fmt_ms(run.result.p99_ms)}"
            if run.result else f"FAILED: {run.error}"
        )
        print(f"  [{round_index + 1}] {server.name:<30} {scenario.name:<7} {shown}", flush=True)

    done: set[str] = set()
    try:
        with running(server, server_cpu, log_dir) as live:
            for scenario in scenarios:
                problem = smoke_check(live.url, scenario) if server.smoke_check else None
                if problem:
                    record(scenario, error=f"wrong answer: {problem}")
                    done.add(scenario.name)
                    continue
                try:
                    for seconds, measured in ((args.warmup, False), (args.duration, True)):
                        command = wrk_command(live.url, scenario, seconds, args.connections, wrk_cpu)
                        cpu_before = live.cpu_seconds()
                        completed = subprocess.run(
                            command, capture_output=True, text=True, timeout=seconds + 30,
                        )
                        cpu_after = live.cpu_seconds()
                        live.check_alive()
                        if completed.returncode != 0:
                            raise ServerFailed(
                                f"wrk exited with {completed.returncode}: "
                                f"{completed.stderr.strip()[-200:]}"
                            )
                        if measured:
                            result = parse_wrk(completed.stdout)
                            if result.requests == 0:
                                raise ServerFailed("no request completed")
                            cpu_us = (
                                (cpu_after - cpu_before) / result.requests * 1e6
                                if cpu_before is not None and cpu_after is not None else None
                            )
                            record(scenario, result=result, cpu_us=cpu_us)
                except (subprocess.TimeoutExpired, ValueError) as exc:
                    record(scenario, error=f"wrk failed: {exc}")
                done.add(scenario.name)
    except ServerFailed as exc:
        unavailable = isinstance(exc, ServerUnavailable)
        for scenario in scenarios:
            if scenario.name not in done:
                record(scenario, error=str(exc), unavailable=unavailable)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(
    runs: list[Run], servers: Sequence[Server], scenarios: Sequence[Scenario]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per server and scenario: median requests/s, p99 and CPU per request, ratio to the ceiling.

    :param runs: every measured run.
    :param servers: the rows, in table order.
    :param scenarios: the columns, in table order.
    """
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for server in servers:
        row = table.setdefault(server.name, {})
        for scenario in scenarios:
            mine = [r for r in runs if r.server == server.name and r.scenario == scenario.name]
            good = [r.result for r in mine if r.result is not None]
            p99s = [r.p99_ms for r in good if r.p99_ms is not None]
            row[scenario.name] = {
                "rps": _median([r.requests_per_second for r in good]),
                "p99_ms": _median(p99s),
                "cpu_us": _median([r.cpu_us for r in mine if r.cpu_us is not None]),
                "rounds": len(good),
                "errors": sorted({r.error for r in mine if r.error}),
                "socket_errors": sum(sum(r.socket_errors.values()) for r in good),
                "non_2xx": sum(r.non_2xx for r in good),
            }
    for scenario in scenarios:
        ceiling = table.get("ceiling", {}).get(scenario.name, {}).get("rps")
        for row in table.values():
            cell = row[scenario.name]
            cell["ratio"] = cell["rps"] / ceiling if ceiling and cell["rps"] else None
    return table


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "?"
    if value >= 100:
        return f"{value:.0f}ms"
    if value >= 10:
        return f"{value:.1f}ms"
    return f"{value:.2f}ms"


def _cell(cell: dict[str, Any]) -> str:
    if cell["rps"] is None:
        return "FAILED" if cell["errors"] else "-"
    ratio = f" ({cell['ratio']:.2f}x)" if cell["ratio"] is not None else ""
    flag = " !" if cell["socket_errors"] or cell["non_2xx"] or cell["errors"] else ""
    return f"{cell['rps']:,.0f}{ratio} {_fmt_ms(cell['p99_ms'])}{flag}"


def _notes(table: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    notes = []
    for server, row in table.items():
        for scenario, cell in row.items():
            for error in cell["errors"]:
                notes.append(f"{server} / {scenario}: {error}")
            if cell["socket_errors"] or cell["non_2xx"]:
                notes.append(
                    f"{server} / {scenario}: {cell['socket_errors']} socket errors, "
                    f"{cell['non_2xx']} non-2xx responses (summed over rounds)"
                )
    return notes


def _cpu_cell(cell: dict[str, Any]) -> str:
    if cell["cpu_us"] is None:
        return "-"
    if cell["rps"] is None:
        return f"{cell['cpu_us']:.0f}"
    # Well under 100 % busy means the server waited (latency-bound) or was
    # preempted by other work on its CPU; req/s then understates it.
    return f"{cell['cpu_us']:.0f} ({cell['cpu_us'] * cell['rps'] / 1e4:.0f}%)"


def render_text(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[Scenario],
    cell: Callable[[dict[str, Any]], str] = _cell,
) -> str:
    """A table for the terminal: fixed-width columns.

    :param table: from :func:`summarize`.
    :param scenarios: the columns.
    :param cell: formats one cell (default: req/s, ratio, p99).
    """
    rows = [["server", *(s.name for s in scenarios)]]
    rows += [[name, *(cell(row[s.name]) for s in scenarios)] for name, row in table.items()]
    return _fixed_width(rows)


def _fixed_width(rows: list[list[str]]) -> str:
    """*rows* (the first is the heading) as left-aligned columns, a rule under the heading."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _markdown_table(rows: list[list[str]], right_from: int = 1) -> list[str]:
    """*rows* (the first is the heading) as a Markdown table, columns from *right_from* right-aligned."""
    align = ["---" if i < right_from else "---:" for i in range(len(rows[0]))]
    return [f"| {' | '.join(row)} |" for row in rows[:1]] + [f"|{'|'.join(align)}|"] + [
        f"| {' | '.join(row)} |" for row in rows[1:]
    ]


# -- issue 9's targets ---------------------------------------------------------

#: The ratio to the ceiling that ``crosswind-asyncio`` should reach, per scenario.
TARGET_RATIOS: dict[str, float] = {"hello": 0.20, "params": 0.10, "form": 0.05, "close": 0.50}
#: The target table's columns: heading, row of the main table.
TARGET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Tornado 6", "tornado"),
    ("uvicorn+h11+Starlette", "starlette-uvicorn-h11"),
    ("uvicorn+httptools+Starlette", "starlette-uvicorn-httptools"),
    ("crosswind asyncio", "crosswind-asyncio"),
)
#: Backends against their closest peer: label, crosswind row, peer row, how many
#: times the peer's requests/s crosswind should reach.
PEER_TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("trio backend vs Starlette on hypercorn trio", "crosswind-trio", "starlette-hypercorn-trio", 2.0),
    ("threads backend vs Flask on waitress", "crosswind-threads", "flask-waitress", 2.0),
)
#: The Tornado-style and Flask-style rows, each to stay this close to the
#: fastest crosswind row on ``hello``.
STYLE_ROWS: tuple[str, str] = ("crosswind-asyncio", "crosswind-flask-style-asyncio")
STYLE_TOLERANCE = 0.15


def _value(table: dict[str, dict[str, dict[str, Any]]], server: str, scenario: str, key: str) -> Any:
    return table.get(server, {}).get(scenario, {}).get(key)


def target_rows(table: dict[str, dict[str, dict[str, Any]]]) -> list[list[str]]:
    """Issue 9's table: per scenario, each peer's and crosswind-asyncio's ratio to the ceiling.

    The last column is the target for crosswind asyncio, with ``met`` or
    ``missed`` when it was measured.  Cells not measured are ``-``.

    :param table: from :func:`summarize`.
    :returns: rows of cells, the heading first.
    """
    rows = [["scenario", *(heading for heading, _ in TARGET_COLUMNS), "target"]]
    for scenario, target in TARGET_RATIOS.items():
        cells = []
        for _, server in TARGET_COLUMNS:
            ratio = _value(table, server, scenario, "ratio")
            cells.append("-" if ratio is None else f"{ratio:.2f}")
        ours = _value(table, "crosswind-asyncio", scenario, "ratio")
        verdict = "" if ours is None else " met" if ours >= target else " missed"
        rows.append([scenario, *cells, f"≥{target:.2f}{verdict}"])
    return rows


def target_lines(table: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Issue 9's other targets, one sentence each: backends against peers, the two
    programming models against the fastest crosswind path, p99 against the best peer.

    :param table: from :func:`summarize`.
    """
    lines = []
    scenarios = [name for name in TARGET_RATIOS if any(name in row for row in table.values())]
    for label, ours, peer, goal in PEER_TARGETS:
        ratios = []
        for scenario in scenarios:
            mine, theirs = _value(table, ours, scenario, "rps"), _value(table, peer, scenario, "rps")
            if mine and theirs:
                ratios.append((scenario, mine / theirs))
        if not ratios:
            lines.append(f"{label}: not measured (target ≥{goal:g}x)")
            continue
        mean = statistics.geometric_mean(ratio for _, ratio in ratios)
        detail = ", ".join(f"{scenario} {ratio:.2f}x" for scenario, ratio in ratios)
        verdict = "met" if mean >= goal else "missed"
        lines.append(
            f"{label}: {mean:.2f}x (target ≥{goal:g}x): {verdict}; geometric mean of {detail}"
        )

    hello = {
        name: row["hello"]["rps"] for name, row in table.items()
        if name.startswith("crosswind-") and "hello" in row and row["hello"]["rps"]
    }
    label = "Tornado-style / Flask-style vs fastest crosswind path on hello"
    goal = f"target within {STYLE_TOLERANCE:.0%}"
    if hello:
        fastest = max(hello, key=hello.__getitem__)
        changes = [
            None if name not in hello else hello[name] / hello[fastest] - 1 for name in STYLE_ROWS
        ]
        shown = " / ".join("?" if c is None else f"{c * 100:.0f}%".replace("-0%", "0%")
                           for c in changes)
        verdict = (
            "met" if all(c is not None and c >= -STYLE_TOLERANCE for c in changes) else "missed"
        )
        lines.append(
            f"{label}: {shown} ({goal}): {verdict}; fastest {fastest} "
            f"at {hello[fastest]:,.0f} req/s"
        )
    else:
        lines.append(f"{label}: not measured ({goal})")

    parts = []
    for scenario in scenarios:
        ours_p99 = _value(table, "crosswind-asyncio", scenario, "p99_ms")
        peers = [
            (row[scenario]["p99_ms"], name) for name, row in table.items()
            if name != "ceiling" and "crosswind" not in name
            and scenario in row and row[scenario]["p99_ms"] is not None
        ]
        if ours_p99 is None or not peers:
            continue
        best, name = min(peers)
        parts.append(
            f"{scenario} {_fmt_ms(ours_p99)} vs {_fmt_ms(best)} ({name}, {ours_p99 / best:.2f}x)"
        )
    lines.append("p99 crosswind asyncio vs best peer: " + ("; ".join(parts) or "not measured"))
    return lines


def render_targets_text(table: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Issue 9's targets for the terminal: the ratio table, then the sentences.

    :param table: from :func:`summarize`.
    """
    return _fixed_width(target_rows(table)) + "\n\n" + "\n".join(target_lines(table))


def render_markdown(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[Scenario], meta: dict[str, Any]
) -> str:
    """The report for ``bench/results/latest.md``.

    :param table: from :func:`summarize`.
    :param scenarios: the columns.
    :param meta: machine facts and settings from :func:`machine_facts` and the run.
    """
    lines = [
        "# crosswind benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}`",
        f"- commit: {meta['commit']}",
        f"- machine: {meta['nproc']} CPUs ({meta['cpu_model']}), {meta['platform']}; "
        f"load average at start {' '.join(map(str, meta['load_average']))}",
        f"- python: {meta['python']}; wrk: {meta['wrk']}",
        f"- packages: {', '.join(f'{k} {v}' for k, v in meta['packages'].items())}",
        f"- pinning: {meta['pinning']}",
        f"- load: {meta['connections']} connections, 1 wrk thread; warm-up {meta['warmup']} s, "
        f"measured {meta['duration']} s per (server, scenario), {meta['rounds']} round(s), "
        f"order alternating; total wall time {meta['wall_seconds']:.0f} s",
        "",
        "Cells: median requests/s (ratio to `ceiling`) median p99 latency; `!` marks errors "
        "listed below.",
        "",
        "| server | " + " | ".join(s.name for s in scenarios) + " |",
        "|---|" + "---:|" * len(scenarios),
    ]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row[s.name]) for s in scenarios) + " |")
    lines += [
        "",
        "Server CPU time per request in microseconds (user + system of the server's processes "
        "during the measured run, over requests completed; steadier than req/s on a busy "
        "machine), and in brackets how busy that kept the server's CPU:",
        "",
        "| server | " + " | ".join(s.name for s in scenarios) + " |",
        "|---|" + "---:|" * len(scenarios),
    ]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(_cpu_cell(row[s.name]) for s in scenarios) + " |")
    lines += [
        "",
        "## Issue 9 targets",
        "",
        "Ratio to `ceiling` in this run; the target is crosswind asyncio's.",
        "",
        *_markdown_table(target_rows(table)),
        "",
        *(f"- {line}" for line in target_lines(table)),
    ]
    notes = _notes(table)
    if notes:
        lines += ["", "## Problems", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def machine_facts() -> dict[str, Any]:
    """The facts a reader needs to compare two reports."""
    cpu_model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    packages = {}
    for name in (
        "h11", "tornado", "starlette", "uvicorn", "httptools", "trio", "hypercorn", "gunicorn",
        "waitress", "flask",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages[name] = importlib.metadata.version(name)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip() or "unknown"
    wrk = "not found"
    if shutil.which("wrk"):
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        wrk = (version.stdout + version.stderr).split("Copyright")[0].strip() or "unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "load_average": [round(value, 2) for value in load],
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version() + " (" + platform.python_implementation() + ")",
        "wrk": wrk,
        "packages": packages,
        "commit": commit,
    }


def _select(names: str | None, known: Sequence[Any], what: str) -> list[Any]:
    if not names:
        return list(known)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    by_name = {item.name: item for item in known}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise SystemExit(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(by_name)})"
        )
    return [by_name[n] for n in wanted]


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _command_line() -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), *sys.argv])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status is 1 when an installed server could not be measured.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        description="Benchmark crosswind's backends against a ceiling and peer servers with wrk."
    )
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (order alternates)")
    parser.add_argument("--only", metavar="NAME,NAME", help="servers to run (ceiling is kept)")
    parser.add_argument("--scenarios", metavar="NAME,NAME", help="scenarios to run")
    parser.add_argument("--list", action="store_true", help="list servers and scenarios, then exit")
    args = parser.parse_args(argv)
    if args.list:
        print("servers:  ", ", ".join(s.name for s in SERVERS))
        print("scenarios:", ", ".join(s.name for s in SCENARIOS))
        return 0
    if args.duration <= 0 or args.warmup <= 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--duration and --warmup must be positive, --connections and --rounds >= 1")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk, or `make bench`)")
    servers = _select(args.only, SERVERS, "server")
    if args.only and not any(s.name == "ceiling" for s in servers):
        # Ratios need the ceiling measured under the same conditions.
        servers.insert(0, SERVERS[0])
    scenarios = _select(args.scenarios, SCENARIOS, "scenario")

    # Turn SIGTERM into an exception so the finally blocks still stop the servers.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    server_cpu, wrk_cpu, pinning = _cpus()
    meta = machine_facts() | {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": _command_line(),
        "pinning": pinning,
        "connections": args.connections,
        "warmup": args.warmup,
        "duration": args.duration,
        "rounds": args.rounds,
    }
    print(f"{len(servers)} servers x {len(scenarios)} scenarios x {args.rounds} rounds; {pinning}")
    started = time.monotonic()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="crosswind-bench-") as log_dir:
        for round_index in range(args.rounds):
            order = servers if round_index % 2 == 0 else servers[::-1]
            for server in order:
                _measure(runs, round_index, server, scenarios, args, server_cpu, wrk_cpu,
                         Path(log_dir))
    meta["wall_seconds"] = time.monotonic() - started

    table = summarize(runs, servers, scenarios)
    print()
    print(render_text(table, scenarios))
    print("\nserver CPU per request (us) and (CPU busy):")
    print(render_text(table, scenarios, _cpu_cell))
    print("\nissue 9 targets (ratio to ceiling):")
    print(render_targets_text(table))
    notes = _notes(table)
    if notes:
        print("\nProblems:\n" + "\n".join(f"- {note}" for note in notes))
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(render_markdown(table, scenarios, meta), "utf-8")
    raw = {
        "meta": meta,
        "summary": table,
        "targets": {"table": target_rows(table), "lines": target_lines(table)},
        "runs": [
            {
                "round": r.round, "server": r.server, "scenario": r.scenario, "error": r.error,
                "rps": r.result.requests_per_second if r.result else None,
                "latency_ms": r.result.latency_ms if r.result else None,
                "requests": r.result.requests if r.result else None,
                "socket_errors": r.result.socket_errors if r.result else None,
                "non_2xx": r.result.non_2xx if r.result else None,
                "cpu_us": r.cpu_us,
            }
            for r in runs
        ],
    }
    (RESULTS_DIR / "latest.json").write_text(json.dumps(raw, indent=2) + "\n", "utf-8")
    print(f"\nwrote {RESULTS_DIR / 'latest.md'} and latest.json")
    return 1 if any(r.error and not r.unavailable for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
