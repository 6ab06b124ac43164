"""The ``crosswind`` command line: ``python -m crosswind serve MODULE:ATTR``.

Three commands: ``serve`` runs the application; ``routes`` prints its route
table (:mod:`crosswind.serving.routes`) and ``shell`` opens a Python shell on
it (:mod:`crosswind.serving.shell`), as ``flask routes`` and ``flask shell``
do, for Flask-style and Tornado-style applications alike.

This module only reads the arguments and wires the pieces together: the
application comes from :mod:`crosswind.serving.loading`, the backend from
:mod:`crosswind.serving.backends`, the workers of ``--workers N`` from
:mod:`crosswind.serving.supervisor` and the log lines from
:mod:`crosswind.serving.logs`.  A problem the user can fix is one line on
stderr and exit status 2; a server that failed while starting, exit status 1.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import traceback
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from ..protocol.exchange import Application
from ..protocol.http1.engine import DEFAULT_ENGINE, available_engines
from ..protocol.limits import Limits
from .backends import DEFAULT_BACKEND, Serve, load_backend
from .errors import EXIT_FAILURE, CLIError
from .loading import import_target, load_app
from .logs import configure_logging, make_access_log
from .routes import SORT_KEYS, format_routes, route_rows
from .shell import run_shell
from .supervisor import serve_workers

__all__ = ["build_parser", "main"]


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
        "--no-server-header", dest="server_header", action="store_false",
        help="send no Server header (an application's own is kept)",
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
    _add_proxy_flags(serve)
    _add_limit_flags(serve)
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


def _add_limit_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of :class:`~crosswind.protocol.limits.Limits`, named after it.

    ``--max-connections 200`` is ``Limits(max_connections=200)``; a flag not
    given keeps the field's default, which the help shows.
    """
    group = parser.add_argument_group(
        "limits", "each sets the crosswind.Limits field of the same name (docs/security.md)"
    )
    for limit in fields(Limits):
        kind = int if limit.type in ("int", int) else float
        unit = "SECONDS" if limit.name.endswith(("timeout", "grace", "deadline")) else "N"
        group.add_argument(
            "--" + limit.name.replace("_", "-"), dest=f"limit_{limit.name}", type=kind,
            metavar=unit, default=None, help=f"(default {limit.default})",
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
        flags = ", ".join("--" + name.replace("_", "-") for name in changes)
        raise CLIError(f"bad limit ({flags}): {error}") from None


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
        if args.command == "routes":
            return _routes_command(args)
        if args.command == "shell":
            return run_shell(import_target(args.app), args.app)
        return _serve_command(args)
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
    limits = _limits(args)
    serve = load_backend(args.backend)
    app = load_app(args.app, args.backend)
    # At most one line per request: the server's own access log (or, with
    # --no-access-log, none) replaces the one a Tornado-style Application writes
    # through log_request.
    logging.getLogger("crosswind.web.access").disabled = True
    options: dict[str, Any] = {
        "limits": limits,
        "shutdown_timeout": args.shutdown_timeout,
        "engine": args.protocol,
        "access_log": make_access_log() if args.access_log else None,
    }
    if args.certfile:
        options["ssl_context"] = _ssl_context(args.certfile, args.keyfile)
    if args.unix_socket:
        options["unix_socket"] = args.unix_socket
    if not args.server_header:
        # Only when asked: an installed backend may predate the option.
        options["server_header"] = False
    options.update(_proxy_options(args))
    if args.workers > 1:
        return serve_workers(args.workers, serve, app, args.host, args.port, **options)
    return _serve_here(serve, app, args.host, args.port, options)


def _ssl_context(certfile: str, keyfile: str | None) -> Any:
    from crosswind.backends._common import make_ssl_context

    try:
        return make_ssl_context(certfile, keyfile)
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.strerror or str(exc)
        raise CLIError(f"cannot load TLS certificate {certfile!r}: {reason}") from None


def _serve_here(
    serve: Serve, app: Application, host: str, port: int, options: dict[str, Any]
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
