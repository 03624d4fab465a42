"""An authenticated connection's commands: read, checked, and routed to their table.

Each frame is checked (size, rate, schema) and answered with an error when it fails, without
closing the connection. Lobby, mute and ping commands are answered here; every other command
is appended to its table's relay stream, whoever owns the table (see `edge.tables`), except
an ``act`` for a table this server owns, which goes straight to the table's mailbox (see
`edge.inbox`).
"""

from __future__ import annotations

import time

from prometheus_client import Counter
from sqlalchemy import select

from edge.connections import Connection, IdleTimer, Registry, send_error
from edge.fanout import Fanout
from edge.lobby_feed import LobbyFeed
from edge.metrics import Metrics
from edge.mutes import ChatMutes
from edge.tables import TableHost
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.relay import Relay
from holdem.bootstrap import Container
from holdem.protocol import errors as perr
from holdem.protocol.messages import (
    Act,
    Auth,
    Chat,
    ClientMessage,
    Join,
    Leave,
    Mute,
    Ping,
    ServerType,
    Subscribe,
    Unmute,
    Unsubscribe,
    WaitListJoin,
    parse_client_message,
)
from holdem.protocol.pubsub import table_channel
from holdem.services.errors import RateLimited
from holdem.services.table_runtime import RUN_STATUSES


class Commands:
    """Serves the commands of this server's authenticated connections."""

    def __init__(
        self,
        container: Container,
        *,
        relay: Relay,
        tables: TableHost,
        registry: Registry,
        fanout: Fanout,
        lobby: LobbyFeed,
        mutes: ChatMutes,
        metrics: Metrics,
    ) -> None:
        self.container = container
        self.settings = container.settings
        self.relay = relay
        self.tables = tables
        self.registry = registry
        self.fanout = fanout
        self.lobby = lobby
        self.mutes = mutes
        self.metrics = metrics
        self._received: dict[str, Counter] = {}
        """`metrics.messages_in`'s counter of each message type (its ``labels`` lookup,
        ≈ 2 µs, is made once per type, not once per frame)."""

    async def serve(self, conn: Connection) -> None:
        """Serve the connection's commands until it closes (or is told to)."""
        idle = IdleTimer(conn, self.settings.ws.idle_timeout_s)
        try:
            while conn.close_reason is None:
                frame = await conn.ws.recv()
                idle.heard()
                await self._serve_frame(conn, frame)
        finally:
            idle.cancel()

    async def _serve_frame(self, conn: Connection, frame: bytes | str) -> None:
        """Check one frame and dispatch its command; a refusal is answered, not raised."""
        limits = self.settings.ws
        request_id: str | None = None
        try:
            if len(frame) > limits.max_frame_bytes:
                raise perr.FrameTooLarge(f"frames are limited to {limits.max_frame_bytes} bytes")
            if not conn.bucket.take():
                raise RateLimited("too many messages; slow down", retry_after_s=1)
            raw = conn.codec.decode(frame)
            rid = raw.get("id")
            request_id = rid if isinstance(rid, str) and len(rid) <= 64 else None
            message = parse_client_message(raw)
            received = self._received.get(message.type)
            if received is None:
                received = self._received[message.type] = self.metrics.messages_in.labels(
                    message.type
                )
            received.inc()
            await self._dispatch(conn, message)
        except (perr.ProtocolError, RateLimited) as exc:
            send_error(conn, exc, request_id, self.metrics)

    async def _dispatch(self, conn: Connection, message: ClientMessage) -> None:
        if isinstance(message, Ping):
            conn.send({"type": ServerType.PONG, "id": message.id, "ts": time.time()})
            return
        if isinstance(message, Auth):
            raise perr.AlreadyAuthenticated("this connection is already authenticated")
        if isinstance(message, Subscribe):
            await self.lobby.subscribe(conn, message.id)
            return
        if isinstance(message, Unsubscribe):
            self.registry.lobby.discard(conn)
            conn.send({"type": ServerType.RESULT, "id": message.id, "ok": True, "channel": "lobby"})
            return
        if isinstance(message, Mute | Unmute):
            await self.mutes.change(conn, message)
            return
        table_id = message.table_id
        if isinstance(message, Join):
            await self._join(conn, table_id, message.role)
        elif table_id not in conn.tables:
            # Only a refused command pays for the lookup: it names what is wrong.
            if not await self._table_is_open(table_id):
                raise perr.TableNotFound(f"no open table {table_id}")
            raise perr.NotJoined(f"join table {table_id} first")
        if isinstance(message, Chat):
            await self.mutes.check_not_silenced(conn.user_id)
        if isinstance(message, WaitListJoin):
            # Remembered before the table answers: a seat the player takes anywhere then
            # removes them from this list too (`Relay.drop_waiting`).
            await self.relay.note_waiting(conn.user_id, table_id)
        command = message.model_dump(mode="json", exclude={"type", "id", "table_id"})
        command.update(
            kind=message.type, user=conn.user_id, conn=conn.id, rid=message.id, at=time.time()
        )
        # An act for a table run here skips the stream; the other commands move money or
        # seats, keyed by their stream id for idempotence, and are rare: they keep it.
        if not (isinstance(message, Act) and self.tables.inbox.accept_local(table_id, command)):
            await self.relay.send_command(table_id, command)
        if isinstance(message, Leave) and conn.tables.get(table_id) == "spectator":
            await self.fanout.part(conn, table_id)

    async def _join(self, conn: Connection, table_id: int, role: str) -> None:
        if table_id not in conn.tables and not await self._table_is_open(table_id):
            raise perr.TableNotFound(f"no open table {table_id}")
        self.registry.join(conn, table_id, role)
        await self.fanout.subscribe(table_channel(table_id))
        await self.tables.ensure_owners([table_id])

    async def _table_is_open(self, table_id: int) -> bool:
        """Open, or closing: a player of a closing table may still join it to see it end
        (and their join gets the table an owner to end it, if it has none)."""
        async with self.container.sessions() as session:
            status = await session.scalar(
                select(PokerTable.status).where(PokerTable.id == table_id)
            )
        return status in RUN_STATUSES
