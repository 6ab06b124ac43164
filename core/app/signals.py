"""Signals the Flask-style layer sends, and the small signal type behind them.

A :class:`Signal` keeps a list of receivers and calls each with the sender
and keyword arguments, as blinker (which Flask uses) does; receivers are held
weakly by default, so connecting a function does not keep it alive.  Nothing
here is imported from blinker: an application that never connects a receiver
pays one empty-list check per send.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "ANY",
    "Namespace",
    "Signal",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "got_request_exception",
    "message_flashed",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "template_rendered",
]


class _Any:
    def __repr__(self) -> str:
        return "ANY"


#: Connect with ``sender=ANY`` (the default) to hear every sender.
ANY: Any = _Any()


class Signal:
    """A named notification receivers can subscribe to.

    :param name: the signal's name.
    :param doc: what the signal means.
    """

    def __init__(self, name: str = "", doc: str | None = None) -> None:
        self.name = name
        self.__doc__ = doc
        # (reference-or-callable, is_weak, sender filter)
        self._receivers: list[tuple[Any, bool, Any]] = []

    def __repr__(self) -> str:
        return f"<Signal {self.name!r}>"

    @property
    def receivers(self) -> list[Callable[..., Any]]:
        """The live receivers, in the order they were connected."""
        return [receiver for receiver, _ in self._live()]

    def _live(self) -> list[tuple[Callable[..., Any], Any]]:
        live = []
        dead = False
        for ref, weak, sender in self._receivers:
            receiver = ref() if weak else ref
            if receiver is None:
                dead = True
                continue
            live.append((receiver, sender))
        if dead:
            self._receivers = [
                entry for entry in self._receivers if not entry[1] or entry[0]() is not None
            ]
        return live

    def connect(
        self, receiver: Callable[..., Any], sender: Any = ANY, weak: bool = True
    ) -> Callable[..., Any]:
        """Call *receiver* ``(sender, **kwargs)`` whenever the signal is sent.

        :param receiver: the function to call.
        :param sender: only hear this sender (compared by identity); ``ANY`` for all.
        :param weak: hold *receiver* weakly (bound methods too).
        :returns: *receiver*, so this works as a decorator.
        """
        ref: Any = receiver
        if weak:
            try:
                ref = (
                    weakref.WeakMethod(receiver)
                    if hasattr(receiver, "__self__") and hasattr(receiver, "__func__")
                    else weakref.ref(receiver)
                )
            except TypeError:
                weak = False
        self.disconnect(receiver, sender)
        self._receivers.append((ref, weak, sender))
        return receiver

    def connect_via(self, sender: Any, weak: bool = False) -> Callable[[Callable[..., Any]], Any]:
        """Decorator form of :meth:`connect` for one *sender*.

        :param sender: the sender to hear.
        :param weak: hold the receiver weakly.
        """

        def decorator(receiver: Callable[..., Any]) -> Callable[..., Any]:
            return self.connect(receiver, sender, weak)

        return decorator

    def disconnect(self, receiver: Callable[..., Any], sender: Any = ANY) -> None:
        """Stop calling *receiver* (for *sender*, or for every sender with ``ANY``).

        :param receiver: the function given to :meth:`connect`.
        :param sender: the sender it was connected for.
        """
        kept = []
        for ref, weak, connected_sender in self._receivers:
            current = ref() if weak else ref
            if current == receiver and (sender is ANY or connected_sender is sender):
                continue
            kept.append((ref, weak, connected_sender))
        self._receivers = kept

    @contextmanager
    def connected_to(self, receiver: Callable[..., Any], sender: Any = ANY) -> Iterator[None]:
        """Connect *receiver* (strongly) for the duration of a ``with`` block.

        :param receiver: the function to call.
        :param sender: only hear this sender.
        """
        self.connect(receiver, sender, weak=False)
        try:
            yield
        finally:
            self.disconnect(receiver, sender)

    def send(self, sender: Any = None, /, **kwargs: Any) -> list[tuple[Callable[..., Any], Any]]:
        """Call every receiver for *sender*; return ``[(receiver, result), ...]``.

        :param sender: who sends (Flask sends the application).
        :param kwargs: data for the receivers; ``_async_wrapper`` is accepted and ignored.
        """
        if not self._receivers:
            return []
        kwargs.pop("_async_wrapper", None)
        results = []
        for receiver, wanted in self._live():
            if wanted is ANY or wanted is sender:
                results.append((receiver, receiver(sender, **kwargs)))
        return results

    def has_receivers_for(self, sender: Any) -> bool:
        """Whether sending for *sender* would call anything.

        :param sender: the sender.
        """
        return any(wanted is ANY or wanted is sender for _, wanted in self._live())


class Namespace(dict[str, Signal]):
    """A dict of signals by name; :meth:`signal` creates one on first use."""

    def signal(self, name: str, doc: str | None = None) -> Signal:
        """Return the signal called *name*, creating it if needed.

        :param name: the signal's name.
        :param doc: its documentation, used when it is created.
        """
        if name not in self:
            self[name] = Signal(name, doc)
        return self[name]


_signals = Namespace()

template_rendered = _signals.signal("template-rendered")
before_render_template = _signals.signal("before-render-template")
request_started = _signals.signal("request-started")
request_finished = _signals.signal("request-finished")
request_tearing_down = _signals.signal("request-tearing-down")
got_request_exception = _signals.signal("got-request-exception")
appcontext_tearing_down = _signals.signal("appcontext-tearing-down")
appcontext_pushed = _signals.signal("appcontext-pushed")
appcontext_popped = _signals.signal("appcontext-popped")
message_flashed = _signals.signal("message-flashed")
