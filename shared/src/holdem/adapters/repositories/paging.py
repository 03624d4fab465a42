"""Keyset pages of rows newest first: the one query shape of the listings (AML flags,
withdrawals, deposits, integrity runs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from holdem.adapters.orm.base import Base

Row = TypeVar("Row", bound=Base)


async def newest_first(
    session: AsyncSession,
    model: type[Row],
    limit: int,
    before_id: int | None,
    equal: Sequence[tuple[InstrumentedAttribute[Any], object]] = (),
) -> list[Row]:
    """Up to `limit` rows of `model`, highest id first, below `before_id` (the last id of the
    previous page; None: from the newest), where each column of `equal` has its value (a
    None value filters nothing)."""
    row_id = inspect(model).primary_key[0]
    stmt = select(model).where(*(column == value for column, value in equal if value is not None))
    if before_id is not None:
        stmt = stmt.where(row_id < before_id)
    return list((await session.scalars(stmt.order_by(row_id.desc()).limit(limit))).all())
