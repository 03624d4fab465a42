"""Scheduling and paying out: auto-approval, the processing lease, and each payout made
through the gateway exactly once (the package docstring says how)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from holdem.payments.gateway import GatewayError, GatewayRejected, PayoutInfo, PayoutState
from holdem.payments.withdrawals import AutoApprovalPolicy, WithdrawalEvent, WithdrawalStatus
from holdem.ports.payments import PaymentGateway, PaymentsUnitOfWork, WithdrawalRow
from holdem.services import errors
from holdem.services.notifications import Notice, NoticeKind
from holdem.services.withdrawals.model import (
    PENDING_POLL,
    PROCESSING_LEASE,
    WithdrawalDeps,
    WithdrawalView,
    step,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleReport:
    auto_approved: list[int]
    enqueued: list[int]


async def schedule_payouts(deps: WithdrawalDeps, limit: int = 100) -> ScheduleReport:
    """Approve due small withdrawals, then lease due approved ones and enqueue them."""
    now = deps.clock()
    policy = AutoApprovalPolicy(deps.money.auto_approve_limit_krw)
    notices: list[Notice] = []
    async with deps.uow() as uow:
        due = await uow.withdrawals.lock_due_pending(now, deps.money.auto_approve_limit_krw, limit)
        approved: list[int] = []
        for row in due:
            assert policy.auto_approves(row.amount_krw, row.due_at, now)
            await step(uow, row, WithdrawalEvent.AUTO_APPROVE, now)
            approved.append(row.id)
            notices.append(
                Notice(
                    row.user_id, NoticeKind.WITHDRAWAL_APPROVED, WithdrawalView.of(row).to_json()
                )
            )
    async with deps.uow() as uow:
        ready = await uow.withdrawals.lock_due_payouts(now, limit)
        enqueued: list[int] = []
        for row in ready:
            if row.status == WithdrawalStatus.APPROVED.value:
                await step(uow, row, WithdrawalEvent.START_PAYOUT, now)
            row.due_at = now + PROCESSING_LEASE  # re-enqueued if no worker finishes it
            enqueued.append(row.id)
    if enqueued and deps.enqueue is not None:
        await deps.enqueue(enqueued)
    await deps.notifier.notify_all(notices)
    return ScheduleReport(approved, enqueued)


# --- paying out ---------------------------------------------------------------------------


class PayoutOutcome(StrEnum):
    PAID = "paid"
    WAITING = "waiting"  # the gateway accepted it; not on chain yet
    RETRY = "retry"  # failed for now; back to approved with a backoff
    FAILED = "failed"  # gave up: funds returned, flagged
    HELD = "held"  # gave up not knowing whether a payout went out: an operator decides
    SKIPPED = "skipped"  # not processing (a duplicate message, or already finished)


def payout_key(withdrawal_id: int, attempt: int) -> str:
    """The gateway idempotency key of one payout attempt."""
    return f"withdrawal-{withdrawal_id}-{attempt}"


async def pay_out(deps: WithdrawalDeps, withdrawal_id: int) -> PayoutOutcome:
    """Pay one leased withdrawal through the gateway, exactly once (module docstring)."""
    if deps.gateway is None:
        raise errors.ServiceError("no payment gateway is configured")
    async with deps.uow() as uow:
        row = await uow.withdrawals.lock(withdrawal_id, skip_locked=True)
        if row is None or row.status != WithdrawalStatus.PROCESSING.value:
            return PayoutOutcome.SKIPPED  # another worker holds it, or it is not ours to pay
        outcome = await _attempt(deps, uow, row)
        notices = finished_notices(row, outcome)
    await deps.notifier.notify_all(notices)
    return outcome


def finished_notices(row: WithdrawalRow, outcome: PayoutOutcome) -> list[Notice]:
    """The player hears when a payout is paid or finally failed (funds returned)."""
    kinds = {PayoutOutcome.PAID: NoticeKind.WITHDRAWAL_PAID}
    kinds[PayoutOutcome.FAILED] = NoticeKind.WITHDRAWAL_FAILED
    if outcome not in kinds:
        return []
    return [Notice(row.user_id, kinds[outcome], WithdrawalView.of(row).to_json())]


async def _attempt(
    deps: WithdrawalDeps, uow: PaymentsUnitOfWork, row: WithdrawalRow
) -> PayoutOutcome:
    assert deps.gateway is not None
    coin = deps.coins.get(row.coin)
    key = payout_key(row.id, row.attempts)
    info: PayoutInfo | None
    try:
        info = await _earlier_payout(deps.gateway, row)
        if info is None:
            info = await deps.gateway.find_payout(key)
        if info is None:
            assert row.crypto_amount is not None
            # numeric(38, 18) comes back with 18 places; the gateway gets the coin's precision.
            amount = row.crypto_amount.quantize(Decimal(1).scaleb(-coin.decimals))
            info = await deps.gateway.create_payout(coin, row.address, amount, key)
    except GatewayRejected as exc:
        log.warning("payout %s refused by the gateway: %s", key, exc)
        return await _failed_attempt(deps, uow, row, f"gateway refused: {exc.message}", final=True)
    except GatewayError as exc:
        log.warning("payout %s: gateway unavailable: %s", key, exc)
        return await _failed_attempt(
            deps, uow, row, f"gateway unavailable: {exc.message}", outcome_known=False
        )
    return await apply_payout(deps, uow, row, info)


async def _earlier_payout(gateway: PaymentGateway, row: WithdrawalRow) -> PayoutInfo | None:
    """A payout of an earlier attempt that the gateway sent or is still sending.

    An attempt counted as failed because the gateway did not answer (a lost answer to the
    payout request) may still have paid: that payout is the withdrawal's, and no new one
    is made while it is sent or under way.
    """
    for attempt in range(row.attempts):
        found = await gateway.find_payout(payout_key(row.id, attempt))
        if found is not None and found.state in (PayoutState.SENT, PayoutState.PENDING):
            return found
    return None


async def apply_payout(
    deps: WithdrawalDeps, uow: PaymentsUnitOfWork, row: WithdrawalRow, info: PayoutInfo
) -> PayoutOutcome:
    """What the gateway says of the current attempt's payout (a lookup or its callback)."""
    now = deps.clock()
    row.payout_id = info.payout_id
    if info.state is PayoutState.SENT:
        row.tx_hash = info.tx_hash
        await step(uow, row, WithdrawalEvent.PAID, now)
        return PayoutOutcome.PAID
    if info.state is PayoutState.REJECTED:
        reason = "the gateway rejected the payout"
        return await _failed_attempt(deps, uow, row, reason, final=True)
    if info.state is PayoutState.FAILED:
        return await _failed_attempt(deps, uow, row, "the gateway reported the payout failed")
    row.due_at = now + PENDING_POLL
    row.updated_at = now
    return PayoutOutcome.WAITING


async def _failed_attempt(
    deps: WithdrawalDeps,
    uow: PaymentsUnitOfWork,
    row: WithdrawalRow,
    reason: str,
    *,
    final: bool = False,
    outcome_known: bool = True,
) -> PayoutOutcome:
    """Count a failed attempt: retry with backoff, or give up.

    Giving up after a known failure returns the funds (``failed``). Giving up after an
    attempt whose outcome is unknown (the gateway unreachable, so neither this attempt's
    payout nor the earlier ones could be looked up) holds the withdrawal for an operator.
    """
    now = deps.clock()
    row.attempts += 1
    row.payout_id = None
    if not outcome_known and deps.retry.gives_up(row.attempts):
        log.error(
            "withdrawal %s held after %s attempts: payout outcome unknown (%s); "
            "check the gateway, then approve or reject it",
            row.id,
            row.attempts,
            reason,
        )
        await step(uow, row, WithdrawalEvent.REVIEW, now, reason=f"held: {reason}")
        row.due_at = now  # once approved, paid at the scheduler's next run
        return PayoutOutcome.HELD
    if final or deps.retry.gives_up(row.attempts):
        await step(uow, row, WithdrawalEvent.FAIL, now, reason=reason)
        return PayoutOutcome.FAILED
    await step(uow, row, WithdrawalEvent.RETRY, now, reason=reason)
    row.due_at = now + timedelta(seconds=deps.retry.delay_s(row.attempts))
    return PayoutOutcome.RETRY
