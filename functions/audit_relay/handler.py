"""Audit relay Lambda (every minute): committed audit records → the Redis Stream and S3.

The audit table is its own outbox (``holdem.adapters.audit_relay``): a run copies, lane by
lane and in order, every record committed since the last run, exactly once whatever crashes.
When Redis or S3 is down the run fails (the scheduler retries it, the error alarm fires after
five minutes); the cursors have not moved, so the next run copies what was missed. Runs may
overlap: each lane's cursor is taken with SKIP LOCKED.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from functions.scheduled import run_operation
from holdem.bootstrap import process_container

logger = Logger(service="audit-relay")


class RelayEvent(BaseModel):
    """The schedule sends ``{}``: a run always copies everything outstanding."""

    model_config = ConfigDict(extra="ignore")


async def relay(event: RelayEvent, now: datetime) -> dict[str, Any]:
    stats = await process_container().audit_relay.run_once()
    return {"redis": stats.redis, "s3_records": stats.s3_records, "s3_objects": stats.s3_objects}


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled (or operator) entry point."""
    return run_operation(
        event, RelayEvent, relay, name="audit relay", done="audit records relayed", logger=logger
    )
