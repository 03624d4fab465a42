"""AML rules as pure predicates over figures read from the ledger (docs/compliance.md).

Each rule answers one question about one movement of money; `holdem.services.aml` reads the
figures, asks, and files a flag for the operators when the answer is yes.

>>> is_large(10_000_000, 10_000_000)
True
>>> just_under(9_500_000, 10_000_000, band_pct=10), just_under(8_000_000, 10_000_000, band_pct=10)
(True, False)
>>> is_little_play(deposits_krw=1_000_000, rake_krw=19_999, rake_pct=Decimal(2))
True
>>> is_little_play(deposits_krw=1_000_000, rake_krw=20_000, rake_pct=Decimal(2))
False
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum


class AmlRule(StrEnum):
    """The rules, by the name a flag carries (and ``AML__HOLD_RULES`` lists)."""

    LARGE_DEPOSIT = "large_deposit"
    LARGE_WITHDRAWAL = "large_withdrawal"
    STRUCTURING = "structuring"
    LITTLE_PLAY = "little_play"
    SHARED_ADDRESS = "shared_address"
    # The integrity signals over hands and logins (holdem.ledger.integrity, docs/integrity.md).
    SHARED_IDENTITY = "shared_identity"
    CHIP_DUMPING = "chip_dumping"
    SOFT_PLAY = "soft_play"
    BOT_TIMING = "bot_timing"


def is_large(amount_krw: int, threshold_krw: int) -> bool:
    """A single movement of at least the threshold."""
    return amount_krw >= threshold_krw


def just_under(amount_krw: int, threshold_krw: int, *, band_pct: int) -> bool:
    """Below the threshold by at most `band_pct` percent of it (the structuring band)."""
    return threshold_krw * (100 - band_pct) <= amount_krw * 100 and amount_krw < threshold_krw


def is_structuring(
    amounts_krw: Iterable[int], threshold_krw: int, *, band_pct: int, count: int
) -> bool:
    """At least `count` deposits of the window fall just under the threshold.

    >>> is_structuring([9_600_000, 9_900_000, 9_100_000], 10_000_000, band_pct=10, count=3)
    True
    >>> is_structuring([9_600_000, 9_900_000, 50_000], 10_000_000, band_pct=10, count=3)
    False
    """
    under = sum(1 for a in amounts_krw if just_under(a, threshold_krw, band_pct=band_pct))
    return under >= count


def is_little_play(*, deposits_krw: int, rake_krw: int, rake_pct: Decimal) -> bool:
    """Money deposited and taken out again with less than `rake_pct` percent of it paid in
    rake: the tables were barely used (a deposit-and-withdraw layering pattern)."""
    return deposits_krw > 0 and Decimal(rake_krw) * 100 < rake_pct * deposits_krw
