"""The lobby: list and inspect tables; operators open and close them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from functions.api.deps import (
    ContainerDep,
    DbDep,
    OperatorDep,
    ReadDbDep,
    general_limit,
    read_session,
)
from functions.api.schemas import (
    CreateTableRequest,
    SeatOut,
    TableDetailOut,
    TableOut,
    TablePage,
    errors,
)
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import Container
from holdem.bounds import MAX_BIGINT
from holdem.services import lobby

router = APIRouter(prefix="/api/v1", tags=["lobby"], responses=errors(422, 429))

TableId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
Cursor = Annotated[str | None, Query(max_length=512)]
Stake = Annotated[int | None, Query(ge=1, le=10**15)]


def _out(summary: lobby.TableSummary) -> TableOut:
    t = summary.table
    return TableOut(
        id=t.id,
        name=t.name,
        small_blind=t.small_blind,
        big_blind=t.big_blind,
        max_seats=t.max_seats,
        seated=summary.seated,
        free_seats=summary.free_seats,
        waiting=summary.waiting,
        min_buy_in=t.min_buy_in,
        max_buy_in=t.max_buy_in,
        rake_rate_bps=t.rake_rate_bps,
        rake_cap=t.rake_cap,
        status=t.status,
        created_at=t.created_at,
    )


@router.get(
    "/lobby/tables",
    dependencies=[Depends(general_limit)],
    response_model=TablePage,
    responses=errors(400),
)
async def list_tables(
    container: ContainerDep,
    table_status: Annotated[Literal["open", "closing", "closed"], Query(alias="status")] = "open",
    small_blind: Stake = None,
    big_blind: Stake = None,
    max_seats: Annotated[int | None, Query(ge=2, le=9)] = None,
    min_free_seats: Annotated[int, Query(ge=0, le=9)] = 0,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Response:
    """Tables, newest first, filtered by stakes, seats free and status (cursor pages).
    A page is at most one second old (the lobby channel's interval)."""
    where = lobby.TableFilter(
        status=table_status,
        small_blind=small_blind,
        big_blind=big_blind,
        min_free_seats=min_free_seats,
        max_seats=max_seats,
    )
    answer = await tables_page(container, where, cursor, limit)
    return Response(answer, media_type="application/json")


async def tables_page(
    container: Container, where: lobby.TableFilter, cursor: str | None, limit: int
) -> bytes:
    """The table list route's answer, as JSON (also served by `functions.api.fast`)."""

    async def read() -> bytes:
        async with read_session(container) as db:
            page = await lobby.list_tables(SqlTransaction(db), where, cursor, limit)
        items = await lobby.with_waiting(container.relay, page.items)
        answer = TablePage(items=[_out(s) for s in items], next_cursor=page.next_cursor)
        return answer.model_dump_json().encode()

    # The page is kept as the answer FastAPI would send (the model's JSON), built once per
    # interval instead of once per request.
    return await container.lobby_pages.get((where, cursor, limit), read)


@router.get(
    "/lobby/tables/{table_id}", dependencies=[Depends(general_limit)], responses=errors(404)
)
async def get_table(table_id: TableId, db: ReadDbDep, container: ContainerDep) -> TableDetailOut:
    """One table, who sits where (never any card) and how many wait for a seat."""
    detail = await lobby.get_table(SqlTransaction(db), table_id)
    [summary] = await lobby.with_waiting(container.relay, [detail.summary])
    return TableDetailOut(
        table=_out(summary),
        seats=[SeatOut(**vars(seat)) for seat in detail.seats],
    )


@router.post(
    "/admin/tables",
    status_code=status.HTTP_201_CREATED,
    tags=["admin"],
    responses=errors(400, 401, 403),
)
async def create_table(
    body: CreateTableRequest, claims: OperatorDep, db: DbDep, container: ContainerDep
) -> TableOut:
    """Open a table (operators). Buy-in and rake default from the stakes."""
    game = container.settings.game
    rule = lobby.default_rake(body.small_blind, body.big_blind)
    spec = lobby.NewTable(
        name=body.name,
        small_blind=body.small_blind,
        big_blind=body.big_blind,
        max_seats=body.max_seats,
        min_buy_in=body.min_buy_in or game.min_buy_in_bb * body.big_blind,
        max_buy_in=body.max_buy_in or game.max_buy_in_bb * body.big_blind,
        rake_rate_bps=body.rake_rate_bps if body.rake_rate_bps is not None else rule[0],
        rake_cap=body.rake_cap if body.rake_cap is not None else rule[1],
    )
    summary = await lobby.create_table(SqlTransaction(db), spec, claims.user_id)
    container.lobby_pages.clear()
    await lobby.announce(container.relay, summary)
    return _out(summary)


@router.post("/admin/tables/{table_id}/close", tags=["admin"], responses=errors(401, 403, 404, 409))
async def close_table(
    table_id: TableId, claims: OperatorDep, db: DbDep, container: ContainerDep
) -> TableOut:
    """Close a table (operators): 'closing' until its players have left, else 'closed'."""
    summary = await lobby.close_table(SqlTransaction(db), table_id, claims.user_id)
    container.lobby_pages.clear()
    await lobby.announce(container.relay, summary)
    return _out(summary)
