"""The account, lobby and player-protection use cases against in-memory fakes of their ports
(no database): a reused refresh token revokes its login for good, registration refuses a
taken name, lobby pages follow their cursor, and an exclusion or a deposit limit decides how
money may move. The same use cases run against PostgreSQL in ``tests/functions/api``,
``tests/edge`` and ``tests/integration/payments/test_protection_money.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from holdem.auth.passwords import PasswordService
from holdem.config import AuthSettings
from holdem.ports.accounts import SeatView, TableFilter
from holdem.services import errors, lobby, protection
from holdem.services.accounts import Accounts
from tests.unit.services.account_fakes import FakeDatabase, FakeTransaction, fake_transactions

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
AUTH = AuthSettings(
    jwt_secret="unit-test-signing-key-0123456789abcdef",
    argon2_time_cost=1,
    argon2_memory_kib=1024,
)


class FakeRedis:
    """The few Redis calls of `Accounts`: keys with values, and what was published."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.published: list[tuple[str, bytes]] = []

    async def get(self, key: str) -> Any:
        return self.keys.get(key)

    async def mget(self, *keys: str) -> list[Any]:
        return [self.keys.get(k) for k in keys]

    def pipeline(self, transaction: bool = True) -> FakeRedis.Pipeline:
        return FakeRedis.Pipeline(self)

    class Pipeline:
        def __init__(self, redis: FakeRedis) -> None:
            self.redis = redis

        async def __aenter__(self) -> FakeRedis.Pipeline:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        def set(self, key: str, value: Any, ex: int | None = None) -> None:
            self.redis.keys[key] = value

        def publish(self, channel: str, message: bytes) -> None:
            self.redis.published.append((channel, message))

        async def execute(self) -> None:
            return None


def _accounts(db: FakeDatabase, redis: FakeRedis) -> Accounts:
    return Accounts(fake_transactions(db), redis, AUTH, PasswordService(AUTH), clock=NOW.timestamp)


async def test_a_reused_refresh_token_revokes_its_login_and_the_revocation_stands():
    db, redis = FakeDatabase(), FakeRedis()
    accounts = _accounts(db, redis)
    await accounts.register("Ann@Example.com ", "ann", "correct horse")
    first = await accounts.login("ann@example.com", "correct horse", "pytest")
    second = await accounts.refresh(first.refresh_token, "pytest")

    with pytest.raises(errors.RefreshTokenReused):
        await accounts.refresh(first.refresh_token, "thief")

    # Committed although the use case raised: the thief's and the victim's tokens are dead.
    assert all(t.stored.revoked_at == NOW for t in db.tokens.values())
    with pytest.raises(errors.InvalidRefreshToken):
        await accounts.refresh(second.refresh_token, "pytest")
    family = str(db.tokens[next(iter(db.tokens))].stored.family_id)
    assert redis.keys[f"auth:family:{family}"] == b"1"


async def test_registration_refuses_a_taken_email_or_nickname_and_adds_nothing():
    db = FakeDatabase()
    accounts = _accounts(db, FakeRedis())
    user = await accounts.register("ann@example.com", "ann", "correct horse")
    assert (user.email, user.role) == ("ann@example.com", "player")

    with pytest.raises(errors.EmailTaken):
        await accounts.register("ANN@example.com", "other", "correct horse")
    with pytest.raises(errors.NicknameTaken):
        await accounts.register("bob@example.com", " ann ", "correct horse")
    assert list(db.users) == [user.id]


async def test_locking_an_account_is_audited_and_ends_its_logins():
    db = FakeDatabase()
    accounts = _accounts(db, FakeRedis())
    player = await accounts.register("ann@example.com", "ann", "correct horse")
    pair = await accounts.login("ann@example.com", "correct horse", None)

    await accounts.set_locked(player.id, True, actor_id=99)

    assert db.users[player.id].is_locked
    assert [(a["actor_id"], a["action"]) for a in db.actions] == [(99, "lock_user")]
    with pytest.raises(errors.InvalidRefreshToken):
        await accounts.refresh(pair.refresh_token, None)
    with pytest.raises(errors.AccountLocked):
        await accounts.login("ann@example.com", "correct horse", None)


async def test_lobby_pages_follow_their_cursor_newest_first():
    db = FakeDatabase()
    for n in range(3):
        db.add_table(f"t{n}", NOW + timedelta(minutes=n))
    db.add_table("gone", NOW, status="closed")
    tx = FakeTransaction(db)

    first = await lobby.list_tables(tx, TableFilter(), None, 2)
    assert [s.table.name for s in first.items] == ["t2", "t1"]
    last = await lobby.list_tables(tx, TableFilter(), first.next_cursor, 2)
    assert ([s.table.name for s in last.items], last.next_cursor) == (["t0"], None)


async def test_closing_a_table_with_players_leaves_it_closing_and_is_audited():
    db = FakeDatabase()
    table = db.add_table("busy", NOW)
    db.seats[table.id] = [SeatView(1, 5, "ann", NOW)]

    summary = await lobby.close_table(FakeTransaction(db), table.id, 99)

    assert (summary.table.status, summary.seated, db.tables[table.id].closed_at) == (
        "closing",
        1,
        None,
    )
    assert [(a["action"], a["target_table_id"]) for a in db.actions] == [("close_table", table.id)]
    with pytest.raises(errors.TableNotOpen):
        await lobby.close_table(FakeTransaction(db), table.id, 99)


async def test_an_exclusion_locks_every_deposit_and_refuses_chips():
    db = FakeDatabase()
    user = db.add_user("ann@example.com", "ann")
    db.seats[7] = [SeatView(2, user.id, "ann", NOW)]
    tx: Any = FakeTransaction(db)

    view, tables = await protection.exclude(tx, user.id, "7d", NOW)

    assert (view.excluded(NOW), tables) == (True, [7])
    assert await protection.excluded_until(tx, user.id, NOW) == view.excluded_until
    assert await protection.deposit_split(tx, user.id, 30_000, NOW) == (0, 30_000)
    with pytest.raises(errors.SelfExcluded):
        await protection.check_buy_in(tx, user.id, 4_000, NOW)
    assert [a["action"] for a in db.actions] == ["self_exclude"]


async def test_a_deposit_limit_locks_what_is_over_the_room_left():
    db = FakeDatabase()
    user = db.add_user("ann@example.com", "ann")
    db.deposited[user.id] = 70_000
    tx: Any = FakeTransaction(db)

    await protection.set_limits(tx, user.id, {"deposit_day": 100_000}, NOW, timedelta(hours=24))

    assert await protection.deposit_split(tx, user.id, 50_000, NOW) == (30_000, 20_000)
    with pytest.raises(errors.NotFound):
        await protection.extend_exclusion(tx, 99, 404, None, NOW, "unknown player")
