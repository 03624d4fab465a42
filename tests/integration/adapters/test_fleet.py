"""The fleet registry on a real Redis: a heartbeat is one script call for every user."""

from __future__ import annotations

from redis.asyncio import Redis

from holdem.adapters.fleet import Fleet


async def test_a_heartbeat_says_the_worker_is_alive_and_keeps_its_users_records(redis_url):
    redis = Redis.from_url(redis_url)
    try:
        fleet = Fleet(redis, "worker-h", 30)
        for user_id in (1, 2):
            await fleet.add_connection(user_id, f"c{user_id}")
            await redis.expire(f"ws:connections:{user_id}", 3)  # about to expire
        await redis.hset("ws:connections:3", "c3", "worker-z:1.0")
        await redis.expire("ws:connections:3", 3)  # another worker's user: not refreshed

        await fleet.heartbeat("127.0.0.1:9000", [1, 2])

        assert await redis.get("ws:worker:worker-h:alive") == b"127.0.0.1:9000"
        assert 25 < await redis.ttl("ws:worker:worker-h:alive") <= 30
        assert [25 < await redis.ttl(f"ws:connections:{u}") <= 30 for u in (1, 2)] == [True] * 2
        assert await redis.ttl("ws:connections:3") <= 3
        assert await fleet.workers() == ["worker-h"]

        await fleet.heartbeat("127.0.0.1:9000", [], taking=False)  # draining

        assert await fleet.workers() == []
        assert await redis.exists("ws:worker:worker-h:alive")
    finally:
        await redis.aclose()
