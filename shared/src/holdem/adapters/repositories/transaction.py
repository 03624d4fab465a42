"""`holdem.ports.transaction.Transaction` over one SQLAlchemy session.

Each repository is built on first use and bound to the same session: they all read and write
in the caller's transaction, and none of them commits.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from holdem.adapters.repositories.table_money import SqlTableRecords

__all__ = ["SqlTransaction"]


class SqlTransaction:
    """The SQL repositories over `session` (a session inside a transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @cached_property
    def table_records(self) -> SqlTableRecords:
        """`holdem.ports.table_money.TableRecords` in this transaction."""
        from holdem.adapters.repositories.table_money import SqlTableRecords

        return SqlTableRecords(self.session)
