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
        assert await mine.owner(2) == "worker-b"
        assert await mine.owner(3) is None
    finally:
        await redis.aclose()
