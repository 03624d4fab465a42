"""Checkpoints on a real Redis: the state with the hand's event log kept beside it, appended."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from holdem.adapters.checkpoints import CheckpointStore, LeaseLostError
from holdem.adapters.leases import LeaseStore


async def test_each_save_appends_only_the_new_events_and_a_new_hand_starts_the_log_again(redis):
    store, leases = CheckpointStore(redis), LeaseStore(redis, "w1", 60_000)
    lease = await leases.acquire(21)
    assert lease is not None
    hand = [{"event": "hand_started", "seq": 1}]
    await store.save(lease, _packed({"rt": {"n": 1}}), hand)
    hand.append({"event": "action", "seq": 2})
    pushed_before = await _command_count(redis, "rpush")
    await store.save(lease, _packed({"rt": {"n": 2}}), hand)

    saved = await store.load(21)

    assert saved is not None
    assert saved.state == {"rt": {"n": 2}}
    assert saved.log == hand
    assert await _command_count(redis, "rpush") == pushed_before + 1  # the new event only
    await store.save(lease, _packed({"rt": {"n": 3}}), [{"event": "hand_started"}])  # a new hand
    saved = await store.load(21)
    assert saved is not None
    assert saved.log == [{"event": "hand_started"}]


async def test_a_new_owner_stores_the_log_whole_and_a_repeated_save_stores_the_same_log(redis):
    leases = LeaseStore(redis, "w1", 60_000)
    lease = await leases.acquire(22)
    assert lease is not None
    hand = [{"seq": 1}, {"seq": 2}]
    first = CheckpointStore(redis)
    await first.save(lease, _packed({"n": 1}), hand)
    hand.append({"seq": 3})
    # A save whose answer was lost: stored, but the store does not know it.
    await first.save(lease, _packed({"n": 2}), hand)
    first._logged[22] = (hand, 2)  # as before the lost answer

    await first.save(lease, _packed({"n": 2}), hand)
    await CheckpointStore(redis).save(lease, _packed({"n": 2}), list(hand))  # another store: whole

    saved = await first.load(22)
    assert saved is not None
    assert saved.log == [{"seq": 1}, {"seq": 2}, {"seq": 3}]


async def test_a_deposed_owner_stores_appends_and_publishes_nothing(redis):
    store = CheckpointStore(redis)
    mine, theirs = LeaseStore(redis, "w1", 60_000), LeaseStore(redis, "w2", 60_000)
    lease = await mine.acquire(23)
    assert lease is not None
    hand = [{"seq": 1}]
    await store.save(lease, _packed({"n": 1}), hand)
    await mine.depose(lease)
    successor = await theirs.acquire(23)
    assert successor is not None
    pubsub = redis.pubsub()
    await pubsub.subscribe("ws:table:23:events")
    hand.append({"seq": 2})

    with pytest.raises(LeaseLostError):
        await store.save(lease, _packed({"n": 2}), hand, [("ws:table:23:events", b"late")])

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


async def test_concurrent_saves_share_round_trips_and_each_gets_its_own_answer(redis_url):
    client = Redis.from_url(redis_url)
    try:
        store, leases = CheckpointStore(client), LeaseStore(client, "w1", 60_000)
        deposer = LeaseStore(client, "w2", 60_000)
        tables = list(range(31, 51))
        held = [await leases.acquire(t) for t in tables]
        assert all(lease is not None for lease in held)
        await leases.depose(held[5])
        await deposer.acquire(tables[5])
        await client.script_flush()  # as after a Redis restart: the script must be loaded again
        connections_before = await _connections_received(client)

        answers = await asyncio.gather(
            *(store.save(lease, _packed({"n": lease.table_id}), [{"seq": 1}]) for lease in held),
            return_exceptions=True,
        )

        # Twenty tables' saves went out on one or two connections, not one each.
        assert await _connections_received(client) - connections_before <= 2
        assert isinstance(answers[5], LeaseLostError)
        assert all(a is None for i, a in enumerate(answers) if i != 5)
        for table_id in tables:
            saved = await store.load(table_id)
            if table_id == tables[5]:
                assert saved is None
            else:
                assert saved is not None
                assert (saved.state, saved.log) == ({"n": table_id}, [{"seq": 1}])
    finally:
        await client.aclose()


async def test_a_save_cancelled_while_waiting_for_its_turn_is_not_sent(redis):
    store, leases = CheckpointStore(redis), LeaseStore(redis, "w1", 60_000)
    first, second = await leases.acquire(61), await leases.acquire(62)
    assert first is not None
    assert second is not None
    sending = asyncio.ensure_future(store.save(first, _packed({"n": 1}), []))
    await asyncio.sleep(0)  # the first save is on its way: the second one waits for its turn
    waiting = asyncio.ensure_future(store.save(second, _packed({"n": 2}), []))
    await asyncio.sleep(0)
    waiting.cancel()

    await sending
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await store.load(61) is not None
    assert await store.load(62) is None


def _packed(state: dict[str, object]) -> bytes:
    packed: bytes = msgpack.packb(state, use_bin_type=True)
    return packed


async def _connections_received(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_connections_received"])


async def _command_count(redis: Redis, command: str) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_save_on_a_connection_killed_meanwhile_is_sent_again_on_a_new_one(redis_url):
    # A retry, as the servers' client has (holdem.adapters.redis_client).
    client = Redis.from_url(redis_url, retry=Retry(NoBackoff(), retries=1))
    try:
        store, leases = CheckpointStore(client), LeaseStore(client, "w1", 60_000)
        lease = await leases.acquire(71)
        assert lease is not None
        await store.save(lease, _packed({"n": 1}), [{"seq": 1}])
        await client.client_kill_filter(_type="normal", skipme=False)  # every connection

        await store.save(lease, _packed({"n": 2}), [{"seq": 1}, {"seq": 2}])

        saved = await store.load(71)
        assert saved is not None
        assert (saved.state, saved.log) == ({"n": 2}, [{"seq": 1}, {"seq": 2}])
    finally:
        await client.aclose()


async def test_the_saves_keep_one_connection_of_their_own(redis_url):
    client = Redis.from_url(redis_url)
    try:
        store, leases = CheckpointStore(client), LeaseStore(client, "w1", 60_000)
        lease = await leases.acquire(81)
        assert lease is not None
        await store.save(lease, _packed({"n": 1}), [])
        connections_before = await _connections_received(client)

        for n in range(2, 12):
            await store.save(lease, _packed({"n": n}), [])
            await client.get("unrelated")  # the client's own commands, meanwhile

        # No new connection, and the saves' one is not handed to the client's commands.
        assert await _connections_received(client) == connections_before
        commands = [entry["cmd"] for entry in await client.client_list()]
        assert commands.count("evalsha") == 1
        saved = await store.load(81)
        assert saved is not None
        assert saved.state == {"n": 11}
    finally:
        await client.aclose()
