"""Amount rules: KRW is integer won, crypto is `Decimal`; floats and bools are refused."""

from __future__ import annotations

import re
from decimal import Decimal

MAX_WON = 10**15
"""Largest amount one movement may carry (₩1,000 trillion): far above any real one."""

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.\-]{0,159}")


class LedgerRuleError(ValueError):
    """A value breaks a money rule (a negative amount, a float, unbalanced legs …)."""


def require_won(amount: object) -> int:
    """An integer number of won within ±`MAX_WON` (bools and floats are refused)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise LedgerRuleError(f"amounts are integer won, got {type(amount).__name__}")
    if abs(amount) > MAX_WON:
        raise LedgerRuleError(f"amount {amount} is beyond ±{MAX_WON}")
    return amount


def require_positive(amount: object) -> int:
    """A positive integer number of won."""
    value = require_won(amount)
    if value <= 0:
        raise LedgerRuleError(f"amount must be positive, got {value}")
    return value


def require_crypto(amount: object) -> Decimal:
    """A finite, positive `Decimal` crypto amount."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise LedgerRuleError("crypto amounts are positive, finite Decimals")
    return amount


def require_key(key: object) -> str:
    """An idempotency key: 1–160 characters of letters, digits and ``: _ . -``."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise LedgerRuleError(
            "idempotency keys are 1-160 characters of letters, digits and ': _ . -'"
        )
    return key
