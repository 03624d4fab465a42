"""Rakeback worker Lambda: SQS ``{"week": "YYYY-MM-DD", "user_ids": [...]}`` → ledger credits.

Powertools `BatchProcessor` reports failed records only (``ReportBatchItemFailures``). Each
user is settled in a transaction of its own through `holdem.services.rakeback.settle_user`,
which pays each (user, week) at most once: a redelivered message, a record retried after a
partial failure, or an operator re-run skips whoever is already paid. A malformed message
fails its record (and ends in the DLQ) without touching anything. Each payment is announced
to the player (``rakeback_paid``: live, and by e-mail through the notification queue).
"""

from __future__ import annotations

from datetime import date

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from functions.event_loop import run
from functions.sqs_batch import batch_handler
from holdem.bootstrap import process_container
from holdem.ledger.rakeback import tiers_from_rates
from holdem.services import rakeback

logger = Logger(service="rakeback-worker")


class RakebackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    week: date
    user_ids: list[StrictInt] = Field(min_length=1, max_length=1000)


async def settle(batch: RakebackBatch) -> dict[str, int]:
    built = process_container()
    money = built.settings.money
    week = rakeback.week_from_date(batch.week)
    tiers = tiers_from_rates(money.rakeback_rates)
    counts: dict[str, int] = {}
    for user_id in batch.user_ids:
        async with built.transactions() as tx:
            done = await rakeback.settle_user(
                tx,
                rakeback.LedgerCredit(),
                user_id,
                week,
                window_days=money.rakeback_window_days,
                tiers=tiers,
            )
        counts[done.outcome.value] = counts.get(done.outcome.value, 0) + 1
        if done.outcome is rakeback.SettleOutcome.PAID and done.statement is not None:
            # After the commit: a notice never holds up or undoes a payment.
            await built.notifier.notify(rakeback.paid_notice(done.statement))
    return counts


def record_handler(record: SQSRecord) -> dict[str, int]:
    batch = RakebackBatch.model_validate_json(record.body)
    counts = run(settle(batch))
    logger.info("rakeback settled", extra={"week": batch.week.isoformat(), **counts})
    return counts


handler = batch_handler(logger, record_handler)
