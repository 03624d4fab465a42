"""The weekly rakeback's repository over SQLAlchemy (the port:
`holdem.ports.rakeback.RakebackRepository`).

Rake is summed over ``hand_players`` and ``archived_hand_players`` together (the archiver
moves each row in the transaction that deletes it, so a window counts every hand once). A
settlement is claimed with ``ON CONFLICT DO NOTHING`` and then locked ``FOR UPDATE``, so two
deliveries of the same week and user serialise on the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Subquery, func, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.economy import ArchivedHandPlayer
from holdem.adapters.orm.hands import HandPlayer
from holdem.adapters.orm.rakeback import RakebackSettlement
from holdem.ports.rakeback import SettlementRow

__all__ = ["SqlRakeback"]


def _rake_rows(start: datetime, end: datetime, user_ids: Sequence[int] | None) -> Subquery:
    parts = []
    for table in (HandPlayer, ArchivedHandPlayer):
        query = select(table.user_id.label("user_id"), table.rake_share.label("rake")).where(
            table.started_at >= start, table.started_at < end
        )
        if user_ids is not None:
            query = query.where(table.user_id.in_(user_ids))
        parts.append(query)
    return union_all(*parts).subquery()


class SqlRakeback:
    """`RakebackRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def rake_by_user(
        self, start: datetime, end: datetime, user_ids: Sequence[int] | None
    ) -> dict[int, int]:
        rows = _rake_rows(start, end, user_ids)
        result = await self._session.execute(
            select(rows.c.user_id, func.sum(rows.c.rake))
            .group_by(rows.c.user_id)
            .having(func.sum(rows.c.rake) > 0)
        )
        return {int(user): int(total) for user, total in result}

    async def settled_users(self, week_start: date) -> set[int]:
        return set(
            (
                await self._session.execute(
                    select(RakebackSettlement.user_id).where(
                        RakebackSettlement.week_start == week_start,
                        RakebackSettlement.ledger_transaction_id.is_not(None)
                        | (RakebackSettlement.amount == 0),
                    )
                )
            ).scalars()
        )

    async def claim_settlement(
        self, user_id: int, week_start: date, rake_paid: int, level: str, rate_bps: int, amount: int
    ) -> RakebackSettlement:
        await self._session.execute(
            insert(RakebackSettlement)
            .values(
                user_id=user_id,
                week_start=week_start,
                rake_paid=rake_paid,
                level=level,
                rate_bps=rate_bps,
                amount=amount,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "week_start"])
        )
        return (
            await self._session.execute(
                select(RakebackSettlement)
                .where(
                    RakebackSettlement.user_id == user_id,
                    RakebackSettlement.week_start == week_start,
                )
                .with_for_update()
            )
        ).scalar_one()

    async def record_payment(self, settlement: SettlementRow, ledger_transaction_id: int) -> None:
        assert isinstance(settlement, RakebackSettlement)  # the row this repository claimed
        settlement.ledger_transaction_id = ledger_transaction_id
        await self._session.flush()

    async def settlements_of(self, user_id: int, limit: int) -> list[RakebackSettlement]:
        rows = await self._session.execute(
            select(RakebackSettlement)
            .where(RakebackSettlement.user_id == user_id)
            .order_by(RakebackSettlement.week_start.desc())
            .limit(limit)
        )
        return list(rows.scalars())
