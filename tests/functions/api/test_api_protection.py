"""Player protection over REST (docs/compliance.md): limits with a cooling period for raises,
breaks and self-exclusion that only ever lengthen, the operators' extension, the audit
trail. The routes' clock (`deps.get_clock`) is replaced, so a day passes at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgpack
import pytest
from sqlalchemy import select

from functions.api import deps
from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.relay import inbox_key
from holdem.services import ledger
from holdem.services.table_runtime import TableMoney
from tests.functions.api.api_support import deposit, make_table

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app) -> Clock:
    moved = Clock()

    async def the_clock():
        return moved

    app.dependency_overrides[deps.get_clock] = the_clock
    return moved


async def _limits(client, player, **body):
    return await client.put("/api/v1/me/protection/limits", json=body, headers=player.headers)


async def _mine(client, player) -> dict:
    r = await client.get("/api/v1/me/protection", headers=player.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_limit_set_or_lowered_applies_at_once_and_a_raise_only_after_the_cooling_period(
    client, users, clock, container
):
    p = await users.player()
    r = await _limits(client, p, deposit_day=100_000, loss_week=50_000, session_minutes=120)
    assert r.status_code == 200, r.text
    assert (r.json()["deposit_day"], r.json()["loss_week"]) == (100_000, 50_000)
    assert r.json()["reality_check_minutes"] == 60  # the default

    raised = (await _limits(client, p, deposit_day=200_000, loss_week=None)).json()
    assert (raised["deposit_day"], raised["loss_week"]) == (100_000, 50_000)
    due = (T0 + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    assert raised["pending"] == {
        "deposit_day": {"value": 200_000, "effective_at": due},
        "loss_week": {"value": None, "effective_at": due},
    }
    clock.now = T0 + timedelta(hours=23, minutes=59)
    # Asking again does not restart the cooling period; lowering applies at once.
    again = (await _limits(client, p, deposit_day=200_000, session_minutes=60)).json()
    assert (again["deposit_day"], again["session_minutes"]) == (100_000, 60)
    assert again["pending"]["deposit_day"]["effective_at"] == due
    clock.now = T0 + timedelta(hours=24)
    later = await _mine(client, p)
    assert (later["deposit_day"], later["loss_week"], later["pending"]) == (200_000, None, {})

    async with container.sessions() as db:
        actions = (
            await db.scalars(
                select(AdminAction)
                .where(AdminAction.actor_id == p.user_id)
                .order_by(AdminAction.id)
            )
        ).all()
    assert [a.action for a in actions] == ["set_limits"] * 3
    assert actions[1].details["requested"] == {"deposit_day": 200_000, "loss_week": None}


async def test_the_cooling_period_is_an_operator_setting(client, users, clock, container):
    container.settings.protection.limit_cooling_s = 3600
    try:
        p = await users.player()
        await _limits(client, p, loss_day=10_000)
        raised = (await _limits(client, p, loss_day=20_000)).json()
        assert raised["pending"]["loss_day"]["effective_at"].startswith("2026-12-07T13:00:00")
    finally:
        container.settings.protection.limit_cooling_s = 24 * 3600


@pytest.mark.parametrize(
    "body",
    [
        {"deposit_day": 0},
        {"deposit_day": -5},
        {"deposit_day": "100000"},
        {"deposit_day": 1.5},
        {"loss_month": 10**16},
        {"reality_check_minutes": 0},
        {"bet_limit": 1},
    ],
)
async def test_bad_limits_are_refused_and_change_nothing(client, users, clock, body):
    p = await users.player()
    r = await _limits(client, p, **body)
    assert r.status_code == 422, r.text
    assert (await _mine(client, p))["deposit_day"] is None


async def test_a_self_exclusion_only_lengthens_tells_the_table_owners_and_outlives_a_token_refresh(
    client, users, clock, container
):
    p = await users.player()
    await deposit(container, p.user_id, 500_000)
    async with container.sessions() as db:
        table = await make_table(db)
        await db.commit()
    await TableMoney(container.transactions, container.settlements).sit(
        table.id, 0, p.user_id, 100_000, key="sit-1"
    )

    r = await client.post(
        "/api/v1/me/protection/exclusion", json={"period": "6m"}, headers=p.headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["exclusion"], r.json()["permanent"]) == ("self_exclusion", False)
    until = r.json()["excluded_until"]
    # The table's owner is told through its inbox (whichever server runs it).
    entries = await container.redis.xrange(inbox_key(table.id))
    commands = [msgpack.unpackb(fields[b"c"]) for _, fields in entries]
    assert [(c["kind"], c["user"]) for c in commands] == [("exclude", p.user_id)]

    shorter = await client.post(
        "/api/v1/me/protection/exclusion", json={"period": "24h"}, headers=p.headers
    )
    assert shorter.status_code == 409
    assert shorter.json()["error"]["details"]["excluded_until"] is not None
    assert (await _mine(client, p))["excluded_until"] == until

    refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert refreshed.status_code == 200
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    mine = await client.get("/api/v1/me/protection", headers=headers)
    assert mine.json()["excluded_until"] == until
    # Balances (and withdrawals) stay open to an excluded player.
    balance = await client.get("/api/v1/wallet/balance", headers=headers)
    assert balance.json()["wallet"] == 400_000

    release = await client.post("/api/v1/me/protection/release-locked", headers=headers)
    assert release.status_code == 403
    assert release.json()["error"]["code"] == "self_excluded"

    clock.now = T0 + timedelta(days=184)
    assert (await _mine(client, p))["exclusion"] is None


async def test_an_operator_can_only_extend_an_exclusion_and_it_is_audited(
    client, users, clock, container
):
    p = await users.player()
    op = await users.operator()
    await client.post("/api/v1/me/protection/exclusion", json={"period": "7d"}, headers=p.headers)
    url = f"/api/v1/admin/users/{p.user_id}/exclusion"

    refused = await client.post(url, json={"until": None, "reason": "x y z"}, headers=p.headers)
    assert refused.status_code == 403
    naive = await client.post(
        url, json={"until": "2030-01-01T00:00:00", "reason": "no offset"}, headers=op.headers
    )
    assert naive.status_code == 422
    earlier = (T0 + timedelta(days=1)).isoformat()
    shorter = await client.post(
        url, json={"until": earlier, "reason": "shorten"}, headers=op.headers
    )
    assert shorter.status_code == 409
    later = (T0 + timedelta(days=365)).isoformat()
    longer = await client.post(
        url, json={"until": later, "reason": "requested"}, headers=op.headers
    )
    assert longer.status_code == 200, longer.text
    assert longer.json()["exclusion"] == "self_exclusion"
    forever = await client.post(url, json={"until": None, "reason": "problem"}, headers=op.headers)
    assert forever.json()["permanent"] is True
    missing = await client.post(
        "/api/v1/admin/users/999999/exclusion",
        json={"until": None, "reason": "nobody"},
        headers=op.headers,
    )
    assert missing.status_code == 404

    async with container.sessions() as db:
        actions = (
            await db.execute(
                select(AdminAction.action, AdminAction.actor_id)
                .where(AdminAction.target_user_id == p.user_id)
                .order_by(AdminAction.id)
            )
        ).all()
    assert [tuple(a) for a in actions] == [
        ("self_exclude", p.user_id),
        ("extend_exclusion", op.user_id),
        ("extend_exclusion", op.user_id),
    ]


async def test_the_balance_and_the_profile_show_locked_funds(client, users, clock, container):
    p = await users.player()
    async with container.sessions() as db, db.begin():
        await ledger.credit_deposit(
            db,
            key="deposit:BTC:locked:0",
            user_id=p.user_id,
            amount=100_000,
            coin="BTC",
            crypto_amount=Decimal("0.001"),
            rate_krw=Decimal("100000000"),
            tx_hash="locked",
            address="bc1qexampleaddress",
            locked=30_000,
        )
    body = (await client.get("/api/v1/wallet/balance", headers=p.headers)).json()
    assert (body["wallet"], body["locked"], body["total"]) == (70_000, 30_000, 100_000)
    me = (await client.get("/api/v1/me", headers=p.headers)).json()
    assert me["balance"]["locked"] == 30_000
    assert (await _mine(client, p))["locked"] == 30_000
