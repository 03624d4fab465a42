"""Deposits: addresses, confirmations, exactly-once credit, unmatched outputs, waiting rates."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from gateway_sim.app import address_for, deliveries
from sqlalchemy import func, select

from holdem.adapters.orm.payments import Deposit, DepositAddress
from holdem.payments import signatures
from holdem.services import deposits
from holdem.services.deposits import Outcome
from tests.payments_support import SECRET, balances, conservation_ok, make_user


async def _deliver(payments, delivery):
    return await deposits.receive_notice(
        payments.deposits, delivery.body, delivery.headers.get("x-nowpayments-sig")
    )


async def test_a_deposit_address_is_created_at_the_gateway_once_and_stored(payments, container):
    user = await make_user(container)
    first = await deposits.deposit_address(payments.deposits, user, "btc")
    again = await deposits.deposit_address(payments.deposits, user, "BTC")
    eth = await deposits.deposit_address(payments.deposits, user, "USDT")
    assert first.address == again.address == address_for(f"deposit:user-{user}:BTC", "BTC")
    assert first.address.startswith("bc1q")
    assert eth.address.startswith("0x")
    async with container.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(DepositAddress))
    assert count == 2
    assert len(payments.sim.payments) == 2


async def test_an_unaccepted_coin_has_no_deposit_address(payments, container):
    user = await make_user(container)
    with pytest.raises(deposits.CoinNotAccepted):
        await deposits.deposit_address(payments.deposits, user, "DOGE")


async def test_a_deposit_is_pending_until_three_confirmations_then_credited_once(
    payments, container
):
    user = await make_user(container)
    address = (await deposits.deposit_address(payments.deposits, user, "BTC")).address
    batch = deliveries(SECRET, address=address, coin="BTC", amount="0.01234567")
    outcomes = [(await _deliver(payments, d)).outcome for d in batch]
    assert outcomes == [Outcome.PENDING] * 3 + [Outcome.CREDITED]
    for delivery in batch:  # the gateway repeats everything
        assert (await _deliver(payments, delivery)).outcome is Outcome.DUPLICATE
    async with container.sessions() as session:
        row = (await session.execute(select(Deposit))).scalar_one()
    assert row.status == "credited"
    assert row.confirmations == 3
    assert row.amount_krw == 1_234_567  # 0.01234567 BTC × ₩100,000,000, rounded down
    assert row.rate_krw == Decimal("100000000")
    assert row.crypto_amount == Decimal("0.01234567")
    assert (await balances(container, user)).wallet == 1_234_567
    await conservation_ok(container)


async def test_confirmations_arriving_out_of_order_credit_once_at_the_minimum(payments, container):
    user = await make_user(container)
    address = (await deposits.deposit_address(payments.deposits, user, "ETH")).address
    batch = deliveries(SECRET, address=address, coin="ETH", amount="0.5")
    outcomes = [(await _deliver(payments, d)).outcome for d in reversed(batch)]
    assert outcomes[0] is Outcome.CREDITED  # the 12-confirmation notice came first
    assert set(outcomes[1:]) == {Outcome.DUPLICATE}
    assert (await balances(container, user)).wallet == 2_500_000


async def test_an_output_to_an_unknown_address_is_recorded_for_review_and_credits_nobody(
    payments, container
):
    stranger = address_for("never-issued", "BTC")
    batch = deliveries(SECRET, address=stranger, coin="BTC", amount="1")
    outcomes = [(await _deliver(payments, d)).outcome for d in batch]
    assert outcomes == [Outcome.UNMATCHED] + [Outcome.DUPLICATE] * 3
    async with container.sessions() as session:
        review = await deposits.unmatched_deposits(session)
    assert [(r.address, r.user_id, r.confirmations) for r in review] == [(stranger, None, 3)]
    await conservation_ok(container)


async def test_without_a_fresh_rate_a_confirmed_deposit_waits_then_is_swept_once(
    payments, container
):
    user = await make_user(container)
    address = (await deposits.deposit_address(payments.deposits, user, "BTC")).address
    payments.market.down = True
    batch = deliveries(SECRET, address=address, coin="BTC", amount="0.001")
    outcomes = [(await _deliver(payments, d)).outcome for d in batch]
    assert outcomes[-1] is Outcome.AWAITING_RATE
    assert (await balances(container, user)).wallet == 0
    payments.market.down = False
    assert await deposits.credit_waiting_deposits(payments.deposits) == 1
    assert await deposits.credit_waiting_deposits(payments.deposits) == 0
    assert (await _deliver(payments, batch[-1])).outcome is Outcome.DUPLICATE
    assert (await balances(container, user)).wallet == 100_000
    await conservation_ok(container)


def _signed(body: dict) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, signatures.sign(raw, SECRET)


def _notice(**overrides) -> dict:
    body = {
        "payment_id": 1,
        "payment_status": "finished",
        "pay_address": address_for("x", "BTC"),
        "pay_currency": "btc",
        "actually_paid": 0.5,
        "payin_hash": "ab" * 32,
        "confirmations": 3,
        "updated_at": int(time.time() * 1000),
    }
    return {**body, **overrides}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        (None, deposits.WebhookPayloadInvalid),  # only a payment id
        ({"actually_paid": -1}, deposits.WebhookPayloadInvalid),
        ({"payin_hash": "not a hash!"}, deposits.WebhookPayloadInvalid),
        ({"confirmations": -3}, deposits.WebhookPayloadInvalid),
        ({"pay_currency": "doge"}, deposits.CoinNotAccepted),
        ({"updated_at": -3_600_000}, deposits.WebhookStale),  # an hour old (relative to now)
    ],
)
async def test_invalid_or_stale_notices_are_refused_and_change_nothing(
    payments, container, overrides, error
):
    if overrides is None:
        body = {"payment_id": 1}
    else:
        # Stamped now, when the test runs (a collection-time stamp would go stale).
        shift = overrides.get("updated_at", 0)
        body = _notice(**{**overrides, "updated_at": int(time.time() * 1000) + shift})
    raw, sig = _signed(body)
    with pytest.raises(error):
        await deposits.receive_notice(payments.deposits, raw, sig)
    async with container.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Deposit)) == 0


async def test_bad_missing_or_unparseable_signatures_are_refused(payments):
    raw, sig = _signed(_notice())
    with pytest.raises(deposits.WebhookSignatureInvalid):
        await deposits.receive_notice(payments.deposits, raw, None)
    with pytest.raises(deposits.WebhookSignatureInvalid):
        await deposits.receive_notice(payments.deposits, raw.replace(b"0.5", b"5.0"), sig)
    with pytest.raises(deposits.WebhookMalformed):
        await deposits.receive_notice(payments.deposits, b"{not json", sig)
    arr = b"[1, 2]"
    with pytest.raises(deposits.WebhookPayloadInvalid):
        await deposits.receive_notice(payments.deposits, arr, signatures.sign(arr, SECRET))


async def test_my_deposits_list_pending_and_credited_newest_first(payments, container):
    user = await make_user(container)
    address = (await deposits.deposit_address(payments.deposits, user, "BTC")).address
    for d in deliveries(SECRET, address=address, coin="BTC", amount="0.1"):
        await _deliver(payments, d)
    await _deliver(payments, deliveries(SECRET, address=address, coin="BTC", amount="0.2")[1])
    async with container.sessions() as session:
        mine = await deposits.list_deposits(session, user)
        other = await deposits.list_deposits(session, user + 1000)
    assert [(d.status, d.confirmations) for d in mine] == [("pending", 1), ("credited", 3)]
    assert other == []
