"""One client connection: its codec, identity, tables, rate limit and outgoing frames.

Messages are written without a task per connection: a message is framed (`ws_frame`) and
appended to its connection's outbox, and the first one of an event-loop turn schedules one
flush (`loop.call_soon`) that writes everything the connection was given in that turn with
one socket write. A table's action reaches each player as a few messages, all queued in the
same turn, so each socket gets one write per action. A broadcast encodes and frames a message
once per encoding, and every connection queues the same bytes.

What websockets' own send path (`send_context`) guarded, the flush keeps: it writes only while
the connection is open (frames queued after a close began are dropped, as websockets refuses
to send them), and it stops at the transport's write-buffer limit (flow control) until the
socket drains; a client that falls too far behind (`OUTBOX_LIMIT` messages or
`OUTBOX_BYTES` waiting) is closed as ``slow_consumer``. Frames websockets writes itself
(pongs, pings, close) go out after the frames queued before them, and a close asked for with
`Connection.close_later` goes out after the messages queued before it (those queued after it
are dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

from edge.metrics import Metrics
from holdem.auth.tokens import AccessClaims
from holdem.protocol import errors as perr
from holdem.protocol.codec import JSON, MSGPACK, Codec
from holdem.protocol.messages import ServerType
from holdem.services.errors import ServiceError

log = logging.getLogger("edge.connections")

OUTBOX_LIMIT = 2000
"""Messages a connection may have waiting for its socket before it is closed as a slow
consumer (they wait only while the socket's write buffer is full: the client is not reading)."""
OUTBOX_BYTES = 8 * 2**20
"""The same limit in bytes: a client that stopped reading must not hold this much memory."""
STOP_WAIT_S = 5.0
"""How long `Connection.stop` waits for a requested close (after the queued frames) to finish."""


def ws_frame(payload: bytes | str) -> bytes:
    """`payload` as one whole, unmasked WebSocket message frame (``bytes``: binary, ``str``:
    text). The same bytes serve every connection: the server negotiates no extension
    (compression is off), so a frame does not depend on the connection it goes to.

    The header is built here (RFC 6455 §5.2: FIN + opcode, then the payload length in 7, 7+16
    or 7+64 bits; a server's frames are unmasked): the same bytes as websockets'
    ``Frame.serialize(mask=False)``, without its per-frame checks and buffer.
    """
    if isinstance(payload, str):
        data, first = payload.encode(), 0x81  # FIN, text
    else:
        data, first = payload, 0x82  # FIN, binary
    size = len(data)
    if size < 126:
        return bytes((first, size)) + data
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + data
    return struct.pack("!BBQ", first, 127, size) + data


class BatchingConnection(ServerConnection):
    """A websockets server connection that writes frames serialized already (`ws_frame`), all
    those queued in one event-loop turn with one socket write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._flush_scheduled = False
        self.close_after: tuple[int, str] | None = None
        """The close code and reason to close with once the outbox is written."""
        self._closing: asyncio.Task[None] | None = None

    def queue_frame(self, frame: bytes) -> bool:
        """Queue a whole message frame, written at the end of this event-loop turn.

        Returns False, queueing nothing, when the client is too far behind (`OUTBOX_LIMIT`,
        `OUTBOX_BYTES`): the caller closes it. A frame queued once the connection is closing
        (or a close was asked for) is dropped, as websockets' own send refuses it.
        """
        if self.close_after is not None or self.protocol.state is not State.OPEN:
            return True
        outbox = self._outbox
        if len(outbox) >= OUTBOX_LIMIT or self._outbox_bytes + len(frame) > OUTBOX_BYTES:
            return False
        outbox.append(frame)
        self._outbox_bytes += len(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        return True

    def close_after_queued(self, code: int, reason: str) -> None:
        """Close the connection with `code` once the frames queued so far are written; frames
        queued after this are dropped."""
        if self.close_after is None:
            self.close_after = (code, reason)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self.loop.call_soon(self._flush)

    def close_now(self, code: int, reason: str) -> None:
        """Close the connection now, dropping the frames not written yet."""
        self._outbox = []
        self._outbox_bytes = 0
        self.close_after = (code, reason)
        self._close(code, reason)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.protocol.state is not State.OPEN:
            # Closing or closed: websockets' own send would raise ConnectionClosed here.
            self._outbox = []
            self._outbox_bytes = 0
            return
        # The socket's write buffer is full: hold the outbox (`resume_writing` flushes it),
        # unless a close waits for it (the outbox is bounded: the transport may take it).
        if self._outbox and (not self.paused or self.close_after is not None):
            try:
                self.send_data()
            except Exception as exc:
                # As websockets' send_context does when a write fails: the connection is done.
                self.set_connection_exc(exc)
                self.transport.abort()
                return
        if self.close_after is not None:
            self._close(*self.close_after)

    def _close(self, code: int, reason: str) -> None:
        if self._closing is None:
            self._closing = self.loop.create_task(self._close_within(code, reason))

    async def _close_within(self, code: int, reason: str) -> None:
        # websockets' close() waits for the socket to drain before its own close timeout
        # starts: a client that never reads again would hold the connection open for good.
        try:
            async with asyncio.timeout(self.close_timeout):
                await self.close(code, reason)
        except TimeoutError:
            self.transport.abort()

    def send_data(self) -> None:
        # As websockets' own, except that the outbox goes first, in the same transport write:
        # a frame websockets writes itself (a pong, a close) comes after the frames queued
        # before it. b"" (end of stream) still half-closes or closes the socket.
        pending: list[bytes] = []
        if self._outbox:
            pending, self._outbox, self._outbox_bytes = self._outbox, [], 0
        for data in self.protocol.data_to_send():
            if data:
                pending.append(data)
                continue
            if pending:
                self.transport.write(b"".join(pending))
                pending = []
            if self.transport.can_write_eof():
                with contextlib.suppress(Exception):
                    self.transport.write_eof()
            else:
                self.transport.close()
        if pending:
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._outbox and not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)


class IdleTimer:
    """Closes a connection that sent nothing for `timeout_s` (``idle_timeout``).

    One timer per silent period, not one per frame: a frame only notes the time (`heard`);
    when the timer fires early (frames came meanwhile) it is set again for the rest. An
    ``asyncio.timeout`` around every read armed and cancelled a timer per frame (≈ 7 µs).
    """

    def __init__(self, conn: Connection, timeout_s: float) -> None:
        self._conn = conn
        self._timeout_s = timeout_s
        self._loop = asyncio.get_running_loop()
        self._heard_at = self._loop.time()
        self._timer = self._loop.call_at(self._heard_at + timeout_s, self._check)

    def heard(self) -> None:
        """A frame came."""
        self._heard_at = self._loop.time()

    def cancel(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        due = self._heard_at + self._timeout_s
        if self._loop.time() < due:
            self._timer = self._loop.call_at(due, self._check)
        else:
            self._conn.close_later(perr.CLOSE_CODES["idle_timeout"], "idle_timeout")


class TokenBucket:
    """A per-connection message rate limit: `rate` per second, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass(eq=False)
class Connection:
    """A client's connection to this server: what the server knows of it, and its sending."""

    ws: BatchingConnection
    codec: Codec
    bucket: TokenBucket
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    user_id: int = 0
    claims: AccessClaims | None = None
    """The access token's claims, once authenticated (a revocation notice is checked on them)."""
    tables: dict[int, str] = field(default_factory=dict)
    """Joined tables → role ("player" / "spectator")."""
    muted: frozenset[int] = frozenset()
    """The users whose chat lines this connection's user does not receive (their mute list,
    kept in Redis: `holdem.adapters.chat_store`)."""
    opened_at: float = field(default_factory=time.time)

    @property
    def close_reason(self) -> tuple[int, str] | None:
        """The close code and reason asked for (`close_later`, a slow consumer), if any."""
        return self.ws.close_after

    def send(self, message: dict[str, Any]) -> None:
        """Queue one message (encoded with this connection's codec)."""
        self.send_frame(ws_frame(self.codec.encode(message)))

    def send_frame(self, frame: bytes) -> None:
        """Queue one message frame (`ws_frame`); a client too far behind is closed."""
        if not self.ws.queue_frame(frame):
            log.warning("slow consumer closed", extra={"conn": self.id})
            self.ws.close_now(1008, "slow_consumer")

    def close_later(self, code: int, reason: str) -> None:
        """Close after the queued messages are written (messages queued later are dropped)."""
        self.ws.close_after_queued(code, reason)

    def reconnect(self, reason: str) -> None:
        """Tell the client to reconnect (any server will do), then close with 1012."""
        self.send({"type": ServerType.RECONNECT, "reason": reason})
        self.close_later(perr.CLOSE_CODES[reason], reason)

    async def stop(self) -> None:
        """When a close was asked for, wait (up to `STOP_WAIT_S`) for what was queued before
        it to be written and the connection to close: the handler's return would otherwise
        close it at once, with 1000."""
        if self.close_reason is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_WAIT_S):
                    await self.ws.wait_closed()


class Registry:
    """This server's open connections, by id, by user and by table; lobby subscribers."""

    def __init__(self) -> None:
        self.by_id: dict[str, Connection] = {}
        self.by_user: dict[int, set[Connection]] = {}
        self.by_table: dict[int, set[Connection]] = {}
        self.lobby: set[Connection] = set()
        """Connections subscribed to the lobby channel."""

    def __len__(self) -> int:
        return len(self.by_id)

    def add(self, conn: Connection) -> None:
        self.by_id[conn.id] = conn

    def bind_user(self, conn: Connection) -> None:
        """Index by user."""
        self.by_user.setdefault(conn.user_id, set()).add(conn)

    def join(self, conn: Connection, table_id: int, role: str) -> None:
        """Index by table."""
        conn.tables[table_id] = role
        self.by_table.setdefault(table_id, set()).add(conn)

    def part(self, conn: Connection, table_id: int) -> bool:
        """Remove from a table; True when the table has no connection here any more."""
        conn.tables.pop(table_id, None)
        members = self.by_table.get(table_id)
        if members is None:
            return False
        members.discard(conn)
        if not members:
            del self.by_table[table_id]
            return True
        return False

    def remove(self, conn: Connection) -> tuple[bool, list[int]]:
        """Forget the connection; (user gone from this server, tables now empty here)."""
        self.by_id.pop(conn.id, None)
        self.lobby.discard(conn)
        emptied = [t for t in list(conn.tables) if self.part(conn, t)]
        user_gone = False
        users = self.by_user.get(conn.user_id)
        if users is not None:
            users.discard(conn)
            if not users:
                del self.by_user[conn.user_id]
                user_gone = True
        return user_gone, emptied


def broadcast(conns: Iterable[Connection], msg: dict[str, Any]) -> None:
    """Send one message to many connections, encoded and framed once per encoding."""
    frames: dict[bool, bytes] = {}
    for conn in conns:
        binary = conn.codec.binary
        if binary not in frames:
            frames[binary] = ws_frame((MSGPACK if binary else JSON).encode(msg))
        conn.send_frame(frames[binary])


def send_error(
    conn: Connection,
    exc: perr.ProtocolError | ServiceError,
    request_id: str | None,
    metrics: Metrics,
) -> None:
    """Answer a client's message with an error (its stable code), counted in the metrics."""
    metrics.count_error(exc.code)
    conn.send({"type": ServerType.ERROR, "id": request_id, "code": exc.code, "message": str(exc)})
