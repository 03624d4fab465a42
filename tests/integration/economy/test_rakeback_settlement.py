"""Weekly rakeback against real PostgreSQL: the KST week, statements, paying exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from sqlalchemy import select

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.orm.rakeback import RakebackSettlement
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.ledger.rakeback import KST, VipLevel, week_starting
from holdem.services.archive import archive_due_hands
from holdem.services.errors import InvalidInput
from holdem.services.rakeback import (
    SettleOutcome,
    plan_week,
    rake_paid,
    settle_user,
    statements_for_user,
    week_from_date,
    weekly_statements,
)
from tests.economy_hands import SHOWDOWN, make_table, make_users, play, store_hand

WEEK = week_starting(date(2026, 11, 16))
SUNDAY_LATE = datetime(2026, 11, 22, 23, 59, 59, tzinfo=KST)
MONDAY = datetime(2026, 11, 23, 0, 0, 0, tzinfo=KST)


class CountingLedger:
    """Counts every credit and is deliberately NOT idempotent: exactly-once must be ours."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, date, int, str]] = []

    async def credit_rakeback(self, tx, *, key, user_id, amount, week_start, **_):
        await asyncio.sleep(0)  # let a racing task in, as a real ledger's I/O would
        self.calls.append((user_id, week_start, amount, key))
        return len(self.calls)


async def _hands_at(container, *instants, big_blind=2_000):
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 3)
        table = await make_table(session, big_blind // 2, big_blind)
        for at in instants:
            played = play("abc", SHOWDOWN, small_blind=big_blind // 2, big_blind=big_blind)
            await store_hand(session, table, users, played, at)
    return users


async def test_a_hand_at_sunday_23_59_59_kst_counts_in_its_week_and_monday_00_00_in_the_next(
    container,
):
    users = await _hands_at(container, SUNDAY_LATE, MONDAY)
    async with container.sessions() as session:
        this_week = await weekly_statements(SqlTransaction(session), WEEK)
        next_week = await weekly_statements(
            SqlTransaction(session), week_starting(date(2026, 11, 23))
        )
    assert [s.user_id for s in this_week] == users
    assert {s.rake for s in this_week} == {300}
    assert {s.rake for s in next_week} == {300}
    # The level window (30 days ending with the week) of the first week excludes Monday.
    assert {s.level_rake for s in this_week} == {300}


async def test_the_statement_uses_the_level_of_the_trailing_window_and_rounds_down(container):
    # 25,000/50,000: a raised 3-way pot of 18 BB... rake 4% of 450,000 = 18,000 (6,000 each)
    early = SUNDAY_LATE - timedelta(days=20)
    instants = [early + timedelta(minutes=i) for i in range(17)] + [SUNDAY_LATE]
    users = await _hands_at(container, *instants, big_blind=50_000)
    async with container.sessions() as session:
        statements = await weekly_statements(SqlTransaction(session), WEEK, window_days=30)
        short = await weekly_statements(SqlTransaction(session), WEEK, window_days=7)
    first = statements[0]
    assert first.user_id == users[0]
    assert first.level_rake == 18 * 6_000  # 108,000 won in 30 days: silver
    assert (first.level, first.rate_bps, first.rake) == (VipLevel.SILVER, 2500, 6_000)
    assert first.amount == 1_500
    assert (short[0].level, short[0].amount) == (VipLevel.BRONZE, 1_200)


async def test_duplicate_deliveries_and_a_rerun_pay_each_user_once(container):
    users = await _hands_at(container, SUNDAY_LATE)
    ledger = CountingLedger()
    for _ in range(3):  # the message delivered twice, then an operator re-run
        for user in users:
            async with container.sessions() as session, session.begin():
                await settle_user(SqlTransaction(session), ledger, user, WEEK)
    assert sorted(c[0] for c in ledger.calls) == users
    assert {c[3] for c in ledger.calls} == {f"rakeback:{u}:2026-11-16" for u in users}
    async with container.sessions() as session:
        rows = (await session.execute(select(RakebackSettlement))).scalars().all()
        assert len(rows) == 3
        assert all(r.ledger_transaction_id for r in rows)
        assert await plan_week(SqlTransaction(session), WEEK) == []
        mine = await statements_for_user(SqlTransaction(session), users[0])
        assert [(s.week_start, s.rake_paid, s.amount) for s in mine] == [(WEEK.start, 300, 60)]


async def test_two_workers_racing_on_the_same_message_pay_once(container):
    users = await _hands_at(container, SUNDAY_LATE)
    ledger = CountingLedger()

    async def worker():
        async with container.sessions() as session, session.begin():
            return await settle_user(SqlTransaction(session), ledger, users[0], WEEK)

    outcomes = await asyncio.gather(worker(), worker())
    assert sorted(o.outcome for o in outcomes) == [
        SettleOutcome.ALREADY_SETTLED,
        SettleOutcome.PAID,
    ]
    assert len(ledger.calls) == 1


async def test_a_failed_credit_leaves_nothing_and_the_retry_pays(container):
    users = await _hands_at(container, SUNDAY_LATE)

    class Failing(CountingLedger):
        async def credit_rakeback(self, *args, **kwargs):
            raise ConnectionError("ledger unavailable")

    with pytest.raises(ConnectionError):
        async with container.sessions() as session, session.begin():
            await settle_user(SqlTransaction(session), Failing(), users[0], WEEK)
    ledger = CountingLedger()
    async with container.sessions() as session, session.begin():
        settled = await settle_user(SqlTransaction(session), ledger, users[0], WEEK)
    assert settled.outcome is SettleOutcome.PAID
    assert len(ledger.calls) == 1


async def test_a_user_without_rake_is_owed_nothing(container):
    async with container.sessions() as session, session.begin():
        (user,) = await make_users(session, 1)
        settled = await settle_user(SqlTransaction(session), CountingLedger(), user, WEEK)
    assert settled.outcome is SettleOutcome.NOTHING_OWED


async def test_the_plan_batches_the_users_owed(container):
    users = await _hands_at(container, SUNDAY_LATE)
    async with container.sessions() as session:
        assert await plan_week(SqlTransaction(session), WEEK, batch_size=2) == [
            users[:2],
            users[2:],
        ]
        with pytest.raises(InvalidInput):
            await plan_week(SqlTransaction(session), WEEK, batch_size=0)


def test_a_week_that_does_not_start_on_monday_is_invalid_input():
    with pytest.raises(InvalidInput):
        week_from_date(date(2026, 11, 17))


async def test_rake_windows_count_archived_hands_once(container, aws):
    s3 = boto3.client("s3", region_name="ap-northeast-2")
    s3.create_bucket(
        Bucket="rake-test", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    users = await _hands_at(container, SUNDAY_LATE, MONDAY)
    async with container.sessions() as session:
        before = await rake_paid(
            SqlTransaction(session), users[0], WEEK.starts_at, MONDAY + timedelta(days=1)
        )
    await archive_due_hands(
        container.transactions,
        S3ArchiveStore(s3, "rake-test"),
        MONDAY.astimezone(UTC) + timedelta(days=8),
    )
    async with container.sessions() as session:
        after = await rake_paid(
            SqlTransaction(session), users[0], WEEK.starts_at, MONDAY + timedelta(days=1)
        )
        statements = await weekly_statements(SqlTransaction(session), WEEK)
    assert before == after == 600
    assert {s.rake for s in statements} == {300}
