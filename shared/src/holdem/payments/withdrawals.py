"""The withdrawal state machine as a pure table (SPEC §3.2).

::

    pending ──approve / auto_approve──▶ approved ──start_payout──▶ processing ──paid──▶ paid
       │  ▲                               │                          │  │
       │  └────────release──── held ◀─hold┘                          │  └─retry─▶ approved
       ├──hold──▶ held ──reject──▶ rejected (funds returned)         └──fail──▶ failed
       ├──reject──▶ rejected (funds returned)                                   (funds returned)
       └──cancel──▶ cancelled (funds returned; only when the setting allows it)

Ledger effects per target status: `rejected`, `failed` and `cancelled` return the reserved
funds; `paid` completes the withdrawal; the others move no money.

>>> transition(WithdrawalStatus.PENDING, WithdrawalEvent.APPROVE)
<WithdrawalStatus.APPROVED: 'approved'>
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from holdem.payments.errors import IllegalTransition


class WithdrawalStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    APPROVED = "approved"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class WithdrawalEvent(StrEnum):
    AUTO_APPROVE = "auto_approve"
    APPROVE = "approve"
    HOLD = "hold"
    RELEASE = "release"
    REJECT = "reject"
    CANCEL = "cancel"
    START_PAYOUT = "start_payout"
    PAID = "paid"
    RETRY = "retry"
    FAIL = "fail"
    REVIEW = "review"  # the payout's outcome is unknown: an operator checks the gateway


S, E = WithdrawalStatus, WithdrawalEvent

TRANSITIONS: dict[tuple[WithdrawalStatus, WithdrawalEvent], WithdrawalStatus] = {
    (S.PENDING, E.AUTO_APPROVE): S.APPROVED,
    (S.PENDING, E.APPROVE): S.APPROVED,
    (S.PENDING, E.HOLD): S.HELD,
    (S.PENDING, E.REJECT): S.REJECTED,
    (S.PENDING, E.CANCEL): S.CANCELLED,
    (S.HELD, E.APPROVE): S.APPROVED,
    (S.HELD, E.RELEASE): S.PENDING,
    (S.HELD, E.REJECT): S.REJECTED,
    (S.APPROVED, E.HOLD): S.HELD,
    (S.APPROVED, E.REJECT): S.REJECTED,
    (S.APPROVED, E.START_PAYOUT): S.PROCESSING,
    (S.PROCESSING, E.PAID): S.PAID,
    (S.PROCESSING, E.RETRY): S.APPROVED,
    (S.PROCESSING, E.FAIL): S.FAILED,
    (S.PROCESSING, E.REVIEW): S.HELD,
}
"""Every legal step. Anything else raises IllegalTransition."""

TERMINAL = frozenset({S.PAID, S.FAILED, S.REJECTED, S.CANCELLED})
RETURNS_FUNDS = frozenset({S.FAILED, S.REJECTED, S.CANCELLED})
"""Target statuses whose ledger effect is returning the reserved amount to the wallet."""

OPERATOR_EVENTS = frozenset({E.APPROVE, E.HOLD, E.RELEASE, E.REJECT})


def transition(current: WithdrawalStatus, event: WithdrawalEvent) -> WithdrawalStatus:
    """The status after `event`, or IllegalTransition."""
    target = TRANSITIONS.get((current, event))
    if target is None:
        raise IllegalTransition(
            f"a {current.value} withdrawal cannot {event.value}",
            {"status": current.value, "event": event.value},
        )
    return target


def can(current: WithdrawalStatus, event: WithdrawalEvent) -> bool:
    """Whether `event` is legal from `current`."""
    return (current, event) in TRANSITIONS


@dataclass(frozen=True)
class AutoApprovalPolicy:
    """Who may be approved without an operator (SPEC §3.2)."""

    auto_approve_limit_krw: int

    def auto_approves(self, amount_krw: int, due_at: datetime, now: datetime) -> bool:
        """A pending withdrawal whose wait has passed and whose amount is small enough."""
        return due_at <= now and amount_krw <= self.auto_approve_limit_krw


@dataclass(frozen=True)
class RetryPolicy:
    """Payout retries: exponential backoff, then a final failure returns the funds."""

    max_attempts: int = 5
    base_delay_s: int = 60
    max_delay_s: int = 3600

    def delay_s(self, attempt: int) -> int:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1)."""
        return int(min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempt - 1)))

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
