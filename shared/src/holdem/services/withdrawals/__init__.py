"""Crypto withdrawals: request, operator decisions, scheduling and payout (SPEC §3.2).

The life of a withdrawal (`holdem.payments.withdrawals` has the table of steps):

1. `request_withdrawal` — minimum amount, the address checked for the coin's chain and
   network, a fresh rate (else refused), the quote (KRW → coin, rounded down) and the amount
   reserved at once (wallet → pending) through the ledger. Idempotent per user and
   ``Idempotency-Key``: the same key and body return the same withdrawal. In the same
   transaction: the KYC gate (`holdem.services.kyc.needs_verification`: past the
   cumulative threshold an unverified player's withdrawal stays pending with
   ``kyc_required`` until verified) and the AML rules (`holdem.services.aml`: an open flag
   of a holding rule holds it for an operator).
2. It waits ``MONEY__WITHDRAWAL_DELAY_S`` (24 h). `schedule_payouts` (the scheduler Lambda)
   approves due ones up to ``MONEY__AUTO_APPROVE_LIMIT_KRW`` automatically; larger ones
   wait for an operator (`decide`: approve / hold / release / reject). Rejecting or
   cancelling returns the funds.
3. `schedule_payouts` moves due approved withdrawals to ``processing`` under a lease and
   enqueues them; `pay_out` (the payout worker) pays each through the gateway with the
   key ``withdrawal-{id}-{attempt}``, after looking that key and the earlier attempts' keys
   up at the gateway — so neither a crash between the gateway call and our commit nor a
   lost answer to a payout request ever pays twice. A payout that fails
   is retried with exponential backoff; the last failure returns the funds and flags the
   withdrawal (``failed`` with a reason). When the last attempt ends with the gateway
   unreachable, nobody knows whether an attempt paid: the withdrawal is ``held`` with its
   funds still reserved, for an operator who checks the gateway and approves it (the next
   payout looks every earlier attempt up first, so a paid one completes it) or rejects it
   (funds returned). Refunding blindly there could pay the player twice.

Rows are locked (``FOR UPDATE``, ``SKIP LOCKED`` for the batch pickers), and every ledger
call carries an idempotency key, so duplicate deliveries and parallel workers are harmless.
The coin amount is fixed by the quote at request time.
"""

from holdem.services.errors import CoinNotAccepted
from holdem.services.ledger_errors import IdempotencyKeyReused, WithdrawalNotFound
from holdem.services.withdrawals.callbacks import (
    PayoutNotice,
    PayoutNoticeResult,
    record_payout_notice,
)
from holdem.services.withdrawals.model import (
    AML_HOLD_REASON,
    PENDING_POLL,
    PROCESSING_LEASE,
    AmountBelowMinimum,
    CancelNotAllowed,
    Clock,
    Enqueue,
    InsufficientFunds,
    KycRequired,
    PayoutNotFound,
    RateUnavailableError,
    TransitionNotAllowed,
    WithdrawalAddressInvalid,
    WithdrawalDeps,
    WithdrawalView,
)
from holdem.services.withdrawals.payout import (
    PayoutOutcome,
    ScheduleReport,
    pay_out,
    payout_key,
    schedule_payouts,
)
from holdem.services.withdrawals.request import request_withdrawal
from holdem.services.withdrawals.review import (
    OperatorAction,
    cancel,
    decide,
    get_withdrawal,
    list_withdrawals,
)

__all__ = [
    "AML_HOLD_REASON",
    "PENDING_POLL",
    "PROCESSING_LEASE",
    "AmountBelowMinimum",
    "CancelNotAllowed",
    "Clock",
    "CoinNotAccepted",
    "Enqueue",
    "IdempotencyKeyReused",
    "InsufficientFunds",
    "KycRequired",
    "OperatorAction",
    "PayoutNotFound",
    "PayoutNotice",
    "PayoutNoticeResult",
    "PayoutOutcome",
    "RateUnavailableError",
    "ScheduleReport",
    "TransitionNotAllowed",
    "WithdrawalAddressInvalid",
    "WithdrawalDeps",
    "WithdrawalNotFound",
    "WithdrawalView",
    "cancel",
    "decide",
    "get_withdrawal",
    "list_withdrawals",
    "pay_out",
    "payout_key",
    "record_payout_notice",
    "request_withdrawal",
    "schedule_payouts",
]
