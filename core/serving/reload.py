"""``--reload``: run the server in a child process, and start a new one when a watched file changes.

The first process never imports the application: it starts the same command
line again as a child (with :data:`RELOAD_CHILD_ENV` set, which makes that
child serve instead of watching), watches directories, and on a change stops
the child gracefully and starts another.  So any application reloads, not
only a Tornado-style one with ``debug=True`` (whose ``Application.listen``
has :mod:`crosswind.web.autoreload`), and a module that fails to import after
an edit just leaves no server running until the next edit fixes it.

Which files count is close to uvicorn's rule: a file is watched when its name
(or its path below the watched directory) matches ``*.py`` or an include
pattern and no exclude pattern; a directory whose name matches an exclude
pattern (``.git``, ``.venv``, ``__pycache__``) is not entered.  See
:class:`FileFilter` for which pattern wins.

Changes are seen through :mod:`watchfiles` (the ``reload`` extra), which the
operating system tells at once; without it, by comparing modification times
every :data:`POLL_INTERVAL` seconds.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "DEFAULT_EXCLUDES",
    "DEFAULT_INCLUDES",
    "POLL_INTERVAL",
    "RELOAD_CHILD_ENV",
    "FileFilter",
    "is_reload_child",
    "poll_changes",
    "run_with_reload",
    "scan",
]

log = logging.getLogger("crosswind.error")

#: Set in the server child's environment: serve, do not watch.
RELOAD_CHILD_ENV = "CROSSWIND_RELOAD_CHILD"
DEFAULT_INCLUDES = ("*.py",)
DEFAULT_EXCLUDES = (".*", "*.py[cod]", "*~", "__pycache__")
#: Seconds between two looks when polling, and between two checks of the child.
POLL_INTERVAL = 0.25
# What a child gets to stop gracefully before it is killed, on top of its own
# shutdown timeout.
_KILL_GRACE = 5.0
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def is_reload_child() -> bool:
    """Whether this process is the server started by a ``--reload`` watcher."""
    return os.environ.get(RELOAD_CHILD_ENV) == "1"


class FileFilter:
    """Which files under the watched directories count as changes.

    A pattern matches a file's name or its path below the watched directory.
    The given excludes win over everything; then a file matching a given
    include counts, even one that a default exclude would drop (so that
    ``--reload-include '.env'`` works despite the default ``.*``); then the
    default excludes, then ``*.py``.  Directories matching an exclude, given
    or default, are not entered.

    :param includes: glob patterns of files to watch besides ``*.py``.
    :param excludes: glob patterns of files and directories to ignore,
        besides :data:`DEFAULT_EXCLUDES`.
    """

    def __init__(self, includes: Sequence[str] = (), excludes: Sequence[str] = ()) -> None:
        self.includes = tuple(includes)
        self.excludes = tuple(excludes)

    def wants_dir(self, name: str) -> bool:
        """Whether to look inside a directory called *name*.

        :param name: the directory's name, not its path.
        """
        return not _matches(name, name, (*DEFAULT_EXCLUDES, *self.excludes))

    def wants_file(self, relative: str) -> bool:
        """Whether a change to the file at *relative* counts.

        :param relative: the file's path below a watched directory, with ``/``.
        """
        *parts, name = relative.split("/")
        if not all(self.wants_dir(part) for part in parts):
            return False
        if _matches(name, relative, self.excludes):
            return False
        if _matches(name, relative, self.includes):
            return True
        return not _matches(name, relative, DEFAULT_EXCLUDES) and _matches(
            name, relative, DEFAULT_INCLUDES
        )


def _matches(name: str, relative: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)


def scan(dirs: Sequence[Path], wanted: FileFilter) -> dict[str, int]:
    """The modification time (ns) of every wanted file below *dirs*.

    :param dirs: the directories to walk.
    :param wanted: the filter.
    """
    found: dict[str, int] = {}
    for root in dirs:
        for folder, subdirs, files in os.walk(root):
            subdirs[:] = [name for name in subdirs if wanted.wants_dir(name)]
            for name in files:
                path = os.path.join(folder, name)
                relative = os.path.relpath(path, root).replace(os.sep, "/")
                if not wanted.wants_file(relative):
                    continue
                try:
                    found[path] = os.stat(path).st_mtime_ns
                except OSError:
                    continue  # removed while we walked: the next scan sees it gone
    return found


def poll_changes(
    dirs: Sequence[Path],
    wanted: FileFilter,
    stopping: Callable[[], bool],
    *,
    interval: float = POLL_INTERVAL,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[set[str]]:
    """Yield the changed paths every *interval* seconds (an empty set when none).

    :param dirs: the directories to watch.
    :param wanted: which files count.
    :param stopping: ends the iteration once it returns true.
    :param interval: seconds between scans.
    :param sleep: waits that many seconds.
    """
    before = scan(dirs, wanted)
    while not stopping():
        sleep(interval)
        after = scan(dirs, wanted)
        yield {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
        before = after


def _watchfiles_changes(
    dirs: Sequence[Path], wanted: FileFilter, stopping: Callable[[], bool]
) -> Iterator[set[str]] | None:
    try:
        import watchfiles
    except ImportError:
        return None

    class _Stop:
        # watchfiles asks for an Event; only is_set() is used.
        def is_set(self) -> bool:
            return stopping()

    def keep(change: Any, path: str) -> bool:
        for root in dirs:
            try:
                relative = Path(path).relative_to(root).as_posix()
            except ValueError:
                continue
            return wanted.wants_file(relative)
        return False

    # Its own "N changes detected" lines would only repeat ours.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    batches = watchfiles.watch(
        *dirs, watch_filter=keep, stop_event=_Stop(), yield_on_timeout=True,
        rust_timeout=int(POLL_INTERVAL * 1000), raise_interrupt=False,
    )
    return ({path for _change, path in batch} for batch in batches)


def run_with_reload(
    argv: Sequence[str],
    dirs: Sequence[str],
    *,
    includes: Sequence[str] = (),
    excludes: Sequence[str] = (),
    stop_timeout: float = 30.0,
    use_watchfiles: bool = True,
) -> int:
    """Serve from a child process running *argv*, restarted on each change; returns the exit status.

    Returns after SIGINT or SIGTERM, once the child has stopped.

    :param argv: the child's command line, interpreter included.
    :param dirs: the directories to watch (each must exist).
    :param includes: glob patterns of more files to watch than ``*.py``.
    :param excludes: glob patterns of files and directories to ignore.
    :param stop_timeout: seconds a child gets to stop (its shutdown timeout);
        it is killed a few seconds later.
    :param use_watchfiles: use :mod:`watchfiles` when it is installed.
    """
    roots = [Path(d).resolve() for d in dirs]
    wanted = FileFilter(includes, excludes)
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)

    def stopping() -> bool:
        return bool(signals)

    previous = {signum: signal.signal(signum, on_signal) for signum in _STOP_SIGNALS}
    env = {**os.environ, RELOAD_CHILD_ENV: "1"}
    changes = _watchfiles_changes(roots, wanted, stopping) if use_watchfiles else None
    how = "watchfiles"
    if changes is None:
        changes = poll_changes(roots, wanted, stopping)
        how = "polling"
    log.info("Watching for changes in %s (%s)", ", ".join(map(str, roots)), how)
    child = subprocess.Popen(list(argv), env=env)
    try:
        for changed in changes:
            if signals:
                break
            if changed:
                shown = ", ".join(sorted(os.path.relpath(p) for p in changed)[:3])
                log.info("Reloading: %s changed", shown)
                _stop(child, stop_timeout)
                child = subprocess.Popen(list(argv), env=env)
            elif child.returncode is None and child.poll() is not None:
                log.warning("the server exited with status %d; waiting for a change to start it again",
                            child.returncode)
        return 0
    finally:
        _stop(child, stop_timeout)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _stop(child: subprocess.Popen[Any], timeout: float) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout + _KILL_GRACE)
    except subprocess.TimeoutExpired:
        log.warning("killing server process %d, which did not stop", child.pid)
        child.kill()
        child.wait()


def child_command(args: Sequence[str]) -> list[str]:
    """The command line that runs ``crosswind ARGS`` with this interpreter.

    :param args: the arguments after the program name.
    """
    return [sys.executable, "-m", "crosswind", *args]
