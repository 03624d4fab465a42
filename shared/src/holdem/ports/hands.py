"""The ports of the stored hands: their records, hot and archived, the players' hand history,
and the operators' daily figures.

The use cases of `holdem.services.archive`, `hand_audit`, `hand_export`, `hand_history` and
`stats` depend on these Protocols and values only; `holdem.adapters.repositories.hands`
implements them with SQLAlchemy. A hand is hot (``hands``, ``hand_players``, ``hand_events``)
for seven days, then archived: its record is in an S3 object, found through the index
(``archived_hands``), and who played it stays in ``archived_hand_players``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

__all__ = [
    "ArchiveEntry",
    "DailyStatsRepository",
    "DayFigures",
    "EventRow",
    "HandHistoryReads",
    "HandRecord",
    "HandRecordRepository",
    "HotHand",
    "HotHandFacts",
    "HotSeat",
    "PlayerHandRef",
    "PlayerRow",
    "StakeDay",
    "TableFacts",
]

# --- values --------------------------------------------------------------------------------


class EventRow(NamedTuple):
    """A ``hand_events`` row."""

    seq_no: int
    type: str
    seat_no: int | None
    payload: dict[str, Any]


class PlayerRow(NamedTuple):
    """A ``hand_players`` row."""

    seat_no: int
    user_id: int
    started_at: datetime
    hole_cards: str
    shown: bool
    net: int
    rake_share: int


@dataclass(frozen=True, slots=True)
class HandRecord:
    """A completed hand with its events (in ``seq_no`` order) and players (seat order)."""

    id: int
    table_id: int
    hand_no: int
    started_at: datetime
    ended_at: datetime
    small_blind: int
    big_blind: int
    button_seat: int
    board: str
    total_pot: int
    rake: int
    deck_commitment: str
    deck_seed: str
    result: dict[str, Any]
    events: tuple[EventRow, ...]
    players: tuple[PlayerRow, ...]
    archived: bool = field(default=False, compare=False)
    chat: tuple[dict[str, Any], ...] = ()
    """The table's chat lines since the previous hand, for operators (never in a player's
    history or export)."""


class PlayerHandRef(NamedTuple):
    """A hand a player sat in."""

    hand_id: int
    started_at: datetime
    archived: bool


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """Where an archived hand is: the object and its place in the object's batch."""

    hand_id: int
    object_key: str
    position: int


@dataclass(frozen=True, slots=True)
class TableFacts:
    """What an export names of the table a hand was played at."""

    name: str
    seats: int


class StakeDay(NamedTuple):
    """One stake's hands of a day: count, rake and pots."""

    small_blind: int
    big_blind: int
    hands: int
    rake: int
    pots: int


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One row of ``daily_stats``."""

    day: date
    stakes: str
    small_blind: int | None
    big_blind: int | None
    hands: int
    rake: int
    pots: int
    active_players: int


# --- repositories --------------------------------------------------------------------------


class HandRecordRepository(Protocol):
    """Completed hands as records, hot and archived, in one transaction."""

    async def hot_hands(self, hand_ids: Sequence[int]) -> list[HandRecord]:
        """Hot hands by id (those found), in id order, with events and players."""
        ...

    async def archive_entries(self, hand_ids: Collection[int]) -> list[ArchiveEntry]:
        """Where each archived hand of ``hand_ids`` is (the others are left out)."""
        ...

    async def player_hands(
        self, user_id: int, since: datetime, until: datetime, limit: int
    ) -> list[PlayerHandRef]:
        """The player's hands started in ``[since, until)``, newest first, hot and archived."""
        ...

    async def lock_oldest_due(self, cutoff: datetime) -> tuple[int, datetime] | None:
        """The table and start of the oldest hot hand started before ``cutoff``, locked
        (``FOR UPDATE SKIP LOCKED``: a hand another archiver holds is passed over)."""
        ...

    async def lock_table_hands(self, table_id: int, since: datetime, until: datetime) -> list[int]:
        """Lock and list, in id order, the table's hot hands started in ``[since, until)``
        (skipping those another archiver holds)."""
        ...

    async def move_to_archive(self, object_key: str, hands: Sequence[HandRecord]) -> None:
        """Index ``hands`` as the batch at ``object_key`` (in order), keep who played them and
        their rake, and delete their hot rows. Repeating it with the same hands is harmless."""
        ...

    async def nicknames(self, user_ids: Collection[int]) -> dict[int, str]:
        """Each known user's nickname."""
        ...

    async def tables(self, table_ids: Collection[int]) -> dict[int, TableFacts]:
        """Each known table's name and number of seats."""
        ...


class HotHandFacts(NamedTuple):
    """A hot hand's own columns in `holdem.services.hand_history.HandSummary`'s order (its
    first 10 fields; the player's seat, cards and net follow)."""

    hand_id: int
    table_id: int
    hand_no: int
    started_at: datetime
    ended_at: datetime
    small_blind: int
    big_blind: int
    board: str
    total_pot: int
    rake: int


class HotSeat(NamedTuple):
    """One seat of a hot hand as its history shows it (`HotHand.seats`)."""

    seat_no: int
    hole_cards: str
    net: int
    user_id: int
    shown: bool
    nickname: str


@dataclass(frozen=True, slots=True)
class HotHand:
    """A hot hand with its seats and events, read in one round trip
    (`HandHistoryReads.hot_hand`)."""

    facts: HotHandFacts
    button_seat: int
    deck_commitment: str
    result: dict[str, Any] | None
    seats: Sequence[HotSeat]
    """In seat order."""
    events: Sequence[EventRow]
    """In ``seq_no`` order."""


class HandHistoryReads(Protocol):
    """The reads of a player's hand history: rows, never changed (the REST API runs them on a
    raw connection, `holdem.adapters.statement_pool.RowReader`)."""

    async def summaries(
        self, user_id: int, after: tuple[datetime, int] | None, limit: int
    ) -> Sequence[Sequence[Any]]:
        """The user's hot hands, newest first, after a cursor's ``(started_at, hand id)``:
        each row holds `holdem.services.hand_history.HandSummary`'s fields, in order."""
        ...

    async def hot_hand(self, hand_id: int) -> HotHand | None:
        """A hot hand with its seats and events (None: no such hot hand)."""
        ...

    async def nicknames(self, user_ids: Collection[int]) -> dict[int, str]:
        """Each known user's nickname."""
        ...


class DailyStatsRepository(Protocol):
    """The hot hands' figures per day, and the stored ``daily_stats``."""

    async def stakes(self, since: datetime, until: datetime) -> list[StakeDay]:
        """Per stake, the hands started in ``[since, until)``."""
        ...

    async def players_by_stake(
        self, since: datetime, until: datetime
    ) -> dict[tuple[int, int], int]:
        """Per ``(small blind, big blind)``, the distinct players of those hands."""
        ...

    async def players(self, since: datetime, until: datetime) -> int:
        """The distinct players of the hands started in ``[since, until)``."""
        ...

    async def replace_day(self, day: date, figures: Sequence[DayFigures]) -> None:
        """Store ``figures`` as the day's rows, replacing any stored before."""
        ...

    async def days(self, since: date, until: date) -> list[DayFigures]:
        """Stored figures of the days ``since`` to ``until`` inclusive, oldest first, each day's
        stakes by big blind then small blind (``"all"`` last)."""
        ...
