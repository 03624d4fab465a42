"""The WebSocket front of a table server: its lifecycle, its connections, its fleet membership.

Any server accepts any client. `EdgeServer` owns the parts and runs their loops: a
connection authenticates with its first message (`edge.handshake`), then its commands are
appended to the table's relay stream, whoever owns the table (see `edge.tables`), except an
``act`` for a table this server owns, which goes straight to the table's mailbox (see
`edge.commands`, `edge.inbox`). What owners publish on pub/sub (table and user channels) is
fanned out to this server's own connections, and what this server's own tables produce is
handed to them directly (`edge.fanout`); lobby subscribers get the lobby's changes
(`edge.lobby_feed`); chat mutes are `edge.mutes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from edge import logs
from edge.commands import Commands
from edge.connections import BatchingConnection, Connection, Registry, TokenBucket
from edge.fanout import Fanout
from edge.handshake import Handshake
from edge.lobby_feed import LobbyFeed
from edge.metrics import Metrics
from edge.mutes import ChatMutes
from edge.tables import TableHost
from holdem.adapters.fleet import Fleet
from holdem.bootstrap import Container
from holdem.cancellation import cancel_and_wait
from holdem.health import check_dependencies
from holdem.protocol import errors as perr
from holdem.protocol.codec import SUBPROTOCOLS, codec_for

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
        self.lobby = LobbyFeed(container, self.relay, self.registry)
        self.fanout = Fanout(
            container.redis, self.worker_id, self.registry, self.accounts, self.lobby
        )
        self.tables.deliver = self.fanout.deliver_local
        self.handshake = Handshake(
            container,
            accounts=self.accounts,
            relay=self.relay,
            chat=self.chat,
            fleet=self.fleet,
            registry=self.registry,
            fanout=self.fanout,
            metrics=self.metrics,
        )
        self.commands = Commands(
            container,
            relay=self.relay,
            tables=self.tables,
            registry=self.registry,
            fanout=self.fanout,
            lobby=self.lobby,
            mutes=ChatMutes(
                self.chat, container.redis, self.registry, self.settings.chat.max_mutes
            ),
            metrics=self.metrics,
        )
        self.draining = False
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self._background: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> int:
        """Bind, subscribe and start the background loops; returns the bound port."""
        ws = self.settings.ws
        await self.fanout.open()
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
            asyncio.create_task(self.fanout.listen(), name="fanout"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
            asyncio.create_task(self.tables.scan_forever(), name="takeover-scan"),
            asyncio.create_task(self.tables.renew_forever(), name="lease-renewal"),
            asyncio.create_task(self.lobby.fan_out_forever(), name="lobby"),
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
            conn.reconnect("server_restart")
        await self.close()

    async def close(self) -> None:
        """Stop everything this server started (no drain)."""
        if self._server is not None:
            self._server.close(close_connections=True, code=SHUTDOWN_CLOSE, reason="server_restart")
            await self._server.wait_closed()
        await self.tables.stop()
        await self.tables.inbox.stop()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self.fanout.close()
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
            conn.reconnect("server_restart")
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
        try:
            if await self.handshake.authenticate(conn):
                await self.commands.serve(conn)
        except ConnectionClosed:
            pass
        except INFRASTRUCTURE_FAULTS as exc:
            log.warning("Redis or PostgreSQL unavailable (%r): client asked to reconnect", exc)
            conn.reconnect("service_unavailable")
        finally:
            await self._forget(conn)
            logs.conn_id.reset(token)

    async def _forget(self, conn: Connection) -> None:
        joined = dict(conn.tables)
        user_gone, emptied = self.registry.remove(conn)
        self.metrics.connections.set(len(self.registry))
        with contextlib.suppress(Exception):
            if conn.user_id:
                await self.fleet.remove_connection(conn.user_id, conn.id)
            await self.fanout.unsubscribe_unused(
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

    # ------------------------------------------------------------------ fleet

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


def _text(conn: ServerConnection, status: HTTPStatus, body: str) -> Response:
    return conn.respond(status, body)


def worker_id_from_env() -> str:
    return os.environ.get("EDGE_WORKER_ID") or f"w{uuid.uuid4().hex[:10]}"
