"""What the payment Lambdas share: one event loop and one set of adapters per cold start.

Lambda handlers are synchronous; each payment function runs its async use case on the loop
built here, so the asyncio engine and Redis pools stay bound to one loop for the life of the
execution environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import lru_cache
from typing import Any, TypeVar

from holdem.adapters.gateway.wiring import PaymentsRuntime
from holdem.bootstrap import bootstrap

T = TypeVar("T")


@lru_cache(maxsize=1)
def loop() -> asyncio.AbstractEventLoop:
    """The execution environment's event loop."""
    return asyncio.new_event_loop()


@lru_cache(maxsize=1)
def runtime() -> PaymentsRuntime:
    """The adapters of this execution environment, built on first use."""
    return PaymentsRuntime.build(bootstrap())


def run(step: Coroutine[Any, Any, T]) -> T:
    """Run one async step on the execution environment's loop."""
    return loop().run_until_complete(step)


async def _close() -> None:
    built = runtime()
    await built.aclose()
    await built.container.aclose()


def reset() -> None:
    """Close and forget the adapters (tests, or a settings change)."""
    if runtime.cache_info().currsize:
        run(_close())
    runtime.cache_clear()
