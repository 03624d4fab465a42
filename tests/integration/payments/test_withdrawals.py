"""Withdrawals: every transition, operator paths, payouts, crashes, duplicates and races."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.payments import Withdrawal
from holdem.payments.gateway import GatewayUnavailable
from holdem.ports.payments import PaymentGateway
from holdem.services import errors
from holdem.services import withdrawals as wd
from holdem.services.withdrawals import OperatorAction, PayoutOutcome
from tests.payments_support import balances, conservation_ok, fund, make_user, utc_now

BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
ETH_ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self):
        return self.now


def _deps(payments, clock=None, **money):
    deps = payments.withdrawals
    if money:
        deps.money = deps.money.model_copy(update=money)
    if clock is not None:
        deps.clock = clock
    return deps


async def _request(deps, user, amount=50_000, coin="BTC", address=BTC_ADDRESS, key="k1"):
    return await wd.request_withdrawal(
        deps, user, amount_krw=amount, coin=coin, address=address, idempotency_key=key
    )


async def _row(container, withdrawal_id) -> Withdrawal:
    async with container.sessions() as session:
        row = await session.get(Withdrawal, withdrawal_id)
        assert row is not None
        return row


# --- requesting ---------------------------------------------------------------------------


async def test_a_withdrawal_reserves_at_once_and_quotes_the_coin_rounded_down(payments, container):
    user = await make_user(container)
    await fund(container, user, 200_000)
    view = await _request(payments.withdrawals, user, amount=123_457)
    assert view.status == "pending"
    assert view.crypto_amount == Decimal("0.00123457")  # ₩123,457 / ₩100,000,000
    assert view.rate_krw == Decimal("100000000")
    assert (view.due_at - view.created_at) == timedelta(hours=24)
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (200_000 - 123_457, 123_457)
    await conservation_ok(container)


async def test_the_same_idempotency_key_returns_the_same_withdrawal(payments, container):
    user = await make_user(container)
    await fund(container, user, 200_000)
    first = await _request(payments.withdrawals, user, key="same")
    again = await _request(payments.withdrawals, user, key="same")
    assert again.id == first.id
    assert (await balances(container, user)).pending_withdrawal == 50_000
    with pytest.raises(wd.IdempotencyKeyReused):
        await _request(payments.withdrawals, user, amount=60_000, key="same")
    other = await make_user(container)  # keys are per user
    await fund(container, other, 50_000)
    assert (await _request(payments.withdrawals, other, key="same")).id != first.id


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"amount": 9_999}, wd.AmountBelowMinimum),
        ({"coin": "DOGE"}, wd.CoinNotAccepted),
        ({"address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"}, wd.WithdrawalAddressInvalid),
        ({"address": ETH_ADDRESS}, wd.WithdrawalAddressInvalid),  # an ETH address for BTC
        ({"coin": "USDT", "address": BTC_ADDRESS}, wd.WithdrawalAddressInvalid),
        ({"coin": "ETH", "address": ETH_ADDRESS.replace("a", "A", 1)}, wd.WithdrawalAddressInvalid),
        ({"amount": 500_000}, wd.InsufficientFunds),
        ({"key": ""}, errors.InvalidInput),
    ],
)
async def test_bad_requests_are_refused_and_reserve_nothing(payments, container, kwargs, error):
    user = await make_user(container)
    await fund(container, user, 100_000)
    with pytest.raises(error):
        await _request(payments.withdrawals, user, **kwargs)
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (100_000, 0)
    async with container.sessions() as session:
        assert (await session.execute(select(Withdrawal))).first() is None


async def test_stablecoins_pay_out_to_an_erc20_address(payments, container):
    user = await make_user(container)
    await fund(container, user, 100_000)
    view = await _request(payments.withdrawals, user, coin="USDT", address=ETH_ADDRESS.lower())
    assert view.address == ETH_ADDRESS  # stored in its EIP-55 form
    assert view.crypto_amount == Decimal("35.714285")  # ₩50,000 / ₩1,400, 6 places, down


async def test_a_withdrawal_is_refused_when_no_fresh_rate_exists(payments, container):
    user = await make_user(container)
    await fund(container, user, 100_000)
    payments.market.down = True
    with pytest.raises(wd.RateUnavailableError):
        await _request(payments.withdrawals, user)
    assert (await balances(container, user)).wallet == 100_000


async def test_parallel_withdrawals_racing_one_balance_never_overdraw(payments, container):
    user = await make_user(container)
    await fund(container, user, 100_000)
    deps = payments.withdrawals
    results = await asyncio.gather(
        *(_request(deps, user, amount=30_000, key=f"race-{i}") for i in range(8)),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 3
    assert all(isinstance(r, wd.InsufficientFunds) for r in refused)
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (10_000, 90_000)
    await conservation_ok(container)


# --- scheduling, approval and operator paths ------------------------------------------------


async def test_small_withdrawals_are_auto_approved_after_24_hours_and_enqueued(payments, container):
    clock = Clock()
    deps = _deps(payments, clock)
    user = await make_user(container)
    await fund(container, user, 100_000)
    view = await _request(deps, user)
    report = await wd.schedule_payouts(deps)
    assert (report.auto_approved, report.enqueued) == ([], [])
    clock.now += timedelta(hours=24)
    report = await wd.schedule_payouts(deps)
    assert (report.auto_approved, report.enqueued) == ([view.id], [view.id])
    assert payments.sent == [[view.id]]
    assert (await _row(container, view.id)).status == "processing"
    again = await wd.schedule_payouts(deps)  # leased: not enqueued twice
    assert again.enqueued == []


async def test_large_withdrawals_wait_for_an_operator(payments, container):
    clock = Clock()
    deps = _deps(payments, clock)
    user = await make_user(container, kyc="verified")
    operator = await make_user(container, role="operator")
    await fund(container, user, 3_000_000)
    view = await _request(deps, user, amount=1_000_001)
    clock.now += timedelta(hours=25)
    assert (await wd.schedule_payouts(deps)).auto_approved == []
    decided = await wd.decide(deps, view.id, operator, OperatorAction.APPROVE)
    assert decided.status == "approved"
    assert (await wd.schedule_payouts(deps)).enqueued == [view.id]
    row = await _row(container, view.id)
    assert (row.decided_by, row.status) == (operator, "processing")


async def test_an_operator_can_hold_release_and_reject_with_funds_returned(payments, container):
    deps = payments.withdrawals
    user = await make_user(container)
    operator = await make_user(container, role="operator")
    await fund(container, user, 100_000)
    view = await _request(deps, user)
    assert (await wd.decide(deps, view.id, operator, OperatorAction.HOLD)).status == "held"
    assert (await wd.decide(deps, view.id, operator, OperatorAction.RELEASE)).status == "pending"
    await wd.decide(deps, view.id, operator, OperatorAction.HOLD)
    rejected = await wd.decide(deps, view.id, operator, OperatorAction.REJECT, "AML review")
    assert rejected.status == "rejected"
    assert rejected.failure_reason == "AML review"
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (100_000, 0)
    with pytest.raises(wd.TransitionNotAllowed):
        await wd.decide(deps, view.id, operator, OperatorAction.APPROVE)
    assert (await balances(container, user)).wallet == 100_000  # returned exactly once
    async with container.sessions() as session:
        audit = (
            await session.execute(
                select(AdminAction.action, AdminAction.actor_id).order_by(AdminAction.id)
            )
        ).all()
    assert [tuple(a) for a in audit] == [
        ("withdrawal_hold", operator),
        ("withdrawal_release", operator),
        ("withdrawal_hold", operator),
        ("withdrawal_reject", operator),
    ]
    await conservation_ok(container)


async def test_an_approved_withdrawal_can_still_be_held_or_rejected_before_payout(
    payments, container
):
    deps = payments.withdrawals
    user = await make_user(container)
    await fund(container, user, 100_000)
    view = await _request(deps, user)
    await wd.decide(deps, view.id, 1, OperatorAction.APPROVE)
    assert (await wd.decide(deps, view.id, 1, OperatorAction.REJECT)).status == "rejected"
    assert (await balances(container, user)).wallet == 100_000


async def test_unknown_withdrawals_are_not_found(payments):
    with pytest.raises(wd.WithdrawalNotFound):
        await wd.decide(payments.withdrawals, 999_999, 1, OperatorAction.APPROVE)


async def test_player_cancellation_is_off_by_default_and_returns_funds_when_on(payments, container):
    user = await make_user(container)
    await fund(container, user, 100_000)
    view = await _request(payments.withdrawals, user)
    with pytest.raises(wd.CancelNotAllowed):
        await wd.cancel(payments.withdrawals, user, view.id)
    allowed = _deps(payments, allow_withdrawal_cancel=True)
    with pytest.raises(wd.WithdrawalNotFound):
        await wd.cancel(allowed, user + 1, view.id)  # not theirs
    assert (await wd.cancel(allowed, user, view.id)).status == "cancelled"
    assert (await balances(container, user)).wallet == 100_000
    with pytest.raises(wd.TransitionNotAllowed):
        await wd.cancel(allowed, user, view.id)


# --- payouts ------------------------------------------------------------------------------


async def _due(payments, container, amount=50_000, **money):
    clock = Clock()
    deps = _deps(payments, clock, **money)
    user = await make_user(container)
    await fund(container, user, 100_000)
    view = await _request(deps, user, amount=amount)
    clock.now += timedelta(hours=24)
    await wd.schedule_payouts(deps)
    return deps, clock, user, view


async def test_a_payout_pays_once_records_the_hash_and_completes_the_ledger(payments, container):
    deps, _clock, user, view = await _due(payments, container)
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.PAID
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.SKIPPED  # a duplicate SQS message
    row = await _row(container, view.id)
    (payout,) = payments.sim.payouts.values()
    assert row.status == "paid"
    assert row.tx_hash == payout["hash"]
    assert payout["amount"] == "0.00050000"
    assert payout["unique_external_id"] == f"withdrawal-{view.id}-0"
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (50_000, 0)
    await conservation_ok(container)


async def test_duplicate_messages_processed_in_parallel_pay_once(payments, container):
    deps, _clock, _user, view = await _due(payments, container)
    outcomes = await asyncio.gather(*(wd.pay_out(deps, view.id) for _ in range(5)))
    assert outcomes.count(PayoutOutcome.PAID) == 1
    assert set(outcomes) <= {PayoutOutcome.PAID, PayoutOutcome.SKIPPED}
    assert len(payments.sim.payouts) == 1


class CrashAfterPayout(PaymentGateway):
    """Our port, wrapped: the real payout goes out, then the process 'dies' before commit."""

    def __init__(self, inner: PaymentGateway) -> None:
        self.inner = inner

    async def create_deposit_address(self, coin, user_ref):
        return await self.inner.create_deposit_address(coin, user_ref)

    async def create_payout(self, coin, address, amount, idempotency_key):
        await self.inner.create_payout(coin, address, amount, idempotency_key)
        raise SystemExit("killed between the gateway call and our commit")

    async def find_payout(self, idempotency_key):
        return await self.inner.find_payout(idempotency_key)


async def test_a_crash_after_the_gateway_call_never_pays_twice(payments, container):
    deps, clock, user, view = await _due(payments, container)
    crashing = replace(deps, gateway=CrashAfterPayout(deps.gateway))
    with pytest.raises(SystemExit):
        await wd.pay_out(crashing, view.id)
    row = await _row(container, view.id)
    assert (row.status, row.tx_hash) == ("processing", None)  # our commit never happened
    assert len(payments.sim.payouts) == 1  # but the gateway did pay
    clock.now += wd.PROCESSING_LEASE  # the lease runs out: the scheduler re-enqueues it
    assert (await wd.schedule_payouts(deps)).enqueued == [view.id]
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.PAID
    assert len(payments.sim.payouts) == 1  # found by its key, not paid again
    assert (await balances(container, user)).pending_withdrawal == 0
    await conservation_ok(container)


class LostAnswer(CrashAfterPayout):
    """The payout goes out, but its answer is lost (a read timeout): the gateway is
    'unavailable' as far as we know."""

    async def create_payout(self, coin, address, amount, idempotency_key):
        await self.inner.create_payout(coin, address, amount, idempotency_key)
        raise GatewayUnavailable("read timeout: the answer was lost")


class Down:
    """A gateway that cannot be reached at all: lookups fail as well as payouts."""

    async def create_payout(self, coin, address, amount, idempotency_key):
        raise GatewayUnavailable("connection refused")

    async def find_payout(self, idempotency_key):
        raise GatewayUnavailable("connection refused")


async def test_a_payout_whose_answer_was_lost_is_found_and_never_paid_twice(payments, container):
    deps, clock, user, view = await _due(payments, container)
    lossy = replace(deps, gateway=LostAnswer(deps.gateway))
    assert await wd.pay_out(lossy, view.id) is PayoutOutcome.RETRY  # we could not know
    row = await _row(container, view.id)
    assert (row.status, row.attempts) == ("approved", 1)
    clock.now = row.due_at
    assert (await wd.schedule_payouts(deps)).enqueued == [view.id]
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.PAID  # attempt 0's payout found
    assert list(payments.sim.payouts) == [f"withdrawal-{view.id}-0"]  # paid once
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (50_000, 0)
    await conservation_ok(container)


async def test_an_unavailable_gateway_is_retried_with_backoff_then_held_for_an_operator(
    payments, container
):
    deps, clock, user, view = await _due(payments, container, payout_max_attempts=3)
    operator = await make_user(container, role="operator")
    payments.sim.payout_mode = "unavailable"
    delays = []
    for attempt in (1, 2):
        assert await wd.pay_out(deps, view.id) is PayoutOutcome.RETRY
        row = await _row(container, view.id)
        assert (row.status, row.attempts) == ("approved", attempt)
        delays.append(row.due_at - clock.now)
        assert (await wd.schedule_payouts(deps)).enqueued == []  # not before the backoff
        clock.now = row.due_at
        assert (await wd.schedule_payouts(deps)).enqueued == [view.id]
    assert delays == [timedelta(seconds=60), timedelta(seconds=120)]
    # Out of attempts without ever hearing the gateway: nobody knows whether a payout went
    # out, so the funds stay reserved and an operator decides.
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.HELD
    row = await _row(container, view.id)
    assert (row.status, row.attempts) == ("held", 3)
    assert "unavailable" in (row.failure_reason or "")
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (50_000, 50_000)
    assert (await wd.schedule_payouts(deps)).enqueued == []  # never paid without a decision
    # The operator sees nothing went out at the gateway and rejects: the funds return once.
    assert payments.sim.payouts == {}
    assert (await wd.decide(deps, view.id, operator, OperatorAction.REJECT)).status == "rejected"
    back = await balances(container, user)
    assert (back.wallet, back.pending_withdrawal) == (100_000, 0)
    await conservation_ok(container)


async def test_a_lost_answer_then_a_gateway_outage_holds_and_never_refunds_a_paid_payout(
    payments, container
):
    deps, clock, user, view = await _due(payments, container, payout_max_attempts=2)
    operator = await make_user(container, role="operator")
    lossy = replace(deps, gateway=LostAnswer(deps.gateway))
    assert await wd.pay_out(lossy, view.id) is PayoutOutcome.RETRY  # it did pay, unknown to us
    clock.now = (await _row(container, view.id)).due_at
    await wd.schedule_payouts(deps)
    # The gateway is down for the last attempt: it cannot even look attempt 0 up.
    assert await wd.pay_out(replace(deps, gateway=Down()), view.id) is PayoutOutcome.HELD
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (50_000, 50_000)  # no refund
    # The gateway is back; the operator approves: attempt 0's payout is found, not repeated.
    payments.sim.payout_mode = "sent"
    assert (await wd.decide(deps, view.id, operator, OperatorAction.APPROVE)).status == "approved"
    assert (await wd.schedule_payouts(deps)).enqueued == [view.id]
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.PAID
    assert list(payments.sim.payouts) == [f"withdrawal-{view.id}-0"]  # paid exactly once
    paid = await balances(container, user)
    assert (paid.wallet, paid.pending_withdrawal) == (50_000, 0)
    await conservation_ok(container)


async def test_a_gateway_refusal_fails_at_once_and_returns_the_funds(payments, container):
    deps, _clock, user, view = await _due(payments, container)
    payments.sim.payout_mode = "reject"
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.FAILED
    assert (await balances(container, user)).wallet == 100_000


async def test_a_failed_payout_is_retried_under_a_new_key(payments, container):
    deps, clock, _user, view = await _due(payments, container)
    payments.sim.payout_mode = "fail"
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.RETRY
    payments.sim.payout_mode = "sent"
    clock.now += timedelta(hours=1)
    await wd.schedule_payouts(deps)
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.PAID
    keys = sorted(payments.sim.payouts)
    assert keys == [f"withdrawal-{view.id}-0", f"withdrawal-{view.id}-1"]


async def test_a_payout_the_gateway_has_not_sent_yet_is_looked_up_again(payments, container):
    deps, clock, _user, view = await _due(payments, container)
    payments.sim.payout_mode = "waiting"
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.WAITING
    payout = next(iter(payments.sim.payouts.values()))
    payout.update(status="FINISHED", hash="ab" * 32)  # the chain caught up
    clock.now += wd.PENDING_POLL
    assert (await wd.schedule_payouts(deps)).enqueued == [view.id]
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.PAID
    assert (await _row(container, view.id)).tx_hash == "ab" * 32
    assert len(payments.sim.payouts) == 1
