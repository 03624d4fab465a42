"""Payout worker Lambda: SQS ``{"withdrawal_id": n}`` messages → gateway payouts.

Powertools `BatchProcessor` reports failed records only (``ReportBatchItemFailures``); a
record fails when the use case raises (SQS redelivers it, then the DLQ takes it). Each
record is idempotent on its SQS message id (Powertools idempotency in Redis), and
`holdem.services.withdrawals.pay_out` is itself exactly-once per withdrawal (row lock,
status check, gateway lookup by the payout's key before any new payout).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from pydantic import BaseModel, Field

from functions.event_loop import run
from functions.sqs_batch import batch_handler
from holdem.bootstrap import process_container
from holdem.services import withdrawals

logger = Logger(service="payout-worker")
idempotency_config = IdempotencyConfig(event_key_jmespath="message_id", expires_after_seconds=3600)


class PayoutMessage(BaseModel):
    withdrawal_id: int = Field(gt=0)


def pay(message: dict[str, Any]) -> str:
    """Pay one withdrawal (idempotent on the SQS message id)."""
    built = process_container()

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="message",
        config=idempotency_config,
        persistence_store=built.idempotency,
    )
    def once(message: dict[str, Any]) -> str:
        parsed = PayoutMessage.model_validate_json(message["body"])
        outcome = run(withdrawals.pay_out(built.withdrawals(), parsed.withdrawal_id))
        logger.info("payout", extra={"withdrawal_id": parsed.withdrawal_id, "outcome": outcome})
        return outcome.value

    result: str = once(message=message)
    return result


def record_handler(record: SQSRecord) -> str:
    return pay({"message_id": record.message_id, "body": record.body})


handler = batch_handler(
    logger, record_handler, on_context=idempotency_config.register_lambda_context
)
