"""The ports of the account, operator, lobby and player-protection use cases.

`holdem.services.accounts`, `admin`, `chat_moderation`, `lobby` and `protection` read and
write through these repositories, reached from a `holdem.ports.transaction.Transaction`
(``tx.users``, ``tx.admin``, ``tx.lobby``, ``tx.protection``; the refresh tokens are
``tx.refresh_tokens``, `holdem.auth.refresh.RefreshTokenStore`). The SQLAlchemy side is
`holdem.adapters.repositories.accounts`. Rows a repository returns belong to it: what a use
case changes on their mutable attributes is written when the transaction commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from holdem.ports.payments import WithdrawalRow

__all__ = [
    "AdminRepository",
    "LobbyRepository",
    "NewTable",
    "ProtectionRepository",
    "ProtectionRow",
    "SeatView",
    "TableFilter",
    "TableRow",
    "UserRepository",
    "UserRow",
]


# --- users -----------------------------------------------------------------------------------


class UserRow(Protocol):
    """A player's or operator's account."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...

    @property
    def nickname(self) -> str: ...

    @property
    def password_hash(self) -> str: ...

    @property
    def kyc_status(self) -> str: ...

    @property
    def kyc_updated_at(self) -> datetime | None: ...

    @property
    def date_of_birth(self) -> date | None: ...

    @property
    def country(self) -> str | None: ...

    @property
    def created_at(self) -> datetime: ...

    role: str
    is_locked: bool


class UserRepository(Protocol):
    """The ``users`` table."""

    async def get(self, user_id: int, *, lock: bool = False) -> UserRow | None:
        """The user (its row locked if asked), or None."""
        ...

    async def by_email(self, email: str) -> UserRow | None:
        """The user with this (normalised) email, or None."""
        ...

    async def id_by_email(self, email: str) -> int | None:
        """The id of the user with this (normalised) email, or None."""
        ...

    async def holder_of(self, email: str, nickname: str) -> str | None:
        """The email of a user who has this email or this nickname (None: both are free)."""
        ...

    async def add(
        self,
        email: str,
        nickname: str,
        password_hash: str,
        date_of_birth: date | None,
        country: str | None,
    ) -> UserRow:
        """Insert a player account (flushed).

        Raises:
            EmailTaken, NicknameTaken: a concurrent registration took it first.
        """
        ...

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Store a new hash of the user's password."""
        ...


# --- the operators' audit log and listings ---------------------------------------------------


class AdminRepository(Protocol):
    """The operators' audit log (``admin_actions``) and their work lists."""

    def record(
        self,
        actor_id: int,
        action: str,
        target_user_id: int | None,
        target_table_id: int | None,
        details: dict[str, Any],
    ) -> None:
        """Add an audit row to the transaction (written at its next flush)."""
        ...

    async def withdrawals_by_due(
        self, status: str, after: tuple[datetime, int] | None, limit: int
    ) -> Sequence[WithdrawalRow]:
        """At most `limit` withdrawals in `status`, by (due time, id), after `after`."""
        ...


# --- the lobby -------------------------------------------------------------------------------


class TableRow(Protocol):
    """A poker table's definition and status. A use case may close it (``status``,
    ``closed_at``): the change is written when its transaction commits."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def small_blind(self) -> int: ...

    @property
    def big_blind(self) -> int: ...

    @property
    def max_seats(self) -> int: ...

    @property
    def min_buy_in(self) -> int: ...

    @property
    def max_buy_in(self) -> int: ...

    @property
    def rake_rate_bps(self) -> int: ...

    @property
    def rake_cap(self) -> int: ...

    status: str

    @property
    def created_at(self) -> datetime: ...

    closed_at: datetime | None


@dataclass(frozen=True)
class TableFilter:
    """Which tables a lobby page lists."""

    status: str = "open"
    small_blind: int | None = None
    big_blind: int | None = None
    min_free_seats: int = 0
    max_seats: int | None = None


@dataclass(frozen=True)
class NewTable:
    """An operator's definition of a table to open."""

    name: str
    small_blind: int
    big_blind: int
    max_seats: int
    min_buy_in: int
    max_buy_in: int
    rake_rate_bps: int
    rake_cap: int


@dataclass(frozen=True)
class SeatView:
    """Who sits in one seat (never any card)."""

    seat_no: int
    user_id: int
    nickname: str
    sat_at: datetime


class LobbyRepository(Protocol):
    """The ``poker_tables`` and their open ``seats``."""

    async def tables(
        self, where: TableFilter, before: tuple[datetime, int] | None, limit: int
    ) -> Sequence[tuple[TableRow, int]]:
        """At most `limit` tables and their seated counts, newest (created_at, id) first,
        strictly before `before`."""
        ...

    async def get(self, table_id: int, *, lock: bool = False) -> TableRow | None:
        """The table (its row locked if asked), or None."""
        ...

    async def seats(self, table_id: int) -> list[SeatView]:
        """The table's open seats, by seat number."""
        ...

    async def seated(self, table_id: int) -> int:
        """How many seats of the table are open."""
        ...

    async def add(self, spec: NewTable) -> TableRow:
        """Insert an open table (flushed: it has its id)."""
        ...

    async def set_status(self, table_id: int, status: str, closed_at: datetime | None) -> None:
        """Change a table's status and closing time."""
        ...

    async def reload(self, table: TableRow) -> None:
        """Read the table's columns again (after a commit)."""
        ...


# --- player protection -----------------------------------------------------------------------


class ProtectionRow(Protocol):
    """A player's limits (won per window; minutes), pending changes and exclusion."""

    @property
    def user_id(self) -> int: ...

    deposit_day: int | None
    deposit_week: int | None
    deposit_month: int | None
    loss_day: int | None
    loss_week: int | None
    loss_month: int | None
    session_minutes: int | None
    reality_check_minutes: int | None
    pending: dict[str, Any]
    exclusion_kind: str | None
    excluded_at: datetime | None
    excluded_until: datetime | None
    updated_at: datetime


class ProtectionRepository(Protocol):
    """``player_protection``, and the ledger figures and seats the limits count."""

    async def get(self, user_id: int, *, lock: bool = False) -> ProtectionRow | None:
        """The player's row (locked if asked), or None when they never set anything."""
        ...

    async def lock_or_create(self, user_id: int) -> ProtectionRow | None:
        """The player's row, locked, created when missing; None when there is no such user."""
        ...

    async def excluded_until(self, user_id: int) -> datetime | None:
        """The stored end of the player's exclusion (past or running), if any."""
        ...

    async def usage(
        self, user_id: int, starts: Mapping[str, datetime]
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Per window (name → start; ``month`` the earliest): won credited to the wallet as
        playable, and the net result of hand settlements."""
        ...

    async def seated_tables(self, user_id: int) -> list[int]:
        """The tables where the player has an open seat, ascending."""
        ...

    async def seats_since(
        self, user_id: int, since: datetime
    ) -> Sequence[tuple[datetime, datetime | None]]:
        """(sat_at, left_at) of the player's seats open or left since `since`, latest first."""
        ...
