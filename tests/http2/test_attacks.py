"""The published HTTP/2 attacks, each sent at crosswind while a normal client keeps asking.

Each test runs the server in a child process with small limits, so the
defence trips within a second or two, and checks three things:

- the attacker is cut where the defence says so: GOAWAY ``ENHANCE_YOUR_CALM``
  (or the connection closed under it), a refused or reset stream, or the
  connection timed out;
- a normal HTTP/2 client (httpx) on its own connection gets every answer in
  bounded time throughout;
- the server's memory does not follow the attack: its peak resident set
  stays within :data:`MEMORY_SLACK` of what it was before the attack, over
  rounds whose undefended cost would be several times that.

The frames are written by hand (hyperframe, hpack, raw bytes) with the
conformance suite's :class:`~tests.support.h2spec.harness.Connection`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from crosswind.protocol.limits import Limits

from tests.support.h2_server_process import ServerProcess, server_process
from tests.support.h2spec.harness import (
    PREFACE,
    Closed,
    Connection,
    DataFrame,
    ErrorCode,
    GoAwayFrame,
    RstStreamFrame,
    Setting,
    Target,
    hpack_int,
    hpack_string,
    plain_block,
    raw_frame,
)
from tests.support.h2spec.harness import FrameType as T

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(
        not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc"
    ),
]

BACKENDS = ["asyncio", "trio"]
MiB = 1 << 20
#: How much the server's resident set may grow over the rounds of an attack.
MEMORY_SLACK = 16 * MiB
#: Seconds a normal request may take while an attack runs (a liveness bound).
ANSWER_BOUND = 3.0
#: Seconds to wait for the server to cut an attacker after the last frame sent.
CUT_WAIT = 5.0

#: Small limits so that each defence trips at once; the timers stay as they are.
LIMITS = Limits(
    h2_max_resets=50,
    h2_max_control_frames=200,
    h2_max_header_list_size=16 * 1024,
    h2_max_concurrent_streams=8,
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class NormalClient:
    """An httpx HTTP/2 client asking for ``/`` in a loop on its own thread."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(http1=False, http2=True, timeout=ANSWER_BOUND * 2) as client:
            while not self._stop.is_set():
                start = time.monotonic()
                try:
                    response = client.get(self.url)
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                    continue
                self.latencies.append(time.monotonic() - start)
                if response.http_version != "HTTP/2" or response.text != "hello world":
                    self.errors.append(f"{response.http_version} {response.status_code}")
                self._stop.wait(0.02)

    def check(self) -> None:
        """Every answer came, right and in time, and there were several."""
        assert self.errors == []
        assert len(self.latencies) >= 3
        assert max(self.latencies) < ANSWER_BOUND


@contextlib.contextmanager
def normal_client(port: int) -> Iterator[NormalClient]:
    """Run a :class:`NormalClient` for the block; check it after."""
    client = NormalClient(port)
    client._thread.start()
    try:
        yield client
        # Two more answers after the attack: the server is still serving.
        wanted = max(len(client.latencies) + 2, 3)
        deadline = time.monotonic() + ANSWER_BOUND * 2
        while len(client.latencies) < wanted and time.monotonic() < deadline and not client.errors:
            time.sleep(0.02)
    finally:
        client._stop.set()
        client._thread.join(ANSWER_BOUND * 3)
    client.check()


def attacker(port: int, settings: dict[int, int] | None = None) -> Connection:
    """A connection past the handshake, with a socket timeout for blocked writes."""
    connection = Connection(Target("127.0.0.1", port, timeout=CUT_WAIT))
    connection.handshake(settings)
    return connection


def _arrived(connection: Connection) -> GoAwayFrame | Closed | None:
    """A GOAWAY or the close among what has arrived, without waiting."""
    while True:
        event = connection.next_event(time.monotonic() + 0.001)
        if event is None:
            return None
        if isinstance(event, GoAwayFrame | Closed):
            return event


def flood(
    connection: Connection, batch: Callable[[int], bytes], batches: int
) -> GoAwayFrame | Closed:
    """Send ``batch(i)`` for i in range(*batches*) until the server cuts the connection.

    :returns: the GOAWAY, or :class:`Closed` when it closed without one we could read.
    :raises AssertionError: the server took everything and did not cut.
    """
    for i in range(batches):
        try:
            connection.sock.sendall(batch(i))
        except TimeoutError:
            pass  # the server stopped reading us: see whether it says why
        except OSError:
            return Closed()
        seen = _arrived(connection)
        if seen is not None:
            return seen
    deadline = time.monotonic() + CUT_WAIT
    while time.monotonic() < deadline:
        event = connection.next_event(deadline)
        if isinstance(event, GoAwayFrame | Closed):
            return event
    raise AssertionError(f"the server was not cut after {batches} batches")


def assert_calmed(cut: GoAwayFrame | Closed) -> None:
    """The cut is GOAWAY ENHANCE_YOUR_CALM, or a close that may have eaten it."""
    if isinstance(cut, GoAwayFrame):
        assert cut.error_code == ErrorCode.ENHANCE_YOUR_CALM, cut


def rounds_in_bounded_memory(
    server: ServerProcess, attack: Callable[[], None], rounds: int
) -> None:
    """Run *attack* *rounds* times; the server's peak RSS may pass its start by MEMORY_SLACK."""
    before = server.rss()
    for _ in range(rounds):
        attack()
    assert_bounded(server, before)


def assert_bounded(server: ServerProcess, before: int) -> None:
    """The server's peak resident set is within MEMORY_SLACK of *before*."""
    grown = server.peak_rss() - before
    assert grown < MEMORY_SLACK, f"the server grew by {grown / MiB:.1f} MiB at its peak"


def _request_block(connection: Connection, method: str = "GET", path: str = "/") -> bytes:
    return plain_block(connection.request(method, path))


# -- Rapid Reset (CVE-2023-44487) ---------------------------------------------


def test_rapid_reset_is_cut(backend: str) -> None:
    with server_process(backend, LIMITS) as server, normal_client(server.port):

        def attack() -> None:
            connection = attacker(server.port)
            block = _request_block(connection)

            def pair(i: int) -> bytes:
                stream = 1 + 2 * i
                return raw_frame(T.HEADERS, 0x5, stream, block) + raw_frame(
                    T.RST_STREAM, 0, stream, ErrorCode.CANCEL.to_bytes(4, "big")
                )

            # 20 x 50 = 1000 resets, twenty times the limit.
            assert_calmed(
                flood(connection, lambda b: b"".join(pair(b * 50 + i) for i in range(50)), 20)
            )
            connection.close()

        rounds_in_bounded_memory(server, attack, 5)


# -- CONTINUATION flood (CVE-2024-27316 and its family) -----------------------


def test_continuation_flood_is_cut(backend: str) -> None:
    with server_process(backend, LIMITS) as server, normal_client(server.port):

        def attack() -> None:
            connection = attacker(server.port)
            # A header block that never ends: 64 MiB of CONTINUATION if nothing stops it.
            first = raw_frame(T.HEADERS, 0x0, 1, _request_block(connection))
            filler = raw_frame(T.CONTINUATION, 0x0, 1, b"\x00" * 16384) * 16
            cut = flood(connection, lambda i: first + filler if i == 0 else filler, 256)
            assert_calmed(cut)
            connection.close()

        rounds_in_bounded_memory(server, attack, 3)


# -- HPACK bomb ---------------------------------------------------------------


def test_hpack_bomb_is_cut(backend: str) -> None:
    with server_process(backend, LIMITS) as server, normal_client(server.port):

        def attack() -> None:
            connection = attacker(server.port)
            # A 4000-octet value enters the dynamic table (index 62) with a request
            # that stays under the limit ...
            big = hpack_int(0, 6, 0x40) + hpack_string("x-bomb") + hpack_string("a" * 4000)
            connection.send_frames(connection.headers(1, _request_block(connection) + big))
            connection.expect_headers(1)
            # ... then 16000 one-octet references to it decode to 64 MB of fields.
            bomb = _request_block(connection) + bytes([0x80 | 62]) * 16000
            connection.send_frames(connection.headers(3, bomb))
            cut = flood(connection, lambda i: b"", 1)
            if isinstance(cut, GoAwayFrame):
                assert cut.error_code in (ErrorCode.ENHANCE_YOUR_CALM, ErrorCode.COMPRESSION_ERROR)
            connection.close()

        rounds_in_bounded_memory(server, attack, 5)


# -- SETTINGS, PING and empty DATA floods -----------------------------------


def test_settings_flood_is_cut(backend: str) -> None:
    with server_process(backend, LIMITS) as server, normal_client(server.port):
        before = server.rss()
        connection = attacker(server.port)
        settings = raw_frame(T.SETTINGS, 0, 0, Setting.ENABLE_PUSH.to_bytes(2, "big") + bytes(4))
        assert_calmed(flood(connection, lambda i: settings * 100, 100))
        connection.close()
        assert_bounded(server, before)


def test_ping_flood_is_cut(backend: str) -> None:
    with server_process(backend, LIMITS) as server, normal_client(server.port):
        before = server.rss()
        connection = attacker(server.port)
        ping = raw_frame(T.PING, 0, 0, b"flooding")
        assert_calmed(flood(connection, lambda i: ping * 100, 100))
        connection.close()
        assert_bounded(server, before)


def test_empty_data_flood_is_cut(backend: str) -> None:
    with server_process(backend, LIMITS) as server, normal_client(server.port):
        before = server.rss()
        connection = attacker(server.port)
        opening = raw_frame(T.HEADERS, 0x4, 1, _request_block(connection, "POST", "/echo"))
        empty = raw_frame(T.DATA, 0, 1, b"")
        assert_calmed(flood(connection, lambda i: (opening if i == 0 else b"") + empty * 100, 100))
        connection.close()
        assert_bounded(server, before)


def test_ping_flood_that_never_reads_the_acks_is_cut(backend: str) -> None:
    # The server cannot deliver its GOAWAY to a client that does not read: it must close.
    with server_process(backend, LIMITS) as server, normal_client(server.port):
        before = server.rss()
        sock = _unread_socket(server.port)
        sock.sendall(PREFACE + raw_frame(T.SETTINGS, 0, 0))
        ping = raw_frame(T.PING, 0, 0, b"unread!!") * 100
        cut = False
        for _ in range(100):
            try:
                sock.sendall(ping)
            except TimeoutError:
                break
            except OSError:
                cut = True
                break
        assert cut or _closed_soon(sock), "the server kept a flooding client that never reads"
        sock.close()
        assert_bounded(server, before)


def test_client_that_never_reads_its_responses_is_cut(backend: str) -> None:
    # Responses wait for the socket instead of queueing (back-pressure), and a socket
    # stuck for body_timeout ends the connection.
    limits = LIMITS.replace(h2_max_concurrent_streams=64, body_timeout=1.0)
    streams = [1 + 2 * i for i in range(32)]
    with server_process(backend, limits) as server, normal_client(server.port):
        before = server.rss()
        sock = _unread_socket(server.port)
        block = plain_block(
            [(":method", "GET"), (":scheme", "http"), (":path", "/big"), (":authority", "x")]
        )
        window = (2**31 - 1).to_bytes(4, "big")
        sock.sendall(
            PREFACE
            + raw_frame(T.SETTINGS, 0, 0, Setting.INITIAL_WINDOW_SIZE.to_bytes(2, "big") + window)
            + raw_frame(T.WINDOW_UPDATE, 0, 0, (2**31 - 1 - 65535).to_bytes(4, "big"))
            + b"".join(raw_frame(T.HEADERS, 0x5, s, block) for s in streams)
        )
        time.sleep(limits.body_timeout + 1.0)
        # 32 MiB of responses if the server queued what the socket does not take.
        assert_bounded(server, before)
        assert _closed_soon(sock), "the connection of a client that never reads stayed open"
        sock.close()


def _unread_socket(port: int) -> socket.socket:
    """A connected socket with a small receive buffer, for a client that does not read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(CUT_WAIT)
    sock.connect(("127.0.0.1", port))
    return sock


def _closed_soon(sock: socket.socket) -> bool:
    """Whether the server closes *sock* within CUT_WAIT (read what is left to see it)."""
    deadline = time.monotonic() + CUT_WAIT
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except OSError:
            return True
    return False


# -- Zero-window slow read -----------------------------------------------------


def test_zero_window_slow_read_times_out(backend: str) -> None:
    # Each stream's response (1 MiB from /big) waits for a window that never opens.
    limits = LIMITS.replace(h2_max_concurrent_streams=64, body_timeout=1.5, idle_timeout=1.0)
    streams = [1 + 2 * i for i in range(40)]
    with server_process(backend, limits) as server, normal_client(server.port):
        before = server.rss()
        connection = attacker(server.port, {Setting.INITIAL_WINDOW_SIZE: 0})
        block = _request_block(connection, "GET", "/big")
        connection.send_frames(*(raw_frame(T.HEADERS, 0x5, s, block) for s in streams))
        time.sleep(1.0)  # the handlers have written all they could by now
        # 40 MiB of responses if the server buffered what the client does not take.
        assert_bounded(server, before)
        reset: set[int] = set()
        deadline = time.monotonic() + limits.body_timeout + CUT_WAIT
        end: GoAwayFrame | Closed | None = None
        while end is None and time.monotonic() < deadline:
            event = connection.next_event(deadline)
            if isinstance(event, RstStreamFrame):
                reset.add(event.stream_id)
            elif isinstance(event, DataFrame):
                raise AssertionError(f"DATA beyond a window of 0 on stream {event.stream_id}")
            elif isinstance(event, GoAwayFrame | Closed):
                end = event
        # Each stuck stream is reset, then the idle connection ends.
        assert reset == set(streams)
        assert end is not None, "the connection did not time out"
        connection.close()


# -- Stream exhaustion -----------------------------------------------------------


def test_streams_beyond_the_limit_are_refused(backend: str) -> None:
    limit = LIMITS.h2_max_concurrent_streams
    with server_process(backend, LIMITS) as server, normal_client(server.port):
        connection = attacker(server.port)
        assert connection.server_settings[Setting.MAX_CONCURRENT_STREAMS] == limit
        block = _request_block(connection, "POST", "/echo")
        # Streams that stay open: a POST whose body never ends.
        held = [1 + 2 * i for i in range(limit)]
        connection.send_frames(*(raw_frame(T.HEADERS, 0x4, s, block) for s in held))
        extra = [held[-1] + 2 * (i + 1) for i in range(1000)]
        before = server.rss()
        for start in range(0, len(extra), 100):
            connection.send_frames(
                *(raw_frame(T.HEADERS, 0x4, s, block) for s in extra[start : start + 100])
            )
        refused: set[int] = set()
        deadline = time.monotonic() + CUT_WAIT
        while refused != set(extra) and time.monotonic() < deadline:
            event = connection.next_event(deadline)
            if event is None or isinstance(event, Closed | GoAwayFrame):
                break
            if isinstance(event, RstStreamFrame):
                assert event.stream_id in extra, f"held stream {event.stream_id} reset"
                assert event.error_code == ErrorCode.REFUSED_STREAM
                refused.add(event.stream_id)
        assert refused == set(extra)
        assert_bounded(server, before)
        # The held streams still work: one of them finishes its body and is answered.
        connection.send_frames(DataFrame(held[0], b"done", flags=["END_STREAM"]))
        connection.expect_headers(held[0])
        connection.close()
