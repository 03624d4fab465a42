"""The lobby: list and inspect tables; operators open and close them; the live lobby channel.

The live lobby (`docs/protocol.md`, "Lobby channel") is fed from two sides: the REST API
announces tables opened and closed (`announce`), and each table's server publishes its
seated count, average pot and hands per hour (`live_figures`) when they change, at most
once per ``WS__LOBBY_INTERVAL_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from holdem.engine.rake import SPEC_RAKE_SCHEDULE
from holdem.ports import LiveFigures, LobbyAnnouncer
from holdem.ports.accounts import NewTable, SeatView, TableFilter, TableRow
from holdem.ports.transaction import Transaction
from holdem.services.admin import record_action
from holdem.services.errors import InvalidInput, NotFound, TableNotOpen
from holdem.services.pagination import Page, decode_cursor, encode_cursor
from holdem.session.table_session import RECENT_HANDS_KEPT

__all__ = [
    "LIVE_MAX_HANDS",
    "LIVE_WINDOW_S",
    "TABLE_STATUSES",
    "NewTable",
    "SeatView",
    "TableDetail",
    "TableFilter",
    "TableSummary",
    "TablesCache",
    "announce",
    "check_new_table",
    "close_table",
    "create_table",
    "default_rake",
    "get_table",
    "list_tables",
    "live_figures",
    "lobby_entry",
    "open_lobby",
    "with_waiting",
]

log = logging.getLogger("holdem.lobby")

TABLE_STATUSES = ("open", "closing", "closed")
LIVE_WINDOW_S = 3600
"""Live figures cover the hands of the last hour..."""
LIVE_MAX_HANDS = RECENT_HANDS_KEPT
"""...and at most this many of them (the newest: as many as a table session keeps)."""


@dataclass(frozen=True)
class TableSummary:
    table: TableRow
    seated: int
    waiting: int = 0
    """Players on the table's wait list (`with_waiting`)."""

    @property
    def free_seats(self) -> int:
        return max(0, self.table.max_seats - self.seated)


@dataclass(frozen=True)
class TableDetail:
    summary: TableSummary
    seats: list[SeatView]


async def list_tables(
    tx: Transaction, where: TableFilter, cursor: str | None, limit: int
) -> Page[TableSummary]:
    """Tables newest first, filtered, one keyset page at a time."""
    before = None
    if cursor is not None:
        created_at, table_id = decode_cursor(cursor, datetime, int)
        before = (created_at, table_id)
    rows = await tx.lobby.tables(where, before, limit + 1)
    items = [TableSummary(table, seated) for table, seated in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1].table
        next_cursor = encode_cursor(last.created_at, last.id)
    return Page(items, next_cursor)


TablesKey = tuple[TableFilter, str | None, int]
"""A lobby page: its filter, cursor and size."""


PageT = TypeVar("PageT")
"""What a `TablesCache` keeps of a page: the page, or its answer ready to send."""


class TablesCache(Generic[PageT]):
    """The lobby pages of the last ``ttl_s`` seconds, in one process.

    The lobby changes at most about once a second (players sit and leave, operators open and
    close tables), and it is the most requested listing: every client entering the lobby asks
    for it. A page is read from PostgreSQL once per ``ttl_s`` per process, whoever asks;
    concurrent requests for a page being read wait for that one read. A failed read is not
    kept. `clear` drops everything (this process opened or closed a table); other processes
    see the change within ``ttl_s``.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        max_pages: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_pages = max_pages
        self._clock = clock
        self._pages: dict[TablesKey, tuple[float, PageT]] = {}
        self._reading: dict[TablesKey, asyncio.Task[PageT]] = {}
        self._generation = 0

    async def get(self, key: TablesKey, read: Callable[[], Awaitable[PageT]]) -> PageT:
        """The page of ``key``: kept if younger than ``ttl_s``, else ``read()`` (once for all
        the requests that ask for it meanwhile)."""
        kept = self._pages.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(key, read, self._generation))
            self._reading[key] = reading
        # Shielded: a request that gives up does not cancel the read the others wait for.
        return await asyncio.shield(reading)

    async def _read(
        self, key: TablesKey, read: Callable[[], Awaitable[PageT]], generation: int
    ) -> PageT:
        try:
            page = await read()
        finally:
            if generation == self._generation:
                del self._reading[key]
        if generation != self._generation:  # cleared meanwhile: may predate the change
            return page
        if len(self._pages) >= self._max_pages:
            now = self._clock()
            self._pages = {k: v for k, v in self._pages.items() if v[0] > now}
            if len(self._pages) >= self._max_pages:
                self._pages.clear()
        self._pages[key] = (self._clock() + self._ttl_s, page)
        return page

    def clear(self) -> None:
        """Forget every kept page; reads under way answer their waiters but are not kept."""
        self._generation += 1
        self._pages.clear()
        self._reading.clear()


async def get_table(tx: Transaction, table_id: int) -> TableDetail:
    """A table with who sits where (never any card).

    Raises:
        NotFound: no such table.
    """
    table = await tx.lobby.get(table_id)
    if table is None:
        raise NotFound("no such table", {"table_id": table_id})
    seats = await tx.lobby.seats(table_id)
    return TableDetail(TableSummary(table, len(seats)), seats)


async def with_waiting(relay: LiveFigures, summaries: list[TableSummary]) -> list[TableSummary]:
    """The tables with their wait-list lengths, as their servers last published them (one
    HMGET; 0 for a table no server runs)."""
    live = await relay.lobby_live([s.table.id for s in summaries])
    return [replace(s, waiting=int(live.get(s.table.id, {}).get("waiting", 0))) for s in summaries]


def lobby_entry(summary: TableSummary) -> dict[str, Any]:
    """A table as the lobby channel shows it: stakes, seats and status (its table server adds
    the live figures)."""
    table = summary.table
    return {
        "table_id": table.id,
        "name": table.name,
        "small_blind": table.small_blind,
        "big_blind": table.big_blind,
        "max_seats": table.max_seats,
        "seated": summary.seated,
        "status": table.status,
    }


async def open_lobby(tx: Transaction, live: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every open table for a new lobby subscriber, with the live figures known for it.

    Args:
        live: The latest figures each table server published, by table id.
    """
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await list_tables(tx, TableFilter(status="open"), cursor, 100)
        for summary in page.items:
            figures = live.get(summary.table.id, {})
            entries.append(
                {
                    **lobby_entry(summary),
                    "avg_pot": int(figures.get("avg_pot", 0)),
                    "hands_per_hour": int(figures.get("hands_per_hour", 0)),
                    "waiting": int(figures.get("waiting", 0)),
                }
            )
        if page.next_cursor is None:
            return entries
        cursor = page.next_cursor


def live_figures(
    table_id: int,
    seated: int,
    recent: Sequence[Sequence[float]],
    now: float,
    *,
    waiting: int = 0,
) -> dict[str, Any]:
    """A table server's live lobby figures.

    Args:
        recent: ``[started_at, ended_at, total_pot]`` of the table's latest hands, oldest
            first (epoch seconds).
        waiting: How many players are on the table's wait list.

    Returns:
        ``table_id``, ``seated``, ``avg_pot`` (whole won, rounded down) and
        ``hands_per_hour`` over the hands of the last hour (at most `LIVE_MAX_HANDS`):
        their count over the time from the first one's start to the last one's end;
        ``waiting``.

    >>> live_figures(7, 3, [[0, 30, 6_000], [30, 90, 10_000]], now=100, waiting=2)
    {'table_id': 7, 'seated': 3, 'avg_pot': 8000, 'hands_per_hour': 80, 'waiting': 2}
    """
    since = now - LIVE_WINDOW_S
    hands = [h for h in recent[-LIVE_MAX_HANDS:] if h[0] >= since]
    avg_pot = hands_per_hour = 0
    if hands:
        avg_pot = sum([int(h[2]) for h in hands]) // len(hands)
        span = max(1.0, float(hands[-1][1]) - float(hands[0][0]))
        hands_per_hour = int(len(hands) * 3600 / span)
    return {
        "table_id": table_id,
        "seated": seated,
        "avg_pot": avg_pot,
        "hands_per_hour": hands_per_hour,
        "waiting": waiting,
    }


async def announce(relay: LobbyAnnouncer, summary: TableSummary) -> None:
    """Tell lobby subscribers a table was opened or closed, and the owner of a table that is
    closing to finish it (best effort: a subscriber that misses it sees the table as it is on
    its next subscribe; a table's next owner reads 'closing' from PostgreSQL)."""
    try:
        if summary.table.status == "closing":  # the owner first: the lobby can wait
            await relay.close_table(summary.table.id)
        await relay.publish_lobby(lobby_entry(summary))
    except Exception:
        log.warning("lobby announcement failed", exc_info=True)


def default_rake(small_blind: int, big_blind: int) -> tuple[int, int]:
    """The rake rate (basis points) and cap (won) of SPEC §4.1 for these stakes."""
    rule = SPEC_RAKE_SCHEDULE.rule_for(small_blind, big_blind)
    bps = rule.rate * 10_000
    return int(bps), rule.cap


def check_new_table(spec: NewTable) -> None:
    """The rules of a table definition that the schema cannot express alone.

    Raises:
        InvalidInput: a rule is broken (``details.field`` names it).
    """
    if spec.big_blind < spec.small_blind:
        raise InvalidInput("the big blind must be at least the small blind", {"field": "big_blind"})
    if spec.max_buy_in < spec.min_buy_in:
        raise InvalidInput("max_buy_in must be at least min_buy_in", {"field": "max_buy_in"})
    if spec.min_buy_in < spec.big_blind:
        raise InvalidInput("min_buy_in must be at least one big blind", {"field": "min_buy_in"})


async def create_table(tx: Transaction, spec: NewTable, actor_id: int) -> TableSummary:
    """Open a new table (operators; audited).

    Raises:
        InvalidInput: see `check_new_table`.
    """
    check_new_table(spec)
    table = await tx.lobby.add(spec)
    await record_action(tx, actor_id, "create_table", target_table_id=table.id, details=vars(spec))
    await tx.session.commit()
    await tx.lobby.reload(table)
    return TableSummary(table, 0)


async def close_table(tx: Transaction, table_id: int, actor_id: int) -> TableSummary:
    """Close a table (audited): 'closing' while players still sit (its table server deals no
    more hands, cashes everybody out after the last one and marks it 'closed'), 'closed'
    when it is empty.

    Raises:
        NotFound: no such table.
        TableNotOpen: it is already closing or closed.
    """
    table = await tx.lobby.get(table_id, lock=True)
    if table is None:
        raise NotFound("no such table", {"table_id": table_id})
    if table.status != "open":
        raise TableNotOpen("the table is not open", {"status": table.status})
    seated = await tx.lobby.seated(table_id)
    now = datetime.now(UTC)
    status = "closing" if seated else "closed"
    await tx.lobby.set_status(table_id, status, None if seated else now)
    await record_action(tx, actor_id, "close_table", target_table_id=table_id)
    await tx.session.commit()
    await tx.lobby.reload(table)
    return TableSummary(table, seated)
