"""``memory://``: one process's pub/sub, the same on asyncio and trio, and on threads.

Every test body runs on both event loops through the ``run`` fixture; the
threads backend's way (coroutines that block instead of suspending, run by
``run_sync``) has its own tests at the end.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import trio
from crosswind._sync import run_sync
from crosswind.adapters._runtime import current_library, spawn_scope
from crosswind.broadcast import Broadcast, BroadcastUnavailable, Event, Subscriber

T = TypeVar("T")
WAIT = 5.0


@pytest.fixture(params=["asyncio", "trio"])
def run(request: pytest.FixtureRequest) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    def runner(main: Callable[[], Awaitable[Any]]) -> Any:
        if request.param == "asyncio":
            return asyncio.run(main())  # type: ignore[arg-type]
        return trio.run(main)

    return runner


async def sleep(seconds: float) -> None:
    if current_library() == "trio":
        await trio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


async def bounded(awaitable: Awaitable[T], seconds: float = WAIT) -> T:
    """*awaitable*'s result, or a failure after *seconds*: no test waits forever."""
    if current_library() == "trio":
        with trio.fail_after(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)


async def drain(subscriber: Subscriber) -> list[str | bytes]:
    return [event.message async for event in subscriber]


def test_every_subscriber_of_a_channel_gets_each_message_in_order(run) -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://")
        async with (
            broadcast,
            broadcast.subscribe("room:a") as first,
            broadcast.subscribe("room:a") as second,
            broadcast.subscribe("room:b") as other,
        ):
            await broadcast.publish("room:a", "hello")
            await broadcast.publish("room:a", b"\x00\xff")
            await broadcast.publish("room:b", "elsewhere")
            for subscriber in (first, second):
                assert await bounded(subscriber.get()) == Event("room:a", "hello")
                assert await bounded(subscriber.get()) == Event("room:a", b"\x00\xff")
                assert subscriber.queued == 0
            assert await bounded(other.get()) == Event("room:b", "elsewhere")
            assert other.queued == 0

    run(main)


def test_a_waiting_subscriber_wakes_on_publish(run) -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://")
        received: list[Event] = []
        async with broadcast.subscribe("room") as subscriber:

            async def listen() -> None:
                received.append(await subscriber.get())

            async with spawn_scope() as spawn:
                spawn(listen)
                await sleep(0.05)  # the listener is waiting by now
                assert received == []
                await broadcast.publish("room", "late")
                for _ in range(100):
                    if received:
                        break
                    await sleep(0.01)
        assert received == [Event("room", "late")]

    run(main)


def test_publishing_from_another_thread_wakes_the_loop(run) -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://")
        async with broadcast.subscribe("room") as subscriber:
            publisher = threading.Thread(
                target=lambda: run_sync(broadcast.publish("room", "from a thread"))
            )
            publisher.start()
            try:
                assert await bounded(subscriber.get()) == Event("room", "from a thread")
            finally:
                publisher.join(WAIT)

    run(main)


def test_unsubscribing_ends_the_iteration_and_forgets_the_channel(run) -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://")
        subscriber = await broadcast.add_subscriber("room")
        assert broadcast.subscriptions() == {"room": 1}
        await broadcast.publish("room", "kept")
        await subscriber.unsubscribe()
        await subscriber.unsubscribe()  # twice is harmless
        assert broadcast.subscriptions() == {}
        await broadcast.publish("room", "after")  # nobody listens: not queued
        assert await bounded(drain(subscriber)) == ["kept"]

        async with broadcast.subscribe("room"), broadcast.subscribe("room"):
            assert broadcast.subscriptions() == {"room": 2}
        assert broadcast.subscriptions() == {}

    run(main)


def test_leaving_by_an_exception_unsubscribes_too(run) -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://")
        with pytest.raises(KeyError):
            async with broadcast.subscribe("room"):
                raise KeyError("boom")
        assert broadcast.subscriptions() == {}

    run(main)


def test_a_slow_subscriber_loses_the_oldest_messages_and_counts_them(run) -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://", max_queued=3)
        async with broadcast.subscribe("room") as slow, broadcast.subscribe("room") as fast:
            for number in range(10):
                await broadcast.publish("room", str(number))
                if number >= 5:
                    assert (await fast.get()).message == str(number)
                else:
                    await fast.get()
            assert slow.queued == 3
            assert slow.dropped == 7
            assert fast.dropped == 0
            assert [(await slow.get()).message for _ in range(3)] == ["7", "8", "9"]

    run(main)


def test_disconnect_ends_every_subscription(run) -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://")
        await broadcast.connect()
        first = await broadcast.add_subscriber("a")
        second = await broadcast.add_subscriber("b")
        await broadcast.publish("a", "last words")
        ended: list[list[str | bytes]] = []

        async def listen() -> None:
            ended.append(await drain(second))

        async with spawn_scope() as spawn:
            spawn(listen)
            await sleep(0.05)
            await broadcast.disconnect()
            for _ in range(100):
                if ended:
                    break
                await sleep(0.01)
        assert ended == [[]]
        assert await bounded(drain(first)) == ["last words"]
        assert broadcast.subscriptions() == {}
        await first.unsubscribe()  # after the disconnect: nothing left to undo

    run(main)


def test_messages_are_text_or_bytes() -> None:
    async def main() -> None:
        broadcast = Broadcast("memory://")
        with pytest.raises(TypeError, match="str or bytes, not dict"):
            await broadcast.publish("room", {"not": "serialised"})  # type: ignore[arg-type]

    asyncio.run(main())


def test_the_url_names_the_engine() -> None:
    with pytest.raises(ValueError, match=r"unknown broadcast URL 'amqp://u:\*\*\*@host/'"):
        Broadcast("amqp://u:secret@host/")
    with pytest.raises(ValueError, match="max_queued"):
        Broadcast("memory://", max_queued=0)
    assert repr(Broadcast("redis://u:secret@host:6379/0")) == "<Broadcast redis://u:***@host:6379/0>"
    assert issubclass(BroadcastUnavailable, ConnectionError)


# -- the threads backend: no event loop, coroutines that block -----------------------


def test_without_an_event_loop_a_subscriber_blocks_until_a_thread_publishes() -> None:
    broadcast = Broadcast("memory://")
    subscriber = run_sync(broadcast.add_subscriber("room"))
    received: list[Event] = []

    def listen() -> None:
        received.append(run_sync(subscriber.get()))
        received.append(run_sync(subscriber.get()))

    listener = threading.Thread(target=listen)
    listener.start()
    run_sync(broadcast.publish("room", "one"))
    run_sync(broadcast.publish("room", b"two"))
    listener.join(WAIT)
    assert not listener.is_alive()
    assert received == [Event("room", "one"), Event("room", b"two")]


def test_without_an_event_loop_unsubscribing_releases_a_blocked_reader() -> None:
    broadcast = Broadcast("memory://")
    subscriber = run_sync(broadcast.add_subscriber("room"))
    outcome: list[str] = []

    def listen() -> None:
        try:
            run_sync(subscriber.get())
        except StopAsyncIteration:
            outcome.append("ended")

    listener = threading.Thread(target=listen)
    listener.start()
    listener.join(0.1)
    assert listener.is_alive()  # blocked: nothing was published
    run_sync(subscriber.unsubscribe())
    listener.join(WAIT)
    assert outcome == ["ended"]
    assert broadcast.subscriptions() == {}
