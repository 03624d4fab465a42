"""The ports: what the use cases need of the world outside, as Protocols and the values they
exchange.

Services take these types; the adapters implement them (`S3ArchiveStore`, `Relay`,
`StatementPool`, `RowReader`, `RateLimiter`), and the composition root hands the
implementations in. Both sides import this module and never each other: services -> ports <-
adapters (the import contracts in ``pyproject.toml``). A test may pass a fake of its own.

The database ports are `holdem.ports.transaction.Transaction` (the repositories of every area
over one transaction, each area's Protocols in its own module of this package) and two narrow
ones for the raw-connection paths. The repositories in `holdem.adapters.repositories` hold the
SQL; the only statement a service sends is the ledger's one call of `ledger_post`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ClauseElement

__all__ = [
    "ChatSilences",
    "ColumnReader",
    "ColumnRows",
    "Decision",
    "IdempotentStatements",
    "Limit",
    "LiveFigures",
    "LobbyAnnouncer",
    "ObjectStore",
    "Precondition",
    "RateLimits",
    "RawColumnReader",
    "Reader",
    "address_client",
    "user_client",
]


class ObjectStore(Protocol):
    """What the archive needs from an object store (`holdem.adapters.archive_store`)."""

    async def put(self, key: str, body: bytes, metadata: dict[str, str]) -> None:
        """Store ``body`` at ``key``; return only once the store confirmed it."""

    async def get(self, key: str) -> bytes:
        """The bytes at ``key``; raises ``ArchiveObjectMissing`` (code
        ``archive_object_missing``) if absent."""


class ChatSilences(Protocol):
    """Operators' timed chat mutes, which every table server checks
    (`holdem.adapters.chat_store.ChatStore`)."""

    async def silence(self, user: int, until: float) -> None:
        """Refuse the user's chat until the Unix time `until` (replacing a mute in force)."""

    async def unsilence(self, user: int) -> None:
        """Lift the user's mute now."""


class LiveFigures(Protocol):
    """The tables' live lobby figures, as their servers last stored them
    (`holdem.adapters.relay.Relay`)."""

    async def lobby_live(self, table_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Each table's figures (a table no server runs has none)."""


class LobbyAnnouncer(Protocol):
    """What the lobby tells the table servers (`holdem.adapters.relay.Relay`)."""

    async def close_table(self, table_id: int) -> None:
        """Ask the table's owner to finish the table (the operator closed it)."""

    async def publish_lobby(self, entry: dict[str, Any]) -> None:
        """Announce a table on the lobby channel (a closed one is forgotten by the lobby)."""


class IdempotentStatements(Protocol):
    """Statements that are their own transaction and safe to send twice
    (`holdem.adapters.statement_pool.StatementPool`)."""

    async def run_idempotent(self, query: str, params: Sequence[Any]) -> tuple[Any, ...]:
        """Run one statement that is safe to repeat; return its first row."""


class ColumnRows(Protocol):
    """The rows of one read on a raw connection: iterated, or all at once."""

    def all(self) -> list[Any]:
        """Every row."""

    def __iter__(self) -> Iterator[Any]:
        """Each row: it unpacks as a tuple and names its columns."""


class RawColumnReader(Protocol):
    """Column reads on one raw connection (`holdem.adapters.statement_pool.RowReader`)."""

    async def execute(
        self, statement: ClauseElement, parameters: Mapping[str, Any] | None = None
    ) -> ColumnRows:
        """Run one select with its bound parameters; all its rows."""


Reader = AsyncSession | AsyncConnection
"""What a query that selects columns (rows, never ORM objects) runs on: a session, or a bare
connection, which spares a read-only path the session's unit-of-work bookkeeping."""

ColumnReader = AsyncSession | AsyncConnection | RawColumnReader
"""What a query that selects columns can run on: a `Reader`, or a pool's raw reader."""


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` requests per ``window_s`` seconds in one scope."""

    scope: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class Precondition:
    """What other keys must hold for a request to be counted (and allowed)."""

    absent: tuple[str, ...] = ()
    """Keys that must not exist."""
    at_most: tuple[tuple[str, int], ...] = ()
    """(key, bound): the key must not exist or hold an integer no greater than the bound."""


@dataclass(frozen=True)
class Decision:
    """The outcome of one check."""

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: int
    precondition_failed: bool = False
    """The precondition did not hold: refused, and not counted."""


def user_client(user_id: int) -> str:
    """The client name of an authenticated caller (their budget follows them)."""
    return f"user:{user_id}"


def address_client(address: str) -> str:
    """The client name of an anonymous caller."""
    return f"ip:{address}"


class RateLimits(Protocol):
    """Request budgets shared by every instance (`holdem.adapters.rate_limit.RateLimiter`)."""

    async def hit(
        self, limit: Limit, client: str, precondition: Precondition | None = None
    ) -> Decision:
        """Count one request of ``client`` and say whether it is within the limit; with a
        ``precondition``, check it first (not counted if it fails)."""
