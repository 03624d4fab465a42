"""The table server's pub/sub side on a real Redis (`edge.fanout.Fanout` without a server):
its own tables' copies skipped, a leaving and an arriving connection racing for a channel,
and a broken pub/sub connection (clients asked to reconnect, every channel subscribed again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from edge.connections import Connection, Registry, TokenBucket
from edge.fanout import Fanout
from edge.lobby_feed import LobbyFeed
from holdem.protocol.codec import JSON
from holdem.protocol.pubsub import pack_batch, table_channel


@pytest.fixture
async def fanout(redis) -> AsyncIterator[Fanout]:
    registry = Registry()
    # Neither the lobby's copy nor the token check is used by table channels' messages.
    fanout = Fanout(redis, "w1", registry, None, LobbyFeed(None, None, registry))  # type: ignore[arg-type]
    await fanout.open()
    listening = asyncio.create_task(fanout.listen())
    try:
        yield fanout
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await fanout.close()


class RecordingSocket:
    """The part of `BatchingConnection` a delivery uses, keeping the frames it is given."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.close_after: tuple[int, str] | None = None

    def queue_frame(self, frame: bytes) -> bool:
        if self.close_after is None:
            self.frames.put_nowait(frame)
        return True

    def close_after_queued(self, code: int, reason: str) -> None:
        self.close_after = self.close_after or (code, reason)


def connection(registry: Registry, table_id: int) -> Connection:
    socket = RecordingSocket()
    conn = Connection(ws=socket, codec=JSON, bucket=TokenBucket(10, 10))  # type: ignore[arg-type]
    registry.add(conn)
    registry.join(conn, table_id, "spectator")
    return conn


def frames(conn: Connection) -> asyncio.Queue[bytes]:
    socket = conn.ws
    assert isinstance(socket, RecordingSocket)
    return socket.frames


async def next_frame(conn: Connection) -> bytes:
    return await asyncio.wait_for(frames(conn).get(), 10)


async def subscribers(redis: Redis, channel: str) -> int:
    return int((await redis.pubsub_numsub(channel))[0][1])


async def test_copies_of_the_servers_own_tables_are_skipped_and_other_owners_delivered(
    fanout, redis
):
    conn = connection(fanout.registry, 5)
    await fanout.subscribe(table_channel(5))
    own = pack_batch([{"type": "event", "from": "own-table"}], source="w1")
    other = pack_batch([{"type": "event", "from": "other-owner"}], source="w2")

    assert await redis.publish(table_channel(5), own) == 1
    assert await redis.publish(table_channel(5), other) == 1

    frame = await next_frame(conn)
    assert b"other-owner" in frame
    assert frames(conn).empty()  # the own copy, published first, was not delivered


async def test_a_message_that_cannot_be_delivered_does_not_stop_the_next_ones(fanout, redis):
    conn = connection(fanout.registry, 6)
    await fanout.subscribe(table_channel(6))

    await redis.publish(table_channel(6), b"not MessagePack at all \xc1")
    await redis.publish(table_channel(6), pack_batch([{"n": "next"}], source="w2"))

    assert b"next" in await next_frame(conn)
    assert conn.close_reason is None  # nobody was asked to reconnect


@pytest.mark.parametrize("leaving_first", [True, False])
async def test_a_connection_arriving_while_the_last_one_leaves_keeps_the_channel(
    fanout, redis, leaving_first
):
    leaving = connection(fanout.registry, 7)
    await fanout.subscribe(table_channel(7))

    async def arrive() -> Connection:
        arriving = connection(fanout.registry, 7)
        await fanout.subscribe(table_channel(7))
        return arriving

    if leaving_first:
        _, arriving = await asyncio.gather(fanout.part(leaving, 7), arrive())
    else:
        arriving, _ = await asyncio.gather(arrive(), fanout.part(leaving, 7))

    assert await redis.publish(table_channel(7), pack_batch([{"n": "after"}], source="w2")) == 1
    assert b"after" in await next_frame(arriving)
    assert frames(leaving).empty()


async def test_the_last_connection_leaving_unsubscribes_the_server(fanout, redis):
    conn = connection(fanout.registry, 8)
    await fanout.subscribe(table_channel(8))
    await fanout.part(conn, 8)

    assert await redis.publish(table_channel(8), pack_batch([{"n": "x"}], source="w2")) == 0


async def test_a_broken_pubsub_connection_sends_clients_away_and_subscribes_again(fanout, redis):
    conn = connection(fanout.registry, 9)
    await fanout.subscribe(table_channel(9))

    await redis.client_kill_filter(_type="pubsub")

    assert b"reconnect" in await next_frame(conn)
    assert conn.close_reason == (1012, "service_unavailable")
    # The channel is still needed here (the connection has not gone yet): subscribed again,
    # and a connection arriving now is served.
    # (Made again 0.5 s after the break; Redis offers no event for a subscription, so poll.)
    for _ in range(200):
        if await subscribers(redis, table_channel(9)):
            break
        await asyncio.sleep(0.05)
    assert await subscribers(redis, table_channel(9)) == 1
    newcomer = connection(fanout.registry, 9)
    await fanout.subscribe(table_channel(9))
    await redis.publish(table_channel(9), pack_batch([{"n": "back"}], source="w2"))
    assert b"back" in await next_frame(newcomer)


async def test_a_pubsub_connection_that_answers_no_ping_is_closed_and_made_again(redis_url):
    # A paused Redis answers no command: to the keep-alive, a connection silently dead.
    redis = Redis.from_url(redis_url, health_check_interval=1)
    registry = Registry()
    fanout = Fanout(redis, "w1", registry, None, LobbyFeed(None, None, registry))  # type: ignore[arg-type]
    await fanout.open()
    listening = asyncio.create_task(fanout.listen())
    try:
        conn = connection(registry, 4)
        await fanout.subscribe(table_channel(4))
        async with redis.client() as admin:
            await admin.execute_command("CLIENT", "PAUSE", "2500", "ALL")

        assert b"reconnect" in await next_frame(conn)
        assert conn.close_reason == (1012, "service_unavailable")
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await fanout.close()
        await redis.aclose()
