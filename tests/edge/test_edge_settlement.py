"""Write-behind settlement: one finished hand = one PostgreSQL transaction, idempotent."""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.tables import Seat
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.engine.dealing import stacked_deck
from holdem.engine.errors import SeatTakenError
from holdem.engine.events import HandEnded
from holdem.engine.rake import RakeRule
from holdem.engine.table import Table, TableConfig
from holdem.protocol.views import event_to_wire
from holdem.services import ledger
from holdem.services.ledger_errors import StaleFencingToken
from holdem.services.table_runtime import TableMoney
from holdem.session.settlement import build_settlement
from tests.edge.conftest import ledger_report


async def _played_hand(money, players, table_id, fence=1):
    config = TableConfig(
        seats=2, small_blind=1_000, big_blind=2_000, rake=RakeRule(Fraction(5, 100), 6_000)
    )
    table = Table(config)
    for seat, player in enumerate(players):
        await money.sit(table_id, seat, player.user_id, 200_000, key=f"sit:{table_id}:{seat}")
        table.sit_down(seat, str(player.user_id), 200_000)
    hand = table.start_hand(deck=stacked_deck(2, {0: "AsAd", 1: "KsKd"}, "2c7d9hJsQc"), button=0)
    hand.raise_to(hand.to_act, 6_000)
    hand.call(hand.to_act)
    while hand.result is None:
        hand.check(hand.to_act)
    events = table.drain_events()
    ended = next(e for e in events if isinstance(e, HandEnded))
    return build_settlement(
        table_id=table_id,
        fence=fence,
        hand=hand,
        result=ended.result,
        started_at=0.0,
        ended_at=1.0,
        events=[event_to_wire(e) for e in events],
    )


async def test_a_finished_hand_is_written_in_one_transaction_and_only_once(
    container, make_players, make_table, fund
):
    players = await make_players(2)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    money = TableMoney(container.transactions, container.settlements)
    settlement = await _played_hand(money, players, table_id)
    await money.settle(settlement)
    await money.settle(settlement)  # a retry from the outbox changes nothing
    async with container.sessions() as session:
        hands = await session.scalar(select(func.count()).where(Hand.table_id == table_id))
        events = await session.scalar(select(func.count()).select_from(HandEvent))
        parts = await session.scalar(select(func.count()).select_from(HandPlayer))
        # Every row of the hand and its ledger transaction carry the id of the PostgreSQL
        # transaction that wrote them (xmin): one.
        writers = await session.scalar(
            text(
                "select count(distinct w) from ("
                " select h.xmin::text as w from hands h where h.table_id = :t"
                " union all select e.xmin::text from hand_events e join hands h"
                "  on h.id = e.hand_id where h.table_id = :t"
                " union all select p.xmin::text from hand_players p join hands h"
                "  on h.id = p.hand_id where h.table_id = :t"
                " union all select l.xmin::text from ledger_transactions l join hands h"
                "  on h.id = l.hand_id where h.table_id = :t and l.table_id = :t) as rows"
            ),
            {"t": table_id},
        )
        settled = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.table_id == table_id, LedgerTransaction.hand_id.isnot(None))
        )
    assert (hands, parts, settled) == (1, 2, 1)
    assert events == len(settlement["events"])
    assert writers == 1
    assert (await ledger_report(container)).ok


async def test_a_deposed_owner_cannot_settle(container, make_players, make_table, fund):
    players = await make_players(2)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    money = TableMoney(container.transactions, container.settlements)
    newer = await _played_hand(money, players, table_id, fence=5)
    await money.settle(newer)
    stale = {**newer, "hand_no": newer["hand_no"] + 1, "fence": 4}
    with pytest.raises(StaleFencingToken):
        await money.settle(stale)
    async with container.sessions() as session:
        hands = await session.scalar(select(func.count()).where(Hand.table_id == table_id))
    assert hands == 1


async def test_a_sit_applied_again_by_a_new_owner_changes_nothing(
    container, make_players, make_table, fund
):
    """The old owner committed the sit but lost its lease before checkpointing it: the new
    owner applies the same command again (same key)."""
    players = await make_players(2)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    money = TableMoney(container.transactions, container.settlements)
    await money.sit(table_id, 0, players[0].user_id, 200_000, key=f"sit:{table_id}:1-0")
    await money.sit(table_id, 0, players[0].user_id, 200_000, key=f"sit:{table_id}:1-0")
    with pytest.raises(SeatTakenError):  # PostgreSQL has the seat open: nothing moves
        await money.sit(table_id, 0, players[1].user_id, 200_000, key=f"sit:{table_id}:2-0")
    async with container.sessions() as session:
        seated = await ledger.balances(SqlLedgerReads(session), players[0].user_id)
        refused = await ledger.balances(SqlLedgerReads(session), players[1].user_id)
        seats = await session.scalar(
            select(func.count()).where(Seat.table_id == table_id, Seat.left_at.is_(None))
        )
    assert (seated.wallet, seated.seats) == (800_000, {table_id: 200_000})
    assert (refused.wallet, refused.seats) == (1_000_000, {})
    assert seats == 1
    assert (await ledger_report(container)).ok


async def test_a_sit_refused_by_another_constraint_is_not_seat_taken_and_changes_nothing(
    container, make_players, make_table, fund
):
    """Only the open-seat indexes mean the seat is taken; any other violation (here the seat
    number's CHECK, which the engine never lets through) surfaces as the bug it is."""
    (player,) = await make_players(1)
    await fund([player.user_id], 1_000_000)
    table_id = await make_table(seats=2)
    money = TableMoney(container.transactions, container.settlements)
    with pytest.raises(IntegrityError):
        await money.sit(table_id, 9, player.user_id, 200_000, key=f"sit:{table_id}:bad")
    async with container.sessions() as session:
        held = await ledger.balances(SqlLedgerReads(session), player.user_id)
    assert (held.wallet, held.seats) == (1_000_000, {})
    assert (await ledger_report(container)).ok
