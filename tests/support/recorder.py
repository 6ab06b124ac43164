"""What a server-side callback saw, for a test that reads it from its own thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Recorder"]

WAIT = 10.0


class Recorder:
    """Items added by handlers or views, in order; tuples whose first element names them."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = threading.Condition()

    def add(self, item: Any) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = WAIT) -> list[Any]:
        """Wait until *predicate* holds for the items; the items then."""
        with self._changed:
            # A copy in the message: the list keeps growing (a shutdown's
            # closes) before the failure is reported.
            assert self._changed.wait_for(lambda: predicate(self.items), timeout), list(self.items)
            return list(self.items)

    def has(self, first: str) -> Callable[[list[Any]], bool]:
        """A predicate: some item is named *first*."""
        return lambda items: any(item[0] == first for item in items)

    def of(self, first: str) -> list[Any]:
        """The items named *first*."""
        return [item for item in self.items if item[0] == first]

    def closes(self) -> list[Any]:
        """The items named ``close``."""
        return self.of("close")
