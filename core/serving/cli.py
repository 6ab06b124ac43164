"""The ``crosswind`` command line: ``python -m crosswind serve MODULE:ATTR``.

Three commands: ``serve`` runs the application; ``routes`` prints its route
table (:mod:`crosswind.serving.routes`) and ``shell`` opens a Python shell on
it (:mod:`crosswind.serving.shell`), as ``flask routes`` and ``flask shell``
do, for Flask-style and Tornado-style applications alike.

This module only reads the arguments and wires the pieces together: the
application comes from :mod:`crosswind.serving.loading`, the backend from
:mod:`crosswind.serving.backends`, the workers of ``--workers N`` from
:mod:`crosswind.serving.supervisor`, the watcher of ``--reload`` from
:mod:`crosswind.serving.reload`, the bounds of ``--limit-concurrency`` and
``--limit-max-requests`` from :mod:`crosswind.serving.capacity` and the log
lines from :mod:`crosswind.serving.logs`.  The flags keep uvicorn's and
gunicorn's names where those servers have the same setting
(``docs/deployment.md`` has the table).  A problem the user can fix is one line on
stderr and exit status 2; a server that failed while starting, exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import logging
import os
import platform
import sys
import traceback
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from .._version import __version__
from ..protocol.exchange import Application
from ..protocol.http1.engine import DEFAULT_ENGINE, available_engines
from ..protocol.limits import Limits
from .backends import DEFAULT_BACKEND, Serve, load_backend
from .capacity import ConcurrencyLimit, RequestBudget
from .errors import EXIT_FAILURE, CLIError
from .loading import import_target, load_app
from .logs import (
    DEFAULT_ACCESS_LOG_FORMAT,
    AccessFormatError,
    compile_access_format,
    configure_logging,
    configure_root_logging,
    load_log_config,
    make_access_log,
    route_access_log,
)
from .reload import RELOAD_CHILD_ENV, child_command, is_reload_child, run_with_reload
from .routes import SORT_KEYS, format_routes, route_rows
from .shell import run_shell
from .supervisor import serve_workers

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``crosswind`` command."""
    parser = argparse.ArgumentParser(prog="crosswind", description="Serve crosswind applications.")
    parser.add_argument(
        "--version", action="version",
        version=f"crosswind {__version__} ({platform.python_implementation()} "
        f"{platform.python_version()} on {platform.system()})",
    )
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
    serve.add_argument("--unix-socket", metavar="PATH", help="listen on a Unix socket instead")
    serve.add_argument(
        "--protocol", default=DEFAULT_ENGINE,
        help=f"HTTP/1.1 protocol engine: native or h11 (default {DEFAULT_ENGINE})",
    )
    serve.add_argument(
        "--loop", choices=["asyncio", "uvloop"], default=None,
        help="the asyncio backend's event loop (default asyncio; uvloop needs crosswind[uvloop])",
    )
    serve.add_argument(
        "--no-access-log", dest="access_log", action="store_false", help="do not log requests"
    )
    serve.add_argument(
        "--no-server-header", dest="server_header", action="store_false",
        help="send no Server header (an application's own is kept)",
    )
    serve.add_argument(
        "--log-level", default=None, type=str.lower,
        choices=["critical", "error", "warning", "info", "debug"],
        help="least severe log level shown (default info; with --log-config, the file's)",
    )
    serve.add_argument(
        "--shutdown-timeout", "--timeout-graceful-shutdown", "--graceful-timeout",
        type=_non_negative(float), default=30.0, metavar="SECONDS",
        help="seconds busy connections get to finish on shutdown (default 30)",
    )
    _add_loading_flags(serve)
    _add_reload_flags(serve)
    _add_capacity_flags(serve)
    _add_tls_flags(serve)
    _add_proxy_flags(serve)
    _add_limit_flags(serve)
    _add_logging_flags(serve)
    routes = commands.add_parser(
        "routes", help="show the routes of an application",
        description="Show the routes of a Flask-style or Tornado-style application "
        "(and of applications mounted on it), as 'flask routes' does.",
    )
    routes.add_argument("app", metavar="MODULE:ATTR", help="the application, e.g. myapp:app")
    routes.add_argument(
        "--sort", "-s", default="endpoint", choices=SORT_KEYS,
        help="order by this column; 'match' is the order routes are tried in (default endpoint)",
    )
    routes.add_argument(
        "--all-methods", action="store_true", help="show HEAD and OPTIONS methods too"
    )
    shell = commands.add_parser(
        "shell", help="open a Python shell on an application",
        description="Open an interactive Python shell with the application as 'app'; a "
        "Flask-style application has its app context pushed and its shell context "
        "processors run.",
    )
    shell.add_argument("app", metavar="MODULE:ATTR", help="the application, e.g. myapp:app")
    return parser


#: The names uvicorn and gunicorn give to the same limits; each is one more
#: spelling of the crosswind.Limits flag (docs/deployment.md has the table).
LIMIT_ALIASES: dict[str, tuple[str, ...]] = {
    "idle_timeout": ("--timeout-keep-alive", "--keep-alive"),
    "max_request_line": ("--limit-request-line",),
    "max_header_count": ("--limit-request-fields",),
    "max_head_size": ("--h11-max-incomplete-event-size",),
    "max_connections": ("--worker-connections",),
    "ws_max_message_size": ("--ws-max-size",),
}


class _LimitAction(argparse.Action):
    """Stores a limit and remembers which spelling set it, for the error message."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
        values: Any, option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        spellings = dict(getattr(namespace, "limit_spellings", None) or {})
        spellings[self.dest] = option_string or self.option_strings[0]
        namespace.limit_spellings = spellings


def _add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of :class:`~crosswind.protocol.limits.Limits`, named after it.

    ``--max-connections 200`` is ``Limits(max_connections=200)``; a flag not
    given keeps the field's default, which the help shows.  The uvicorn and
    gunicorn names of :data:`LIMIT_ALIASES` are accepted too.
    """
    group = parser.add_argument_group(
        "limits", "each sets the crosswind.Limits field of the same name (docs/security.md)"
    )
    for limit in fields(Limits):
        kind = int if limit.type in ("int", int) else float
        unit = "SECONDS" if limit.name.endswith(("timeout", "grace", "deadline")) else "N"
        aliases = LIMIT_ALIASES.get(limit.name, ())
        shown = f" (also {', '.join(aliases)})" if aliases else ""
        group.add_argument(
            "--" + limit.name.replace("_", "-"), *aliases, dest=f"limit_{limit.name}", type=kind,
            metavar=unit, default=None, action=_LimitAction,
            help=f"(default {limit.default}){shown}",
        )


def _limits(args: argparse.Namespace) -> Limits:
    """The limits the flags ask for.

    :raises CLIError: a value the limits refuse, with the flag's name.
    """
    changes = {
        limit.name: getattr(args, f"limit_{limit.name}")
        for limit in fields(Limits)
        if getattr(args, f"limit_{limit.name}") is not None
    }
    try:
        return Limits(**changes)
    except ValueError as error:
        spellings = getattr(args, "limit_spellings", None) or {}
        flags = ", ".join(
            spellings.get(f"limit_{name}", "--" + name.replace("_", "-")) for name in changes
        )
        raise CLIError(f"bad limit ({flags}): {error}") from None


# -- loading, reloading, capacity and TLS flags (uvicorn's and gunicorn's names) --


def _add_loading_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("loading the application")
    group.add_argument(
        "--factory", action="store_true",
        help="MODULE:ATTR is a function that takes no argument and returns the application "
        "(MODULE:ATTR() says the same; MODULE:ATTR(ARGS) passes literal arguments)",
    )
    group.add_argument(
        "--app-dir", type=_directory, metavar="DIR",
        help="import MODULE from this directory (default: the current one)",
    )
    group.add_argument(
        "--env-file", type=_readable_file, metavar="PATH",
        help="set environment variables from this .env file before loading the application; "
        "variables already set keep their value (needs python-dotenv: crosswind[dotenv])",
    )


def _add_reload_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reloading")
    group.add_argument(
        "--reload", action="store_true",
        help="restart the server when a watched file changes (development only; "
        "watchfiles from crosswind[reload] if installed, else polling)",
    )
    group.add_argument(
        "--reload-dir", action="append", type=_directory, metavar="DIR",
        help="watch this directory (repeatable; default: the current one)",
    )
    group.add_argument(
        "--reload-include", action="append", metavar="GLOB",
        help="also watch files matching this pattern (repeatable; *.py always is)",
    )
    group.add_argument(
        "--reload-exclude", action="append", metavar="GLOB",
        help="ignore files and directories matching this pattern (repeatable; "
        "always ignored: .*, *.py[cod], *~, __pycache__)",
    )


def _add_capacity_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("capacity")
    group.add_argument(
        "--limit-concurrency", type=_positive_int, metavar="N",
        help="answer 503 to a request that arrives while N others are being handled "
        "in the same process",
    )
    group.add_argument(
        "--limit-max-requests", "--max-requests", type=_positive_int, metavar="N",
        help="shut a server process down gracefully after N requests; under --workers "
        "it is replaced by a fresh one",
    )
    group.add_argument(
        "--max-requests-jitter", type=_non_negative(int), metavar="N",
        help="with --workers, add a random 0..N to each worker's --limit-max-requests so "
        "they are not all replaced at once (default: a tenth of it)",
    )
    group.add_argument(
        "--backlog", type=_positive_int, metavar="N",
        help="connections the kernel queues before they are accepted (default 1024)",
    )
    group.add_argument(
        "--no-date-header", dest="date_header", action="store_false",
        help="send no Date header (an application's own is kept)",
    )
    group.add_argument(
        "--http2", "--h2c", dest="http2", action="store_true",
        help="serve HTTP/2 to cleartext clients that start with its preface (prior "
        "knowledge, as behind a proxy); over TLS, ALPN offers h2 regardless "
        "(asyncio and trio backends)",
    )


def _add_tls_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TLS")
    group.add_argument(
        "--ssl-certfile", "--certfile", dest="certfile", metavar="PATH",
        help="PEM certificate (chain) file; serves HTTPS",
    )
    group.add_argument(
        "--ssl-keyfile", "--keyfile", dest="keyfile", metavar="PATH",
        help="PEM private key file, if not in the certificate file",
    )
    group.add_argument(
        "--ssl-keyfile-password", metavar="PASSWORD", help="password of an encrypted private key"
    )
    group.add_argument(
        "--ssl-ca-certs", metavar="PATH",
        help="PEM file of the authorities that client certificates are checked against",
    )
    group.add_argument(
        "--ssl-cert-reqs", type=int, choices=(0, 1, 2), default=0,
        help="client certificates: 0 not asked for, 1 optional, 2 required (default 0)",
    )


def _add_proxy_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("behind a proxy", "see docs/deployment.md")
    group.add_argument(
        "--proxy-headers", action=argparse.BooleanOptionalAction, default=None,
        help="take the client's address, scheme and host from X-Forwarded-For/-Proto/-Host "
        "or Forwarded when a trusted peer sends them (default: on when the trusted peers "
        "are given, off otherwise)",
    )
    group.add_argument(
        "--forwarded-allow-ips", metavar="IPS", type=_allow_ips,
        help="comma-separated addresses or networks (10.0.0.0/8) of the trusted proxies, "
        "or '*' for any; default $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1",
    )
    group.add_argument(
        "--root-path", metavar="PATH", default="", type=_root_path,
        help="the path prefix the proxy serves the app under and strips "
        "(the ASGI root_path, WSGI SCRIPT_NAME)",
    )


def _add_logging_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("logging", "see docs/deployment.md, Logging")
    group.add_argument(
        "--log-config", type=_readable_file, metavar="PATH",
        help="configure logging from this file: a dictConfig in .json or .yaml/.yml "
        "(PyYAML: crosswind[yaml]), else an INI fileConfig; crosswind adds no handler then",
    )
    group.add_argument(
        "--access-log-format", "--access-logformat", default=DEFAULT_ACCESS_LOG_FORMAT,
        type=_access_format, metavar="FORMAT",
        help="gunicorn's access-log atoms, e.g. '%%(h)s \"%%(r)s\" %%(s)s %%(L)s' "
        "(default: the Combined Log Format and the request time in seconds)",
    )
    group.add_argument(
        "--access-logfile", metavar="PATH",
        help="write the access log to this file, or to stdout with '-' (default: stderr, "
        "with the other lines)",
    )


def _access_format(text: str) -> str:
    try:
        compile_access_format(text)
    except AccessFormatError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _setup_logging(args: argparse.Namespace) -> None:
    """Where records go, before the application is imported (it may log while it is)."""
    if args.log_config:
        try:
            load_log_config(args.log_config)
        except ValueError as error:
            raise CLIError(str(error)) from None
        if args.log_level:
            logging.getLogger("crosswind").setLevel(args.log_level.upper())
    else:
        configure_logging(args.log_level or "info")
    if args.access_logfile:
        try:
            route_access_log(args.access_logfile)
        except OSError as exc:
            raise CLIError(
                f"cannot open --access-logfile {args.access_logfile!r}: {exc.strerror or exc}"
            ) from None


def _allow_ips(text: str) -> str:
    """Refuses an entry that is meant as an address or a network but is not one.

    Other text is kept and matched literally, as uvicorn does (a Unix
    socket's path, a ``Forwarded`` identifier).
    """
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            raise argparse.ArgumentTypeError(f"empty entry in {text!r}")
        looks_like_ip = entry[0].isdigit() or ":" in entry
        if entry == "*" or entry.startswith("/") or not looks_like_ip:
            continue
        try:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)
            else:
                ipaddress.ip_address(entry)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{entry!r} is not an IP address or network"
            ) from None
    return text


def _root_path(text: str) -> str:
    if text and not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"must start with '/': {text!r}")
    return text.rstrip("/")


def _proxy_options(args: argparse.Namespace) -> dict[str, Any]:
    """The serve() options of the proxy flags that were given (an installed
    backend may predate them)."""
    options: dict[str, Any] = {}
    if args.proxy_headers is not None:
        options["proxy_headers"] = args.proxy_headers
    if args.forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = args.forwarded_allow_ips
    if args.root_path:
        options["root_path"] = args.root_path
    return options


def _non_negative(kind: type[int] | type[float]) -> Any:
    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"cannot be negative, not {value}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _directory(text: str) -> str:
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"no such directory: {text!r}")
    return text


def _readable_file(text: str) -> str:
    if not os.path.isfile(text) or not os.access(text, os.R_OK):
        raise argparse.ArgumentTypeError(f"no readable file at {text!r}")
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    :param argv: the arguments, without the program name (default ``sys.argv[1:]``).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "routes":
            return _routes_command(args)
        if args.command == "shell":
            return run_shell(import_target(args.app), args.app)
        return _serve_command(args, argv)
    except CLIError as error:
        print(f"crosswind: error: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # a backend that leaves SIGINT alone
        return 130


def _routes_command(args: argparse.Namespace) -> int:
    app = import_target(args.app)
    try:
        rows = route_rows(app)
    except TypeError as error:
        raise CLIError(f"{args.app}: {error}") from None
    for line in format_routes(rows, args.sort, args.all_methods):
        print(line)
    return 0


def _serve_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    _setup_logging(args)
    _check_serve_flags(args)
    if args.protocol not in available_engines():
        raise CLIError(
            f"unknown protocol {args.protocol!r}; available: {', '.join(available_engines())}"
        )
    limits = _limits(args)
    if args.reload and not is_reload_child():
        return run_with_reload(
            child_command(argv), args.reload_dir or [os.getcwd()],
            includes=args.reload_include or (), excludes=args.reload_exclude or (),
            stop_timeout=args.shutdown_timeout,
        )
    # The server's own subprocesses are no reload children.
    os.environ.pop(RELOAD_CHILD_ENV, None)
    if args.env_file:
        _load_env_file(args.env_file)
    serve = load_backend(args.backend)
    app = load_app(args.app, args.backend, factory=args.factory, app_dir=args.app_dir)
    if not args.log_config:
        configure_root_logging(args.log_level or "info")
    if args.limit_concurrency:
        app = ConcurrencyLimit(app, args.limit_concurrency)
    # At most one line per request: the server's own access log (or, with
    # --no-access-log, none) replaces the one a Tornado-style Application writes
    # through log_request.
    logging.getLogger("crosswind.web.access").disabled = True
    options: dict[str, Any] = {
        "limits": limits,
        "shutdown_timeout": args.shutdown_timeout,
        "engine": args.protocol,
        "access_log": make_access_log(fmt=args.access_log_format) if args.access_log else None,
    }
    if args.certfile:
        options["ssl_context"] = _ssl_context(args)
    if args.unix_socket:
        options["unix_socket"] = args.unix_socket
    if not args.server_header:
        # Only when asked: an installed backend may predate the option.
        options["server_header"] = False
    if not args.date_header:
        options["date_header"] = False
    if args.http2:
        options["http2"] = True
    if args.loop == "uvloop":
        # Only when asked: the other backends, and an installed one, have no such option.
        options["loop"] = "uvloop"
    options.update(_proxy_options(args))
    if args.workers > 1:
        jitter = args.max_requests_jitter
        if jitter is None and args.limit_max_requests:
            jitter = args.limit_max_requests // 10
        return serve_workers(
            args.workers, serve, app, args.host, args.port,
            backlog=args.backlog, max_requests=args.limit_max_requests,
            max_requests_jitter=jitter or 0, **options,
        )
    if args.backlog:
        options["sock"] = _bind(args.host, args.port, options.pop("unix_socket", None), args.backlog)
    if args.limit_max_requests:
        app = RequestBudget(app, args.limit_max_requests)
    return _serve_here(serve, app, args.host, args.port, options)


def _check_serve_flags(args: argparse.Namespace) -> None:
    """The checks that need more than one flag, before anything starts."""
    if args.keyfile and not args.certfile:
        raise CLIError("--ssl-keyfile needs --ssl-certfile")
    for flag in ("ssl_keyfile_password", "ssl_ca_certs"):
        if getattr(args, flag) and not args.certfile:
            raise CLIError(f"--{flag.replace('_', '-')} needs --ssl-certfile")
    if args.ssl_cert_reqs and not args.certfile:
        raise CLIError("--ssl-cert-reqs needs --ssl-certfile")
    if args.reload and args.workers > 1:
        raise CLIError("--reload and --workers cannot be used together")
    if args.max_requests_jitter is not None and not args.limit_max_requests:
        raise CLIError("--max-requests-jitter needs --limit-max-requests")
    if args.loop == "uvloop":
        if args.backend != "asyncio":
            raise CLIError("--loop uvloop needs --backend asyncio")
        try:
            importlib.import_module("uvloop")
        except ImportError:
            raise CLIError(
                "--loop uvloop needs the uvloop package: pip install 'crosswind[uvloop]'"
            ) from None


def _load_env_file(path: str) -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:
        raise CLIError(
            "--env-file needs python-dotenv: pip install 'crosswind[dotenv]'"
        ) from None
    # Variables already in the environment win, as with uvicorn: the shell or
    # the service manager has the last word over a file in the project.
    load_dotenv(path, override=False)


def _bind(host: str, port: int, unix_socket: str | None, backlog: int) -> Any:
    from crosswind.backends._common import bind_socket

    try:
        return bind_socket(host, port, unix_socket=unix_socket, backlog=backlog)
    except OSError as exc:
        raise CLIError(exc.strerror or str(exc), EXIT_FAILURE) from None


def _ssl_context(args: argparse.Namespace) -> Any:
    from crosswind.backends._common import make_ssl_context

    try:
        return make_ssl_context(
            args.certfile, args.keyfile, password=args.ssl_keyfile_password,
            ca_certs=args.ssl_ca_certs, cert_reqs=args.ssl_cert_reqs,
        )
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.strerror or str(exc)
        raise CLIError(f"cannot load TLS certificate {args.certfile!r}: {reason}") from None


def _serve_here(
    serve: Serve, app: Application, host: str, port: int, options: dict[str, Any]
) -> int:
    listening = False

    def started(handle: Any) -> None:
        nonlocal listening
        listening = True
        if isinstance(app, RequestBudget):
            app.bind(lambda: _spent(app.requests, handle))

    try:
        serve(app, host, port, started=started, handle_signals=True, **options)
    except Exception as exc:
        if listening:
            raise
        reason = exc.strerror if isinstance(exc, OSError) else None
        if reason is not None and reason.startswith("cannot listen"):
            # Binding failed: the backend's message names the address.
            raise CLIError(reason, EXIT_FAILURE) from None
        # Most likely the application's startup hook: its traceback says why.
        traceback.print_exc()
        raise CLIError(
            f"the server did not start: {type(exc).__name__} (traceback above)", EXIT_FAILURE
        ) from None
    return 0


def _spent(requests: int, handle: Any) -> None:
    logging.getLogger("crosswind.error").info(
        "Handled %d requests (--limit-max-requests); shutting down", requests
    )
    handle.shutdown()
