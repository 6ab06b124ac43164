"""A real ``redis-server`` for the broadcast tests, on a free 127.0.0.1 port.

It keeps nothing on disk (``--save "" --appendonly no``), is waited for with a
bound (until it answers ``PING``) and stopped by its own PID.  Tests that need
no restart share the session's server through the ``redis_server`` fixture
(``tests/broadcast/conftest.py`` makes it visible); a test that stops Redis
starts its own with :func:`running_redis`.  Without a ``redis-server`` binary
(``make test`` installs Debian's) the tests that need one skip and say so.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

__all__ = ["RedisServer", "redis_server", "running_redis"]

START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process; :meth:`start` and :meth:`stop` keep its port.

    :param binary: the ``redis-server`` executable.
    :param port: the port to listen on; a free one when ``None``.
    """

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port if port is not None else _free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="crosswind-redis-")

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and return once it answers ``PING``; fails the test after 10 s."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self._workdir.name, "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers_ping(self.port):
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited with {self.process.returncode} on port {self.port}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not answer on port {self.port} within {START_TIMEOUT} s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop it by its PID (SIGTERM, then SIGKILL after 5 s) and wait for the exit."""
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def close(self) -> None:
        """Stop it and remove its working directory."""
        self.stop()
        self._workdir.cleanup()


def redis_binary() -> str:
    """The path of ``redis-server``; skips the test when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (make test installs Debian's redis-server)")
    return binary


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    """A ``redis-server`` of the caller's own, stopped on exit."""
    server = RedisServer(redis_binary())
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One ``redis-server`` for the whole session; tests must not stop it."""
    with running_redis() as server:
        yield server
