"""Serving several applications from one server, each under a path prefix.

``Mount([("/api", flask_style_app), ("", tornado_style_app)])`` is itself an
application: each request goes to the application with the longest prefix
that matches whole path segments (``/api`` matches ``/api`` and ``/api/x``,
not ``/apix``).  The chosen application sees the request path without the
prefix and finds the prefix in ``exchange.root_path`` -- a Flask-style
application reports it as ``request.script_root`` and puts it in front of
every URL it builds.  Anything that speaks ``async def handle(exchange)``
can be mounted, Tornado-style and Flask-style applications alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .protocol.exchange import Application, Exchange
from .routing import NotFound
from .serving.entrypoints import ServerEntryPoints

__all__ = ["Mount", "MountedExchange", "match_prefix", "root_path_of"]


def root_path_of(exchange: Any) -> str:
    """Where the application serving *exchange* is mounted (``""`` at the root).

    A :class:`MountedExchange` says so itself; the WSGI and ASGI adapters
    record ``SCRIPT_NAME``/``root_path`` in ``exchange.info.extra``.

    :param exchange: the exchange being served.
    """
    root = getattr(exchange, "root_path", None)
    if root is None:
        info = getattr(exchange, "info", None)
        extra = getattr(info, "extra", None) or {}
        root = extra.get("root_path", "") or ""
    return str(root).rstrip("/")


class MountedExchange:
    """An exchange as seen by an application mounted under *prefix*.

    Everything is the underlying exchange's except :attr:`path` and
    :attr:`target`, which lose the prefix, and :attr:`root_path`, which
    gains it.

    :param exchange: the exchange (possibly itself mounted).
    :param prefix: the part of the raw path the mount consumed, e.g. ``/api``.
    """

    def __init__(self, exchange: Exchange | MountedExchange, prefix: str) -> None:
        path = exchange.path[len(prefix) :] or "/"
        query = exchange.query
        object.__setattr__(self, "_exchange", exchange)
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "target", f"{path}?{query}" if query else path)
        object.__setattr__(self, "root_path", root_path_of(exchange) + prefix)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exchange, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # Writes (status, max_body_size...) must reach the real exchange.
        setattr(self._exchange, name, value)

    def __repr__(self) -> str:
        return f"<MountedExchange {self.root_path!r} + {self.target!r}>"


def match_prefix(path: str, prefix: str) -> bool:
    """Whether *prefix* covers *path* on a segment boundary.

    :param path: the request path.
    :param prefix: a mount prefix without a trailing slash (``""`` matches all).
    """
    if not prefix:
        return True
    return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")


class Mount(ServerEntryPoints):
    """An application that dispatches to other applications by path prefix.

    :param mounts: ``(prefix, application)`` pairs; a prefix is ``""`` (the
        fallback) or starts with ``/``; a trailing slash is ignored.
    :raises ValueError: a prefix does not start with ``/`` or appears twice.
    """

    def __init__(self, mounts: Iterable[tuple[str, Application]]) -> None:
        self._mounts: list[tuple[str, Application]] = []
        for prefix, app in mounts:
            self.add(prefix, app)

    def add(self, prefix: str, app: Application) -> None:
        """Serve *app* under *prefix*.

        :param prefix: ``""`` or a path starting with ``/``.
        :param app: any crosswind application.
        :raises ValueError: for a malformed or duplicate prefix.
        """
        normalized = prefix.rstrip("/")
        if normalized and not normalized.startswith("/"):
            raise ValueError(f"mount prefix {prefix!r} must start with '/'")
        if any(existing == normalized for existing, _ in self._mounts):
            raise ValueError(f"mount prefix {prefix!r} is already used")
        self._mounts.append((normalized, app))
        # Longest first, so /api/v2 wins over /api.
        self._mounts.sort(key=lambda item: len(item[0]), reverse=True)

    @property
    def mounts(self) -> list[tuple[str, Application]]:
        """The ``(prefix, application)`` pairs, longest prefix first."""
        return list(self._mounts)

    def find(self, path: str) -> tuple[str, Application] | None:
        """The ``(prefix, application)`` serving *path*, or ``None``.

        :param path: the raw request path.
        """
        for prefix, app in self._mounts:
            if match_prefix(path, prefix):
                return prefix, app
        return None

    async def handle(self, exchange: Exchange) -> None:
        """Pass the exchange to the mounted application; 404 if none matches.

        :param exchange: the request being served.
        """
        found = self.find(exchange.path)
        if found is None:
            raise NotFound()
        prefix, app = found
        await app.handle(MountedExchange(exchange, prefix) if prefix else exchange)  # type: ignore[arg-type]
