"""Readiness checks of the process's dependencies, shared by the API and the table servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from sqlalchemy import text

from holdem.bootstrap import Container

CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None


async def _timed(name: str, probe: Awaitable[object]) -> CheckResult:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await probe
    except Exception as exc:  # any failure of a dependency means "not ready"
        return CheckResult(name, False, _ms_since(started), type(exc).__name__)
    return CheckResult(name, True, _ms_since(started))


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _ping_postgres(container: Container) -> None:
    async with container.engine.connect() as conn:
        await conn.execute(text("select 1"))


async def _ping_redis(container: Container) -> None:
    await container.redis.ping()


async def check_dependencies(container: Container) -> list[CheckResult]:
    """Query PostgreSQL and Redis for real, concurrently, each within a short timeout."""
    return list(
        await asyncio.gather(
            _timed("postgres", _ping_postgres(container)),
            _timed("redis", _ping_redis(container)),
        )
    )
