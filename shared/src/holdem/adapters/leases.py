"""Table leases in Redis: exactly one owner per table, with a fencing token.

Keys (documented with TTLs in docs/protocol.md):

- ``ws:table:{id}:lease`` = ``"{worker_id}:{token}"``, TTL = the lease TTL (ms precision).
- ``ws:table:{id}:fence`` = the last fencing token handed out (no TTL: it only grows).

Acquire, renew and release are Lua scripts, so check-and-set is atomic. Every acquisition
gets a strictly larger token; PostgreSQL writes (the ledger's settle_hand) and checkpoint
writes carry it so a deposed owner cannot overwrite its successor. A server renews all the
leases it holds in one script call (`LeaseStore.renew_all`): one round trip per renewal
period per server, not one per table. The script calls are `holdem.adapters.lua_scripts`'s:
packed by hiredis (a renewal names two arguments per table: redis-py's Python packer took
≈ 600 µs of CPU per call for 150 tables, every quarter of the TTL), on a connection of the
client's pool (`run_in_pool`). Each script may run twice with the same effect (acquire: the
second run finds the lease already ours and answers its token), so a call is resent once its
connection broke, as redis-py resends a command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from holdem.adapters.lua_scripts import Arg, LuaScript, run_in_pool

__all__ = ["Lease", "LeaseStore", "lease_key"]

_ACQUIRE = LuaScript(
    """
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ':', 1, true)
  if string.sub(current, 1, sep - 1) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(string.sub(current, sep + 1))
  end
  return 0
end
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
if fence < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""
)

_RENEW_ALL = LuaScript(
    """
local kept = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    kept[i] = 1
  else
    kept[i] = 0
  end
end
return kept
"""
)

_DEPOSE = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
"""
)

_RELEASE = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
)


def lease_key(table_id: int) -> str:
    return f"ws:table:{table_id}:lease"


def _fence_key(table_id: int) -> str:
    return f"ws:table:{table_id}:fence"


@dataclass(frozen=True)
class Lease:
    """A held lease: the holder's worker id and the fencing token of this tenure."""

    table_id: int
    worker_id: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.worker_id}:{self.token}"


class LeaseStore:
    """Acquire / renew / release table leases for one worker."""

    def __init__(self, redis: Redis, worker_id: str, ttl_ms: int) -> None:
        if ":" in worker_id:
            raise ValueError("worker ids must not contain ':'")
        self._redis = redis
        self.worker_id = worker_id
        self.ttl_ms = ttl_ms

    async def acquire(self, table_id: int, floor: int = 0) -> Lease | None:
        """The lease if it was free (a new, larger token) or already ours; else None.

        `floor` is the highest token the system of record has seen (the ledger's table
        fence): new tokens are always above it, even when Redis lost the fence key.
        """
        token = int(
            await self._call(
                _ACQUIRE,
                [lease_key(table_id), _fence_key(table_id)],
                [self.worker_id, self.ttl_ms, floor],
            )
        )
        return Lease(table_id, self.worker_id, token) if token else None

    async def renew_all(self, leases: list[Lease]) -> list[Lease]:
        """Extend every lease in one script call; return those that were lost."""
        if not leases:
            return []
        kept = await self._call(
            _RENEW_ALL,
            [lease_key(lease.table_id) for lease in leases],
            [self.ttl_ms, *(lease.value for lease in leases)],
        )
        return [lease for lease, ok in zip(leases, kept, strict=True) if not ok]

    async def release(self, lease: Lease) -> bool:
        """Give the lease up (only if still ours)."""
        return bool(await self._call(_RELEASE, [lease_key(lease.table_id)], [lease.value]))

    async def depose(self, lease: Lease) -> None:
        """Delete another worker's lease, only if it is still that tenure (its holder died:
        see `holdem.adapters.fleet.Fleet.absent`); `acquire` then hands out a larger token, so
        whatever the deposed holder might still try is fenced off."""
        await self._call(_DEPOSE, [lease_key(lease.table_id)], [lease.value])

    async def _call(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """The script's reply; raises its error reply (`ResponseError`)."""
        (answer,) = await run_in_pool(self._redis, script, [(keys, args)])
        if isinstance(answer, ResponseError):
            raise answer
        return answer

    async def holders(self, table_ids: list[int]) -> dict[int, Lease | None]:
        """The lease of each of `table_ids` (None: nobody holds it), in one ``MGET``."""
        if not table_ids:
            return {}
        values = await self._redis.mget([lease_key(t) for t in table_ids])
        return {t: _parse(t, value) for t, value in zip(table_ids, values, strict=True)}

    async def unowned(self, table_ids: list[int]) -> list[int]:
        """Those of `table_ids` nobody holds, in one ``MGET`` (a takeover scan's question)."""
        if not table_ids:
            return []
        values = await self._redis.mget([lease_key(t) for t in table_ids])
        return [t for t, value in zip(table_ids, values, strict=True) if _holder(value) is None]


def _holder(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text.split(":", 1)[0]


def _parse(table_id: int, value: bytes | str | None) -> Lease | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    worker, _, token = text.partition(":")
    return Lease(table_id, worker, int(token))
