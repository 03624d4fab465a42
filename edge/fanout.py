"""This server's pub/sub side: its subscriptions, and the fan-out of what is published.

What owners publish on pub/sub (table and user channels) is fanned out here to this server's
own connections, encoded once per codec; what this server's own tables produce is handed to
its connections directly (`Fanout.deliver_local`) and skipped when pub/sub brings it back.
The same connection also carries the fleet's evictions, the lobby channel and this server's
presence channel. It is read by `holdem.adapters.subscriber.Subscriber` (redis-py's
connection and parser, without `PubSub`'s per-message work), and its own tables' copies are
told apart from their first bytes before anything else is looked at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from edge.connections import Connection, Registry, broadcast
from edge.lobby_feed import LobbyFeed
from holdem.adapters.fleet import EVICT_CHANNEL, presence_channel
from holdem.adapters.subscriber import Subscriber
from holdem.cancellation import cancel_and_wait
from holdem.protocol import errors as perr
from holdem.protocol.messages import ServerType
from holdem.protocol.pubsub import (
    LOBBY_CHANNEL,
    published_by,
    table_channel,
    table_of_channel,
    unpack,
    user_channel,
    user_of_channel,
)
from holdem.services.accounts import Accounts

log = logging.getLogger("edge.fanout")


class Fanout:
    """One pub/sub connection of a table server and the delivery of what it receives."""

    def __init__(
        self,
        redis: Redis,
        worker_id: str,
        registry: Registry,
        accounts: Accounts,
        lobby: LobbyFeed,
    ) -> None:
        self.redis = redis
        self.worker_id = worker_id
        self.registry = registry
        self.accounts = accounts
        self.lobby = lobby
        self._subscriber: Subscriber | None = None
        self._subscriptions = asyncio.Lock()  # subscribe / unsubscribe / connect, one at a time
        self._heard = False
        """Whether a reply was read since the last keep-alive PING (see `_keep_alive`)."""
        self._background: set[asyncio.Future[None]] = set()

    async def open(self) -> None:
        """Subscribe to the channels every server listens to (before `listen` runs)."""
        # The presence channel: others see this server alive as long as its connection is.
        self._subscriber = Subscriber(
            self.redis, [EVICT_CHANNEL, LOBBY_CHANNEL, presence_channel(self.worker_id)]
        )
        await self._subscriber.connect()

    async def close(self) -> None:
        """Close the pub/sub connection (after `listen` was cancelled)."""
        if self._subscriber is not None:
            await self._subscriber.aclose()
            self._subscriber = None

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, channel: str) -> None:
        """Make sure this server is subscribed to a user's or a table's channel.

        Every connection that needs the channel awaits this, not only the first one here: a
        second connection must not be answered while the first one's subscription is still
        in flight (it would miss what is published meanwhile), nor stay unsubscribed for good
        when the first one's failed (Redis down: that connection is sent away, this one not).
        """
        if self._subscriber is not None:
            async with self._subscriptions:
                # While the pub/sub connection is down this raises: the connection is sent
                # away (1012) like every other here, and comes back once it is up again.
                await self._subscriber.subscribe(channel)

    async def unsubscribe_unused(
        self, users: Iterable[int] = (), tables: Iterable[int] = ()
    ) -> None:
        """Unsubscribe from the channels of users and tables no connection here needs now.

        Checked under the lock subscribing takes, at the moment of unsubscribing: a connection
        that arrived while the last one was leaving (a client reconnecting) keeps its channel.
        """
        if self._subscriber is None:
            return
        async with self._subscriptions:
            unused = [user_channel(u) for u in users if not self.registry.by_user.get(u)]
            unused += [table_channel(t) for t in tables if not self.registry.by_table.get(t)]
            if unused:
                # Forgotten before the command: if it fails, the next connection subscribes
                # again (a channel subscribed twice is harmless, one never subscribed is not);
                # while the connection is down they are only forgotten (not subscribed again).
                await self._subscriber.unsubscribe(*unused)

    async def part(self, conn: Connection, table_id: int) -> None:
        """Part a connection from a table (and this server from its channel, if unused now)."""
        if self.registry.part(conn, table_id):
            await self.unsubscribe_unused(tables=[table_id])

    # ------------------------------------------------------------------ fan-out

    async def listen(self) -> None:
        """Deliver what pub/sub brings, until cancelled; after the connection broke, connect
        again (every 0.5 s until Redis answers) with every channel subscribed again."""
        subscriber = self._subscriber
        assert subscriber is not None
        keep_alive = asyncio.create_task(self._keep_alive(subscriber), name="pubsub-keep-alive")
        try:
            while True:
                try:
                    await self._read(subscriber)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # What was published meanwhile is lost to this server's clients (a turn,
                    # a snapshot): they reconnect and join again, which gives each a fresh
                    # snapshot.
                    log.warning("pub/sub connection lost (%r): clients asked to reconnect", exc)
                    for conn in list(self.registry.by_id.values()):
                        conn.reconnect("service_unavailable")
                    await asyncio.sleep(0.5)
                    await self._reconnect(subscriber)
        finally:
            await cancel_and_wait([keep_alive])

    async def _reconnect(self, subscriber: Subscriber) -> None:
        """Connect again, subscribed to every channel still needed (under the lock: a
        subscription asked for meanwhile is either in the set or sent after)."""
        async with self._subscriptions:
            try:
                await subscriber.connect()
            except Exception as exc:  # Redis still down: `_read` fails at once, and we wait
                log.warning("pub/sub connection not made again (%r)", exc)

    async def _read(self, subscriber: Subscriber) -> None:
        own = published_by
        worker_id = self.worker_id
        while True:
            message = await subscriber.read()
            self._heard = True
            if message is None:
                continue  # a subscription's confirmation, a PING's answer
            raw_channel, data = message
            if own(data, worker_id):
                continue  # from a table run here: delivered already (deliver_local)
            try:
                self._deliver(raw_channel.decode(), data)
            except Exception:
                # A bug must not turn one message into a lost connection for every client.
                log.exception("pub/sub message not delivered")

    def _deliver(self, channel: str, data: bytes) -> None:
        """Deliver one message another server (or the REST API) published."""
        user_id, table_id = user_of_channel(channel), table_of_channel(channel)
        if channel == EVICT_CHANNEL:
            self._evict(data.decode())
        elif user_id is not None or table_id is not None:
            published = unpack(data)
            if user_id is not None:
                self._deliver_user(user_id, published.conn, published.msgs)
            elif table_id is not None:
                self._deliver_table(table_id, published.msgs)
        elif channel == LOBBY_CHANNEL:
            for entry in unpack(data).msgs:
                self.lobby.apply(entry)

    async def _keep_alive(self, subscriber: Subscriber) -> None:
        """PING the pub/sub connection every `health_check_interval` (as redis-py's PubSub
        did when idle); a connection that answered nothing since the last PING is closed, so
        a silently dead one (no RST: a failover, a network partition) is found and made again."""
        every = self.redis.connection_pool.connection_kwargs.get("health_check_interval") or 30
        while True:
            self._heard = False
            with contextlib.suppress(Exception):  # broken: `listen` sees it too, and reconnects
                await subscriber.ping()
            await asyncio.sleep(every)
            if not self._heard:
                log.warning("pub/sub connection silent for %s s: closed to be made again", every)
                await subscriber.drop()

    def _evict(self, entry: str) -> None:
        _user, _, conn_id = entry.partition(":")
        conn = self.registry.by_id.get(conn_id)
        if conn is not None:
            conn.close_later(
                perr.CLOSE_CODES["replaced_by_newer_connection"], "replaced_by_newer_connection"
            )

    INSTRUCTIONS = frozenset(["_parted", "_excluded", "_mutes", "_revoked"])
    """Message types on a user's channel that instruct this server about the user's
    connections: acted on here, never sent to the client."""

    def deliver_local(
        self, table_id: int, batch: list[tuple[int | None, str | None, dict[str, Any]]]
    ) -> None:
        """A table run here produced these messages (checkpointed already), in order:
        ``(user or None for the table's channel, connection or None, message)``.

        A run of the table's messages is delivered together (its members looked up once); the
        order of what each connection receives is the batch's.
        """
        run: list[dict[str, Any]] = []
        for user_id, target, msg in batch:
            if user_id is None:
                run.append(msg)
                continue
            if run:
                self._deliver_table(table_id, run)
                run = []
            self._deliver_user(user_id, target, [msg])
        if run:
            self._deliver_table(table_id, run)

    def _deliver_user(self, user_id: int, target: str | None, msgs: list[dict[str, Any]]) -> None:
        conns = self.registry.by_user.get(user_id)
        if not conns:
            return
        conns = {c for c in conns if target is None or target == c.id}
        for msg in msgs:
            if msg.get("type") in self.INSTRUCTIONS:
                for conn in conns:
                    self._instruct(conn, msg)
                continue
            # Encoded once per codec for the user's connections (usually one).
            broadcast(conns, msg)

    def _instruct(self, conn: Connection, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        if kind == "_parted":
            self._part_later(conn, int(msg["table_id"]))
        elif kind == "_excluded":  # a break or self-exclusion began
            conn.close_later(perr.CLOSE_CODES["self_excluded"], "self_excluded")
        elif kind == "_mutes":  # the user's mute list changed
            conn.muted = frozenset(int(u) for u in msg["muted"])
        elif (
            kind == "_revoked" and conn.claims is not None and self.accounts.voids(conn.claims, msg)
        ):
            # Logout, logout everywhere, a locked account: the token is void now.
            conn.close_later(perr.CLOSE_CODES["token_revoked"], "token_revoked")

    def _deliver_table(self, table_id: int, msgs: list[dict[str, Any]]) -> None:
        members = self.registry.by_table.get(table_id)
        if not members:
            return
        members = set(members)  # a copy: the registry's set may change while we deliver
        for msg in msgs:
            kind = msg.get("type")
            if kind == "_closed":  # the table closed: nobody here watches it now
                for conn in members:
                    self._part_later(conn, table_id)
                continue
            if kind == ServerType.CHAT:
                # A player's mute list hides the muted user's lines from them, and only them.
                said = msg["user_id"]
                broadcast([c for c in members if said not in c.muted], msg)
                continue
            broadcast(members, msg)

    def _part_later(self, conn: Connection, table_id: int) -> None:
        """Part a connection from a table, from a synchronous delivery."""
        task = asyncio.ensure_future(self.part(conn, table_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
