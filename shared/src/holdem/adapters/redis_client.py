"""The Redis clients, built from the pool settings of SPEC §7."""

from __future__ import annotations

from redis import Redis as SyncRedis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from holdem.config import Settings


def create_redis(settings: Settings) -> Redis:
    """An asyncio Redis client with a bounded pool, timeouts and retry on timeout."""
    pool = settings.redis
    # A blocking pool: when all connections are busy a command waits (up to the socket
    # timeout) for one to come back, instead of failing with "Too many connections".
    connections = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=pool.max_connections,
        timeout=pool.socket_timeout,
        socket_timeout=pool.socket_timeout,
        socket_connect_timeout=pool.socket_connect_timeout,
        retry_on_timeout=pool.retry_on_timeout,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        health_check_interval=pool.health_check_interval,
    )
    return Redis(connection_pool=connections)


def create_sync_redis(settings: Settings) -> SyncRedis:
    """A blocking client with the same timeouts, for a library that only speaks sync Redis
    (Powertools' idempotency store in the payout worker); replies decoded to `str`."""
    pool = settings.redis
    return SyncRedis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_timeout=pool.socket_timeout,
        socket_connect_timeout=pool.socket_connect_timeout,
    )
