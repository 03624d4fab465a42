"""`holdem.ports.transaction.Transaction` over one SQLAlchemy session.

Each repository is built on first use and bound to the same session: they all read and write
in the caller's transaction, and none of them commits.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from holdem.adapters.repositories.accounts import (
        SqlAdmin,
        SqlLobby,
        SqlProtection,
        SqlRefreshTokens,
        SqlUsers,
    )

__all__ = ["SqlTransaction"]


class SqlTransaction:
    """The SQL repositories over `session` (a session inside a transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @cached_property
    def admin(self) -> SqlAdmin:
        from holdem.adapters.repositories.accounts import SqlAdmin

        return SqlAdmin(self.session)

    @cached_property
    def lobby(self) -> SqlLobby:
        from holdem.adapters.repositories.accounts import SqlLobby

        return SqlLobby(self.session)

    @cached_property
    def protection(self) -> SqlProtection:
        from holdem.adapters.repositories.accounts import SqlProtection

        return SqlProtection(self.session)

    @cached_property
    def refresh_tokens(self) -> SqlRefreshTokens:
        from holdem.adapters.repositories.accounts import SqlRefreshTokens

        return SqlRefreshTokens(self.session)

    @cached_property
    def users(self) -> SqlUsers:
        from holdem.adapters.repositories.accounts import SqlUsers

        return SqlUsers(self.session)
