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

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.ports.table_money import TableRecords

__all__ = ["Transaction"]


class Transaction(Protocol):
    """The repositories over one database transaction.

    Each area adds its repository here as a read-only property, and its SQL implementation to
    `SqlTransaction`.
    """

    @property
    def session(self) -> AsyncSession:
        """The transaction itself, for the calls that still take it (ledger posting)."""
        ...

    @property
    def table_records(self) -> TableRecords:
        """The tables, seats and finished hands of the table servers."""
        ...
