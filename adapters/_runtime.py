"""Which async library is running the caller, and the few primitives adapters need from it.

The adapters host foreign code (WSGI apps in threads, ASGI apps as
coroutines) under whichever backend serves them, so they must find out at
call time whether that is asyncio, trio or no event loop at all (the
threaded backend) and pick matching primitives.  trio is only consulted when
it has already been imported: a process that never imported it cannot be
running inside it.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

__all__ = ["Event", "Mailbox", "ThreadRunner", "current_library", "new_event", "spawn_scope"]

T = TypeVar("T")


def current_library() -> str | None:
    """``"asyncio"``, ``"trio"``, or ``None`` when no event loop runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        return "asyncio"
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
        else:
            return "trio"
    return None


class Event(Protocol):
    """The part of ``asyncio.Event`` and ``trio.Event`` both provide."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


def new_event() -> Event:
    """An event of the running library.

    :raises RuntimeError: no asyncio or trio loop runs in this thread.
    """
    library = current_library()
    if library == "asyncio":
        return asyncio.Event()
    if library == "trio":
        import trio

        return trio.Event()
    raise RuntimeError("waiting needs a running asyncio or trio event loop")


class Mailbox:
    """An unbounded single-consumer queue that works under asyncio and trio."""

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._waiter: Event | None = None

    def put(self, item: Any) -> None:
        """Add *item*; never blocks.

        :param item: any object; the consumer gets items in order.
        """
        self._items.append(item)
        if self._waiter is not None:
            self._waiter.set()

    async def get(self) -> Any:
        """Wait for and return the oldest item."""
        while not self._items:
            self._waiter = new_event()
            try:
                await self._waiter.wait()
            finally:
                self._waiter = None
        return self._items.popleft()


Spawn = Callable[[Callable[[], Awaitable[None]]], None]


@asynccontextmanager
async def spawn_scope() -> AsyncIterator[Spawn]:
    """Yield ``spawn(fn)`` for background tasks that are cancelled on exit.

    The body must not raise: under trio an exception from the body would come
    out wrapped in an exception group, so callers capture their own outcome
    and re-raise after the scope.
    """
    if current_library() == "trio":
        import trio

        async with trio.open_nursery() as nursery:
            yield lambda fn: nursery.start_soon(fn)
            nursery.cancel_scope.cancel()
        return
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []

    async def run(fn: Callable[[], Awaitable[None]]) -> None:
        await fn()

    def spawn(fn: Callable[[], Awaitable[None]]) -> None:
        tasks.append(loop.create_task(run(fn)))

    try:
        yield spawn
    finally:
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class ThreadRunner:
    """Runs blocking calls off the event loop, at most *max_workers* at a time.

    Under asyncio the calls go to a private thread pool, under trio to
    ``trio.to_thread.run_sync`` with a capacity limiter of the same size; with
    no event loop (the threaded backend, whose handler already has a thread
    to itself) they run directly.

    :param max_workers: how many calls may run at once.
    """

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers!r}")
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._limiter: Any = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Return ``fn(*args)``, computed in a worker thread when a loop runs here.

        :param fn: a blocking callable.
        :param args: its positional arguments.
        """
        library = current_library()
        if library == "asyncio":
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.max_workers, thread_name_prefix="crosswind-wsgi"
                )
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        if library == "trio":
            import trio

            if self._limiter is None:
                self._limiter = trio.CapacityLimiter(self.max_workers)
            return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)
        return fn(*args)

    def shutdown(self) -> None:
        """Let the worker threads exit once their current calls return."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
