"""The pipelined Redis connection of the API's per-request script, in real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from holdem.adapters.redis_lane import RedisLane
from holdem.config import Settings

ECHO = b"return {KEYS[1], tonumber(ARGV[1])}"
SET = b"return redis.call('SET', KEYS[1], ARGV[1])"


@pytest.fixture
async def lane(redis_url: str) -> AsyncIterator[RedisLane]:
    opened = RedisLane(Settings(redis_url=redis_url))
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_concurrent_calls_share_one_connection_and_each_gets_its_own_reply(lane, redis_url):
    replies = await asyncio.gather(*(lane.eval(ECHO, [f"k{i}"], [i]) for i in range(200)))
    assert replies == [[f"k{i}".encode(), i] for i in range(200)]
    client = Redis.from_url(redis_url)
    try:
        clients = await client.client_list()
    finally:
        await client.aclose()
    assert len(clients) == 2  # the lane's one connection and this check's


async def test_a_script_error_is_a_response_error_and_the_connection_stays_usable(lane):
    with pytest.raises(redis_errors.ResponseError):
        await lane.eval(b"return redis.call('INCR', KEYS[1], 'not a number')", ["k"], [])
    assert await lane.eval(ECHO, ["k"], [7]) == [b"k", 7]


async def test_the_url_database_is_selected(redis_url):
    other = redis_url.rsplit("/", 1)[0] + "/5" if redis_url.count("/") > 2 else redis_url + "/5"
    lane = RedisLane(Settings(redis_url=other))
    client = Redis.from_url(other)
    try:
        await client.delete("selected")
        assert await lane.eval(SET, ["selected"], [1]) == b"OK"
        assert await client.get("selected") == b"1"
    finally:
        await client.delete("selected")
        await client.aclose()
        await lane.aclose()


async def test_a_dropped_connection_is_reopened_by_the_next_call(lane, redis_url):
    assert await lane.eval(ECHO, ["k"], [1]) == [b"k", 1]
    client = Redis.from_url(redis_url)
    try:
        assert await client.client_kill_filter(_type="normal", skipme=True) == 1
    finally:
        await client.aclose()
    # The call in flight when the kill is seen fails with redis-py's ConnectionError (the API's
    # 503); a call after it opens a new connection.
    with contextlib.suppress(redis_errors.ConnectionError):
        await lane.eval(ECHO, ["k"], [2])
    assert await lane.eval(ECHO, ["k"], [3]) == [b"k", 3]


async def test_an_unreachable_server_is_a_connection_error():
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    lane = RedisLane(Settings(redis_url=f"redis://127.0.0.1:{port}/0"))
    with pytest.raises(redis_errors.ConnectionError):
        await lane.eval(ECHO, ["k"], [1])
    await lane.aclose()


async def test_a_silent_server_is_a_timeout_and_the_connection_is_dropped():
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0", redis={"socket_timeout": 0.05})
    lane = RedisLane(settings)
    try:
        with pytest.raises(redis_errors.TimeoutError):
            await lane.eval(ECHO, ["k"], [1])
        # The next call does not read the late reply of the first: it opens a new connection.
        with pytest.raises(redis_errors.TimeoutError):
            await lane.eval(ECHO, ["k"], [2])
        assert accepted.qsize() == 2
    finally:
        await lane.aclose()
        while not accepted.empty():
            accepted.get_nowait().close()
        server.close()
        await server.wait_closed()
