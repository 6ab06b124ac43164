"""Logging for the command line: where records go, and the access-log line."""

from __future__ import annotations

import logging
import sys

from ..protocol.driver import AccessLog
from ..protocol.exchange import Exchange

__all__ = ["access_logger", "configure_logging", "format_access_line", "make_access_log"]

access_logger = logging.getLogger("crosswind.access")


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
