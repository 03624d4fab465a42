"""Hand archiver Lambda (hourly): hands older than 7 days → S3, then the hot rows go.

See ``holdem.services.archive`` for why a crash at any point loses and duplicates nothing.
``{"max_batches": n}`` bounds one run (default 200 table-hours); the next run continues.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from functions.event_loop import run
from holdem.bootstrap import process_container
from holdem.services.archive import archive_due_hands

logger = Logger(service="archiver")


class ArchiverEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    max_batches: int = Field(default=200, ge=1, le=10_000)


async def archive(event: ArchiverEvent, now: datetime) -> dict[str, Any]:
    built = process_container()
    report = await archive_due_hands(
        built.transactions, built.archive_store, now, max_batches=event.max_batches
    )
    return {"batches": report.batches, "hands": report.hands, "bytes": report.bytes_written}


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled entry point."""
    try:
        parsed = ArchiverEvent.model_validate(event or {})
    except ValidationError as exc:
        logger.error("bad archiver event", extra={"errors": exc.errors(include_url=False)})
        return {"error": {"code": "invalid_input", "message": "bad archiver event"}}
    result = run(archive(parsed, datetime.now(UTC)))
    logger.info("hands archived", extra=result)
    return result
