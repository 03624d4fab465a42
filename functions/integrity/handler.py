"""Integrity Lambda: 04:30 Asia/Seoul → the integrity signals over the last days' hands.

Reads the hands that ended in ``INTEGRITY__WINDOW_DAYS`` before now (``{"window_days": n}``
reads fewer or more, up to 7), files one flag per player and finding in the operators' queue
and records the run (docs/integrity.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from functions.scheduled import run_operation
from holdem.bootstrap import process_container
from holdem.services import integrity

logger = Logger(service="integrity")


class IntegrityEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    window_days: int | None = Field(None, ge=1, le=7)


async def compute(event: IntegrityEvent, now: datetime) -> dict[str, Any]:
    built = process_container()
    settings = built.settings.integrity
    if event.window_days is not None:
        settings = settings.model_copy(update={"window_days": event.window_days})
    async with built.transactions() as tx:
        view = await integrity.run(tx, settings, now=now)
    return {
        "run_id": view.id,
        "window_from": view.window_from.isoformat(),
        "window_to": view.window_to.isoformat(),
        "hands": view.hands,
        "counts": view.counts,
    }


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled (or operator) entry point."""
    return run_operation(
        event, IntegrityEvent, compute, name="integrity", done="integrity run", logger=logger
    )
