"""What the economy Lambdas share: one event loop and one set of adapters per cold start.

Lambda handlers are synchronous; each economy function runs its async use case on the loop
built here, so the asyncio engine and Redis pool stay bound to one loop for the life of the
execution environment. Nothing is built at import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import lru_cache
from typing import Any, TypeVar

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.rakeback_queue import SqsRakebackQueue
from holdem.bootstrap import Container, bootstrap
from holdem.services.notifications import Notifier, sqs_sender

T = TypeVar("T")


@lru_cache(maxsize=1)
def loop() -> asyncio.AbstractEventLoop:
    """The execution environment's event loop."""
    return asyncio.new_event_loop()


@lru_cache(maxsize=1)
def container() -> Container:
    """Database and Redis adapters, built on first use."""
    return bootstrap()


@lru_cache(maxsize=1)
def archive_store() -> S3ArchiveStore:
    """The hand archive bucket."""
    return S3ArchiveStore.from_settings(container().settings)


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


def run(step: Coroutine[Any, Any, T]) -> T:
    """Run one async step on the execution environment's loop."""
    return loop().run_until_complete(step)


def reset() -> None:
    """Close and forget the adapters (tests, or a settings change)."""
    if container.cache_info().currsize:
        run(container().aclose())
    for cached in (container, archive_store, notifier, rakeback_queue):
        cached.cache_clear()
