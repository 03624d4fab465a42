"""The ports of the table servers' use cases (`holdem.services.table_runtime`,
`holdem.services.rathole`): the tables and seats they read and write, the finished hands
they record, and the settlement's own transaction.

`TableRecords` is one repository of a `holdem.ports.transaction.Transaction`
(``tx.table_records``); `Settlements` is the settlement's hot path: one statement that writes a
hand and posts it (`Settlements.at_once`), or a transaction of its own
(`SettlementTransaction`). `holdem.adapters.repositories.table_money` implements them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from holdem.ledger.audit import Around
from holdem.ports.accounts import TableRow
from holdem.session.settlement import HandSettlement

__all__ = [
    "AtOnce",
    "Departure",
    "HandPost",
    "SettlementTransaction",
    "Settlements",
    "TableRecords",
    "TableRow",
]


@dataclass(frozen=True, slots=True)
class Departure:
    """When a player last left a table, and with what stack (the rathole rule's input)."""

    left_at: datetime
    left_with: int | None


class TableRecords(Protocol):
    """The tables, seats and finished hands of the table servers, in one transaction."""

    async def table(self, table_id: int, *, for_update: bool = False) -> TableRow | None:
        """The table (None: no such table); `for_update` locks its row until commit."""
        ...

    async def open_seats(self, table_id: int) -> list[tuple[int, int]]:
        """``(seat_no, user_id)`` of the seats open at the table, by seat number."""
        ...

    async def add_seat(self, table_id: int, seat_no: int, user_id: int) -> None:
        """Record a player sitting down.

        Raises:
            SeatTakenError: the seat, or another seat of this player, is open at the table;
                nothing was written.
        """
        ...

    async def close_seat(
        self, table_id: int, user_id: int, left_at: datetime, left_with: int
    ) -> bool:
        """Close the player's open seat at the table; False when there was none."""
        ...

    async def last_departure(
        self, user_id: int, small_blind: int, big_blind: int, since: datetime
    ) -> Departure | None:
        """The player's latest seat left after `since` at any table of these stakes."""
        ...

    async def fence_floor(self, table_id: int) -> int:
        """The highest fencing token that settled a hand at the table (0: none yet)."""
        ...

    async def last_hand_number(self, table_id: int) -> int:
        """The highest hand number recorded at the table, hot or archived (0: none yet)."""
        ...

    async def add_hand_rows(self, settlement: HandSettlement) -> int | None:
        """Add a finished hand's rows (the hand, its events in order, each player's part) in
        one statement; the hand's id, or None when the table already has that hand number,
        hot or archived (nothing is written then)."""
        ...


class SettlementTransaction(Protocol):
    """One finished hand's settlement transaction: the hand's rows, then the ledger's post.

    ``run_idempotent`` is what the ledger posts through (`holdem.services.ledger.posting.
    Standalone`): here it runs ``ledger_post`` inside this transaction, which commits when
    the block that began it ends. Nothing is sent twice inside it; the whole transaction may
    be (keyed by table and hand number).
    """

    async def add_hand_rows(self, settlement: HandSettlement) -> int | None:
        """As `TableRecords.add_hand_rows`, in this transaction."""
        ...

    async def run_idempotent(self, query: str, params: Sequence[Any]) -> tuple[Any, ...]:
        """Run one statement of the ledger in this transaction; its first row."""
        ...


@dataclass(frozen=True, slots=True)
class HandPost:
    """The ledger's post of a finished hand (``ledger_post``'s arguments, as
    `holdem.services.ledger.settle_hand` sends them) before PostgreSQL has numbered the hand:
    its key and its request's canonical body hold the hand's id (`Around`); the request hash
    is the SHA-256 (hex) of the filled body. Built by `holdem.services.ledger.hand_post`."""

    key: Around
    request: Around
    metadata: str
    legs: str
    table_id: int
    fencing_token: int


class AtOnce(Enum):
    """What `Settlements.at_once` did."""

    WRITTEN = "written"
    """The hand's rows and its post are committed."""
    ALREADY_WRITTEN = "already_written"
    """The table has that hand number already (hot, or archived): nothing was written."""
    REFUSED = "refused"
    """The ledger refused the post: nothing was written (the refusal is not carried; the
    settlement's transaction, run again, raises it as the ledger's typed error)."""


class Settlements(Protocol):
    """Where the table servers settle their finished hands."""

    async def at_once(self, settlement: HandSettlement, post: HandPost | None) -> AtOnce:
        """Write the hand's rows and, when `post` is given, post it with the hand's id, in one
        statement (its own transaction: one round trip); nothing when the table has that hand
        number already (hot, or archived), nothing either when the ledger refuses the post."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[SettlementTransaction]:
        """Begin a settlement transaction, committed when the block ends (rolled back when it
        raises)."""
        ...
