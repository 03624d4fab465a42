"""One client connection: its codec, identity, tables, rate limit and outgoing queue.

Each connection has a writer task draining a bounded queue, so a slow client never stalls
the fan-out of other connections; a client that falls too far behind is closed. The writer
sends everything queued at once in one socket write (`BatchingConnection`): a table's
action reaches each player as a few messages, and one system call per message was the
table server's largest cost at full speed. Messages are queued as WebSocket frames serialized
already (`ws_frame`): a broadcast encodes and frames a message once per encoding, and every
connection writes the same bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from edge.metrics import Metrics
from holdem.auth.tokens import AccessClaims
from holdem.cancellation import cancel_and_wait
from holdem.protocol import errors as perr
from holdem.protocol.codec import JSON, MSGPACK, Codec
from holdem.protocol.messages import ServerType
from holdem.services.errors import ServiceError

log = logging.getLogger("edge.connections")

OUTBOX_LIMIT = 2000


def ws_frame(payload: bytes | str) -> bytes:
    """`payload` as one whole, unmasked WebSocket message frame (``bytes``: binary, ``str``:
    text). The same bytes serve every connection: the server negotiates no extension
    (compression is off), so a frame does not depend on the connection it goes to."""
    if isinstance(payload, str):
        return Frame(Opcode.TEXT, payload.encode()).serialize(mask=False)
    return Frame(Opcode.BINARY, payload).serialize(mask=False)


class BatchingConnection(ServerConnection):
    """A websockets server connection that writes frames serialized already, several with one
    socket write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._framed: list[bytes] = []

    async def send_frames(self, frames: list[bytes]) -> None:
        """Send whole message frames (`ws_frame`), in order.

        Through websockets' own send context: it checks the connection is open, writes
        (`send_data`) and applies flow control; the frames skip only the per-connection
        serialization.
        """
        async with self.send_context():
            self._framed += frames

    def send_data(self) -> None:
        # As websockets' own, except that the frames written since the last call go out in
        # one transport write; b"" (end of stream) still half-closes or closes the socket.
        pending: list[bytes] = self._framed
        self._framed = []
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
            self.transport.write(b"".join(pending))


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
    _outbox: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(OUTBOX_LIMIT)
    )
    _writer: asyncio.Task[None] | None = None
    close_reason: tuple[int, str] | None = None
    _closer: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"writer-{self.id}")

    def send(self, message: dict[str, Any]) -> None:
        """Queue one message (encoded with this connection's codec)."""
        self.send_frame(ws_frame(self.codec.encode(message)))

    def send_frame(self, frame: bytes) -> None:
        """Queue one message frame (`ws_frame`)."""
        try:
            self._outbox.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("slow consumer closed", extra={"conn": self.id})
            self.close_later(1008, "slow_consumer")

    def close_later(self, code: int, reason: str) -> None:
        """Close after the queued messages are written (the writer closes the socket)."""
        if self.close_reason is None:
            self.close_reason = (code, reason)
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(None)
            if self._outbox.full():
                self._closer = asyncio.ensure_future(self.ws.close(code, reason))

    def reconnect(self, reason: str) -> None:
        """Tell the client to reconnect (any server will do), then close with 1012."""
        self.send({"type": ServerType.RECONNECT, "reason": reason})
        self.close_later(perr.CLOSE_CODES[reason], reason)

    async def _write_loop(self) -> None:
        outbox = self._outbox
        try:
            while True:
                frames: list[bytes] = []
                frame = await outbox.get()
                while frame is not None:
                    frames.append(frame)
                    if outbox.empty():
                        break
                    frame = outbox.get_nowait()
                if frames:
                    await self.ws.send_frames(frames)
                if frame is None:  # close_later: after what was queued before it
                    code, reason = self.close_reason or (1000, "")
                    await self.ws.close(code, reason)
                    return
        except ConnectionClosed:
            return

    async def stop(self) -> None:
        """Stop the writer; when a close was requested, first let it flush and close."""
        if self._writer is not None and self.close_reason is not None:
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                async with asyncio.timeout(5.0):
                    await asyncio.shield(self._writer)
        if self._writer is not None:
            await cancel_and_wait([self._writer])


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
