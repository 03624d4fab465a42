"""Daily stats Lambda: 03:00 Asia/Seoul → the figures of the KST day before.

``{"day": "YYYY-MM-DD"}`` recomputes another day (while its hands are still hot).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, ValidationError

from functions.economy_runtime import container, run
from holdem.ledger.rakeback import KST
from holdem.services.errors import ServiceError
from holdem.services.stats import compute_daily_stats

logger = Logger(service="daily-stats")


class StatsEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    day: date | None = None


async def compute(event: StatsEvent, now: datetime) -> dict[str, Any]:
    day = event.day or now.astimezone(KST).date() - timedelta(days=1)
    async with container().sessions() as session, session.begin():
        figures = await compute_daily_stats(session, day, now)
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
    try:
        result = run(compute(StatsEvent.model_validate(event or {}), datetime.now(UTC)))
    except ValidationError as exc:
        logger.error("bad stats event", extra={"errors": exc.errors(include_url=False)})
        return {"error": {"code": "invalid_input", "message": "bad stats event"}}
    except ServiceError as exc:
        logger.error("stats refused", extra={"code": exc.code, "reason": exc.message})
        return {"error": {"code": exc.code, "message": exc.message}}
    logger.info("daily stats", extra=result)
    return result
