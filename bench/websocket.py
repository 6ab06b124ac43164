"""WebSocket benchmarks: echo round trips, 1 MiB messages, fan-out, and 10,000 idle connections.

Each server row serves ``/echo`` and ``/fanout`` (``servers/ws_server.py``,
``servers/ws_starlette.py``) pinned to one CPU, as in ``run.py``; the load
comes from client processes pinned to the other CPU.  The client is written
to cost the server's CPU as little as it can: blocking-free raw sockets under
one ``selectors`` loop per process, frames masked once before the run (a
fixed masking key; the server cannot tell), and replies counted by length
with their header checked, never parsed.  Its CPU time is reported next to
every figure, so a client that was the bottleneck shows itself.

Scenarios (each server is checked with a real echo and a real fan-out first):

* ``echo``: 32 connections each send a 16-byte text message, wait for its
  echo, and repeat; round trips per second and the latency of one.
* ``echo-1mib``: 4 connections doing the same with 1 MiB binary messages.
* ``fanout``: 1,000 connections on ``/fanout``; one of them publishes a
  message, which the server writes to all 1,000, and the next is published
  when the last has arrived; messages delivered per second and the time
  from publishing to the last delivery.
* capacity (the crosswind backends): hold 10,000 idle connections, report
  the server's resident memory per connection above the idle process, check
  every connection still answers, and time a new connection plus one echo
  with and without them held.

``python bench/websocket.py`` runs it alone (``--quick`` for a smoke run);
``python bench/run.py`` runs it after the HTTP table.  Figures go to
``results/websocket-COMMIT.md``; ``NOTES.md`` keeps their reading.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import multiprocessing
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (the HTTP harness beside this file: servers, pinning, tables)

__all__ = [
    "CAPACITY_CONNECTIONS",
    "WS_SCENARIOS",
    "WS_SERVERS",
    "WsScenario",
    "WsServer",
    "client_frame",
    "main",
    "render_markdown",
    "render_text",
    "run_section",
    "server_frame",
]

HOST = "127.0.0.1"
#: Every wait of the client is bounded by this many seconds.
IO_TIMEOUT = 10.0
#: The connections the capacity run holds.
CAPACITY_CONNECTIONS = 10_000
#: An echo connection waiting this long for its reply at the end of a run failed.
STALL_SECONDS = 5.0
#: Seconds the held connections have to answer one echo sent to all of them at once.
CHECK_TIMEOUT = 10.0
#: New connection + one echo, timed this many times in a row for the capacity table.
PROBES = 200
#: ``Limits.max_connections`` for crosswind rows: room for the capacity run and its probes.
MAX_CONNECTIONS = CAPACITY_CONNECTIONS + 1_000
#: The RSS-per-connection goal of the asyncio backend, in KiB.
RSS_TARGET_KIB = 20.0

_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
_ACCEPT = base64.b64encode(
    hashlib.sha1((_KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
)
_MASK = b"\x3c\x91\x5a\x07"
TEXT, BINARY = 0x1, 0x2


# -- frames ----------------------------------------------------------------------


def _length_field(size: int, mask_bit: int) -> bytes:
    if size < 126:
        return bytes([mask_bit | size])
    if size < 1 << 16:
        return bytes([mask_bit | 126]) + size.to_bytes(2, "big")
    return bytes([mask_bit | 127]) + size.to_bytes(8, "big")


def client_frame(opcode: int, payload: bytes, mask: bytes = _MASK) -> bytes:
    """One final, masked frame as a client must send it (RFC 6455 section 5.3).

    :param opcode: ``TEXT`` or ``BINARY``.
    :param payload: the message.
    :param mask: the four-byte masking key.
    """
    size = len(payload)
    key = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
    return bytes([0x80 | opcode]) + _length_field(size, 0x80) + mask + masked


def server_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame, as the server's echo of *payload* must look.

    :param opcode: ``TEXT`` or ``BINARY``.
    :param payload: the message.
    """
    return bytes([0x80 | opcode]) + _length_field(len(payload), 0) + payload


def handshake(port: int, path: str, timeout: float = IO_TIMEOUT) -> socket.socket:
    """Open a connection and upgrade it; the socket is left non-blocking.

    :param port: the server's port on 127.0.0.1.
    :param path: ``/echo`` or ``/fanout``.
    :param timeout: seconds for the connection and the ``101``.
    :raises OSError: the connection failed, or the answer was not a ``101`` that accepts our key.
    """
    sock = socket.create_connection((HOST, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("closed during the handshake")
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101") or _ACCEPT not in head:
            raise OSError(f"handshake refused: {head[:80]!r}")
        if rest:
            raise OSError("bytes after the 101 before any message was sent")
        sock.setblocking(False)
        return sock
    except BaseException:
        sock.close()
        raise


def _recv_exact(sock: socket.socket, size: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < size:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    sock.setblocking(False)
    return bytes(data)


def smoke(port: int, fanout: bool) -> str | None:
    """Check one server's answers byte for byte: a problem description, or ``None``.

    :param port: the server's port.
    :param fanout: also check ``/fanout`` reaches two connections.
    """
    try:
        deadline = time.monotonic() + IO_TIMEOUT
        with contextlib.closing(handshake(port, "/echo")) as sock:
            for opcode, payload in ((TEXT, "héllo".encode()), (BINARY, bytes(range(256)) * 300)):
                sock.setblocking(True)
                sock.sendall(client_frame(opcode, payload))
                want = server_frame(opcode, payload)
                got = _recv_exact(sock, len(want), deadline)
                if got != want:
                    return f"/echo answered {got[:20]!r}..., not the echo of {payload[:10]!r}..."
        if fanout:
            with contextlib.closing(handshake(port, "/fanout")) as one, contextlib.closing(
                handshake(port, "/fanout")
            ) as two:
                time.sleep(0.05)  # let the server add both before the message
                one.setblocking(True)
                one.sendall(client_frame(TEXT, b"to all"))
                want = server_frame(TEXT, b"to all")
                for sock in (one, two):
                    if _recv_exact(sock, len(want), deadline) != want:
                        return "/fanout did not reach both connections"
    except OSError as exc:
        return f"smoke check failed: {exc}"
    return None


# -- the client processes ----------------------------------------------------------


def _cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pin(cpu: int | None) -> None:
    if cpu is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def _echo_worker(
    pipe: Connection, port: int, connections: int, opcode: int, size: int, cpu: int | None
) -> None:
    """Drive *connections* echo loops; report round trips, latencies and CPU of the measured window.

    Protocol with the parent: send ``("ready", error)``, receive
    ``(start, end)`` in monotonic seconds, send the result.
    """
    _pin(cpu)
    try:
        socks = [handshake(port, "/echo") for _ in range(connections)]
    except OSError as exc:
        pipe.send(("ready", f"connecting: {exc}"))
        return
    pipe.send(("ready", None))
    start, end = pipe.recv()
    payload = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    frame = memoryview(client_frame(opcode, payload))
    reply = server_frame(opcode, payload)
    total, header = len(reply), reply[: len(reply) - size]
    buffer = bytearray(max(total, 65536))
    view = memoryview(buffer)
    selector = selectors.DefaultSelector()
    # Per socket: [bytes of the reply received, bytes of the frame sent, when sent].
    state = {sock.fileno(): [0, 0, 0.0] for sock in socks}
    by_fd = {sock.fileno(): sock for sock in socks}
    latencies: list[float] = []
    done = 0
    error = None
    clock = time.perf_counter
    monotonic = time.monotonic

    def send(fd: int) -> None:
        st = state[fd]
        st[1] += by_fd[fd].send(frame[st[1]:])
        if st[1] < len(frame):
            selector.modify(by_fd[fd], selectors.EVENT_WRITE)
        elif st[1] == len(frame):
            st[1] = -1  # all sent: wait for the reply
            selector.modify(by_fd[fd], selectors.EVENT_READ)

    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    # The load starts now: what comes before *start* is the warm-up.
    for fd in state:
        state[fd][2] = clock()
        send(fd)
    cpu_before, measuring, started_wall = None, False, 0.0
    try:
        while True:
            now = monotonic()
            if not measuring and now >= start:
                measuring, cpu_before, done, latencies = True, _cpu_now(), 0, []
                started_wall = now
            if now >= end:
                break
            events = selector.select(min(1.0, max(0.0, end - now)))
            for key, mask in events:
                fd = key.fd
                st = state[fd]
                if mask & selectors.EVENT_WRITE:
                    send(fd)
                    continue
                got = by_fd[fd].recv_into(view[st[0]:total] if total <= len(buffer) else view)
                if not got:
                    raise OSError("the server closed a connection")
                if st[0] == 0 and got >= len(header) and buffer[: len(header)] != header:
                    raise OSError(f"unexpected reply {bytes(buffer[:12])!r}")
                st[0] += got
                if st[0] < total:
                    continue
                if st[0] > total:
                    raise OSError("more bytes than the echo")
                done += 1
                t = clock()
                latencies.append(t - st[2])
                st[0], st[1], st[2] = 0, 0, t
                send(fd)
        cpu_after = _cpu_now()
        wall = monotonic() - started_wall if measuring else 0.0
        # A lost reply stalls its connection while the others go on: say so.
        now = clock()
        stuck = sum(1 for st in state.values() if now - st[2] > STALL_SECONDS)
        if stuck:
            error = f"{stuck} connection(s) waited over {STALL_SECONDS:g} s for an echo"
    except OSError as exc:
        pipe.send({"error": str(exc)})
        return
    finally:
        for sock in socks:
            sock.close()
    pipe.send({
        "error": error, "done": done, "wall": wall,
        "cpu": (cpu_after - cpu_before) if cpu_before is not None else None,
        # Enough for percentiles without shipping millions of floats.
        "latencies": latencies[:: max(1, len(latencies) // 20_000)],
    })


def _fanout_worker(pipe: Connection, port: int, connections: int, cpu: int | None) -> None:
    """Hold *connections* on ``/fanout``, publish from the first, time each message to the last.

    Same protocol with the parent as :func:`_echo_worker`.
    """
    _pin(cpu)
    try:
        socks = [handshake(port, "/fanout") for _ in range(connections)]
    except OSError as exc:
        pipe.send(("ready", f"connecting: {exc}"))
        return
    pipe.send(("ready", None))
    start, end = pipe.recv()
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    size = 16
    buffer = bytearray(4096)
    view = memoryview(buffer)
    frame_size = size + 2
    pending = {sock.fileno(): 0 for sock in socks}
    by_fd = {sock.fileno(): sock for sock in socks}
    publisher = socks[0]
    clock = time.perf_counter
    times: list[float] = []
    error, messages, cpu_before, wall = None, 0, None, 0.0
    seq = 0
    try:
        measuring = False
        started_wall = 0.0
        while time.monotonic() < end:
            if not measuring and time.monotonic() >= start:
                measuring, cpu_before, times, messages = True, _cpu_now(), [], 0
                started_wall = time.monotonic()
            seq += 1
            payload = f"{seq:016d}".encode()
            expected = server_frame(TEXT, payload)
            publisher.setblocking(True)
            sent = clock()
            publisher.sendall(client_frame(TEXT, payload))
            publisher.setblocking(False)
            missing = connections
            give_up = time.monotonic() + IO_TIMEOUT
            while missing:
                events = selector.select(max(0.0, give_up - time.monotonic()))
                if not events:
                    raise OSError(f"{missing} of {connections} connections never got message {seq}")
                for key, _ in events:
                    got = by_fd[key.fd].recv_into(view)
                    if not got:
                        raise OSError("the server closed a connection")
                    if got == frame_size and buffer[:got] != expected:
                        raise OSError(f"unexpected message {bytes(buffer[:got])!r}")
                    pending[key.fd] += got
                    if pending[key.fd] >= frame_size:
                        pending[key.fd] -= frame_size
                        missing -= 1
            times.append(clock() - sent)
            messages += 1
        if measuring:
            wall = time.monotonic() - started_wall
        cpu_after = _cpu_now()
    except OSError as exc:
        pipe.send({"error": str(exc)})
        return
    finally:
        for sock in socks:
            sock.close()
    pipe.send({
        "error": error, "done": messages * connections, "messages": messages, "wall": wall,
        "cpu": (cpu_after - cpu_before) if cpu_before is not None else None, "latencies": times,
    })


def _hold_worker(pipe: Connection, port: int, connections: int, cpu: int | None) -> None:
    """Open up to *connections* idle echo connections and hold them until told.

    Sends ``("held", count, error)``; on ``"check"`` sends one small echo on
    each and reports how many answered; on ``"close"`` closes them all.
    """
    _pin(cpu)
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    socks: list[socket.socket] = []
    error = None
    for _ in range(connections):
        try:
            socks.append(handshake(port, "/echo", timeout=5.0))
        except OSError as exc:
            error = f"connection {len(socks) + 1} of this process: {exc}"
            break
    pipe.send(("held", len(socks), error))
    try:
        while (command := pipe.recv()) != "close":
            if command == "check":
                pipe.send(_check_all(socks))
    finally:
        for sock in socks:
            sock.close()


def _check_all(socks: Sequence[socket.socket]) -> int:
    """Send one small echo on every socket at once; how many answered it in time."""
    frame, want = client_frame(TEXT, b"still there?"), server_frame(TEXT, b"still there?")
    selector = selectors.DefaultSelector()
    got = {}
    for sock in socks:
        try:
            sock.send(frame)
        except OSError:
            continue
        selector.register(sock, selectors.EVENT_READ)
        got[sock.fileno()] = b""
    answered = 0
    deadline = time.monotonic() + CHECK_TIMEOUT
    while got and time.monotonic() < deadline:
        for key, _ in selector.select(max(0.0, deadline - time.monotonic())):
            try:
                data = key.fileobj.recv(64)  # type: ignore[union-attr]
            except OSError:
                data = b""
            so_far = got.pop(key.fd) + data
            selector.unregister(key.fileobj)
            if data and so_far == want:
                answered += 1
            elif data and want.startswith(so_far):
                got[key.fd] = so_far
                selector.register(key.fileobj, selectors.EVENT_READ)
    return answered


def _probe_worker(pipe: Connection, port: int, count: int, cpu: int | None) -> None:
    """Time *count* new connections, each upgraded and answering one echo, one after another."""
    _pin(cpu)
    frame, want = client_frame(TEXT, b"probe"), server_frame(TEXT, b"probe")
    times, error = [], None
    for _ in range(count):
        started = time.perf_counter()
        try:
            sock = handshake(port, "/echo")
            try:
                sock.setblocking(True)
                sock.sendall(frame)
                if _recv_exact(sock, len(want), time.monotonic() + IO_TIMEOUT) != want:
                    raise OSError("wrong echo")
            finally:
                sock.close()
        except OSError as exc:
            error = str(exc)
            break
        times.append(time.perf_counter() - started)
    pipe.send({"latencies": times, "error": error})


@contextlib.contextmanager
def _workers(
    target: Callable[..., None], jobs: Sequence[tuple[Any, ...]]
) -> Iterator[list[tuple[Any, Connection]]]:
    """Fork one process per job with a pipe to it; always reap them."""
    context = multiprocessing.get_context("fork")
    started = []
    try:
        for job in jobs:
            mine, theirs = context.Pipe()
            process = context.Process(target=target, args=(theirs, *job), daemon=True)
            process.start()
            theirs.close()
            started.append((process, mine))
        yield started
    finally:
        for process, pipe in started:
            pipe.close()
            process.join(IO_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()


def _receive(pipe: Connection, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise TimeoutError(f"a client process said nothing for {timeout:.0f} s")
    return pipe.recv()


# -- what is measured ------------------------------------------------------------


@dataclass(frozen=True)
class WsScenario:
    """One kind of WebSocket load.

    :param name: the column name.
    :param unit: what the rate counts.
    :param connections: connections driven at once.
    :param processes: client processes they are spread over.
    :param size: message bytes.
    :param opcode: ``TEXT`` or ``BINARY``.
    :param fanout: a fan-out run rather than echo loops.
    """

    name: str
    unit: str
    connections: int
    processes: int = 1
    size: int = 16
    opcode: int = TEXT
    fanout: bool = False


WS_SCENARIOS: tuple[WsScenario, ...] = (
    WsScenario("echo", "round trips/s", 32),
    WsScenario("echo-1mib", "MiB/s each way", 4, size=1 << 20, opcode=BINARY),
    WsScenario("fanout", "deliveries/s", 1000, fanout=True),
)


@dataclass(frozen=True)
class WsServer:
    """One row: how to start it, and what it serves.

    :param name: the row name (as in ``run.py`` where the same server appears there).
    :param argv: given the port, the command serving on ``127.0.0.1:port``.
    :param needs: modules that must be importable.
    :param fanout: serves ``/fanout``.
    :param backend: the crosswind backend, for rows measured for capacity.
    :param served_from: for rows running crosswind code, the command taken from
        another tree's ``bench/servers`` (how ``run.py`` makes a baseline row).
    :param server: the ``run.py`` row itself, when made elsewhere (a baseline row).
    """

    name: str
    argv: Callable[[int], list[str]]
    needs: tuple[str, ...] = ()
    fanout: bool = True
    backend: str | None = None
    served_from: run.Launch | None = None
    server: run.Server | None = None

    def as_server(self) -> run.Server:
        """The same row as ``run.running`` starts it."""
        if self.server is not None:
            return self.server
        return run.Server(
            self.name, self.argv, needs=self.needs, smoke_check=False,
            served_from=self.served_from,
        )


def _ws_script(*args: str, servers: Path = run.SERVERS_DIR) -> Callable[[int], list[str]]:
    script = str(servers / "ws_server.py")
    return lambda port: [sys.executable, script, *args, "--port", str(port)]


def _crosswind(backend: str, impl: str = "web", name: str | None = None) -> WsServer:
    args = ("--impl", impl, "--backend", backend, "--max-connections", str(MAX_CONNECTIONS))
    return WsServer(
        name or f"crosswind-{backend}",
        _ws_script(*args),
        needs=(f"crosswind.backends.{backend}",),
        fanout=impl == "web",
        backend=backend if impl == "web" else None,
        served_from=lambda servers: _ws_script(*args, servers=servers),
    )


def with_baselines(servers: Sequence[WsServer], baseline: run.Baseline | None) -> list[WsServer]:
    """*servers*, each crosswind row followed by the same row served from *baseline*.

    :param servers: the rows selected.
    :param baseline: the exported commit, or ``None``.
    """
    rows: list[WsServer] = []
    for server in servers:
        rows.append(server)
        if baseline is not None and server.served_from is not None:
            twin = run.baseline_server(server.as_server(), baseline)
            rows.append(WsServer(twin.name, twin.argv, twin.needs, server.fanout, server=twin))
    return rows


def _uvicorn_ws(implementation: str) -> Callable[[int], list[str]]:
    return lambda port: [
        sys.executable, "-m", "uvicorn", "ws_starlette:app", "--app-dir", str(run.SERVERS_DIR),
        "--host", HOST, "--port", str(port), "--workers", "1", "--no-access-log",
        "--log-level", "warning", "--loop", "asyncio", "--http", "h11", "--ws", implementation,
        # No keep-alive pings within a run, as on every other row (0 would ping without pause).
        "--ws-ping-interval", "3600",
    ]


WS_SERVERS: tuple[WsServer, ...] = (
    _crosswind("asyncio"),
    _crosswind("asyncio", "flask", "crosswind-flask-style-asyncio"),
    _crosswind("trio"),
    _crosswind("threads"),
    WsServer("tornado", _ws_script("--impl", "tornado"), needs=("tornado",)),
    WsServer(
        "starlette-uvicorn-websockets", _uvicorn_ws("websockets"),
        needs=("starlette", "uvicorn", "websockets"),
    ),
    WsServer(
        "starlette-uvicorn-wsproto", _uvicorn_ws("wsproto"), needs=("starlette", "uvicorn", "wsproto"),
    ),
)


def measure_scenario(
    port: int, scenario: WsScenario, warmup: float, duration: float, cpu: int | None,
    server_cpu: Callable[[], float | None],
) -> dict[str, Any]:
    """One measured run of *scenario* against the server on *port*.

    :returns: ``rate`` (per second, in the scenario's unit), ``p50_ms``,
        ``p99_ms``, ``client_cpu`` (share of one CPU over the measured
        window, all client processes), ``server_cpu_us`` (per round trip or
        delivery), or ``error``.
    """
    per = scenario.connections // scenario.processes
    if scenario.fanout:
        target, jobs = _fanout_worker, [(port, scenario.connections, cpu)]
    else:
        target = _echo_worker
        jobs = [(port, per, scenario.opcode, scenario.size, cpu)] * scenario.processes
    with _workers(target, jobs) as workers:
        for _, pipe in workers:
            _, problem = _receive(pipe, IO_TIMEOUT * 3)
            if problem:
                return {"error": problem}
        start = time.monotonic() + warmup
        end = start + duration
        for _, pipe in workers:
            pipe.send((start, end))
        time.sleep(max(0.0, start - time.monotonic()))
        server_before = server_cpu()
        time.sleep(max(0.0, end - time.monotonic()))
        server_after = server_cpu()
        results = [_receive(pipe, IO_TIMEOUT * 2) for _, pipe in workers]
    errors = [r["error"] for r in results if r.get("error")]
    if errors:
        return {"error": errors[0]}
    done = sum(r["done"] for r in results)
    wall = max(r["wall"] for r in results) or duration
    if not done:
        return {"error": "nothing completed"}
    latencies = sorted(x for r in results for x in r["latencies"])
    rate = done / wall
    if scenario.size >= 1 << 20:
        rate = rate * scenario.size / (1 << 20)
    cpu_spent = sum(r["cpu"] or 0.0 for r in results)
    return {
        "rate": rate,
        "per_second": done / wall,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "client_cpu": cpu_spent / wall,
        "server_cpu_us": (
            (server_after - server_before) / done * 1e6
            if server_before is not None and server_after is not None else None
        ),
        "messages": results[0].get("messages"),
    }


def _percentile(ordered: Sequence[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_kib(pid: int) -> int | None:
    """The resident memory of process *pid* in KiB, from ``/proc``, or ``None``."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def _server_pid(process: subprocess.Popen[bytes]) -> int:
    """The server's own process: ``taskset`` execs it, so the child we started is it."""
    return process.pid


def measure_capacity(
    port: int, pid: int, connections: int, processes: int, cpu: int | None
) -> dict[str, Any]:
    """Hold *connections* idle connections on the server (process *pid*) and see what they cost.

    :returns: ``held``, ``answered`` (of those held, how many echoed once
        more at the end), ``rss_idle_kib``, ``rss_held_kib``,
        ``kib_per_connection``, ``probe_idle_ms`` and ``probe_held_ms``
        (p50 and p99 of a new connection plus one echo), ``open_seconds``,
        ``error`` (why opening stopped short).
    """
    with _workers(_probe_worker, [(port, 5, cpu)]) as warm:  # code paths loaded before idle RSS
        _receive(warm[0][1], IO_TIMEOUT * 2)
    time.sleep(0.5)
    idle = rss_kib(pid)
    with _workers(_probe_worker, [(port, PROBES, cpu)]) as probe:
        before = _receive(probe[0][1], IO_TIMEOUT * 6)
    share = [connections // processes + (i < connections % processes) for i in range(processes)]
    started = time.monotonic()
    with _workers(_hold_worker, [(port, n, cpu) for n in share]) as holders:
        reports = [_receive(pipe, IO_TIMEOUT + 60) for _, pipe in holders]
        opened = time.monotonic() - started
        held = sum(report[1] for report in reports)
        errors = [report[2] for report in reports if report[2]]
        time.sleep(1.0)
        full = rss_kib(pid)
        with _workers(_probe_worker, [(port, PROBES, cpu)]) as probe:
            after = _receive(probe[0][1], IO_TIMEOUT * 6)
        for _, pipe in holders:
            pipe.send("check")
        answered = sum(_receive(pipe, CHECK_TIMEOUT + IO_TIMEOUT) for _, pipe in holders)
        for _, pipe in holders:
            pipe.send("close")

    def ms(result: dict[str, Any]) -> tuple[float, float] | None:
        times = sorted(result["latencies"])
        return (_percentile(times, 50) * 1000, _percentile(times, 99) * 1000) if times else None

    return {
        "held": held, "answered": answered, "wanted": connections,
        "rss_idle_kib": idle, "rss_held_kib": full,
        "kib_per_connection": (full - idle) / held if idle and full and held else None,
        "probe_idle_ms": ms(before), "probe_held_ms": ms(after),
        "probe_errors": [e for e in (before["error"], after["error"]) if e],
        "open_seconds": opened, "error": errors[0] if errors else None,
    }


# -- the campaign ----------------------------------------------------------------


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_section(
    *, duration: float, warmup: float, rounds: int, only: Sequence[str] | None = None,
    scenarios: Sequence[str] | None = None, capacity: int = CAPACITY_CONNECTIONS,
    log_dir: Path | None = None, echo: Callable[[str], None] = print,
    baseline: run.Baseline | None = None,
) -> dict[str, Any]:
    """Measure every WebSocket row: the scenarios in *rounds* alternating rounds, then capacity.

    :param duration: measured seconds per (row, scenario, round).
    :param warmup: seconds of load before each measured window.
    :param rounds: rounds; the row order reverses every other one.
    :param only: row names to keep (``None`` for all); names of ``run.py`` rows are ignored.
    :param scenarios: scenario names to run (``None`` for all); ``capacity`` is one.
    :param capacity: connections the capacity run holds (0 skips it).
    :param log_dir: where server logs go (a temporary folder by default).
    :param echo: prints progress.
    :param baseline: also serve each crosswind row from this export (``NAME@REF``),
        right after the row in every round; capacity is measured on the working tree only.
    :returns: ``table`` (row -> scenario -> cell), ``capacity`` (row ->
        result), ``meta`` (settings and pinning).
    """
    _raise_fd_limit()
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    servers = with_baselines([s for s in WS_SERVERS if only is None or s.name in only], baseline)
    chosen = [s for s in WS_SCENARIOS if scenarios is None or s.name in scenarios]
    want_capacity = capacity > 0 and (scenarios is None or "capacity" in scenarios)
    server_cpu_id, client_cpu_id, pinning = run._cpus()
    pinning = pinning.replace("wrk", "the WebSocket client processes")
    runs: list[dict[str, Any]] = []
    capacity_results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        if log_dir is None:
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crosswind-ws-")))
        for round_index in range(rounds):
            order = servers if round_index % 2 == 0 else servers[::-1]
            for server in order:
                row = [s for s in chosen if server.fanout or not s.fanout]
                runs += _measure_row(
                    server, row, round_index, duration, warmup, server_cpu_id, client_cpu_id,
                    log_dir, echo,
                )
        if want_capacity:
            for server in servers:
                if server.backend is None:
                    continue
                capacity_results[server.name] = _capacity_row(
                    server, capacity, server_cpu_id, client_cpu_id, log_dir, echo
                )
    return {
        "table": summarize(runs, servers, chosen),
        "capacity": capacity_results,
        "runs": runs,
        "meta": {
            "pinning": pinning, "duration": duration, "warmup": warmup, "rounds": rounds,
            "scenarios": [s.name for s in chosen], "capacity_connections": capacity,
            "baseline": None if baseline is None else f"{baseline.ref} = {baseline.short}",
            "load_at_start": load_at_start,
        },
    }


def _measure_row(
    server: WsServer, scenarios: Sequence[WsScenario], round_index: int, duration: float,
    warmup: float, server_cpu_id: int | None, client_cpu_id: int | None, log_dir: Path,
    echo: Callable[[str], None],
) -> list[dict[str, Any]]:
    runs = []

    def record(scenario: WsScenario, outcome: dict[str, Any]) -> None:
        runs.append({"round": round_index, "server": server.name, "scenario": scenario.name}
                    | outcome)
        shown = (
            f"{outcome['rate']:,.0f} {scenario.unit} p99 {outcome['p99_ms']:.2f}ms "
            f"client CPU {outcome['client_cpu']:.0%}"
            if "rate" in outcome else f"FAILED: {outcome['error']}"
        )
        echo(f"  [{round_index + 1}] {server.name:<30} {scenario.name:<9} {shown}")

    try:
        with run.running(server.as_server(), server_cpu_id, log_dir) as live:
            port = int(live.url.rsplit(":", 1)[1])
            problem = smoke(port, server.fanout and any(s.fanout for s in scenarios))
            if problem:
                for scenario in scenarios:
                    record(scenario, {"error": f"wrong answer: {problem}"})
                return runs
            for scenario in scenarios:
                try:
                    outcome = measure_scenario(
                        port, scenario, warmup, duration, client_cpu_id, live.cpu_seconds
                    )
                    live.check_alive()
                except (TimeoutError, run.ServerFailed) as exc:
                    outcome = {"error": str(exc)}
                record(scenario, outcome)
    except run.ServerFailed as exc:
        unavailable = isinstance(exc, run.ServerUnavailable)
        for scenario in scenarios:
            if not any(r["scenario"] == scenario.name for r in runs):
                record(scenario, {"error": str(exc), "unavailable": unavailable})
    return runs


def _capacity_row(
    server: WsServer, connections: int, server_cpu_id: int | None, client_cpu_id: int | None,
    log_dir: Path, echo: Callable[[str], None],
) -> dict[str, Any]:
    try:
        with run.running(server.as_server(), server_cpu_id, log_dir) as live:
            port = int(live.url.rsplit(":", 1)[1])
            result = measure_capacity(
                port, _server_pid(live.process), connections,
                max(1, min(4, connections // 2500)), client_cpu_id,
            )
            live.check_alive()
    except (TimeoutError, run.ServerFailed) as exc:
        result = {"error": str(exc), "held": 0}
    shown = (
        f"held {result['held']:,} of {connections:,}, "
        + (f"{result['kib_per_connection']:.1f} KiB each" if result.get("kib_per_connection")
           else "RSS ?")
        if result.get("held") else f"FAILED: {result['error']}"
    )
    echo(f"  capacity {server.name:<30} {shown}")
    return result


def summarize(
    runs: list[dict[str, Any]], servers: Sequence[WsServer], scenarios: Sequence[WsScenario]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Medians over rounds per row and scenario.

    :param runs: every measured run.
    :param servers: the rows, in table order.
    :param scenarios: the columns.
    """
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for server in servers:
        row = table.setdefault(server.name, {})
        for scenario in scenarios:
            mine = [r for r in runs if r["server"] == server.name and r["scenario"] == scenario.name]
            good = [r for r in mine if "rate" in r]

            def median(key: str, good: list[dict[str, Any]] = good) -> float | None:
                values = [r[key] for r in good if r.get(key) is not None]
                return statistics.median(values) if values else None

            row[scenario.name] = {
                "rate": median("rate"), "per_second": median("per_second"),
                "p50_ms": median("p50_ms"), "p99_ms": median("p99_ms"),
                "client_cpu": median("client_cpu"), "server_cpu_us": median("server_cpu_us"),
                "rounds": len(good), "measured": bool(mine),
                "errors": sorted({r["error"] for r in mine if r.get("error")}),
            }
    return table


# -- the report ------------------------------------------------------------------

#: The project's goals for the echo scenario: row, peer, how many times the peer's rate.
ECHO_TARGETS: tuple[tuple[str, str, float], ...] = (
    ("crosswind-asyncio", "tornado", 2.0),
    ("crosswind-asyncio", "starlette-uvicorn-websockets", 1.0),
    ("crosswind-flask-style-asyncio", "tornado", 2.0),
    ("crosswind-flask-style-asyncio", "starlette-uvicorn-websockets", 1.0),
)


def _cell(cell: dict[str, Any]) -> str:
    if cell["rate"] is None:
        return "FAILED" if cell["errors"] else "-"
    flag = " !" if cell["errors"] else ""
    return (
        f"{cell['rate']:,.0f} p50 {run._fmt_ms(cell['p50_ms'])} p99 {run._fmt_ms(cell['p99_ms'])} "
        f"[client {cell['client_cpu']:.0%}]{flag}"
    )


def _cpu_cell(cell: dict[str, Any]) -> str:
    if cell["server_cpu_us"] is None:
        return "-"
    busy = cell["server_cpu_us"] * (cell["per_second"] or 0) / 1e4
    return f"{cell['server_cpu_us']:.1f}" + (f" ({busy:.0f}%)" if busy else "")


def _rows(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[str],
    cell: Callable[[dict[str, Any]], str],
) -> list[list[str]]:
    return [["server", *scenarios]] + [
        [name, *(cell(row[s]) for s in scenarios)] for name, row in table.items()
    ]


def target_lines(table: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The echo goals, one sentence each, met or missed in this run.

    :param table: from :func:`summarize`.
    """
    lines = []
    for ours, peer, goal in ECHO_TARGETS:
        mine = table.get(ours, {}).get("echo", {}).get("rate")
        theirs = table.get(peer, {}).get("echo", {}).get("rate")
        if not mine or not theirs:
            lines.append(f"{ours} vs {peer} echo: not measured (target ≥{goal:g}x)")
            continue
        ratio = mine / theirs
        verdict = "met" if ratio >= goal else "missed"
        lines.append(
            f"{ours} vs {peer} echo: {ratio:.2f}x ({mine:,.0f} / {theirs:,.0f} round trips/s); "
            f"target ≥{goal:g}x {verdict}"
        )
    return lines


def _capacity_rows(capacity: dict[str, dict[str, Any]]) -> list[list[str]]:
    def pair(value: tuple[float, float] | None) -> str:
        return "-" if not value else f"{value[0]:.2f} / {value[1]:.2f}"

    rows = [[
        "server", "held (answering)", "RSS idle", "RSS held", "KiB / connection",
        "new conn + echo, idle server p50/p99 ms", "same, with them held", "open time",
    ]]
    for name, result in capacity.items():
        if not result.get("held"):
            rows.append([name, f"FAILED: {result.get('error')}", *["-"] * 6])
            continue
        per = result.get("kib_per_connection")
        verdict = ""
        if per is not None and name == "crosswind-asyncio":
            verdict = " (≤20 met)" if per <= RSS_TARGET_KIB else " (≤20 missed)"
        rows.append([
            name, f"{result['held']:,} ({result['answered']:,})",
            f"{(result['rss_idle_kib'] or 0) / 1024:.1f} MiB",
            f"{(result['rss_held_kib'] or 0) / 1024:.1f} MiB",
            ("-" if per is None else f"{per:.1f}") + verdict,
            pair(result.get("probe_idle_ms")), pair(result.get("probe_held_ms")),
            f"{result['open_seconds']:.1f} s",
        ])
    return rows


def _problems(section: dict[str, Any]) -> list[str]:
    notes = []
    for server, row in section["table"].items():
        for scenario, cell in row.items():
            notes += [f"{server} / {scenario}: {error}" for error in cell["errors"]]
    for server, result in section["capacity"].items():
        if result.get("error"):
            notes.append(f"{server} / capacity: stopped opening: {result['error']}")
        notes += [f"{server} / capacity probe: {e}" for e in result.get("probe_errors", [])]
    return notes


def render_text(section: dict[str, Any]) -> str:
    """The section for the terminal.

    :param section: from :func:`run_section`.
    """
    names = section["meta"]["scenarios"]
    parts = [
        "WebSocket: rate (echo: round trips/s; echo-1mib: MiB/s each way; fanout: deliveries/s), "
        "p50/p99 of one round trip or of one message reaching every socket, [client CPU]",
        run._fixed_width(_rows(section["table"], names, _cell)),
        "\nserver CPU per round trip or delivery (us), and (CPU busy):",
        run._fixed_width(_rows(section["table"], names, _cpu_cell)),
    ]
    if section["capacity"]:
        parts += ["\nWebSocket capacity:", run._fixed_width(_capacity_rows(section["capacity"]))]
    parts += ["\nWebSocket targets:", *(f"- {line}" for line in target_lines(section["table"]))]
    problems = _problems(section)
    if problems:
        parts += ["\nWebSocket problems:", *(f"- {note}" for note in problems)]
    return "\n".join(parts)


def render_markdown(section: dict[str, Any], heading: str = "##") -> list[str]:
    """The section as Markdown lines, under *heading*-level titles.

    :param section: from :func:`run_section`.
    :param heading: ``#`` characters of the section's title.
    """
    meta = section["meta"]
    names = meta["scenarios"]
    lines = [
        f"{heading} WebSocket",
        "",
        f"- pinning: {meta['pinning']}",
        *([f"- baseline: {meta['baseline']}, its rows named `NAME@REF`"]
          if meta.get("baseline") else []),
        f"- load: warm-up {meta['warmup']} s, measured {meta['duration']} s per (server, "
        f"scenario), {meta['rounds']} round(s), order alternating; "
        + "; ".join(
            f"{s.name}: {s.connections} connection(s), {s.size:,}-byte "
            f"{'text' if s.opcode == TEXT else 'binary'} messages"
            for s in WS_SCENARIOS if s.name in names
        ),
        "",
        "Cells: median rate (echo: round trips/s; echo-1mib: MiB/s each way; fanout: "
        "deliveries/s, one published message reaching 1,000 sockets), p50 and p99 of one round "
        "trip (fanout: from publishing to the last socket), and [the client processes' CPU as a "
        "share of their one CPU]: near 100 % the client, not the server, set the pace.",
        "",
        *run._markdown_table(_rows(section["table"], names, _cell)),
        "",
        "Server CPU time per round trip or delivery in microseconds, and how busy it kept the "
        "server's CPU:",
        "",
        *run._markdown_table(_rows(section["table"], names, _cpu_cell)),
    ]
    if section["capacity"]:
        lines += [
            "",
            f"{heading}# WebSocket capacity",
            "",
            f"{meta['capacity_connections']:,} idle connections opened over several client "
            "processes, then: the server's resident memory with them held, per connection above "
            "the idle process (which already served a few connections); every connection sent "
            f"one more echo (answering); and {PROBES} new connections, each upgraded and echoing "
            "once, timed one after another before and while they were held.",
            "",
            *run._markdown_table(_capacity_rows(section["capacity"])),
        ]
    lines += ["", f"{heading}# WebSocket targets", "",
              *(f"- {line}" for line in target_lines(section["table"]))]
    problems = _problems(section)
    if problems:
        lines += ["", f"{heading}# WebSocket problems", "", *(f"- {note}" for note in problems)]
    return lines


def write_report(section: dict[str, Any], command: str) -> Path:
    """Write ``results/websocket-COMMIT.md`` and return its path.

    :param section: from :func:`run_section`.
    :param command: the command line that produced it.
    """
    facts = run.machine_facts()
    lines = [
        "# crosswind WebSocket benchmark results",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- command: `{command}`",
        f"- commit: {facts['commit']}",
        f"- machine: {facts['nproc']} CPUs ({facts['cpu_model']}), {facts['platform']}; "
        f"load average at the start {' '.join(map(str, section['meta']['load_at_start']))}, "
        f"at the end {' '.join(map(str, facts['load_average']))} (threads it started count)",
        f"- python: {facts['python']}; packages: "
        + ", ".join(f"{k} {v}" for k, v in _packages().items()),
        "",
        *render_markdown(section),
    ]
    run.RESULTS_DIR.mkdir(exist_ok=True)
    path = run.RESULTS_DIR / f"websocket-{facts['commit']}.md"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _packages() -> dict[str, str]:
    import importlib.metadata

    found = {}
    for name in ("wsproto", "tornado", "starlette", "uvicorn", "websockets", "trio"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def failed(section: dict[str, Any]) -> bool:
    """Whether an installed row could not be measured.

    :param section: from :func:`run_section`.
    """
    return any(r.get("error") and not r.get("unavailable") for r in section["runs"]) or any(
        not result.get("held") for result in section["capacity"].values()
    )


def main(argv: list[str] | None = None) -> int:
    """Run the WebSocket section alone; the exit status is 1 when a row could not be measured.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (order alternates)")
    parser.add_argument("--only", metavar="NAME,NAME", help="rows to run")
    parser.add_argument("--scenarios", metavar="NAME,NAME",
                        help="scenarios to run, capacity included")
    parser.add_argument("--capacity", type=int, default=CAPACITY_CONNECTIONS,
                        help="idle connections the capacity run holds (0: skip it)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 s, 1 round, 1,000 idle connections")
    parser.add_argument("--list", action="store_true", help="list rows and scenarios")
    parser.add_argument(
        "--baseline", metavar="REF",
        help="also serve every crosswind row from this commit (NAME@REF), as run.py does",
    )
    parser.add_argument(
        "--profile", metavar="FILE",
        help="serve the one crosswind row of --only under cProfile and write its report to FILE",
    )
    args = parser.parse_args(argv)
    if args.list:
        print("servers:  ", ", ".join(s.name for s in WS_SERVERS))
        print("scenarios:", ", ".join([*(s.name for s in WS_SCENARIOS), "capacity"]))
        return 0
    if args.quick:
        args.duration, args.warmup, args.rounds = 1.0, 0.5, 1
        args.capacity = min(args.capacity, 1000)
    known = {s.name for s in WS_SERVERS}
    only = [n.strip() for n in args.only.split(",")] if args.only else None
    scenarios = [n.strip() for n in args.scenarios.split(",")] if args.scenarios else None
    if only and set(only) - known:
        parser.error(f"unknown rows: {', '.join(set(only) - known)} (see --list)")
    if scenarios and set(scenarios) - {s.name for s in WS_SCENARIOS} - {"capacity"}:
        parser.error("unknown scenarios (see --list)")
    if args.profile:
        rows = [s for s in WS_SERVERS if only and s.name in only]
        if len(rows) != 1 or "tornado" in rows[0].name or "starlette" in rows[0].name:
            parser.error("--profile needs --only with one crosswind row")
        return _profile(rows[0], Path(args.profile), args, scenarios)
    with tempfile.TemporaryDirectory(prefix="crosswind-ws-") as scratch:
        baseline = None
        if args.baseline:
            (folder := Path(scratch, "baseline")).mkdir()
            try:
                baseline = run.prepare_baseline(args.baseline, folder)
            except ValueError as exc:
                parser.error(f"--baseline: {exc}")
        try:
            section = run_section(
                duration=args.duration, warmup=args.warmup, rounds=args.rounds, only=only,
                scenarios=scenarios, capacity=args.capacity, baseline=baseline,
            )
        except run.BaselineMismatch as exc:
            print(f"error: a baseline row would not run the baseline's code: {exc}",
                  file=sys.stderr)
            return 2
    print()
    print(render_text(section))
    path = write_report(section, run._command_line())
    print(f"\nwrote {path}")
    return 1 if failed(section) else 0


def _profile(
    server: WsServer, path: Path, args: argparse.Namespace, scenarios: list[str] | None
) -> int:
    """Measure *server* once while it runs under cProfile, and head the report with the load."""
    profiled = WsServer(
        server.name, lambda port: [*server.argv(port), "--profile", str(path.resolve())],
        needs=server.needs, fanout=server.fanout,
    )
    chosen = [s for s in WS_SCENARIOS if scenarios is None or s.name in scenarios]
    with tempfile.TemporaryDirectory(prefix="crosswind-ws-") as logs:
        runs = _measure_row(
            profiled, chosen, 0, args.duration, args.warmup, *run._cpus()[:2], Path(logs), print
        )
    if not path.exists():
        print(f"error: the server wrote no profile to {path}", file=sys.stderr)
        return 1
    load = "; ".join(
        f"{r['scenario']}: {r['rate']:,.0f}, client CPU {r['client_cpu']:.0%}" if "rate" in r
        else f"{r['scenario']}: FAILED {r['error']}" for r in runs
    )
    command = run._command_line()
    # The server's command names this checkout's folders: a committed profile should not.
    report = path.read_text("utf-8").replace(str(run.ROOT) + "/", "")
    path.write_text(f"# load: `{command}` ({load})\n" + report, "utf-8")
    return 1 if any(r.get("error") for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
