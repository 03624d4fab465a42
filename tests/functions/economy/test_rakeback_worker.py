"""The rakeback worker Lambda with the real ledger: duplicate deliveries and re-runs pay once."""

from __future__ import annotations

import copy
import json
from datetime import datetime

from sqlalchemy import func, select

from functions.rakeback_worker import handler as worker
from holdem.adapters.orm.rakeback import RakebackSettlement
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.ledger.rakeback import KST
from holdem.services import ledger
from tests.economy_hands import SHOWDOWN, make_table, make_users, play, store_hand
from tests.functions.economy.economy_lambda import event

SUNDAY_LATE = datetime(2026, 11, 22, 23, 59, 59, tzinfo=KST)
MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=KST)


def _seed(lam):
    async def make(container):
        async with container.sessions() as session, session.begin():
            users = await make_users(session, 3)
            table = await make_table(session)
            for at in (SUNDAY_LATE, MONDAY):  # Monday's hand belongs to the next week
                await store_hand(session, table, users, play("abc", SHOWDOWN), at)
        return users

    return lam.seed(make)


def _with_users(sample: dict, users: list[int]) -> dict:
    out = copy.deepcopy(sample)
    for record in out["Records"]:
        body = json.loads(record["body"])
        body["user_ids"] = users
        record["body"] = json.dumps(body)
    return out


def _money(lam, users):
    async def read(container):
        async with container.sessions() as session:
            report = await ledger.conservation_report(SqlTransaction(session))
        async with container.sessions() as session:
            wallets = [(await ledger.balances(SqlLedgerReads(session), u)).wallet for u in users]
            rows = (
                await session.execute(select(func.count()).select_from(RakebackSettlement))
            ).scalar_one()
        return wallets, rows, report

    return lam.seed(read)


def test_a_duplicated_message_and_a_rerun_credit_each_user_once(lam):
    users = _seed(lam)
    sqs_event = _with_users(event("rakeback_worker/sqs-batch.json"), users)

    first = worker.handler(sqs_event, lam.context)
    notices = lam.received(lam.notice_url)
    again = worker.handler(sqs_event, lam.context)  # the whole batch redelivered / re-run

    assert first == again == {"batchItemFailures": []}
    wallets, rows, report = _money(lam, users)
    # Each paid 300 won of rake in the week (bronze, 20%): 60 won back, once.
    assert wallets == [60, 60, 60]
    assert rows == 3
    assert report.ok, report
    # One rakeback_paid e-mail notice per payment, none for the repeats.
    assert sorted(n["user_id"] for n in notices) == users
    assert {(n["kind"], n["data"]["amount"], n["data"]["week_start"]) for n in notices} == {
        ("rakeback_paid", 60, "2026-11-16")
    }
    assert lam.received(lam.notice_url) == []


def _poison() -> dict:
    """A Tuesday "week" and a body that is not JSON (kept out of events/: the template test
    runs every sample there and expects no failures)."""
    sample = event("rakeback_worker/sqs-batch.json")["Records"][0]
    bodies = ['{"week":"2026-11-17","user_ids":[1]}', "not json"]
    return {
        "Records": [
            {**sample, "messageId": f"poison-{i}", "body": body} for i, body in enumerate(bodies)
        ]
    }


def test_a_malformed_record_fails_alone_and_moves_nothing(lam):
    users = _seed(lam)
    poison = _poison()
    good = _with_users(event("rakeback_worker/sqs-batch.json"), users)["Records"][:1]
    mixed = {"Records": poison["Records"] + good}

    result = worker.handler(mixed, lam.context)

    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    assert failed == {r["messageId"] for r in poison["Records"]}
    wallets, rows, _ = _money(lam, users)
    assert wallets == [60, 60, 60]
    assert rows == 3
