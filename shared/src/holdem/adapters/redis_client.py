"""The Redis client, built from the pool settings of SPEC §7."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from redis.asyncio import BlockingConnectionPool, Connection, Redis
from redis.asyncio.connection import AbstractConnection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from holdem.config import Settings


class _TimedWrites(AbstractConnection):
    """redis-py's connection with each write bounded by ``asyncio.timeout``.

    redis-py (8.1) bounds a write by ``asyncio.wait_for``, which on Python 3.11 wraps every
    command's write in a new Task: one more event-loop turn per command and, in the REST API,
    ~7% of a request's CPU (each request runs one Redis script). ``asyncio.timeout`` bounds
    the same write without a Task. Everything else, and every error a write can end in
    (the connection dropped, redis-py's own TimeoutError and ConnectionError), is as in
    redis-py's ``send_packed_command``.
    """

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.socket_timeout:
            await super().send_packed_command(command, check_health)
            return
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        if isinstance(command, str):
            command = command.encode()
        if isinstance(command, bytes):
            command = [command]
        writer = self._writer
        assert writer is not None  # connected above
        try:
            async with asyncio.timeout(self.socket_timeout):
                writer.writelines(command)
                await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as error:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {error}") from error
        except BaseException:
            # A write cut short leaves the stream mid-command: the connection is unusable.
            await self.disconnect(nowait=True)
            raise


class TimedConnection(_TimedWrites, Connection):
    """A TCP connection with `_TimedWrites`."""


class TimedSSLConnection(_TimedWrites, SSLConnection):
    """A TLS connection (``rediss://``) with `_TimedWrites`."""


_TIMED: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: TimedConnection,
    SSLConnection: TimedSSLConnection,
}


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
    # The URL chose the connection class (TCP or TLS); its writes become `_TimedWrites`.
    connections.connection_class = _TIMED.get(
        connections.connection_class, connections.connection_class
    )
    return Redis(connection_pool=connections)
