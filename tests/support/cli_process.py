"""``python -m crosswind ARGS`` in a subprocess, its stderr read line by line."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0


class CLIProcess:
    """Runs the command line in *cwd*; tests wait for log lines and signal it."""

    def __init__(self, *args: str, cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crosswind", *args],
            cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = TIMEOUT) -> re.Match[str]:
        """The next stderr line matching *pattern*."""
        end = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern.pattern!r}: {self.lines}") from None
            if line is None:
                raise AssertionError(f"exited without {pattern.pattern!r}: {self.lines}")
            self.lines.append(line)
            if match := pattern.match(line):
                return match

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Send *signum* and wait for the exit; all output is then in ``lines``."""
        self.proc.send_signal(signum)
        return self.finish()

    def finish(self) -> int:
        """Wait for the exit; returns the exit status, with all output in ``lines``."""
        try:
            code = self.proc.wait(TIMEOUT)
        finally:
            self.kill()
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def run_cli(
    *args: str, cwd: Path = ROOT, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crosswind ARGS`` to the end, *input* on its stdin."""
    return subprocess.run(
        [sys.executable, "-m", "crosswind", *args],
        cwd=cwd, input=input, capture_output=True, text=True, timeout=TIMEOUT, env=env,
        stdin=subprocess.DEVNULL if input is None else None,
    )
