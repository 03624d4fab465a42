"""The withdrawal use cases' vocabulary: errors, dependencies, what a withdrawal shows, and
its legal steps with their ledger effects (`step`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from holdem.config import AmlSettings, MoneySettings
from holdem.payments.coins import KNOWN_COINS, CoinRegistry
from holdem.payments.errors import IllegalTransition
from holdem.payments.withdrawals import (
    RETURNS_FUNDS,
    RetryPolicy,
    WithdrawalEvent,
    WithdrawalStatus,
    transition,
)
from holdem.ports.payments import (
    ExchangeRates,
    PaymentGateway,
    PaymentsUnitOfWork,
    UnitOfWork,
    WithdrawalRepository,
    WithdrawalRow,
)
from holdem.services import errors, ledger, ledger_errors
from holdem.services.ledger_errors import WithdrawalNotFound
from holdem.services.notifications import NoticeKind, Notifier

Clock = Callable[[], datetime]
Enqueue = Callable[[list[int]], Awaitable[None]]
PROCESSING_LEASE = timedelta(minutes=15)
"""How long a picked withdrawal belongs to its payout message before it is re-enqueued."""
PENDING_POLL = timedelta(minutes=2)
"""When the gateway accepted a payout but has not sent it yet, look again after this."""
AML_HOLD_REASON = "held for review"
"""The reason a withdrawal held by an AML flag shows (the rule is for operators only)."""


# --- errors -------------------------------------------------------------------------------


class AmountBelowMinimum(errors.InvalidInput):
    code = "amount_below_minimum"


class WithdrawalAddressInvalid(errors.InvalidInput):
    code = "invalid_address"


class KycRequired(errors.Conflict):
    """The withdrawal waits for the player's verified KYC: it cannot be approved yet."""

    code = "kyc_required"


class CancelNotAllowed(errors.Forbidden):
    code = "withdrawal_cancel_disabled"


class InsufficientFunds(ledger_errors.InsufficientFunds):
    """The wallet does not cover the withdrawal (nothing was reserved)."""


class RateUnavailableError(errors.Conflict):
    """No fresh exchange rate: the withdrawal is refused rather than priced on an old one."""

    code = "rate_unavailable"


class TransitionNotAllowed(errors.Conflict):
    code = "illegal_withdrawal_transition"


class PayoutNotFound(errors.NotFound):
    """A payout callback names a payout we never made."""

    code = "payout_not_found"


# --- dependencies and views ---------------------------------------------------------------


@dataclass
class WithdrawalDeps:
    """What the withdrawal use cases need (`uow`: `holdem.ports.payments`)."""

    uow: UnitOfWork
    money: MoneySettings
    coins: CoinRegistry
    rates: ExchangeRates | None
    notifier: Notifier
    gateway: PaymentGateway | None = None
    enqueue: Enqueue | None = None
    clock: Clock = field(default=lambda: datetime.now(UTC))
    aml: AmlSettings = field(default_factory=AmlSettings)

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.money.payout_max_attempts, self.money.payout_retry_base_s)


@dataclass(frozen=True)
class WithdrawalView:
    """What a player or an operator sees of a withdrawal."""

    id: int
    user_id: int
    status: str
    amount_krw: int
    coin: str
    address: str
    crypto_amount: Decimal | None
    rate_krw: Decimal | None
    due_at: datetime
    created_at: datetime
    tx_hash: str | None
    attempts: int
    failure_reason: str | None
    kyc_required: bool = False
    """It waits for the player's verified KYC (``MONEY__KYC_REQUIRED_ABOVE_KRW``)."""

    @classmethod
    def of(cls, row: WithdrawalRow) -> WithdrawalView:
        places = Decimal(1).scaleb(-KNOWN_COINS[row.coin].decimals)
        crypto = None if row.crypto_amount is None else row.crypto_amount.quantize(places)
        return cls(
            row.id,
            row.user_id,
            row.status,
            row.amount_krw,
            row.coin,
            row.address,
            crypto,
            row.rate_krw,
            row.due_at,
            row.created_at,
            row.tx_hash,
            row.attempts,
            row.failure_reason,
            row.kyc_hold,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "withdrawal_id": self.id,
            "status": self.status,
            "amount_krw": self.amount_krw,
            "coin": self.coin,
            "address": self.address,
            "crypto_amount": None if self.crypto_amount is None else str(self.crypto_amount),
            "rate_krw": None if self.rate_krw is None else str(self.rate_krw),
            "due_at": self.due_at.isoformat(),
            "tx_hash": self.tx_hash,
            "kyc_required": self.kyc_required,
        }


# --- steps -------------------------------------------------------------------------------

NOTICE_FOR = {
    WithdrawalStatus.APPROVED: NoticeKind.WITHDRAWAL_APPROVED,
    WithdrawalStatus.HELD: NoticeKind.WITHDRAWAL_HELD,
    WithdrawalStatus.REJECTED: NoticeKind.WITHDRAWAL_REJECTED,
    WithdrawalStatus.CANCELLED: NoticeKind.WITHDRAWAL_CANCELLED,
    WithdrawalStatus.PAID: NoticeKind.WITHDRAWAL_PAID,
    WithdrawalStatus.FAILED: NoticeKind.WITHDRAWAL_FAILED,
}
"""What the player hears when a withdrawal reaches each of these statuses."""


async def step(
    uow: PaymentsUnitOfWork,
    row: WithdrawalRow,
    event: WithdrawalEvent,
    now: datetime,
    *,
    reason: str | None = None,
) -> WithdrawalStatus:
    """Apply one legal step to a locked row, with its ledger effect."""
    try:
        target = transition(WithdrawalStatus(row.status), event)
    except IllegalTransition as exc:
        raise TransitionNotAllowed(exc.message, {**exc.details, "withdrawal_id": row.id}) from exc
    if target in RETURNS_FUNDS:
        await ledger.return_withdrawal(
            uow,
            key=f"withdrawal:{row.id}:return",
            reserve_transaction_id=await _reservation_id(uow.withdrawals, row.id),
            reason=reason or target.value,
        )
    elif target is WithdrawalStatus.PAID:
        assert row.crypto_amount is not None
        assert row.rate_krw is not None
        await ledger.complete_withdrawal(
            uow,
            key=f"withdrawal:{row.id}:complete",
            reserve_transaction_id=await _reservation_id(uow.withdrawals, row.id),
            crypto_amount=row.crypto_amount,
            rate_krw=row.rate_krw,
            tx_hash=row.tx_hash or f"gateway:{row.payout_id}",
        )
    row.status = target.value
    row.updated_at = now
    if reason is not None:
        row.failure_reason = reason[:255]
    return target


def reserve_key(withdrawal_id: int) -> str:
    """The ledger idempotency key of the withdrawal's reservation (wallet → pending)."""
    return f"withdrawal:{withdrawal_id}:reserve"


async def _reservation_id(withdrawals: WithdrawalRepository, withdrawal_id: int) -> int:
    """The ledger transaction that reserved this withdrawal's funds."""
    found = await withdrawals.reserve_transaction_id(reserve_key(withdrawal_id))
    if found is None:
        raise WithdrawalNotFound("the withdrawal has no reserved funds", {"id": withdrawal_id})
    return found


async def locked(withdrawals: WithdrawalRepository, withdrawal_id: int) -> WithdrawalRow:
    """The withdrawal, locked.

    Raises:
        WithdrawalNotFound: there is no such withdrawal.
    """
    row = await withdrawals.lock(withdrawal_id)
    if row is None:
        raise WithdrawalNotFound("no such withdrawal", {"withdrawal_id": withdrawal_id})
    return row
