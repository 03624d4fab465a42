"""The caller's profile (account, balances, VIP level) and VIP status."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from functions.api.deps import AuthedDep, ContainerDep, ReadDbDep
from functions.api.routes.wallet import balance_out
from functions.api.schemas import ProfileOut, UserOut, VipOut, errors
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.ledger.rakeback import tiers_from_rates
from holdem.services import admin, ledger, vip

router = APIRouter(prefix="/api/v1", tags=["profile"], responses=errors(401, 429))


async def _vip(db: ReadDbDep, container: ContainerDep, user_id: int) -> VipOut:
    money = container.settings.money
    tiers = tiers_from_rates(money.rakeback_rates)
    state, since = await vip.status(
        SqlTransaction(db), user_id, datetime.now(UTC), money.rakeback_window_days, tiers
    )
    return VipOut(
        level=state.level.value,
        rakeback_rate_bps=state.rate_bps,
        rake_paid=state.rake_paid,
        window_days=money.rakeback_window_days,
        window_start=since,
        next_level=state.next_level.value if state.next_level else None,
        next_threshold=state.next_threshold,
        to_next_level=state.to_next,
    )


@router.get("/me")
async def profile(claims: AuthedDep, db: ReadDbDep, container: ContainerDep) -> ProfileOut:
    """The caller's account, balances and VIP level."""
    user = await admin.find_user(SqlTransaction(db), user_id=claims.user_id, email=None)
    return ProfileOut(
        user=UserOut.model_validate(user, from_attributes=True),
        balance=balance_out(await ledger.balances(SqlLedgerReads(db), claims.user_id)),
        vip=await _vip(db, container, claims.user_id),
    )


@router.get("/vip")
async def vip_status(claims: AuthedDep, db: ReadDbDep, container: ContainerDep) -> VipOut:
    """VIP level, rake paid in the trailing window and the next threshold (SPEC §4.2)."""
    return await _vip(db, container, claims.user_id)
