"""Where the time of one request goes: a request/response cycle measured in memory, layer by layer.

No sockets and no event loop, so what is left is pure Python per request:

* ``h11``: a bare ``h11.Connection`` parses the request and serializes the
  response, as a minimal h11 server would.
* ``ServerConnection``: crosswind's policy layer (head screening, limits,
  keep-alive) around each protocol engine, driven by hand: ``h11`` parses
  the screened bytes again, ``native`` takes the screened parse as it is.
* ``driver + web app``: the whole path a backend runs, through
  :func:`crosswind.testing.serve_bytes`: driver, exchange, ``crosswind.web``
  routing and handler, with each engine.  Keep-alive rows serve many
  requests on one connection; the ``new connection`` row pays connection
  setup every time.

Each row is timed in loops of many cycles (timeit-style), a few repeats,
and the median is reported in microseconds per cycle.  The difference
between rows is what each layer adds.

Usage: ``python bench/bench_h11_cycle.py [--repeat 5] [--min-time 0.2]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import h11

sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))

import crosswind.web  # noqa: E402
from crosswind.protocol.events import EndOfMessage, Request  # noqa: E402
from crosswind.protocol.http1.connection import ServerConnection  # noqa: E402
from crosswind.testing import serve_bytes  # noqa: E402
from handlers import routes  # noqa: E402
from scenarios import FORM_FIELD_COUNT, HELLO_BODY, PARAMS_TARGET, form_body  # noqa: E402

__all__ = ["CASES", "main", "measure"]

# What wrk sends: the request line and a Host header, nothing else.
HELLO_REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
PARAMS_REQUEST = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n" % PARAMS_TARGET.encode()
FORM_REQUEST = (
    b"POST /form HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
    % (len(form_body()), form_body())
)
# The headers crosswind.web sends for the hello handler, so h11 does the same work.
RESPONSE_HEADERS = [
    (b"Content-Type", b"text/plain; charset=utf-8"),
    (b"Server", b"crosswind"),
    (b"Content-Length", b"%d" % len(HELLO_BODY)),
]

APP = crosswind.web.Application(routes(crosswind.web))

#: A case runs *n* request/response cycles and returns the bytes of the last response.
Case = Callable[[int], bytes]


def bare_h11(n: int) -> bytes:
    """*n* hello cycles on one keep-alive ``h11.Connection``.

    :param n: cycles to run.
    """
    conn = h11.Connection(h11.SERVER)
    out = b""
    for _ in range(n):
        conn.receive_data(HELLO_REQUEST)
        while type(conn.next_event()) is not h11.EndOfMessage:
            pass
        out = conn.send(h11.Response(status_code=200, headers=RESPONSE_HEADERS, reason=b"OK"))
        out += conn.send(h11.Data(data=HELLO_BODY))
        out += conn.send(h11.EndOfMessage())
        conn.start_next_cycle()
    return out


def _server_connection(engine: str, request: bytes) -> Case:
    def run(n: int) -> bytes:
        return server_connection(n, engine, request)

    return run


def server_connection(n: int, engine: str = "h11", request: bytes = HELLO_REQUEST) -> bytes:
    """*n* hello cycles on one keep-alive crosswind ``ServerConnection``.

    :param n: cycles to run.
    :param engine: the protocol engine.
    :param request: the request to serve each time.
    """
    conn = ServerConnection(clock=time.monotonic, engine=engine)
    out = b""
    for _ in range(n):
        conn.receive_data(request)
        event = conn.next_event()
        assert type(event) is Request
        while type(conn.next_event()) is not EndOfMessage:
            pass
        out = conn.send_response(200, RESPONSE_HEADERS, b"OK")
        out += conn.send_data(HELLO_BODY)
        out += conn.send_end()
        conn.start_next_cycle()
    return out


def _driver(request: bytes, engine: str) -> Case:
    def run(n: int) -> bytes:
        return serve_bytes(APP, [request] * n, engine=engine)

    return run


def _driver_new_connection(request: bytes, engine: str) -> Case:
    def run(n: int) -> bytes:
        out = b""
        for _ in range(n):
            out = serve_bytes(APP, [request], engine=engine)
        return out

    return run


_FORM_END = str(FORM_FIELD_COUNT).encode()

CASES: list[tuple[str, Case, bytes]] = [("h11 (hello)", bare_h11, HELLO_BODY)]
for _engine in ("h11", "native"):
    CASES += [
        (f"ServerConnection, {_engine} (hello)",
         _server_connection(_engine, HELLO_REQUEST), HELLO_BODY),
        (f"ServerConnection, {_engine} (form)", _server_connection(_engine, FORM_REQUEST),
         HELLO_BODY),
    ]
for _engine in ("h11", "native"):
    CASES += [
        (f"driver + web app, {_engine}, keep-alive (hello)",
         _driver(HELLO_REQUEST, _engine), HELLO_BODY),
        (f"driver + web app, {_engine}, new connection (hello)",
         _driver_new_connection(HELLO_REQUEST, _engine), HELLO_BODY),
        (f"driver + web app, {_engine}, keep-alive (params)",
         _driver(PARAMS_REQUEST, _engine), b"}"),
        (f"driver + web app, {_engine}, keep-alive (form)",
         _driver(FORM_REQUEST, _engine), _FORM_END),
    ]


def measure(case: Case, repeat: int, min_time: float) -> float:
    """Median microseconds per cycle of *case*.

    :param case: runs *n* cycles.
    :param repeat: timed repeats; the median is taken.
    :param min_time: seconds one repeat should last at least (sets the loop count).
    """
    loops = 1
    while True:
        start = time.perf_counter()
        case(loops)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4 or loops >= 1 << 20:
            break
        loops *= 4
    loops = max(1, int(loops * min_time / max(elapsed, 1e-9)))
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        case(loops)
        timings.append((time.perf_counter() - start) / loops)
    return statistics.median(timings) * 1e6


def main(argv: list[str] | None = None) -> None:
    """Measure every case and print µs per cycle.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description="Per-request cost of each layer, in memory.")
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats per case")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per repeat")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.min_time <= 0:
        parser.error("--repeat must be >= 1 and --min-time positive")
    print(f"python {sys.version.split()[0]}, h11 {h11.__version__}; "
          f"median of {args.repeat} repeats of >= {args.min_time} s\n")
    print(f"{'case':<52} {'us/cycle':>9} {'cycles/s':>10}")
    for name, case, expected_end in CASES:
        last = case(2)
        # A case that stopped answering correctly would time the wrong thing.
        if not (last.startswith(b"HTTP/1.1 200 ") and last.endswith(expected_end)):
            raise SystemExit(f"{name}: unexpected response {last[:120]!r}")
        micros = measure(case, args.repeat, args.min_time)
        print(f"{name:<52} {micros:>9.1f} {1e6 / micros:>10,.0f}", flush=True)


if __name__ == "__main__":
    main()
