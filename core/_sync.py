"""Running a coroutine that never has to wait, without an event loop."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class EventLoopRequired(RuntimeError):
    """A coroutine awaited something only an event loop can complete."""


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run *coro* to completion in the calling thread.

    The threaded backend and the in-memory test client use this: their
    transports block instead of suspending, so the driver's coroutines finish
    in a single step.  An awaitable that does suspend (``asyncio.sleep``,
    say) cannot be completed here.

    :raises EventLoopRequired: the coroutine tried to suspend.
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise EventLoopRequired(
        "a handler awaited something that needs an event loop; "
        "serve it with the asyncio or trio backend"
    )
