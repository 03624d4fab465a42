"""Daily stats Lambda: 03:00 Asia/Seoul → the figures of the KST day before.

``{"day": "YYYY-MM-DD"}`` recomputes another day (while its hands are still hot).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from functions.scheduled import run_operation
from holdem.bootstrap import process_container
from holdem.ledger.rakeback import KST
from holdem.services.stats import compute_daily_stats

logger = Logger(service="daily-stats")


class StatsEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    day: date | None = None


async def compute(event: StatsEvent, now: datetime) -> dict[str, Any]:
    day = event.day or now.astimezone(KST).date() - timedelta(days=1)
    async with process_container().transactions() as tx:
        figures = await compute_daily_stats(tx, day, now)
    total = figures[-1]
    return {
        "day": day.isoformat(),
        "stakes": len(figures) - 1,
        "hands": total.hands,
        "rake": total.rake,
        "active_players": total.active_players,
    }


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled (or operator) entry point."""
    return run_operation(
        event, StatsEvent, compute, name="stats", done="daily stats", logger=logger
    )
