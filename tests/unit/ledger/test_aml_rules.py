"""The AML rules as pure predicates (holdem.ledger.aml): their doctests are the spec, and the
edges of each band."""

from __future__ import annotations

import doctest
from decimal import Decimal
from typing import get_args

import pytest
from pydantic import ValidationError

from holdem.config import AmlRuleName, AmlSettings
from holdem.ledger import aml
from holdem.ledger.aml import is_large, is_little_play, is_structuring, just_under
from holdem.services import jurisdiction


def test_the_documented_examples_hold():
    assert doctest.testmod(aml).failed == 0
    assert doctest.testmod(jurisdiction).failed == 0


def test_the_structuring_band_is_below_the_threshold_only():
    assert just_under(9_000_000, 10_000_000, band_pct=10)  # its lower edge
    assert not just_under(8_999_999, 10_000_000, band_pct=10)
    assert not just_under(10_000_000, 10_000_000, band_pct=10)  # that one is large instead
    assert is_large(10_000_000, 10_000_000)
    assert not is_large(9_999_999, 10_000_000)
    assert not is_structuring([], 10_000_000, band_pct=10, count=3)


def test_little_play_needs_a_deposit_and_compares_exactly():
    assert not is_little_play(deposits_krw=0, rake_krw=0, rake_pct=Decimal(2))
    assert is_little_play(deposits_krw=3, rake_krw=0, rake_pct=Decimal("0.5"))
    assert not is_little_play(deposits_krw=1_000, rake_krw=5, rake_pct=Decimal("0.5"))


def test_the_holding_rules_are_named_as_the_rules_are():
    assert set(get_args(AmlRuleName)) == {rule.value for rule in aml.AmlRule}
    with pytest.raises(ValidationError):
        AmlSettings(hold_rules=("shared_adress",))
