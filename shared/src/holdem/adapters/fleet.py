"""The fleet registry: worker heartbeats, the set of live tables, and connection records.

Keys:

- ``ws:worker:{id}:alive`` — the worker's address and start time; TTL 30 s, refreshed every
  5 s (``WS__WORKER_HEARTBEAT_TTL_S`` / ``WS__WORKER_HEARTBEAT_INTERVAL_S``).
- ``ws:workers`` — a sorted set ``worker id → last heartbeat`` of the workers that take
  tables (a draining one leaves it): whom a busier worker hands tables to (`Fleet.workers`).
- ``ws:tables:active`` — a set of table ids that have seated players or watchers; every
  worker scans it to take over tables whose lease expired.
- ``ws:connections:{user_id}`` — a hash ``connection id → "{worker_id}:{opened_at}"``; TTL
  refreshed with the worker heartbeat, so records of a dead worker vanish.
- ``ws:connections:evict`` — pub/sub channel: ``"{user_id}:{connection_id}"`` asks the
  worker holding that connection to close it (the per-user limit across the fleet).
- ``ws:worker:{id}:presence`` — pub/sub channel nobody publishes on: each worker's own
  subscription to it lives exactly as long as its Redis connection, which the kernel closes
  the moment the process dies. ``PUBSUB NUMSUB`` of the channel is 0 for a dead worker long
  before its leases expire (a fast takeover, `Fleet.absent`).

A heartbeat is one script call, whatever the number of users (`Fleet.heartbeat`): a pipeline
of one ``EXPIRE`` per user cost ≈ 10 µs of CPU per user per heartbeat in redis-py (each
command packed, queued and its reply parsed in Python; the script call ≈ 0.8 µs), the largest
part of an idle connection's cost (docs/performance/table-server.md, "Fourteenth session").
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

__all__ = ["ACTIVE_TABLES", "EVICT_CHANNEL", "Fleet", "presence_channel"]

ACTIVE_TABLES = "ws:tables:active"
EVICT_CHANNEL = "ws:connections:evict"
WORKERS = "ws:workers"


_HEARTBEAT = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
else
  redis.call('ZREM', KEYS[2], ARGV[5])
end
for i = 3, #KEYS do
  redis.call('EXPIRE', KEYS[i], ARGV[2])
end
return 0
"""


def _alive_key(worker_id: str) -> str:
    return f"ws:worker:{worker_id}:alive"


def presence_channel(worker_id: str) -> str:
    return f"ws:worker:{worker_id}:presence"


def _connections_key(user_id: int) -> str:
    return f"ws:connections:{user_id}"


class Fleet:
    """One worker's view of the fleet."""

    def __init__(self, redis: Redis, worker_id: str, heartbeat_ttl_s: int) -> None:
        self._redis = redis
        self.worker_id = worker_id
        self._ttl = heartbeat_ttl_s
        self._heartbeat = redis.register_script(_HEARTBEAT)

    async def heartbeat(self, address: str, user_ids: list[int], *, taking: bool = True) -> None:
        """Say we are alive and keep the connection records of our users from expiring;
        `taking`: whether we take tables (not while draining). One script call."""
        await self._heartbeat(
            keys=[_alive_key(self.worker_id), WORKERS, *map(_connections_key, user_ids)],
            args=[address, self._ttl, 1 if taking else 0, repr(time.time()), self.worker_id],
        )

    async def leave(self) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(_alive_key(self.worker_id))
            pipe.zrem(WORKERS, self.worker_id)
            await pipe.execute()

    async def absent(self, worker_ids: list[str]) -> set[str]:
        """Those of `worker_ids` with no connection subscribed to their presence channel (one
        ``PUBSUB NUMSUB``): dead, or cut off from Redis."""
        if not worker_ids:
            return set()
        counts = await self._redis.pubsub_numsub(*(presence_channel(w) for w in worker_ids))
        return {w for w, (_, count) in zip(worker_ids, counts, strict=True) if not count}

    async def workers(self) -> list[str]:
        """The workers taking tables whose heartbeat is recent (a dead one may still be
        listed until its heartbeat is older than the TTL: check `absent`)."""
        recent = await self._redis.zrangebyscore(WORKERS, time.time() - self._ttl, "+inf")
        return sorted(w.decode() for w in recent if isinstance(w, bytes))

    async def add_connection(self, user_id: int, connection_id: str) -> list[str]:
        """Record a connection; return the user's connection ids, oldest first."""
        key = _connections_key(user_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, connection_id, f"{self.worker_id}:{time.time():.6f}")
            pipe.expire(key, self._ttl)
            pipe.hgetall(key)
            results = await pipe.execute()
        records: dict[bytes, bytes] = results[-1]
        ordered = sorted(records.items(), key=lambda item: float(item[1].decode().split(":")[1]))
        return [conn.decode() for conn, _ in ordered]

    async def remove_connection(self, user_id: int, connection_id: str) -> None:
        await self._redis.hdel(_connections_key(user_id), connection_id)

    async def evict(self, user_id: int, connection_id: str) -> None:
        """Ask whichever worker holds `connection_id` to close it."""
        await self._redis.hdel(_connections_key(user_id), connection_id)
        await self._redis.publish(EVICT_CHANNEL, f"{user_id}:{connection_id}")

    async def mark_active(self, *table_ids: int) -> None:
        if table_ids:
            await self._redis.sadd(ACTIVE_TABLES, *table_ids)

    async def mark_idle(self, table_id: int) -> None:
        await self._redis.srem(ACTIVE_TABLES, table_id)

    async def active_tables(self) -> list[int]:
        return sorted(int(v) for v in await self._redis.smembers(ACTIVE_TABLES))
