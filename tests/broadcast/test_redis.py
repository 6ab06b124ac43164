"""``redis://`` against a real ``redis-server`` started by the test session.

Two :class:`Broadcast` objects stand for two processes: what one publishes,
the other's subscribers receive, through Redis.  ``PUBSUB NUMSUB`` asked of
Redis itself shows how many connections subscribe to a channel, which is how
the tests see that one Broadcast holds one subscription connection and that
leaving a channel really unsubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import pytest
import redis
import trio
from crosswind._sync import run_sync
from crosswind.broadcast import Broadcast, BroadcastUnavailable, Event

from tests.support.redis_server import RedisServer, running_redis

pytestmark = pytest.mark.network
WAIT = 5.0


def numsub(server: RedisServer, channel: str) -> int:
    with redis.Redis(port=server.port, socket_timeout=WAIT) as client:
        [(_, count)] = client.pubsub_numsub(channel)
        return int(count)


async def wait_numsub(server: RedisServer, channel: str, wanted: int) -> None:
    # UNSUBSCRIBE is sent, not awaited: Redis may count the old number for a moment.
    for _ in range(200):
        if await asyncio.to_thread(numsub, server, channel) == wanted:
            return
        await asyncio.sleep(0.02)
    assert await asyncio.to_thread(numsub, server, channel) == wanted


def test_messages_cross_from_one_broadcast_to_another(redis_server: RedisServer) -> None:
    async def main() -> None:
        here, there = Broadcast(redis_server.url), Broadcast(redis_server.url)
        async with (
            here,
            there,
            here.subscribe("room:a") as local,
            there.subscribe("room:a") as remote,
            there.subscribe("room:b") as elsewhere,
        ):
            await here.publish("room:a", "hello")
            await here.publish("room:a", b"\x00\x01 raw")
            await there.publish("room:b", "b only")
            for subscriber in (local, remote):
                assert await asyncio.wait_for(subscriber.get(), WAIT) == Event("room:a", "hello")
                assert await asyncio.wait_for(subscriber.get(), WAIT) == Event(
                    "room:a", b"\x00\x01 raw"
                )
            assert await asyncio.wait_for(elsewhere.get(), WAIT) == Event("room:b", "b only")
            await asyncio.sleep(0.05)
            assert (local.queued, remote.queued, elsewhere.queued) == (0, 0, 0)

    asyncio.run(main())


def test_a_message_from_another_redis_client_arrives(redis_server: RedisServer) -> None:
    async def main() -> None:
        async with Broadcast(redis_server.url) as broadcast, \
                broadcast.subscribe("room:foreign") as subscriber:
            with redis.Redis(port=redis_server.port) as client:
                client.publish("room:foreign", "plain text")
                client.publish("room:foreign", b"\xff\xfe")
            assert await asyncio.wait_for(subscriber.get(), WAIT) == Event(
                "room:foreign", "plain text"
            )
            assert await asyncio.wait_for(subscriber.get(), WAIT) == Event("room:foreign", b"\xff\xfe")

    asyncio.run(main())


def test_one_connection_subscribes_and_the_last_to_leave_unsubscribes(
    redis_server: RedisServer,
) -> None:
    async def main() -> None:
        async with Broadcast(redis_server.url) as broadcast:
            first = await broadcast.add_subscriber("room:count")
            second = await broadcast.add_subscriber("room:count")
            await wait_numsub(redis_server, "room:count", 1)
            assert broadcast.subscriptions() == {"room:count": 2}
            await first.unsubscribe()
            await wait_numsub(redis_server, "room:count", 1)
            await second.unsubscribe()
            await wait_numsub(redis_server, "room:count", 0)
            assert broadcast.subscriptions() == {}
            # Subscribing again after the channel was dropped works as the first time did.
            async with broadcast.subscribe("room:count") as again:
                await broadcast.publish("room:count", "back")
                assert await asyncio.wait_for(again.get(), WAIT) == Event("room:count", "back")
            await wait_numsub(redis_server, "room:count", 0)

    asyncio.run(main())


def test_disconnect_drops_the_subscriptions_in_redis(redis_server: RedisServer) -> None:
    async def main() -> None:
        broadcast = Broadcast(redis_server.url)
        subscriber = await broadcast.add_subscriber("room:gone")
        await wait_numsub(redis_server, "room:gone", 1)
        await broadcast.disconnect()
        await wait_numsub(redis_server, "room:gone", 0)
        assert [event async for event in subscriber] == []

    asyncio.run(main())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_redis_is_named_in_the_error() -> None:
    port = _closed_port()
    url = f"redis://user:hunter2@127.0.0.1:{port}/0"

    async def main() -> None:
        broadcast = Broadcast(url)
        with pytest.raises(BroadcastUnavailable) as caught:
            await broadcast.connect()
        message = str(caught.value)
        assert f"redis://user:***@127.0.0.1:{port}/0" in message
        assert "hunter2" not in message
        with pytest.raises(BroadcastUnavailable):
            await broadcast.publish("room", "nobody hears")  # connects first, fails the same

    asyncio.run(main())


def test_redis_on_trio_says_it_needs_asyncio() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"needs asyncio.*--backend asyncio.*memory://"):
            await Broadcast("redis://127.0.0.1:6379/0").connect()

    trio.run(main)


def test_redis_without_an_event_loop_says_it_needs_asyncio() -> None:
    # The threads backend runs coroutines without a loop, which redis.asyncio cannot use.
    with pytest.raises(RuntimeError, match="needs asyncio"):
        run_sync(Broadcast("redis://127.0.0.1:6379/0").connect())


def test_publishing_while_redis_restarts(caplog: pytest.LogCaptureFixture) -> None:
    """While Redis is down, publish raises; once it is back, the subscribers hear again.

    The subscriber is never told: the reader reconnects with a back-off and
    subscribes to its channels again.  What was published during the outage is lost.
    """
    caplog.set_level(logging.WARNING, logger="crosswind.broadcast")

    async def main(server: RedisServer) -> None:
        async with Broadcast(server.url) as publisher, Broadcast(server.url) as listener, \
                listener.subscribe("room:restart") as subscriber:
            await publisher.publish("room:restart", "before")
            assert await asyncio.wait_for(subscriber.get(), WAIT) == Event("room:restart", "before")

            await asyncio.to_thread(server.stop)
            with pytest.raises(BroadcastUnavailable, match=rf"127\.0\.0\.1:{server.port}"):
                await publisher.publish("room:restart", "lost")
            await asyncio.to_thread(server.start)

            # Publish until the resubscribed listener hears one: bounded, not a fixed sleep.
            heard = None
            for attempt in range(100):
                # The publisher's pooled connection may still be reconnecting too.
                with contextlib.suppress(BroadcastUnavailable):
                    await publisher.publish("room:restart", f"after {attempt}")
                try:
                    heard = await asyncio.wait_for(subscriber.get(), 0.1)
                    break
                except TimeoutError:
                    continue
            assert heard is not None and str(heard.message).startswith("after ")
            assert broadcast_subscribed(listener)

    def broadcast_subscribed(broadcast: Broadcast) -> bool:
        return broadcast.subscriptions() == {"room:restart": 1}

    with running_redis() as server:
        asyncio.run(main(server))
    warnings = [record.getMessage() for record in caplog.records]
    assert any("lost the connection to Redis" in line for line in warnings), warnings
    assert any("is back; subscriptions restored" in line for line in warnings), warnings
