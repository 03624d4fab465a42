"""The AML flags' repository (cosmicpython's): what `holdem.services.aml` needs of the stored
flags, and of the deposits and addresses its rules read.

The SQL implementation is `holdem.adapters.repositories.aml`. A flag row a repository returns
belongs to it: the use case changes its attributes and the change is written at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

__all__ = ["AmlFlagRow", "AmlRepository"]


class AmlFlagRow(Protocol):
    """One AML flag: a rule that fired on a subject (a deposit, a withdrawal)."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def rule(self) -> str: ...

    @property
    def subject(self) -> str: ...

    @property
    def details(self) -> dict[str, Any]: ...

    @property
    def created_at(self) -> datetime: ...

    status: str
    withdrawal_id: int | None
    reviewed_by: int | None
    reviewed_at: datetime | None
    resolved_by: int | None
    resolved_at: datetime | None
    resolution_note: str | None


class AmlRepository(Protocol):
    """AML flags, and what their rules read of deposits and addresses."""

    async def file(self, user_id: int, rule: str, subject: str, details: dict[str, Any]) -> None:
        """Store a flag, once per rule and subject: a second one is dropped."""
        ...

    async def credited_deposits_since(self, user_id: int, since: datetime) -> list[int]:
        """The won credited to the user by deposits (each deposit's credit legs) since
        `since`, from the ledger."""
        ...

    async def other_owners(self, user_id: int, coin: str, address: str) -> list[int]:
        """Up to 20 other users, ascending, who withdrew `coin` to `address` or were issued
        it as a deposit address (compared case-insensitively)."""
        ...

    async def has_open(self, user_id: int, rules: Sequence[str], statuses: Sequence[str]) -> bool:
        """Whether the user has a flag of one of `rules` in one of `statuses`."""
        ...

    async def unlinked(
        self, user_id: int, rules: Sequence[str], statuses: Sequence[str]
    ) -> Sequence[AmlFlagRow]:
        """The user's flags of `rules` in `statuses` that hold no withdrawal yet."""
        ...

    async def listing(
        self,
        status: str | None,
        user_id: int | None,
        rule: str | None,
        limit: int,
        before_id: int | None,
    ) -> Sequence[AmlFlagRow]:
        """Flags newest first, by status, user and/or rule, below `before_id`."""
        ...

    async def lock(self, flag_id: int) -> AmlFlagRow | None:
        """The flag, locked; None if there is none."""
        ...
