"""Operator compliance routes: set a user's KYC status, the AML flag queue (list, review,
resolve), and the integrity signals (run now, list runs). Every call is written to the
operators' audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from functions.api.deps import ContainerDep, DbDep, OperatorDep
from functions.api.schemas import Strict, errors
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bounds import MAX_BIGINT
from holdem.config import AmlRuleName
from holdem.services import aml, integrity, kyc
from holdem.services.admin import record_action

router = APIRouter(
    prefix="/api/v1/admin", tags=["admin"], responses=errors(401, 403, 404, 409, 422, 429)
)
UserId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
FlagId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
Note = Annotated[str, Field(min_length=1, max_length=1000)]


class KycStatusIn(Strict):
    status: Literal["none", "pending", "verified", "rejected"]
    note: Note


class KycSetOut(BaseModel):
    user_id: int
    kyc_status: str
    updated_at: datetime | None
    released_withdrawals: list[int] = Field(
        description="Withdrawals that stopped waiting for KYC because of this change"
    )


class ResolveIn(Strict):
    note: Note


class AmlFlagOut(BaseModel):
    id: int
    user_id: int
    rule: AmlRuleName
    subject: str
    status: Literal["open", "reviewing", "resolved"]
    details: dict[str, Any]
    withdrawal_id: int | None = Field(description="The withdrawal this flag held, if any")
    reviewed_by: int | None
    reviewed_at: datetime | None
    resolved_by: int | None
    resolved_at: datetime | None
    resolution_note: str | None
    created_at: datetime

    @classmethod
    def of(cls, view: aml.FlagView) -> AmlFlagOut:
        return cls.model_validate(view, from_attributes=True)


class IntegrityRunIn(Strict):
    window_days: int | None = Field(
        None, ge=1, le=7, description="Days of hands to read; default INTEGRITY__WINDOW_DAYS"
    )


class IntegrityRunOut(BaseModel):
    id: int
    trigger: Literal["schedule", "operator"]
    operator_id: int | None
    window_from: datetime
    window_to: datetime
    hands: int = Field(description="Hands read (those that ended in the window)")
    thresholds: dict[str, Any] = Field(description="The thresholds in force for this run")
    counts: dict[str, int] = Field(description="New flags filed per signal")
    flag_ids: list[int] = Field(description="The flags filed, in the AML queue")
    created_at: datetime

    @classmethod
    def of(cls, view: integrity.RunView) -> IntegrityRunOut:
        return cls.model_validate(view, from_attributes=True)


@router.put("/users/{user_id}/kyc")
async def set_kyc(
    user_id: UserId, body: KycStatusIn, claims: OperatorDep, container: ContainerDep
) -> KycSetOut:
    """Set a user's KYC status with a note (audited); verifying releases held withdrawals."""
    view = await kyc.set_status(
        container.kyc(), claims.user_id, user_id, kyc.KycStatus(body.status), body.note
    )
    return KycSetOut(
        user_id=view.user_id,
        kyc_status=view.status,
        updated_at=view.updated_at,
        released_withdrawals=list(view.released_withdrawals),
    )


@router.get("/aml/flags")
async def list_flags(
    claims: OperatorDep,
    db: DbDep,
    flag_status: Annotated[
        Literal["open", "reviewing", "resolved"] | None, Query(alias="status")
    ] = "open",
    user_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    rule: AmlRuleName | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AmlFlagOut]:
    """The AML queue, newest first (cursor: `before_id`); the look is audited."""
    views = await aml.list_flags(
        SqlTransaction(db),
        status=flag_status,
        user_id=user_id,
        rule=rule,
        limit=limit,
        before_id=before_id,
    )
    seen = {
        "status": flag_status,
        "user_id": user_id,
        "rule": rule,
        "before_id": before_id,
        "count": len(views),
    }
    # The user filter stays in the details: it may name no account (no foreign key to break).
    await record_action(SqlTransaction(db), claims.user_id, "aml_flags_list", details=seen)
    await db.commit()
    return [AmlFlagOut.of(v) for v in views]


@router.post("/aml/flags/{flag_id}/review")
async def review_flag(flag_id: FlagId, claims: OperatorDep, db: DbDep) -> AmlFlagOut:
    """Take an open flag into review (audited)."""
    return AmlFlagOut.of(
        await aml.review(SqlTransaction(db), flag_id, claims.user_id, datetime.now(UTC))
    )


@router.post("/aml/flags/{flag_id}/resolve")
async def resolve_flag(
    flag_id: FlagId, body: ResolveIn, claims: OperatorDep, db: DbDep
) -> AmlFlagOut:
    """Resolve a flag with a note (audited); a withdrawal it held is decided separately."""
    view = await aml.resolve(
        SqlTransaction(db), flag_id, claims.user_id, body.note, datetime.now(UTC)
    )
    return AmlFlagOut.of(view)


@router.post("/integrity/runs", status_code=201)
async def run_integrity(
    body: IntegrityRunIn, claims: OperatorDep, db: DbDep, container: ContainerDep
) -> IntegrityRunOut:
    """Run the integrity signals now over the last days' hands (audited); flags go to the AML
    queue."""
    settings = container.settings.integrity
    if body.window_days is not None:
        settings = settings.model_copy(update={"window_days": body.window_days})
    view = await integrity.run(
        SqlTransaction(db), settings, now=datetime.now(UTC), operator_id=claims.user_id
    )
    await db.commit()
    return IntegrityRunOut.of(view)


@router.get("/integrity/runs")
async def list_integrity_runs(
    claims: OperatorDep,
    db: DbDep,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_BIGINT)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[IntegrityRunOut]:
    """Integrity runs, scheduled and by operators, newest first (cursor: `before_id`); the
    look is audited."""
    views = await integrity.list_runs(SqlTransaction(db), limit=limit, before_id=before_id)
    seen = {"before_id": before_id, "count": len(views)}
    await record_action(SqlTransaction(db), claims.user_id, "integrity_runs_list", details=seen)
    await db.commit()
    return [IntegrityRunOut.of(v) for v in views]
