"""What the scheduled (or operator-invoked) Lambdas share: one shape for their runs."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from functions.event_loop import run
from holdem.services.errors import ServiceError

E = TypeVar("E", bound=BaseModel)


def run_operation(
    event: dict[str, Any] | None,
    schema: type[E],
    step: Callable[[E, datetime], Coroutine[Any, Any, dict[str, Any]]],
    *,
    name: str,
    done: str,
    logger: Logger,
) -> dict[str, Any]:
    """A scheduled (or operator) invocation: validate the event, run the step now, and answer
    a bad event or a refused step with the same `{"error": {code, message}}` shape."""
    try:
        result = run(step(schema.model_validate(event or {}), datetime.now(UTC)))
    except ValidationError as exc:
        logger.error(f"bad {name} event", extra={"errors": exc.errors(include_url=False)})
        return {"error": {"code": "invalid_input", "message": f"bad {name} event"}}
    except ServiceError as exc:
        logger.error(f"{name} refused", extra={"code": exc.code, "reason": exc.message})
        return {"error": {"code": exc.code, "message": exc.message}}
    logger.info(done, extra=result)
    return result
