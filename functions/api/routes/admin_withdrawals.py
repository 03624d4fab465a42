"""Operator decisions on withdrawals and the review lists of deposits (unmatched, over the
limit)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.deps import ContainerDep, OperatorDep
from functions.api.routes.wallet_payments import (
    CryptoAmountOut,
    WithdrawalDetailOut,
)
from functions.api.schemas import Strict, errors
from holdem.bounds import MAX_BIGINT
from holdem.services import deposits, withdrawals
from holdem.services.withdrawals import OperatorAction

router = APIRouter(
    prefix="/api/v1/admin", tags=["admin"], responses=errors(401, 403, 404, 409, 422, 429)
)
WithdrawalId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]


class DecisionIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class RejectIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=255)]


class UnmatchedDepositOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # built from the Deposit rows

    id: int
    coin: str
    tx_hash: str
    output_index: int
    address: str
    crypto_amount: CryptoAmountOut
    confirmations: int
    created_at: datetime


class OverLimitDepositOut(UnmatchedDepositOut):
    user_id: int | None
    rate_krw: Decimal | None = Field(description="The rate at which it was refused, KRW per coin")
    updated_at: datetime


async def _decide(
    container: ContainerDep,
    claims: OperatorDep,
    withdrawal_id: int,
    action: OperatorAction,
    reason: str | None,
) -> WithdrawalDetailOut:
    view = await withdrawals.decide(
        container.withdrawals(), withdrawal_id, claims.user_id, action, reason
    )
    return WithdrawalDetailOut.of(view)


@router.post("/withdrawals/{withdrawal_id}/approve")
async def approve(
    withdrawal_id: WithdrawalId, claims: OperatorDep, container: ContainerDep
) -> WithdrawalDetailOut:
    """Approve a withdrawal (it is paid once its 24-hour wait is over)."""
    return await _decide(container, claims, withdrawal_id, OperatorAction.APPROVE, None)


@router.post("/withdrawals/{withdrawal_id}/hold")
async def hold(
    withdrawal_id: WithdrawalId,
    claims: OperatorDep,
    container: ContainerDep,
    body: DecisionIn | None = None,
) -> WithdrawalDetailOut:
    """Hold a withdrawal for review (nothing is paid while held)."""
    reason = body.reason if body else None
    return await _decide(container, claims, withdrawal_id, OperatorAction.HOLD, reason)


@router.post("/withdrawals/{withdrawal_id}/release")
async def release(
    withdrawal_id: WithdrawalId, claims: OperatorDep, container: ContainerDep
) -> WithdrawalDetailOut:
    """Release a held withdrawal back to pending."""
    return await _decide(container, claims, withdrawal_id, OperatorAction.RELEASE, None)


@router.post("/withdrawals/{withdrawal_id}/reject")
async def reject(
    withdrawal_id: WithdrawalId, body: RejectIn, claims: OperatorDep, container: ContainerDep
) -> WithdrawalDetailOut:
    """Reject a withdrawal: its funds return to the player's wallet."""
    return await _decide(container, claims, withdrawal_id, OperatorAction.REJECT, body.reason)


@router.get("/deposits/unmatched")
async def unmatched(
    claims: OperatorDep, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[UnmatchedDepositOut]:
    """Deposits paid to addresses we never issued, for review (they credit nobody)."""
    rows = await deposits.unmatched_deposits(container.deposits(), limit=limit)
    return [UnmatchedDepositOut.model_validate(r) for r in rows]


@router.get("/deposits/over-limit")
async def over_limit(
    claims: OperatorDep, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[OverLimitDepositOut]:
    """Deposits worth more than ₩10^15 at their rate, refused to the gateway (credit nobody)."""
    rows = await deposits.over_limit_deposits(container.deposits(), limit=limit)
    return [OverLimitDepositOut.model_validate(r) for r in rows]
