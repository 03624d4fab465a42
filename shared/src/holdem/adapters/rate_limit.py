"""Fixed-window rate limits in Redis, shared by every instance of a service.

One Lua script per check: increment the client's counter for the scope, start the window on
the first hit (PEXPIRE), and return the count with the time left. Redis runs the script
atomically, so any number of Lambda instances or servers count against one budget, and the
window's clock is Redis's (no skew between instances).

Keys: ``rl:{scope}:{client}`` — an integer counter, TTL = the window (60 s or 3600 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

_SCRIPT = """
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


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` requests per ``window_s`` seconds in one scope."""

    scope: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class Decision:
    """The outcome of one check."""

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: int


class RateLimiter:
    """Counts requests per (scope, client) in Redis."""

    def __init__(self, redis: Redis, prefix: str = "rl") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)

    async def hit(self, limit: Limit, client: str) -> Decision:
        """Count one request of ``client`` and say whether it is within the limit."""
        key = f"{self._prefix}:{limit.scope}:{client}"
        count, ttl_ms = await self._script(keys=[key], args=[limit.window_s * 1000])
        count, ttl_ms = int(count), int(ttl_ms)
        return Decision(
            allowed=count <= limit.limit,
            limit=limit.limit,
            remaining=max(0, limit.limit - count),
            reset_after_s=max(1, math.ceil(ttl_ms / 1000)),
        )
