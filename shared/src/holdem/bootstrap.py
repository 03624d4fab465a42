"""Composition root: builds the adapters a process needs, once, when first asked.

Nothing here runs at import. A Lambda calls `bootstrap()` on its first invocation (clients
then live for the whole execution environment); a server calls it at start-up. Error
tracking starts here too, so every process that builds its adapters reports its errors
(Sentry, on only when ``SENTRY_DSN`` is set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from holdem.adapters.database import (
    DatabaseLogin,
    StatementPool,
    create_engine,
    create_statement_pool,
    session_factory,
)
from holdem.adapters.redis_client import create_redis
from holdem.adapters.secret_refs import resolve_secret_references
from holdem.config import Settings, get_settings
from holdem.observability.sentry import init_sentry


@dataclass
class Container:
    """The adapters of one process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    statements: StatementPool
    """Raw connections for the ledger's one-statement posts (`LedgerService`)."""
    reads: StatementPool
    """Raw connections for the REST API's hot column reads (`StatementPool.reader`)."""
    redis: Redis

    async def aclose(self) -> None:
        """Release pools and connections."""
        # The client was built on an explicit pool: close the pool too, or its connections leak.
        await self.redis.aclose(close_connection_pool=True)
        await self.statements.aclose()
        await self.reads.aclose()
        await self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, component: str | None = None) -> Container:
    """Build the adapters from settings (the environment's by default). Opens no connection.

    `component` tags this process's error reports (``edge``, ``api``); a Lambda defaults to
    its function's name.
    """
    if settings is None:
        resolve_secret_references()  # {{secret:ARN#key}} values set by template.yaml
        settings = get_settings()
    init_sentry(
        settings,
        component=component or os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "holdem",
    )
    # One login for both pools: a password re-read after a rotation serves them both.
    login = DatabaseLogin.of(settings)
    engine = create_engine(settings, login)
    return Container(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        statements=create_statement_pool(settings, login),
        reads=create_statement_pool(settings, login, kept_in_lambda=1),
        redis=create_redis(settings),
    )
