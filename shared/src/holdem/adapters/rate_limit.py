"""Fixed-window rate limits in Redis, shared by every instance of a service.

One Lua script per check: increment the client's counter for the scope, start the window on
the first hit (PEXPIRE), and return the count with the time left. Redis runs the script
atomically, so any number of Lambda instances or servers count against one budget, and the
window's clock is Redis's (no skew between instances).

A check may carry a `Precondition` on other keys (e.g. an access token's revocation keys),
tested by the same script before counting: one round trip for both, and a request that fails
it is refused without being counted.

Keys: ``rl:{scope}:{client}`` — an integer counter, TTL = the window (60 s or 3600 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS[1] the counter, then the precondition's keys: ARGV[2] of them must be absent, the rest
# must be absent or hold an integer <= their bound (ARGV[3], ARGV[4], ...).
_SCRIPT = """
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


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` requests per ``window_s`` seconds in one scope."""

    scope: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class Precondition:
    """What other keys must hold for a request to be counted (and allowed)."""

    absent: tuple[str, ...] = ()
    """Keys that must not exist."""
    at_most: tuple[tuple[str, int], ...] = ()
    """(key, bound): the key must not exist or hold an integer no greater than the bound."""


@dataclass(frozen=True)
class Decision:
    """The outcome of one check."""

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: int
    precondition_failed: bool = False
    """The precondition did not hold: refused, and not counted."""


def user_client(user_id: int) -> str:
    """The client name of an authenticated caller (their budget follows them)."""
    return f"user:{user_id}"


def address_client(address: str) -> str:
    """The client name of an anonymous caller."""
    return f"ip:{address}"


class RateLimiter:
    """Counts requests per (scope, client) in Redis."""

    def __init__(self, redis: Redis, prefix: str = "rl") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_SCRIPT)

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
        count, ttl_ms = await self._script(keys=keys, args=args)
        count, ttl_ms = int(count), int(ttl_ms)
        if count < 0:
            return Decision(False, limit.limit, 0, 0, precondition_failed=True)
        return Decision(
            allowed=count <= limit.limit,
            limit=limit.limit,
            remaining=max(0, limit.limit - count),
            reset_after_s=max(1, math.ceil(ttl_ms / 1000)),
        )
