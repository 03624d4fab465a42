"""Rakeback statements, operators' rakeback runs and daily stats, and hand-history export."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel

from functions.api.deps import AuthedDep, ContainerDep, DbDep, OperatorDep
from functions.api.schemas import errors
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bounds import MAX_BIGINT
from holdem.ledger.rakeback import tiers_from_rates
from holdem.services import hand_export, rakeback, stats

router = APIRouter(prefix="/api/v1", responses=errors(401, 422, 429))

WeekPath = Annotated[date, Path(description="The Monday (KST) that starts the week")]


class RakebackStatementOut(BaseModel):
    week_start: date
    rake_paid: int
    level: str
    rate_bps: int
    amount: int
    paid: bool
    settled_at: datetime


class RakebackStatementsOut(BaseModel):
    items: list[RakebackStatementOut]


class RakebackPreviewOut(BaseModel):
    user_id: int
    rake_paid: int
    level_rake: int | None
    level: str
    rate_bps: int
    amount: int


class RakebackDryRunOut(BaseModel):
    week_start: date
    window_days: int
    users: int
    total_rake: int
    total_rakeback: int
    items: list[RakebackPreviewOut]


class RakebackRunOut(BaseModel):
    week_start: date
    users_enqueued: int
    messages: int


class DailyStatsOut(BaseModel):
    day: date
    stakes: str
    small_blind: int | None
    big_blind: int | None
    hands: int
    rake: int
    pots: int
    active_players: int


class DailyStatsPage(BaseModel):
    items: list[DailyStatsOut]


@router.get("/rakeback/statements", tags=["rakeback"])
async def my_statements(
    claims: AuthedDep, db: DbDep, limit: Annotated[int, Query(ge=1, le=104)] = 52
) -> RakebackStatementsOut:
    """The caller's weekly rakeback statements, newest week first."""
    rows = await rakeback.statements_for_user(SqlTransaction(db), claims.user_id, limit)
    return RakebackStatementsOut(
        items=[
            RakebackStatementOut(
                week_start=r.week_start,
                rake_paid=r.rake_paid,
                level=r.level,
                rate_bps=r.rate_bps,
                amount=r.amount,
                paid=r.ledger_transaction_id is not None,
                settled_at=r.created_at,
            )
            for r in rows
        ]
    )


@router.get("/admin/rakeback/weeks/{week}/dry-run", tags=["admin"], responses=errors(400, 403))
async def rakeback_dry_run(
    week: WeekPath,
    claims: OperatorDep,
    db: DbDep,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RakebackDryRunOut:
    """What settling a week would pay each user (reads only; totals cover every user)."""
    money = container.settings.money
    statements = await rakeback.weekly_statements(
        SqlTransaction(db),
        rakeback.week_from_date(week),
        window_days=money.rakeback_window_days,
        tiers=tiers_from_rates(money.rakeback_rates),
    )
    return RakebackDryRunOut(
        week_start=week,
        window_days=money.rakeback_window_days,
        users=len(statements),
        total_rake=sum(s.rake for s in statements),
        total_rakeback=sum(s.amount for s in statements),
        items=[
            RakebackPreviewOut(
                user_id=s.user_id,
                rake_paid=s.rake,
                level_rake=s.level_rake,
                level=s.level.value,
                rate_bps=s.rate_bps,
                amount=s.amount,
            )
            for s in statements[:limit]
        ],
    )


@router.post(
    "/admin/rakeback/weeks/{week}/run",
    tags=["admin"],
    status_code=202,
    responses=errors(400, 403),
)
async def rakeback_run(
    week: WeekPath, claims: OperatorDep, db: DbDep, container: ContainerDep
) -> RakebackRunOut:
    """Queue a week's settlement (again): only users not yet paid are sent; none is paid twice."""
    report = await rakeback.enqueue_week(
        SqlTransaction(db), container.rakeback_queue, rakeback.week_from_date(week)
    )
    return RakebackRunOut(
        week_start=report.week_start, users_enqueued=report.users, messages=report.messages
    )


@router.get("/admin/stats/daily", tags=["admin"], responses=errors(400, 403))
async def daily_stats(
    claims: OperatorDep,
    db: DbDep,
    since: Annotated[date, Query(description="First KST day")],
    until: Annotated[date, Query(description="Last KST day (inclusive)")],
) -> DailyStatsPage:
    """Hands, rake, pots and active players per KST day and stake (and "all")."""
    rows = await stats.read_daily_stats(SqlTransaction(db), since, until)
    return DailyStatsPage(items=[DailyStatsOut(**vars_of(r)) for r in rows])


def vars_of(figures: stats.DayFigures) -> dict[str, object]:
    return {name: getattr(figures, name) for name in DailyStatsOut.model_fields}


ExportFormatQuery = Annotated[
    Literal["pokerstars", "ohh"], Query(alias="format", description="pokerstars or ohh")
]


def _download(exported: hand_export.Exported) -> Response:
    headers = {
        "Content-Disposition": f'attachment; filename="{exported.filename}"',
        "X-Hand-Count": str(exported.hands),
    }
    return Response(exported.body, media_type=exported.media_type, headers=headers)


_EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "PokerStars text (text/plain), or Open Hand History: one hand is a JSON "
        "document, several are OHH's storage format (one document per hand, a blank line between)",
        "content": {"text/plain": {}, "application/json": {}},
    }
}


@router.get(
    "/hand-exports/{hand_id}",
    tags=["hand history"],
    responses={**errors(404), **_EXPORT_RESPONSES},
    response_class=Response,
)
async def export_one_hand(
    hand_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)],
    claims: AuthedDep,
    db: DbDep,
    container: ContainerDep,
    fmt: ExportFormatQuery = "pokerstars",
) -> Response:
    """One of the caller's hands, hot or archived, with only the cards they may see."""
    exported = await hand_export.export_hand(
        SqlTransaction(db),
        container.archive_store,
        container.redis,
        claims.user_id,
        hand_id,
        hand_export.ExportFormat(fmt),
    )
    return _download(exported)


@router.get(
    "/hand-exports",
    tags=["hand history"],
    responses={**errors(400), **_EXPORT_RESPONSES},
    response_class=Response,
)
async def export_hands(
    claims: AuthedDep,
    db: DbDep,
    container: ContainerDep,
    since: Annotated[datetime, Query(description="Start (ISO 8601 with offset)")],
    until: Annotated[datetime, Query(description="End, exclusive (ISO 8601 with offset)")],
    fmt: ExportFormatQuery = "pokerstars",
) -> Response:
    """The caller's hands started in [since, until), oldest first, at most 500."""
    exported = await hand_export.export_range(
        SqlTransaction(db),
        container.archive_store,
        container.redis,
        claims.user_id,
        since,
        until,
        hand_export.ExportFormat(fmt),
    )
    return _download(exported)


__all__ = ["router"]
