"""Table leases on a real Redis: the takeover scan's one-round-trip question."""

from __future__ import annotations

from redis.asyncio import Redis

from holdem.adapters.leases import LeaseStore


async def test_unowned_names_the_tables_nobody_holds_in_one_call(redis_url):
    redis = Redis.from_url(redis_url)
    try:
        mine = LeaseStore(redis, "worker-a", 60_000)
        theirs = LeaseStore(redis, "worker-b", 60_000)
        held_by_me = await mine.acquire(1)
        held_by_them = await theirs.acquire(2)
        assert held_by_me is not None
        assert held_by_them is not None
        released = await theirs.acquire(4)
        assert released is not None
        assert await theirs.release(released)

        assert await mine.unowned([1, 2, 3, 4]) == [3, 4]
        assert await mine.unowned([]) == []
    finally:
        await redis.aclose()


async def test_renew_all_extends_the_held_leases_and_names_the_lost_ones(redis_url):
    redis = Redis.from_url(redis_url)
    try:
        mine = LeaseStore(redis, "worker-a", 1_000)
        theirs = LeaseStore(redis, "worker-b", 60_000)
        held = [await mine.acquire(t) for t in (11, 12, 13)]
        assert None not in held
        kept, expired, taken = held
        await redis.delete("ws:table:12:lease")  # expired
        await redis.delete("ws:table:13:lease")
        assert await theirs.acquire(13) is not None  # and taken over

        longer = LeaseStore(redis, "worker-a", 60_000)
        assert await longer.renew_all([kept, expired, taken]) == [expired, taken]
        assert await redis.pttl("ws:table:11:lease") > 30_000
        assert await redis.pttl("ws:table:12:lease") == -2  # not brought back
        assert (await redis.get("ws:table:13:lease")).startswith(b"worker-b:")  # untouched
        assert await longer.renew_all([]) == []
    finally:
        await redis.aclose()
