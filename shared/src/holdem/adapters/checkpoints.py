"""Hand-state checkpoints in Redis, written after every action by the table's owner.

Key ``ws:table:{id}:state`` (no TTL: game state must never expire or be evicted; the Redis
policy is ``noeviction``). The value is MessagePack. The running hand's event log is kept
beside it, in the list ``ws:table:{id}:hand_log`` (one MessagePack entry per event): each
checkpoint appends the events that are new since the last one instead of storing the whole
log again (it grows to a few kilobytes per hand; the rest of the state is about two).

Writes are fenced: the Lua script only stores the checkpoint while the writer still holds
the lease, so a deposed owner cannot overwrite its successor's state. The same script then
publishes the messages the new state produced, and stores the table's live lobby figures
when they go out (one round trip; a deposed owner publishes nothing either, and no client
sees a state that was not stored).

A server's tables save concurrently: the saves asked for while one round trip is in flight
go out together in the next (each its own fenced script call; a busy server then pays one
round trip for many tables instead of one each).

The script calls are a `holdem.adapters.lua_scripts.LuaScript`'s: packed by hiredis (in C)
and written on a connection of the client's pool, their replies read by redis-py's parser,
under one timeout and redis-py's retry helper: redis-py's pipeline packed each call's ≈ 20
arguments in Python and put a timeout around every write and read (≈ 20–35 µs of CPU more per
save, about one save per action; docs/performance/table-server.md, "Thirteenth session").
Only one round trip is in flight at a time, so the store keeps the connection it took from the
pool for the next one (a checkout and its return cost ≈ 13 µs of CPU per round trip: the
pool's lock, a timeout and a health probe); a failed or cancelled round trip closes it, and
the next one connects it again. The pool's ``disconnect`` (the client's ``aclose``) closes it
with the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from holdem.adapters.leases import Lease, lease_key
from holdem.adapters.lua_scripts import LuaScript, run_retried
from holdem.protocol.codec import packb

__all__ = ["Checkpoint", "CheckpointStore", "LeaseLostError"]

_SAVE = LuaScript(
    """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
local kept = tonumber(ARGV[3])
if kept == 0 then
  redis.call('DEL', KEYS[3])
else
  redis.call('LTRIM', KEYS[3], 0, kept - 1)
end
local logged = tonumber(ARGV[4])
if logged > 0 then
  redis.call('RPUSH', KEYS[3], unpack(ARGV, 5, 4 + logged))
end
local i = 5 + logged
if KEYS[4] then
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
end
for j = i + 2, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[j], ARGV[j + 1])
end
return 1
"""
)


@dataclass(frozen=True)
class Checkpoint:
    state: dict[str, Any]
    log: list[Any]
    """The hand's event log (empty for a checkpoint written before the log was kept apart:
    its state still holds the events)."""


@dataclass(frozen=True)
class _Save:
    keys: list[str]
    args: list[str | bytes | int]
    done: asyncio.Future[bool]


class LeaseLostError(Exception):
    """The writer no longer holds the table's lease; it must stop running the table."""

    code = "lease_lost"


def _state_key(table_id: int) -> str:
    return f"ws:table:{table_id}:state"


def _log_key(table_id: int) -> str:
    return f"ws:table:{table_id}:hand_log"


class CheckpointStore:
    """The checkpoints of the tables one server runs."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._logged: dict[int, tuple[list[Any], int]] = {}
        """By table: the event list its stored log holds, and how many of its events."""
        self._waiting: list[_Save] = []
        self._sender: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None
        """The connection the round trips use (taken from the pool at the first, kept)."""

    async def save(
        self,
        lease: Lease,
        state: bytes,
        log: list[Any],
        publish: Sequence[tuple[str, bytes]] = (),
        hset: tuple[str, str, bytes] | None = None,
    ) -> None:
        """Store `state` (packed: MessagePack) and the hand's event `log`, then set the hash
        field ``hset = (key, field, value)`` if given and publish ``(channel, payload)`` in
        order — if `lease` is still held; raises `LeaseLostError` otherwise (nothing stored,
        set or published).

        `log` is the running hand's list of events, appended to in place between saves: only
        the events this store has not stored from that same list are sent (a new list is a
        new hand's log, and a new owner's first save sends it whole). The stored events they
        follow are named, so a save repeated after one whose answer was lost stores the same
        log.
        """
        table_id = lease.table_id
        logged, count = self._logged.get(table_id, (None, 0))
        after = count if log is logged else 0
        keys = [lease_key(table_id), _state_key(table_id), _log_key(table_id)]
        args: list[str | bytes | int] = [lease.value, state, after, len(log) - after]
        args += [packb(entry) for entry in log[after:]]
        if hset is not None:
            keys.append(hset[0])
            args += hset[1:]
        else:
            args += ["", b""]
        for channel, payload in publish:
            args += [channel, payload]
        stored = await self._run(keys, args)
        if not stored:
            raise LeaseLostError(f"table {table_id}")
        self._logged[table_id] = (log, len(log))

    async def _run(self, keys: list[str], args: list[str | bytes | int]) -> bool:
        """The save script's answer for these arguments, sent with the other saves waiting."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Save(keys, args, done))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_waiting(), name="checkpoint-saves")
        return await done

    async def _send_waiting(self) -> None:
        batch: list[_Save] = []
        try:
            while self._waiting:
                # A save whose table task was cancelled before it went out is not sent.
                batch = [save for save in self._waiting if not save.done.done()]
                self._waiting = []
                try:
                    answers = await self._call(batch)
                except Exception as exc:  # each waiting table handles it as its own failure
                    answers = [exc] * len(batch)
                for save, answer in zip(batch, answers, strict=True):
                    if save.done.done():
                        continue
                    if isinstance(answer, BaseException):
                        save.done.set_exception(answer)
                    else:
                        save.done.set_result(bool(answer))
        finally:
            self._sender = None
            for save in batch + self._waiting:  # the sender itself was cancelled
                save.done.cancel()
            self._waiting = []

    async def _call(self, batch: list[_Save]) -> list[Any]:
        """Each save's script answer (or its `ResponseError`), in one round trip."""
        calls = [(save.keys, save.args) for save in batch]
        conn = self._connection
        if conn is None:
            # Kept: one sender at a time (`_send_waiting`) is its only user.
            pool = self._redis.connection_pool
            conn = await pool.get_connection()  # type: ignore[no-untyped-call]
            self._connection = conn
        # Resent whole after a broken connection: the script stores the same state and log.
        return await run_retried(conn, _SAVE, calls)

    async def load(self, table_id: int) -> Checkpoint | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(_state_key(table_id))
            pipe.lrange(_log_key(table_id), 0, -1)
            blob, entries = await pipe.execute()
        if blob is None:
            return None
        state: dict[str, Any] = msgpack.unpackb(blob, raw=False, strict_map_key=False)
        log = [msgpack.unpackb(e, raw=False, strict_map_key=False) for e in entries]
        return Checkpoint(state, log)
