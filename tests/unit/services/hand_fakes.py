"""In-memory fakes of the stored hands' ports (`holdem.ports.hands`, `integrity`, `rakeback`).

A `FakeHands` database holds hot and archived hands, logins, flags and settlements; a
`FakeTransaction` exposes its repositories as `holdem.ports.transaction.Transaction` does.
Locks mean nothing here (one task at a time): the real repositories' locking and SQL are tested
against PostgreSQL in ``tests/integration/economy``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from holdem.ports.hands import (
    ArchiveEntry,
    DayFigures,
    HandRecord,
    PlayerHandRef,
    StakeDay,
    TableFacts,
)
from holdem.ports.integrity import Login, NewRun, SignalHand


@dataclass
class FakeSettlement:
    user_id: int
    week_start: date
    rake_paid: int
    level: str
    rate_bps: int
    amount: int
    created_at: datetime
    ledger_transaction_id: int | None = None


@dataclass
class FakeHands:
    """The rows every fake repository reads and writes."""

    hot: dict[int, HandRecord] = field(default_factory=dict)
    index: dict[int, ArchiveEntry] = field(default_factory=dict)
    archived_players: dict[int, HandRecord] = field(default_factory=dict)
    nicknames: dict[int, str] = field(default_factory=dict)
    tables: dict[int, TableFacts] = field(default_factory=dict)
    daily: dict[date, list[DayFigures]] = field(default_factory=dict)
    seated: dict[int, list[int]] = field(default_factory=dict)
    logins: list[tuple[Login, datetime]] = field(default_factory=list)
    settlements: dict[tuple[int, date], FakeSettlement] = field(default_factory=dict)
    now: datetime = datetime(2026, 11, 30)


class FakeHandRecords:
    def __init__(self, db: FakeHands) -> None:
        self.db = db

    async def hot_hands(self, hand_ids: Sequence[int]) -> list[HandRecord]:
        return [self.db.hot[i] for i in sorted(set(hand_ids)) if i in self.db.hot]

    async def archive_entries(self, hand_ids: Collection[int]) -> list[ArchiveEntry]:
        return [self.db.index[i] for i in hand_ids if i in self.db.index]

    async def player_hands(
        self, user_id: int, since: datetime, until: datetime, limit: int
    ) -> list[PlayerHandRef]:
        refs = [
            PlayerHandRef(h.id, h.started_at, archived)
            for archived, hands in ((False, self.db.hot), (True, self.db.archived_players))
            for h in hands.values()
            if since <= h.started_at < until and any(p.user_id == user_id for p in h.players)
        ]
        return sorted(refs, key=lambda r: (r.started_at, r.hand_id), reverse=True)[:limit]

    async def lock_oldest_due(self, cutoff: datetime) -> tuple[int, datetime] | None:
        due = sorted((h.started_at, h.id, h.table_id) for h in self.db.hot.values())
        due = [d for d in due if d[0] < cutoff]
        return None if not due else (due[0][2], due[0][0])

    async def lock_table_hands(self, table_id: int, since: datetime, until: datetime) -> list[int]:
        return sorted(
            h.id
            for h in self.db.hot.values()
            if h.table_id == table_id and since <= h.started_at < until
        )

    async def move_to_archive(self, object_key: str, hands: Sequence[HandRecord]) -> None:
        for position, hand in enumerate(hands):
            self.db.index[hand.id] = ArchiveEntry(hand.id, object_key, position)
            self.db.archived_players[hand.id] = hand
            del self.db.hot[hand.id]

    async def nicknames(self, user_ids: Collection[int]) -> dict[int, str]:
        return {u: self.db.nicknames[u] for u in user_ids if u in self.db.nicknames}

    async def tables(self, table_ids: Collection[int]) -> dict[int, TableFacts]:
        return {t: self.db.tables[t] for t in table_ids if t in self.db.tables}


class FakeDailyStats:
    def __init__(self, db: FakeHands) -> None:
        self.db = db

    def _in(self, since: datetime, until: datetime) -> list[HandRecord]:
        return [h for h in self.db.hot.values() if since <= h.started_at < until]

    async def stakes(self, since: datetime, until: datetime) -> list[StakeDay]:
        found: dict[tuple[int, int], StakeDay] = {}
        for h in self._in(since, until):
            key = (h.small_blind, h.big_blind)
            old = found.get(key, StakeDay(*key, 0, 0, 0))
            found[key] = StakeDay(*key, old.hands + 1, old.rake + h.rake, old.pots + h.total_pot)
        return list(found.values())

    async def players_by_stake(
        self, since: datetime, until: datetime
    ) -> dict[tuple[int, int], int]:
        players: dict[tuple[int, int], set[int]] = {}
        for h in self._in(since, until):
            players.setdefault((h.small_blind, h.big_blind), set()).update(
                p.user_id for p in h.players
            )
        return {k: len(v) for k, v in players.items()}

    async def players(self, since: datetime, until: datetime) -> int:
        return len({p.user_id for h in self._in(since, until) for p in h.players})

    async def replace_day(self, day: date, figures: Sequence[DayFigures]) -> None:
        self.db.daily[day] = list(figures)

    async def days(self, since: date, until: date) -> list[DayFigures]:
        return [f for d in sorted(self.db.daily) if since <= d <= until for f in self.db.daily[d]]


class FakeIntegrity:
    def __init__(self, db: FakeHands) -> None:
        self.db = db

    async def add_login(self, user_id: int, ip: str, device_id: str | None) -> None:
        self.db.logins.append((Login(user_id, ip[:45], device_id), self.db.now))

    async def seated_others(self, table_id: int, user_id: int) -> list[int]:
        return [u for u in self.db.seated.get(table_id, []) if u != user_id]

    async def logins(
        self, user_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[Login]:
        return [
            login
            for login, at in self.db.logins
            if login.user_id in user_ids and since <= at <= until
        ]

    async def hands_ended(self, since: datetime, until: datetime) -> list[SignalHand]:
        raise NotImplementedError("not used by these tests")

    async def open_flags(
        self, rules: Collection[str], statuses: Collection[str]
    ) -> set[tuple[str, int, int | None]]:
        raise NotImplementedError("not used by these tests")

    async def file_flag(
        self, user_id: int, rule: str, subject: str, details: dict[str, Any]
    ) -> int | None:
        raise NotImplementedError("not used by these tests")

    async def add_run(self, run: NewRun) -> Any:
        raise NotImplementedError("not used by these tests")

    async def runs(self, limit: int, before_id: int | None) -> list[Any]:
        raise NotImplementedError("not used by these tests")


class FakeRakeback:
    def __init__(self, db: FakeHands) -> None:
        self.db = db

    async def rake_by_user(
        self, start: datetime, end: datetime, user_ids: Sequence[int] | None
    ) -> dict[int, int]:
        rake: dict[int, int] = {}
        for hands in (self.db.hot, self.db.archived_players):
            for h in hands.values():
                if not start <= h.started_at < end:
                    continue
                for p in h.players:
                    if user_ids is None or p.user_id in user_ids:
                        rake[p.user_id] = rake.get(p.user_id, 0) + p.rake_share
        return {u: r for u, r in rake.items() if r > 0}

    async def settled_users(self, week_start: date) -> set[int]:
        return {
            s.user_id
            for s in self.db.settlements.values()
            if s.week_start == week_start and (s.ledger_transaction_id is not None or not s.amount)
        }

    async def claim_settlement(
        self, user_id: int, week_start: date, rake_paid: int, level: str, rate_bps: int, amount: int
    ) -> FakeSettlement:
        return self.db.settlements.setdefault(
            (user_id, week_start),
            FakeSettlement(user_id, week_start, rake_paid, level, rate_bps, amount, self.db.now),
        )

    async def record_payment(self, settlement: Any, ledger_transaction_id: int) -> None:
        settlement.ledger_transaction_id = ledger_transaction_id

    async def settlements_of(self, user_id: int, limit: int) -> list[FakeSettlement]:
        mine = [s for s in self.db.settlements.values() if s.user_id == user_id]
        return sorted(mine, key=lambda s: s.week_start, reverse=True)[:limit]


class FakeTransaction:
    """`Transaction` over the fakes (no session: nothing here reaches SQL)."""

    def __init__(self, db: FakeHands) -> None:
        self.hand_records = FakeHandRecords(db)
        self.daily_stats = FakeDailyStats(db)
        self.integrity = FakeIntegrity(db)
        self.rakeback = FakeRakeback(db)

    @property
    def session(self) -> Any:
        raise AssertionError("a use case under test reached for the SQL session")


def transactions(db: FakeHands) -> Any:
    """A transaction factory as the container's (`Container.transactions`)."""

    @asynccontextmanager
    async def begin() -> AsyncIterator[FakeTransaction]:
        yield FakeTransaction(db)

    return begin


class MemoryStore:
    """An `ObjectStore` in a dict."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def put(self, key: str, body: bytes, metadata: dict[str, str]) -> None:
        self.objects[key] = body

    async def get(self, key: str) -> bytes:
        return self.objects[key]
