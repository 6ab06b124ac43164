"""Restart the server when a source file changes (the ``autoreload`` setting).

Tornado watches files from inside its I/O loop and re-executes the process.
Here a small supervisor does it from outside: the first process becomes a
watcher that runs the real server as a child process (the same command line
with :data:`CHILD_ENV` set), polls the modification times of every imported
module, and restarts the child when one changes.  A child that crashes (say,
on a syntax error just saved) is restarted at the next change.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable

__all__ = ["CHILD_ENV", "changed_files", "is_reloader_child", "run_with_reloader", "snapshot"]

log = logging.getLogger("crosswind.autoreload")

#: Set in the child's environment; its presence means "serve, do not watch".
CHILD_ENV = "CROSSWIND_RELOADER_CHILD"


def is_reloader_child() -> bool:
    """Whether this process is the server child of a reloader."""
    return os.environ.get(CHILD_ENV) == "1"


def module_files() -> set[str]:
    """The source files of every imported module."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path:
            if path.endswith((".pyc", ".pyo")):
                path = path[:-1]
            files.add(os.path.abspath(path))
    return files


def snapshot(paths: Iterable[str]) -> dict[str, float]:
    """The modification time of each existing file in *paths*.

    :param paths: files to look at.
    """
    times = {}
    for path in paths:
        try:
            times[path] = os.stat(path).st_mtime
        except OSError:
            continue
    return times


def changed_files(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """Files whose time differs, or that appeared or vanished, between two snapshots.

    :param before: the earlier snapshot.
    :param after: the later one.
    """
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


def run_with_reloader(
    serve: Callable[[], None],
    *,
    extra_files: Iterable[str] = (),
    interval: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Call *serve* in a child process and restart it whenever a source file changes.

    In the child (see :func:`is_reloader_child`) this just calls *serve*.

    :param serve: runs the server until it is told to stop.
    :param extra_files: more files to watch (configuration, say).
    :param interval: seconds between checks.
    :param sleep: waits that many seconds.
    """
    if is_reloader_child():
        serve()
        return
    argv = list(getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv])
    argv[0] = sys.executable
    env = dict(os.environ, **{CHILD_ENV: "1"})
    extra = [os.path.abspath(path) for path in extra_files]
    child = subprocess.Popen(argv, env=env)
    watched = snapshot([*module_files(), *extra])
    previous = signal.getsignal(signal.SIGTERM)
    # SIGTERM must take the child down too, not orphan it.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            sleep(interval)
            current = snapshot([*module_files(), *extra, *watched])
            changes = changed_files(watched, current)
            status = child.poll()
            if changes:
                log.info("%s changed; restarting", changes[0])
                _stop(child)
                child = subprocess.Popen(argv, env=env)
                watched = current
            elif status is not None and status == 0:
                return
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(child)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
