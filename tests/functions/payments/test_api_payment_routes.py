"""The wallet and admin payment routes through the ASGI app (real PostgreSQL/Redis, the
gateway simulator behind the real adapter)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from holdem.adapters.orm.payments import DepositAddress, Withdrawal
from holdem.adapters.orm.users import User
from holdem.services import withdrawals as wd
from tests.functions.api.conftest import Users, make_app
from tests.payments_support import balances, fund, utc_now

BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.fixture
def app(container, payments):
    # `payments` replaced the container's gateway and rates with the simulator's.
    return make_app(container)


@pytest.fixture
async def client(app):
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def users(client, container) -> Users:
    return Users(client, container)


def _withdraw(client, player, key="k-1", **body):
    payload = {"amount_krw": 50_000, "coin": "BTC", "address": BTC_ADDRESS, **body}
    return client.post(
        "/api/v1/wallet/withdraw",
        json=payload,
        headers={**player.headers, "Idempotency-Key": key},
    )


async def test_a_player_gets_one_deposit_address_per_coin(client, users):
    player = await users.player()
    first = await client.get("/api/v1/wallet/deposit-address/btc", headers=player.headers)
    again = await client.get("/api/v1/wallet/deposit-address/BTC", headers=player.headers)
    usdc = await client.get("/api/v1/wallet/deposit-address/USDC", headers=player.headers)
    assert first.status_code == 200, first.text
    assert first.json() == again.json()
    assert first.json()["min_confirmations"] == 3
    assert usdc.json()["token_network"] == "ERC20"
    assert usdc.json()["min_confirmations"] == 12


@pytest.mark.parametrize("coin", ["DOGE", "b", "BTC!"])
async def test_an_unknown_coin_is_a_client_error(client, users, coin):
    player = await users.player()
    r = await client.get(f"/api/v1/wallet/deposit-address/{coin}", headers=player.headers)
    assert 400 <= r.status_code < 500


async def test_a_withdrawal_is_created_once_per_idempotency_key(client, users, container):
    player = await users.player()
    await fund(container, player.user_id, 100_000)
    first = await _withdraw(client, player)
    again = await _withdraw(client, player)
    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["crypto_amount"] == "0.00050000"
    assert first.json()["status"] == "pending"
    reused = await _withdraw(client, player, amount_krw=60_000)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert (await balances(container, player.user_id)).pending_withdrawal == 50_000
    mine = await client.get("/api/v1/wallet/withdrawals", headers=player.headers)
    assert [w["id"] for w in mine.json()] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount_krw": 9_999}, 400, "amount_below_minimum"),
        ({"address": BTC_ADDRESS[:-1] + "5"}, 400, "invalid_address"),
        ({"coin": "DOGE"}, 400, "unsupported_coin"),
        ({"amount_krw": 1_000_000}, 409, "insufficient_funds"),
        ({"amount_krw": -5}, 422, None),
        ({"amount_krw": "lots"}, 422, None),
    ],
)
async def test_bad_withdrawals_get_clear_4xx_errors_and_move_nothing(
    client, users, container, body, status, code
):
    player = await users.player()
    await fund(container, player.user_id, 100_000)
    r = await _withdraw(client, player, **body)
    assert r.status_code == status, r.text
    if code:
        assert r.json()["error"]["code"] == code
    assert (await balances(container, player.user_id)).wallet == 100_000


async def test_a_withdrawal_needs_an_idempotency_key(client, users, container):
    player = await users.player()
    r = await client.post(
        "/api/v1/wallet/withdraw",
        json={"amount_krw": 50_000, "coin": "BTC", "address": BTC_ADDRESS},
        headers=player.headers,
    )
    assert 400 <= r.status_code < 500


async def test_withdrawals_are_rate_limited_to_ten_an_hour(client, users, container):
    player = await users.player()
    await fund(container, player.user_id, 10_000_000)
    codes = [(await _withdraw(client, player, key=f"k{i}")).status_code for i in range(11)]
    assert codes[:10] == [201] * 10
    assert codes[10] == 429


async def test_cancellation_is_refused_by_default(client, users, container):
    player = await users.player()
    await fund(container, player.user_id, 100_000)
    created = (await _withdraw(client, player)).json()
    r = await client.post(
        f"/api/v1/wallet/withdrawals/{created['id']}/cancel", headers=player.headers
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "withdrawal_cancel_disabled")


async def test_operators_approve_hold_and_reject_players_cannot(client, users, container):
    player = await users.player()
    operator = await users.operator()
    await fund(container, player.user_id, 100_000)
    wid = (await _withdraw(client, player)).json()["id"]
    base = f"/api/v1/admin/withdrawals/{wid}"
    denied = await client.post(f"{base}/approve", headers=player.headers)
    assert denied.status_code == 403
    held = await client.post(f"{base}/hold", headers=operator.headers)
    assert held.json()["status"] == "held"
    no_reason = await client.post(f"{base}/reject", json={}, headers=operator.headers)
    assert no_reason.status_code == 422
    rejected = await client.post(
        f"{base}/reject", json={"reason": "documents expired"}, headers=operator.headers
    )
    assert rejected.json()["status"] == "rejected"
    again = await client.post(f"{base}/approve", headers=operator.headers)
    assert (again.status_code, again.json()["error"]["code"]) == (
        409,
        "illegal_withdrawal_transition",
    )
    missing = await client.post(
        "/api/v1/admin/withdrawals/999999/approve", headers=operator.headers
    )
    assert missing.status_code == 404
    assert (await balances(container, player.user_id)).wallet == 100_000


async def test_a_large_withdrawal_is_paid_after_operator_approval(
    client, users, container, payments
):
    player = await users.player()
    operator = await users.operator()
    async with container.sessions() as session, session.begin():
        from holdem.adapters.orm.users import User

        (await session.get(User, player.user_id)).kyc_status = "verified"
    await fund(container, player.user_id, 2_000_000)
    wid = (await _withdraw(client, player, amount_krw=1_500_000)).json()["id"]
    approved = await client.post(
        f"/api/v1/admin/withdrawals/{wid}/approve", headers=operator.headers
    )
    assert approved.json()["status"] == "approved"
    async with container.sessions() as session, session.begin():
        (await session.get(Withdrawal, wid)).due_at = utc_now() - timedelta(seconds=1)
    deps = payments.withdrawals
    assert (await wd.schedule_payouts(deps)).enqueued == [wid]
    assert await wd.pay_out(deps, wid) is wd.PayoutOutcome.PAID
    mine = (await client.get("/api/v1/wallet/withdrawals", headers=player.headers)).json()
    assert mine[0]["status"] == "paid"
    assert mine[0]["tx_hash"]


async def test_my_deposits_show_pending_ones(client, users, payments):
    from gateway_sim.app import deliveries

    from holdem.services import deposits
    from tests.payments_support import SECRET

    player = await users.player()
    address = (
        await client.get("/api/v1/wallet/deposit-address/BTC", headers=player.headers)
    ).json()["address"]
    first = deliveries(SECRET, address=address, coin="BTC", amount="0.01")[1]
    await deposits.receive_notice(payments.deposits, first.body, first.headers["x-nowpayments-sig"])
    mine = (await client.get("/api/v1/wallet/deposits", headers=player.headers)).json()
    assert [(d["status"], d["confirmations"], d["required_confirmations"]) for d in mine] == [
        ("pending", 1, 3)
    ]
    assert mine[0]["crypto_amount"] == "0.01"


async def test_operators_see_unmatched_deposits(client, users, payments):
    from gateway_sim.app import address_for, deliveries

    from holdem.services import deposits
    from tests.payments_support import SECRET

    operator = await users.operator()
    stray = deliveries(SECRET, address=address_for("nobody", "BTC"), coin="BTC", amount="2")[0]
    await deposits.receive_notice(payments.deposits, stray.body, stray.headers["x-nowpayments-sig"])
    rows = (await client.get("/api/v1/admin/deposits/unmatched", headers=operator.headers)).json()
    assert [(r["coin"], r["crypto_amount"]) for r in rows] == [("BTC", "2")]


async def test_a_withdrawal_amount_that_is_not_an_integer_is_422_and_moves_nothing(
    client, users, container
):
    player = await users.player()
    await fund(container, player.user_id, 100_000)
    for n, amount in enumerate(["10000", "50000", True, 50_000.0, [50_000]]):
        r = await _withdraw(client, player, key=f"typed-{n}", amount_krw=amount)
        assert r.status_code == 422, (amount, r.text)
        assert r.json()["error"]["code"] == "validation_error"
    after = await balances(container, player.user_id)
    assert (after.wallet, after.pending_withdrawal) == (100_000, 0)
    async with container.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(Withdrawal)) == 0


async def test_a_deleted_users_token_gets_a_404_for_a_deposit_address_not_a_500(
    client, users, container, payments
):
    player = await users.player()
    async with container.sessions() as db, db.begin():
        await db.delete(await db.get(User, player.user_id))
    r = await client.get("/api/v1/wallet/deposit-address/BTC", headers=player.headers)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"
    async with container.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(DepositAddress)) == 0
    assert payments.sim.payments == {}  # the gateway was not asked for an address
