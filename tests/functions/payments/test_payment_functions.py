"""Each payment Lambda invoked with its events/ samples, against real PostgreSQL and Redis,
the gateway simulator on a real port, and moto for SQS/SES."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select

from functions import event_loop
from functions.deposit_webhook import handler as webhook
from functions.notifier import handler as notifier
from functions.payout_webhook import handler as payout_webhook
from functions.payout_worker import handler as payout_worker
from functions.withdrawal_scheduler import handler as scheduler
from holdem.adapters.orm.payments import Withdrawal
from holdem.bootstrap import process_container, reset_process_container
from holdem.config import get_settings
from holdem.payments import signatures
from holdem.services import deposits
from holdem.services import withdrawals as wd
from tests.payments_support import SECRET, LambdaContext, balances, fund, make_user, utc_now

EVENTS = Path(__file__).parents[3] / "events"


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def lambda_env(database_url, redis_url, sim_server, monkeypatch, aws):
    """The environment a deployed payment function gets, pointing at the simulator and moto."""
    sqs = boto3.client("sqs", region_name="ap-northeast-2")
    payout_queue = sqs.create_queue(QueueName="payouts")["QueueUrl"]
    notice_queue = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    ses = boto3.client("ses", region_name="ap-northeast-2")
    ses.verify_email_identity(EmailAddress="no-reply@holdem.example")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RUNTIME": "lambda",
        "MONEY__WEBHOOK_SECRET": SECRET,
        "MONEY__GATEWAY_BASE_URL": sim_server.url,
        "MONEY__UPBIT_BASE_URL": sim_server.url,
        "MONEY__RATE_PROVIDERS": '["upbit"]',
        "AWS__PAYOUT_QUEUE_URL": payout_queue,
        "AWS__NOTIFICATION_QUEUE_URL": notice_queue,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    _reset()
    try:
        yield {"sqs": sqs, "payout_queue": payout_queue, "notice_queue": notice_queue, "ses": ses}
    finally:
        _reset()
        get_settings.cache_clear()


def _reset() -> None:
    """A new cold start: close the process container on the Lambdas' event loop."""
    event_loop.run(reset_process_container())


def _fresh(event: dict, address: str) -> dict:
    """The sample with today's timestamp and our address, re-signed with the test secret."""
    notice = json.loads(event["body"])
    notice.update(pay_address=address, updated_at=int(time.time() * 1000))
    event["body"] = json.dumps(notice)
    event["headers"]["x-nowpayments-sig"] = signatures.sign(event["body"].encode(), SECRET)
    return event


def _run(step):
    return event_loop.run(step)


def test_the_webhook_credits_a_confirmed_sample_once(lambda_env):
    built = process_container()
    user = _run(make_user(built))
    address = _run(deposits.deposit_address(built.deposits(), user, "BTC")).address
    event = _fresh(_event("deposit_webhook/notice-confirmed.json"), address)
    first = webhook.handler(event, LambdaContext())
    again = webhook.handler(event, LambdaContext())
    assert first["statusCode"] == 200
    assert json.loads(first["body"])["status"] == "credited"
    assert json.loads(first["body"])["amount_krw"] == 1_000_000
    assert (again["statusCode"], json.loads(again["body"])["status"]) == (200, "duplicate")
    assert _run(balances(built, user)).wallet == 1_000_000


@pytest.mark.parametrize(
    ("sample", "status", "code"),
    [
        ("notice-bad-signature.json", 401, "invalid_signature"),
        ("notice-unsigned.json", 401, "invalid_signature"),
        ("notice-confirmed.json", 400, "stale_delivery"),  # its stored signature is stale too
    ],
)
def test_the_webhook_refuses_bad_samples_with_a_clear_status(lambda_env, sample, status, code):
    event = _event(f"deposit_webhook/{sample}")
    if sample == "notice-confirmed.json":  # correctly signed, but from long ago
        event["headers"]["x-nowpayments-sig"] = signatures.sign(event["body"].encode(), SECRET)
    answer = webhook.handler(event, LambdaContext())
    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["error"]["code"] == code


@pytest.mark.parametrize(
    ("source", "status"),
    [("203.0.113.9", 200), ("198.51.100.7", 403), (None, 403)],
    ids=["listed", "elsewhere", "unknown"],
)
def test_with_an_allow_list_only_the_gateways_addresses_are_heard(
    lambda_env, monkeypatch, source, status
):
    monkeypatch.setenv("MONEY__WEBHOOK_SOURCE_CIDRS", '["203.0.113.0/24", "2001:db8::/32"]')
    get_settings.cache_clear()
    _reset()
    built = process_container()
    user = _run(make_user(built))
    address = _run(deposits.deposit_address(built.deposits(), user, "BTC")).address
    event = _fresh(_event("deposit_webhook/notice-confirmed.json"), address)
    event["requestContext"]["http"]["sourceIp"] = source
    answer = webhook.handler(event, LambdaContext())
    assert answer["statusCode"] == status
    if status == 403:
        assert json.loads(answer["body"])["error"]["code"] == "source_not_allowed"
        assert _run(balances(built, user)).wallet == 0


def test_the_scheduler_sample_approves_and_enqueues_due_withdrawals(lambda_env):
    built = process_container()
    user = _run(make_user(built))
    _run(fund(built, user, 100_000))
    deps = built.withdrawals()
    view = _run(
        wd.request_withdrawal(
            deps,
            user,
            amount_krw=50_000,
            coin="BTC",
            address="bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            idempotency_key="k",
        )
    )

    async def make_due():
        async with built.sessions() as session, session.begin():
            row = await session.get(Withdrawal, view.id)
            row.due_at = utc_now() - timedelta(seconds=1)

    _run(make_due())
    result = scheduler.handler(_event("withdrawal_scheduler/scheduled.json"), LambdaContext())
    assert result["auto_approved"] == [view.id]
    assert result["enqueued"] == [view.id]
    messages = lambda_env["sqs"].receive_message(
        QueueUrl=lambda_env["payout_queue"], MaxNumberOfMessages=10
    )["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"withdrawal_id": view.id}]


def _processing_withdrawal(built) -> int:
    user = _run(make_user(built))
    _run(fund(built, user, 100_000))
    deps = built.withdrawals()
    view = _run(
        wd.request_withdrawal(
            deps,
            user,
            amount_krw=20_000,
            coin="ETH",
            address="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            idempotency_key="k",
        )
    )

    async def lease():
        async with built.sessions() as session, session.begin():
            row = await session.get(Withdrawal, view.id)
            row.status, row.due_at = "processing", utc_now() + wd.PROCESSING_LEASE

    _run(lease())
    return view.id


def test_the_payout_worker_sample_pays_once_even_when_delivered_twice(lambda_env, sim):
    built = process_container()
    withdrawal_id = _processing_withdrawal(built)
    event = _event("payout_worker/payout.json")
    event["Records"][0]["body"] = json.dumps({"withdrawal_id": withdrawal_id})
    first = payout_worker.handler(event, LambdaContext())
    second = payout_worker.handler(event, LambdaContext())  # SQS delivered it again
    assert first == second == {"batchItemFailures": []}
    assert len(sim.payouts) == 1

    async def status():
        async with built.sessions() as session:
            return (await session.execute(select(Withdrawal.status))).scalar_one()

    assert _run(status()) == "paid"


def test_a_poison_payout_message_is_reported_as_a_partial_batch_failure(lambda_env, sim):
    built = process_container()
    withdrawal_id = _processing_withdrawal(built)
    event = _event("payout_worker/payout-with-poison.json")
    event["Records"][0]["body"] = json.dumps({"withdrawal_id": withdrawal_id})
    answer = payout_worker.handler(event, LambdaContext())
    poison_id = event["Records"][1]["messageId"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert len(sim.payouts) == 1


def test_the_notifier_sample_sends_an_email_through_ses(lambda_env):
    built = process_container()
    user = _run(make_user(built))
    event = _event("notifier/deposit-credited.json")
    notice = json.loads(event["Records"][0]["body"])
    notice["user_id"] = user
    event["Records"][0]["body"] = json.dumps(notice)
    assert notifier.handler(event, LambdaContext()) == {"batchItemFailures": []}
    sent = lambda_env["ses"].get_send_statistics()["SendDataPoints"]
    assert sum(point["DeliveryAttempts"] for point in sent) == 1


def test_a_notice_for_an_unknown_user_is_dropped_not_retried_forever(lambda_env):
    process_container()
    event = _event("notifier/deposit-credited.json")
    notice = json.loads(event["Records"][0]["body"])
    notice["user_id"] = 987_654
    event["Records"][0]["body"] = json.dumps(notice)
    assert notifier.handler(event, LambdaContext()) == {"batchItemFailures": []}


def _fresh_payout(event: dict, withdrawal_id: int) -> dict:
    """The sample about our withdrawal's first payout attempt, stamped now and re-signed."""
    notice = json.loads(event["body"])
    notice.update(
        unique_external_id=wd.payout_key(withdrawal_id, 0), updated_at=utc_now().isoformat()
    )
    event["body"] = json.dumps(notice)
    event["headers"]["x-nowpayments-sig"] = signatures.sign(event["body"].encode(), SECRET)
    return event


def test_the_payout_webhook_sample_pays_a_processing_withdrawal_once(lambda_env):
    built = process_container()
    withdrawal_id = _processing_withdrawal(built)
    event = _fresh_payout(_event("payout_webhook/payout-finished.json"), withdrawal_id)
    first = payout_webhook.handler(event, LambdaContext())
    again = payout_webhook.handler(event, LambdaContext())
    assert (first["statusCode"], json.loads(first["body"])["status"]) == (200, "paid")
    assert (again["statusCode"], json.loads(again["body"])["status"]) == (200, "skipped")

    async def row():
        async with built.sessions() as session:
            return await session.get(Withdrawal, withdrawal_id)

    paid = _run(row())
    assert (paid.status, paid.tx_hash) == ("paid", json.loads(event["body"])["hash"])


def test_the_rejected_payout_sample_returns_the_funds(lambda_env):
    built = process_container()
    withdrawal_id = _processing_withdrawal(built)
    event = _fresh_payout(_event("payout_webhook/payout-rejected.json"), withdrawal_id)
    answer = payout_webhook.handler(event, LambdaContext())
    assert (answer["statusCode"], json.loads(answer["body"])["status"]) == (200, "failed")

    async def user_wallet():
        async with built.sessions() as session:
            user = (await session.get(Withdrawal, withdrawal_id)).user_id
        return (await balances(built, user)).wallet

    assert _run(user_wallet()) == 100_000


def test_the_payout_webhook_refuses_a_bad_signature_sample(lambda_env):
    answer = payout_webhook.handler(
        _event("payout_webhook/payout-bad-signature.json"), LambdaContext()
    )
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"]["code"] == "invalid_signature"
