"""SQLAlchemy engines for PostgreSQL through psycopg 3.

Servers get a sized pool (SPEC §7). Lambdas reach PostgreSQL through RDS Proxy, so they keep
no pool of their own (NullPool) and disable psycopg's prepared statements, which would pin
proxy connections.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, NullPool
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from holdem.config import Settings


def _engine_options(settings: Settings) -> dict[str, Any]:
    connect_args: dict[str, Any] = {
        "options": f"-c statement_timeout={settings.db.statement_timeout_ms}",
    }
    if settings.runtime == "lambda":
        connect_args["prepare_threshold"] = None
        return {"poolclass": NullPool, "connect_args": connect_args}
    pool = settings.db
    return {
        "pool_size": pool.pool_size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.pool_timeout,
        "pool_recycle": pool.pool_recycle,
        "pool_pre_ping": pool.pool_pre_ping,
        "connect_args": connect_args,
    }


def create_engine(settings: Settings) -> AsyncEngine:
    """The asyncio engine used by the API, the functions and the table servers."""
    return create_async_engine(settings.database_url, **_engine_options(settings))


def create_blocking_engine(settings: Settings) -> Engine:
    """A synchronous engine, for migrations and operator commands."""
    return create_sync_engine(settings.database_url, **_engine_options(settings))


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
