"""An operator closes a table where players sit: the hand running is the last one, then every
seat is cashed out to its wallet and the table is closed (docs/protocol.md, "Closing")."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from holdem.adapters.orm.tables import PokerTable, Seat
from holdem.adapters.relay import Relay
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.client import ClientError
from holdem.services import ledger, lobby
from holdem.services.table_runtime import TableMoney
from tests.edge.conftest import fast_settings, ledger_report, url_of

FUNDS = 1_000_000
BUY_IN = 200_000


async def _close(container, table_id: int, operator_id: int) -> lobby.TableSummary:
    """What ``POST /api/v1/admin/tables/{id}/close`` does."""
    async with container.sessions() as session:
        summary = await lobby.close_table(SqlTransaction(session), table_id, operator_id)
    await lobby.announce(Relay(container.redis), summary)
    return summary


async def _seated(container, make_players, fund, make_table, count: int):
    players = await make_players(count)
    await fund([p.user_id for p in players], FUNDS)
    table_id = await make_table(seats=6)
    money = TableMoney(container.transactions, container.settlements)
    for seat, player in enumerate(players[:2]):
        await money.sit(table_id, seat, player.user_id, BUY_IN, key=f"close-{table_id}-{seat}")
    return players, table_id


async def _assert_closed_and_paid_out(container, table_id: int, user_ids: list[int]) -> None:
    async with container.sessions() as session:
        status = await session.scalar(select(PokerTable.status).where(PokerTable.id == table_id))
        open_seats = (
            await session.scalars(
                select(Seat.seat_no).where(Seat.table_id == table_id, Seat.left_at.is_(None))
            )
        ).all()
        held = [await ledger.balances(SqlLedgerReads(session), user_id) for user_id in user_ids]
    assert status == "closed"
    assert open_seats == []
    assert all(not any(b.seats.values()) for b in held)  # every chip is back in a wallet
    assert all(b.total == b.wallet for b in held)
    assert sum(b.wallet for b in held) <= FUNDS * len(user_ids)  # less any rake, never more
    assert (await ledger_report(container)).ok


async def test_the_running_hand_is_the_last_then_everybody_is_cashed_out(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0, "between_hands_s": 0.05})
    server = await start_edge(slow)
    players, table_id = await _seated(container, make_players, fund, make_table, 3)
    seated = [clients(url_of(server), p.token, record=True) for p in players[:2]]
    newcomer = clients(url_of(server), players[2].token)
    for client in (*seated, newcomer):
        await client.connect()
        await client.join(table_id)
    started = await seated[0].wait_for(lambda m: m.get("event") == "hand_started")
    hand = started["hand_number"]

    summary = await _close(container, table_id, players[2].user_id)
    assert summary.table.status == "closing"
    await newcomer.wait_for(lambda m: m.get("code") == "table_closing")
    with pytest.raises(ClientError) as refused:
        await newcomer.sit(table_id, 4, BUY_IN)
    assert refused.value.code == "table_not_open"

    # The hand running goes on to its end; no other hand is dealt.
    snapshot = await newcomer.join(table_id)
    assert snapshot["running"]
    by_seat = dict(enumerate(seated))
    await by_seat[snapshot["to_act"]].act(table_id, hand, "fold")
    await newcomer.wait_for(lambda m: m.get("code") == "table_closed")
    for _ in range(500):  # the spectator is parted too (within 10 s)
        if table_id not in server.registry.by_table:
            break
        await asyncio.sleep(0.02)
    assert table_id not in server.registry.by_table
    for client in seated:
        assert not any(
            m.get("event") == "hand_started" and m["hand_number"] > hand for m in client.received
        )
    await _assert_closed_and_paid_out(container, table_id, [p.user_id for p in players[:2]])


async def test_a_closing_table_nobody_runs_is_finished_by_the_server_a_player_joins(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    players, table_id = await _seated(container, make_players, fund, make_table, 2)
    # Closed while no table server ran it: the close command waits in the inbox, the status
    # in PostgreSQL is what the next owner goes by.
    assert (await _close(container, table_id, players[0].user_id)).table.status == "closing"
    server = await start_edge(edge_settings)
    client = clients(url_of(server), players[0].token)
    await client.connect()
    await client.join(table_id)  # a closing table may still be joined
    await client.wait_for(lambda m: m.get("code") == "table_closed")
    await _assert_closed_and_paid_out(container, table_id, [p.user_id for p in players])
