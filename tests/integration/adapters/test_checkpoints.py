"""Checkpoints on a real Redis: the state with the hand's event log kept beside it, appended."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgpack
import pytest
from redis.asyncio import Redis

from holdem.adapters.checkpoints import CheckpointStore, LeaseLostError
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
    await store.save(lease, {"rt": {"n": 1}}, hand)
    hand.append({"event": "action", "seq": 2})
    pushed_before = await _command_count(redis, "rpush")
    await store.save(lease, {"rt": {"n": 2}}, hand)

    saved = await store.load(21)

    assert saved is not None
    assert saved.state == {"rt": {"n": 2}}
    assert saved.log == hand
    assert await _command_count(redis, "rpush") == pushed_before + 1  # the new event only
    await store.save(lease, {"rt": {"n": 3}}, [{"event": "hand_started"}])  # a new hand
    saved = await store.load(21)
    assert saved is not None
    assert saved.log == [{"event": "hand_started"}]


async def test_a_new_owner_stores_the_log_whole_and_a_repeated_save_stores_the_same_log(redis):
    leases = LeaseStore(redis, "w1", 60_000)
    lease = await leases.acquire(22)
    assert lease is not None
    hand = [{"seq": 1}, {"seq": 2}]
    first = CheckpointStore(redis)
    await first.save(lease, {"n": 1}, hand)
    hand.append({"seq": 3})
    # A save whose answer was lost: stored, but the store does not know it.
    await first.save(lease, {"n": 2}, hand)
    first._logged[22] = (hand, 2)  # as before the lost answer

    await first.save(lease, {"n": 2}, hand)
    await CheckpointStore(redis).save(lease, {"n": 2}, list(hand))  # another store: whole

    saved = await first.load(22)
    assert saved is not None
    assert saved.log == [{"seq": 1}, {"seq": 2}, {"seq": 3}]


async def test_a_deposed_owner_stores_appends_and_publishes_nothing(redis):
    store = CheckpointStore(redis)
    mine, theirs = LeaseStore(redis, "w1", 60_000), LeaseStore(redis, "w2", 60_000)
    lease = await mine.acquire(23)
    assert lease is not None
    hand = [{"seq": 1}]
    await store.save(lease, {"n": 1}, hand)
    await mine.depose(lease)
    successor = await theirs.acquire(23)
    assert successor is not None
    pubsub = redis.pubsub()
    await pubsub.subscribe("ws:table:23:events")
    hand.append({"seq": 2})

    with pytest.raises(LeaseLostError):
        await store.save(lease, {"n": 2}, hand, [("ws:table:23:events", b"late")])

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


async def _command_count(redis: Redis, command: str) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))
