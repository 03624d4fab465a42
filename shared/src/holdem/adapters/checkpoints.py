"""Hand-state checkpoints in Redis, written after every action by the table's owner.

Key ``ws:table:{id}:state`` (no TTL: game state must never expire or be evicted; the Redis
policy is ``noeviction``). The value is MessagePack. Writes are fenced: the Lua script only
stores the checkpoint while the writer still holds the lease, so a deposed owner cannot
overwrite its successor's state. The same script then publishes the messages the new state
produced, and stores the table's live lobby figures when they go out (one round trip; a
deposed owner publishes nothing either, and no client sees a state that was not stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
from redis.asyncio import Redis

from holdem.adapters.leases import Lease, lease_key

__all__ = ["CheckpointStore", "LeaseLostError"]

_SAVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
if KEYS[3] then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end
for i = 5, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return 1
"""


class LeaseLostError(Exception):
    """The writer no longer holds the table's lease; it must stop running the table."""

    code = "lease_lost"


def _state_key(table_id: int) -> str:
    return f"ws:table:{table_id}:state"


class CheckpointStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._save = redis.register_script(_SAVE)

    async def save(
        self,
        lease: Lease,
        state: dict[str, Any],
        publish: Sequence[tuple[str, bytes]] = (),
        hset: tuple[str, str, bytes] | None = None,
    ) -> None:
        """Store `state`, then set the hash field ``hset = (key, field, value)`` if given and
        publish ``(channel, payload)`` in order — if `lease` is still held; raises
        `LeaseLostError` otherwise (nothing stored, set or published)."""
        blob = msgpack.packb(state, use_bin_type=True)
        keys = [lease_key(lease.table_id), _state_key(lease.table_id)]
        args: list[str | bytes] = [lease.value, blob, "", b""]
        if hset is not None:
            keys.append(hset[0])
            args[2:4] = hset[1:]
        for channel, payload in publish:
            args += [channel, payload]
        stored = await self._save(keys=keys, args=args)
        if not stored:
            raise LeaseLostError(f"table {lease.table_id}")

    async def load(self, table_id: int) -> dict[str, Any] | None:
        blob: Any = await self._redis.get(_state_key(table_id))
        if blob is None:
            return None
        state: dict[str, Any] = msgpack.unpackb(blob, raw=False, strict_map_key=False)
        return state

    async def delete(self, table_id: int) -> None:
        await self._redis.delete(_state_key(table_id))
