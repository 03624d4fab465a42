"""Fixed-window rate limits and their preconditions, and the limiter's own connections, in
real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from devstack.services import RedisServer
from holdem.adapters.lua_scripts import LuaScript
from holdem.adapters.rate_limit import Limit, Precondition, RateLimiter, ScriptConnections
from holdem.config import RedisPool

LIMIT = Limit("general", 3, 60)
ECHO = LuaScript(b"return {KEYS[1], tonumber(ARGV[1])}")
SET = LuaScript(b"return redis.call('SET', KEYS[1], ARGV[1])")


@pytest.fixture
async def limiter(redis_url: str) -> AsyncIterator[RateLimiter]:
    opened = RateLimiter(ScriptConnections(redis_url, RedisPool()))
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
async def connections(redis_url: str) -> AsyncIterator[ScriptConnections]:
    opened = ScriptConnections(redis_url, RedisPool(), size=2)
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_counts_up_to_the_limit_then_refuses_with_the_time_left(redis, limiter):
    decisions = [await limiter.hit(LIMIT, "user:1") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert 1 <= decisions[-1].reset_after_s <= 60
    assert 0 < await redis.pttl("rl:general:user:1") <= 60_000
    assert (await limiter.hit(LIMIT, "user:2")).allowed  # another client, another budget


async def test_a_precondition_that_holds_lets_the_request_be_counted(redis, limiter):
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
async def test_a_failed_precondition_refuses_without_counting(redis, limiter, failing):
    await redis.set("deny", 1)
    await redis.set("cutoff", 100)
    decision = await limiter.hit(LIMIT, "user:1", failing)
    assert decision.precondition_failed
    assert not decision.allowed
    assert await redis.exists("rl:general:user:1") == 0


async def test_concurrent_calls_share_the_few_connections_and_each_gets_its_own_reply(
    connections, redis_url
):
    client = Redis.from_url(redis_url)
    try:
        before = {c["id"] for c in await client.client_list()}
        replies = await asyncio.gather(*(connections.run(ECHO, [f"k{i}"], [i]) for i in range(200)))
        opened = {c["id"] for c in await client.client_list()} - before
    finally:
        await client.aclose()
    assert replies == [[f"k{i}".encode(), i] for i in range(200)]
    assert 1 <= len(opened) <= 2


async def test_a_script_error_is_a_response_error_and_the_connection_stays_usable(connections):
    with pytest.raises(redis_errors.ResponseError):
        await connections.run(LuaScript(b"return redis.call('INCR', KEYS[1], 'x')"), ["k"], [])
    assert await connections.run(ECHO, ["k"], [7]) == [b"k", 7]


async def test_a_flushed_script_cache_is_loaded_again_by_the_same_call(connections, redis_url):
    assert await connections.run(SET, ["once"], [1]) == b"OK"
    client = Redis.from_url(redis_url)
    try:
        await client.script_flush()
        assert await connections.run(SET, ["once"], [2]) == b"OK"  # NOSCRIPT, then EVAL
        assert await client.get("once") == b"2"
    finally:
        await client.aclose()


async def test_the_url_database_is_selected(redis_url):
    other = redis_url.rsplit("/", 1)[0] + "/5"
    connections = ScriptConnections(other, RedisPool())
    client = Redis.from_url(other)
    try:
        await client.delete("selected")
        assert await connections.run(SET, ["selected"], [1]) == b"OK"
        assert await client.get("selected") == b"1"
    finally:
        await client.delete("selected")
        await client.aclose()
        await connections.aclose()


async def test_a_dropped_connection_is_reopened_by_the_next_call(connections, redis_url):
    assert await connections.run(ECHO, ["k"], [1]) == [b"k", 1]
    client = Redis.from_url(redis_url)
    try:
        assert await client.client_kill_filter(_type="normal", skipme=True) >= 1
    finally:
        await client.aclose()
    # A call on the killed connection fails with redis-py's ConnectionError (the API's 503)
    # or, if the close was seen first, connects again; the next one works.
    with contextlib.suppress(redis_errors.ConnectionError):
        await connections.run(ECHO, ["k"], [2])
    assert await connections.run(ECHO, ["k"], [3]) == [b"k", 3]


async def test_after_a_redis_restart_a_revoked_token_stays_refused(tmp_path: Path):
    """The limiter's connections outlive a restart of a persistent Redis: the calls in the
    outage are errors (503), the next ones are answered again from the data Redis kept (the
    revocation still holds), the script loaded again; never an allow of a revoked request."""
    server = RedisServer(tmp_path, persistent=True)
    server.start()
    limiter = RateLimiter(ScriptConnections(server.url(), RedisPool(socket_timeout=2), size=1))
    revoked = Precondition(absent=("deny:token",))
    try:
        assert (await limiter.hit(LIMIT, "user:1", revoked)).allowed
        admin = Redis.from_url(server.url())
        try:
            await admin.set("deny:token", 1)
            await admin.save()
        finally:
            await admin.aclose()
        assert (await limiter.hit(LIMIT, "user:1", revoked)).precondition_failed
        server.stop()
        with pytest.raises(redis_errors.ConnectionError):
            await limiter.hit(LIMIT, "user:1", revoked)
        server.start()
        decisions = []
        for _ in range(2):
            with contextlib.suppress(redis_errors.ConnectionError):
                decisions.append(await limiter.hit(LIMIT, "user:1", revoked))
        assert decisions
        assert all(d.precondition_failed and not d.allowed for d in decisions)
        assert (await limiter.hit(LIMIT, "user:2")).allowed
    finally:
        await limiter.aclose()
        server.stop()


async def test_an_unreachable_server_is_a_connection_error():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    connections = ScriptConnections(f"redis://127.0.0.1:{port}/0", RedisPool())
    with pytest.raises(redis_errors.ConnectionError):
        await connections.run(ECHO, ["k"], [1])
    await connections.aclose()


async def test_a_silent_server_is_a_timeout_and_the_connection_is_dropped():
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    connections = ScriptConnections(url, RedisPool(socket_timeout=0.05), size=1)
    try:
        with pytest.raises(redis_errors.TimeoutError):
            await connections.run(ECHO, ["k"], [1])
        # The next call does not read the late reply of the first: it connects again.
        with pytest.raises(redis_errors.TimeoutError):
            await connections.run(ECHO, ["k"], [2])
        assert accepted.qsize() == 2
    finally:
        await connections.aclose()
        while not accepted.empty():
            accepted.get_nowait().close()
        server.close()
        await server.wait_closed()
