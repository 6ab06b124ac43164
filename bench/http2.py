"""HTTP/2 benchmarks: h2load against crosswind and Starlette on hypercorn, and what HTTP/2 costs.

Three figures, each from one run of this script (never compare two runs):

* **Throughput.** ``h2load -c 32 -m 10`` (32 connections, 10 concurrent
  streams each, cleartext prior knowledge) on the ``hello`` and ``params``
  scenarios of ``servers/scenarios.py``: crosswind's asyncio backend with the
  Tornado-style and the Flask-style app against the same Starlette app on
  hypercorn's HTTP/2.  Target: crosswind at least 3x hypercorn.
* **CPU per request against HTTP/1.1.** The server process group's CPU
  seconds over the measured run divided by the requests completed, for
  crosswind over HTTP/2 (h2load) and over HTTP/1.1 (wrk with as many
  connections).  Target: HTTP/2 within 1.5x of HTTP/1.1.
* **Memory per connection.** Connections that each hold 100 open streams
  (a ``POST`` whose body never comes), opened with the h2 library from this
  process; the server's resident memory above its idle figure, divided by
  the connections held.

Servers run pinned to one CPU and the client (h2load, wrk) to the other, as
in ``run.py``, whose server table, pinning and process-group CPU accounting
this reuses; the server order reverses every other round and each cell is
the median over rounds.  ``python bench/http2.py --help``; the report goes to
``results/http2-COMMIT.md``; ``bench/README.md`` explains it.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402  (the HTTP harness beside this file: servers, pinning, CPU accounting)

__all__ = [
    "H2LoadSummary",
    "H2Row",
    "ROWS",
    "h2_request",
    "h2load_command",
    "main",
    "measure_idle_streams",
    "parse_h2load",
]

#: The scenarios measured over HTTP/2 (``run.SCENARIOS`` names).
SCENARIO_NAMES = ("hello", "params")
IO_TIMEOUT = 10.0
#: The row every crosswind HTTP/2 row is compared against, and the HTTP/1.1 row of each.
HYPERCORN = "starlette-hypercorn-asyncio-h2"
HTTP1_OF = {"crosswind-asyncio-h2": "crosswind-asyncio-http1"}
THROUGHPUT_TARGET = 3.0
CPU_TARGET = 1.5


# -- h2load ------------------------------------------------------------------


@dataclass(frozen=True)
class H2LoadSummary:
    """What h2load printed at the end of a run.

    :param requests_per_second: from ``finished in ..., N req/s``.
    :param total: requests h2load was to make (``-n``; in ``-D`` mode, those started).
    :param started: requests sent.
    :param done: requests that ended, well or not.
    :param succeeded: requests answered with a status below 400.
    :param failed: requests answered otherwise, or reset.
    :param errored: requests lost to a connection error.
    :param timeout: requests that timed out.
    :param status: count per status class (``"2xx"`` ...).
    :param protocol: the application protocol (``h2``, ``h2c``), if printed.
    """

    requests_per_second: float
    total: int
    started: int
    done: int
    succeeded: int
    failed: int
    errored: int
    timeout: int
    status: dict[str, int] = field(default_factory=dict)
    protocol: str | None = None

    @property
    def clean(self) -> bool:
        """Every request that ended succeeded, and none failed, errored or timed out."""
        return self.done == self.succeeded and not (self.failed or self.errored or self.timeout)


def parse_h2load(output: str) -> H2LoadSummary:
    """Parse h2load's summary.

    :param output: h2load's standard output.
    :raises ValueError: there is no summary in it (h2load could not connect, say).
    """
    rps: float | None = None
    counts: dict[str, int] | None = None
    status: dict[str, int] = {}
    protocol = None
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("finished in "):
            rps = float(line.split(",")[1].split()[0])
        elif line.startswith("requests: "):
            # "requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, ..."
            counts = {
                word: int(number)
                for number, word in (part.split() for part in line[len("requests: "):].split(","))
            }
        elif line.startswith("status codes: "):
            for part in line[len("status codes: "):].split(","):
                number, kind = part.split()
                status[kind] = int(number)
        elif line.startswith("Application protocol: "):
            protocol = line.split(":", 1)[1].strip()
    if rps is None or counts is None:
        raise ValueError(f"no h2load summary in its output: {output.strip()[-300:]!r}")
    return H2LoadSummary(
        requests_per_second=rps,
        total=counts["total"],
        started=counts["started"],
        done=counts["done"],
        succeeded=counts["succeeded"],
        failed=counts["failed"],
        errored=counts["errored"],
        timeout=counts["timeout"],
        status=status,
        protocol=protocol,
    )


def h2load_command(
    url: str,
    *,
    requests: int | None = None,
    seconds: float | None = None,
    clients: int,
    streams: int,
    timeout: float = IO_TIMEOUT,
    cpu: int | None = None,
) -> list[str]:
    """The h2load invocation: a request count (``-n``) or a duration (``-D``), one thread.

    :param url: ``http://`` (prior knowledge, h2c) or ``https://`` (ALPN).
    :param requests: requests in all; or
    :param seconds: how long to run.
    :param clients: ``-c``, connections.
    :param streams: ``-m``, concurrent streams per connection.
    :param timeout: ``-T``, seconds a connection may stay silent.
    :param cpu: the CPU to pin h2load to, or ``None``.
    """
    if (requests is None) == (seconds is None):
        raise ValueError("give either requests or seconds")
    amount = ["-n", str(requests)] if requests is not None else ["-D", str(max(1, round(seconds or 0)))]
    command = [
        "h2load", "-t", "1", "-c", str(clients), "-m", str(streams), "-T", str(round(timeout)),
        *amount, url,
    ]
    return run._pinned(command, cpu)


# -- a small HTTP/2 client on the h2 library ---------------------------------


def h2_request(
    port: int,
    method: str,
    target: str,
    body: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request over a fresh h2c (prior knowledge) connection, for the smoke check.

    :param port: the server's port on ``127.0.0.1``.
    :param method: the request method.
    :param target: the path and query.
    :param body: the request body (small: it is sent without waiting for window).
    :param headers: further request fields.
    :returns: the status, the response fields and the body.
    :raises OSError: the connection failed, was reset or timed out.
    """
    import h2.config
    import h2.connection
    import h2.events

    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT) as sock:
        connection.initiate_connection()
        stream = connection.get_next_available_stream_id()
        fields = [
            (":method", method), (":scheme", "http"), (":authority", f"127.0.0.1:{port}"),
            (":path", target), *((name.lower(), value) for name, value in headers),
        ]
        if body:
            fields.append(("content-length", str(len(body))))
        connection.send_headers(stream, fields, end_stream=not body)
        if body:
            connection.send_data(stream, body, end_stream=True)
        sock.sendall(connection.data_to_send())
        status, message, chunks = 0, http.client.HTTPMessage(), []
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                raise ConnectionResetError("the server closed the connection before answering")
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    for name, value in event.headers:
                        name, value = _text(name), _text(value)
                        if name == ":status":
                            status = int(value)
                        else:
                            message[name] = value
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                    chunks.append(event.data)
                    connection.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                    return status, message, b"".join(chunks)
                elif isinstance(event, h2.events.StreamReset | h2.events.ConnectionTerminated):
                    raise ConnectionResetError(f"the server ended the exchange: {event}")
            sock.sendall(connection.data_to_send())
    raise TimeoutError(f"no complete answer in {IO_TIMEOUT:.0f} s")


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def smoke_check(url: str, scenario: run.Scenario) -> str | None:
    """Send the scenario's request once over h2c; a problem, or ``None`` if answered right."""
    port = int(url.rsplit(":", 1)[1])
    try:
        status, headers, body = h2_request(
            port, scenario.method, scenario.target, scenario.body, scenario.headers
        )
    except (OSError, ValueError) as exc:
        return f"request failed: {exc}"
    return scenario.check(status, headers, body)


def measure_idle_streams(
    port: int, pid: int, connections: int, streams: int
) -> dict[str, Any]:
    """Hold *connections* HTTP/2 connections, each with *streams* open streams, and weigh them.

    Each stream is a ``POST /form`` announcing a 1 KB body that never comes, so
    every server keeps it open waiting.  Resident memory is read from ``/proc``
    after a full request has loaded the code paths, then with everything held.

    :param port: the server's port on ``127.0.0.1`` (h2c).
    :param pid: the server's process group.
    :param connections: connections to hold.
    :param streams: streams to open on each.
    :returns: ``held`` (connections whose every stream stayed open and that
        still answered a PING at the end), ``streams_refused``,
        ``rss_idle_kib``, ``rss_held_kib``, ``kib_per_connection``, ``error``.
    """
    import h2.config
    import h2.connection
    import h2.events

    scenario = next(s for s in run.SCENARIOS if s.name == "form")
    h2_request(port, "GET", "/")
    time.sleep(0.5)
    idle = rss_kib(pid)
    held: list[tuple[socket.socket, Any]] = []
    refused = 0
    error = None
    try:
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
            connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            connection.initiate_connection()
            for _ in range(streams):
                connection.send_headers(connection.get_next_available_stream_id(), [
                    (":method", "POST"), (":scheme", "http"), (":authority", f"127.0.0.1:{port}"),
                    (":path", scenario.target), ("content-type", scenario.headers[0][1]),
                    ("content-length", str(len(scenario.body))),
                ])
            sock.sendall(connection.data_to_send())
            held.append((sock, connection))
        time.sleep(1.0)
        alive = 0
        for sock, connection in held:
            connection.ping(b"crosswnd")
            sock.sendall(connection.data_to_send())
            acked, resets, ended = _await_ping_ack(sock, connection, h2.events)
            refused += resets
            alive += acked and not resets and not ended
        full = rss_kib(pid)
    except OSError as exc:
        error, alive, full = f"{type(exc).__name__}: {exc}", 0, None
    finally:
        for sock, _ in held:
            sock.close()
    return {
        "wanted": connections, "streams": streams, "held": alive, "streams_refused": refused,
        "rss_idle_kib": idle, "rss_held_kib": full,
        "kib_per_connection": (full - idle) / alive if idle and full and alive else None,
        "error": error,
    }


def _await_ping_ack(sock: socket.socket, connection: Any, events: Any) -> tuple[bool, int, bool]:
    """Read until the PING is acknowledged: (acknowledged, streams reset, connection ended)."""
    resets = 0
    deadline = time.monotonic() + IO_TIMEOUT
    while time.monotonic() < deadline:
        data = sock.recv(65536)
        if not data:
            return False, resets, True
        for event in connection.receive_data(data):
            if isinstance(event, events.StreamReset):
                resets += 1
            elif isinstance(event, events.ConnectionTerminated):
                return False, resets, True
            elif isinstance(event, events.PingAckReceived):
                sock.sendall(connection.data_to_send())
                return True, resets, False
        sock.sendall(connection.data_to_send())
    return False, resets, False


def rss_kib(pgid: int) -> int | None:
    """The resident memory of process group *pgid* in KiB, from ``/proc``, or ``None``.

    The group, not one process: hypercorn serves from a worker process it forks.
    """
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            if int(text[text.rindex(")") + 2:].split()[2]) != pgid:
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    found = True
    return total if found else None


# -- who is measured ---------------------------------------------------------


@dataclass(frozen=True)
class H2Row:
    """One row: a server and the protocol its load speaks.

    :param server: the server (``run.Server``: its command, the modules it needs).
    :param http2: h2load over h2c when true, wrk over HTTP/1.1 otherwise.
    :param idle_streams: whether the memory figure is taken for it.
    """

    server: run.Server
    http2: bool = True
    idle_streams: bool = True

    @property
    def name(self) -> str:
        return self.server.name


def _crosswind(name: str, app: str, *flags: str) -> run.Server:
    needs = {"web": "crosswind.web", "flask": "crosswind.app"}[app]
    # The HTTP/2 rows need the HTTP/2 protocol too; without it they are reported as missing.
    modules = (needs, "crosswind.backends.asyncio", *(("crosswind.protocol.http2",) if flags else ()))
    return run.Server(
        name, run._script("crosswind_server.py", "--backend", "asyncio", "--app", app, *flags),
        needs=modules,
    )


ROWS: tuple[H2Row, ...] = (
    H2Row(_crosswind("crosswind-asyncio-h2", "web", "--http2")),
    H2Row(_crosswind("crosswind-flask-style-asyncio-h2", "flask", "--http2"), idle_streams=False),
    # Hypercorn answers HTTP/2 prior knowledge on its cleartext port.
    H2Row(run.Server(HYPERCORN, run._hypercorn("asyncio"), needs=("starlette", "hypercorn"))),
    H2Row(_crosswind("crosswind-asyncio-http1", "web"), http2=False, idle_streams=False),
)


# -- the campaign ------------------------------------------------------------


@dataclass
class Measured:
    """One measured (round, row, scenario), or why it could not be."""

    round: int
    row: str
    scenario: str
    rps: float | None = None
    requests: int = 0
    bad: int = 0
    cpu_us: float | None = None
    error: str | None = None
    unavailable: bool = False


def _load(row: H2Row, url: str, scenario: run.Scenario, seconds: float, args: argparse.Namespace,
          cpu: int | None, pace: float | None = None) -> tuple[float, int, int]:
    """Run the load once: (requests/s, requests completed, requests that went wrong).

    :param pace: for HTTP/2, the requests/s a warm-up run measured: the run then makes
        a fixed number of requests, about *seconds* worth, rather than stopping on time.
        Stopped on time, h2load drops the up to ``-c`` x ``-m`` requests still in
        flight from its count, though the server did their work: at 320 in flight
        and 1,000 req/s, a third more CPU per request than was spent.
    """
    timeout = seconds + 30
    if row.http2 and pace:
        # A whole number of requests per stream, so every stream ends at about the same time.
        in_flight = args.connections * args.streams
        requests = max(2, round(pace * seconds / in_flight)) * in_flight
        command = h2load_command(
            url + scenario.target, requests=requests, clients=args.connections,
            streams=args.streams, cpu=cpu,
        )
        timeout = 4 * seconds + 30
    elif row.http2:
        command = h2load_command(
            url + scenario.target, seconds=seconds, clients=args.connections,
            streams=args.streams, cpu=cpu,
        )
    else:
        command = run.wrk_command(url, scenario, seconds, args.connections, cpu)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        raise run.ServerFailed(
            f"{command[0]} exited with {completed.returncode}: {completed.stderr.strip()[-200:]}"
        )
    if row.http2:
        summary = parse_h2load(completed.stdout)
        return summary.requests_per_second, summary.succeeded, (
            summary.done - summary.succeeded + summary.errored + summary.timeout
        )
    result = run.parse_wrk(completed.stdout)
    return result.requests_per_second, result.requests, sum(result.socket_errors.values()) + result.non_2xx


def _measure_idle(row: H2Row, args: argparse.Namespace, server_cpu: int | None,
                  log_dir: Path) -> dict[str, Any] | None:
    """The memory figure of *row*, from a server of its own: a process that has served load
    already has heap to spare, which would hide what the held streams cost."""
    try:
        with run.running(row.server, server_cpu, log_dir) as live:
            port = int(live.url.rsplit(":", 1)[1])
            result = measure_idle_streams(
                port, live.process.pid, args.idle_connections, args.idle_streams
            )
    except run.ServerUnavailable:
        return None
    except run.ServerFailed as exc:
        result = {"wanted": args.idle_connections, "streams": args.idle_streams, "held": 0,
                  "streams_refused": 0, "rss_idle_kib": None, "rss_held_kib": None,
                  "kib_per_connection": None, "error": str(exc)}
    print(f"  [-] {row.name:<34} idle    {_kib(result['kib_per_connection'])} per connection, "
          f"{result['held']}/{result['wanted']} held", flush=True)
    return result


def _measure_row(
    measured: list[Measured], round_index: int, row: H2Row,
    scenarios: Sequence[run.Scenario], args: argparse.Namespace,
    server_cpu: int | None, client_cpu: int | None, log_dir: Path,
) -> None:
    def record(scenario: str, **outcome: Any) -> None:
        measured.append(Measured(round_index, row.name, scenario, **outcome))
        last = measured[-1]
        shown = f"{last.rps:,.0f} req/s" if last.rps is not None else f"FAILED: {last.error}"
        print(f"  [{round_index + 1}] {row.name:<34} {scenario:<7} {shown}", flush=True)

    done: set[str] = set()
    try:
        with run.running(row.server, server_cpu, log_dir) as live:
            for scenario in scenarios:
                check = smoke_check if row.http2 else run.smoke_check
                problem = check(live.url, scenario)
                if problem:
                    record(scenario.name, error=f"wrong answer: {problem}")
                    done.add(scenario.name)
                    continue
                try:
                    pace, _, _ = _load(row, live.url, scenario, args.warmup, args, client_cpu)
                    before = live.cpu_seconds()
                    rps, requests, bad = _load(
                        row, live.url, scenario, args.duration, args, client_cpu, pace
                    )
                    after = live.cpu_seconds()
                    live.check_alive()
                except (subprocess.TimeoutExpired, ValueError) as exc:
                    record(scenario.name, error=f"load failed: {exc}")
                else:
                    cpu_us = (
                        (after - before) / requests * 1e6
                        if before is not None and after is not None and requests else None
                    )
                    record(scenario.name, rps=rps, requests=requests, bad=bad, cpu_us=cpu_us)
                done.add(scenario.name)
    except run.ServerFailed as exc:
        unavailable = isinstance(exc, run.ServerUnavailable)
        for scenario in scenarios:
            if scenario.name not in done:
                record(scenario.name, error=str(exc), unavailable=unavailable)


def summarize(
    measured: list[Measured], rows: Sequence[H2Row], scenarios: Sequence[run.Scenario]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per row and scenario: median requests/s and CPU per request over the rounds."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        for scenario in scenarios:
            mine = [m for m in measured if m.row == row.name and m.scenario == scenario.name]
            good = [m for m in mine if m.rps is not None]
            table.setdefault(row.name, {})[scenario.name] = {
                "rps": run._median([m.rps for m in good if m.rps is not None]),
                "cpu_us": run._median([m.cpu_us for m in good if m.cpu_us is not None]),
                "rounds": len(good),
                "bad": sum(m.bad for m in good),
                "errors": sorted({m.error for m in mine if m.error}),
                "unavailable": any(m.unavailable for m in mine),
            }
    return table


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return mine / theirs if mine and theirs else None


def targets(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[run.Scenario]
) -> list[str]:
    """The issue's targets restated: ratios to hypercorn and to HTTP/1.1, met or missed."""
    lines = []
    for scenario in scenarios:
        theirs = table.get(HYPERCORN, {}).get(scenario.name, {}).get("rps")
        for name in ("crosswind-asyncio-h2", "crosswind-flask-style-asyncio-h2"):
            ratio = _ratio(table.get(name, {}).get(scenario.name, {}).get("rps"), theirs)
            lines.append(_verdict(
                f"{scenario.name}: {name} / {HYPERCORN} req/s", ratio,
                ratio is not None and ratio >= THROUGHPUT_TARGET, f">= {THROUGHPUT_TARGET:.0f}x",
            ))
        for h2_name, h1_name in HTTP1_OF.items():
            ratio = _ratio(
                table.get(h2_name, {}).get(scenario.name, {}).get("cpu_us"),
                table.get(h1_name, {}).get(scenario.name, {}).get("cpu_us"),
            )
            lines.append(_verdict(
                f"{scenario.name}: {h2_name} / {h1_name} CPU per request", ratio,
                ratio is not None and ratio <= CPU_TARGET, f"<= {CPU_TARGET}x",
            ))
    return lines


def _verdict(what: str, ratio: float | None, met: bool, target: str) -> str:
    if ratio is None:
        return f"{what}: not measured (target {target})"
    return f"{what}: {ratio:.2f}x (target {target}: {'met' if met else 'missed'})"


def _kib(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f} KiB"


def _rows_text(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[run.Scenario]
) -> list[list[str]]:
    def cell(values: dict[str, Any]) -> str:
        if values["rps"] is None:
            return "not installed" if values["unavailable"] else ("FAILED" if values["errors"] else "-")
        cpu = f"{values['cpu_us']:.0f} us" if values["cpu_us"] is not None else "? us"
        return f"{values['rps']:,.0f} req/s, {cpu}{' !' if values['bad'] or values['errors'] else ''}"

    return [["row", *(s.name for s in scenarios)]] + [
        [name, *(cell(row[s.name]) for s in scenarios)] for name, row in table.items()
    ]


def _idle_rows(idle: dict[str, Any]) -> list[list[str]]:
    rows = [["row", "connections held", "streams each", "KiB per connection", "RSS idle -> held"]]
    for name, result in idle.items():
        rows.append([
            name, f"{result['held']}/{result['wanted']}", str(result["streams"]),
            _kib(result["kib_per_connection"]),
            f"{_kib(result['rss_idle_kib'])} -> {_kib(result['rss_held_kib'])}"
            + (f" ({result['error']})" if result["error"] else "")
            + (f", {result['streams_refused']} streams reset" if result["streams_refused"] else ""),
        ])
    return rows


def problems(table: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Errors and requests that went wrong, per row and scenario."""
    notes = []
    for name, row in table.items():
        for scenario, values in row.items():
            if values["unavailable"]:
                continue
            notes += [f"{name} / {scenario}: {error}" for error in values["errors"]]
            if values["bad"]:
                notes.append(f"{name} / {scenario}: {values['bad']} requests failed (summed)")
    return notes


def render(
    table: dict[str, dict[str, dict[str, Any]]], idle: dict[str, Any],
    scenarios: Sequence[run.Scenario], meta: dict[str, Any],
) -> tuple[str, str]:
    """The terminal text and the Markdown report."""
    rows, idle_rows, lines, notes = _rows_text(table, scenarios), _idle_rows(idle), targets(
        table, scenarios), problems(table)
    text = [run._fixed_width(rows), "", "targets:", *lines]
    if len(idle_rows) > 1:
        text += ["", run._fixed_width(idle_rows)]
    if notes:
        text += ["", "Problems:", *(f"- {note}" for note in notes)]
    facts = meta["machine"]
    markdown = [
        "# crosswind HTTP/2 benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}`",
        f"- commit: {facts['commit']}",
        f"- machine: {facts['nproc']} CPUs ({facts['cpu_model']}), {facts['platform']}; load "
        f"average at the start {' '.join(map(str, meta['load_at_start']))}, at the end "
        f"{' '.join(map(str, facts['load_average']))}; waited "
        f"{meta.get('settled_seconds', 0)} s for the machine to settle first",
        f"- load: h2load -c {meta['connections']} -m {meta['streams']} (h2c) and wrk -c "
        f"{meta['connections']} (HTTP/1.1), {meta['warmup']} s warm-up, {meta['duration']} s "
        f"measured, {meta['rounds']} rounds, median shown; {meta['pinning']}",
        f"- {meta['h2load']}; packages: "
        + ", ".join(f"{k} {v}" for k, v in facts["packages"].items()),
        "",
        "A cell is median requests/s, then the server's CPU per request.",
        "",
        *run._markdown_table(rows),
        "",
        "## Targets",
        "",
        *(f"- {line}" for line in lines),
    ]
    if len(idle_rows) > 1:
        markdown += ["", "## Memory per connection with idle streams", "",
                     *run._markdown_table(idle_rows)]
    if notes:
        markdown += ["", "## Problems", "", *(f"- {note}" for note in notes)]
    return "\n".join(text), "\n".join(markdown) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the HTTP/2 benchmark; the exit status is 1 when an installed row could not be measured.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (order alternates)")
    parser.add_argument("--connections", type=int, default=32, help="connections (h2load -c, wrk -c)")
    parser.add_argument("--streams", type=int, default=10, help="streams per connection (h2load -m)")
    parser.add_argument(
        "--idle-connections", type=int, default=200,
        help="connections held for the memory figure (0: skip it)",
    )
    parser.add_argument("--idle-streams", type=int, default=100, help="open streams on each")
    parser.add_argument("--only", metavar="NAME,NAME", help="rows to run")
    parser.add_argument("--scenarios", metavar="NAME,NAME", help="scenarios (hello, params)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 s, 2 rounds, 20 idle connections")
    parser.add_argument("--list", action="store_true", help="list rows and scenarios, then exit")
    args = parser.parse_args(argv)
    if args.list:
        print("rows:     ", ", ".join(row.name for row in ROWS))
        print("scenarios:", ", ".join(SCENARIO_NAMES))
        return 0
    if args.quick:
        args.duration, args.warmup, args.rounds = 1.0, 1.0, 2
        args.idle_connections = min(args.idle_connections, 20)
    if args.duration <= 0 or args.warmup <= 0 or args.rounds < 1 or args.connections < 1:
        parser.error("--duration and --warmup must be positive, --rounds and --connections >= 1")
    for tool, package in (("h2load", "nghttp2-client"), ("wrk", "wrk")):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install {package}, or `make bench`)")
    rows = run._select(args.only, ROWS, "row")
    known = [s for s in run.SCENARIOS if s.name in SCENARIO_NAMES]
    scenarios = run._select(args.scenarios, known, "scenario")

    signal.signal(signal.SIGTERM, run._exit_on_signal)
    server_cpu, client_cpu, pinning = run._cpus()
    h2load_version = subprocess.run(["h2load", "--version"], capture_output=True, text=True)
    # What ran before (make bench's WebSocket capacity section) may still be winding down.
    settled = run.settle()
    meta: dict[str, Any] = {
        "settled_seconds": round(settled, 1),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": run._command_line(),
        "pinning": pinning.replace("wrk on", "h2load and wrk on"),
        "load_at_start": [round(value, 2) for value in os.getloadavg()],
        "connections": args.connections, "streams": args.streams,
        "warmup": args.warmup, "duration": args.duration, "rounds": args.rounds,
        "h2load": h2load_version.stdout.strip() or "h2load",
    }
    print(f"{len(rows)} rows x {len(scenarios)} scenarios x {args.rounds} rounds; {meta['pinning']}")
    measured: list[Measured] = []
    idle: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="crosswind-bench-h2-") as scratch:
        log_dir = Path(scratch)
        for round_index in range(args.rounds):
            order = rows if round_index % 2 == 0 else rows[::-1]
            for row in order:
                _measure_row(measured, round_index, row, scenarios, args, server_cpu,
                             client_cpu, log_dir)
        if args.idle_connections > 0:
            for row in rows:
                result = _measure_idle(row, args, server_cpu, log_dir) if row.idle_streams else None
                if result is not None:
                    idle[row.name] = result
    meta["machine"] = run.machine_facts()
    table = summarize(measured, rows, scenarios)
    text, markdown = render(table, idle, scenarios, meta)
    print()
    print(text)
    run.RESULTS_DIR.mkdir(exist_ok=True)
    path = run.RESULTS_DIR / f"http2-{meta['machine']['commit']}.md"
    path.write_text(markdown, "utf-8")
    (run.RESULTS_DIR / "http2-latest.json").write_text(json.dumps(
        {"meta": meta, "summary": table, "idle_streams": idle,
         "runs": [vars(m) for m in measured]}, indent=2) + "\n", "utf-8")
    print(f"\nwrote {path} and http2-latest.json")
    failed = any(m.error and not m.unavailable for m in measured) or any(
        not result["held"] for result in idle.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
