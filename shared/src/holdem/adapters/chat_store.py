"""Chat moderation kept in Redis, where every table server reads it: each player's own mute
list and the operators' timed mutes.

Keys (made and read only here):

- ``chat:mutes:{user}`` — a set: the users whose lines `user` does not receive;
- ``chat:silenced:{user}`` — the epoch second an operator's mute of `user` ends; the key
  expires then, so a lapsed mute needs no clean-up.

Redis is the only copy (the operator's action is also in PostgreSQL's audit log): a Redis
that restarts empty forgets both, which costs a muted player's silence, never money.
"""

from __future__ import annotations

import math

from redis.asyncio import Redis

__all__ = ["ChatStore"]


def _mutes(user: int) -> str:
    return f"chat:mutes:{user}"


def _silenced(user: int) -> str:
    return f"chat:silenced:{user}"


# Add one member unless the set has reached its limit (in one step: two connections of the
# player muting at once cannot pass the limit together). Returns the set's members.
_MUTE = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return false end
  redis.call('SADD', KEYS[1], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[1])
"""


class ChatStore:
    """Mute lists and operator mutes over one Redis client."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._mute = redis.register_script(_MUTE)

    async def muted_by(self, user: int) -> set[int]:
        """The users whose lines `user` does not receive."""
        members = await self._redis.smembers(_mutes(user))
        return {int(m) for m in members}

    async def mute(self, user: int, other: int, *, limit: int) -> set[int] | None:
        """`user` mutes `other`; returns the whole list, or None (nothing changed) when it
        holds `limit` users already."""
        members = await self._mute(keys=[_mutes(user)], args=[other, limit])
        return None if members is None else {int(m) for m in members}

    async def unmute(self, user: int, other: int) -> set[int]:
        """`user` receives `other`'s lines again; returns the whole list."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.srem(_mutes(user), other)
            pipe.smembers(_mutes(user))
            _, members = await pipe.execute()
        return {int(m) for m in members}

    async def silence(self, user: int, until: float) -> None:
        """An operator mutes `user` until the epoch second `until` (replacing an earlier
        mute)."""
        await self._redis.set(_silenced(user), math.ceil(until), exat=math.ceil(until))

    async def unsilence(self, user: int) -> None:
        """An operator lifts the mute of `user` early."""
        await self._redis.delete(_silenced(user))

    async def silenced_until(self, user: int) -> float | None:
        """When the operator's mute of `user` ends (None: not muted)."""
        value = await self._redis.get(_silenced(user))
        return None if value is None else float(value)
