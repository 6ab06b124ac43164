"""``--workers N``: fork *N* processes that serve the same port, and keep them running.

The application is imported once, in the supervisor, before the fork; each
worker runs the backend's ``serve`` on a socket of its own bound with
``SO_REUSEPORT`` (the kernel spreads connections among them), or on one Unix
socket they all inherit.  The supervisor restarts a worker that exits, waiting
longer after each one in a row that died young, and on SIGINT or SIGTERM
stops them all gracefully.

With ``--limit-max-requests N`` each worker shuts down gracefully after its
own budget of *N* plus a random jitter (gunicorn's ``--max-requests`` and
``--max-requests-jitter``), so that workers are recycled one at a time rather
than all together; a worker that exits cleanly like this is replaced at once.  It only forks, signals and waits: it never
accepts a connection itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from ..protocol.exchange import Application
from .backends import Serve
from .capacity import RequestBudget
from .errors import EXIT_FAILURE, CLIError

__all__ = ["serve_workers", "supervise"]

log = logging.getLogger("crosswind.error")

# A worker that dies sooner than this after starting counts as failing, and
# each failure in a row doubles the wait before the next restart.
_HEALTHY_AFTER = 10.0
_FIRST_RESTART_DELAY = 0.1
_MAX_RESTART_DELAY = 10.0
_POLL_INTERVAL = 0.05
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# Workers get their own shutdown timeout, plus this, before they are killed.
_KILL_GRACE = 5.0


def serve_workers(
    count: int,
    serve: Serve,
    app: Application,
    host: str = "127.0.0.1",
    port: int = 8888,
    *,
    backlog: int | None = None,
    max_requests: int | None = None,
    max_requests_jitter: int = 0,
    randint: Callable[[int, int], int] = random.randint,
    **options: Any,
) -> int:
    """Serve *app* from *count* forked workers until SIGINT or SIGTERM; returns the exit status.

    :param count: how many worker processes to keep.
    :param serve: the backend's ``serve``, run in each worker.
    :param app: the application, already loaded: the workers share it.
    :param host: the address to listen on.
    :param port: the port to listen on; ``0`` picks one free port for all workers.
    :param backlog: the length of each listening socket's queue; ``None``
        for the backend's default.
    :param max_requests: each worker shuts down gracefully after this many
        requests, and is replaced; ``None`` keeps workers as long as they run.
    :param max_requests_jitter: each worker's budget is *max_requests* plus
        ``randint(0, max_requests_jitter)``.
    :param randint: draws the jitter (``random.randint`` by default).
    :param options: the other keywords of *serve*; with ``unix_socket``
        the workers share one socket bound here, and ``shutdown_timeout``
        is also how long the supervisor waits for them to stop.
    :raises CLIError: this platform cannot fork, or the address cannot be bound.
    """
    if not hasattr(os, "fork"):
        raise CLIError("--workers needs os.fork, which this platform does not have")
    from crosswind.backends._common import bind_socket, reserve_port

    unix_socket = options.get("unix_socket")
    try:
        if unix_socket:
            # One socket the workers inherit: a Unix path cannot be shared
            # by binding it again.
            if backlog is None:
                held = bind_socket(unix_socket=unix_socket)
            else:
                held = bind_socket(unix_socket=unix_socket, backlog=backlog)
            options = {**options, "sock": held}
        else:
            # Held, not listening, for the supervisor's lifetime: it turns
            # port 0 into one real port and reports a taken port up front.
            held = reserve_port(host, port)
            port = held.getsockname()[1]
            options = {**options, "reuse_port": True}
    except OSError as exc:
        raise CLIError(exc.strerror or str(exc), EXIT_FAILURE) from None

    def start_worker() -> int:
        # Signals stay blocked across the fork so none reaches the child
        # while it still has the supervisor's handlers.
        # Drawn here, not in the child: forked children share the parent's
        # random state until they reseed.
        budget = None if max_requests is None else max_requests + randint(0, max_requests_jitter)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                for signum in _STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                if "sock" not in options:
                    held.close()
                worker_app = app if budget is None else RequestBudget(app, budget)
                _run_worker(serve, worker_app, host, port, options, backlog)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return pid

    try:
        return supervise(
            count, start_worker, shutdown_timeout=options.get("shutdown_timeout", 30.0)
        )
    finally:
        held.close()


def _run_worker(
    serve: Serve, app: Application, host: str, port: int, options: dict[str, Any],
    backlog: int | None = None,
) -> None:
    """The body of a forked worker; never returns."""
    code = 0

    def started(handle: Any) -> None:
        if isinstance(app, RequestBudget):
            log.info("worker %d will be replaced after %d requests", os.getpid(), app.requests)
            app.bind(handle.shutdown)

    try:
        if backlog is not None and "sock" not in options:
            from crosswind.backends._common import bind_socket

            options = {**options, "sock": bind_socket(host, port, reuse_port=True, backlog=backlog)}
        serve(app, host, port, started=started, handle_signals=True, **options)
    except BaseException:
        log.exception("worker %d failed", os.getpid())
        code = EXIT_FAILURE
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        # Never return into the supervisor's code that this process forked from.
        os._exit(code)


def supervise(
    count: int,
    start_worker: Callable[[], int],
    *,
    shutdown_timeout: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Keep *count* worker processes running until SIGINT or SIGTERM; returns the exit status.

    A worker that exits with status 0 (it served its ``--limit-max-requests``)
    is replaced at once; one that fails is restarted after a delay that
    doubles with each one in a row that died young.  On SIGINT/SIGTERM the workers
    get SIGTERM and *shutdown_timeout* (plus a grace period) to exit before
    they are killed; a second signal kills them at once.

    :param count: how many workers to keep.
    :param start_worker: starts one worker and returns its process id.
    :param shutdown_timeout: the workers' own graceful shutdown time.
    :param clock: monotonic seconds.
    :param sleep: waits that many seconds (signals cut it short).
    """
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in _STOP_SIGNALS}
    workers: dict[int, float] = {}  # pid -> when it started
    failures = 0
    restart_at: list[float] = []
    try:
        for _ in range(count):
            workers[start_worker()] = clock()
        log.info("Supervising %d workers: %s", count, " ".join(map(str, workers)))
        while not signals:
            for pid, status in _reap():
                started = workers.pop(pid, None)
                if started is None:
                    continue
                code = os.waitstatus_to_exitcode(status)
                if code == 0:
                    # A clean exit is a worker that served its requests
                    # (--limit-max-requests): replaced at once, no failure.
                    log.info("worker %d finished; starting a new one", pid)
                    restart_at.append(clock())
                    continue
                if clock() - started < _HEALTHY_AFTER:
                    failures += 1
                else:
                    failures = 0
                delay = min(_FIRST_RESTART_DELAY * 2 ** max(failures - 1, 0), _MAX_RESTART_DELAY)
                log.warning("worker %d exited with %s; restarting in %.1f s",
                            pid, _describe_exit(code), delay)
                restart_at.append(clock() + delay)
            now = clock()
            due = [when for when in restart_at if when <= now]
            for when in due:
                restart_at.remove(when)
                pid = start_worker()
                workers[pid] = clock()
                log.info("Started worker %d", pid)
            sleep(_POLL_INTERVAL)
        log.info("Stopping %d workers", len(workers))
        handled = len(signals)
        _signal_all(workers, signal.SIGTERM)
        deadline = clock() + shutdown_timeout + _KILL_GRACE
        while workers:
            for pid, _status in _reap():
                workers.pop(pid, None)
            if not workers:
                break
            if len(signals) > handled or clock() >= deadline:
                log.warning("killing %d worker(s) that did not stop", len(workers))
                _signal_all(workers, signal.SIGKILL)
                for pid in list(workers):
                    _wait_for(pid)
                    workers.pop(pid)
                break
            sleep(_POLL_INTERVAL)
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _reap() -> list[tuple[int, int]]:
    """Every child that has exited since the last call, without waiting."""
    done = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        done.append((pid, status))
    return done


def _wait_for(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _signal_all(workers: dict[int, float], signum: int) -> None:
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"
