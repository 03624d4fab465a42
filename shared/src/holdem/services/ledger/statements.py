"""The ledger's views of one player: balances, and the statement by keyset pagination."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import aliased

from holdem.adapters.orm.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from holdem.bounds import MAX_BIGINT
from holdem.ledger.accounts import AccountKind
from holdem.ledger.transactions import WITHDRAWAL_FINISHES, TransactionKind, entry_label
from holdem.ports import ColumnReader
from holdem.services.ledger_errors import InvalidCursor, InvalidLedgerRequest

__all__ = [
    "STATEMENT_KINDS",
    "Balances",
    "StatementLine",
    "StatementPage",
    "balances",
    "transactions",
]


@dataclass(frozen=True, slots=True)
class Balances:
    """What a player holds: wallet, pending withdrawals, locked funds and chips on each table."""

    user_id: int
    wallet: int
    pending_withdrawal: int
    seats: Mapping[int, int] = field(default_factory=dict)
    locked: int = 0
    """Credited over a deposit limit or during an exclusion: withdrawable, not playable."""

    @property
    def total(self) -> int:
        return self.wallet + self.pending_withdrawal + self.locked + sum(self.seats.values())


_BALANCES = select(LedgerAccount.kind, LedgerAccount.table_id, LedgerAccount.balance).where(
    LedgerAccount.user_id == bindparam("user_id")
)  # built once


async def balances(session: ColumnReader, user_id: int) -> Balances:
    """A player's balances (zero for accounts that do not exist yet)."""
    rows = await session.execute(_BALANCES, {"user_id": user_id})
    wallet = pending = locked = 0
    seats: dict[int, int] = {}
    for kind, table_id, balance in rows:
        if kind == AccountKind.WALLET:
            wallet = balance
        elif kind == AccountKind.PENDING_WITHDRAWAL:
            pending = balance
        elif kind == AccountKind.LOCKED:
            locked = balance
        elif balance and table_id is not None:
            seats[table_id] = balance
    return Balances(user_id, wallet, pending, seats, locked)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of a player's statement: one entry on one of their accounts."""

    entry_id: int
    transaction_id: int
    kind: str
    """SPEC §3's kind: crypto_deposit, crypto_withdrawal, buy_in, cash_out, win, lose, …"""
    transaction_kind: TransactionKind
    account: AccountKind
    table_id: int | None
    amount_krw: int
    balance_after: int
    created_at: datetime
    completed_at: datetime | None
    """When the movement finished: a reserved withdrawal completes when paid or returned."""
    metadata: Mapping[str, Any]
    """Crypto details where relevant: coin, crypto_amount, rate ("1 BTC = X KRW"), tx_hash,
    address; the reason of an adjustment or a return."""


@dataclass(frozen=True, slots=True)
class StatementPage:
    items: list[StatementLine]
    next_cursor: str | None


_LABEL_FILTERS: dict[str, tuple[tuple[TransactionKind, ...], int]] = {
    "crypto_deposit": ((TransactionKind.CRYPTO_DEPOSIT,), 0),
    "crypto_withdrawal": (
        (TransactionKind.WITHDRAWAL_RESERVE, *sorted(WITHDRAWAL_FINISHES)),
        0,
    ),
    "buy_in": ((TransactionKind.BUY_IN,), 0),
    "cash_out": ((TransactionKind.CASH_OUT,), 0),
    "win": ((TransactionKind.HAND_SETTLEMENT,), 1),
    "lose": ((TransactionKind.HAND_SETTLEMENT,), -1),
    "rakeback": ((TransactionKind.RAKEBACK,), 0),
    "adjustment": ((TransactionKind.ADJUSTMENT,), 0),
    "locked_release": ((TransactionKind.LOCKED_RELEASE,), 0),
}
STATEMENT_KINDS = frozenset(_LABEL_FILTERS)
"""The `kind` values `transactions` filters on."""


def _encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"e{entry_id}".encode()).decode().rstrip("=")


_CURSOR = re.compile(r"e([1-9][0-9]{0,18})")


def _decode_cursor(cursor: str) -> int:
    """The entry id of a cursor `_encode_cursor` made: a positive bigint, written canonically
    (so a forged one never reaches PostgreSQL as a number out of its range)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:  # not base64, or not UTF-8 (both ValueErrors)
        raise InvalidCursor("the cursor is not one this statement issued") from exc
    found = _CURSOR.fullmatch(raw)
    if found is None or int(found[1]) > MAX_BIGINT:
        raise InvalidCursor("the cursor is not one this statement issued")
    return int(found[1])


_FINISH = aliased(LedgerTransaction)
# Built once (a statement is immutable; each call adds its filters to a copy).
_STATEMENT = (
    select(
        LedgerEntry.id,
        LedgerEntry.amount,
        LedgerEntry.balance_after,
        LedgerAccount.kind,
        LedgerAccount.table_id,
        LedgerTransaction.id,
        LedgerTransaction.kind,
        LedgerTransaction.metadata_,
        LedgerTransaction.created_at,
        _FINISH.created_at,
    )
    .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
    .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
    .outerjoin(
        _FINISH,
        and_(
            LedgerTransaction.kind == TransactionKind.WITHDRAWAL_RESERVE,
            _FINISH.related_id == LedgerTransaction.id,
            _FINISH.kind.in_([str(k) for k in WITHDRAWAL_FINISHES]),
        ),
    )
    .order_by(LedgerEntry.id.desc())
)
# A player's statement from the newest line, and before a cursor's line (the hot pages:
# built once, so a request neither builds a statement nor computes its cache key).
_MY_STATEMENT = _STATEMENT.where(LedgerEntry.user_id == bindparam("user_id")).limit(
    bindparam("limit")
)
_MY_STATEMENT_BEFORE = _MY_STATEMENT.where(LedgerEntry.id < bindparam("before"))


async def transactions(
    session: ColumnReader,
    user_id: int,
    *,
    cursor: str | None = None,
    limit: int = 50,
    kind: str | None = None,
) -> StatementPage:
    """A player's statement, newest first, by keyset pagination (`next_cursor`).

    Args:
        kind: only lines of this SPEC kind (see `STATEMENT_KINDS`).
        limit: 1–200 lines.
    """
    if not 1 <= limit <= 200:
        raise InvalidLedgerRequest("limit must be between 1 and 200")
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    query = _MY_STATEMENT
    if cursor is not None:
        params["before"] = _decode_cursor(cursor)
        query = _MY_STATEMENT_BEFORE
    if kind is not None:
        if kind not in _LABEL_FILTERS:
            raise InvalidLedgerRequest(f"kind must be one of {sorted(_LABEL_FILTERS)}")
        kinds, sign = _LABEL_FILTERS[kind]
        query = query.where(LedgerTransaction.kind.in_([str(k) for k in kinds]))
        if sign:
            query = query.where(
                LedgerAccount.kind == AccountKind.SEAT,
                LedgerEntry.amount > 0 if sign > 0 else LedgerEntry.amount < 0,
            )
    rows = (await session.execute(query, params)).all()
    items = []
    for row in rows[:limit]:
        (entry_id, amount, after, account, table_id, tx_id, tx_kind, meta, created, done) = row
        tkind, akind = TransactionKind(tx_kind), AccountKind(account)
        completed = done if tkind is TransactionKind.WITHDRAWAL_RESERVE else created
        items.append(
            StatementLine(
                entry_id=entry_id,
                transaction_id=tx_id,
                kind=entry_label(tkind, akind, amount),
                transaction_kind=tkind,
                account=akind,
                table_id=table_id,
                amount_krw=amount,
                balance_after=after,
                created_at=created,
                completed_at=completed,
                metadata=meta,
            )
        )
    next_cursor = _encode_cursor(items[-1].entry_id) if len(rows) > limit else None
    return StatementPage(items, next_cursor)
