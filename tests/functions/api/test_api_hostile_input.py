"""Client input that once reached PostgreSQL or a parser as a 5xx: numbers beyond bigint in
cursors and paths, values of the wrong type in money fields, bodies that are not UTF-8. Each is
a 4xx in the error envelope, and changes nothing."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import func, select

from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User

BEYOND = 2**63  # the first number a bigint cannot hold


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def _statement_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"e{entry_id}".encode()).decode().rstrip("=")


def _keyset_cursor(*key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


async def _count(container, model) -> int:
    async with container.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(model)))


CURSORS = [
    ("/api/v1/wallet/transactions", _statement_cursor(BEYOND), "invalid_cursor"),
    ("/api/v1/wallet/transactions", _statement_cursor(10**40), "invalid_cursor"),
    ("/api/v1/wallet/transactions", _statement_cursor(0), "invalid_cursor"),
    ("/api/v1/wallet/transactions", _statement_cursor(-5), "invalid_cursor"),
    ("/api/v1/wallet/transactions", "ZSs1", "invalid_cursor"),  # "e+5": int() took it
    ("/api/v1/wallet/transactions", "_w", "invalid_cursor"),  # not UTF-8
    ("/api/v1/hands", _keyset_cursor("2026-01-01T00:00:00+00:00", BEYOND), "invalid_input"),
    ("/api/v1/lobby/tables", _keyset_cursor("2026-01-01T00:00:00+00:00", BEYOND), "invalid_input"),
]
# One user per test, not per case: each registration costs an argon2 hash.


async def test_a_cursor_naming_a_number_beyond_bigint_is_400(client, users):
    p = await users.player()
    for path, cursor, code in CURSORS:
        r = await client.get(path, params={"cursor": cursor}, headers=p.headers)
        assert (r.status_code, _error(r)["code"]) == (400, code), (path, cursor, r.text)


async def test_an_operator_list_cursor_beyond_bigint_is_400(client, users):
    op = await users.operator()
    cursor = _keyset_cursor("2026-01-01T00:00:00+00:00", BEYOND)
    r = await client.get("/api/v1/admin/withdrawals", params={"cursor": cursor}, headers=op.headers)
    assert r.status_code == 400
    assert _error(r)["code"] == "invalid_input"


async def test_an_id_beyond_bigint_in_a_path_or_query_is_422(client, users):
    p, op = await users.player(), await users.operator()
    for method, path, who in [
        ("get", f"/api/v1/hands/{BEYOND}", p),
        ("get", f"/api/v1/hand-exports/{BEYOND}", p),
        ("get", f"/api/v1/lobby/tables/{BEYOND}", p),
        ("post", f"/api/v1/wallet/withdrawals/{BEYOND}/cancel", p),
        ("get", f"/api/v1/wallet/deposits?before_id={BEYOND}", p),
        ("get", f"/api/v1/wallet/withdrawals?before_id={BEYOND}", p),
        ("get", f"/api/v1/admin/users/{BEYOND}", op),
        ("post", f"/api/v1/admin/withdrawals/{BEYOND}/approve", op),
        ("post", f"/api/v1/admin/tables/{BEYOND}/close", op),
    ]:
        r = await getattr(client, method)(path, headers=who.headers)
        assert r.status_code == 422, (path, r.text)
        assert _error(r)["code"] == "validation_error"


# --- strict types on money and counts ---------------------------------------------------

TABLE = {"name": "strict", "small_blind": 1_000, "big_blind": 2_000, "max_seats": 6}


WRONG_TABLE_TYPES = [
    {"rake_rate_bps": False},
    {"rake_rate_bps": True},
    {"rake_rate_bps": "500"},
    {"small_blind": "1000"},
    {"big_blind": 2000.0},
    {"max_seats": "6"},
    {"max_seats": True},
    {"rake_cap": "3000"},
    {"min_buy_in": 80_000.5},
]


async def test_a_table_with_a_money_or_count_field_of_the_wrong_type_is_422_and_not_created(
    client, users, container
):
    op = await users.operator()
    for change in WRONG_TABLE_TYPES:
        r = await client.post("/api/v1/admin/tables", json=TABLE | change, headers=op.headers)
        assert r.status_code == 422, (change, r.text)
        assert _error(r)["code"] == "validation_error"
    assert await _count(container, PokerTable) == 0
    assert await _count(container, AdminAction) == 0
    created = await client.post("/api/v1/admin/tables", json=TABLE, headers=op.headers)
    assert created.status_code == 201  # the same body with the right types is fine


async def test_an_adjustment_amount_that_is_not_an_integer_is_422_and_moves_nothing(
    client, users, container
):
    op, p = await users.operator(), await users.player()
    for amount in ["100", True, 100.0, "1e3", None]:
        r = await client.post(
            f"/api/v1/admin/users/{p.user_id}/adjustments",
            json={"amount_krw": amount, "reason": "typed"},
            headers=op.headers | {"Idempotency-Key": "strict-0001"},
        )
        assert r.status_code == 422, (amount, r.text)
    assert await _count(container, LedgerTransaction) == 0
    assert await _count(container, AdminAction) == 0


# --- bodies that are not UTF-8 ----------------------------------------------------------

NOT_UTF8 = b'{"email": "\xff\xfe@example.com", "password": "x"}'


@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh"],
)
async def test_a_body_that_is_not_utf8_is_a_4xx_envelope_and_creates_nothing(
    client, container, path
):
    r = await client.post(path, content=NOT_UTF8, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert _error(r)["code"] in {"bad_request", "validation_error"}
    assert await _count(container, User) == 0


# --- an operator's token outliving the operator -----------------------------------------


async def _operator_writes(client, headers, victim_id: int) -> list:
    key = {"Idempotency-Key": "gone-00001"}
    return [
        await client.post("/api/v1/admin/tables", json=TABLE, headers=headers),
        await client.post(f"/api/v1/admin/users/{victim_id}/lock", headers=headers),
        await client.post(
            f"/api/v1/admin/users/{victim_id}/adjustments",
            json={"amount_krw": 5, "reason": "gone"},
            headers=headers | key,
        ),
        await client.get(f"/api/v1/admin/users/{victim_id}", headers=headers),
    ]


async def _nothing_written(container, victim_id: int) -> None:
    assert await _count(container, PokerTable) == 0
    assert await _count(container, AdminAction) == 0
    assert await _count(container, LedgerTransaction) == 0
    async with container.sessions() as db:
        assert (await db.get(User, victim_id)).is_locked is False


async def test_a_deleted_operators_token_is_401_on_operator_routes_and_writes_nothing(
    client, users, container
):
    op, victim = await users.operator(), await users.player()
    async with container.sessions() as db, db.begin():
        await db.delete(await db.get(User, op.user_id))  # not a 500 on the audit log's actor
    for r in await _operator_writes(client, op.headers, victim.user_id):
        assert r.status_code == 401, r.text
        assert _error(r) == {**_error(r), "code": "invalid_token", "details": {"reason": "revoked"}}
    await _nothing_written(container, victim.user_id)


async def test_a_demoted_operators_token_is_403_at_once(client, users, container):
    op, victim = await users.operator(), await users.player()
    async with container.sessions() as db, db.begin():
        (await db.get(User, op.user_id)).role = "player"
    for r in await _operator_writes(client, op.headers, victim.user_id):
        assert r.status_code == 403, r.text
        assert _error(r)["code"] == "forbidden"
    await _nothing_written(container, victim.user_id)
