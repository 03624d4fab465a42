"""Hand-state checkpoints in Redis, written after every action by the table's owner.

Key ``ws:table:{id}:state`` (no TTL: game state must never expire or be evicted; the Redis
policy is ``noeviction``). The value is MessagePack. Writes are fenced: the Lua script only
stores the checkpoint while the writer still holds the lease, so a deposed owner cannot
overwrite its successor's state.
"""

from __future__ import annotations

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

    async def save(self, lease: Lease, state: dict[str, Any]) -> None:
        """Store `state` if `lease` is still held; raises `LeaseLostError` otherwise."""
        blob = msgpack.packb(state, use_bin_type=True)
        stored = await self._save(
            keys=[lease_key(lease.table_id), _state_key(lease.table_id)],
            args=[lease.value, blob],
        )
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
