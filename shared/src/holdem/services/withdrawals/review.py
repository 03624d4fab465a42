"""Operators' decisions on withdrawals, a player's cancellation, and what both read."""

from __future__ import annotations

from enum import StrEnum

from holdem.payments.withdrawals import WithdrawalEvent
from holdem.services.admin import record_action
from holdem.services.ledger_errors import WithdrawalNotFound
from holdem.services.notifications import Notice, NoticeKind
from holdem.services.withdrawals.model import (
    NOTICE_FOR,
    CancelNotAllowed,
    KycRequired,
    WithdrawalDeps,
    WithdrawalView,
    locked,
    step,
)


class OperatorAction(StrEnum):
    APPROVE = "approve"
    HOLD = "hold"
    RELEASE = "release"
    REJECT = "reject"


async def decide(
    deps: WithdrawalDeps,
    withdrawal_id: int,
    operator_id: int,
    action: OperatorAction,
    reason: str | None = None,
) -> WithdrawalView:
    """An operator approves, holds, releases or rejects (funds returned) a withdrawal.

    The decision is written to the operators' audit log in the same transaction.
    """
    now = deps.clock()
    async with deps.uow() as uow:
        row = await locked(uow.withdrawals, withdrawal_id)
        if action is OperatorAction.APPROVE and row.kyc_hold:
            raise KycRequired(
                "this withdrawal waits for the player's verified KYC",
                {"withdrawal_id": row.id},
            )
        before = row.status
        target = await step(uow, row, WithdrawalEvent(action.value), now, reason=reason)
        row.decided_by = operator_id
        row.decided_at = now
        await record_action(
            uow,
            operator_id,
            f"withdrawal_{action.value}",
            target_user_id=row.user_id,
            details={
                "withdrawal_id": row.id,
                "from": before,
                "to": target.value,
                "amount_krw": row.amount_krw,
                "reason": reason,
            },
        )
        view = WithdrawalView.of(row)
    if target in NOTICE_FOR:
        await deps.notifier.notify(Notice(row.user_id, NOTICE_FOR[target], view.to_json()))
    return view


async def cancel(deps: WithdrawalDeps, user_id: int, withdrawal_id: int) -> WithdrawalView:
    """The player takes a pending withdrawal back — only where the setting allows it."""
    if not deps.money.allow_withdrawal_cancel:
        raise CancelNotAllowed("withdrawals cannot be cancelled in this card room")
    now = deps.clock()
    async with deps.uow() as uow:
        row = await locked(uow.withdrawals, withdrawal_id)
        if row.user_id != user_id:
            raise WithdrawalNotFound("no such withdrawal", {"withdrawal_id": withdrawal_id})
        await step(uow, row, WithdrawalEvent.CANCEL, now)
        view = WithdrawalView.of(row)
    await deps.notifier.notify(Notice(user_id, NoticeKind.WITHDRAWAL_CANCELLED, view.to_json()))
    return view


async def get_withdrawal(deps: WithdrawalDeps, withdrawal_id: int) -> WithdrawalView:
    """One withdrawal.

    Raises:
        WithdrawalNotFound: there is no such withdrawal.
    """
    async with deps.uow() as uow:
        row = await uow.withdrawals.get(withdrawal_id)
        if row is None:
            raise WithdrawalNotFound("no such withdrawal", {"withdrawal_id": withdrawal_id})
        return WithdrawalView.of(row)


async def list_withdrawals(
    deps: WithdrawalDeps,
    *,
    user_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[WithdrawalView]:
    """Withdrawals newest first, by user and/or status (cursor: the last id seen)."""
    async with deps.uow() as uow:
        rows = await uow.withdrawals.listing(user_id, status, limit, before_id)
        return [WithdrawalView.of(r) for r in rows]
