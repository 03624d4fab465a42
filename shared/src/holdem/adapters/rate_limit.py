"""Fixed-window rate limits in Redis, shared by every instance of a service.

One Lua script per check: increment the client's counter for the scope, start the window on
the first hit (PEXPIRE), and return the count with the time left. Redis runs the script
atomically, so any number of Lambda instances or servers count against one budget, and the
window's clock is Redis's (no skew between instances).

A check may carry a `Precondition` on other keys (e.g. an access token's revocation keys),
tested by the same script before counting: one round trip for both, and a request that fails
it is refused without being counted.

The script runs on `ScriptConnections`: a few redis-py connections of the limiter's own, one
call at a time on each (the API makes this call on every request; redis-py's client would
add its blocking pool, retry wrapper and hooks, ~0.1 ms of CPU per call). The call is a
`holdem.adapters.lua_scripts.LuaScript`'s: packed by hiredis and written on the connection,
redis-py still doing the connection's work (AUTH, TLS, SELECT, health checks, the replies'
parsing).

Keys: ``rl:{scope}:{client}`` — an integer counter, TTL = the window (60 s or 3600 s).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from holdem.adapters.lua_scripts import LuaScript
from holdem.config import RedisPool
from holdem.ports import Decision, Limit, Precondition, address_client, user_client

# The values a check exchanges are the port's (services use them without this adapter); the
# entry points that build the limiter import them from here with it.
__all__ = [
    "Decision",
    "Limit",
    "Precondition",
    "RateLimiter",
    "ScriptConnections",
    "address_client",
    "user_client",
]

# KEYS[1] the counter, then the precondition's keys: ARGV[2] of them must be absent, the rest
# must be absent or hold an integer <= their bound (ARGV[3], ARGV[4], ...).
_SCRIPT = LuaScript(
    b"""
local absent = tonumber(ARGV[2])
for i = 2, absent + 1 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {-1, 0}
  end
end
for i = absent + 2, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if value and tonumber(value) > tonumber(ARGV[i - absent + 1]) then
    return {-1, 0}
  end
end
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
)


class ScriptConnections:
    """A few redis-py connections that run Lua scripts, a call at a time on each.

    Each call takes an idle connection (the most recently used first, so one stays warm) and
    runs the script on it (`LuaScript.run`: ``EVALSHA``, then ``EVAL`` if the server answers
    ``NOSCRIPT``), then gives the connection back. A call is bounded by the pool's socket
    timeout as a whole. Any error, timeout or cancellation between the send and the reply
    disconnects the connection, so no later call can read a stale reply: the next call on it
    connects again. The script is never retried after it may have run (it counts a request);
    the error reaches the caller (the API answers 503).
    """

    def __init__(self, url: str, pool: RedisPool, size: int = 4) -> None:
        # The URL is read by redis-py (scheme, TLS, credentials, database, its query options);
        # no socket timeout on the connections: a call is bounded as a whole, without the
        # Task per write that redis-py's own write timeout costs on Python 3.11.
        options: dict[str, Any] = dict(parse_url(url))
        connection_class = options.pop("connection_class", Connection)
        options.update(
            socket_timeout=None,
            socket_connect_timeout=pool.socket_connect_timeout,
            health_check_interval=pool.health_check_interval,
            retry=Retry(NoBackoff(), 0),  # a failed connect is the caller's 503, not a wait
        )
        self._timeout = pool.socket_timeout
        self._connections: list[AbstractConnection] = [
            connection_class(**options) for _ in range(size)
        ]
        self._idle: asyncio.LifoQueue[AbstractConnection] = asyncio.LifoQueue()
        for connection in self._connections:
            self._idle.put_nowait(connection)

    async def run(self, script: LuaScript, keys: list[str], args: list[int]) -> Any:
        """The script's reply (redis-py's parse of it).

        Raises:
            redis.exceptions.ConnectionError: Redis cannot be reached, or the connection
                dropped before the reply.
            redis.exceptions.TimeoutError: no reply within the socket timeout.
            redis.exceptions.ResponseError: the script failed.
        """
        try:
            connection = self._idle.get_nowait()
        except asyncio.QueueEmpty:
            connection = await self._idle.get()
        try:
            (answer,) = await script.run(connection, ((keys, args),), self._timeout)
        finally:
            self._idle.put_nowait(connection)
        if isinstance(answer, redis_errors.ResponseError):
            raise answer
        return answer

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in self._connections:
            await connection.disconnect()


class RateLimiter:
    """Counts requests per (scope, client) in Redis: the `holdem.ports.RateLimits` port."""

    def __init__(self, connections: ScriptConnections, prefix: str = "rl") -> None:
        self._connections = connections
        self._prefix = prefix

    async def hit(
        self, limit: Limit, client: str, precondition: Precondition | None = None
    ) -> Decision:
        """Count one request of ``client`` and say whether it is within the limit; with a
        ``precondition``, check it first in the same round trip (not counted if it fails)."""
        keys = [f"{self._prefix}:{limit.scope}:{client}"]
        args: list[int] = [limit.window_s * 1000, 0]
        if precondition is not None:
            keys += [*precondition.absent, *(key for key, _ in precondition.at_most)]
            args[1] = len(precondition.absent)
            args += [bound for _, bound in precondition.at_most]
        count, ttl_ms = await self._connections.run(_SCRIPT, keys, args)
        count, ttl_ms = int(count), int(ttl_ms)
        if count < 0:
            return Decision(False, limit.limit, 0, 0, precondition_failed=True)
        return Decision(
            allowed=count <= limit.limit,
            limit=limit.limit,
            remaining=max(0, limit.limit - count),
            reset_after_s=max(1, math.ceil(ttl_ms / 1000)),
        )

    async def aclose(self) -> None:
        """Close the limiter's connections."""
        await self._connections.aclose()
