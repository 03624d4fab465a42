"""The execution environment's event loop: one per cold start, for every async step.

Lambda handlers are synchronous. Each function runs its async use case on the loop built here,
so the asyncio database engine and Redis pools, bound to the loop they were first used on,
stay valid for the life of the execution environment. Nothing is built at import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import lru_cache
from typing import Any, TypeVar

T = TypeVar("T")


@lru_cache(maxsize=1)
def loop() -> asyncio.AbstractEventLoop:
    """The execution environment's event loop."""
    return asyncio.new_event_loop()


def run(step: Coroutine[Any, Any, T]) -> T:
    """Run one async step on the execution environment's loop."""
    return loop().run_until_complete(step)
