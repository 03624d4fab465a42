"""What the payment Lambdas share: one set of adapters per cold start, used on the execution
environment's event loop (`functions.event_loop`).
"""

from __future__ import annotations

from functools import lru_cache

from functions.event_loop import run
from holdem.adapters.gateway.wiring import PaymentsRuntime
from holdem.bootstrap import bootstrap


@lru_cache(maxsize=1)
def runtime() -> PaymentsRuntime:
    """The adapters of this execution environment, built on first use."""
    return PaymentsRuntime.build(bootstrap())


async def _close() -> None:
    built = runtime()
    await built.aclose()
    await built.container.aclose()


def reset() -> None:
    """Close and forget the adapters (tests, or a settings change)."""
    if runtime.cache_info().currsize:
        run(_close())
    runtime.cache_clear()
