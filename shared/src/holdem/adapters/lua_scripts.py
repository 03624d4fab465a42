"""A Lua script called on a raw redis-py connection, packed by hiredis.

The per-request rate-limit script (`holdem.adapters.rate_limit`) and the table servers'
checkpoint save (`holdem.adapters.checkpoints`) are each one script call, made often enough
that redis-py's client costs more than the call: its Python packer (~26 µs for ten arguments
against ~5 µs for hiredis's, in C) and a timeout around every write and every read. Here a
call is packed by hiredis (`hiredis.pack_command`, as redis-py's synchronous connections pack
theirs: the same bytes as the asyncio connection's `pack_command`) and written on a redis-py
connection, whose own code still connects (AUTH, TLS, SELECT), checks its health and parses the
replies; a call has one timeout, its round trips, connect and health check included.

``EVALSHA`` first; a server that does not hold the script (restarted, or its cache flushed)
answers ``NOSCRIPT`` without running anything, and that call is sent again as ``EVAL``, which
runs it and loads it for the next ``EVALSHA``.

`run_retried` makes such a round trip retried as redis-py retries a command (the checkpoint
save, on the connection its store keeps); `run_in_pool` on a connection of a redis-py client's
pool (the table leases' calls, `holdem.adapters.leases`).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["Call", "LuaScript", "run_in_pool"]

Arg = str | bytes | int
Call = tuple[Sequence[str], Sequence[Arg]]
"""One call's keys and arguments."""


def _packed(*command: Arg) -> bytes:
    """A command in the Redis protocol, packed by hiredis."""
    return cast(bytes, hiredis.pack_command(cast(Any, command)))  # its stub takes a 1-tuple


class LuaScript:
    """One Lua script: its calls packed, and run on a connection (`run`)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str | bytes) -> None:
        self.source = source.encode() if isinstance(source, str) else source
        self.sha = hashlib.sha1(self.source, usedforsecurity=False).hexdigest()

    def call(self, keys: Sequence[str], args: Sequence[Arg]) -> bytes:
        """``EVALSHA`` of the script with these keys and arguments, packed."""
        return _packed("EVALSHA", self.sha, len(keys), *keys, *args)

    def loading_call(self, keys: Sequence[str], args: Sequence[Arg]) -> bytes:
        """The same call as ``EVAL`` (the script's text: the server loads it)."""
        return _packed("EVAL", self.source, len(keys), *keys, *args)

    async def run(
        self, connection: AbstractConnection, calls: Sequence[Call], time_limit: float | None
    ) -> list[Any]:
        """Each call's reply (an error reply as its `ResponseError`: the replies after it are
        still read, so the connection stays in step). The calls go out together in one round
        trip; those the server answered ``NOSCRIPT`` (nothing ran) are sent again as ``EVAL``
        in a second. Within `time_limit` seconds as a whole (None: no bound), connecting first
        if needed.

        redis-py's `send_packed_command` and `read_response` would each wrap their step in a
        timeout of their own (≈ 10 and 7 µs of CPU each); this fails as they do: the
        connection closed and redis-py's `TimeoutError` or `ConnectionError` raised. Any other
        error or a cancellation also closes it, so no later call can read a reply meant for
        this one.
        """
        batch = b"".join([self.call(keys, args) for keys, args in calls])
        try:
            async with asyncio.timeout(time_limit):
                answers = await _exchange(connection, batch, len(calls))
                unknown = [
                    i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)
                ]
                if unknown:
                    again = b"".join([self.loading_call(*calls[i]) for i in unknown])
                    replies = await _exchange(connection, again, len(unknown))
                    for i, answer in zip(unknown, replies, strict=True):
                        answers[i] = answer
        except TimeoutError:
            await connection.disconnect(nowait=True)
            raise RedisTimeoutError("no reply to a Lua script call in time") from None
        return answers


async def _exchange(connection: AbstractConnection, commands: bytes, count: int) -> list[Any]:
    """Send `commands` (`count` packed commands) and read their `count` replies."""
    answers: list[Any] = []
    try:
        if not connection.is_connected:
            await connection.connect()  # type: ignore[no-untyped-call]
        # A PING first only when the connection was idle for long (as redis-py's send does).
        await connection.check_health()  # type: ignore[no-untyped-call]
        writer = connection._writer  # redis-py's stream of this connection (no public write)
        assert writer is not None
        writer.write(commands)
        await writer.drain()
        for _ in range(count):
            try:
                answers.append(await connection.read_response(timeout=math.inf))
            except ResponseError as error:
                answers.append(error)
    except OSError as exc:
        await connection.disconnect(nowait=True)
        raise RedisConnectionError(f"Error in a Lua script call: {exc!r}") from exc
    except BaseException:  # a cancellation (the time limit's included) or redis-py's errors
        await connection.disconnect(nowait=True)
        raise
    return answers


async def run_retried(
    connection: AbstractConnection, script: LuaScript, calls: Sequence[Call]
) -> list[Any]:
    """Each call's reply (an error reply as its `ResponseError`), in one round trip on
    `connection`, within its socket timeout (`LuaScript.run`).

    Retried as redis-py retries a command: a broken connection is closed, connected again and
    the whole round trip resent. Only for scripts that may run twice with the same effect.
    """
    return await connection.retry.call_with_retry(
        lambda: script.run(connection, calls, connection.socket_timeout),
        lambda _error: connection.disconnect(),
    )


async def run_in_pool(redis: Redis, script: LuaScript, calls: Sequence[Call]) -> list[Any]:
    """`run_retried` on a connection of `redis`'s pool."""
    pool = redis.connection_pool
    connection: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        return await run_retried(connection, script, calls)
    finally:
        await pool.release(connection)
