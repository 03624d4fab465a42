"""One database transaction and the repositories working in it (cosmicpython's unit of work).

A use case that reads or writes the database takes a `Transaction`: the repositories of every
area, all bound to the same PostgreSQL transaction, so that the use cases it calls (the ledger,
player protection, AML, the integrity checks) write in that transaction too. Services depend on
this Protocol and on the repository Protocols of `holdem.ports`; the SQLAlchemy implementation
is `holdem.adapters.repositories.transaction.SqlTransaction`, built by the entry points (the API,
the table servers, the Lambda handlers) or by the composition root. Who begins the transaction
commits it; a repository never commits.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:  # the area ports name `Transaction` too (a use case takes it whole)
    from holdem.auth.refresh import RefreshTokenStore
    from holdem.ports.accounts import (
        AdminRepository,
        LobbyRepository,
        ProtectionRepository,
        UserRepository,
    )
    from holdem.ports.aml import AmlRepository
    from holdem.ports.hands import DailyStatsRepository, HandRecordRepository
    from holdem.ports.integrity import IntegrityRepository
    from holdem.ports.ledger import LedgerRepository
    from holdem.ports.rakeback import RakebackRepository
    from holdem.ports.table_money import TableRecords

__all__ = ["Transaction", "Transactions"]


class Transaction(Protocol):
    """The repositories over one database transaction.

    Each area adds its repository here as a read-only property, and its SQL implementation to
    `SqlTransaction`.
    """

    @property
    def admin(self) -> AdminRepository:
        """The operators' audit log and work lists."""
        ...

    @property
    def aml(self) -> AmlRepository:
        """AML flags, and the deposits and addresses their rules read."""
        ...

    @property
    def daily_stats(self) -> DailyStatsRepository:
        """The operators' daily figures of the hot hands."""
        ...

    @property
    def hand_records(self) -> HandRecordRepository:
        """Completed hands as records, hot and archived."""
        ...

    @property
    def integrity(self) -> IntegrityRepository:
        """Logins, the hands the integrity signals read, their flags and runs."""
        ...

    @property
    def ledger(self) -> LedgerRepository:
        """The ledger's rows (money itself is written only by ``ledger_post``)."""
        ...

    @property
    def lobby(self) -> LobbyRepository:
        """The tables and who sits at them."""
        ...

    @property
    def protection(self) -> ProtectionRepository:
        """Players' limits and exclusions, and the figures they count."""
        ...

    @property
    def rakeback(self) -> RakebackRepository:
        """Rake paid and the weekly rakeback settlements."""
        ...

    @property
    def refresh_tokens(self) -> RefreshTokenStore:
        """The stored refresh tokens (login sessions)."""
        ...

    @property
    def table_records(self) -> TableRecords:
        """The tables, seats and finished hands of the table servers."""
        ...

    @property
    def users(self) -> UserRepository:
        """The accounts."""
        ...

    @property
    def session(self) -> AsyncSession:
        """The transaction itself, for the calls that still take it (ledger posting)."""
        ...


Transactions = Callable[[], AbstractAsyncContextManager[Transaction]]
"""Begins a database transaction (a `Transaction`), committed when the ``async with`` block
ends and rolled back when it raises."""
