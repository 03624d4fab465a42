"""Full hands over WebSocket: bots at 2-, 6- and 9-seat tables, JSON and MessagePack mixed,
players connected to different servers; money checked in the ledger afterwards."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.client import Bot, BotStrategy
from tests.edge.conftest import assert_every_won_kept, url_of

BUY_IN = 200_000
FUNDS = 1_000_000


async def play(bots: list[Bot], hands: int, wait_s: float = 60.0) -> None:
    for bot in bots:
        await bot.sit_down()
    await asyncio.wait_for(asyncio.gather(*(bot.play(hands) for bot in bots)), wait_s)


@pytest.mark.parametrize(("seats", "servers"), [(2, 1), (6, 2), (9, 2)])
async def test_bots_play_full_hands_and_every_won_is_accounted_for(
    seats, servers, start_edge, make_players, make_table, fund, clients, container
):
    edges = [await start_edge() for _ in range(servers)]
    players = await make_players(seats)
    await fund([p.user_id for p in players], FUNDS)
    table_id = await make_table(seats=seats)
    bots = []
    for index, player in enumerate(players):
        server = edges[index % servers]
        client = clients(url_of(server), player.token, encoding="msgpack" if index % 2 else "json")
        await client.connect()
        bots.append(
            Bot(client, table_id, seat=index, buy_in=BUY_IN, strategy=BotStrategy(seed=index))
        )
    await play(bots, hands=3)
    # Every hand a bot saw end was written behind, in one transaction each.
    async with container.sessions() as session:
        written = await session.scalar(select(func.count()).where(Hand.table_id == table_id))
        events = await session.scalar(select(func.count()).select_from(HandEvent))
        parts = await session.scalar(select(func.count()).select_from(HandPlayer))
    assert written >= 3
    assert events > 0
    assert parts >= 2 * written
    await assert_every_won_kept(container, [p.user_id for p in players], FUNDS)
