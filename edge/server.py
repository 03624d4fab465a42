"""The WebSocket front of a table server: connections, authentication, limits, fan-out.

Any server accepts any client. A connection authenticates with its first message, then its
commands are appended to the table's relay stream, whoever owns the table (see
`edge.tables`), except an ``act`` for a table this server owns, which goes straight to the
table's mailbox (see `edge.inbox`). What owners publish on pub/sub (table and user channels)
is fanned out here to this server's own connections, encoded once per codec; what this
server's own tables produce is handed to its connections directly (`EdgeServer.deliver_local`)
and skipped when pub/sub brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from edge import logs
from edge.connections import BatchingConnection, Connection, Registry, TokenBucket, ws_frame
from edge.lobby import LobbyCache
from edge.metrics import Metrics
from edge.tables import TableHost
from holdem.adapters.fleet import EVICT_CHANNEL, Fleet, presence_channel
from holdem.adapters.orm.tables import PokerTable
from holdem.bootstrap import Container
from holdem.cancellation import cancel_and_wait
from holdem.health import check_dependencies
from holdem.protocol import errors as perr
from holdem.protocol.codec import JSON, MSGPACK, SUBPROTOCOLS, codec_for
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
from holdem.protocol.pubsub import (
    LOBBY_CHANNEL,
    pack,
    published_by,
    table_channel,
    table_of_channel,
    unpack,
    user_channel,
    user_of_channel,
)
from holdem.services import integrity, lobby, protection
from holdem.services.errors import InvalidAccessToken, RateLimited, SelfExcluded, ServiceError
from holdem.services.table_runtime import RUN_STATUSES

log = logging.getLogger("edge.server")

SHUTDOWN_CLOSE = perr.CLOSE_CODES["server_restart"]
INFRASTRUCTURE_FAULTS = (RedisError, SQLAlchemyError, OSError)
"""Redis or PostgreSQL did not answer while serving a client: not the client's fault and not a
bug, so no 1011. The client is told to reconnect (1012, ``service_unavailable``): it comes back
(to any server) with backoff and resends the commands it got no answer to."""


def _select_subprotocol(_conn: ServerConnection, offered: Any) -> Any:
    for name in SUBPROTOCOLS:
        if name in offered:
            return name
    return None  # JSON fallback: a client that offers nothing (or only unknown names)


class EdgeServer:
    """One table server process: WebSocket front, fan-out, fleet membership, table host."""

    def __init__(
        self,
        container: Container,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        worker_id: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.container = container
        self.settings = container.settings
        self.host = host
        self.port = port
        self.worker_id = worker_id or f"w{uuid.uuid4().hex[:10]}"
        self.metrics = metrics or Metrics()
        self.registry = Registry()
        self.fleet = Fleet(container.redis, self.worker_id, self.settings.ws.worker_heartbeat_ttl_s)
        self.relay = container.relay
        self.chat = container.chat_store
        # The REST API's own token check (signature, expiry, revocation); no password is
        # ever hashed here.
        self.accounts = container.accounts
        self.tables = TableHost(container, self.worker_id, self.relay, self.fleet, self.metrics)
        self.tables.deliver = self.deliver_local
        self.draining = False
        self._server: Server | None = None
        self._pubsub: PubSub | None = None
        self._subscriptions = asyncio.Lock()  # subscribe / unsubscribe, one at a time
        self._subscribed: set[str] = set()
        """User and table channels this server subscribed to and has not unsubscribed."""
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._background: set[asyncio.Future[None]] = set()
        self._lobby_changes: dict[int, dict[str, Any]] = {}
        """Lobby entries changed since the last lobby frame, by table (latest values win)."""
        self.lobby = LobbyCache()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Bind, subscribe and start the background loops; returns the bound port."""
        ws = self.settings.ws
        self._pubsub = self.container.redis.pubsub()
        # The presence channel: others see this server alive as long as its connection is.
        await self._pubsub.subscribe(EVICT_CHANNEL, LOBBY_CHANNEL, presence_channel(self.worker_id))
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            subprotocols=list(SUBPROTOCOLS),  # type: ignore[arg-type]
            select_subprotocol=_select_subprotocol,
            process_request=self._process_request,
            create_connection=BatchingConnection,
            max_size=ws.max_frame_bytes * 4,
            compression=None,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=5,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.tables.inbox.start()
        self._tasks = [
            asyncio.create_task(self._listen(), name="fanout"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
            asyncio.create_task(self.tables.scan_forever(), name="takeover-scan"),
            asyncio.create_task(self.tables.renew_forever(), name="lease-renewal"),
            asyncio.create_task(self._lobby_fanout(), name="lobby"),
        ]
        await self.fleet.heartbeat(f"{self.host}:{self.port}", [])
        log.info("table server listening", extra={"port": self.port})
        return self.port

    async def drain(self) -> None:
        """SIGTERM: deal no new hands, finish or hand over tables, close clients with 1012."""
        if self.draining:
            return
        self.draining = True
        log.info("draining")
        await self.tables.drain(self.settings.ws.shutdown_drain_s)
        for conn in list(self.registry.by_id.values()):
            self._reconnect(conn, "server_restart")
        await self.close()

    @staticmethod
    def _reconnect(conn: Connection, reason: str) -> None:
        """Tell the client to reconnect (any server will do), then close with 1012."""
        conn.send({"type": ServerType.RECONNECT, "reason": reason})
        conn.close_later(perr.CLOSE_CODES[reason], reason)

    async def close(self) -> None:
        """Stop everything this server started (no drain)."""
        if self._server is not None:
            self._server.close(close_connections=True, code=SHUTDOWN_CLOSE, reason="server_restart")
            await self._server.wait_closed()
        await self.tables.stop()
        await self.tables.inbox.stop()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        with contextlib.suppress(Exception):
            await self.fleet.leave()
        self._stopped.set()

    async def stop_now(self) -> None:
        """SIGINT (a local stop, e.g. Ctrl-C of ``./dev up``): hand every table back at once,
        without waiting for running hands (their players may be gone too). Each table is
        checkpointed and its lease released, so its hand resumes on whichever server takes it
        next, with the turn given back; clients get ``reconnect`` and close 1012."""
        if self.draining:
            return
        self.draining = True
        log.info("stopping now; tables handed back")
        await self.tables.stop()
        for conn in list(self.registry.by_id.values()):
            self._reconnect(conn, "server_restart")
        await self.close()

    async def serve_until_signalled(self) -> None:
        """Run until SIGTERM (drain) or SIGINT (stop now)."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._on_signal, self.drain)
        loop.add_signal_handler(signal.SIGINT, self._on_signal, self.stop_now)
        await self._stopped.wait()

    def _on_signal(self, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.ensure_future(action())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ HTTP on the same port

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return _text(conn, HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            if self.draining:
                return _text(conn, HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            checks = await check_dependencies(self.container)
            if all(c.ok for c in checks):
                return _text(conn, HTTPStatus.OK, "ready\n")
            failed = ", ".join(c.name for c in checks if not c.ok)
            return _text(conn, HTTPStatus.SERVICE_UNAVAILABLE, f"not ready: {failed}\n")
        if path not in ("/", "/ws"):
            return _text(conn, HTTPStatus.NOT_FOUND, "not found\n")
        if self.draining:
            return _text(conn, HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
        return None

    # ------------------------------------------------------------------ one connection

    async def _handle(self, ws: ServerConnection) -> None:
        limits = self.settings.ws
        codec = codec_for(ws.subprotocol)
        assert isinstance(ws, BatchingConnection)  # serve(create_connection=...)
        conn = Connection(ws, codec, TokenBucket(limits.messages_per_second, limits.message_burst))
        token = logs.conn_id.set(conn.id)
        if len(self.registry) >= limits.max_connections:
            self.metrics.count_error("server_full")
            await ws.close(perr.CLOSE_CODES["server_full"], "server_full")
            return
        self.registry.add(conn)
        self.metrics.connections.set(len(self.registry))
        conn.start()
        try:
            if await self._authenticate(conn):
                await self._serve(conn)
        except ConnectionClosed:
            pass
        except INFRASTRUCTURE_FAULTS as exc:
            log.warning("Redis or PostgreSQL unavailable (%r): client asked to reconnect", exc)
            self._reconnect(conn, "service_unavailable")
        finally:
            await self._forget(conn)
            logs.conn_id.reset(token)

    async def _authenticate(self, conn: Connection) -> bool:
        try:
            async with asyncio.timeout(self.settings.ws.auth_timeout_s):
                frame = await conn.ws.recv()
        except TimeoutError:
            conn.close_later(perr.CLOSE_CODES["auth_timeout"], "auth_timeout")
            return False
        try:
            message = parse_client_message(conn.codec.decode(frame))
        except perr.ProtocolError:
            message = None
        if not isinstance(message, Auth):
            self._error(conn, perr.NotAuthenticated("the first message must be auth"), None)
            conn.close_later(perr.CLOSE_CODES["not_authenticated"], "not_authenticated")
            return False
        try:
            claims = await self.accounts.authenticate(message.token)
        except InvalidAccessToken as exc:
            reason = str(exc.details.get("reason", "invalid"))
            self._error(conn, InvalidAccessToken(reason), message.id)  # says why: "expired", …
            conn.close_later(perr.CLOSE_CODES["invalid_token"], "invalid_token")
            return False
        excluded = await self._excluded_until(claims.user_id)
        if excluded is not None:
            # Checked on the account, not the token: it holds after any token refresh.
            self._error(conn, SelfExcluded(f"no play until {excluded.isoformat()}"), message.id)
            conn.close_later(perr.CLOSE_CODES["self_excluded"], "self_excluded")
            return False
        conn.claims = claims
        conn.user_id = claims.user_id
        conn.muted = frozenset(await self.chat.muted_by(conn.user_id))
        await self._record_login(conn, message.device_id)
        self.registry.bind_user(conn)
        await self._subscribe(user_channel(conn.user_id))
        ordered = await self.fleet.add_connection(conn.user_id, conn.id)
        excess = len(ordered) - self.settings.ws.max_connections_per_user
        for old in ordered[: max(0, excess)]:
            await self.fleet.evict(conn.user_id, old)
        conn.send(
            {
                "type": ServerType.AUTHENTICATED,
                "id": message.id,
                "user_id": conn.user_id,
                "connection_id": conn.id,
                "server": self.worker_id,
                "encoding": conn.codec.name,
                "heartbeat_s": self.settings.ws.idle_timeout_s / 3,
            }
        )
        return True

    async def _record_login(self, conn: Connection, device_id: str | None) -> None:
        """Keep where the player connects from, for the integrity signals (docs/integrity.md).
        Behind the load balancer the address is read from X-Forwarded-For, as far as
        `INTEGRITY__TRUSTED_PROXY_HOPS` trusts it. A PostgreSQL outage does not refuse play:
        the login goes unrecorded (the sit check and the daily run then miss it)."""
        remote = conn.ws.remote_address
        request = conn.ws.request
        forwarded = request.headers.get("X-Forwarded-For") if request is not None else None
        hops = self.settings.integrity.trusted_proxy_hops
        ip = integrity.client_ip(remote[0] if remote else None, forwarded, hops)
        try:
            async with self.container.sessions() as session, session.begin():
                await integrity.record_login(session, conn.user_id, ip, device_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("login not recorded: PostgreSQL unavailable (%r)", exc)

    async def _excluded_until(self, user_id: int) -> datetime | None:
        """The end of the player's break or self-exclusion, if one runs: from their account,
        or while PostgreSQL does not answer, from the mark the REST API left in Redis (a
        seated player may still reconnect to finish a hand during a PostgreSQL outage)."""
        now = datetime.now(UTC)
        try:
            async with self.container.sessions() as session:
                return await protection.excluded_until(session, user_id, now)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("exclusion read from the Redis mark: PostgreSQL unavailable (%r)", exc)
            mark = await self.relay.excluded_until(user_id)
            if mark is None or mark <= now.timestamp():
                return None
            return datetime.fromtimestamp(mark, UTC)

    async def _serve(self, conn: Connection) -> None:
        limits = self.settings.ws
        while conn.close_reason is None:
            try:
                async with asyncio.timeout(limits.idle_timeout_s):
                    frame = await conn.ws.recv()
            except TimeoutError:
                conn.close_later(perr.CLOSE_CODES["idle_timeout"], "idle_timeout")
                return
            request_id: str | None = None
            try:
                if len(frame) > limits.max_frame_bytes:
                    raise perr.FrameTooLarge(
                        f"frames are limited to {limits.max_frame_bytes} bytes"
                    )
                if not conn.bucket.take():
                    raise RateLimited("too many messages; slow down", retry_after_s=1)
                raw = conn.codec.decode(frame)
                rid = raw.get("id")
                request_id = rid if isinstance(rid, str) and len(rid) <= 64 else None
                message = parse_client_message(raw)
                self.metrics.messages_in.labels(message.type).inc()
                await self._dispatch(conn, message)
            except (perr.ProtocolError, RateLimited) as exc:
                self._error(conn, exc, request_id)

    async def _dispatch(self, conn: Connection, message: ClientMessage) -> None:
        if isinstance(message, Ping):
            conn.send({"type": ServerType.PONG, "id": message.id, "ts": time.time()})
            return
        if isinstance(message, Auth):
            raise perr.AlreadyAuthenticated("this connection is already authenticated")
        if isinstance(message, Subscribe):
            await self._subscribe_lobby(conn, message.id)
            return
        if isinstance(message, Unsubscribe):
            self.registry.lobby.discard(conn)
            conn.send({"type": ServerType.RESULT, "id": message.id, "ok": True, "channel": "lobby"})
            return
        if isinstance(message, Mute | Unmute):
            await self._mute(conn, message)
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
            await self._check_not_silenced(conn.user_id)
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
            await self._part(conn, table_id)

    async def _check_not_silenced(self, user_id: int) -> None:
        """An operator's mute holds at every table: the line is refused before it reaches one."""
        until = await self.chat.silenced_until(user_id)
        if until is not None and until > time.time():
            when = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")
            raise perr.ChatMuted(f"an operator muted your chat until {when}")

    async def _mute(self, conn: Connection, message: Mute | Unmute) -> None:
        """Change the user's mute list (kept in Redis), then every connection of theirs, here
        and on the other servers (``_mutes`` on their user channel), stops or starts
        receiving the other user's lines."""
        user, other = conn.user_id, message.user_id
        if isinstance(message, Unmute):
            muted: set[int] | None = await self.chat.unmute(user, other)
        elif other == user:
            raise perr.InvalidMessage("user_id: you cannot mute yourself")
        else:
            limit = self.settings.chat.max_mutes
            muted = await self.chat.mute(user, other, limit=limit)
            if muted is None:
                raise perr.MuteListFull(f"at most {limit} users may be muted")
        listed = sorted(muted or ())
        for mine in self.registry.by_user.get(user, ()):
            mine.muted = frozenset(listed)
        await self.container.redis.publish(
            user_channel(user), pack({"type": "_mutes", "muted": listed})
        )
        conn.send({"type": ServerType.RESULT, "id": message.id, "ok": True, "muted": listed})

    async def _join(self, conn: Connection, table_id: int, role: str) -> None:
        if table_id not in conn.tables and not await self._table_is_open(table_id):
            raise perr.TableNotFound(f"no open table {table_id}")
        self.registry.join(conn, table_id, role)
        await self._subscribe(table_channel(table_id))
        await self.tables.ensure_owners([table_id])

    async def _subscribe_lobby(self, conn: Connection, request_id: str | None) -> None:
        # Subscribed before the lobby is read: a change published meanwhile is sent after it.
        self.registry.lobby.add(conn)
        try:
            tables = await self.lobby.tables(self._read_lobby)
        except Exception as exc:
            self.registry.lobby.discard(conn)
            log.warning("lobby read failed", exc_info=True)
            raise perr.LobbyUnavailable("the lobby cannot be read now; retry") from exc
        conn.send({"type": ServerType.LOBBY, "id": request_id, "full": True, "tables": tables})

    async def _read_lobby(self) -> list[dict[str, Any]]:
        live = await self.relay.lobby_live()
        async with self.container.sessions() as session:
            return await lobby.open_lobby(session, live)

    async def _part(self, conn: Connection, table_id: int) -> None:
        if self.registry.part(conn, table_id):
            await self._unsubscribe_unused(tables=[table_id])

    async def _subscribe(self, channel: str) -> None:
        """Make sure this server is subscribed to a user's or a table's channel.

        Every connection that needs the channel awaits this, not only the first one here: a
        second connection must not be answered while the first one's subscription is still
        in flight (it would miss what is published meanwhile), nor stay unsubscribed for good
        when the first one's failed (Redis down: that connection is sent away, this one not).
        """
        if self._pubsub is not None:
            async with self._subscriptions:
                if channel not in self._subscribed:
                    await self._pubsub.subscribe(channel)
                    self._subscribed.add(channel)

    async def _unsubscribe_unused(
        self, users: Iterable[int] = (), tables: Iterable[int] = ()
    ) -> None:
        """Unsubscribe from the channels of users and tables no connection here needs now.

        Checked under the lock subscribing takes, at the moment of unsubscribing: a connection
        that arrived while the last one was leaving (a client reconnecting) keeps its channel.
        """
        if self._pubsub is None:
            return
        async with self._subscriptions:
            unused = [user_channel(u) for u in users if not self.registry.by_user.get(u)]
            unused += [table_channel(t) for t in tables if not self.registry.by_table.get(t)]
            if unused:
                # Forgotten before the command: if it fails, the next connection subscribes
                # again (a channel subscribed twice is harmless, one never subscribed is not).
                self._subscribed.difference_update(unused)
                await self._pubsub.unsubscribe(*unused)

    async def _table_is_open(self, table_id: int) -> bool:
        """Open, or closing: a player of a closing table may still join it to see it end
        (and their join gets the table an owner to end it, if it has none)."""
        async with self.container.sessions() as session:
            status = await session.scalar(
                select(PokerTable.status).where(PokerTable.id == table_id)
            )
        return status in RUN_STATUSES

    async def _forget(self, conn: Connection) -> None:
        joined = dict(conn.tables)
        user_gone, emptied = self.registry.remove(conn)
        self.metrics.connections.set(len(self.registry))
        with contextlib.suppress(Exception):
            if conn.user_id:
                await self.fleet.remove_connection(conn.user_id, conn.id)
            await self._unsubscribe_unused(
                users=[conn.user_id] if user_gone and conn.user_id else [], tables=emptied
            )
            # Every table the connection joined (a spectator may have sat down since): the
            # owner knows who is still connected (the reconnect grace).
            for table_id in joined:
                await self.relay.send_command(
                    table_id,
                    {
                        "kind": "disconnected",
                        "user": conn.user_id,
                        "conn": conn.id,
                        "rid": None,
                        "at": time.time(),
                    },
                )
        await conn.stop()

    def _error(
        self, conn: Connection, exc: perr.ProtocolError | ServiceError, request_id: str | None
    ) -> None:
        self.metrics.count_error(exc.code)
        conn.send(
            {"type": ServerType.ERROR, "id": request_id, "code": exc.code, "message": str(exc)}
        )

    # ------------------------------------------------------------------ fan-out and fleet

    async def _listen(self) -> None:
        assert self._pubsub is not None
        pubsub = self._pubsub
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # What was published meanwhile is lost to this server's clients (a turn, a
                # snapshot): they reconnect and join again, which gives each a fresh snapshot.
                log.warning("pub/sub connection lost (%r): clients asked to reconnect", exc)
                for conn in list(self.registry.by_id.values()):
                    self._reconnect(conn, "service_unavailable")
                await asyncio.sleep(0.5)
                continue
            if message is None:
                continue
            channel = message["channel"].decode()
            data: bytes = message["data"]
            user_id, table_id = user_of_channel(channel), table_of_channel(channel)
            if channel == EVICT_CHANNEL:
                self._evict(data.decode())
            elif user_id is not None or table_id is not None:
                if published_by(data, self.worker_id):
                    continue  # from a table run here: delivered already (deliver_local)
                published = unpack(data)
                if user_id is not None:
                    self._deliver_user(user_id, published.conn, published.msgs)
                elif table_id is not None:
                    self._deliver_table(table_id, published.msgs)
            elif channel == LOBBY_CHANNEL:
                for entry in unpack(data).msgs:
                    self.lobby.apply(entry)
                    if self.registry.lobby:
                        table_id = int(entry["table_id"])
                        changed = self._lobby_changes.get(table_id, {})
                        self._lobby_changes[table_id] = {**changed, **entry}

    def _evict(self, entry: str) -> None:
        _user, _, conn_id = entry.partition(":")
        conn = self.registry.by_id.get(conn_id)
        if conn is not None:
            conn.close_later(
                perr.CLOSE_CODES["replaced_by_newer_connection"], "replaced_by_newer_connection"
            )

    def deliver_local(
        self, table_id: int, batch: list[tuple[int | None, str | None, dict[str, Any]]]
    ) -> None:
        """A table run here produced these messages (checkpointed already), in order:
        ``(user or None for the table's channel, connection or None, message)``."""
        for user_id, target, msg in batch:
            if user_id is None:
                self._deliver_table(table_id, [msg])
            else:
                self._deliver_user(user_id, target, [msg])

    def _deliver_user(self, user_id: int, target: str | None, msgs: list[dict[str, Any]]) -> None:
        for conn in list(self.registry.by_user.get(user_id, ())):
            if target is None or target == conn.id:
                for msg in msgs:
                    if msg.get("type") == "_parted":
                        self._part_later(conn, int(msg["table_id"]))
                        continue
                    if msg.get("type") == "_excluded":  # a break or self-exclusion began
                        conn.close_later(perr.CLOSE_CODES["self_excluded"], "self_excluded")
                        continue
                    if msg.get("type") == "_mutes":  # the user's mute list changed
                        conn.muted = frozenset(int(u) for u in msg["muted"])
                        continue
                    if msg.get("type") == "_revoked":
                        # Logout, logout everywhere, a locked account: the token is void now.
                        if conn.claims is not None and self.accounts.voids(conn.claims, msg):
                            conn.close_later(perr.CLOSE_CODES["token_revoked"], "token_revoked")
                        continue
                    conn.send(msg)

    def _deliver_table(self, table_id: int, msgs: list[dict[str, Any]]) -> None:
        members = list(self.registry.by_table.get(table_id, ()))
        for msg in msgs:
            if msg.get("type") == "_closed":  # the table closed: nobody here watches it now
                for conn in members:
                    self._part_later(conn, table_id)
                continue
            if msg.get("type") == ServerType.CHAT:
                # A player's mute list hides the muted user's lines from them, and only them.
                said = msg["user_id"]
                _broadcast([c for c in members if said not in c.muted], msg)
                continue
            _broadcast(members, msg)

    def _part_later(self, conn: Connection, table_id: int) -> None:
        """Part a connection from a table, from a synchronous delivery."""
        task = asyncio.ensure_future(self._part(conn, table_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _lobby_fanout(self) -> None:
        """Every lobby interval, one frame with the tables that changed to each subscriber."""
        while True:
            await asyncio.sleep(self.settings.ws.lobby_interval_s)
            changes, self._lobby_changes = self._lobby_changes, {}
            if changes and self.registry.lobby:
                msg = {"type": ServerType.LOBBY, "full": False, "tables": list(changes.values())}
                _broadcast(list(self.registry.lobby), msg)

    async def _heartbeat(self) -> None:
        interval = self.settings.ws.worker_heartbeat_interval_s
        while True:
            try:
                await self.fleet.heartbeat(
                    f"{self.host}:{self.port}",
                    list(self.registry.by_user),
                    taking=not self.draining,
                )
                # Tables our clients sit at must have an owner, even if Redis lost the fleet's
                # records (flushed or restarted empty): re-register them and take the orphans.
                if not self.draining:
                    await self.tables.ensure_owners(list(self.registry.by_table))
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                log.warning("fleet heartbeat failed (%r)", exc)
            except Exception:
                log.warning("fleet heartbeat failed", exc_info=True)
            await asyncio.sleep(interval)


def _broadcast(conns: Iterable[Connection], msg: dict[str, Any]) -> None:
    """Send one message to many connections, encoded and framed once per encoding."""
    frames: dict[bool, bytes] = {}
    for conn in conns:
        binary = conn.codec.binary
        if binary not in frames:
            frames[binary] = ws_frame((MSGPACK if binary else JSON).encode(msg))
        conn.send_frame(frames[binary])


def _text(conn: ServerConnection, status: HTTPStatus, body: str) -> Response:
    return conn.respond(status, body)


def worker_id_from_env() -> str:
    return os.environ.get("EDGE_WORKER_ID") or f"w{uuid.uuid4().hex[:10]}"
