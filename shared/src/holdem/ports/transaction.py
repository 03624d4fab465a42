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

from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from holdem.auth.refresh import RefreshTokenStore
    from holdem.ports.accounts import (
        AdminRepository,
        LobbyRepository,
        ProtectionRepository,
        UserRepository,
    )

__all__ = ["Transaction"]


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
    def lobby(self) -> LobbyRepository:
        """The tables and who sits at them."""
        ...

    @property
    def protection(self) -> ProtectionRepository:
        """Players' limits and exclusions, and the figures they count."""
        ...

    @property
    def refresh_tokens(self) -> RefreshTokenStore:
        """The stored refresh tokens (login sessions)."""
        ...

    @property
    def session(self) -> AsyncSession:
        """The transaction itself, for the calls that still take it (ledger posting)."""
        ...

    @property
    def users(self) -> UserRepository:
        """The accounts."""
        ...
