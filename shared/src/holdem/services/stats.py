"""Daily statistics for operators: hands, rake, pots and active players per KST day and stake.

Computed at 03:00 KST for the day before (``functions/daily_stats``) from the hot hands, and
stored in ``daily_stats`` (one row per stake, plus ``"all"``). Re-computing a day replaces
its rows. Hands leave PostgreSQL after seven days, so a day can only be (re)computed while
its hands are all still hot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.economy import DailyStats
from holdem.adapters.orm.hands import Hand, HandPlayer
from holdem.ledger.rakeback import kst_day_bounds
from holdem.services.archive import HOT_RETENTION
from holdem.services.errors import InvalidInput

__all__ = ["ALL_STAKES", "DayFigures", "compute_daily_stats", "read_daily_stats", "stakes_label"]

ALL_STAKES = "all"
MAX_RANGE_DAYS = 366


def stakes_label(small_blind: int, big_blind: int) -> str:
    """``"1000/2000"``."""
    return f"{small_blind}/{big_blind}"


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One row of ``daily_stats``."""

    day: date
    stakes: str
    small_blind: int | None
    big_blind: int | None
    hands: int
    rake: int
    pots: int
    active_players: int


async def compute_daily_stats(session: AsyncSession, day: date, now: datetime) -> list[DayFigures]:
    """Compute and store the figures of a KST ``day`` (commit is the caller's).

    Raises:
        InvalidInput: The day has not ended yet, or its hands may already be archived.
    """
    start, end = kst_day_bounds(day)
    if end > now:
        raise InvalidInput(f"{day.isoformat()} (KST) has not ended yet")
    if start < now - HOT_RETENTION:
        raise InvalidInput(f"the hands of {day.isoformat()} may already be archived")
    in_day = (Hand.started_at >= start) & (Hand.started_at < end)
    per_stake = await session.execute(
        select(
            Hand.small_blind,
            Hand.big_blind,
            func.count(),
            func.coalesce(func.sum(Hand.rake), 0),
            func.coalesce(func.sum(Hand.total_pot), 0),
        )
        .where(in_day)
        .group_by(Hand.small_blind, Hand.big_blind)
    )
    players = {
        (sb, bb): n
        for sb, bb, n in await session.execute(
            select(Hand.small_blind, Hand.big_blind, func.count(func.distinct(HandPlayer.user_id)))
            .join(HandPlayer, HandPlayer.hand_id == Hand.id)
            .where(in_day)
            .group_by(Hand.small_blind, Hand.big_blind)
        )
    }
    everyone = (
        await session.execute(
            select(func.count(func.distinct(HandPlayer.user_id)))
            .join(Hand, HandPlayer.hand_id == Hand.id)
            .where(in_day)
        )
    ).scalar_one()
    figures = [
        DayFigures(day, stakes_label(sb, bb), sb, bb, n, int(rake), int(pots), players[(sb, bb)])
        for sb, bb, n, rake, pots in sorted(per_stake, key=lambda r: (r[1], r[0]))
    ]
    figures.append(
        DayFigures(
            day,
            ALL_STAKES,
            None,
            None,
            sum(f.hands for f in figures),
            sum(f.rake for f in figures),
            sum(f.pots for f in figures),
            int(everyone),
        )
    )
    await session.execute(delete(DailyStats).where(DailyStats.day == day))
    await session.execute(
        insert(DailyStats).values(
            [
                {
                    "day": f.day,
                    "stakes": f.stakes,
                    "small_blind": f.small_blind,
                    "big_blind": f.big_blind,
                    "hands": f.hands,
                    "rake": f.rake,
                    "pots": f.pots,
                    "active_players": f.active_players,
                }
                for f in figures
            ]
        )
    )
    return figures


async def read_daily_stats(session: AsyncSession, since: date, until: date) -> list[DayFigures]:
    """Stored figures for the KST days ``since`` to ``until`` inclusive, oldest first.

    Raises:
        InvalidInput: The range is reversed or longer than a year.
    """
    if until < since or (until - since).days >= MAX_RANGE_DAYS:
        raise InvalidInput("give a range of 1 to 366 days, oldest day first")
    rows = await session.execute(
        select(DailyStats)
        .where(DailyStats.day >= since, DailyStats.day <= until)
        .order_by(DailyStats.day, DailyStats.big_blind.nulls_last(), DailyStats.small_blind)
    )
    return [
        DayFigures(
            r.day, r.stakes, r.small_blind, r.big_blind, r.hands, r.rake, r.pots, r.active_players
        )
        for r in rows.scalars()
    ]
