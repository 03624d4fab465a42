"""The player-protection rules (holdem.ledger.protection), and the legs of locked funds."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta

import pytest

from holdem.ledger import protection, transactions
from holdem.ledger.amounts import LedgerRuleError
from holdem.ledger.protection import (
    FOREVER,
    PendingChange,
    ProtectionRuleError,
    exclusion_end,
    extend_exclusion,
    loss_room,
    request_limits,
    settle_pending,
)

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def test_the_documented_examples_hold():
    assert doctest.testmod(protection).failed == 0
    assert doctest.testmod(transactions).failed == 0


def test_setting_or_lowering_applies_at_once_and_cancels_a_pending_raise():
    limits, pending = request_limits({}, {}, {"loss_day": 10_000}, NOW, DAY)
    assert limits["loss_day"] == 10_000
    limits, pending = request_limits(limits, pending, {"loss_day": 30_000}, NOW, DAY)
    assert (limits["loss_day"], pending["loss_day"]) == (10_000, PendingChange(30_000, NOW + DAY))
    limits, pending = request_limits(limits, pending, {"loss_day": 5_000}, NOW, DAY)
    assert (limits["loss_day"], pending) == (5_000, {})


def test_a_raise_or_a_removal_waits_for_the_whole_cooling_period():
    limits, _ = request_limits({}, {}, {"deposit_week": 100_000}, NOW, DAY)
    limits, pending = request_limits(limits, {}, {"deposit_week": None}, NOW, DAY)
    assert (
        settle_pending(limits, pending, NOW + DAY - timedelta(seconds=1))[0]["deposit_week"]
        == 100_000
    )
    assert settle_pending(limits, pending, NOW + DAY) == (
        {**limits, "deposit_week": None},
        {},
    )


def test_asking_again_for_the_same_raise_does_not_restart_the_cooling_period():
    limits, pending = request_limits({"loss_month": 1_000}, {}, {"loss_month": 2_000}, NOW, DAY)
    _, again = request_limits(limits, pending, {"loss_month": 2_000}, NOW + DAY / 2, DAY)
    assert again["loss_month"].effective_at == NOW + DAY
    _, other = request_limits(limits, pending, {"loss_month": 3_000}, NOW + DAY / 2, DAY)
    assert other["loss_month"].effective_at == NOW + DAY * 1.5


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "100"])
def test_a_limit_is_a_positive_integer_or_none(value):
    with pytest.raises(ProtectionRuleError):
        request_limits({}, {}, {"deposit_day": value}, NOW, DAY)
    with pytest.raises(ProtectionRuleError):
        request_limits({}, {}, {"bet_day": 1}, NOW, DAY)


def test_the_loss_room_counts_every_chip_at_the_tables_as_at_risk():
    limits = {"loss_day": 50_000, "loss_week": 80_000}
    assert loss_room(limits, {"day": 0, "week": -60_000}, at_tables=0) == 20_000
    assert loss_room(limits, {"day": 10_000, "week": 5_000}, at_tables=30_000) == 20_000
    assert loss_room(limits, {"day": -70_000, "week": -70_000}, at_tables=0) == 0
    assert loss_room({}, {"day": -70_000}, at_tables=0) is None


def test_an_exclusion_is_lengthened_never_shortened():
    _, until = exclusion_end("7d", NOW)
    assert until == NOW + timedelta(days=7)
    assert exclusion_end("permanent", NOW)[1] == FOREVER
    extend_exclusion(until, NOW, until + DAY)
    with pytest.raises(ProtectionRuleError):
        extend_exclusion(until, NOW, until - DAY)
    with pytest.raises(ProtectionRuleError):
        extend_exclusion(None, NOW, NOW - DAY)
    extend_exclusion(until, until + DAY, until + DAY * 2)  # an ended one starts anew
    with pytest.raises(ProtectionRuleError):
        exclusion_end("2w", NOW)


def test_locked_legs_balance_and_the_locked_part_fits_the_amount():
    legs = transactions.reserve_legs(7, 50_000, from_locked=20_000)
    assert [(leg.key, leg.amount) for leg in legs] == [
        ("locked:7", -20_000),
        ("wallet:7", -30_000),
        ("pending_withdrawal:7", 50_000),
    ]
    back = transactions.return_legs(7, 50_000, to_locked=20_000)
    assert sum(leg.amount for leg in back) == 0
    assert [(leg.key, leg.amount) for leg in transactions.deposit_legs(7, 500, "BTC", 500)] == [
        ("gateway_clearing:BTC", -500),
        ("locked:7", 500),
    ]
    with pytest.raises(LedgerRuleError):
        transactions.deposit_legs(7, 500, "BTC", locked=501)
