"""One subscriber's queue: bounded, filled from any thread, read on the subscriber's runtime.

The rules it keeps:

* ``put`` never blocks and never waits for the reader, so one slow subscriber
  cannot hold up a publisher or the other subscribers.  When the queue is
  full the oldest message is dropped and counted in :attr:`Mailbox.dropped`:
  a chat client that fell behind loses old lines rather than the process
  growing without bound.
* The reader waits the way the runtime it was created on waits: an asyncio or
  trio event when a loop runs in its thread, a condition variable when none
  does (the threads backend, whose coroutines block instead of suspending).
  A ``put`` from another thread wakes it through that loop's thread-safe door.
* ``close`` ends the reading: what is queued is still handed out, then
  :meth:`Mailbox.get` returns :data:`CLOSED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from crosswind.adapters._runtime import Event, current_library, new_event

__all__ = ["CLOSED", "Mailbox"]


class _Closed:
    def __repr__(self) -> str:
        return "CLOSED"


#: What :meth:`Mailbox.get` returns once the mailbox is closed and empty.
CLOSED: Final = _Closed()


class Mailbox:
    """A bounded queue with one reader, bound to the runtime of the thread that creates it.

    :param max_queued: how many messages may wait; at least 1.
    """

    def __init__(self, max_queued: int) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1, not {max_queued!r}")
        self.max_queued = max_queued
        #: How many messages were dropped, oldest first, because the reader fell behind.
        self.dropped = 0
        self._items: deque[Any] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._waiter: Event | None = None
        self._library = current_library()
        self._thread = threading.get_ident()
        # Without a loop the reader blocks on this condition instead of an event.
        self._condition = threading.Condition(self._lock) if self._library is None else None
        self._wake_from_elsewhere = self._thread_safe_waker()

    def _thread_safe_waker(self) -> Callable[[Callable[[], Any]], None] | None:
        if self._library == "asyncio":
            loop = asyncio.get_running_loop()

            def via_loop(fn: Callable[[], Any]) -> None:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(fn)

            return via_loop
        if self._library == "trio":
            import trio

            token = trio.lowlevel.current_trio_token()

            def via_token(fn: Callable[[], Any]) -> None:
                # Once the reader's run is over there is nobody left to wake.
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(fn)

            return via_token
        return None

    def put(self, item: Any) -> None:
        """Queue *item* for the reader, dropping the oldest one when full; never blocks.

        :param item: the message; items come out in the order they went in.
        """
        with self._lock:
            if self._closed:
                return
            if len(self._items) >= self.max_queued:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            if self._condition is not None:
                self._condition.notify()
            waiter = self._waiter
        if waiter is not None:
            self._wake(waiter)

    def close(self) -> None:
        """Stop taking items; the reader gets what is queued, then :data:`CLOSED`."""
        with self._lock:
            self._closed = True
            if self._condition is not None:
                self._condition.notify_all()
            waiter = self._waiter
        if waiter is not None:
            self._wake(waiter)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def _wake(self, waiter: Event) -> None:
        if threading.get_ident() == self._thread or self._wake_from_elsewhere is None:
            waiter.set()
        else:
            self._wake_from_elsewhere(waiter.set)

    async def get(self) -> Any:
        """The oldest item, waiting for one; :data:`CLOSED` once closed and drained.

        On asyncio and trio it always checkpoints, so a reader that is never
        short of messages still lets the other tasks run.
        """
        if self._condition is not None:
            return self._get_blocking()
        while True:
            with self._lock:
                if self._items:
                    item = self._items.popleft()
                    break
                if self._closed:
                    item = CLOSED
                    break
                waiter = self._waiter = new_event()
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    self._waiter = None
        await _checkpoint(self._library)
        return item

    def _get_blocking(self) -> Any:
        assert self._condition is not None
        with self._condition:
            while not self._items and not self._closed:
                self._condition.wait()
            return self._items.popleft() if self._items else CLOSED


async def _checkpoint(library: str | None) -> None:
    if library == "trio":
        import trio

        await trio.lowlevel.checkpoint()
    elif library == "asyncio":
        await asyncio.sleep(0)
