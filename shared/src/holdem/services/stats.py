"""Daily statistics for operators: hands, rake, pots and active players per KST day and stake.

Computed at 03:00 KST for the day before (``functions/daily_stats``) from the hot hands, and
stored in ``daily_stats`` (one row per stake, plus ``"all"``). Re-computing a day replaces
its rows. Hands leave PostgreSQL after seven days, so a day can only be (re)computed while
its hands are all still hot.
"""

from __future__ import annotations

from datetime import date, datetime

from holdem.ledger.rakeback import kst_day_bounds
from holdem.ports.hands import DayFigures
from holdem.ports.transaction import Transaction
from holdem.services.archive import HOT_RETENTION
from holdem.services.errors import InvalidInput

__all__ = ["ALL_STAKES", "DayFigures", "compute_daily_stats", "read_daily_stats", "stakes_label"]

ALL_STAKES = "all"
MAX_RANGE_DAYS = 366


def stakes_label(small_blind: int, big_blind: int) -> str:
    """``"1000/2000"``."""
    return f"{small_blind}/{big_blind}"


async def compute_daily_stats(tx: Transaction, day: date, now: datetime) -> list[DayFigures]:
    """Compute and store the figures of a KST ``day`` (commit is the caller's).

    Raises:
        InvalidInput: The day has not ended yet, or its hands may already be archived.
    """
    start, end = kst_day_bounds(day)
    if end > now:
        raise InvalidInput(f"{day.isoformat()} (KST) has not ended yet")
    if start < now - HOT_RETENTION:
        raise InvalidInput(f"the hands of {day.isoformat()} may already be archived")
    repo = tx.daily_stats
    per_stake = await repo.stakes(start, end)
    players = await repo.players_by_stake(start, end)
    everyone = await repo.players(start, end)
    figures = [
        DayFigures(day, stakes_label(sb, bb), sb, bb, n, rake, pots, players[(sb, bb)])
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
            everyone,
        )
    )
    await repo.replace_day(day, figures)
    return figures


async def read_daily_stats(tx: Transaction, since: date, until: date) -> list[DayFigures]:
    """Stored figures for the KST days ``since`` to ``until`` inclusive, oldest first.

    Raises:
        InvalidInput: The range is reversed or longer than a year.
    """
    if until < since or (until - since).days >= MAX_RANGE_DAYS:
        raise InvalidInput("give a range of 1 to 366 days, oldest day first")
    return await tx.daily_stats.days(since, until)
