"""Checkpoints on a real Redis: the state with the hand's event log kept beside it, appended."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgpack
import pytest
from redis.asyncio import Redis

from holdem.adapters.checkpoints import CheckpointStore, LeaseLostError, LogAppend
from holdem.adapters.leases import LeaseStore


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_each_save_appends_only_the_new_events_and_a_new_hand_starts_the_log_again(redis):
    store, leases = CheckpointStore(redis), LeaseStore(redis, "w1", 60_000)
    lease = await leases.acquire(21)
    assert lease is not None
    hand = [{"event": "hand_started", "seq": 1}]
    await store.save(lease, {"rt": {"n": 1}}, log=LogAppend(hand))
    hand.append({"event": "action", "seq": 2})
    await store.save(lease, {"rt": {"n": 2}}, log=LogAppend(hand[1:], 1))

    saved = await store.load(21)

    assert saved is not None
    assert saved.state == {"rt": {"n": 2}}
    assert saved.log == hand
    await store.save(lease, {"rt": {"n": 3}}, log=LogAppend([{"event": "hand_started"}]))
    saved = await store.load(21)
    assert saved is not None
    assert saved.log == [{"event": "hand_started"}]


async def test_a_save_retried_after_its_answer_was_lost_stores_the_same_log(redis):
    store, leases = CheckpointStore(redis), LeaseStore(redis, "w1", 60_000)
    lease = await leases.acquire(22)
    assert lease is not None
    await store.save(lease, {"n": 1}, log=LogAppend([{"seq": 1}]))
    retried = LogAppend([{"seq": 2}, {"seq": 3}], 1)
    await store.save(lease, {"n": 2}, log=retried)

    await store.save(lease, {"n": 2}, log=retried)  # the same save again

    saved = await store.load(22)
    assert saved is not None
    assert saved.log == [{"seq": 1}, {"seq": 2}, {"seq": 3}]


async def test_a_deposed_owner_stores_appends_and_publishes_nothing(redis):
    store = CheckpointStore(redis)
    mine, theirs = LeaseStore(redis, "w1", 60_000), LeaseStore(redis, "w2", 60_000)
    lease = await mine.acquire(23)
    assert lease is not None
    await store.save(lease, {"n": 1}, log=LogAppend([{"seq": 1}]))
    await mine.depose(lease)
    successor = await theirs.acquire(23)
    assert successor is not None
    pubsub = redis.pubsub()
    await pubsub.subscribe("ws:table:23:events")

    with pytest.raises(LeaseLostError):
        await store.save(
            lease,
            {"n": 2},
            [("ws:table:23:events", b"late")],
            log=LogAppend([{"seq": 2}], 1),
        )

    saved = await store.load(23)
    assert saved is not None
    assert (saved.state, saved.log) == ({"n": 1}, [{"seq": 1}])
    assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
    await pubsub.aclose()


async def test_a_checkpoint_written_before_the_log_was_kept_apart_is_read_with_an_empty_log(
    redis,
):
    state = {"engine": {}, "rt": {"hand_events": [{"seq": 1}]}}
    await redis.set("ws:table:24:state", msgpack.packb(state, use_bin_type=True))

    saved = await CheckpointStore(redis).load(24)

    assert saved is not None
    assert (saved.state, saved.log) == (state, [])
