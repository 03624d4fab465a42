"""The Redis client's connections: writes bounded by asyncio.timeout (no Task per command)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr
from redis.exceptions import TimeoutError as RedisTimeoutError

from holdem.adapters.redis_client import TimedConnection, TimedSSLConnection, create_redis
from holdem.config import AuthSettings, Settings


def _settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, auth=AuthSettings(jwt_secret=SecretStr("k" * 32)))


def test_the_url_keeps_choosing_tcp_or_tls_and_writes_are_timed():
    tcp = create_redis(_settings("redis://127.0.0.1:6379/0"))
    tls = create_redis(_settings("rediss://127.0.0.1:6380/0"))
    assert tcp.connection_pool.connection_class is TimedConnection
    assert tls.connection_pool.connection_class is TimedSSLConnection


class _StuckWriter:
    """A socket whose send buffer never empties."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def writelines(self, data: list[bytes]) -> None:
        self.written += data

    async def drain(self) -> None:
        await asyncio.Event().wait()

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


async def test_a_write_that_cannot_finish_times_out_and_drops_the_connection():
    connection = TimedConnection(socket_timeout=0.05)
    writer = _StuckWriter()
    connection._reader, connection._writer = asyncio.StreamReader(), writer  # type: ignore[assignment]
    with pytest.raises(RedisTimeoutError):
        await connection.send_packed_command(b"PING\r\n", check_health=False)
    assert writer.written == [b"PING\r\n"]
    assert not connection.is_connected


async def test_a_write_that_drains_is_sent_as_is():
    connection = TimedConnection(socket_timeout=1.0)
    sent: list[bytes] = []

    class _Writer(_StuckWriter):
        async def drain(self) -> None:
            sent.extend(self.written)

    connection._reader, connection._writer = asyncio.StreamReader(), _Writer()  # type: ignore[assignment]
    await connection.send_packed_command([b"*1\r\n", b"$4\r\nPING\r\n"], check_health=False)
    assert sent == [b"*1\r\n", b"$4\r\nPING\r\n"]
    await connection.disconnect()
