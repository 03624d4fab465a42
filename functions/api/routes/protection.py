"""Player protection (docs/compliance.md): the caller's limits, breaks and self-exclusion;
operators extend an exclusion."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter

from functions.api.deps import (
    AuthedDep,
    ClockDep,
    ContainerDep,
    DbDep,
    OperatorDep,
    read_session,
)
from functions.api.routes.admin import UserId
from functions.api.routes.wallet import balance_out
from functions.api.schemas import (
    BalanceOut,
    ExclusionRequest,
    ExtendExclusionRequest,
    LimitsRequest,
    PendingLimitOut,
    ProtectionOut,
    WindowFiguresOut,
    errors,
)
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.ledger.protection import LIMIT_FIELDS
from holdem.services import ledger, protection

router = APIRouter(prefix="/api/v1", tags=["protection"], responses=errors(401, 422, 429))


async def _out(container: ContainerDep, user_id: int, now: datetime) -> ProtectionOut:
    async with read_session(container) as db:
        tx = SqlTransaction(db)
        view = await protection.load(tx, user_id, now)
        figures = await protection.usage(tx, user_id, now)
        locked = (await ledger.balances(SqlLedgerReads(db), user_id)).locked
    excluded = view.excluded(now)
    return ProtectionOut(
        **{name: view.limits[name] for name in LIMIT_FIELDS},
        reality_check_minutes=view.reality_check_minutes
        or container.settings.protection.reality_check_minutes,
        pending={
            name: PendingLimitOut(value=change.value, effective_at=change.effective_at)
            for name, change in view.pending.items()
        },
        exclusion=view.exclusion_kind if excluded else None,
        excluded_until=view.excluded_until if excluded else None,
        permanent=excluded and view.permanent,
        deposited=WindowFiguresOut(**figures.deposited),
        net_result=WindowFiguresOut(**figures.net),
        locked=locked,
    )


@router.get("/me/protection")
async def my_protection(
    claims: AuthedDep, container: ContainerDep, clock: ClockDep
) -> ProtectionOut:
    """The caller's limits, pending raises, break or exclusion, and what counts against them."""
    return await _out(container, claims.user_id, clock())


@router.put("/me/protection/limits", responses=errors(400))
async def set_limits(
    body: LimitsRequest, claims: AuthedDep, db: DbDep, container: ContainerDep, clock: ClockDep
) -> ProtectionOut:
    """Set limits: lower or new ones apply at once, raised or removed ones after cooling."""
    now = clock()
    requested = {
        name: getattr(body, name) for name in body.model_fields_set if name in LIMIT_FIELDS
    }
    cooling = timedelta(seconds=container.settings.protection.limit_cooling_s)
    async with db.begin():
        await protection.set_limits(
            SqlTransaction(db),
            claims.user_id,
            requested,
            now,
            cooling,
            reality_check_minutes=body.reality_check_minutes,
        )
    return await _out(container, claims.user_id, now)


@router.post("/me/protection/exclusion", responses=errors(400, 409))
async def exclude_me(
    body: ExclusionRequest,
    claims: AuthedDep,
    db: DbDep,
    container: ContainerDep,
    clock: ClockDep,
) -> ProtectionOut:
    """Take a break or exclude yourself: no play until it ends (it cannot be ended early).
    You leave every table after its current hand; withdrawals stay open."""
    now = clock()
    async with db.begin():
        view, tables = await protection.exclude(
            SqlTransaction(db), claims.user_id, body.period, now
        )
    assert view.excluded_until is not None
    await container.relay.exclude_player(claims.user_id, tables, view.excluded_until)
    return await _out(container, claims.user_id, now)


@router.post("/me/protection/release-locked", responses=errors(403))
async def release_locked(
    claims: AuthedDep, db: DbDep, container: ContainerDep, clock: ClockDep
) -> BalanceOut:
    """Move locked funds to the wallet as far as your deposit limits allow now."""
    now = clock()
    async with db.begin():
        await protection.release_locked(
            SqlTransaction(db),
            claims.user_id,
            now,
            key=f"locked_release:{claims.user_id}:{now.isoformat()}",
        )
    async with read_session(container) as read:
        return balance_out(await ledger.balances(SqlLedgerReads(read), claims.user_id))


@router.post(
    "/admin/users/{user_id}/exclusion", tags=["admin"], responses=errors(400, 403, 404, 409)
)
async def extend_exclusion(
    user_id: UserId,
    body: ExtendExclusionRequest,
    claims: OperatorDep,
    db: DbDep,
    container: ContainerDep,
    clock: ClockDep,
) -> ProtectionOut:
    """Extend a player's exclusion (operators; audited). It can never be shortened."""
    now = clock()
    async with db.begin():
        view, tables = await protection.extend_exclusion(
            SqlTransaction(db), claims.user_id, user_id, body.until, now, body.reason
        )
    assert view.excluded_until is not None
    await container.relay.exclude_player(user_id, tables, view.excluded_until)
    return await _out(container, user_id, now)
