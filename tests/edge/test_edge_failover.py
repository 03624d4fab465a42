"""Faults: the owner SIGKILLed mid-hand, Redis flushed mid-hand, PostgreSQL stopped at hand
end, SIGTERM drain. Servers run as real subprocesses (`python -m edge`)."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from sqlalchemy import func, select

from holdem.adapters.orm.hands import Hand
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.client import Bot, BotStrategy, ClosedError
from tests.edge.conftest import assert_every_won_kept, ledger_report, url_of

BUY_IN = 200_000
FUNDS = 1_000_000


async def keep_playing(bot: Bot, urls: list[str]) -> None:
    """Play forever; when the server goes away, reconnect to another one and rejoin."""
    attempt = 0
    while True:
        await bot.play()
        attempt += 1
        url = urls[attempt % len(urls)]
        while True:
            try:
                await bot.client.reconnect(url)
                await bot.client.join(bot.table_id, as_="player")
                break
            except (OSError, ClosedError, TimeoutError):
                await asyncio.sleep(0.1)


async def hands_written(container, table_id: int) -> int:
    async with container.sessions() as session:
        return await session.scalar(select(func.count()).where(Hand.table_id == table_id))


async def seat_bots(count, make_players, fund, make_table, clients, urls, think_s=0.0):
    players = await make_players(count)
    await fund([p.user_id for p in players], FUNDS)
    table_id = await make_table(seats=count)
    bots = []
    for index, player in enumerate(players):
        client = clients(
            urls[index % len(urls)],
            player.token,
            encoding="msgpack" if index % 2 else "json",
            record=True,
        )
        await client.connect()
        bot = Bot(
            client,
            table_id,
            seat=index,
            buy_in=BUY_IN,
            strategy=BotStrategy(seed=index, raise_rate=0.3),
            think_s=think_s,
        )
        await bot.sit_down()
        bots.append(bot)
    return players, table_id, bots


async def seen(client, predicate, wait_s: float = 30.0, after: int = 0):
    """The first message the client received (so far or later) that matches.

    Bots read the client's queue; tests look at the record, so they never steal a message.
    """
    deadline = time.monotonic() + wait_s
    checked = after
    while time.monotonic() < deadline:
        received = client.received
        for message in received[checked:]:
            if predicate(message):
                return message
        checked = len(received)
        await asyncio.sleep(0.02)
    raise TimeoutError("no such message")


async def wait_until(predicate, wait_s: float = 30.0, every: float = 0.05):
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(every)
    raise TimeoutError("condition not met")


async def test_sigkill_of_the_owner_mid_hand_another_server_resumes_the_hand(
    edge_processes, make_players, fund, make_table, clients, container, edge_settings
):
    a, b = edge_processes("a"), edge_processes("b")
    await a.wait_ready()
    await b.wait_ready()
    # The first player joins through A, so A owns the table.
    players, table_id, bots = await seat_bots(
        4, make_players, fund, make_table, clients, [a.url, b.url], think_s=0.15
    )
    tasks = [asyncio.create_task(keep_playing(bot, [b.url])) for bot in bots]
    try:
        watcher = bots[1].client  # connected to B, survives the kill
        started = await seen(
            watcher, lambda m: m.get("event") == "hand_started" and m["hand_number"] >= 2, 30
        )
        hand_no = started["hand_number"]
        await seen(watcher, lambda m: m.get("event") == "action", 10)
        owner = await container.redis.get(f"ws:table:{table_id}:lease")
        assert owner.decode().startswith("a:")
        a.kill()
        killed_at = time.monotonic()
        # B takes the table over within the lease bound and the SAME hand goes on.
        await wait_until(
            lambda: _owned_by(container.redis, table_id, "b"),
            edge_settings.ws.table_lease_ttl_s * 3,
        )
        takeover_s = time.monotonic() - killed_at
        assert takeover_s <= edge_settings.ws.table_lease_ttl_s + 1.0
        result = await seen(
            watcher, lambda m: m.get("type") == "hand_result" and m["hand"] == hand_no, 30
        )
        assert sum(result["net"]) + result["rake"] == 0
        await wait_until(lambda: _at_least(container, table_id, hand_no + 1), 30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await assert_every_won_kept(container, [p.user_id for p in players], FUNDS)
    print(f"takeover after SIGKILL: {takeover_s:.2f} s")


async def _owned_by(redis, table_id: int, worker: str) -> bool:
    value = await redis.get(f"ws:table:{table_id}:lease")
    return value is not None and value.decode().startswith(f"{worker}:")


async def _at_least(container, table_id: int, count: int) -> bool:
    return await hands_written(container, table_id) >= count


async def test_redis_flushed_mid_hand_voids_the_hand_and_restores_the_stacks(
    start_edge, make_players, fund, make_table, clients, container, settings
):
    server = await start_edge()
    players, table_id, bots = await seat_bots(
        3, make_players, fund, make_table, clients, [url_of(server)], think_s=0.2
    )
    tasks = [asyncio.create_task(keep_playing(bot, [url_of(server)])) for bot in bots]
    try:
        watcher = bots[0].client
        started = await seen(
            watcher, lambda m: m.get("event") == "hand_started" and m["hand_number"] >= 2, 30
        )
        await seen(watcher, lambda m: m.get("event") == "action", 10)
        settled = await hands_written(container, table_id)
        assert settled == started["hand_number"] - 1
        async with container.sessions() as session:
            from holdem.services import ledger

            before = {
                p.user_id: (await ledger.balances(SqlLedgerReads(session), p.user_id)).seats.get(
                    table_id, 0
                )
                for p in players
            }
        mark = len(watcher.received)
        flusher = aioredis.Redis.from_url(settings.redis_url)
        await flusher.flushdb()
        await flusher.aclose()
        # The table comes back from the ledger: the interrupted hand never happened, every
        # stack is what it was when the hand started.
        restored = await seen(
            watcher,
            lambda m: m.get("type") == "notice" and m.get("code") == "table_restored",
            15,
            after=mark,
        )
        assert restored["table_id"] == table_id
        snapshot = await seen(
            watcher, lambda m: m.get("type") == "snapshot" and "public" not in m, 5, after=mark
        )
        stacks = {int(s["player_id"]): s["stack"] for s in snapshot["seats"] if s["player_id"]}
        assert stacks == before
        # Play goes on with new hands, settled as before.
        await wait_until(lambda: _at_least(container, table_id, settled + 2), 30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await assert_every_won_kept(container, [p.user_id for p in players], FUNDS)


async def test_postgres_stopped_at_hand_end_settlement_waits_then_lands(
    start_edge, make_players, fund, make_table, clients, container, postgres
):
    server = await start_edge()
    _players, table_id, bots = await seat_bots(
        2, make_players, fund, make_table, clients, [url_of(server)], think_s=0.05
    )
    tasks = [asyncio.create_task(keep_playing(bot, [url_of(server)])) for bot in bots]
    try:
        watcher = bots[0].client
        await seen(watcher, lambda m: m.get("event") == "hand_started", 30)
        assert postgres.server is not None, "this test stops the session's own PostgreSQL"
        mark = len(watcher.received)
        postgres.server.stop()
        try:
            result = await seen(watcher, lambda m: m.get("type") == "hand_result", 30, after=mark)
            # Unsettled: no new hand is dealt on stacks PostgreSQL has not recorded.
            await asyncio.sleep(1.0)
            assert not any(
                m.get("event") == "hand_started" and m["hand_number"] > result["hand"]
                for m in watcher.received
            )
            state = await server.container.redis.get(f"ws:table:{table_id}:state")
            assert state is not None
        finally:
            postgres.server.start()
        await wait_until(lambda: _at_least(container, table_id, result["hand"]), 30)
        await seen(
            watcher,
            lambda m: m.get("event") == "hand_started" and m["hand_number"] > result["hand"],
            30,
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    report = await ledger_report(container)
    assert report.ok, report.violations


async def test_sigterm_drains_finishes_the_hand_hands_over_and_exits_zero(
    edge_processes, make_players, fund, make_table, clients, container
):
    a, b = edge_processes("a"), edge_processes("b")
    await a.wait_ready()
    await b.wait_ready()
    _players, table_id, bots = await seat_bots(
        2, make_players, fund, make_table, clients, [a.url, b.url], think_s=0.2
    )
    tasks = [asyncio.create_task(keep_playing(bot, [b.url])) for bot in bots]
    try:
        on_a = bots[0].client
        started = await seen(on_a, lambda m: m.get("event") == "hand_started", 30)
        a.terminate()
        notice = await seen(on_a, lambda m: m.get("type") == "reconnect", 30)
        assert notice["reason"] == "server_restart"
        # The hand running at SIGTERM finished on A (no void) and was settled.
        await wait_until(lambda: _at_least(container, table_id, started["hand_number"]), 30)
        assert await asyncio.to_thread(a.proc.wait, 30) == 0
        await wait_until(lambda: _owned_by(container.redis, table_id, "b"), 10)
        watcher = bots[1].client
        await seen(
            watcher,
            lambda m: (
                m.get("event") == "hand_started" and m["hand_number"] > started["hand_number"] + 1
            ),
            30,
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    report = await ledger_report(container)
    assert report.ok, report.violations
