"""VIP levels, rakeback amounts and the KST settlement week (SPEC §4.2). Pure: stdlib only.

A player's level is decided by the rake they paid in a window (default: the 30 KST days
that end with the settled week); their rakeback is that level's rate applied to the rake
they paid *in the week*, rounded down to the won. Weeks run Monday 00:00 to Sunday 24:00
Asia/Seoul. Rates are kept as integer basis points so no float ever touches money.

>>> vip_status(99_999).level, vip_status(100_000).level
(<VipLevel.BRONZE: 'bronze'>, <VipLevel.SILVER: 'silver'>)
>>> rakeback_amount(12_345, 2_500)
3086
>>> week = kst_week_of(datetime(2026, 11, 22, 14, 59, 59, tzinfo=UTC))  # Sun 23:59:59 KST
>>> week.start.isoformat(), week.starts_at.isoformat()
('2026-11-16', '2026-11-15T15:00:00+00:00')
>>> kst_week_of(datetime(2026, 11, 22, 15, 0, tzinfo=UTC)).start.isoformat()  # Mon 00:00
'2026-11-23'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import ClassVar
from zoneinfo import ZoneInfo

__all__ = [
    "KST",
    "SPEC_VIP_TIERS",
    "InvalidTiersError",
    "InvalidWeekError",
    "KstWeek",
    "RakebackRuleError",
    "Tier",
    "VipLevel",
    "VipStatus",
    "kst_day_bounds",
    "kst_week_of",
    "level_window",
    "previous_kst_week",
    "rakeback_amount",
    "tiers_from_rates",
    "vip_status",
    "week_starting",
]

KST = ZoneInfo("Asia/Seoul")
BASIS_POINTS = 10_000


class RakebackRuleError(ValueError):
    """Base of this module's errors; ``code`` is stable for the transports."""

    code: ClassVar[str] = "rakeback_rule_error"


class InvalidWeekError(RakebackRuleError):
    """A settlement week must start on a Monday (KST)."""

    code = "invalid_week"


class InvalidTiersError(RakebackRuleError):
    """Tiers must start at 0 won, rise strictly and have rates within 0–100%."""

    code = "invalid_tiers"


class VipLevel(StrEnum):
    """The VIP levels, lowest first."""

    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"
    DIAMOND = "diamond"


@dataclass(frozen=True, slots=True)
class Tier:
    """A level reached once ``rake_paid >= threshold``, paying ``rate_bps`` back."""

    level: VipLevel
    threshold: int
    rate_bps: int


SPEC_VIP_TIERS: tuple[Tier, ...] = (
    Tier(VipLevel.BRONZE, 0, 2_000),
    Tier(VipLevel.SILVER, 100_000, 2_500),
    Tier(VipLevel.GOLD, 500_000, 3_000),
    Tier(VipLevel.PLATINUM, 2_000_000, 3_500),
    Tier(VipLevel.DIAMOND, 5_000_000, 4_000),
)
"""SPEC §4.2: thresholds in won of rake paid in the window, rates in basis points."""


def _check_tiers(tiers: Sequence[Tier]) -> None:
    if not tiers or tiers[0].threshold != 0:
        raise InvalidTiersError("the lowest tier must start at 0 won")
    for lower, upper in pairwise(tiers):
        if upper.threshold <= lower.threshold:
            raise InvalidTiersError("tier thresholds must rise strictly")
    if any(not 0 <= t.rate_bps <= BASIS_POINTS for t in tiers):
        raise InvalidTiersError("tier rates must be between 0 and 10000 basis points")


def tiers_from_rates(rates: Mapping[str, Decimal]) -> tuple[Tier, ...]:
    """The SPEC thresholds with configured rates (``{"gold": Decimal("0.30"), ...}``).

    Raises:
        InvalidTiersError: A level is missing or a rate is not a whole number of basis points.
    """
    tiers: list[Tier] = []
    for tier in SPEC_VIP_TIERS:
        if tier.level.value not in rates:
            raise InvalidTiersError(f"no rakeback rate for {tier.level.value}")
        bps = Decimal(rates[tier.level.value]) * BASIS_POINTS
        if bps != bps.to_integral_value():
            raise InvalidTiersError(f"rate of {tier.level.value} is not whole basis points")
        tiers.append(Tier(tier.level, tier.threshold, int(bps)))
    _check_tiers(tiers)
    return tuple(tiers)


@dataclass(frozen=True, slots=True)
class VipStatus:
    """Where a player stands.

    Attributes:
        level: The level reached.
        rate_bps: Its rakeback rate in basis points.
        rake_paid: The rake that decided it (won).
        next_level: The level above, or ``None`` at the top.
        next_threshold: The rake needed for ``next_level``, or ``None``.
        to_next: Won still to pay to reach it (0 at the top).
    """

    level: VipLevel
    rate_bps: int
    rake_paid: int
    next_level: VipLevel | None
    next_threshold: int | None
    to_next: int


def vip_status(rake_paid: int, tiers: Sequence[Tier] = SPEC_VIP_TIERS) -> VipStatus:
    """The level reached by ``rake_paid`` won of rake, and the distance to the next one."""
    if type(rake_paid) is not int or rake_paid < 0:
        raise RakebackRuleError(f"rake paid must be a non-negative int of won: {rake_paid!r}")
    _check_tiers(tiers)
    reached = 0
    for index, tier in enumerate(tiers):
        if rake_paid >= tier.threshold:
            reached = index
    tier = tiers[reached]
    above = tiers[reached + 1] if reached + 1 < len(tiers) else None
    return VipStatus(
        level=tier.level,
        rate_bps=tier.rate_bps,
        rake_paid=rake_paid,
        next_level=above.level if above else None,
        next_threshold=above.threshold if above else None,
        to_next=above.threshold - rake_paid if above else 0,
    )


def rakeback_amount(rake: int, rate_bps: int) -> int:
    """``rake × rate``, rounded down to the won."""
    if type(rake) is not int or rake < 0:
        raise RakebackRuleError(f"rake must be a non-negative int of won: {rake!r}")
    if type(rate_bps) is not int or not 0 <= rate_bps <= BASIS_POINTS:
        raise RakebackRuleError(f"rate must be 0..10000 basis points: {rate_bps!r}")
    return rake * rate_bps // BASIS_POINTS


def kst_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The instants (UTC) where a KST calendar day starts and ends (end exclusive)."""
    start = datetime.combine(day, time(), KST)
    end = datetime.combine(day + timedelta(days=1), time(), KST)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class KstWeek:
    """A settlement week: Monday 00:00 to the next Monday 00:00 Asia/Seoul.

    Attributes:
        start: The Monday (KST calendar date); the week's key.
        starts_at: Its first instant, in UTC.
        ends_at: The first instant of the next week, in UTC (exclusive).
    """

    start: date
    starts_at: datetime
    ends_at: datetime

    @property
    def end(self) -> date:
        """The Sunday that closes the week."""
        return self.start + timedelta(days=6)

    def contains(self, instant: datetime) -> bool:
        """Whether an aware instant falls in the week."""
        return self.starts_at <= instant < self.ends_at

    def previous(self) -> KstWeek:
        """The week before this one."""
        return week_starting(self.start - timedelta(days=7))


def week_starting(monday: date) -> KstWeek:
    """The week that starts on ``monday``.

    Raises:
        InvalidWeekError: ``monday`` is not a Monday.
    """
    if monday.weekday() != 0:
        raise InvalidWeekError(f"a week starts on a Monday, {monday.isoformat()} is not one")
    starts_at, _ = kst_day_bounds(monday)
    ends_at, _ = kst_day_bounds(monday + timedelta(days=7))
    return KstWeek(monday, starts_at, ends_at)


def kst_week_of(instant: datetime) -> KstWeek:
    """The week an aware instant falls in."""
    if instant.tzinfo is None:
        raise RakebackRuleError("instants must be timezone-aware")
    local = instant.astimezone(KST).date()
    return week_starting(local - timedelta(days=local.weekday()))


def previous_kst_week(instant: datetime) -> KstWeek:
    """The last complete week before ``instant`` (what Monday 04:00 KST settles)."""
    return kst_week_of(instant).previous()


def level_window(week: KstWeek, days: int) -> tuple[datetime, datetime]:
    """The rake window deciding the level for ``week``: the ``days`` KST days ending with it."""
    if type(days) is not int or days < 7:
        raise RakebackRuleError(f"the level window must be at least the week: {days!r}")
    start, _ = kst_day_bounds(week.end - timedelta(days=days - 1))
    return start, week.ends_at
