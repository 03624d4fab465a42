"""The payout webhook (the gateway's callback when a payout changes status) through its ASGI
app: real PostgreSQL and Redis, the gateway simulator behind the real adapter. A status only
moves forward; paid once, refunded once; duplicates, reordering, forgeries, stale and unknown
callbacks change nothing; a storm of all of them leaves the ledger clean."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from gateway_sim.app import Delivery, payout_notices
from sqlalchemy import func, select

from functions.payout_webhook.handler import PATH, create_asgi_app
from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.payments import Withdrawal
from holdem.payments import signatures
from holdem.services import withdrawals as wd
from holdem.services.withdrawals import PayoutOutcome
from tests.payments_support import SECRET, balances, conservation_ok, fund, make_user, utc_now

BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


@pytest.fixture
async def client(payments):
    transport = httpx.ASGITransport(app=create_asgi_app(lambda: payments.container))
    async with httpx.AsyncClient(transport=transport, base_url="http://webhook") as c:
        yield c


async def _waiting_payout(payments, container, amount: int = 50_000) -> tuple[int, int, dict]:
    """A user with ₩100,000 whose withdrawal of `amount` the gateway accepted, not sent yet."""
    user = await make_user(container)
    await fund(container, user, 100_000)
    deps = payments.withdrawals
    view = await wd.request_withdrawal(
        deps, user, amount_krw=amount, coin="BTC", address=BTC_ADDRESS, idempotency_key="k"
    )
    async with container.sessions() as session, session.begin():
        (await session.get(Withdrawal, view.id)).due_at = utc_now() - timedelta(seconds=1)
    assert view.id in (await wd.schedule_payouts(deps)).enqueued
    payments.sim.payout_mode = "waiting"
    assert await wd.pay_out(deps, view.id) is PayoutOutcome.WAITING
    return user, view.id, payments.sim.payouts[wd.payout_key(view.id, 0)]


def _finished(payout: dict) -> dict:
    return {**payout, "status": "FINISHED", "hash": "ab" * 32}


async def _post(client, delivery: Delivery) -> tuple[int, str]:
    r = await client.post(PATH, content=delivery.body, headers=delivery.headers)
    body = r.json()
    return r.status_code, body["error"]["code"] if "error" in body else body["status"]


async def _row(container, withdrawal_id: int) -> Withdrawal:
    async with container.sessions() as session:
        return await session.get(Withdrawal, withdrawal_id)


async def _ledger_kinds(container, withdrawal_id: int) -> Counter[str]:
    async with container.sessions() as session:
        rows = await session.execute(
            select(LedgerTransaction.kind, func.count())
            .where(LedgerTransaction.idempotency_key.like(f"withdrawal:{withdrawal_id}:%"))
            .group_by(LedgerTransaction.kind)
        )
        return Counter(dict(rows.all()))


async def test_a_finished_callback_pays_once_however_often_it_comes(payments, container, client):
    user, wid, payout = await _waiting_payout(payments, container)
    batch = payout_notices(SECRET, _finished(payout), ["FINISHED"], duplicates=3)
    answers = [await _post(client, d) for d in batch]
    assert answers == [(200, "paid")] + [(200, "skipped")] * 3
    row = await _row(container, wid)
    assert (row.status, row.tx_hash, row.payout_id) == ("paid", "ab" * 32, payout["id"])
    assert await _ledger_kinds(container, wid) == {
        "withdrawal_reserve": 1,
        "withdrawal_complete": 1,
    }
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (50_000, 0)
    await conservation_ok(container)


async def test_statuses_only_move_forward_whatever_order_they_arrive_in(
    payments, container, client
):
    user, wid, payout = await _waiting_payout(payments, container)
    processing, sending, finished = payout_notices(
        SECRET, _finished(payout), ["PROCESSING", "SENDING", "FINISHED"]
    )
    assert await _post(client, processing) == (202, "waiting")  # nothing to do yet
    assert (await _row(container, wid)).status == "processing"
    assert await _post(client, finished) == (200, "paid")
    assert await _post(client, sending) == (200, "skipped")  # older news, arriving late
    (late_failure,) = payout_notices(SECRET, payout, ["FAILED"])
    assert await _post(client, late_failure) == (200, "skipped")  # a paid payout stays paid
    assert (await _row(container, wid)).status == "paid"
    assert await _ledger_kinds(container, wid) == {
        "withdrawal_reserve": 1,
        "withdrawal_complete": 1,
    }
    assert (await balances(container, user)).wallet == 50_000
    await conservation_ok(container)


async def test_a_rejected_payout_returns_the_funds_exactly_once(payments, container, client):
    user, wid, payout = await _waiting_payout(payments, container)
    batch = payout_notices(SECRET, payout, ["REJECTED"], duplicates=2)
    answers = [await _post(client, d) for d in batch]
    assert answers == [(200, "failed"), (200, "skipped"), (200, "skipped")]
    row = await _row(container, wid)
    assert (row.status, row.failure_reason) == ("failed", "the gateway rejected the payout")
    assert await _ledger_kinds(container, wid) == {"withdrawal_reserve": 1, "withdrawal_return": 1}
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (100_000, 0)
    await conservation_ok(container)


async def test_a_failed_payout_is_a_failed_attempt_as_when_a_lookup_finds_it(
    payments, container, client
):
    user, wid, payout = await _waiting_payout(payments, container)
    (failed,) = payout_notices(SECRET, payout, ["FAILED"])
    assert await _post(client, failed) == (200, "retry")
    row = await _row(container, wid)
    assert (row.status, row.attempts) == ("approved", 1)  # retried later under a new key
    (finished_late,) = payout_notices(SECRET, _finished(payout), ["FINISHED"])
    assert await _post(client, finished_late) == (200, "skipped")  # attempt 0 is over
    assert (await balances(container, user)).pending_withdrawal == 50_000


async def test_the_last_failed_attempt_returns_the_funds(payments, container):
    user, wid, payout = await _waiting_payout(payments, container)
    deps = payments.withdrawals
    deps.money = deps.money.model_copy(update={"payout_max_attempts": 1})
    (failed,) = payout_notices(SECRET, payout, ["FAILED"])
    sig = failed.headers["x-nowpayments-sig"]
    first = await wd.record_payout_notice(deps, failed.body, sig)
    again = await wd.record_payout_notice(deps, failed.body, sig)
    assert (first.outcome, again.outcome) == (PayoutOutcome.FAILED, PayoutOutcome.SKIPPED)
    assert [n.kind.value for n in first.notices] == ["withdrawal_failed"]
    assert await _ledger_kinds(container, wid) == {"withdrawal_reserve": 1, "withdrawal_return": 1}
    assert (await balances(container, user)).wallet == 100_000


def _resigned(body: dict) -> Delivery:
    raw = json.dumps(body).encode()
    headers = {"x-nowpayments-sig": signatures.sign(raw, SECRET)}
    return Delivery(raw, headers, 0, True)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("forged", 401, "invalid_signature"),
        ("unsigned", 401, "invalid_signature"),
        ("stale", 400, "stale_delivery"),
        ("malformed", 400, "malformed_body"),
        ("invalid", 422, "invalid_payload"),
        ("naive_time", 422, "invalid_payload"),
        ("unknown_withdrawal", 404, "payout_not_found"),
        ("not_our_key", 404, "payout_not_found"),
    ],
)
async def test_bad_callbacks_are_refused_and_change_nothing(
    payments, container, client, case, status, code
):
    user, wid, payout = await _waiting_payout(payments, container)
    (good,) = payout_notices(SECRET, _finished(payout), ["FINISHED"])
    body = json.loads(good.body)
    delivery = {
        "forged": Delivery(good.body, {"x-nowpayments-sig": "ab" * 64}, 0, False),
        "unsigned": Delivery(good.body, {}, 0, False),
        "stale": _resigned({**body, "updated_at": int(time.time() * 1000) - 3_600_000}),
        "malformed": Delivery(b"{not json", {"x-nowpayments-sig": "00"}, 0, False),
        "invalid": _resigned({k: v for k, v in body.items() if k != "unique_external_id"}),
        "naive_time": _resigned({**body, "updated_at": "2026-11-26T13:00:00"}),
        "unknown_withdrawal": _resigned({**body, "unique_external_id": "withdrawal-999999-0"}),
        "not_our_key": _resigned({**body, "unique_external_id": "someone-else-7"}),
    }[case]
    assert await _post(client, delivery) == (status, code)
    assert (await _row(container, wid)).status == "processing"
    held = await balances(container, user)
    assert (held.wallet, held.pending_withdrawal) == (50_000, 50_000)


async def test_a_storm_of_payout_callbacks_pays_or_refunds_each_exactly_once(
    payments, container, client
):
    final = ["FINISHED"] * 6 + ["REJECTED"] * 3 + ["FAILED"] * 3
    rng = random.Random(11)
    expected: dict[int, tuple[int, str]] = {}
    storm: list[tuple[str, Delivery]] = []
    for status in final:
        user, wid, payout = await _waiting_payout(payments, container)
        expected[wid] = (user, status)
        news = _finished(payout) if status == "FINISHED" else payout
        for d in payout_notices(
            SECRET,
            news,
            ["PROCESSING", "SENDING", status],
            duplicates=3,
            bad_signatures=1,
            rng=rng,
        ):
            storm.append(("forged" if not d.well_signed else "good", d))
    unknown = _resigned({**json.loads(storm[0][1].body), "unique_external_id": "withdrawal-0-0"})
    storm += [("unknown", unknown)] * 5
    rng.shuffle(storm)
    gate = asyncio.Semaphore(25)
    seen: Counter[tuple[str, int, str]] = Counter()

    async def one(kind: str, delivery: Delivery) -> None:
        async with gate:
            status, code = await _post(client, delivery)
        seen[(kind, status, code)] += 1

    await asyncio.gather(*(one(kind, d) for kind, d in storm))

    assert {(s, c) for k, s, c in seen if k == "forged"} == {(401, "invalid_signature")}
    assert {(s, c) for k, s, c in seen if k == "unknown"} == {(404, "payout_not_found")}
    good = Counter({(s, c): n for (k, s, c), n in seen.items() if k == "good"})
    assert good[(200, "paid")] == 6
    assert good[(200, "failed")] == 3
    assert good[(200, "retry")] == 3
    assert set(good) <= {(200, "paid"), (200, "failed"), (200, "retry"), (200, "skipped")} | {
        (202, "waiting")
    }
    for wid, (user, status) in expected.items():
        row = await _row(container, wid)
        kinds = await _ledger_kinds(container, wid)
        held = await balances(container, user)
        if status == "FINISHED":
            assert row.status == "paid"
            assert kinds == {"withdrawal_reserve": 1, "withdrawal_complete": 1}
            assert (held.wallet, held.pending_withdrawal) == (50_000, 0)
        elif status == "REJECTED":
            assert row.status == "failed"
            assert kinds == {"withdrawal_reserve": 1, "withdrawal_return": 1}
            assert (held.wallet, held.pending_withdrawal) == (100_000, 0)
        else:
            assert (row.status, row.attempts) == ("approved", 1)
            assert kinds == {"withdrawal_reserve": 1}
            assert (held.wallet, held.pending_withdrawal) == (50_000, 50_000)
    await conservation_ok(container)
