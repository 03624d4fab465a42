"""Composition root: builds the adapters a process needs, once, when first asked.

Nothing here runs at import. A Lambda calls `bootstrap()` on its first invocation (clients
then live for the whole execution environment); a server calls it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from holdem.adapters.database import create_engine, session_factory
from holdem.adapters.redis_client import create_redis
from holdem.adapters.secret_refs import resolve_secret_references
from holdem.config import Settings, get_settings


@dataclass
class Container:
    """The adapters of one process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    redis: Redis

    async def aclose(self) -> None:
        """Release pools and connections."""
        # The client was built on an explicit pool: close the pool too, or its connections leak.
        await self.redis.aclose(close_connection_pool=True)
        await self.engine.dispose()


def bootstrap(settings: Settings | None = None) -> Container:
    """Build the adapters from settings (the environment's by default). Opens no connection."""
    if settings is None:
        resolve_secret_references()  # {{secret:ARN#key}} values set by template.yaml
        settings = get_settings()
    engine = create_engine(settings)
    return Container(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        redis=create_redis(settings),
    )
