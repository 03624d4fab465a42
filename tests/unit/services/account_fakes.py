"""In-memory fakes of the account ports (`holdem.ports.accounts`,
`holdem.auth.refresh.RefreshTokenStore`): users, refresh tokens, the audit log, tables and
player protection, behind one `FakeTransaction`.

The fake "session" only counts commits and rollbacks, and a rollback puts every row back as
it was at the last commit (a snapshot). Row locks mean nothing here (one task at a time); the
real repositories' SQL and locking are tested against PostgreSQL in ``tests/functions/api``,
``tests/edge`` and ``tests/integration/payments``.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from holdem.auth.refresh import StoredToken
from holdem.errors import EmailTaken
from holdem.ports.accounts import NewTable, SeatView, TableFilter
from holdem.ports.transaction import Transactions

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeUser:
    id: int
    email: str
    nickname: str
    password_hash: str
    role: str = "player"
    is_locked: bool = False
    kyc_status: str = "none"
    kyc_updated_at: datetime | None = None
    date_of_birth: date | None = None
    country: str | None = None
    created_at: datetime = EPOCH


@dataclass
class FakeToken:
    stored: StoredToken
    token_hash: str


@dataclass
class FakeTable:
    id: int
    name: str
    small_blind: int
    big_blind: int
    max_seats: int
    min_buy_in: int
    max_buy_in: int
    rake_rate_bps: int
    rake_cap: int
    status: str
    created_at: datetime
    closed_at: datetime | None = None


@dataclass
class FakeProtectionRow:
    user_id: int
    deposit_day: int | None = None
    deposit_week: int | None = None
    deposit_month: int | None = None
    loss_day: int | None = None
    loss_week: int | None = None
    loss_month: int | None = None
    session_minutes: int | None = None
    reality_check_minutes: int | None = None
    pending: dict[str, Any] = field(default_factory=dict)
    exclusion_kind: str | None = None
    excluded_at: datetime | None = None
    excluded_until: datetime | None = None
    updated_at: datetime = EPOCH


@dataclass
class FakeDatabase:
    users: dict[int, FakeUser] = field(default_factory=dict)
    tokens: dict[uuid.UUID, FakeToken] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    tables: dict[int, FakeTable] = field(default_factory=dict)
    seats: dict[int, list[SeatView]] = field(default_factory=dict)
    """Open seats by table."""
    protection: dict[int, FakeProtectionRow] = field(default_factory=dict)
    deposited: dict[int, int] = field(default_factory=dict)
    """Won credited as playable per user, in every window (the ledger's figure)."""
    commits: int = 0
    rollbacks: int = 0

    def add_user(self, email: str, nickname: str, password_hash: str = "x") -> FakeUser:
        user = FakeUser(len(self.users) + 1, email, nickname, password_hash)
        self.users[user.id] = user
        return user

    def add_table(self, name: str, created_at: datetime, status: str = "open") -> FakeTable:
        table_id = len(self.tables) + 1
        self.tables[table_id] = FakeTable(
            table_id, name, 100, 200, 6, 4_000, 40_000, 500, 3_000, status, created_at
        )
        return self.tables[table_id]


class FakeUsers:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def get(self, user_id: int, *, lock: bool = False) -> FakeUser | None:
        return self.db.users.get(user_id)

    async def by_email(self, email: str) -> FakeUser | None:
        return next((u for u in self.db.users.values() if u.email == email), None)

    async def id_by_email(self, email: str) -> int | None:
        user = await self.by_email(email)
        return None if user is None else user.id

    async def holder_of(self, email: str, nickname: str) -> str | None:
        found = (u for u in self.db.users.values() if email == u.email or nickname == u.nickname)
        return next((u.email for u in found), None)

    async def add(
        self,
        email: str,
        nickname: str,
        password_hash: str,
        date_of_birth: date | None,
        country: str | None,
    ) -> FakeUser:
        if await self.holder_of(email, nickname) is not None:
            raise EmailTaken("taken", {"field": "email"})
        user = self.db.add_user(email, nickname, password_hash)
        user.date_of_birth, user.country = date_of_birth, country
        return user

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.db.users[user_id].password_hash = password_hash


class FakeRefreshTokens:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def _by_hash(self, token_hash: str) -> FakeToken | None:
        return next((t for t in self.db.tokens.values() if t.token_hash == token_hash), None)

    async def add(
        self, session_id: uuid.UUID, stored: StoredToken, token_hash: str, user_agent: str | None
    ) -> None:
        self.db.tokens[session_id] = FakeToken(stored, token_hash)

    async def claim(self, token_hash: str, now: datetime) -> StoredToken | None:
        row = self._by_hash(token_hash)
        if row is None or row.stored.used_at or row.stored.revoked_at:
            return None
        if row.stored.expires_at <= now:
            return None
        row.stored = replace(row.stored, used_at=now)
        return row.stored

    async def find(self, token_hash: str) -> StoredToken | None:
        row = self._by_hash(token_hash)
        return None if row is None else row.stored

    async def _revoke(self, now: datetime, **match: Any) -> None:
        for row in self.db.tokens.values():
            mine = all(getattr(row.stored, k) == v for k, v in match.items())
            if mine and row.stored.revoked_at is None:
                row.stored = replace(row.stored, revoked_at=now)

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self._revoke(now, family_id=family_id)

    async def revoke_user(self, user_id: int, now: datetime) -> None:
        await self._revoke(now, user_id=user_id)


class FakeAdmin:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def record(
        self,
        actor_id: int,
        action: str,
        target_user_id: int | None,
        target_table_id: int | None,
        details: dict[str, Any],
    ) -> None:
        self.db.actions.append(
            {
                "actor_id": actor_id,
                "action": action,
                "target_user_id": target_user_id,
                "target_table_id": target_table_id,
                "details": details,
            }
        )

    async def withdrawals_by_due(self, status: str, after: Any, limit: int) -> list[Any]:
        return []


class FakeLobby:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def tables(
        self, where: TableFilter, before: tuple[datetime, int] | None, limit: int
    ) -> list[tuple[FakeTable, int]]:
        newest = sorted(self.db.tables.values(), key=lambda t: (t.created_at, t.id), reverse=True)
        rows = [
            (t, len(self.db.seats.get(t.id, [])))
            for t in newest
            if t.status == where.status and (before is None or (t.created_at, t.id) < before)
        ]
        return rows[:limit]

    async def get(self, table_id: int, *, lock: bool = False) -> FakeTable | None:
        return self.db.tables.get(table_id)

    async def seats(self, table_id: int) -> list[SeatView]:
        return sorted(self.db.seats.get(table_id, []), key=lambda s: s.seat_no)

    async def seated(self, table_id: int) -> int:
        return len(self.db.seats.get(table_id, []))

    async def add(self, spec: NewTable) -> FakeTable:
        table = self.db.add_table(spec.name, EPOCH)
        table.small_blind, table.big_blind = spec.small_blind, spec.big_blind
        return table

    async def set_status(self, table_id: int, status: str, closed_at: datetime | None) -> None:
        table = self.db.tables[table_id]
        table.status, table.closed_at = status, closed_at

    async def reload(self, table: FakeTable) -> None:
        return None


class FakeProtection:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def get(self, user_id: int, *, lock: bool = False) -> FakeProtectionRow | None:
        return self.db.protection.get(user_id)

    async def lock_or_create(self, user_id: int) -> FakeProtectionRow | None:
        if user_id not in self.db.users:
            return None
        return self.db.protection.setdefault(user_id, FakeProtectionRow(user_id))

    async def excluded_until(self, user_id: int) -> datetime | None:
        row = self.db.protection.get(user_id)
        return None if row is None else row.excluded_until

    async def usage(
        self, user_id: int, starts: Mapping[str, datetime]
    ) -> tuple[dict[str, int], dict[str, int]]:
        deposited = self.db.deposited.get(user_id, 0)
        return dict.fromkeys(starts, deposited), dict.fromkeys(starts, 0)

    async def seated_tables(self, user_id: int) -> list[int]:
        return sorted(
            t for t, seats in self.db.seats.items() if any(s.user_id == user_id for s in seats)
        )

    async def seats_since(self, user_id: int, since: datetime) -> list[Any]:
        return []


class FakeSession:
    """What the use cases ask of the transaction itself: flush, commit, roll back."""

    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self.saved = copy.deepcopy(db.__dict__)

    async def flush(self) -> None:
        return None

    async def commit(self) -> None:
        self.db.commits += 1
        self.saved = copy.deepcopy(self.db.__dict__)

    async def rollback(self) -> None:
        counts = self.db.commits, self.db.rollbacks + 1
        self.db.__dict__.update(copy.deepcopy(self.saved))
        self.db.commits, self.db.rollbacks = counts


class FakeTransaction:
    """`holdem.ports.transaction.Transaction` over a `FakeDatabase` (the account areas)."""

    def __init__(self, db: FakeDatabase) -> None:
        self.session = FakeSession(db)
        self.admin = FakeAdmin(db)
        self.lobby = FakeLobby(db)
        self.protection = FakeProtection(db)
        self.refresh_tokens = FakeRefreshTokens(db)
        self.users = FakeUsers(db)


def fake_transactions(db: FakeDatabase) -> Transactions:
    """`Transactions` over `db`: what a block leaves uncommitted is rolled back at its end."""

    @asynccontextmanager
    async def transaction() -> AsyncIterator[Any]:
        tx = FakeTransaction(db)
        try:
            yield tx
        finally:
            if _rows(db.__dict__) != _rows(tx.session.saved):
                await tx.session.rollback()

    return transaction


def _rows(state: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in state.items() if name not in ("commits", "rollbacks")}
