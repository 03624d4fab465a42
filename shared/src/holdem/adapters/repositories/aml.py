"""The AML flags' repository over SQLAlchemy (the port: `holdem.ports.aml`).

Rows are the ORM's (`holdem.adapters.orm.compliance.AmlFlag`): what the use case changes on
them is written by the session at commit. A flag is inserted with ``ON CONFLICT DO NOTHING``
on its rule and subject, so a redelivered deposit or a replayed request adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.compliance import AmlFlag
from holdem.adapters.orm.ledger import LedgerEntry, LedgerTransaction
from holdem.adapters.orm.payments import DepositAddress, Withdrawal
from holdem.adapters.repositories.paging import newest_first
from holdem.ledger.transactions import TransactionKind

__all__ = ["SqlAml"]


class SqlAml:
    """`AmlRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def file(self, user_id: int, rule: str, subject: str, details: dict[str, Any]) -> None:
        await self._session.execute(
            insert(AmlFlag)
            .values(user_id=user_id, rule=rule, subject=subject, details=details)
            .on_conflict_do_nothing(index_elements=["rule", "subject"])
        )

    async def credited_deposits_since(self, user_id: int, since: datetime) -> list[int]:
        stmt = (
            select(LedgerEntry.amount)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(
                LedgerTransaction.user_id == user_id,
                LedgerTransaction.kind == TransactionKind.CRYPTO_DEPOSIT.value,
                LedgerTransaction.created_at >= since,
                LedgerEntry.user_id == user_id,
                LedgerEntry.amount > 0,
            )
        )
        return [int(a) for a in (await self._session.execute(stmt)).scalars()]

    async def other_owners(self, user_id: int, coin: str, address: str) -> list[int]:
        lowered = address.lower()  # EVM addresses are stored in their checksum case
        withdrew = select(Withdrawal.user_id.label("user_id")).where(
            Withdrawal.coin == coin,
            func.lower(Withdrawal.address) == lowered,
            Withdrawal.user_id != user_id,
        )
        issued = select(DepositAddress.user_id.label("user_id")).where(
            func.lower(DepositAddress.address) == lowered, DepositAddress.user_id != user_id
        )
        both = union_all(withdrew, issued).subquery()
        stmt = select(both.c.user_id).distinct().order_by(both.c.user_id).limit(20)
        return [int(u) for u in (await self._session.execute(stmt)).scalars()]

    async def has_open(self, user_id: int, rules: Sequence[str], statuses: Sequence[str]) -> bool:
        stmt = select(AmlFlag.id).where(
            AmlFlag.user_id == user_id,
            AmlFlag.status.in_(statuses),
            AmlFlag.rule.in_(rules),
        )
        return (await self._session.execute(stmt.limit(1))).first() is not None

    async def unlinked(
        self, user_id: int, rules: Sequence[str], statuses: Sequence[str]
    ) -> list[AmlFlag]:
        stmt = select(AmlFlag).where(
            AmlFlag.user_id == user_id,
            AmlFlag.status.in_(statuses),
            AmlFlag.rule.in_(rules),
            AmlFlag.withdrawal_id.is_(None),
        )
        return list((await self._session.execute(stmt)).scalars())

    async def listing(
        self,
        status: str | None,
        user_id: int | None,
        rule: str | None,
        limit: int,
        before_id: int | None,
    ) -> list[AmlFlag]:
        equal = ((AmlFlag.status, status), (AmlFlag.user_id, user_id), (AmlFlag.rule, rule))
        return await newest_first(self._session, AmlFlag, limit, before_id, equal)

    async def lock(self, flag_id: int) -> AmlFlag | None:
        stmt = select(AmlFlag).where(AmlFlag.id == flag_id).with_for_update()
        return (await self._session.execute(stmt)).scalar_one_or_none()
