"""The caller's money: balances and the statement of every movement (the ledger's view)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from functions.api.deps import AuthedDep, ContainerDep, read_rows
from functions.api.schemas import (
    BalanceOut,
    SeatBalanceOut,
    StatementPage,
    errors,
)
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.bootstrap import Container
from holdem.services import ledger

router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"], responses=errors(401, 422, 429))

StatementKind = Literal[
    "crypto_deposit",
    "crypto_withdrawal",
    "buy_in",
    "cash_out",
    "win",
    "lose",
    "rakeback",
    "adjustment",
    "locked_release",
]


def balance_out(balances: ledger.Balances) -> BalanceOut:
    return BalanceOut(
        wallet=balances.wallet,
        pending_withdrawal=balances.pending_withdrawal,
        locked=balances.locked,
        seats=[SeatBalanceOut(table_id=t, amount=a) for t, a in sorted(balances.seats.items())],
        total=balances.total,
    )


@router.get("/balance")
async def balance(claims: AuthedDep, container: ContainerDep) -> BalanceOut:
    """Wallet, pending-withdrawal, locked and at-table balances in KRW."""
    return await read_balance(container, claims.user_id)


async def read_balance(container: Container, user_id: int) -> BalanceOut:
    """The balance route's answer (also served by `functions.api.fast`)."""
    async with read_rows(container) as db:
        balances = await ledger.balances(SqlLedgerReads(db), user_id)
    return balance_out(balances)


@router.get("/transactions", response_model=StatementPage, responses=errors(400))
async def transactions(
    claims: AuthedDep,
    container: ContainerDep,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    kind: StatementKind | None = None,
) -> dict[str, Any]:
    """Every movement of the caller's money, newest first (cursor pages, filter by kind)."""
    return await read_statement(container, claims.user_id, cursor, limit, kind)


async def read_statement(
    container: Container, user_id: int, cursor: str | None, limit: int, kind: str | None
) -> dict[str, Any]:
    """The statement route's answer (also served by `functions.api.fast`): a `StatementPage`
    as plain values, its fields in the model's order. FastAPI validates it against the model;
    the fast path writes it as is (`functions.api.fast.page_json`), without a model per line
    (tests/functions/api/test_api_fast_reads.py compares the two answers byte for byte)."""
    async with read_rows(container) as db:
        page = await ledger.transactions(
            SqlLedgerReads(db), user_id, cursor=cursor, limit=limit, kind=kind
        )
    return {
        "items": [
            {
                "id": line.entry_id,
                "transaction_id": line.transaction_id,
                "kind": line.kind,
                "account": str(line.account),
                "table_id": line.table_id,
                "amount_krw": line.amount_krw,
                "balance_after": line.balance_after,
                "created_at": line.created_at,
                "completed_at": line.completed_at,
                "details": dict(line.metadata),
            }
            for line in page.items
        ],
        "next_cursor": page.next_cursor,
    }
