"""Daily statistics per KST day and stake, from real hands in PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.ledger.rakeback import KST
from holdem.services.errors import InvalidInput
from holdem.services.stats import compute_daily_stats, read_daily_stats
from tests.economy_hands import PREFLOP_FOLD, SHOWDOWN, make_table, make_users, play, store_hand

DAY = date(2026, 11, 25)
RUN = datetime(2026, 11, 26, 3, 0, tzinfo=KST)


async def test_a_days_figures_per_stake_and_in_total(container):
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 4)
        small = await make_table(session, 1_000, 2_000)
        big = await make_table(session, 5_000, 10_000)
        day_start = datetime(2026, 11, 25, 0, 0, tzinfo=KST)
        await store_hand(session, small, users[:3], play("abc", SHOWDOWN), day_start)
        await store_hand(session, small, users[:3], play("abc", PREFLOP_FOLD), day_start)
        await store_hand(
            session,
            big,
            users[1:],
            play("abc", SHOWDOWN, small_blind=5_000, big_blind=10_000),
            day_start + timedelta(hours=23, minutes=59),
        )
        # Outside the KST day on both sides: not counted.
        await store_hand(
            session, small, users[:3], play("abc", SHOWDOWN), day_start - timedelta(seconds=1)
        )
        await store_hand(
            session, small, users[:3], play("abc", SHOWDOWN), day_start + timedelta(days=1)
        )
    async with container.sessions() as session, session.begin():
        figures = await compute_daily_stats(SqlTransaction(session), DAY, RUN)
    by_stakes = {f.stakes: f for f in figures}
    assert set(by_stakes) == {"1000/2000", "5000/10000", "all"}
    low, high, total = by_stakes["1000/2000"], by_stakes["5000/10000"], by_stakes["all"]
    assert (low.hands, low.rake, low.active_players) == (2, 900, 3)
    assert (high.hands, high.rake, high.active_players) == (1, 4_500, 3)
    assert (total.hands, total.rake, total.active_players) == (3, 5_400, 4)
    assert total.pots == low.pots + high.pots

    async with container.sessions() as session, session.begin():
        again = await compute_daily_stats(
            SqlTransaction(session), DAY, RUN
        )  # a re-run replaces the rows
    async with container.sessions() as session:
        stored = await read_daily_stats(SqlTransaction(session), DAY, DAY)
    assert stored == again == figures


async def test_days_not_over_or_already_archived_are_refused(container):
    async with container.sessions() as session:
        with pytest.raises(InvalidInput):
            await compute_daily_stats(SqlTransaction(session), date(2026, 11, 26), RUN)
        with pytest.raises(InvalidInput):
            await compute_daily_stats(SqlTransaction(session), DAY - timedelta(days=8), RUN)
        with pytest.raises(InvalidInput):
            await read_daily_stats(SqlTransaction(session), DAY, DAY - timedelta(days=1))
