# ruff: noqa: N818  (error names follow the domain: RateUnavailable...)
"""A KRW exchange-rate quote and the errors of its sources (pure values).

The rate port is `holdem.ports.payments.ExchangeRates`; its adapter (Upbit and
CoinGecko behind a Redis cache) is `holdem.adapters.rates.RateService`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar


class RateError(Exception):
    code: ClassVar[str] = "rate_error"


class RateUnavailable(RateError):
    """No fresh rate exists right now: deposits wait, withdrawals are refused."""

    code = "rate_unavailable"


@dataclass(frozen=True)
class Quote:
    """1 `coin` = `rate` KRW, as `source` saw it at `observed_at`."""

    coin: str
    rate: Decimal
    source: str
    observed_at: datetime

    def age_s(self, now: datetime) -> float:
        return (now - self.observed_at).total_seconds()
