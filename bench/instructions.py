"""Instructions per request, counted by callgrind: a yardstick that machine noise cannot move.

Each case serves the same request many times in memory (``crosswind.testing.serve_bytes``,
the whole path a backend runs, without sockets) under ``valgrind --tool=callgrind``, once
with zero requests and once with ``--requests`` of them; the difference, divided by the
count, is what one request costs.  Hash randomization and, where ``setarch -R`` may turn
it off, address-space randomization are fixed, so that dict layouts, and with them the
counts, repeat from run to run of one tree exactly (with addresses random they spread by
about 0.5 %).  Wall-clock figures on a shared machine vary by 10-20 %, which makes these the
way to tell whether a small change to the hot path helped.

Needs valgrind (``apt-get install valgrind``).  Usage::

    python bench/instructions.py                       # every case
    python bench/instructions.py web-hello app-hello   # some
    python bench/instructions.py --requests 5000

Cases: ``exchange-hello`` (a bare ``Exchange`` application: driver and protocol only),
``web-hello``, ``web-params``, ``web-form`` (``crosswind.web`` handlers of the benchmark),
``app-hello``, ``app-params``, ``app-form`` (the same as ``crosswind.app`` views), and
``h2-hello``: the ``crosswind.web`` hello (its clock stopped, so that every run sends
the same ``Date``) over HTTP/2 (a prior-knowledge ``h2c``
connection, ``h2_memory.py``), requests in rounds of ten concurrent streams on one
connection as ``h2load -m 10`` sends them.  Counted there: h2 (frames, HPACK, its state
machine), the connection, driver and exchange of ``crosswind.protocol.http2``, the
handler, and the few lines of ``h2_memory``'s scheduler that run each stream's task (no
event loop).  Not counted: the client, whose bytes h2's client side makes beforehand for
as many requests in the zero run as in the full one, so that its cost cancels out.
``h2-bare`` is h2 alone on the same conversation: a bare h2 server connection answering
each request with the same fields and body, the library's part of ``h2-hello``.
``asyncio-hello``, ``asyncio-close``: the ``crosswind.web`` hello served by the asyncio
backend over loopback TCP, to a client in the same event loop that sends one request at a
time, on one kept-alive connection or on a new connection each (``Connection: close``).
Those two count the event loop, the backend and the client too (the client's share is the
same whatever the server does), never the kernel's work.  ``asyncio-wsecho`` is the same for
WebSocket: one upgraded connection to the benchmark's ``/echo`` handler
(``servers/ws_handlers.py``), one 16-byte text message echoed at a time; "per request" is per
round trip there.
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
#: Instructions per request of the cases the current performance round set a target
#: for, as counted when it began; the round aims to cut each by at least ROUND_CUT.
ROUND_START: dict[str, int] = {
    "web-hello": 192_000, "app-hello": 194_000, "web-form": 557_000, "app-form": 677_000,
}
ROUND_CUT = 0.35
CASES = (
    "exchange-hello", "web-hello", "web-params", "web-form", "app-hello", "app-params", "app-form",
    "h2-hello", "h2-bare", "asyncio-hello", "asyncio-close", "asyncio-wsecho",
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
if layer == "h2":
    import h2_memory
    made = int(sys.argv[4]) if sys.argv[3:4] == ["--made"] else count
    hello = h2_memory.hello_app()
    h2_memory.serve(hello, h2_memory.client_bytes(h2_memory.new_client(), 200))
    client = h2_memory.new_client()
    chunks = h2_memory.client_bytes(client, max(count, made))
    rounds = -(-count // h2_memory.STREAMS)
    serve = h2_memory.serve_bare if scenario == "bare" else lambda chunks: h2_memory.serve(hello, chunks)
    sent = serve(chunks[: 1 + rounds])
    if sys.argv[3:] == ["--show"]:  # the test of this runner
        print(*h2_memory.statuses(client, sent))
    raise SystemExit
if layer == "asyncio":
    import asyncio
    import socket
    from crosswind.backends.asyncio import start_server

    async def client(port, count, close):
        loop = asyncio.get_running_loop()
        request = cycle.HELLO_REQUEST
        if close:
            request = request.replace(b"\\r\\n\\r\\n", b"\\r\\nConnection: close\\r\\n\\r\\n")
        sock = None
        statuses = []
        for _ in range(count):
            if sock is None:
                sock = socket.socket()
                sock.setblocking(False)
                await loop.sock_connect(sock, ("127.0.0.1", port))
            await loop.sock_sendall(sock, request)
            received = b""
            while not received.endswith(b"Hello, world!"):
                data = await loop.sock_recv(sock, 65536)
                assert data, "the server closed early"
                received += data
            statuses.append(received[9:12].decode())
            if close:
                while await loop.sock_recv(sock, 65536):
                    pass
                sock.close()
                sock = None
        if sock is not None:
            sock.close()
        return statuses

    async def ws_client(port, count, frame, reply):
        # One upgraded connection, then *count* echoes of *frame*, masked once.
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port))
        await loop.sock_sendall(sock, (
            "GET /echo HTTP/1.1\\r\\nHost: bench\\r\\nUpgrade: websocket\\r\\n"
            "Connection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n"
            "Sec-WebSocket-Version: 13\\r\\n\\r\\n"
        ).encode())
        head = b""
        while b"\\r\\n\\r\\n" not in head:
            head += await loop.sock_recv(sock, 4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        echoed = []
        for _ in range(count):
            await loop.sock_sendall(sock, frame)
            received = b""
            while len(received) < len(reply):
                data = await loop.sock_recv(sock, 65536)
                assert data, "the server closed early"
                received += data
            echoed.append("echoed" if received == reply else repr(received))
        sock.close()
        return echoed

    async def main():
        if scenario == "wsecho":
            import crosswind.web
            import crosswind.websocket
            import websocket as wsbench
            from ws_handlers import routes

            message = b"0123456789abcdef"
            frames = wsbench.client_frame(1, message), wsbench.server_frame(1, message)
            app = crosswind.web.Application(routes(crosswind.websocket))
            server = await start_server(app, port=0)
            port = server.sock.getsockname()[1]
            await ws_client(port, 200, *frames)
            statuses = await ws_client(port, count, *frames)
            await server.shutdown()
            return statuses
        server = await start_server(cycle.APP, port=0)
        port = server.sock.getsockname()[1]
        await client(port, 200, scenario == "close")
        statuses = await client(port, count, scenario == "close")
        await server.shutdown()
        return statuses

    statuses = asyncio.run(main())
    if sys.argv[3:] == ["--show"]:  # the test of this runner
        print(*statuses)
    raise SystemExit
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


def count_instructions(case: str, requests: int, made: int = 0) -> int:
    """Instructions callgrind counts for the whole process serving *requests* of *case*.

    :param made: how many requests a case with a client of its own (``h2-hello``) makes
        the bytes of, at least *requests*.
    """
    runner = _RUNNER.format(servers=str(BENCH / "servers"), bench=str(BENCH))
    result = subprocess.run(
        [*_fixed_layout(), "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", runner, case, str(requests), "--made", str(max(made, requests))],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise SystemExit(f"{case}: no instruction count in valgrind's output")
    return int(found.group(1))


def _fixed_layout() -> list[str]:
    """The command prefix that turns address-space randomization off, where it can.

    Objects hashed by address (classes, functions) land in other dict slots when the
    addresses move, and the counts of one tree then spread by about 0.5 % from run to
    run; with the layout fixed they repeat exactly.  Without ``setarch``, or where the
    sandbox forbids it, the counts are taken with the layout random.
    """
    if shutil.which("setarch") is None:
        return []
    probe = subprocess.run(["setarch", "-R", "true"], capture_output=True)
    return ["setarch", "-R"] if probe.returncode == 0 else []


def per_request(case: str, requests: int) -> int:
    """Instructions one request of *case* costs: a count with *requests*, less one with none.

    :param case: one of :data:`CASES`.
    :param requests: how many requests the second count serves.
    """
    base = count_instructions(case, 0, made=requests)
    full = count_instructions(case, requests)
    return (full - base) // requests


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
    print(f"{'case':<16} {'instructions/request':>21}  target")
    for case in args.cases or CASES:
        count = per_request(case, args.requests)
        print(f"{case:<16} {count:>21,}  {_target(case, count)}".rstrip(), flush=True)


def _target(case: str, count: int) -> str:
    start = ROUND_START.get(case)
    if start is None:
        return ""
    cut = 1 - count / start
    return f"{cut:.0%} below {start:,} (≥{ROUND_CUT:.0%}: {'met' if cut >= ROUND_CUT else 'missed'})"


if __name__ == "__main__":
    main()
