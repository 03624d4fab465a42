"""What the economy Lambdas and the audit relay share: one set of adapters per cold start,
used on the execution environment's event loop (`functions.event_loop`). Nothing is built at
import.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError

from functions.event_loop import run
from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.audit_relay import AuditRelay
from holdem.adapters.rakeback_queue import SqsRakebackQueue
from holdem.bootstrap import Container, bootstrap
from holdem.services.errors import ServiceError
from holdem.services.notifications import Notifier, sqs_sender

E = TypeVar("E", bound=BaseModel)


@lru_cache(maxsize=1)
def container() -> Container:
    """Database and Redis adapters, built on first use."""
    return bootstrap()


@lru_cache(maxsize=1)
def archive_store() -> S3ArchiveStore:
    """The hand archive bucket."""
    return S3ArchiveStore.from_settings(container().settings)


@lru_cache(maxsize=1)
def audit_relay() -> AuditRelay:
    """The audit outbox relay: the Redis Stream and the audit bucket."""
    built = container()
    return AuditRelay.from_settings(built.sessions, built.redis, built.settings)


@lru_cache(maxsize=1)
def notifier() -> Notifier:
    """Player notices: live through Redis, e-mail through the notification queue if set."""
    built = container()
    aws = built.settings.aws
    send = (
        sqs_sender(aws.notification_queue_url, aws.region, aws.endpoint_url)
        if aws.notification_queue_url
        else None
    )
    return Notifier(built.redis, send)


@lru_cache(maxsize=1)
def rakeback_queue() -> SqsRakebackQueue:
    """The rakeback settlement queue."""
    return SqsRakebackQueue.from_settings(container().settings)


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


def reset() -> None:
    """Close and forget the adapters (tests, or a settings change)."""
    if container.cache_info().currsize:
        run(container().aclose())
    for cached in (container, archive_store, audit_relay, notifier, rakeback_queue):
        cached.cache_clear()
