"""`holdem.ports.transaction.Transaction` over one SQLAlchemy session.

Each repository is built on first use and bound to the same session: they all read and write
in the caller's transaction, and none of them commits.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SqlTransaction"]


class SqlTransaction:
    """The SQL repositories over `session` (a session inside a transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
