"""VIP levels, rakeback rounding and the KST week (SPEC §4.2)."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.config import MoneySettings
from holdem.ledger import rakeback
from holdem.ledger.rakeback import (
    KST,
    SPEC_VIP_TIERS,
    InvalidTiersError,
    InvalidWeekError,
    RakebackRuleError,
    VipLevel,
    kst_day_bounds,
    kst_week_of,
    level_window,
    previous_kst_week,
    rakeback_amount,
    tiers_from_rates,
    vip_status,
    week_starting,
)


def test_doctests_pass():
    assert doctest.testmod(rakeback).failed == 0


@pytest.mark.parametrize(
    ("rake_paid", "level", "rate_bps"),
    [
        (0, VipLevel.BRONZE, 2000),
        (99_999, VipLevel.BRONZE, 2000),
        (100_000, VipLevel.SILVER, 2500),
        (499_999, VipLevel.SILVER, 2500),
        (500_000, VipLevel.GOLD, 3000),
        (1_999_999, VipLevel.GOLD, 3000),
        (2_000_000, VipLevel.PLATINUM, 3500),
        (4_999_999, VipLevel.PLATINUM, 3500),
        (5_000_000, VipLevel.DIAMOND, 4000),
        (10**12, VipLevel.DIAMOND, 4000),
    ],
)
def test_vip_level_boundaries_follow_spec_4_2(rake_paid, level, rate_bps):
    status = vip_status(rake_paid)
    assert (status.level, status.rate_bps) == (level, rate_bps)


def test_vip_status_names_the_next_threshold_and_the_distance_to_it():
    status = vip_status(420_000)
    assert (status.next_level, status.next_threshold, status.to_next) == (
        VipLevel.GOLD,
        500_000,
        80_000,
    )
    top = vip_status(6_000_000)
    assert (top.next_level, top.next_threshold, top.to_next) == (None, None, 0)


@pytest.mark.parametrize("bad", [-1, 1.5, "100"])
def test_rake_paid_must_be_non_negative_whole_won(bad):
    with pytest.raises(RakebackRuleError):
        vip_status(bad)


def test_rakeback_is_rounded_down_to_the_won():
    assert rakeback_amount(9, 2500) == 2
    assert rakeback_amount(0, 4000) == 0
    assert rakeback_amount(1_000_003, 3500) == 350_001


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**13), st.sampled_from([t.rate_bps for t in SPEC_VIP_TIERS]))
def test_rakeback_never_exceeds_the_exact_share_by_a_won(rake, rate_bps):
    amount = rakeback_amount(rake, rate_bps)
    exact = Decimal(rake) * rate_bps / 10_000
    assert amount <= exact < amount + 1


def test_configured_rates_become_basis_points_and_bad_ones_are_refused():
    assert tiers_from_rates(MoneySettings().rakeback_rates) == SPEC_VIP_TIERS
    with pytest.raises(InvalidTiersError):
        tiers_from_rates({"bronze": Decimal("0.2")})
    rates = dict(MoneySettings().rakeback_rates, gold=Decimal("0.30005"))
    with pytest.raises(InvalidTiersError):
        tiers_from_rates(rates)


def test_sunday_23_59_59_kst_and_monday_00_00_kst_fall_in_different_weeks():
    sunday_late = datetime(2026, 11, 22, 23, 59, 59, tzinfo=KST)
    monday = datetime(2026, 11, 23, 0, 0, 0, tzinfo=KST)
    assert kst_week_of(sunday_late).start == date(2026, 11, 16)
    assert kst_week_of(monday).start == date(2026, 11, 23)
    week = kst_week_of(sunday_late)
    assert week.contains(sunday_late)
    assert not week.contains(monday)
    assert week.ends_at == monday.astimezone(UTC)
    assert week.end == date(2026, 11, 22)


def test_the_week_is_kst_not_utc():
    # Monday 01:00 KST is still Sunday in UTC: it belongs to the new KST week.
    instant = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert kst_week_of(instant).start == date(2026, 11, 23)


def test_the_monday_0400_kst_run_settles_the_week_that_just_ended():
    run = datetime(2026, 11, 23, 4, 0, tzinfo=KST)
    assert previous_kst_week(run).start == date(2026, 11, 16)


def test_a_week_must_start_on_monday():
    with pytest.raises(InvalidWeekError):
        week_starting(date(2026, 11, 17))


def test_kst_day_is_utc_15_00_to_15_00():
    start, end = kst_day_bounds(date(2026, 11, 23))
    assert start == datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


def test_level_window_is_the_trailing_days_ending_with_the_week():
    week = week_starting(date(2026, 11, 16))
    start, end = level_window(week, 30)
    assert end == week.ends_at
    assert end - start == timedelta(days=30)
    with pytest.raises(RakebackRuleError):
        level_window(week, 3)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_every_instant_falls_in_exactly_one_week_starting_on_a_monday(naive):
    instant = naive.replace(tzinfo=UTC)
    week = kst_week_of(instant)
    assert week.start.weekday() == 0
    assert week.contains(instant)
    assert not week.previous().contains(instant)
    assert week.ends_at - week.starts_at == timedelta(days=7)
