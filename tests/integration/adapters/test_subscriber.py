"""The lean pub/sub reader on a real Redis: many channels in publish order, unsubscribing,
and every channel subscribed again after the connection broke or Redis restarted."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from devstack.services import RedisServer
from holdem.adapters.subscriber import Subscriber


async def messages(subscriber: Subscriber, count: int) -> list[tuple[bytes, bytes]]:
    """The next `count` messages (confirmations and PING answers skipped)."""
    got: list[tuple[bytes, bytes]] = []
    async with asyncio.timeout(10):
        while len(got) < count:
            message = await subscriber.read()
            if message is not None:
                got.append(message)
    return got


async def subscribed(subscriber: Subscriber, redis: Redis, channel: str) -> None:
    """Wait until Redis counts the subscription (its confirmation has been read)."""
    await subscriber.ping()
    async with asyncio.timeout(10):
        while (await redis.pubsub_numsub(channel))[0][1] == 0:
            assert await subscriber.read() is None


async def test_messages_of_many_channels_arrive_in_the_order_they_were_published(redis):
    subscriber = Subscriber(redis, ["fixed"])
    await subscriber.connect()
    try:
        channels = [f"ws:table:{n}:events" for n in range(300)]
        for channel in channels:
            await subscriber.subscribe(channel)
        await subscribed(subscriber, redis, channels[-1])
        async with redis.pipeline(transaction=False) as pipe:
            for n, channel in enumerate(channels):
                pipe.publish(channel, b"m%d" % n)
            pipe.publish("fixed", b"last")
            receivers = await pipe.execute()

        got = await messages(subscriber, len(channels) + 1)

        assert receivers == [1] * (len(channels) + 1)
        assert got == [(c.encode(), b"m%d" % n) for n, c in enumerate(channels)] + [
            (b"fixed", b"last")
        ]
    finally:
        await subscriber.aclose()


async def test_a_channel_unsubscribed_from_gets_nothing_and_subscribing_twice_is_one_subscription(
    redis,
):
    subscriber = Subscriber(redis)
    await subscriber.connect()
    try:
        await subscriber.subscribe("a")
        await subscriber.subscribe("a")
        await subscriber.subscribe("b")
        await subscriber.unsubscribe("a")
        await subscribed(subscriber, redis, "b")

        assert await redis.publish("a", b"lost") == 0
        assert await redis.publish("b", b"kept") == 1
        assert await messages(subscriber, 1) == [(b"b", b"kept")]
        assert subscriber.channels == {"b"}
    finally:
        await subscriber.aclose()


async def test_a_broken_connection_fails_the_read_and_connect_subscribes_every_channel_again(
    redis,
):
    subscriber = Subscriber(redis, ["fixed"])
    await subscriber.connect()
    try:
        await subscriber.subscribe("kept")
        await subscriber.subscribe("left")
        await subscribed(subscriber, redis, "left")
        await redis.client_kill_filter(_type="pubsub")

        with pytest.raises(RedisConnectionError):
            await messages(subscriber, 1)
        # While it is down: subscribing fails (its caller is sent away), leaving only forgets.
        with pytest.raises(RedisConnectionError):
            await subscriber.subscribe("new")
        with pytest.raises(RedisConnectionError):
            await subscriber.subscribe("kept")
        await subscriber.unsubscribe("left")
        await subscriber.connect()
        await subscribed(subscriber, redis, "kept")

        assert [await redis.publish(c, c.encode()) for c in ("fixed", "kept", "left", "new")] == [
            1,
            1,
            0,
            0,
        ]
        assert await messages(subscriber, 2) == [(b"fixed", b"fixed"), (b"kept", b"kept")]
    finally:
        await subscriber.aclose()


async def test_after_a_redis_restart_connect_fails_until_it_is_back_then_resubscribes(tmp_path):
    server = RedisServer(tmp_path, persistent=False)
    server.start()
    redis = Redis.from_url(server.url())
    subscriber = Subscriber(redis, ["fixed"])
    try:
        await subscriber.connect()
        await subscriber.subscribe("kept")
        await subscribed(subscriber, redis, "kept")
        await asyncio.to_thread(server.stop)

        with pytest.raises(RedisConnectionError):
            await messages(subscriber, 1)
        with pytest.raises(RedisConnectionError):
            await subscriber.connect()
        with pytest.raises(RedisConnectionError):
            await subscriber.read()
        await asyncio.to_thread(server.start)
        await redis.connection_pool.disconnect()  # the test's own command connection, stale
        await subscriber.connect()
        await subscribed(subscriber, redis, "kept")

        assert await redis.publish("kept", b"again") == 1
        assert await messages(subscriber, 1) == [(b"kept", b"again")]
    finally:
        await subscriber.aclose()
        await redis.aclose()
        server.stop()


async def test_closing_gives_a_closed_connection_back_to_the_pool(redis):
    subscriber = Subscriber(redis, ["fixed"])
    await subscriber.connect()
    await subscribed(subscriber, redis, "fixed")

    await subscriber.aclose()

    assert await redis.publish("fixed", b"x") == 0
    assert await redis.ping()  # the pool's connections answer commands, not messages
