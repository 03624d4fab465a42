"""Relay between the servers of the fleet: commands to a table's owner, events back out.

- ``ws:table:{id}:inbox`` — a Redis stream (capped at ~10,000 entries). Any server appends
  a client's command (except an ``act`` for a table it runs itself: see `edge.inbox`); the
  owner reads it in order. The owner keeps the id of the last command it applied in its
  checkpoint, so a new owner continues exactly where the old one stopped.
- ``ws:worker:{id}:wake`` — a small stream (≈ the last 1,000 entries, TTL 1 h): the server's
  notices. Appending a command to a table's inbox also appends a `Notice` of it here for the
  worker that holds the table's lease at that moment (one script: a ``GET`` of the lease, the
  ``XADD``, the notice: the table, the id of the inbox entry before the command, its id and
  the command), and an entry without a table ends the server's blocking read when its set of
  tables changes. The server blocks on this stream alone (`edge.inbox`).
- ``ws:lobby:live`` — a hash ``table id → the live figures last published`` (MessagePack),
  read when a client subscribes to the lobby; a closed table's entry is deleted.
- The pub/sub channels (a table's, a user's, the lobby) and the envelope of every published
  payload are `holdem.protocol.pubsub`'s (re-exported here for the table servers);
  `pack_many` merges a table owner's consecutive messages to the same channel and
  connection into one publish, naming its source (the owner's worker id).

The owner's reads were one blocking ``XREAD`` naming every inbox it owns, re-issued after each
reply: at a person's pace each command came alone, and Redis registered, woke and read all
the owner's streams for it (≈ 175 µs of Redis CPU per command with 150 tables, 400 µs with
270). Now a command costs its owner a blocking read of one stream, the notice carrying it.
The reads are packed with hiredis (`Relay.read_inboxes`) and their replies read raw (no dict
per entry); the send script's calls are `holdem.adapters.lua_scripts`'s.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import msgpack
from hiredis import pack_command
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from holdem.adapters.fleet import ACTIVE_TABLES
from holdem.adapters.leases import lease_key
from holdem.adapters.lua_scripts import LuaScript, run_in_pool
from holdem.protocol.pubsub import (
    LOBBY_CHANNEL,
    pack,
    pack_batch,
    table_channel,
    unpack,
    user_channel,
)

__all__ = [
    "LOBBY_CHANNEL",
    "LOBBY_LIVE",
    "Notice",
    "Relay",
    "inbox_key",
    "pack",
    "table_channel",
    "unpack",
    "user_channel",
    "wake_key",
]

LOBBY_LIVE = "ws:lobby:live"
_INBOX_MAXLEN = 10_000
_WAKE_MAXLEN = 1_000
_WAKE_TTL_S = 3600
_WAKE_PREFIX, _WAKE_SUFFIX = "ws:worker:", ":wake"
_WAITING_TTL_S = 24 * 3600


def excluded_key(user_id: int) -> str:
    """The mark of a player's break or self-exclusion (its end, epoch seconds)."""
    return f"ws:excluded:{user_id}"


def waiting_key(user_id: int) -> str:
    """The tables whose wait list a player asked to join (see `Relay.note_waiting`)."""
    return f"ws:user:{user_id}:waiting"


def inbox_key(table_id: int) -> str:
    return f"ws:table:{table_id}:inbox"


def wake_key(worker_id: str) -> str:
    return f"{_WAKE_PREFIX}{worker_id}{_WAKE_SUFFIX}"


def pack_live(figures: dict[str, Any]) -> tuple[tuple[str, str, bytes], tuple[str, bytes]]:
    """A table's live lobby figures: the ``LOBBY_LIVE`` hash field to set and the publish."""
    packed = pack(figures)
    return (LOBBY_LIVE, str(figures["table_id"]), packed), (LOBBY_CHANNEL, packed)


def pack_many(
    batch: list[tuple[int, int | None, str | None, dict[str, Any]]], source: str | None = None
) -> list[tuple[str, bytes]]:
    """``(channel, payload)`` to publish, in order, for ``(table_id, user_id or None,
    connection or None, message)``: ``user_id`` None goes to the table channel, else to the
    user's. Consecutive messages to the same channel and connection share one payload;
    each payload names its `source` (the publishing table owner's worker id) if given."""
    runs: list[tuple[str, str | None, list[dict[str, Any]]]] = []
    for table_id, user_id, conn, msg in batch:
        channel = table_channel(table_id) if user_id is None else user_channel(user_id)
        if runs and runs[-1][0] == channel and runs[-1][1] == conn:
            runs[-1][2].append(msg)
        else:
            runs.append((channel, conn, [msg]))
    return [(channel, pack_batch(msgs, conn, source)) for channel, conn, msgs in runs]


# KEYS: the inbox, the table's lease. ARGV: the inbox's cap, the packed command, the table
# id, then the wake streams' key around a worker id, cap and TTL. (The wake stream is named
# after the lease's holder, read here: a key the call does not declare, which Redis allows
# outside cluster mode; the deployed Redis is one primary, template.yaml's replication group.)
_SEND = LuaScript(
    """
local holder = redis.call('GET', KEYS[2])
local prev = '0-0'
if holder then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  if last[1] then
    prev = last[1][1]
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'c', ARGV[2])
if holder then
  local wake = ARGV[4] .. string.sub(holder, 1, string.find(holder, ':', 1, true) - 1) .. ARGV[5]
  redis.call(
    'XADD', wake, 'MAXLEN', '~', ARGV[6], '*', 't', ARGV[3], 'p', prev, 'i', id, 'c', ARGV[2]
  )
  redis.call('EXPIRE', wake, ARGV[7])
end
return id
"""
)


def _send_call(table_id: int, command: dict[str, Any]) -> tuple[list[str], list[str | bytes | int]]:
    """The send script's keys and arguments: append `command` to the table's inbox."""
    keys = [inbox_key(table_id), lease_key(table_id)]
    packed = msgpack.packb(command, use_bin_type=True)
    args: list[str | bytes | int] = [_INBOX_MAXLEN, packed, table_id]
    args += [_WAKE_PREFIX, _WAKE_SUFFIX, _WAKE_MAXLEN, _WAKE_TTL_S]
    return keys, args


def _append_command(pipe: Any, table_id: int, command: dict[str, Any]) -> None:
    """Queue the send script on a redis-py pipeline (as ``EVAL``: these are rare)."""
    keys, args = _send_call(table_id, command)
    pipe.eval(_SEND.source, len(keys), *keys, *args)


def _command_of(fields: list[bytes]) -> dict[str, Any]:
    """The command in an inbox entry's fields (``c``: the MessagePack of the command)."""
    packed = fields[fields.index(b"c") + 1]
    command: dict[str, Any] = msgpack.unpackb(packed, raw=False, strict_map_key=False)
    return command


async def _exchange(conn: AbstractConnection, packed: bytes) -> Any:
    await conn.send_packed_command(packed)
    return await conn.read_response(disable_decoding=True)


class Notice(NamedTuple):
    """A command appended to an inbox, as told to the table's lease holder."""

    table_id: int
    previous: str
    """The id of the inbox's entry before it (``0-0``: none)."""
    entry_id: str
    command: dict[str, Any]


class Relay:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def send_command(self, table_id: int, command: dict[str, Any]) -> str:
        """Append a command to the table's inbox and tell its owner; returns its stream id."""
        (entry_id,) = await run_in_pool(self._redis, _SEND, [_send_call(table_id, command)])
        if isinstance(entry_id, Exception):
            raise entry_id
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def read_inboxes(
        self,
        cursors: dict[int, str],
        wake: tuple[str, str],
        block_ms: int | None,
        count: int = 100,
    ) -> tuple[dict[int, list[tuple[str, dict[str, Any]]]], list[Notice], str]:
        """Commands after each table's cursor, and the notices after the wake stream's cursor
        (``wake = (key, cursor)``), in one ``XREAD``.

        With `block_ms` (not None) it waits that long for the first entry in any of them.
        Returns the commands by table, the notices in order, and the new wake cursor.
        """
        wake_stream, wake_cursor = wake
        tables = {inbox_key(table_id).encode(): table_id for table_id in cursors}
        command: list[str | int | bytes] = ["XREAD", "COUNT", count]
        if block_ms is not None:
            command += ["BLOCK", block_ms]
        command += ["STREAMS", *tables, wake_stream, *cursors.values(), wake_cursor]
        # (hiredis's stub types the argument as a one-item tuple.)
        reply = await self._blocking_call(pack_command(tuple(command)))  # type: ignore[arg-type]
        found: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        notices: list[Notice] = []
        # RESP2 answers a list of [stream, entries]; RESP3 a map; nil when the block ran out.
        for stream, entries in (reply.items() if isinstance(reply, dict) else reply) or []:
            table_id = tables.get(stream)
            if table_id is None:  # the wake stream: notices (t, p, i, c) and wake-ups (w)
                wake_cursor = entries[-1][0].decode()
                notices += [
                    Notice(int(f[1]), f[3].decode(), f[5].decode(), _command_of(f[6:]))
                    for _, f in entries
                    if f[0] == b"t"
                ]
                continue
            found[table_id] = [
                (entry_id.decode(), _command_of(fields)) for entry_id, fields in entries
            ]
        return found, notices, wake_cursor

    async def _blocking_call(self, packed: bytes) -> Any:
        """The reply to one packed command, on a connection of the client's pool (retried
        as redis-py retries a command: the broken connection closed and made again)."""
        pool = self._redis.connection_pool
        conn: AbstractConnection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            return await conn.retry.call_with_retry(
                lambda: _exchange(conn, packed), lambda _error: conn.disconnect()
            )
        except BaseException:
            # Cancelled (or failed) while the reply was awaited: the connection must not go
            # back to the pool with that reply still to come.
            await conn.disconnect(nowait=True)
            raise
        finally:
            await pool.release(conn)

    async def close_table(self, table_id: int) -> None:
        """Ask the table's owner to finish the table (the operator closed it): a ``close``
        command in its inbox, and the table in ``ws:tables:active`` so that a server takes it
        over if nobody runs it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            _append_command(pipe, table_id, {"kind": "close", "at": time.time()})
            pipe.sadd(ACTIVE_TABLES, table_id)
            await pipe.execute()

    async def exclude_player(self, user_id: int, table_ids: list[int], until: datetime) -> None:
        """A player's break or self-exclusion began (it runs until `until`): the owner of
        every table they sit at cashes them out after the hand running (an ``exclude``
        command in its inbox; the table marked active so a server takes it if nobody runs
        it), every server closes their connections (``_excluded`` on their user channel),
        and a mark in Redis lets a table server refuse them while PostgreSQL is down."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for table_id in table_ids:
                command = {"kind": "exclude", "user": user_id, "at": time.time()}
                _append_command(pipe, table_id, command)
                pipe.sadd(ACTIVE_TABLES, table_id)
            pipe.publish(user_channel(user_id), pack({"type": "_excluded"}))
            pipe.set(excluded_key(user_id), str(until.timestamp()))
            pipe.expireat(excluded_key(user_id), int(until.timestamp()) + 1)
            await pipe.execute()

    async def note_waiting(self, user_id: int, table_id: int) -> None:
        """The player asks to join this table's wait list: remember it, so that a seat they
        take at any table takes them off the others' lists (`drop_waiting`)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.sadd(waiting_key(user_id), table_id)
            pipe.expire(waiting_key(user_id), _WAITING_TTL_S)
            await pipe.execute()

    async def drop_waiting(self, user_id: int, seated_at: int) -> list[int]:
        """The player sat down at `seated_at`: a ``wait_list_drop`` command in the inbox of
        every other table whose wait list they asked to join (a table where they no longer
        wait ignores it). Returns those tables."""
        members: set[Any] = await self._redis.smembers(waiting_key(user_id))
        if not members:
            return []
        others = sorted(int(m) for m in members if int(m) != seated_at)
        async with self._redis.pipeline(transaction=False) as pipe:
            for table_id in others:
                command = {"kind": "wait_list_drop", "user": user_id, "at": time.time()}
                _append_command(pipe, table_id, command)
            # Only what was read: a list joined meanwhile stays remembered.
            pipe.srem(waiting_key(user_id), *members)
            await pipe.execute()
        return others

    async def excluded_until(self, user_id: int) -> float | None:
        """The end (epoch seconds) of the player's exclusion as marked in Redis, if any."""
        mark = await self._redis.get(excluded_key(user_id))
        return None if mark is None else float(mark)

    async def wake(self, key: str) -> None:
        """End the blocking read of the server whose wake stream is `key`."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"w": b"1"}, maxlen=_WAKE_MAXLEN, approximate=True)
            pipe.expire(key, _WAKE_TTL_S)
            await pipe.execute()

    async def publish_table(self, table_id: int, msg: dict[str, Any]) -> None:
        await self._redis.publish(table_channel(table_id), pack(msg))

    async def publish_user(
        self, user_id: int, msg: dict[str, Any], conn: str | None = None
    ) -> None:
        await self._redis.publish(user_channel(user_id), pack(msg, conn))

    async def publish_lobby(self, entry: dict[str, Any]) -> None:
        """Announce a table on the lobby channel (a closed one is forgotten by the lobby)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            if entry.get("status") == "closed":
                pipe.hdel(LOBBY_LIVE, str(entry["table_id"]))
            pipe.publish(LOBBY_CHANNEL, pack(entry))
            await pipe.execute()

    async def lobby_live(self, table_ids: Sequence[int] | None = None) -> dict[int, dict[str, Any]]:
        """The live figures last published by each table's owner (or by those of `table_ids`:
        one HMGET), by table id."""
        if table_ids is None:
            stored: dict[Any, Any] = await self._redis.hgetall(LOBBY_LIVE)
            return {int(key): unpack(value).msgs[0] for key, value in stored.items()}
        if not table_ids:
            return {}
        values: list[Any] = await self._redis.hmget(LOBBY_LIVE, [str(t) for t in table_ids])
        return {
            table_id: unpack(value).msgs[0]
            for table_id, value in zip(table_ids, values, strict=True)
            if value is not None
        }
