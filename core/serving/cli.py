"""The ``crosswind`` command line: ``python -m crosswind serve MODULE:ATTR``.

*ATTR* may name a crosswind application, or a WSGI or ASGI 3 callable
(Flask, Django, Starlette...), which is served through the matching
container of :mod:`crosswind.adapters`.

Backends are found through the ``crosswind.backends`` entry-point group, so
a package can add one by declaring an entry point whose object is a
``serve`` function taking the application, ``host`` and ``port``, and the
keyword arguments ``started``, ``handle_signals``, ``ssl_context``,
``unix_socket``, ``reuse_port``, ``shutdown_timeout``, ``engine``,
``access_log`` and ``sock`` (see :func:`crosswind.backends.asyncio.serve`).

With ``--workers N`` the process forks *N* workers that each listen on the
same port (``SO_REUSEPORT``) and supervises them.  Everything that touches
sockets or TLS lives in :mod:`crosswind.backends` and is imported only when
needed, so this module stays free of I/O libraries.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from types import FrameType
from typing import Any, Literal

from ..protocol.driver import AccessLog
from ..protocol.exchange import Application, Exchange
from ..protocol.http1.engine import DEFAULT_ENGINE, available_engines

__all__ = [
    "CLIError",
    "available_backends",
    "build_parser",
    "configure_logging",
    "detect_app_kind",
    "format_access_line",
    "import_target",
    "load_app",
    "load_backend",
    "main",
    "make_access_log",
    "supervise",
]

BACKEND_GROUP = "crosswind.backends"
DEFAULT_BACKEND = "asyncio"

log = logging.getLogger("crosswind.server")
access_logger = logging.getLogger("crosswind.access")

# Exit statuses: 2 for a command that cannot work as given (usage, imports,
# configuration), 1 for one that failed while running (the port is taken).
EXIT_USAGE = 2
EXIT_FAILURE = 1

# A worker that dies sooner than this after starting counts as failing, and
# each failure in a row doubles the wait before the next restart.
_HEALTHY_AFTER = 10.0
_FIRST_RESTART_DELAY = 0.1
_MAX_RESTART_DELAY = 10.0
_POLL_INTERVAL = 0.05
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# Workers get their own shutdown timeout, plus this, before they are killed.
_KILL_GRACE = 5.0


class CLIError(Exception):
    """A problem to report on one line, and the exit status to report it with.

    :param message: what went wrong, naming the module, file or address.
    :param exit_code: the process's exit status.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


# -- finding the application -------------------------------------------------


def import_target(target: str) -> Any:
    """Import ``MODULE:ATTR`` and return the object; *ATTR* may be dotted.

    :param target: e.g. ``"myproject.web:app"`` or ``"myproject:factory.app"``.
    :raises CLIError: the target is malformed, the module cannot be
        imported, or it has no such attribute.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise CLIError(f"expected MODULE:ATTR (like 'myapp:app'), not {target!r}")
    # Like `python -m`, find modules in the current directory whichever way
    # crosswind itself was started (the console script's path[0] is its bin/).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise CLIError(f"cannot import module {module_name!r}: no module named {exc.name!r}") from None
        raise CLIError(f"cannot import module {module_name!r}: {exc}") from None
    except ImportError as exc:
        raise CLIError(f"cannot import module {module_name!r}: {exc}") from None
    except Exception as exc:
        # A bug in the module itself: its traceback is what the user needs.
        traceback.print_exc()
        raise CLIError(
            f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def load_app(target: str, backend: str | None = None) -> Application:
    """The application named by ``MODULE:ATTR``, ready for a backend.

    A crosswind application is returned as it is; a WSGI or ASGI 3 callable
    comes back wrapped in :class:`~crosswind.adapters.WSGIContainer` or
    :class:`~crosswind.adapters.ASGIContainer` (see :func:`detect_app_kind`).

    :param target: where the application is.
    :param backend: the backend that will serve it, when known: an ASGI app
        cannot be served by ``threads``, and that is better said now.
    :raises CLIError: it cannot be found, is no kind of application, or
        cannot run on *backend*.
    """
    return _adapt(import_target(target), target, backend)


AppKind = Literal["crosswind", "asgi", "wsgi"]


def detect_app_kind(obj: Any) -> AppKind:
    """Say whether *obj* is a crosswind, ASGI 3 or WSGI application.

    Checked in that order: an object whose ``handle`` is a coroutine function
    is a crosswind application (the Flask-style ``App`` is also a WSGI
    callable, and is best served natively); an async callable taking
    ``(scope, receive, send)`` is an ASGI 3 application; any other callable
    taking two positional arguments is a WSGI application.  A callable whose
    signature cannot be read (some extension types) is taken for WSGI.

    :param obj: the object ``MODULE:ATTR`` names.
    :raises TypeError: it is none of these; the message says what it lacks.
    """
    is_class = isinstance(obj, type)
    handle = getattr(obj, "handle", None)
    if handle is not None and inspect.iscoroutinefunction(handle):
        if is_class:
            raise TypeError("it is a class; name an instance of it")
        return "crosswind"
    if not callable(obj):
        if handle is not None:
            raise TypeError("its handle is not a coroutine function (async def handle(exchange))")
        raise TypeError("it has no async handle(exchange) method and is not callable")
    # A class's own __call__ is for its instances: calling the class builds one.
    if not is_class and (
        inspect.iscoroutinefunction(obj)
        or inspect.iscoroutinefunction(type(obj).__call__)
    ):
        if not _takes_positional(obj, 3):
            raise TypeError("it is an async callable but does not take (scope, receive, send)")
        return "asgi"
    if _takes_positional(obj, 2):
        return "wsgi"
    raise TypeError(
        "it is callable but takes neither (environ, start_response) nor, asynchronously, "
        "(scope, receive, send)"
    )


def _takes_positional(obj: Any, count: int) -> bool:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return True  # cannot tell: let the first request show it
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _adapt(obj: Any, target: str, backend: str | None = None) -> Application:
    # The one place that decides what kind of application an object is.
    try:
        kind = detect_app_kind(obj)
    except TypeError as exc:
        raise CLIError(
            f"{target} is not a crosswind application, an ASGI 3 application "
            f"or a WSGI application: {exc}"
        ) from None
    if kind == "crosswind":
        return obj  # type: ignore[no-any-return]
    # Imported only now: the containers bring in threads and event loops.
    from crosswind.adapters.asgi import ASGIAdapter, ASGIContainer
    from crosswind.adapters.wsgi import WSGIAdapter, WSGIContainer

    if isinstance(obj, ASGIAdapter | WSGIAdapter):
        # app.asgi or app.wsgi of a crosswind application: serve the
        # application itself instead of translating it there and back.
        log.debug("%s wraps %r; serving that directly", target, obj.app)
        return obj.app
    if kind == "asgi":
        if backend == "threads":
            raise CLIError(
                f"{target} is an ASGI application, which the threads backend cannot run "
                "(it has no event loop); use --backend asyncio or trio"
            )
        log.info("%s is an ASGI 3 application; serving it through ASGIContainer", target)
        return ASGIContainer(obj)
    log.info("%s is a WSGI application; serving it through WSGIContainer", target)
    return WSGIContainer(obj)


# -- backends ------------------------------------------------------------------


def available_backends() -> dict[str, EntryPoint]:
    """The installed backends by name, from the ``crosswind.backends`` entry points."""
    return {ep.name: ep for ep in entry_points(group=BACKEND_GROUP)}


def load_backend(name: str) -> Callable[..., None]:
    """The ``serve`` function of backend *name*.

    :param name: an entry-point name such as ``"asyncio"``.
    :raises CLIError: no such backend is installed, or it cannot be imported.
    """
    backends = available_backends()
    try:
        entry_point = backends[name]
    except KeyError:
        choices = ", ".join(sorted(backends)) or "none installed"
        raise CLIError(f"unknown backend {name!r}; available: {choices}") from None
    try:
        serve = entry_point.load()
    except ImportError as exc:
        raise CLIError(f"backend {name!r} cannot be loaded: {exc}") from None
    if not callable(serve):
        raise CLIError(f"backend {name!r} ({entry_point.value}) is not callable")
    return serve  # type: ignore[no-any-return]


# -- logging -----------------------------------------------------------------


class _Formatter(logging.Formatter):
    """Messages as they are, with the level in front only when it matters."""

    def __init__(self) -> None:
        super().__init__("%(message)s")
        self._loud = logging.Formatter("%(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return self._loud.format(record)
        return super().format(record)


def configure_logging(level: str | int = "INFO") -> None:
    """Send log records at *level* and above to stderr, once.

    :param level: a level name (``"debug"``) or number.
    """
    if isinstance(level, str):
        level = level.upper()
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(handler, "_crosswind", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter())
        handler._crosswind = True  # type: ignore[attr-defined]
        root.addHandler(handler)


def format_access_line(exchange: Exchange, seconds: float) -> str:
    """One access-log line: ``127.0.0.1 "GET /path HTTP/1.1" 200 13 0.42ms``.

    :param exchange: the finished exchange.
    :param seconds: how long it took.
    """
    peer = exchange.info.peer
    client = peer[0] if isinstance(peer, tuple) else "-"
    return '%s "%s %s HTTP/%s" %d %d %.2fms' % (
        client, exchange.method, exchange.target, exchange.http_version,
        exchange.status, exchange.bytes_sent, seconds * 1000.0,
    )


def make_access_log(logger: logging.Logger = access_logger) -> AccessLog:
    """A driver ``access_log`` hook that logs each exchange at INFO on *logger*.

    :param logger: where the lines go (``crosswind.access`` by default).
    """

    def access_log(exchange: Exchange, seconds: float) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("%s", format_access_line(exchange, seconds))

    return access_log


# -- command line ------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crosswind`` command."""
    parser = argparse.ArgumentParser(prog="crosswind", description="Serve crosswind applications.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="serve an application over HTTP/1.1")
    serve.add_argument(
        "app", metavar="MODULE:ATTR",
        help="a crosswind, WSGI or ASGI 3 application, e.g. myapp:app",
    )
    serve.add_argument(
        "--backend", default=DEFAULT_BACKEND,
        help=f"runtime backend: asyncio, trio, threads or an installed one (default {DEFAULT_BACKEND})",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8888, help="port to listen on; 0 picks a free one (default 8888)"
    )
    serve.add_argument(
        "--workers", type=_positive_int, default=1,
        help="worker processes sharing the port (default 1: serve in this process)",
    )
    serve.add_argument("--certfile", help="PEM certificate (chain) file; serves HTTPS")
    serve.add_argument("--keyfile", help="PEM private key file, if not in the certificate file")
    serve.add_argument("--unix-socket", metavar="PATH", help="listen on a Unix socket instead")
    serve.add_argument(
        "--protocol", default=DEFAULT_ENGINE,
        help=f"HTTP/1.1 protocol engine: native or h11 (default {DEFAULT_ENGINE})",
    )
    serve.add_argument(
        "--no-access-log", dest="access_log", action="store_false", help="do not log requests"
    )
    serve.add_argument(
        "--log-level", default="info", type=str.lower,
        choices=["critical", "error", "warning", "info", "debug"],
        help="least severe log level shown (default info)",
    )
    serve.add_argument(
        "--shutdown-timeout", type=float, default=30.0, metavar="SECONDS",
        help="seconds busy connections get to finish on shutdown (default 30)",
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    :param argv: the arguments, without the program name (default ``sys.argv[1:]``).
    """
    args = build_parser().parse_args(argv)
    try:
        return _serve_command(args)
    except CLIError as error:
        print(f"crosswind: error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # a backend that leaves SIGINT alone
        return 130


def _serve_command(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    if args.keyfile and not args.certfile:
        raise CLIError("--keyfile needs --certfile")
    if args.protocol not in available_engines():
        raise CLIError(
            f"unknown protocol {args.protocol!r}; available: {', '.join(available_engines())}"
        )
    if args.shutdown_timeout < 0:
        raise CLIError("--shutdown-timeout cannot be negative")
    serve = load_backend(args.backend)
    app = load_app(args.app, args.backend)
    if args.access_log:
        # One line per request: the server's own access log replaces the one
        # a Tornado-style Application writes through log_request.
        logging.getLogger("crosswind.web.access").disabled = True
    options: dict[str, Any] = {
        "shutdown_timeout": args.shutdown_timeout,
        "engine": args.protocol,
        "access_log": make_access_log() if args.access_log else None,
    }
    if args.certfile:
        options["ssl_context"] = _ssl_context(args.certfile, args.keyfile)
    if args.unix_socket:
        options["unix_socket"] = args.unix_socket
    if args.workers > 1:
        if not hasattr(os, "fork"):
            raise CLIError("--workers needs os.fork, which this platform does not have")
        return _serve_workers(serve, app, args, options)
    return _serve_here(serve, app, args.host, args.port, options)


def _ssl_context(certfile: str, keyfile: str | None) -> Any:
    from crosswind.backends._common import make_ssl_context

    try:
        return make_ssl_context(certfile, keyfile)
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.strerror or str(exc)
        raise CLIError(f"cannot load TLS certificate {certfile!r}: {reason}") from None


def _serve_here(
    serve: Callable[..., None], app: Application, host: str, port: int, options: dict[str, Any]
) -> int:
    listening = False

    def started(handle: Any) -> None:
        nonlocal listening
        listening = True

    try:
        serve(app, host, port, started=started, handle_signals=True, **options)
    except Exception as exc:
        if listening:
            raise
        if isinstance(exc, OSError) and (exc.strerror or "").startswith("cannot listen"):
            # Binding failed: the backend's message names the address.
            raise CLIError(exc.strerror, EXIT_FAILURE) from None
        # Most likely the application's startup hook: its traceback says why.
        traceback.print_exc()
        raise CLIError(
            f"the server did not start: {type(exc).__name__} (traceback above)", EXIT_FAILURE
        ) from None
    return 0


def _serve_workers(
    serve: Callable[..., None], app: Application, args: argparse.Namespace, options: dict[str, Any]
) -> int:
    from crosswind.backends._common import bind_socket, reserve_port

    port = args.port
    try:
        if args.unix_socket:
            # One socket the workers inherit: a Unix path cannot be shared
            # by binding it again.
            held = bind_socket(unix_socket=args.unix_socket)
            options = {**options, "sock": held}
        else:
            # Held, not listening, for the supervisor's lifetime: it turns
            # port 0 into one real port and reports a taken port up front.
            held = reserve_port(args.host, port)
            port = held.getsockname()[1]
            options = {**options, "reuse_port": True}
    except OSError as exc:
        raise CLIError(exc.strerror or str(exc), EXIT_FAILURE) from None

    def start_worker() -> int:
        # Signals stay blocked across the fork so none reaches the child
        # while it still has the supervisor's handlers.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                for signum in _STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                if "sock" not in options:
                    held.close()
                _run_worker(serve, app, args.host, port, options)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return pid

    try:
        return supervise(args.workers, start_worker, shutdown_timeout=args.shutdown_timeout)
    finally:
        held.close()


def _run_worker(
    serve: Callable[..., None], app: Application, host: str, port: int, options: dict[str, Any]
) -> None:
    """The body of a forked worker; never returns."""
    code = 0
    try:
        serve(app, host, port, handle_signals=True, **options)
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

    A worker that exits on its own is restarted, after a delay that doubles
    with each one in a row that died young.  On SIGINT/SIGTERM the workers
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
