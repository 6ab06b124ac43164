"""HTTP/2 served in memory: the real driver, a client's bytes made beforehand, no event loop.

The ``h2-hello`` case of ``instructions.py`` runs on this.  :func:`client_bytes` builds a
prior-knowledge ``h2c`` conversation with h2's own client side: the preface and SETTINGS,
its acknowledgement of the server's SETTINGS, a connection window large enough for every
response, then *count* ``GET /`` requests in rounds of :data:`STREAMS` concurrent streams
(as ``h2load -m 10`` keeps ten streams open on each connection).  :func:`serve` feeds the
rounds to an :class:`~crosswind.protocol.http2.driver.H2ConnectionDriver` one at a time,
each once the server has nothing left to run, which is when a client that waits for its
responses would send the next one.

The driver's tasks (its reader, one per stream) run on :class:`Scheduler`, a first-in,
first-out queue of coroutines with one-shot signals: the few Python lines of a minimal
runtime, so that what is counted is the protocol, the driver and the application rather
than an event loop's bookkeeping (as ``serve_bytes`` counts no loop over HTTP/1.1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from crosswind.protocol.http2.driver import H2ConnectionDriver
from crosswind.protocol.transport import ConnectionInfo
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import RequestReceived, ResponseReceived
from hyperframe.frame import SettingsFrame

__all__ = ["FIXED_TIME", "HELLO_FIELDS", "STREAMS", "Scheduler", "client_bytes", "serve", "hello_app", "serve_bare", "statuses"]

#: Streams a client keeps open at once (``h2load -m``).
STREAMS = 10
_SETTINGS_ACK = SettingsFrame(0, flags=["ACK"]).serialize()
_REQUEST = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"bench"), (b":path", b"/")]


#: The POSIX time the hello application's clock stands at (see :func:`hello_app`).
FIXED_TIME = 1_765_000_000.0


def hello_app() -> Any:
    """The benchmark's ``crosswind.web`` application, its clock stopped at :data:`FIXED_TIME`.

    Every new ``Date`` value is a new entry in the HPACK encoder's dynamic table, which
    hpack searches field by field from end to end: with a running clock, the count
    would grow with the wall time of the run (a slower run, more dates, a longer
    table).  Stopped, every run sends the same fields.
    """
    import crosswind.web
    from handlers import routes

    return crosswind.web.Application(routes(crosswind.web), clock=lambda: FIXED_TIME)


def new_client() -> H2Connection:
    """h2's client side, as a benchmark client configures it."""
    return H2Connection(H2Configuration(client_side=True, header_encoding=None))


def client_bytes(client: H2Connection, count: int) -> list[bytes]:
    """What *client* sends to be answered *count* times: the opening, then a chunk per round.

    :param client: a fresh :func:`new_client`.
    :param count: requests, in rounds of :data:`STREAMS`.
    """
    client.initiate_connection()
    # Every response is a few bytes; one update covers them all, as h2load's does.
    client.increment_flow_control_window(2**31 - 1 - 65535)
    # The server's two SETTINGS are acknowledged unread: read, their stream limit would
    # make h2 refuse the requests past it, since this client never sees them answered.
    chunks = [client.data_to_send() + _SETTINGS_ACK * 2]
    for start in range(0, count, STREAMS):
        for _ in range(min(STREAMS, count - start)):
            client.send_headers(client.get_next_available_stream_id(), _REQUEST, end_stream=True)
        chunks.append(client.data_to_send())
    return chunks


def statuses(client: H2Connection, sent: bytes) -> list[int]:
    """The statuses of the responses in *sent*, read by the *client* that made the requests."""
    return [
        int(dict(event.headers or ())[b":status"])
        for event in client.receive_data(sent)
        if isinstance(event, ResponseReceived)
    ]


class _Signal:
    """A one-shot flag (the transport's :class:`~crosswind.protocol.transport.Signal`)."""

    __slots__ = ("_flag", "_scheduler", "_waiters")

    def __init__(self, scheduler: Scheduler) -> None:
        self._scheduler = scheduler
        self._flag = False
        self._waiters: list[Coroutine[Any, Any, Any]] = []

    def set(self) -> None:
        self._flag = True
        self._scheduler.ready.extend(self._waiters)
        self._waiters.clear()

    def is_set(self) -> bool:
        return self._flag

    def wait(self) -> _Signal:
        return self

    def __await__(self) -> Generator[Any, None, None]:
        if not self._flag:
            yield self


class Scheduler:
    """Coroutines run in turn until each ends or waits for a signal or for the client."""

    def __init__(self) -> None:
        self.ready: deque[Coroutine[Any, Any, Any]] = deque()

    def run(self, transport: _Transport) -> None:
        """Run until every task has ended, handing *transport*'s reader a chunk whenever all wait."""
        ready = self.ready
        while True:
            while ready:
                task = ready.popleft()
                try:
                    waited = task.send(None)
                except StopIteration:
                    continue
                if waited is transport:
                    transport.reader = task
                else:
                    waited._waiters.append(task)
            if transport.reader is None:
                return
            ready.append(transport.reader)
            transport.reader = None


class _Transport:
    """The server's side of the connection: the chunks to read, then EOF; what it sent."""

    blocking = False

    def __init__(self, chunks: list[bytes], scheduler: Scheduler) -> None:
        self._chunks = deque(chunks)
        self._scheduler = scheduler
        self.reader: Coroutine[Any, Any, Any] | None = None
        self.sent = bytearray()
        self.info = ConnectionInfo(peer=("127.0.0.1", 50000), local=("127.0.0.1", 80))

    def __await__(self) -> Generator[Any, None, bytes]:
        yield self  # the scheduler resumes the reader once nothing else can run
        return self._chunks.popleft() if self._chunks else b""

    def receive(self, deadline: float | None) -> _Transport:
        return self

    def send_nowait(self, data: bytes) -> None:
        self.sent += data

    async def send(self, data: bytes) -> None:
        self.sent += data

    async def close(self) -> None:
        pass

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        pass

    def start_soon(self, async_fn: Callable[[], Awaitable[None]]) -> None:
        self._scheduler.ready.append(async_fn())  # type: ignore[arg-type]

    def new_signal(self) -> _Signal:
        return _Signal(self._scheduler)


def serve(app: Any, chunks: list[bytes]) -> bytes:
    """Serve one HTTP/2 connection that receives *chunks*, then EOF; return what it sent.

    :param app: the application (``await app.handle(exchange)``).
    :param chunks: the client's bytes, the preface first (:func:`client_bytes`).
    """
    scheduler = Scheduler()
    transport = _Transport(chunks, scheduler)
    driver = H2ConnectionDriver(transport, app, clock=lambda: 0.0)  # type: ignore[arg-type]
    scheduler.ready.append(driver.run())  # type: ignore[arg-type]
    scheduler.run(transport)
    return bytes(transport.sent)


#: The hello response's fields as crosswind.web sends them (the date of :data:`FIXED_TIME`).
HELLO_FIELDS = [
    (b":status", b"200"), (b"server", b"crosswind"), (b"content-type", b"text/plain; charset=utf-8"),
    (b"date", b"Sat, 06 Dec 2025 05:46:40 GMT"),
    (b"etag", b'"943a702d06f34599aee1f8da8ef9f7296031d699"'), (b"content-length", b"13"),
]


def serve_bare(chunks: list[bytes]) -> bytes:
    """h2 alone on the same conversation: each request answered with :data:`HELLO_FIELDS`.

    A bare h2 server connection, configured as crosswind's (its header checks off), that
    sends the fields and ``Hello, world!`` for every request: the part of ``h2-hello``
    that is the library's, with no screening, limits, streams as tasks or application.
    """
    config = H2Configuration(
        client_side=False, header_encoding=None,
        validate_inbound_headers=False, normalize_inbound_headers=False,
        validate_outbound_headers=False, normalize_outbound_headers=False,
    )
    conn = H2Connection(config)
    conn.initiate_connection()
    sent = bytearray(conn.data_to_send())
    for chunk in chunks:
        for event in conn.receive_data(chunk):
            if type(event) is RequestReceived:
                conn.send_headers(event.stream_id, HELLO_FIELDS)
                conn.send_data(event.stream_id, b"Hello, world!", end_stream=True)
        sent += conn.data_to_send()
    return bytes(sent)


#: Where a function's own time is counted in :func:`profile`'s split, by the path of its file.
_SHARES = (
    ("/h2/", "h2"),
    ("/hpack/", "hpack"),
    ("/hyperframe/", "hyperframe"),
    ("protocol/http2/", "crosswind.protocol.http2"),
    ("core/web/", "crosswind.web (the handler)"),
    ("bench/servers/", "crosswind.web (the handler)"),
    ("h2_memory", "the scheduler"),
    ("core/protocol/", "crosswind.protocol (shared with HTTP/1.1)"),
    ("core/", "crosswind building blocks (the handler's)"),
    ("/logging/", "logging (hpack's debug calls)"),
    ("/enum.py", "enum (h2's codes and states)"),
)


def profile(count: int, top: int = 45) -> None:
    """Print a cProfile of *count* ``h2-hello`` requests: own time by library, then by function.

    :param count: requests served (after 200 that warm up).
    :param top: functions listed, by own time.
    """
    import cProfile
    import pstats
    from collections import Counter

    app = hello_app()
    serve(app, client_bytes(new_client(), 200))
    chunks = client_bytes(new_client(), count)
    profiler = cProfile.Profile()
    profiler.enable()
    serve(app, chunks)
    profiler.disable()
    stats = pstats.Stats(profiler)
    shares: Counter[str] = Counter()
    for (path, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        share = next((name for part, name in _SHARES if part in path), None)
        if share is None:
            share = "built-in functions (every layer's)" if path == "~" else path
        shares[share] += own
    total = sum(shares.values())
    print(f"Own time by where it is spent ({count} requests, {total:.3f} s under cProfile):")
    for share, own in shares.most_common():
        if own >= total / 1000:
            print(f"  {share:<50} {own / total:6.1%}")
    print()
    stats.sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    import argparse
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here), str(here / "servers")]
    parser = argparse.ArgumentParser(description="Profile h2-hello in memory.")
    parser.add_argument("--requests", type=int, default=2000)
    profile(parser.parse_args().requests)
