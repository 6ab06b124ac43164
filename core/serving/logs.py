"""Logging for the command line: named loggers, where records go, and the access-log line.

Loggers
    Everything the server says goes to loggers under ``crosswind``:
    ``crosswind.error`` for start-up, shutdown and failures of the server (it
    was ``crosswind.server``), ``crosswind.access`` for one line per request,
    and the loggers of the layers beside them (``crosswind.driver``,
    ``crosswind.adapters``, Tornado-style ``crosswind.application``,
    ``crosswind.general`` and ``crosswind.web.access``...), all below
    ``crosswind`` so that configuring that one logger reaches them all.

Rules
    * ``crosswind serve`` gives the ``crosswind`` logger a stderr handler of its
      own and stops it propagating, so the server's lines are never printed
      twice, whatever the application does with the root logger.
    * The root logger is the application's.  The command line gives it a
      handler, so that the application's own ``INFO`` lines show, only when
      nothing has configured it by the time the application is loaded.
    * ``--log-config`` hands all of this to a :func:`logging.config.dictConfig`
      file (JSON, or YAML with PyYAML) or a :func:`logging.config.fileConfig`
      INI file, and crosswind then adds no handler of its own.
    * The access-log format is compiled once into one function: the line is
      built on every request, so it is one ``%`` and a few attribute reads.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import logging.config
import os
import re
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from ..protocol.driver import AccessLog
from ..protocol.exchange import Exchange

__all__ = [
    "ACCESS_ATOMS",
    "DEFAULT_ACCESS_LOG_FORMAT",
    "AccessFormatError",
    "access_logger",
    "compile_access_format",
    "configure_logging",
    "configure_root_logging",
    "ensure_server_logging",
    "error_logger",
    "format_access_line",
    "load_log_config",
    "make_access_log",
    "route_access_log",
]

#: The parent of every logger crosswind writes to.
server_root_logger = logging.getLogger("crosswind")
#: One line per request (gunicorn's ``gunicorn.access``, uvicorn's ``uvicorn.access``).
access_logger = logging.getLogger("crosswind.access")
#: Start-up, shutdown and failures of the server (gunicorn's ``gunicorn.error``).
error_logger = logging.getLogger("crosswind.error")

#: Combined Log Format with the request time in seconds at the end.
DEFAULT_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(L)s'

#: The atoms of ``--access-log-format``, gunicorn's names and meanings.
ACCESS_ATOMS: dict[str, str] = {
    "h": "client address (the one the trusted proxy reported, behind --proxy-headers)",
    "l": "'-' (the identd field of the Common Log Format)",
    "u": "user name of HTTP Basic authentication, or '-'",
    "t": "time the line is written, [07/Dec/2026:09:15:02 +0000]",
    "r": "request line, GET /path?q=1 HTTP/1.1",
    "m": "request method",
    "U": "path, without the query, as the client sent it",
    "q": "query string, without the '?'",
    "H": "protocol, HTTP/1.1",
    "s": "status code",
    "B": "body bytes sent",
    "b": "body bytes sent, or '-' for none",
    "f": "Referer header, or '-'",
    "a": "User-Agent header, or '-'",
    "T": "request time in whole seconds",
    "M": "request time in whole milliseconds",
    "D": "request time in whole microseconds",
    "L": "request time in seconds with six decimals",
    "p": "process id, <1234>",
    "{name}i": "request header name, or '-'",
    "{name}o": "response header name as the application set it, or '-'",
}

# What each atom is in the compiled line: an expression over the exchange
# ``x`` and the request time ``s``.  Text a client controls has its double
# quotes escaped, as gunicorn does, so a quoted field cannot be closed early.
_EXPRESSIONS = {
    "h": "_client(x.info.peer)",
    "l": "'-'",
    "u": "_user(x.headers)",
    "t": "_now()",
    "r": "_quoted('%s %s HTTP/%s' % (x.method, x.target, x.http_version))",
    "m": "x.method",
    "U": "_quoted(x.path)",
    "q": "_quoted(x.query)",
    "H": "'HTTP/' + x.http_version",
    "s": "x.status",
    "B": "x.bytes_sent",
    "b": "(x.bytes_sent or '-')",
    "f": "_header(x.headers, b'referer')",
    "a": "_header(x.headers, b'user-agent')",
    "T": "int(s)",
    "M": "int(s * 1000)",
    "D": "int(s * 1000000)",
    "L": "'%.6f' % s",
    "p": "'<%d>' % _getpid()",
}
# Values of each kind, to try a format against before the first request.
_SAMPLES: dict[str, Any] = {
    "s": 200, "B": 0, "T": 0, "M": 0, "D": 0,
}
_TOKEN = re.compile(r"%%|%\(([^)]*)\)")
_HEADER_ATOM = re.compile(r"\{([!#$%&'*+.^_`|~0-9A-Za-z-]+)\}([io])")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class AccessFormatError(ValueError):
    """An access-log format with an unknown atom or a conversion that cannot apply."""


def _client(peer: Any) -> str:
    return peer[0] if type(peer) is tuple else "-"


def _quoted(text: str) -> str:
    return text.replace('"', '\\"') if '"' in text else text


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key == name:
            return _quoted(value.decode("latin-1"))
    return "-"


def _response_header(headers: Any, name: str) -> str:
    for key, value in headers or ():
        if isinstance(key, bytes):
            key = key.decode("latin-1")
            value = value.decode("latin-1")
        if key.lower() == name:
            return _quoted(value)
    return "-"


def _user(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() != b"basic":
                return "-"
            try:
                user = base64.b64decode(credentials.strip(), validate=True).split(b":", 1)[0]
                return _quoted(user.decode("utf-8"))
            except (binascii.Error, UnicodeDecodeError):
                return "-"
    return "-"


def _clf_clock(wall_clock: Callable[[], float]) -> Callable[[], str]:
    """``[day/Mon/year:H:M:S +zone]`` in local time, remade once a second.

    The month is English whatever the locale, as the Common Log Format wants.
    """
    last_second = -1
    text = ""

    def now() -> str:
        nonlocal last_second, text
        second = int(wall_clock())
        if second != last_second:
            t = time.localtime(second)
            text = "[%02d/%s/%d:%02d:%02d:%02d %s]" % (
                t.tm_mday, _MONTHS[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec,
                time.strftime("%z", t),
            )
            last_second = second
        return text

    return now


def compile_access_format(
    fmt: str = DEFAULT_ACCESS_LOG_FORMAT,
    *,
    wall_clock: Callable[[], float] = time.time,
    getpid: Callable[[], int] = os.getpid,
) -> Callable[[Exchange, float], str]:
    """Compile a gunicorn-style access-log format into ``line(exchange, seconds)``.

    The format is ``%``-formatting with a mapping, as in gunicorn: ``%(h)s``,
    ``%(s)d``, ``%({x-request-id}i)s``; :data:`ACCESS_ATOMS` lists the atoms.

    :param fmt: the format.
    :param wall_clock: POSIX seconds, for ``%(t)s``.
    :param getpid: the process id, for ``%(p)s`` (asked on each line: workers
        are forked after the format is compiled).
    :raises AccessFormatError: an unknown atom, or a conversion that does not
        fit the atom's value (``%(b)d``: ``b`` may be ``-``).
    """
    expressions: list[str] = []
    samples: list[Any] = []
    names: dict[str, Any] = {
        "_client": _client, "_quoted": _quoted, "_header": _header, "_user": _user,
        "_response_header": _response_header, "_getpid": getpid,
        "_now": _clf_clock(wall_clock),
    }

    def placeholder(match: re.Match[str]) -> str:
        atom = match.group(1)
        if atom is None:
            return "%%"
        header = _HEADER_ATOM.fullmatch(atom)
        if header is not None:
            constant = f"_h{len(names)}"
            name = header.group(1).lower()
            if header.group(2) == "i":
                names[constant] = name.encode("ascii")
                expressions.append(f"_header(x.headers, {constant})")
            else:
                names[constant] = name
                expressions.append(f"_response_header(x.response_headers, {constant})")
            samples.append("-")
        elif atom in _EXPRESSIONS:
            expressions.append(_EXPRESSIONS[atom])
            samples.append(_SAMPLES.get(atom, "-"))
        else:
            raise AccessFormatError(
                f"unknown atom %({atom})s in the access-log format; known: "
                + " ".join(ACCESS_ATOMS)
            )
        return "%"

    positional = _TOKEN.sub(placeholder, fmt)
    try:
        positional % tuple(samples)
    except (TypeError, ValueError) as error:
        raise AccessFormatError(f"bad access-log format {fmt!r}: {error}") from None
    names["_format"] = positional
    # One generated function, so that a line costs one % and the atoms asked
    # for, not a call per atom (see bench/NOTES.md, "access log").
    source = f"def line(x, s):\n    return _format % ({', '.join(expressions)},)\n"
    if not expressions:
        source = "def line(x, s):\n    return _format % ()\n"
    exec(compile(source, "<access-log format>", "exec"), names)
    line: Callable[[Exchange, float], str] = names["line"]
    return line


_default_line = compile_access_format()


def format_access_line(exchange: Exchange, seconds: float) -> str:
    """The access-log line of :data:`DEFAULT_ACCESS_LOG_FORMAT`, e.g.
    ``127.0.0.1 - - [07/Dec/2026:09:15:02 +0000] "GET /path HTTP/1.1" 200 13 "-" "curl/8.5.0" 0.000420``.

    :param exchange: the finished exchange.
    :param seconds: how long it took.
    """
    return _default_line(exchange, seconds)


def make_access_log(
    logger: logging.Logger = access_logger,
    fmt: str = DEFAULT_ACCESS_LOG_FORMAT,
    *,
    wall_clock: Callable[[], float] = time.time,
) -> AccessLog:
    """A driver ``access_log`` hook that logs each exchange at INFO on *logger*.

    :param logger: where the lines go (``crosswind.access`` by default).
    :param fmt: the line's format (see :func:`compile_access_format`).
    :param wall_clock: POSIX seconds, for ``%(t)s``.
    :raises AccessFormatError: *fmt* is not a valid format.
    """
    line = compile_access_format(fmt, wall_clock=wall_clock)
    enabled = logger.isEnabledFor
    info = logger.info

    def access_log(exchange: Exchange, seconds: float) -> None:
        if enabled(logging.INFO):
            # No arguments: the line is the message as it is, formatted once.
            info(line(exchange, seconds))

    return access_log


class _Formatter(logging.Formatter):
    """Messages as they are, with the level in front only when it matters."""

    def __init__(self) -> None:
        super().__init__("%(message)s")
        self._loud = logging.Formatter("%(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING:
            return self._loud.format(record)
        return super().format(record)


def _own_handler(stream: IO[str]) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_Formatter())
    handler._crosswind = True  # type: ignore[attr-defined]
    return handler


def _has_own_handler(logger: logging.Logger) -> bool:
    return any(getattr(handler, "_crosswind", False) for handler in logger.handlers)


def _level(level: str | int) -> str | int:
    return level.upper() if isinstance(level, str) else level


def configure_logging(level: str | int = "INFO") -> None:
    """Send the server's records at *level* and above to stderr, once.

    Only the ``crosswind`` logger is touched: it gets a handler and stops
    propagating, so a root logger the application configures never prints
    the server's lines a second time.

    :param level: a level name (``"debug"``) or number.
    """
    server_root_logger.setLevel(_level(level))
    if not _has_own_handler(server_root_logger):
        server_root_logger.addHandler(_own_handler(sys.stderr))
    server_root_logger.propagate = False


def configure_root_logging(level: str | int = "INFO") -> bool:
    """Show the application's own records on stderr, if it configured no logging.

    Called once the application is loaded: a root logger that has a handler
    by then belongs to the application and is left exactly as it is.

    :param level: a level name or number for the root logger.
    :returns: whether the root logger was configured here.
    """
    root = logging.getLogger()
    if root.handlers:
        return False
    root.setLevel(_level(level))
    root.addHandler(_own_handler(sys.stderr))
    return True


def ensure_server_logging() -> None:
    """Make the ``crosswind`` logger's INFO lines visible, unless logging is set up.

    For ``App.run()`` and ``Application.listen()``, which print the start-up
    line as ``crosswind serve`` does: the logger gets a level of INFO if it
    has none, and a stderr handler only if no logger on its way to the root
    has one (so an application that configured logging keeps its handlers).
    """
    if server_root_logger.level == logging.NOTSET:
        server_root_logger.setLevel(logging.INFO)
    if not server_root_logger.hasHandlers():
        server_root_logger.addHandler(_own_handler(sys.stderr))


def route_access_log(target: str) -> None:
    """Write the access lines to *target* alone: ``-`` for stdout, else a file.

    :param target: ``-`` or a path, opened for appending.
    :raises OSError: the file cannot be opened.
    """
    if target == "-":
        handler: logging.Handler = logging.StreamHandler(sys.stdout)
    else:
        handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.propagate = False
    if access_logger.level == logging.NOTSET:
        access_logger.setLevel(logging.INFO)


def load_log_config(path: str) -> None:
    """Configure logging from *path*, as uvicorn's and gunicorn's ``--log-config`` do.

    ``.json`` is a :func:`logging.config.dictConfig` dictionary, ``.yaml`` and
    ``.yml`` the same in YAML (needs PyYAML: ``crosswind[yaml]``), anything
    else an INI file for :func:`logging.config.fileConfig`.  Loggers that
    exist already stay enabled unless the file says
    ``disable_existing_loggers``: crosswind's are created at import.

    :param path: the file.
    :raises ValueError: the file cannot be read or is not a valid configuration.
    """
    lower = path.lower()
    if not os.path.isfile(path):
        raise ValueError(f"no such file: {path!r}")
    try:
        if lower.endswith((".json", ".yaml", ".yml")):
            with open(path, encoding="utf-8") as file:
                config = json.load(file) if lower.endswith(".json") else _load_yaml(file)
            if not isinstance(config, dict):
                raise TypeError("the file does not hold a mapping")
            config.setdefault("disable_existing_loggers", False)
            logging.config.dictConfig(config)
        else:
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except _MissingYAML:
        raise ValueError(
            "a YAML --log-config needs PyYAML: pip install 'crosswind[yaml]'"
        ) from None
    except Exception as error:  # JSON, YAML, configparser and logging errors alike
        raise ValueError(f"bad log configuration {path!r}: {error}") from None


class _MissingYAML(Exception):
    pass


def _load_yaml(file: IO[str]) -> Any:
    try:
        import yaml
    except ImportError:
        raise _MissingYAML from None
    return yaml.safe_load(file)
