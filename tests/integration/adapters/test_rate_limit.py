"""Fixed-window rate limits and their preconditions, in real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from holdem.adapters.rate_limit import Limit, Precondition, RateLimiter

LIMIT = Limit("general", 3, 60)


@pytest.fixture
async def redis(redis_url: str):
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def test_counts_up_to_the_limit_then_refuses_with_the_time_left(redis):
    limiter = RateLimiter(redis)
    decisions = [await limiter.hit(LIMIT, "user:1") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert 1 <= decisions[-1].reset_after_s <= 60
    assert 0 < await redis.pttl("rl:general:user:1") <= 60_000
    assert (await limiter.hit(LIMIT, "user:2")).allowed  # another client, another budget


async def test_a_precondition_that_holds_lets_the_request_be_counted(redis):
    limiter = RateLimiter(redis)
    await redis.set("cutoff", 100)
    holds = Precondition(absent=("deny",), at_most=(("cutoff", 100), ("missing", 0)))
    decision = await limiter.hit(LIMIT, "user:1", holds)
    assert decision.allowed
    assert not decision.precondition_failed
    assert int(await redis.get("rl:general:user:1")) == 1


@pytest.mark.parametrize(
    "failing",
    [
        Precondition(absent=("deny",)),
        Precondition(at_most=(("cutoff", 99),)),
        Precondition(absent=("missing",), at_most=(("missing", 0), ("cutoff", 99))),
    ],
)
async def test_a_failed_precondition_refuses_without_counting(redis, failing):
    limiter = RateLimiter(redis)
    await redis.set("deny", 1)
    await redis.set("cutoff", 100)
    decision = await limiter.hit(LIMIT, "user:1", failing)
    assert decision.precondition_failed
    assert not decision.allowed
    assert await redis.exists("rl:general:user:1") == 0
