"""``examples/selectors_server.py``, the embedding guide's server, run as a user runs it.

The script is started as its own process on port 0 and talked to over real sockets:
keep-alive, pipelining, bodies (with ``Content-Length``, chunked, and after
``100 Continue``), and a malformed request, which must get a 400 and a close with
nothing behind it served.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h11
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "selectors_server.py"

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    log = tmp_path_factory.mktemp("selectors") / "stderr.txt"
    with log.open("w") as stderr, subprocess.Popen(
        [sys.executable, str(EXAMPLE), "0"], stdout=subprocess.PIPE, stderr=stderr, text=True,
        cwd=ROOT,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()  # the script prints it once it listens
            match = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)\n", line)
            assert match, f"unexpected first line {line!r}; stderr: {log.read_text()}"
            yield int(match.group(1))
            assert process.poll() is None, f"the server died: {log.read_text()}"
        finally:
            process.kill()
            process.wait(timeout=10)


class Peer:
    """A raw client socket that reads whole responses with h11 as the client."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.h11 = h11.Connection(h11.CLIENT)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _event(self) -> object:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self.h11.receive_data(self.sock.recv(65536))

    def response(self, method: str = "GET") -> tuple[int, bytes]:
        """The next response on the wire, as (status, body)."""
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        # h11 needs to have sent a request to expect a response; these bytes are never sent.
        self.h11.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        self.h11.send(h11.EndOfMessage())
        status, body = 0, b""
        while True:
            event = self._event()
            if isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, body

    def closed_by_server(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peer(port: int) -> Iterator[Peer]:
    client = Peer(port)
    yield client
    client.close()


def test_is_short_enough_to_read() -> None:
    assert len(EXAMPLE.read_text().splitlines()) < 80


def test_a_real_client_gets_answers(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        hello = client.get("/")
        assert (hello.status_code, hello.text) == (200, "Hello from selectors\n")
        assert hello.headers["content-type"] == "text/plain"
        echoed = client.post("/echo", content=b"x" * 200_000)
        assert echoed.status_code == 200 and echoed.content == b"x" * 200_000
        assert client.get("/missing").status_code == 404


def test_keep_alive_serves_several_requests_on_one_connection(peer: Peer) -> None:
    for target, expected in ((b"/", 200), (b"/missing", 404), (b"/", 200)):
        peer.send(b"GET %s HTTP/1.1\r\nHost: example.com\r\n\r\n" % target)
        assert peer.response()[0] == expected


def test_pipelined_requests_are_answered_in_order(peer: Peer) -> None:
    peer.send(
        b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nfirst"
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nsecond"
    )
    assert peer.response() == (404, b"no\n")
    assert peer.response("POST") == (200, b"first")
    assert peer.response() == (200, b"Hello from selectors\n")
    assert peer.response("POST") == (200, b"second")


def test_post_bodies_in_pieces_chunked_and_after_100_continue(peer: Peer) -> None:
    peer.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello")
    time.sleep(0.05)  # the rest arrives in a later read
    peer.send(b" world")
    assert peer.response("POST") == (200, b"hello world")

    peer.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n")
    assert peer.response("POST") == (200, b"wikipedia")

    peer.send(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    assert peer.sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
    peer.h11 = h11.Connection(h11.CLIENT)  # what follows is a fresh response
    peer.send(b"body")
    assert peer.response("POST") == (200, b"body")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",  # bare LF
    ],
)
def test_malformed_requests_get_400_then_a_close_and_nothing_behind_them(
    peer: Peer, request_bytes: bytes
) -> None:
    peer.send(request_bytes + b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
    status, body = peer.response()
    assert status == 400 and body  # a short reason
    assert peer.closed_by_server()


def test_a_client_that_leaves_mid_request_does_not_stop_the_server(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\npartial")
    with httpx.Client(timeout=5) as client:
        assert client.get(f"http://127.0.0.1:{port}/").status_code == 200
