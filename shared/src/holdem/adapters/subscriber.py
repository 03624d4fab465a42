"""One Redis pub/sub connection, read without redis-py's per-message `PubSub` work.

A table server receives every message published on the channels its connections need, its
own tables' copies included (it skips those, see `holdem.protocol.pubsub.published_by`).
redis-py's `PubSub.get_message` costs ≈ 22 µs of CPU per message: a timeout, a health check
and the retry helper around every read, and a dict built per message. `Subscriber` keeps
redis-py's connection (`redis.asyncio.Connection`, taken from the client's pool: address,
AUTH, TLS, SELECT and the hiredis parser) and reads its replies with `read_response` in a loop
without a timeout: a message costs one parsed reply, ≈ 6 µs (docs/performance/table-server.md,
"Twelfth session: pub/sub").

The subscriptions are the set of channels this object holds: `connect` subscribes to all of
them, so a connection made again after Redis restarted (or the connection broke) is
subscribed to everything it was. Callers serialize `connect`, `subscribe` and `unsubscribe`
(edge.fanout takes one lock around them); `read` runs in one task beside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["Subscriber"]

_MESSAGE = b"message"


class Subscriber:
    """A pub/sub connection and the channels it is (or will be, once connected) subscribed to."""

    def __init__(self, redis: Redis, channels: Iterable[str] = ()) -> None:
        self._pool = redis.connection_pool
        self._conn: AbstractConnection | None = None
        self._live = False
        self.channels: set[str] = set(channels)
        """Every channel subscribed to on each (new) connection."""

    async def connect(self) -> None:
        """Connect (again, if connected before) and subscribe to every channel in `channels`."""
        self._live = False
        if self._conn is None:
            self._conn = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        else:
            await self._conn.disconnect()
            await self._conn.connect()  # type: ignore[no-untyped-call]
        if self.channels:
            await self._send("SUBSCRIBE", *self.channels)
        self._live = True

    async def subscribe(self, channel: str) -> None:
        """Make sure `channel` is subscribed to (the command is sent, not confirmed: Redis
        applies it before any later command of this connection). Raises redis-py's
        ConnectionError while the connection is down, even for a channel already in
        `channels` (what is published before `connect` succeeds again is missed)."""
        if not self._live:
            raise RedisConnectionError("pub/sub connection down")
        if channel not in self.channels:
            await self._send("SUBSCRIBE", channel)
            self.channels.add(channel)

    async def unsubscribe(self, *channels: str) -> None:
        """Unsubscribe from `channels` (forgotten first: while the connection is down, only
        forgotten, so the next `connect` leaves them out)."""
        self.channels.difference_update(channels)
        if self._live and channels:
            await self._send("UNSUBSCRIBE", *channels)

    async def ping(self) -> None:
        """Send a PING (its answer is read by `read`, which returns None for it): a dead
        connection fails a write; see edge.fanout for how a missing answer is treated."""
        if self._live:
            await self._send("PING")

    async def read(self) -> tuple[bytes, bytes] | None:
        """The next reply: a message's ``(channel, payload)``, or None for any other reply
        (a subscription's confirmation, a PING's answer). Raises redis-py's ConnectionError
        when the connection breaks (`connect` makes a new one)."""
        conn = self._conn
        if conn is None or not self._live:
            raise RedisConnectionError("pub/sub connection down")
        try:
            # No timeout: a subscriber waits for messages as long as it takes (a silent
            # connection is found by `ping`), and a timeout per read costs more than the read.
            reply = await conn.read_response(
                disable_decoding=True, timeout=math.inf, push_request=True
            )
        except BaseException:
            self._live = False
            raise
        if reply[0] == _MESSAGE:
            return reply[1], reply[2]
        return None

    async def aclose(self) -> None:
        """Close the connection and give it back to the pool (closed: it never carries a
        subscription into another command)."""
        self._live = False
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()
            await self._pool.release(conn)

    async def drop(self) -> None:
        """Close the connection (a PING went unanswered): the pending `read` fails, and
        `connect` makes a new one."""
        self._live = False
        if self._conn is not None:
            await self._conn.disconnect()

    async def _send(self, *args: str) -> None:
        assert self._conn is not None
        try:
            # No health check: its PING would be answered on this connection's stream and
            # read by `read`, not by the check.
            await self._conn.send_command(*args, check_health=False)
        except BaseException:
            self._live = False
            raise
