"""Write-behind settlement: one finished hand = one PostgreSQL transaction, idempotent."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from fractions import Fraction
from typing import NamedTuple, cast
from unittest.mock import ANY

import boto3
import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.orm.economy import ArchivedHand
from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.tables import Seat
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.table_money import LEDGER_REFUSED_SQLSTATE
from holdem.bootstrap import bootstrap
from holdem.engine.dealing import stacked_deck
from holdem.engine.errors import SeatTakenError
from holdem.engine.events import HandEnded
from holdem.engine.rake import RakeRule
from holdem.engine.table import Table, TableConfig
from holdem.ports.table_money import AtOnce
from holdem.protocol.views import event_to_wire
from holdem.services import ledger
from holdem.services.archive import archive_due_hands, load_hot_hands
from holdem.services.ledger.outcomes import PostStatus
from holdem.services.ledger.posting import Standalone
from holdem.services.ledger_errors import InsufficientFunds, StaleFencingToken
from holdem.services.table_runtime import TableMoney
from holdem.session.settlement import build_settlement
from tests.edge.conftest import Player, ledger_report

_ACCEPTED = (PostStatus.OK, PostStatus.REPLAYED)


class HeadsUp(NamedTuple):
    players: list[Player]
    table_id: int
    money: TableMoney


@pytest.fixture
async def heads_up(container, make_players, make_table, fund) -> HeadsUp:
    """Two players funded with 1,000,000 each, a new two-seat table, and the table's money
    (settled through this test's own adapters)."""
    players = await make_players(2)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    return HeadsUp(players, table_id, TableMoney(container.transactions, container.settlements))


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


async def test_a_finished_hand_is_written_in_one_transaction_and_only_once(container, heads_up):
    players, table_id, money = heads_up
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


async def test_a_deposed_owner_cannot_settle(container, heads_up):
    players, table_id, money = heads_up
    newer = await _played_hand(money, players, table_id, fence=5)
    await money.settle(newer)
    stale = {**newer, "hand_no": newer["hand_no"] + 1, "fence": 4}
    with pytest.raises(StaleFencingToken):
        await money.settle(stale)
    async with container.sessions() as session:
        hands = await session.scalar(select(func.count()).where(Hand.table_id == table_id))
    assert hands == 1


async def test_a_sit_applied_again_by_a_new_owner_changes_nothing(container, heads_up):
    """The old owner committed the sit but lost its lease before checkpointing it: the new
    owner applies the same command again (same key)."""
    players, table_id, money = heads_up
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


def _admin(database_url: str) -> psycopg.Connection:
    return psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)


async def _hands_and_posts(container, table_id: int) -> tuple[int, int]:
    async with container.sessions() as session:
        hands = await session.scalar(select(func.count()).where(Hand.table_id == table_id))
        posts = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.table_id == table_id, LedgerTransaction.hand_id.isnot(None))
        )
    return hands, posts


def _post_of(settlement):
    return ledger.hand_post(
        table_id=settlement["table_id"],
        fencing_token=settlement["fence"],
        nets={p["user_id"]: p["net"] for p in settlement["players"]},
        rake=settlement["rake"],
        rake_shares={p["user_id"]: p["rake_share"] for p in settlement["players"]},
    )


async def test_the_one_statement_posts_what_settle_hand_posts_and_the_audit_chain_holds(
    container, edge_settings, heads_up
):
    """The key and request hash the statement builds around the hand's new id are
    settle_hand's: settle_hand, asked again for that hand, replays the statement's post.
    Settled with the table servers' own login."""
    players, table_id, money = heads_up
    settlement = await _played_hand(money, players, table_id)
    server = bootstrap(edge_settings)
    try:
        outcome = await server.settlements.at_once(settlement, _post_of(settlement))
        again = await server.settlements.at_once(settlement, _post_of(settlement))
    finally:
        await server.aclose()
    assert (outcome, again) == (AtOnce.WRITTEN, AtOnce.ALREADY_WRITTEN)
    async with container.sessions() as session:
        hand_id = await session.scalar(select(Hand.id).where(Hand.table_id == table_id))
    replayed = await ledger.settle_hand(
        cast(AsyncSession, Standalone(container.statements)),
        table_id=table_id,
        hand_id=hand_id,
        fencing_token=settlement["fence"],
        nets={p["user_id"]: p["net"] for p in settlement["players"]},
        rake=settlement["rake"],
        rake_shares={p["user_id"]: p["rake_share"] for p in settlement["players"]},
    )
    assert replayed.replayed
    assert replayed.metadata == {"rake": settlement["rake"], "rake_shares": ANY}
    assert await _hands_and_posts(container, table_id) == (1, 1)
    assert (await container.ledger.verify_audit_chain()).problems == []
    assert (await ledger_report(container)).ok


async def test_a_post_refused_after_its_fence_advanced_writes_nothing_and_raises_the_refusal(
    container, heads_up
):
    """``ledger_post`` stores a valid fence advance before it finds the funds short: the
    statement's refusal rolls the advance back with the hand's rows, and the settlement's
    transaction raises the ledger's typed error."""
    players, table_id, money = heads_up
    settled = await _played_hand(money, players, table_id)
    await money.settle(settled)
    loser, winner = settled["players"]
    short = {
        **settled,
        "hand_no": settled["hand_no"] + 1,
        "fence": 7,
        "players": [
            {**loser, "net": -900_000 - loser["rake_share"] - winner["rake_share"]},
            {**winner, "net": 900_000},
        ],
    }
    assert await container.settlements.at_once(short, _post_of(short)) is AtOnce.REFUSED
    with pytest.raises(InsufficientFunds):
        await money.settle(short)
    assert await money.fence_floor(table_id) == settled["fence"]
    assert await _hands_and_posts(container, table_id) == (1, 1)
    assert (await ledger_report(container)).ok


def _wait_for_a_blocked_settlement(database_url: str, but: set[int]) -> int:
    """The backend whose settlement statement waits for a lock (none other waits there; the
    statement's text is shown cut to its first kilobyte)."""
    with _admin(database_url) as admin:
        for _ in range(3000):
            found = admin.execute(
                "select pid from pg_stat_activity where wait_event_type = 'Lock'"
                " and query like %s and pid <> all(%s)",
                ("%insert into hands%", list(but)),
            ).fetchone()
            if found:
                return int(found[0])
            time.sleep(0.01)
    raise AssertionError("no settlement ever waited for the lock")


async def test_a_settlement_killed_mid_statement_writes_nothing_and_its_retry_settles_once(
    container, database_url, heads_up
):
    """The statement has written the hand's rows and waits in ledger_post for the table's
    fence row when its backend is killed. On the kept connection the pool sends it once more
    on a new one; that one is killed too, and the settlement fails (the owner keeps it in its
    outbox). Nothing was committed meanwhile; the outbox's retry settles the hand once."""
    players, table_id, money = heads_up
    first = await _played_hand(money, players, table_id)
    await money.settle(first)  # the fence row exists; the pool keeps a connection
    second = {**first, "hand_no": first["hand_no"] + 1}
    with psycopg.connect(database_url.replace("+psycopg", "")) as holder:
        holder.execute(
            "select 1 from ledger_table_fences where table_id = %s for update", (table_id,)
        )
        settling = asyncio.create_task(money.settle(second))
        killed: set[int] = set()
        for _ in range(2):
            pid = await asyncio.to_thread(_wait_for_a_blocked_settlement, database_url, killed)
            with _admin(database_url) as admin:
                admin.execute("select pg_terminate_backend(%s)", (pid,))
            killed.add(pid)
        with pytest.raises(psycopg.OperationalError):
            await settling
        assert await _hands_and_posts(container, table_id) == (1, 1)
        holder.rollback()
    await money.settle(second)
    await money.settle(second)
    assert await _hands_and_posts(container, table_id) == (2, 2)
    assert (await ledger_report(container)).ok


@pytest.fixture
def archive_bucket(aws):
    client = boto3.client("s3", region_name="ap-northeast-2")
    client.create_bucket(
        Bucket="settled-hands", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    return S3ArchiveStore(client, "settled-hands")


async def _archived(container, table_id: int) -> int:
    async with container.sessions() as session:
        return int(
            await session.scalar(select(func.count()).where(ArchivedHand.table_id == table_id))
        )


async def test_a_retry_after_the_hand_was_archived_moves_no_money_and_records_no_second_hand(
    container, archive_bucket, heads_up
):
    """The owner's outbox (its checkpoint in Redis) still holds a hand PostgreSQL settled,
    and retries it after the archiver moved the hand to S3 and deleted its hot rows: the
    table's hand of that number is recognised, nothing is written and no won moves."""
    players, table_id, money = heads_up
    settlement = await _played_hand(money, players, table_id)  # started in 1970: long due
    await money.settle(settlement)
    async with container.sessions() as session:
        before = [await ledger.balances(SqlLedgerReads(session), p.user_id) for p in players]
    archived = await archive_due_hands(container.transactions, archive_bucket, datetime.now(UTC))
    assert archived.hands == 1

    await money.settle(settlement)
    await money.settle(settlement)

    async with container.sessions() as session:
        after = [await ledger.balances(SqlLedgerReads(session), p.user_id) for p in players]
        posts = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.table_id == table_id, LedgerTransaction.hand_id.isnot(None))
        )
    assert after == before
    assert posts == 1
    assert await _hands_and_posts(container, table_id) == (0, 1)
    assert await _archived(container, table_id) == 1
    # A table restored without its checkpoint numbers on after the archived hand.
    assert await money.last_hand_number(table_id) == settlement["hand_no"]
    assert (await ledger_report(container)).ok


async def test_a_retry_while_the_archiver_moves_the_hand_waits_for_it_and_writes_nothing(
    container, database_url, heads_up
):
    """The race: the retry starts while an archiver's transaction has moved the hand (its
    archived row written, its hot rows deleted) but not committed. The retry's snapshot holds
    neither; it waits for the archiver's commit, then finds the hand archived instead of
    writing it again under a new id."""
    players, table_id, money = heads_up
    settlement = await _played_hand(money, players, table_id)
    await money.settle(settlement)
    moved, commit = asyncio.Event(), asyncio.Event()

    async def archiver() -> None:  # the archiver's statements, the S3 write left out
        async with container.transactions() as tx:
            now = datetime.now(UTC)
            assert await tx.hand_records.lock_oldest_due(now) is not None
            ids = await tx.hand_records.lock_table_hands(
                table_id, datetime(1970, 1, 1, tzinfo=UTC), now
            )
            await tx.hand_records.move_to_archive("hands/held", await load_hot_hands(tx, ids))
            moved.set()
            await commit.wait()

    archiving = asyncio.create_task(archiver())
    await moved.wait()
    retrying = asyncio.create_task(money.settle(settlement))
    await asyncio.to_thread(_wait_for_a_blocked_settlement, database_url, set())
    commit.set()
    await archiving
    await retrying
    assert await _hands_and_posts(container, table_id) == (0, 1)
    assert await _archived(container, table_id) == 1
    assert (await ledger_report(container)).ok


@pytest.mark.parametrize("status", [s for s in PostStatus if s not in _ACCEPTED])
async def test_a_refused_answer_raises_the_ledgers_own_sqlstate_for_the_table_servers(
    table_server_database_url, status
):
    """``ledger_require_accepted`` (the statement's last column) passes an accepted answer
    and raises `LEDGER_REFUSED_SQLSTATE`, naming the status, for every refusal; the table
    servers' login may call it."""
    url = table_server_database_url.replace("+psycopg", "")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for accepted in _ACCEPTED:
            answer = {"status": str(accepted), "id": 7}
            passed = await conn.execute(
                "select ledger_require_accepted(%s::jsonb)", (json.dumps(answer),)
            )
            assert await passed.fetchone() == (answer,)
        with pytest.raises(psycopg.DatabaseError) as refused:
            await conn.execute(
                "select ledger_require_accepted(%s::jsonb)",
                (json.dumps({"status": str(status), "token": 9}),),
            )
    assert refused.value.sqlstate == LEDGER_REFUSED_SQLSTATE
    assert not isinstance(refused.value, psycopg.DataError | psycopg.OperationalError)
    assert refused.value.diag.message_primary == f"ledger_post refused the post: {status}"
    assert json.loads(refused.value.diag.message_detail or "") == {
        "status": str(status),
        "token": 9,
    }


async def test_another_error_of_the_statement_is_raised_not_taken_for_a_refusal(
    container, heads_up
):
    """Only the refusal's SQLSTATE means the ledger refused: a data error in the hand's rows
    (an event's seat out of range) fails the settlement as the bug it is, writing nothing."""
    players, table_id, money = heads_up
    settlement = await _played_hand(money, players, table_id)
    broken = {**settlement, "events": [{**settlement["events"][0], "seat": 40_000}]}
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        await container.settlements.at_once(broken, _post_of(broken))
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        await money.settle(broken)
    assert await _hands_and_posts(container, table_id) == (0, 0)
