"""Bounds the command line puts around an application: how many requests at once, how many in all.

Both are wrappers that the command line puts around the loaded application,
so every backend honours them alike without knowing about them:

- :class:`ConcurrencyLimit` (``--limit-concurrency N``) answers
  ``503 Service Unavailable`` to a request that arrives while *N* others are
  being handled in this process, as uvicorn does above its limit.  It counts
  requests in the application, not connections: idle keep-alive connections
  are bounded by ``Limits.max_connections`` instead.
- :class:`RequestBudget` (``--limit-max-requests N``) asks the server to shut
  down gracefully once it has handled *N* requests, so that a worker which
  leaks memory is replaced by a fresh one (gunicorn's ``--max-requests``).

The counters take no lock: the threaded backend calls ``handle`` from many
threads, so each step is a single operation on a set or an iterator, which
the interpreter performs whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ..protocol.exchange import Application, Exchange

__all__ = ["ConcurrencyLimit", "RequestBudget"]

_UNAVAILABLE_BODY = b"Service Unavailable"
_UNAVAILABLE_HEADERS = [
    (b"Content-Type", b"text/plain; charset=utf-8"),
    (b"Connection", b"close"),
]


class _Wrapper:
    """Passes everything but ``handle`` to the application (``startup``, ``shutdown``...)."""

    def __init__(self, app: Application) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


class ConcurrencyLimit(_Wrapper):
    """Refuse requests with 503 while *limit* others are in the application.

    :param app: the application.
    :param limit: the most requests handled at once; at least 1.
    :raises ValueError: *limit* is below 1.
    """

    def __init__(self, app: Application, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the concurrency limit must be at least 1, not {limit}")
        super().__init__(app)
        self.limit = limit
        self._active: set[object] = set()

    @property
    def active(self) -> int:
        """How many requests the application is handling now."""
        return len(self._active)

    async def handle(self, exchange: Exchange) -> None:
        """Handle *exchange*, or answer 503 when the application is full.

        :param exchange: the request.
        """
        token = object()
        # Admit first, then look: two requests racing for the last place are
        # both refused rather than both let in.
        self._active.add(token)
        try:
            if len(self._active) > self.limit:
                # Closing sends the client to try again, possibly elsewhere,
                # instead of queueing its next request behind a full server.
                await exchange.respond(503, _UNAVAILABLE_HEADERS, _UNAVAILABLE_BODY)
                return
            await self.app.handle(exchange)
        finally:
            self._active.discard(token)


class RequestBudget(_Wrapper):
    """Ask for a graceful shutdown once *requests* requests have been handled.

    The requests that are in progress, or arrive before the server stops
    accepting, are still answered.

    :param app: the application.
    :param requests: how many requests to handle; at least 1.
    :param on_spent: called once, when the last request of the budget is
        done; usually set later by :meth:`bind`, once the server's handle exists.
    :raises ValueError: *requests* is below 1.
    """

    def __init__(
        self, app: Application, requests: int, on_spent: Callable[[], None] | None = None
    ) -> None:
        if requests < 1:
            raise ValueError(f"the request budget must be at least 1, not {requests}")
        super().__init__(app)
        self.requests = requests
        self._done = itertools.count(1)
        self._on_spent = on_spent
        self._spent = False

    @property
    def spent(self) -> bool:
        """Whether the budget has run out."""
        return self._spent

    def bind(self, on_spent: Callable[[], None]) -> None:
        """Call *on_spent* when the budget runs out, or now if it already has.

        :param on_spent: usually the server handle's ``shutdown``.
        """
        self._on_spent = on_spent
        if self._spent:
            on_spent()

    async def handle(self, exchange: Exchange) -> None:
        """Handle *exchange*, counting it against the budget.

        :param exchange: the request.
        """
        try:
            await self.app.handle(exchange)
        finally:
            if next(self._done) == self.requests:
                self._spent = True
                if self._on_spent is not None:
                    self._on_spent()
