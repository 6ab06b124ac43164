"""Serve :class:`~tests.support.apps.BasicApp` over cleartext HTTP/2 in a child process.

The attack tests read the server's memory (its resident set size), which
only means something when the server is alone in its process: in a thread of
the test process the attacker's own buffers would count too.  The child also
has a CPU of its own, so the attacker does not slow the server down by
holding the GIL.

Usage::

    with server_process("asyncio", Limits(h2_max_resets=50)) as server:
        server.port, server.rss(), server.peak_rss()

Run as ``python -m tests.support.h2_server_process BACKEND LIMITS_JSON``, the
child prints ``PORT n`` once it listens and stops on SIGTERM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crosswind.protocol.limits import Limits

__all__ = ["ServerProcess", "server_process"]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class ServerProcess:
    """A running child server.

    :param pid: its process id.
    :param port: the loopback port it listens on.
    """

    pid: int
    port: int

    def rss(self) -> int:
        """The child's resident set size in bytes now, from ``/proc``."""
        return self._status("VmRSS")

    def peak_rss(self) -> int:
        """The largest resident set size the child has had so far, in bytes.

        A memory check against the peak sees what an attack cost while it
        ran, even when the server gave the memory back afterwards.
        """
        return self._status("VmHWM")

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {key} in /proc status")


@contextlib.contextmanager
def server_process(backend: str, limits: Limits) -> Iterator[ServerProcess]:
    """Run the child server for the block.

    :param backend: ``"asyncio"`` or ``"trio"``.
    :param limits: the server's limits.
    :raises RuntimeError: the child did not start in time.
    """
    changes = {
        field.name: getattr(limits, field.name)
        for field in dataclasses.fields(limits)
        if getattr(limits, field.name) != field.default
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.h2_server_process", backend, json.dumps(changes)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the access log of a flood is no one's reading
        text=True,
    )
    try:
        assert process.stdout is not None
        with _deadline(process, START_TIMEOUT):
            line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the {backend} server did not start: {line!r}")
        yield ServerProcess(process.pid, int(line.split()[1]))
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@contextlib.contextmanager
def _deadline(process: subprocess.Popen[str], seconds: float) -> Iterator[None]:
    """Kill *process* if the block takes longer than *seconds* (a read that hangs)."""
    import threading

    timer = threading.Timer(seconds, process.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _main(backend: str, changes: str) -> None:
    from crosswind.serving.backends import load_backend

    from tests.support.apps import BasicApp

    def started(handle: object) -> None:
        print(f"PORT {handle.port}", flush=True)  # type: ignore[attr-defined]

    serve = load_backend(backend)
    serve(
        BasicApp(),
        host="127.0.0.1",
        port=0,
        http2=True,
        limits=Limits(**json.loads(changes)),
        started=started,
        handle_signals=True,
    )


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
