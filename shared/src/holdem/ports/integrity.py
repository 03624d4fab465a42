"""The ports of the integrity signals (`holdem.services.integrity`): logins, the hands the
signals read, their flags in the operators' queue and the record of each run.

`holdem.adapters.repositories.integrity` implements them with SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

__all__ = ["IntegrityRepository", "Login", "NewRun", "RunRow", "SignalHand"]


class Login(NamedTuple):
    """One recorded connection of a player."""

    user_id: int
    ip: str
    device_id: str | None


@dataclass(frozen=True, slots=True)
class SignalHand:
    """What the signals read of one stored hand (`holdem.ledger.integrity.read_hand`'s input)."""

    hand_id: int
    big_blind: int
    seats: dict[int, int]
    """Seat → user."""
    nets: dict[int, int]
    """User → chips won or lost."""
    holes: dict[int, str]
    """User → hole cards."""
    events: list[dict[str, Any]]
    """The payloads of the events the signals read, in order."""


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run of the signals to record."""

    trigger: str
    operator_id: int | None
    window_from: datetime
    window_to: datetime
    hands: int
    thresholds: dict[str, Any]
    counts: dict[str, int]
    flag_ids: list[int]


class RunRow(Protocol):
    """A recorded run (``integrity_runs``)."""

    @property
    def id(self) -> int: ...

    @property
    def trigger(self) -> str: ...

    @property
    def operator_id(self) -> int | None: ...

    @property
    def window_from(self) -> datetime: ...

    @property
    def window_to(self) -> datetime: ...

    @property
    def hands(self) -> int: ...

    @property
    def thresholds(self) -> dict[str, Any]: ...

    @property
    def counts(self) -> dict[str, Any]: ...

    @property
    def flag_ids(self) -> list[int]: ...

    @property
    def created_at(self) -> datetime: ...


class IntegrityRepository(Protocol):
    """The integrity signals' reads and writes, in one transaction."""

    async def add_login(self, user_id: int, ip: str, device_id: str | None) -> None:
        """Keep one authenticated connection's address and device."""
        ...

    async def seated_others(self, table_id: int, user_id: int) -> list[int]:
        """The players seated at the table now, other than ``user_id``."""
        ...

    async def logins(
        self, user_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[Login]:
        """The logins of ``user_ids`` in ``[since, until]``."""
        ...

    async def hands_ended(self, since: datetime, until: datetime) -> list[SignalHand]:
        """The hands that ended in ``[since, until)`` and have players, by id."""
        ...

    async def open_flags(
        self, rules: Collection[str], statuses: Collection[str]
    ) -> set[tuple[str, int, int | None]]:
        """(rule, player, other player) of the flags of ``rules`` in ``statuses``."""
        ...

    async def file_flag(
        self, user_id: int, rule: str, subject: str, details: dict[str, Any]
    ) -> int | None:
        """File a flag; its id, or None when one of the rule and subject was already filed."""
        ...

    async def add_run(self, run: NewRun) -> RunRow:
        """Record a run; the row as stored (its id and time set)."""
        ...

    async def runs(self, limit: int, before_id: int | None) -> Sequence[RunRow]:
        """Recorded runs, newest first, those before ``before_id`` when it is given."""
        ...
