"""The ledger's reads over SQLAlchemy (the ports: `holdem.ports.ledger`).

The hot reads (a player's balances and statement) are built once at import, with bound
parameters, and run on any `holdem.ports.ColumnReader`: a session, a connection, or the
pool's raw `RowReader` of the read-only routes (which compiles each statement once). The
checks' queries read one REPEATABLE READ snapshot that `read_one_snapshot` opens.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from holdem.adapters.orm.ledger import (
    AuditLane,
    AuditRecord,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from holdem.ledger.accounts import AccountKind
from holdem.ledger.audit import AuditedEntry, AuditedTransaction, StoredRecord
from holdem.ledger.transactions import WITHDRAWAL_FINISHES, TransactionKind
from holdem.ports import ColumnReader
from holdem.ports.ledger import BalanceRow, RecordedTransaction, StatementRow

__all__ = ["SqlLedger", "SqlLedgerReads"]

_BALANCES = select(LedgerAccount.kind, LedgerAccount.table_id, LedgerAccount.balance).where(
    LedgerAccount.user_id == bindparam("user_id")
)  # built once

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


class SqlLedgerReads:
    """`LedgerReads` on one column reader (a session, a connection or a raw reader)."""

    def __init__(self, reader: ColumnReader) -> None:
        self._reader = reader

    async def balance_rows(self, user_id: int) -> Sequence[BalanceRow]:
        return (await self._reader.execute(_BALANCES, {"user_id": user_id})).all()

    async def statement_rows(
        self,
        user_id: int,
        *,
        limit: int,
        before: int | None = None,
        kinds: Sequence[str] | None = None,
        seat_sign: int = 0,
    ) -> Sequence[StatementRow]:
        params: dict[str, int] = {"user_id": user_id, "limit": limit}
        query = _MY_STATEMENT
        if before is not None:
            params["before"] = before
            query = _MY_STATEMENT_BEFORE
        if kinds is not None:
            query = query.where(LedgerTransaction.kind.in_(kinds))
        if seat_sign:
            query = query.where(
                LedgerAccount.kind == AccountKind.SEAT,
                LedgerEntry.amount > 0 if seat_sign > 0 else LedgerEntry.amount < 0,
            )
        return (await self._reader.execute(query, params)).all()


class SqlLedger(SqlLedgerReads):
    """`LedgerRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._session = session

    async def transaction(self, transaction_id: int) -> RecordedTransaction | None:
        found = await self._session.get(LedgerTransaction, transaction_id)
        if found is None:
            return None
        return RecordedTransaction(found.id, found.kind, found.user_id, found.metadata_)

    async def read_one_snapshot(self) -> None:
        await self._session.execute(
            text("set transaction isolation level repeatable read, read only")
        )

    async def balances_by_account_kind(self) -> dict[str, int]:
        return {
            kind: int(total)
            for kind, total in await self._session.execute(
                select(LedgerAccount.kind, func.sum(LedgerAccount.balance)).group_by(
                    LedgerAccount.kind
                )
            )
        }

    async def balance_mismatches(self) -> list[tuple[int, int, int]]:
        sums = (
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
            .group_by(LedgerEntry.account_id)
            .subquery()
        )
        summed = func.coalesce(sums.c.total, 0)
        return [
            (int(a), int(b), int(c))
            for a, b, c in await self._session.execute(
                select(LedgerAccount.id, LedgerAccount.balance, summed)
                .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
                .where(LedgerAccount.balance != summed)
                .order_by(LedgerAccount.id)
            )
        ]

    async def running_balance_mismatches(self, limit: int) -> list[int]:
        running = (
            select(
                LedgerEntry.id,
                LedgerEntry.balance_after,
                func.sum(LedgerEntry.amount)
                .over(partition_by=LedgerEntry.account_id, order_by=LedgerEntry.id)
                .label("running"),
            )
        ).subquery()
        return [
            int(i)
            for (i,) in await self._session.execute(
                select(running.c.id)
                .where(running.c.running != running.c.balance_after)
                .order_by(running.c.id)
                .limit(limit)
            )
        ]

    async def unbalanced_transactions(self) -> list[tuple[int, int]]:
        entry_sums = (
            select(
                LedgerEntry.transaction_id,
                func.sum(LedgerEntry.amount).label("total"),
                func.count().label("n"),
            )
            .group_by(LedgerEntry.transaction_id)
            .subquery()
        )
        return [
            (int(t), int(s or 0))
            for t, s in await self._session.execute(
                select(LedgerTransaction.id, entry_sums.c.total)
                .outerjoin(entry_sums, entry_sums.c.transaction_id == LedgerTransaction.id)
                .where(
                    or_(
                        entry_sums.c.total.is_(None),
                        entry_sums.c.total != 0,
                        entry_sums.c.n < 2,
                    )
                )
                .order_by(LedgerTransaction.id)
            )
        ]

    async def negative_accounts(self, kinds: Sequence[str]) -> list[tuple[int, int]]:
        return [
            (int(a), int(b))
            for a, b in await self._session.execute(
                select(LedgerAccount.id, LedgerAccount.balance).where(
                    LedgerAccount.kind.in_(kinds), LedgerAccount.balance < 0
                )
            )
        ]

    async def flows(self) -> dict[tuple[str, str], int]:
        return {
            (tk, ak): int(total)
            for tk, ak, total in await self._session.execute(
                select(LedgerTransaction.kind, LedgerAccount.kind, func.sum(LedgerEntry.amount))
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .group_by(LedgerTransaction.kind, LedgerAccount.kind)
            )
        }

    async def audit_heads(self) -> dict[int, tuple[int, str]]:
        return {
            int(lane): (int(seq), str(hash_))
            for lane, seq, hash_ in await self._session.execute(
                select(AuditLane.lane, AuditLane.seq, AuditLane.hash).order_by(AuditLane.lane)
            )
        }

    async def audit_records(self, lane: int, after: int, limit: int) -> list[StoredRecord]:
        records = [
            StoredRecord(r.lane, r.seq, r.transaction_id, r.prev_hash, r.hash, r.content)
            for r in await self._session.scalars(
                select(AuditRecord)
                .where(AuditRecord.lane == lane, AuditRecord.seq > after)
                .order_by(AuditRecord.seq)
                .limit(limit)
            )
        ]
        self._session.expunge_all()  # a verification reads every record: keep none of them
        return records

    async def audited_entries(
        self, transaction_ids: Sequence[int]
    ) -> dict[int, list[AuditedEntry]]:
        entries: dict[int, list[AuditedEntry]] = {}
        for tx_id, account_id, amount, after in await self._session.execute(
            select(
                LedgerEntry.transaction_id,
                LedgerEntry.account_id,
                LedgerEntry.amount,
                LedgerEntry.balance_after,
            ).where(LedgerEntry.transaction_id.in_(transaction_ids))
        ):
            entries.setdefault(tx_id, []).append(AuditedEntry(account_id, amount, after))
        return entries

    async def audited_transactions(
        self, transaction_ids: Sequence[int]
    ) -> list[AuditedTransaction]:
        return [
            AuditedTransaction(*tx)
            for tx in await self._session.execute(
                select(
                    LedgerTransaction.id,
                    LedgerTransaction.kind,
                    LedgerTransaction.idempotency_key,
                    LedgerTransaction.request_hash,
                    LedgerTransaction.created_at,
                    LedgerTransaction.user_id,
                    LedgerTransaction.table_id,
                    LedgerTransaction.hand_id,
                    LedgerTransaction.related_id,
                    LedgerTransaction.metadata_,
                ).where(LedgerTransaction.id.in_(transaction_ids))
            )
        ]

    async def unaudited_transactions(self, limit: int) -> list[int]:
        return list(
            await self._session.scalars(
                select(LedgerTransaction.id)
                .outerjoin(AuditRecord, AuditRecord.transaction_id == LedgerTransaction.id)
                .where(AuditRecord.transaction_id.is_(None))
                .order_by(LedgerTransaction.id)
                .limit(limit)
            )
        )
