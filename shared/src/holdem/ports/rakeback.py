"""The port of the weekly rakeback (`holdem.services.rakeback`): the rake each player paid,
and the settlements that pay each (user, week) once.

`holdem.adapters.repositories.rakeback` implements it with SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

__all__ = ["RakebackRepository", "SettlementRow"]


class SettlementRow(Protocol):
    """A user's settlement of one week (``rakeback_settlements``)."""

    @property
    def user_id(self) -> int: ...

    @property
    def week_start(self) -> date: ...

    @property
    def rake_paid(self) -> int: ...

    @property
    def level(self) -> str: ...

    @property
    def rate_bps(self) -> int: ...

    @property
    def amount(self) -> int: ...

    @property
    def ledger_transaction_id(self) -> int | None: ...

    @property
    def created_at(self) -> datetime: ...


class RakebackRepository(Protocol):
    """Rake paid and rakeback settlements, in one transaction."""

    async def rake_by_user(
        self, start: datetime, end: datetime, user_ids: Sequence[int] | None
    ) -> dict[int, int]:
        """Rake attributed to each user (of ``user_ids``, or every user) in hands started in
        ``[start, end)``, hot and archived; users whose rake is 0 are left out."""
        ...

    async def settled_users(self, week_start: date) -> set[int]:
        """The users whose settlement of the week is paid or owed nothing."""
        ...

    async def claim_settlement(
        self, user_id: int, week_start: date, rake_paid: int, level: str, rate_bps: int, amount: int
    ) -> SettlementRow:
        """The user's settlement of the week, inserted with these figures unless one exists,
        and locked (``FOR UPDATE``) until the transaction ends."""
        ...

    async def record_payment(self, settlement: SettlementRow, ledger_transaction_id: int) -> None:
        """Mark a claimed settlement paid by the ledger transaction."""
        ...

    async def settlements_of(self, user_id: int, limit: int) -> Sequence[SettlementRow]:
        """A user's settlements, newest week first."""
        ...
