"""Withdrawal scheduler Lambda (EventBridge Scheduler, every few minutes, Asia/Seoul).

Each run credits deposits that were waiting for a fresh rate, approves due withdrawals up
to the auto-approval limit, and leases due approved withdrawals onto the payout queue
(``FOR UPDATE SKIP LOCKED``: overlapping runs never pick the same row).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.event_loop import run
from holdem.bootstrap import process_container
from holdem.services import deposits, withdrawals

logger = Logger(service="withdrawal-scheduler")


async def tick() -> dict[str, Any]:
    built = process_container()
    credited = await deposits.credit_waiting_deposits(built.deposits())
    report = await withdrawals.schedule_payouts(built.withdrawals())
    return {
        "deposits_credited": credited,
        "auto_approved": report.auto_approved,
        "enqueued": report.enqueued,
    }


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled entry point; the event's content is not used."""
    result = run(tick())
    logger.info("scheduler run", extra=result)
    return result
