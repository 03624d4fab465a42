"""The deposit use cases' vocabulary: the gateway's notice, outcomes, errors, dependencies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, StrictInt, StrictStr, field_validator

from holdem.config import AmlSettings, MoneySettings
from holdem.payments.coins import Coin, CoinRegistry
from holdem.ports.payments import ExchangeRates, PaymentGateway, UnitOfWork
from holdem.services import errors
from holdem.services.gateway_callbacks import SignedCallback, verify_callback
from holdem.services.notifications import Notice, Notifier

Clock = Callable[[], datetime]


# --- errors (mapped to HTTP by the webhook function and the API) -------------------------


class DepositOverLimit(errors.InvalidInput):
    """The output is worth more than one ledger movement may carry: it is kept ``over_limit``
    for an operator's review and credits nobody."""

    code = "deposit_over_limit"


class GatewayUnavailableError(errors.Unavailable):
    """The payment gateway could not be reached; try again later."""

    code = "gateway_unavailable"


# --- the notice ---------------------------------------------------------------------------


class DepositNotice(SignedCallback):
    """A gateway IPN about a payment to one of our addresses (NOWPayments' field names).

    ``confirmations`` and ``output_index`` extend NOWPayments' payload (the simulator sends
    them); without ``confirmations`` the payment status decides: ``confirmed``/``finished``
    mean the gateway has seen enough confirmations, anything else none.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    what = "deposit notice"

    payment_id: StrictInt | StrictStr
    payment_status: str = Field(min_length=1, max_length=32)
    pay_address: str = Field(min_length=1, max_length=128)
    pay_currency: str = Field(min_length=1, max_length=16)
    actually_paid: Decimal = Field(gt=0, max_digits=38, decimal_places=18)
    payin_hash: str = Field(min_length=8, max_length=128, pattern=r"^[0-9A-Za-z]+$")
    # Counts are strict, as the ledger's amounts are: `true` is not one confirmation.
    output_index: StrictInt = Field(default=0, ge=0, le=100_000)
    confirmations: StrictInt | None = Field(default=None, ge=0, le=1_000_000)
    updated_at: StrictInt = Field(gt=0, description="milliseconds since the epoch")

    @field_validator("actually_paid", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("amounts must be exact decimals")
        return value

    def stamped_at_ms(self) -> int:
        return self.updated_at

    def confirmations_for(self, coin: Coin) -> int:
        if self.confirmations is not None:
            return self.confirmations
        done = self.payment_status.lower() in {"confirmed", "sending", "finished"}
        return coin.min_confirmations if done else 0


class Outcome(StrEnum):
    CREDITED = "credited"
    PENDING = "pending"
    DUPLICATE = "duplicate"
    UNMATCHED = "unmatched"
    AWAITING_RATE = "awaiting_rate"
    OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class DepositResult:
    outcome: Outcome
    deposit_id: int
    amount_krw: int | None = None
    notices: tuple[Notice, ...] = ()
    """What the player should hear about this delivery (sent after the commit)."""


@dataclass
class DepositDeps:
    """What the deposit use cases need (`uow`: `holdem.ports.payments`)."""

    uow: UnitOfWork
    money: MoneySettings
    coins: CoinRegistry
    rates: ExchangeRates
    notifier: Notifier
    gateway: PaymentGateway | None = None
    clock: Clock = lambda: datetime.now(UTC)
    rate_budget_s: float = 1.0
    aml: AmlSettings = field(default_factory=AmlSettings)


def coin_registry(money: MoneySettings) -> CoinRegistry:
    """The accepted coins of these settings."""
    return CoinRegistry.build(money.coins, money.min_confirmations)


def parse_notice(
    body: bytes, signature: str | None, money: MoneySettings, now: datetime
) -> DepositNotice:
    """Verify and validate a delivery, or raise the webhook error that says why."""
    return verify_callback(body, signature, money, now, DepositNotice)
