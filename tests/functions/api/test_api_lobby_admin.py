"""Lobby (list, filter, detail), operator table management and admin endpoints."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.payments import Withdrawal
from holdem.adapters.orm.tables import Seat
from holdem.adapters.relay import LOBBY_CHANNEL, Relay, pack_live, unpack
from tests.functions.api.api_support import make_table


async def test_operator_creates_a_table_with_spec_defaults(client, users, container):
    op = await users.operator()
    r = await client.post(
        "/api/v1/admin/tables",
        json={"name": "High 1", "small_blind": 25_000, "big_blind": 50_000, "max_seats": 6},
        headers=op.headers,
    )
    assert r.status_code == 201, r.text
    table = r.json()
    assert (table["rake_rate_bps"], table["rake_cap"]) == (400, 250_000)  # SPEC §4.1
    assert (table["min_buy_in"], table["max_buy_in"]) == (2_000_000, 5_000_000)
    assert (table["seated"], table["free_seats"], table["status"]) == (0, 6, "open")
    async with container.sessions() as db:
        action = (await db.scalars(select(AdminAction))).one()
    assert (action.action, action.actor_id, action.target_table_id) == (
        "create_table",
        op.user_id,
        table["id"],
    )


async def test_bad_tables_are_refused_with_4xx(client, users):
    op = await users.operator()
    for body, status in [
        ({"name": "x", "small_blind": 2_000, "big_blind": 1_000, "max_seats": 6}, 400),
        ({"name": "x", "small_blind": 1_000, "big_blind": 2_000, "max_seats": 10}, 422),
        ({"name": "x", "small_blind": 0, "big_blind": 2_000, "max_seats": 6}, 422),
        (
            {
                "name": "x",
                "small_blind": 1_000,
                "big_blind": 2_000,
                "max_seats": 6,
                "min_buy_in": 300_000,
                "max_buy_in": 100_000,
            },
            400,
        ),
    ]:
        r = await client.post("/api/v1/admin/tables", json=body, headers=op.headers)
        assert r.status_code == status, (body, r.text)
    r = await client.get("/api/v1/lobby/tables")
    assert r.json()["items"] == []


async def test_players_cannot_create_tables(client, users):
    p = await users.player()
    r = await client.post(
        "/api/v1/admin/tables",
        json={"name": "x", "small_blind": 1_000, "big_blind": 2_000, "max_seats": 6},
        headers=p.headers,
    )
    assert r.status_code == 403


async def test_lobby_filters_by_stakes_status_and_free_seats(client, users, container):
    a, b = await users.player(), await users.player()
    async with container.sessions() as db:
        small = await make_table(db, "small", 1_000, 2_000, max_seats=2)
        await make_table(db, "mid", 5_000, 10_000)
        await make_table(db, "gone", 1_000, 2_000, status="closed")
        db.add_all(
            [
                Seat(table_id=small.id, seat_no=0, user_id=a.user_id),
                Seat(table_id=small.id, seat_no=1, user_id=b.user_id),
            ]
        )
        await db.commit()
    # The wait-list length the table's server published with its live figures.
    live, _announce = pack_live({"table_id": small.id, "seated": 2, "waiting": 3})
    await container.redis.hset(*live)
    names = lambda r: [t["name"] for t in r.json()["items"]]  # noqa: E731
    waiting = {
        t["name"]: t["waiting"] for t in (await client.get("/api/v1/lobby/tables")).json()["items"]
    }
    assert waiting == {"mid": 0, "small": 3}
    assert names(await client.get("/api/v1/lobby/tables")) == ["mid", "small"]
    assert names(await client.get("/api/v1/lobby/tables", params={"big_blind": 2_000})) == ["small"]
    assert names(await client.get("/api/v1/lobby/tables", params={"min_free_seats": 1})) == ["mid"]
    assert names(await client.get("/api/v1/lobby/tables", params={"status": "closed"})) == ["gone"]
    detail = (await client.get(f"/api/v1/lobby/tables/{small.id}")).json()
    assert detail["table"]["free_seats"] == 0
    assert detail["table"]["waiting"] == 3
    assert [(s["seat_no"], s["nickname"]) for s in detail["seats"]] == [
        (0, a.nickname),
        (1, b.nickname),
    ]
    assert (await client.get("/api/v1/lobby/tables/987654")).status_code == 404


async def test_closing_a_table_with_players_leaves_it_closing(client, users, container):
    op, p = await users.operator(), await users.player()
    async with container.sessions() as db:
        busy = await make_table(db, "busy")
        empty = await make_table(db, "empty")
        db.add(Seat(table_id=busy.id, seat_no=0, user_id=p.user_id))
        await db.commit()
    r = await client.post(f"/api/v1/admin/tables/{busy.id}/close", headers=op.headers)
    assert (r.status_code, r.json()["status"]) == (200, "closing")
    r = await client.post(f"/api/v1/admin/tables/{empty.id}/close", headers=op.headers)
    assert (r.status_code, r.json()["status"]) == (200, "closed")
    r = await client.post(f"/api/v1/admin/tables/{empty.id}/close", headers=op.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "table_not_open")


async def test_admin_looks_users_up_by_id_and_email(client, users):
    op, p = await users.operator(), await users.player()
    by_id = await client.get(f"/api/v1/admin/users/{p.user_id}", headers=op.headers)
    by_email = await client.get(
        "/api/v1/admin/users", params={"email": p.email.upper()}, headers=op.headers
    )
    assert by_id.status_code == by_email.status_code == 200
    assert by_id.json() == by_email.json()
    missing = await client.get("/api/v1/admin/users/424242", headers=op.headers)
    assert missing.status_code == 404


async def test_admin_lists_withdrawals_by_status_oldest_due_first(client, users, container):
    op, p = await users.operator(), await users.player()
    due = datetime(2026, 11, 27, tzinfo=UTC)
    async with container.sessions() as db:
        for n, status in enumerate(["pending", "pending", "held", "pending"]):
            db.add(
                Withdrawal(
                    user_id=p.user_id,
                    idempotency_key=f"k{n}",
                    amount_krw=50_000 + n,
                    coin="BTC",
                    address="bc1qexample",
                    status=status,
                    due_at=due - timedelta(hours=n),
                )
            )
        await db.commit()
    r = await client.get(
        "/api/v1/admin/withdrawals", params={"status": "pending", "limit": 2}, headers=op.headers
    )
    page = r.json()
    assert [w["amount_krw"] for w in page["items"]] == [50_003, 50_001]
    r = await client.get(
        "/api/v1/admin/withdrawals",
        params={"status": "pending", "cursor": page["next_cursor"]},
        headers=op.headers,
    )
    assert [w["amount_krw"] for w in r.json()["items"]] == [50_000]
    assert r.json()["next_cursor"] is None
    bad = await client.get(
        "/api/v1/admin/withdrawals", params={"status": "lost"}, headers=op.headers
    )
    assert bad.status_code == 422


async def test_opening_and_closing_a_table_is_announced_on_the_lobby_channel(
    client, users, container
):
    op = await users.operator()
    relay = Relay(container.redis)
    pubsub = container.redis.pubsub()
    await pubsub.subscribe(LOBBY_CHANNEL)

    async def announced() -> dict:
        async with asyncio.timeout(10):
            while True:
                # None: nothing yet, or the subscription's confirmation (skipped).
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and "status" in (entry := unpack(message["data"]).msgs[0]):
                    return entry

    try:
        r = await client.post(
            "/api/v1/admin/tables",
            json={"name": "Live 1", "small_blind": 1_000, "big_blind": 2_000, "max_seats": 6},
            headers=op.headers,
        )
        table_id = r.json()["id"]
        assert await announced() == {
            "table_id": table_id,
            "name": "Live 1",
            "small_blind": 1_000,
            "big_blind": 2_000,
            "max_seats": 6,
            "seated": 0,
            "status": "open",
        }
        # Its table server's live figures (as it would publish them) are forgotten on close.
        live, _announce = pack_live({"table_id": table_id, "seated": 0})
        await container.redis.hset(*live)
        assert table_id in await relay.lobby_live()
        r = await client.post(f"/api/v1/admin/tables/{table_id}/close", headers=op.headers)
        assert r.status_code == 200, r.text
        closed = await announced()
        assert (closed["table_id"], closed["status"]) == (table_id, "closed")
        assert table_id not in await relay.lobby_live()
    finally:
        await pubsub.aclose()
