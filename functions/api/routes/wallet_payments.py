"""Crypto wallet routes: deposit addresses, my deposits, withdrawals (SPEC §3.1, §3.2)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, status
from pydantic import BaseModel, Field, PlainSerializer

from functions.api.deps import AuthedDep, ContainerDep, withdraw_limit
from functions.api.schemas import PositiveWon, Strict, errors
from holdem.bounds import MAX_BIGINT
from holdem.services import deposits, withdrawals

router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"], responses=errors(401, 422, 429))

Coin = Annotated[str, Path(pattern=r"^[A-Za-z]{2,10}$", description="BTC, ETH, USDT or USDC")]


def _plain(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


CryptoAmountOut = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]
"""A stored crypto amount as a decimal string without its padding zeros and never in exponent
form (``str(Decimal("20000000.00").normalize())`` reads ``2E+7``)."""


class DepositAddressOut(BaseModel):
    coin: str
    address: str
    chain: str
    token_network: str | None
    min_confirmations: int


class DepositOut(BaseModel):
    id: int
    coin: str
    tx_hash: str
    address: str
    crypto_amount: CryptoAmountOut
    confirmations: int
    required_confirmations: int
    status: str
    amount_krw: int | None
    rate_krw: Decimal | None
    created_at: datetime


class WithdrawIn(Strict):
    amount_krw: PositiveWon
    coin: Annotated[str, Field(min_length=2, max_length=10)]
    address: Annotated[str, Field(min_length=10, max_length=128)]


class WithdrawalDetailOut(BaseModel):
    id: int
    status: str
    amount_krw: int
    coin: str
    address: str
    crypto_amount: Decimal | None
    rate_krw: Decimal | None
    due_at: datetime
    created_at: datetime
    tx_hash: str | None
    failure_reason: str | None
    kyc_required: bool = Field(
        description="It waits for the player's identity verification (KYC) before it proceeds"
    )

    @classmethod
    def of(cls, view: withdrawals.WithdrawalView) -> WithdrawalDetailOut:
        return cls(
            id=view.id,
            status=view.status,
            amount_krw=view.amount_krw,
            coin=view.coin,
            address=view.address,
            crypto_amount=view.crypto_amount,
            rate_krw=view.rate_krw,
            due_at=view.due_at,
            created_at=view.created_at,
            tx_hash=view.tx_hash,
            failure_reason=view.failure_reason,
            kyc_required=view.kyc_required,
        )


@router.get("/deposit-address/{crypto_type}", responses=errors(400))
async def deposit_address(
    crypto_type: Coin, claims: AuthedDep, container: ContainerDep
) -> DepositAddressOut:
    """My standing deposit address for a coin (created at the gateway on first request)."""
    row = await deposits.deposit_address(container.deposits(), claims.user_id, crypto_type)
    coin = container.coins.get(row.coin)
    return DepositAddressOut(
        coin=coin.symbol,
        address=row.address,
        chain=coin.spec.chain,
        token_network=coin.spec.token_network,
        min_confirmations=coin.min_confirmations,
    )


@router.get("/deposits")
async def my_deposits(
    claims: AuthedDep,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
) -> list[DepositOut]:
    """My deposits, newest first, pending ones included (cursor: `before_id`)."""
    rows = await deposits.list_deposits(
        container.deposits(), claims.user_id, limit=limit, before_id=before_id
    )
    return [
        DepositOut(
            id=r.id,
            coin=r.coin,
            tx_hash=r.tx_hash,
            address=r.address,
            crypto_amount=r.crypto_amount,
            confirmations=r.confirmations,
            required_confirmations=container.coins.get(r.coin).min_confirmations,
            status=r.status,
            amount_krw=r.amount_krw,
            rate_krw=r.rate_krw,
            created_at=r.created_at,
        )
        for r in rows
    ]


@router.post(
    "/withdraw",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 403, 409),
)
async def withdraw(
    body: WithdrawIn,
    claims: AuthedDep,
    container: ContainerDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=100)],
    _limit: Annotated[None, Depends(withdraw_limit)],
) -> WithdrawalDetailOut:
    """Withdraw KRW as crypto: quoted, reserved at once, paid after the 24-hour wait."""
    view = await withdrawals.request_withdrawal(
        container.withdrawals(),
        claims.user_id,
        amount_krw=body.amount_krw,
        coin=body.coin,
        address=body.address,
        idempotency_key=idempotency_key,
    )
    return WithdrawalDetailOut.of(view)


@router.get("/withdrawals")
async def my_withdrawals(
    claims: AuthedDep,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
) -> list[WithdrawalDetailOut]:
    """My withdrawals, newest first (cursor: `before_id`)."""
    views = await withdrawals.list_withdrawals(
        container.withdrawals(), user_id=claims.user_id, limit=limit, before_id=before_id
    )
    return [WithdrawalDetailOut.of(v) for v in views]


@router.post("/withdrawals/{withdrawal_id}/cancel", responses=errors(403, 404, 409))
async def cancel_withdrawal(
    withdrawal_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)],
    claims: AuthedDep,
    container: ContainerDep,
) -> WithdrawalDetailOut:
    """Take back a pending withdrawal, where the card room allows it (off by default)."""
    view = await withdrawals.cancel(container.withdrawals(), claims.user_id, withdrawal_id)
    return WithdrawalDetailOut.of(view)
