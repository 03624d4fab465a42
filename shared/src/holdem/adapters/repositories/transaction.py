"""`holdem.ports.transaction.Transaction` over one SQLAlchemy session.

Each repository is built on first use and bound to the same session: they all read and write
in the caller's transaction, and none of them commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from holdem.ports.transaction import Transaction, Transactions

if TYPE_CHECKING:
    from holdem.adapters.repositories.accounts import (
        SqlAdmin,
        SqlLobby,
        SqlProtection,
        SqlRefreshTokens,
        SqlUsers,
    )
    from holdem.adapters.repositories.aml import SqlAml
    from holdem.adapters.repositories.hands import SqlDailyStats, SqlHandRecords
    from holdem.adapters.repositories.integrity import SqlIntegrity
    from holdem.adapters.repositories.ledger import SqlLedger
    from holdem.adapters.repositories.rakeback import SqlRakeback
    from holdem.adapters.repositories.table_money import SqlTableRecords

__all__ = ["SqlTransaction", "open_transactions", "transactions"]


class SqlTransaction:
    """The SQL repositories over `session` (a session inside a transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @cached_property
    def admin(self) -> SqlAdmin:
        from holdem.adapters.repositories.accounts import SqlAdmin

        return SqlAdmin(self.session)

    @cached_property
    def aml(self) -> SqlAml:
        from holdem.adapters.repositories.aml import SqlAml

        return SqlAml(self.session)

    @cached_property
    def daily_stats(self) -> SqlDailyStats:
        from holdem.adapters.repositories.hands import SqlDailyStats

        return SqlDailyStats(self.session)

    @cached_property
    def hand_records(self) -> SqlHandRecords:
        from holdem.adapters.repositories.hands import SqlHandRecords

        return SqlHandRecords(self.session)

    @cached_property
    def integrity(self) -> SqlIntegrity:
        from holdem.adapters.repositories.integrity import SqlIntegrity

        return SqlIntegrity(self.session)

    @cached_property
    def ledger(self) -> SqlLedger:
        from holdem.adapters.repositories.ledger import SqlLedger

        return SqlLedger(self.session)

    @cached_property
    def lobby(self) -> SqlLobby:
        from holdem.adapters.repositories.accounts import SqlLobby

        return SqlLobby(self.session)

    @cached_property
    def protection(self) -> SqlProtection:
        from holdem.adapters.repositories.accounts import SqlProtection

        return SqlProtection(self.session)

    @cached_property
    def rakeback(self) -> SqlRakeback:
        from holdem.adapters.repositories.rakeback import SqlRakeback

        return SqlRakeback(self.session)

    @cached_property
    def refresh_tokens(self) -> SqlRefreshTokens:
        from holdem.adapters.repositories.accounts import SqlRefreshTokens

        return SqlRefreshTokens(self.session)

    @cached_property
    def table_records(self) -> SqlTableRecords:
        from holdem.adapters.repositories.table_money import SqlTableRecords

        return SqlTableRecords(self.session)

    @cached_property
    def users(self) -> SqlUsers:
        from holdem.adapters.repositories.accounts import SqlUsers

        return SqlUsers(self.session)


@asynccontextmanager
async def _transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Transaction]:
    async with sessions() as session, session.begin():
        yield SqlTransaction(session)


def transactions(
    sessions: async_sessionmaker[AsyncSession],
) -> Transactions:
    """Each call opens a session and begins a transaction (a `SqlTransaction`), committed when
    the ``async with`` block ends and rolled back when it raises."""

    def transaction() -> AbstractAsyncContextManager[Transaction]:
        return _transaction(sessions)

    return transaction


@asynccontextmanager
async def _open(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Transaction]:
    async with sessions() as session:
        yield SqlTransaction(session)


def open_transactions(sessions: async_sessionmaker[AsyncSession]) -> Transactions:
    """Each call opens a session and yields its `SqlTransaction` without beginning one: the use
    case commits what it keeps, whenever it must (the account use cases commit a refresh
    token's revocation and then refuse), and what it did not commit is rolled back when the
    block ends."""

    def transaction() -> AbstractAsyncContextManager[Transaction]:
        return _open(sessions)

    return transaction
