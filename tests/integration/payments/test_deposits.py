"""Deposits: addresses, confirmations, exactly-once credit, unmatched outputs, waiting rates."""

from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal

import pytest
from gateway_sim.app import address_for, deliveries
from sqlalchemy import func, select

from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.payments import Deposit, DepositAddress
from holdem.adapters.orm.users import User
from holdem.payments import signatures
from holdem.services import deposits, errors
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
    review = await deposits.unmatched_deposits(payments.deposits)
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


# 20,000,000 BTC at ₩100,000,000: ₩2×10^15, twice what one ledger movement may carry.
HUGE_BTC = "20000000"


async def _ledger_size(container) -> int:
    async with container.sessions() as session:
        return await session.scalar(select(func.count()).select_from(LedgerTransaction))


async def test_a_deposit_worth_more_than_the_ledger_carries_is_refused_and_kept_for_review(
    payments, container
):
    user = await make_user(container)
    address = (await deposits.deposit_address(payments.deposits, user, "BTC")).address
    *pending, confirmed = deliveries(SECRET, address=address, coin="BTC", amount=HUGE_BTC)
    assert [(await _deliver(payments, d)).outcome for d in pending] == [Outcome.PENDING] * 3
    with pytest.raises(deposits.DepositOverLimit) as refused:
        await _deliver(payments, confirmed)
    assert refused.value.details["max_krw"] == 10**15
    async with container.sessions() as session:
        row = (await session.execute(select(Deposit))).scalar_one()
    assert (row.status, row.confirmations, row.amount_krw) == ("over_limit", 3, None)
    assert row.rate_krw == Decimal("100000000")
    assert refused.value.details["deposit_id"] == row.id
    # Every later delivery is refused the same way and changes nothing.
    for delivery in (confirmed, *pending):
        with pytest.raises(deposits.DepositOverLimit):
            await _deliver(payments, delivery)
    async with container.sessions() as session:
        again = (await session.execute(select(Deposit))).scalar_one()
    review = await deposits.over_limit_deposits(payments.deposits)
    assert (again.status, again.updated_at) == ("over_limit", row.updated_at)
    assert [(r.id, r.user_id) for r in review] == [(row.id, user)]
    assert (await balances(container, user)).wallet == 0
    assert await _ledger_size(container) == 0
    await conservation_ok(container)


async def test_the_sweep_keeps_an_over_limit_deposit_for_review_and_credits_the_others(
    payments, container
):
    """One deposit over the limit must not fail the sweep of its coin on every run."""
    user = await make_user(container)
    address = (await deposits.deposit_address(payments.deposits, user, "BTC")).address
    payments.market.down = True
    for amount in (HUGE_BTC, "0.001"):
        for delivery in deliveries(SECRET, address=address, coin="BTC", amount=amount):
            await _deliver(payments, delivery)
    payments.market.down = False
    assert await deposits.credit_waiting_deposits(payments.deposits) == 1
    assert await deposits.credit_waiting_deposits(payments.deposits) == 0
    async with container.sessions() as session:
        statuses = sorted((await session.scalars(select(Deposit.status))).all())
    assert statuses == ["credited", "over_limit"]
    assert (await balances(container, user)).wallet == 100_000
    await conservation_ok(container)


async def test_a_deleted_user_gets_no_deposit_address_and_the_gateway_is_not_asked(
    payments, container
):
    user = await make_user(container)
    async with container.sessions() as session, session.begin():
        await session.delete(await session.get(User, user))
    with pytest.raises(errors.NotFound):
        await deposits.deposit_address(payments.deposits, user, "BTC")
    async with container.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DepositAddress)) == 0
    assert payments.sim.payments == {}


async def test_a_user_deleted_while_the_gateway_issues_an_address_is_not_found_and_stores_nothing(
    payments, container
):
    user = await make_user(container)
    gateway = payments.deposits.gateway

    class DeletingGateway:
        """The real gateway, but the account is deleted while it issues the address."""

        async def create_deposit_address(self, coin, order_id):
            async with container.sessions() as session, session.begin():
                await session.delete(await session.get(User, user))
            return await gateway.create_deposit_address(coin, order_id)

    racing = dataclasses.replace(payments.deposits, gateway=DeletingGateway())
    with pytest.raises(errors.NotFound):
        await deposits.deposit_address(racing, user, "BTC")
    async with container.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DepositAddress)) == 0


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
        ({"confirmations": True}, deposits.WebhookPayloadInvalid),  # not one confirmation
        ({"confirmations": "3"}, deposits.WebhookPayloadInvalid),
        ({"output_index": False}, deposits.WebhookPayloadInvalid),
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
    mine = await deposits.list_deposits(payments.deposits, user)
    other = await deposits.list_deposits(payments.deposits, user + 1000)
    assert [(d.status, d.confirmations) for d in mine] == [("pending", 1), ("credited", 3)]
    assert other == []
