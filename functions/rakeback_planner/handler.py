"""Rakeback planner Lambda: Monday 04:00 Asia/Seoul → batches of users owed on SQS.

The schedule sends ``{}`` and the previous KST week is settled; an operator may invoke it
with ``{"week": "YYYY-MM-DD"}`` (a Monday) to re-run a week, which only re-sends users not
yet paid. Bad input is answered with an error and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from functions.scheduled import run_operation
from holdem.bootstrap import process_container
from holdem.ledger.rakeback import previous_kst_week
from holdem.services import rakeback

logger = Logger(service="rakeback-planner")


class PlannerEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    week: date | None = None
    batch_size: int = Field(default=100, ge=1, le=1000)


async def plan(event: PlannerEvent, now: datetime) -> dict[str, Any]:
    week = rakeback.week_from_date(event.week) if event.week else previous_kst_week(now)
    built = process_container()
    async with built.transactions() as tx:
        report = await rakeback.enqueue_week(tx, built.rakeback_queue, week, event.batch_size)
    return {
        "week": report.week_start.isoformat(),
        "users": report.users,
        "messages": report.messages,
    }


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled (or operator) entry point."""
    return run_operation(
        event, PlannerEvent, plan, name="planner", done="rakeback planned", logger=logger
    )
