"""Balances, the statement with cursor pagination, and operator adjustments (real ledger)."""

from __future__ import annotations

from sqlalchemy import select

from holdem.adapters.orm.admin import AdminAction
from tests.functions.api.api_support import deposit


async def test_balance_and_profile_show_the_ledger(client, users, container):
    p = await users.player()
    await deposit(container, p.user_id, 250_000)
    r = await client.get("/api/v1/wallet/balance", headers=p.headers)
    assert r.status_code == 200
    assert r.json() == {
        "currency": "KRW",
        "wallet": 250_000,
        "pending_withdrawal": 0,
        "locked": 0,
        "seats": [],
        "total": 250_000,
    }
    me = await client.get("/api/v1/me", headers=p.headers)
    assert me.json()["balance"]["wallet"] == 250_000


async def test_transactions_are_newest_first_with_crypto_details(client, users, container):
    p = await users.player()
    for n in range(1, 6):
        await deposit(container, p.user_id, 10_000 * n, n)
    r = await client.get("/api/v1/wallet/transactions", params={"limit": 2}, headers=p.headers)
    page = r.json()
    assert [line["amount_krw"] for line in page["items"]] == [50_000, 40_000]
    assert [line["balance_after"] for line in page["items"]] == [150_000, 100_000]
    first = page["items"][0]
    assert first["kind"] == "crypto_deposit"
    assert first["details"]["coin"] == "BTC"
    assert first["details"]["tx_hash"] == f"tx{p.user_id}-5"
    rest = await client.get(
        "/api/v1/wallet/transactions",
        params={"cursor": page["next_cursor"], "kind": "crypto_deposit"},
        headers=p.headers,
    )
    assert [line["amount_krw"] for line in rest.json()["items"]] == [30_000, 20_000, 10_000]
    assert rest.json()["next_cursor"] is None


async def test_pagination_is_stable_under_inserts(client, users, container):
    """New movements arriving while a client pages never shift or repeat lines."""
    p = await users.player()
    for n in range(1, 7):
        await deposit(container, p.user_id, 1_000 * n, n)
    seen, cursor, extra = [], None, 100
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get("/api/v1/wallet/transactions", params=params, headers=p.headers)
        ).json()
        seen += [line["id"] for line in page["items"]]
        extra += 1
        await deposit(container, p.user_id, 7, extra)  # lands on page one, never later
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6
    assert seen == sorted(seen, reverse=True)


async def test_a_bad_cursor_or_kind_is_4xx(client, users):
    p = await users.player()
    r = await client.get("/api/v1/wallet/transactions", params={"cursor": "zz"}, headers=p.headers)
    assert r.status_code == 400
    r = await client.get("/api/v1/wallet/transactions", params={"kind": "gift"}, headers=p.headers)
    assert r.status_code == 422


async def test_operator_adjustment_is_idempotent_and_audited(client, users, container):
    op, p = await users.operator(), await users.player()
    url = f"/api/v1/admin/users/{p.user_id}/adjustments"
    body = {"amount_krw": 30_000, "reason": "table outage refund"}
    headers = op.headers | {"Idempotency-Key": "refund-0001"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert (first.json()["wallet_after"], first.json()["replayed"]) == (30_000, False)
    again = await client.post(url, json=body, headers=headers)
    assert (again.json()["transaction_id"], again.json()["replayed"]) == (
        first.json()["transaction_id"],
        True,
    )
    other = await client.post(url, json=body | {"amount_krw": 1}, headers=headers)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    overdraw = await client.post(
        url,
        json={"amount_krw": -40_000, "reason": "chargeback"},
        headers=op.headers | {"Idempotency-Key": "chargeback-01"},
    )
    assert (overdraw.status_code, overdraw.json()["error"]["code"]) == (409, "insufficient_funds")
    balance = (await client.get("/api/v1/wallet/balance", headers=p.headers)).json()
    assert balance["wallet"] == 30_000
    lines = (await client.get("/api/v1/wallet/transactions", headers=p.headers)).json()["items"]
    assert [(line["kind"], line["details"]["reason"]) for line in lines] == [
        ("adjustment", "table outage refund")
    ]
    async with container.sessions() as db:
        actions = list(await db.scalars(select(AdminAction)))
    assert [(a.action, a.target_user_id, a.details["amount"]) for a in actions] == [
        ("adjust_wallet", p.user_id, 30_000)
    ]


async def test_adjustments_need_an_operator_a_reason_a_key_and_a_real_user(client, users):
    op, p = await users.operator(), await users.player()
    url = f"/api/v1/admin/users/{p.user_id}/adjustments"
    key = {"Idempotency-Key": "key-000001"}
    body = {"amount_krw": 100, "reason": "bonus"}
    assert (await client.post(url, json=body, headers=p.headers | key)).status_code == 403
    assert (await client.post(url, json=body, headers=op.headers)).status_code == 422
    r = await client.post(url, json={"amount_krw": 100}, headers=op.headers | key)
    assert r.status_code == 422
    r = await client.post(url, json={"amount_krw": 0, "reason": "zero"}, headers=op.headers | key)
    assert r.status_code == 400
    r = await client.post(
        "/api/v1/admin/users/999999/adjustments", json=body, headers=op.headers | key
    )
    assert r.status_code == 404
