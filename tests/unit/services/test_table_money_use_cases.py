"""The table servers' use cases (`TableMoney`, the rathole rule) against in-memory fakes of
their ports (`holdem.ports.table_money`): what the ports buy.

The real repositories (the SQL of `holdem.adapters.repositories.table_money`, the settlement
on a raw connection) are tested against PostgreSQL in ``tests/edge``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.config import GameSettings
from holdem.ports.table_money import AtOnce, Departure, HandPost, TableRow
from holdem.services import rathole
from holdem.services.errors import NotFound, RatholeMinimum, TableNotOpen
from holdem.services.ledger_errors import StaleFencingToken
from holdem.services.table_runtime import TableMoney
from holdem.session.settlement import HandSettlement

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=2)


@dataclass
class FakeTable:
    id: int
    small_blind: int = 1_000
    big_blind: int = 2_000
    max_seats: int = 6
    min_buy_in: int = 80_000
    max_buy_in: int = 200_000
    rake_rate_bps: int = 500
    rake_cap: int = 6_000
    status: str = "open"
    closed_at: datetime | None = None


@dataclass
class FakeSeat:
    table_id: int
    seat_no: int
    user_id: int
    left_at: datetime | None = None
    left_with: int | None = None


@dataclass
class FakeDatabase:
    tables: dict[int, FakeTable] = field(default_factory=dict)
    seats: list[FakeSeat] = field(default_factory=list)
    hands: dict[tuple[int, int], int] = field(default_factory=dict)
    fences: dict[int, int] = field(default_factory=dict)
    posts: list[tuple[Any, ...]] = field(default_factory=list)


class FakeTableRecords:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def table(self, table_id: int, *, for_update: bool = False) -> TableRow | None:
        return self.db.tables.get(table_id)

    async def open_seats(self, table_id: int) -> list[tuple[int, int]]:
        found = [s for s in self.db.seats if s.table_id == table_id and s.left_at is None]
        return sorted((s.seat_no, s.user_id) for s in found)

    async def add_seat(self, table_id: int, seat_no: int, user_id: int) -> None:
        self.db.seats.append(FakeSeat(table_id, seat_no, user_id))

    async def close_seat(
        self, table_id: int, user_id: int, left_at: datetime, left_with: int
    ) -> bool:
        for seat in self.db.seats:
            if (seat.table_id, seat.user_id, seat.left_at) == (table_id, user_id, None):
                seat.left_at, seat.left_with = left_at, left_with
                return True
        return False

    async def last_departure(
        self, user_id: int, small_blind: int, big_blind: int, since: datetime
    ) -> Departure | None:
        left = [
            s
            for s in self.db.seats
            if s.user_id == user_id
            and s.left_at is not None
            and s.left_at > since
            and (self.db.tables[s.table_id].small_blind, self.db.tables[s.table_id].big_blind)
            == (small_blind, big_blind)
        ]
        if not left:
            return None
        last = max(left, key=lambda s: s.left_at or since)
        assert last.left_at is not None
        return Departure(last.left_at, last.left_with)

    async def fence_floor(self, table_id: int) -> int:
        return self.db.fences.get(table_id, 0)

    async def last_hand_number(self, table_id: int) -> int:
        return max((no for (t, no) in self.db.hands if t == table_id), default=0)

    async def add_hand_rows(self, settlement: HandSettlement) -> int | None:
        key = (settlement["table_id"], settlement["hand_no"])
        if key in self.db.hands:
            return None
        self.db.hands[key] = len(self.db.hands) + 1
        return self.db.hands[key]


class FakeTransaction:
    """The repositories over the fake database; the ledger's session is not faked."""

    def __init__(self, db: FakeDatabase) -> None:
        self.table_records = FakeTableRecords(db)

    @property
    def session(self) -> AsyncSession:
        raise AssertionError("these use cases reach no ledger call here")


class FakeSettlement:
    """A settlement transaction: the hand's rows, and ``ledger_post`` as far as the fence
    (a token below the table's highest is refused, as the database function refuses it)."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self._records = FakeTableRecords(db)

    async def add_hand_rows(self, settlement: HandSettlement) -> int | None:
        return await self._records.add_hand_rows(settlement)

    async def run_idempotent(self, query: str, params: Sequence[Any]) -> tuple[Any, ...]:
        assert query.startswith("select ledger_post(")
        table_id, token = params[8], params[9]
        self.db.posts.append(tuple(params))
        if token < self.db.fences.get(table_id, 0):
            return ({"status": "stale_fence", "token": self.db.fences[table_id]},)
        self.db.fences[table_id] = token
        return (
            {
                "status": "ok",
                "id": len(self.db.posts),
                "kind": "hand_settlement",
                "created_at": NOW.isoformat(),
                "metadata": {},
                "entries": [],
                "lane": 0,
                "seq": len(self.db.posts),
                "hash": "0" * 64,
            },
        )


def posted_at_once(post: HandPost, hand_id: int) -> tuple[Any, ...]:
    """``ledger_post``'s arguments as the one statement fills them in for the hand's id."""
    request_hash = hashlib.sha256(post.request.fill(hand_id).encode()).hexdigest()
    return (
        "hand_settlement",
        post.key.fill(hand_id),
        request_hash,
        post.metadata,
        None,
        post.table_id,
        hand_id,
        None,
        post.table_id,
        post.fencing_token,
        post.legs,
    )


class FakeSettlements:
    """`holdem.ports.table_money.Settlements` over the fake database: a transaction puts the
    database back when it raises; the one statement writes nothing when the post is refused
    (as the fence refuses it), and records each call in ``at_once_calls``."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.at_once_calls: list[tuple[int, int, AtOnce]] = []

    async def at_once(self, settlement: HandSettlement, post: HandPost | None) -> AtOnce:
        outcome = self._at_once(settlement, post)
        self.at_once_calls.append((settlement["table_id"], settlement["hand_no"], outcome))
        return outcome

    def _at_once(self, settlement: HandSettlement, post: HandPost | None) -> AtOnce:
        key = (settlement["table_id"], settlement["hand_no"])
        if key in self.db.hands:
            return AtOnce.ALREADY_WRITTEN
        if post is not None:
            if post.fencing_token < self.db.fences.get(post.table_id, 0):
                return AtOnce.REFUSED
            self.db.fences[post.table_id] = post.fencing_token
            self.db.posts.append(posted_at_once(post, len(self.db.hands) + 1))
        self.db.hands[key] = len(self.db.hands) + 1
        return AtOnce.WRITTEN

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeSettlement]:
        before = copy.deepcopy(vars(self.db))
        try:
            yield FakeSettlement(self.db)
        except BaseException:
            vars(self.db).update({k: v for k, v in before.items() if k != "posts"})
            raise


def money_on(
    db: FakeDatabase, game: GameSettings | None = None, settlements: FakeSettlements | None = None
) -> TableMoney:
    """A `TableMoney` whose transactions put the fake database back when they raise."""

    @asynccontextmanager
    async def transaction() -> AsyncIterator[FakeTransaction]:
        before = copy.deepcopy(vars(db))
        try:
            yield FakeTransaction(db)
        except BaseException:
            vars(db).update(before)
            raise

    return TableMoney(transaction, settlements or FakeSettlements(db), clock=lambda: NOW, game=game)


def hand(
    table_id: int, hand_no: int, fence: int, nets: dict[int, int], rake: int
) -> HandSettlement:
    players = [
        {"seat": seat, "user_id": user, "net": net, "rake_share": rake if seat == 0 else 0}
        for seat, (user, net) in enumerate(nets.items())
    ]
    return {
        "table_id": table_id,
        "hand_no": hand_no,
        "fence": fence,
        "rake": rake,
        "players": players,
    }


async def test_a_hand_is_settled_once_and_a_deposed_owner_is_refused_with_nothing_written() -> None:
    db = FakeDatabase(tables={1: FakeTable(1)})
    settlements = FakeSettlements(db)
    money = money_on(db, settlements=settlements)
    won = hand(1, 1, fence=5, nets={7: 1_900, 8: -2_000}, rake=100)
    await money.settle(won)
    await money.settle(won)  # a retry from the outbox: the hand is there, nothing is posted
    assert len(db.posts) == 1
    assert db.posts[0][1] == "hand:1:1"  # settle_hand's key, with the id the hand got
    assert await money.fence_floor(1) == 5
    with pytest.raises(StaleFencingToken):
        await money.settle(hand(1, 2, fence=4, nets={7: -2_000, 8: 1_900}, rake=100))
    assert await money.last_hand_number(1) == 1  # the refused hand's rows were rolled back
    # One statement per settlement; the refused one ran again as a transaction, which raised.
    assert [outcome for _, _, outcome in settlements.at_once_calls] == [
        AtOnce.WRITTEN,
        AtOnce.ALREADY_WRITTEN,
        AtOnce.REFUSED,
    ]
    assert db.posts[-1][9] == 4  # the transaction's post, refused (the fake keeps its params)


async def test_the_one_statement_posts_what_the_transaction_posts() -> None:
    """The same hand (same id) settled both ways: ``ledger_post`` gets the same arguments."""
    at_once, in_transaction = FakeDatabase(), FakeDatabase()
    won = hand(1, 1, fence=5, nets={7: 1_900, 8: -2_000, 9: 0}, rake=100)
    await money_on(at_once).settle(won)

    class Refused(FakeSettlements):
        async def at_once(self, settlement: HandSettlement, post: HandPost | None) -> AtOnce:
            return AtOnce.REFUSED

    await money_on(in_transaction, settlements=Refused(in_transaction)).settle(won)
    assert at_once.posts == in_transaction.posts
    assert len(at_once.posts) == 1


async def test_a_hand_refused_at_once_but_written_meanwhile_by_another_owner_is_left_alone() -> (
    None
):
    """Between the refused statement and its transaction, the new owner wrote that hand
    number: the transaction finds it and posts nothing (as a retry would)."""
    db = FakeDatabase(tables={1: FakeTable(1)}, fences={1: 9})

    class WrittenMeanwhile(FakeSettlements):
        async def at_once(self, settlement: HandSettlement, post: HandPost | None) -> AtOnce:
            outcome = await super().at_once(settlement, post)
            self.db.hands[(settlement["table_id"], settlement["hand_no"])] = 99
            return outcome

    await money_on(db, settlements=WrittenMeanwhile(db)).settle(
        hand(1, 1, fence=4, nets={7: 1_900, 8: -2_000}, rake=100)
    )
    assert (db.hands, db.posts, db.fences) == ({(1, 1): 99}, [], {1: 9})


async def test_a_hand_where_nothing_changed_hands_is_recorded_without_a_ledger_post() -> None:
    db = FakeDatabase(tables={1: FakeTable(1)})
    await money_on(db).settle(hand(1, 1, fence=1, nets={7: 0, 8: 0}, rake=0))
    assert (db.hands, db.posts) == ({(1, 1): 1}, [])


async def test_a_cash_out_of_nothing_closes_the_seat_once_and_a_closing_table_closes() -> None:
    db = FakeDatabase(tables={1: FakeTable(1, status="closing")}, seats=[FakeSeat(1, 3, 7)])
    money = money_on(db)
    await money.cash_out(1, 3, 7, 0, key="out")
    assert await money.open_seats(1) == []  # (no seat: no ledger read)
    assert (db.seats[0].left_at, db.seats[0].left_with) == (NOW, 0)
    with pytest.raises(NotFound):
        await money.cash_out(1, 3, 7, 0, key="out-again")
    assert (await money.table_row(1)).status == "closing"
    closed = await money.finish_closing(1)
    assert closed is not None
    assert closed.status == "closed"
    assert await money.finish_closing(1) is None
    with pytest.raises(TableNotOpen):
        await money.table_row(1)


async def test_the_rathole_rule_reads_the_last_departure_at_these_stakes() -> None:
    db = FakeDatabase(
        tables={
            1: FakeTable(1),
            2: FakeTable(2),
            3: FakeTable(3, small_blind=2_000, big_blind=4_000),
        },
        seats=[
            FakeSeat(1, 0, 7, left_at=NOW - timedelta(minutes=30), left_with=250_000),
            FakeSeat(3, 0, 8, left_at=NOW - timedelta(minutes=10), left_with=500_000),
        ],
    )
    tx = FakeTransaction(db)
    with pytest.raises(RatholeMinimum) as refused:
        await rathole.check_buy_in(tx, 7, db.tables[2], 200_000, NOW, WINDOW)
    assert refused.value.details["minimum"] == 250_000
    await rathole.check_buy_in(tx, 7, db.tables[2], 200_000, NOW, WINDOW, capped_at_max=True)
    await rathole.check_buy_in(tx, 7, db.tables[2], 100_000, NOW + WINDOW, WINDOW)
    await rathole.check_buy_in(tx, 8, db.tables[2], 80_000, NOW, WINDOW)  # other stakes
