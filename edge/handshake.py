"""A connection's first message: ``auth``, and what is checked and set up before play.

The token gets the REST API's own check (signature, expiry, revocation); then the account:
a player on a break or self-excluded is refused. An accepted connection is recorded for the
integrity signals, gets its user's mute list, its user's channel and a place in the fleet's
connection records (the oldest beyond the per-user limit are evicted), and is answered
``authenticated``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from edge.connections import Connection, Registry, send_error
from edge.fanout import Fanout
from edge.metrics import Metrics
from holdem.adapters.chat_store import ChatStore
from holdem.adapters.fleet import Fleet
from holdem.adapters.relay import Relay
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import Container
from holdem.protocol import errors as perr
from holdem.protocol.messages import Auth, ServerType, parse_client_message
from holdem.protocol.pubsub import user_channel
from holdem.services import integrity, protection
from holdem.services.accounts import Accounts
from holdem.services.errors import InvalidAccessToken, SelfExcluded

log = logging.getLogger("edge.handshake")


class Handshake:
    """Authenticates new connections of one table server."""

    def __init__(
        self,
        container: Container,
        *,
        accounts: Accounts,
        relay: Relay,
        chat: ChatStore,
        fleet: Fleet,
        registry: Registry,
        fanout: Fanout,
        metrics: Metrics,
    ) -> None:
        self.container = container
        self.settings = container.settings
        self.accounts = accounts
        self.relay = relay
        self.chat = chat
        self.fleet = fleet
        self.registry = registry
        self.fanout = fanout
        self.metrics = metrics

    async def authenticate(self, conn: Connection) -> bool:
        """Await the connection's ``auth`` and answer it; False: the connection is refused
        (and closed once told why)."""
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
            send_error(
                conn, perr.NotAuthenticated("the first message must be auth"), None, self.metrics
            )
            conn.close_later(perr.CLOSE_CODES["not_authenticated"], "not_authenticated")
            return False
        try:
            claims = await self.accounts.authenticate(message.token)
        except InvalidAccessToken as exc:
            reason = str(exc.details.get("reason", "invalid"))
            # The error says why: "expired", …
            send_error(conn, InvalidAccessToken(reason), message.id, self.metrics)
            conn.close_later(perr.CLOSE_CODES["invalid_token"], "invalid_token")
            return False
        excluded = await self._excluded_until(claims.user_id)
        if excluded is not None:
            # Checked on the account, not the token: it holds after any token refresh.
            send_error(
                conn,
                SelfExcluded(f"no play until {excluded.isoformat()}"),
                message.id,
                self.metrics,
            )
            conn.close_later(perr.CLOSE_CODES["self_excluded"], "self_excluded")
            return False
        conn.claims = claims
        conn.user_id = claims.user_id
        conn.muted = frozenset(await self.chat.muted_by(conn.user_id))
        await self._record_login(conn, message.device_id)
        self.registry.bind_user(conn)
        await self.fanout.subscribe(user_channel(conn.user_id))
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
                "server": self.fleet.worker_id,
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
                await integrity.record_login(SqlTransaction(session), conn.user_id, ip, device_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("login not recorded: PostgreSQL unavailable (%r)", exc)

    async def _excluded_until(self, user_id: int) -> datetime | None:
        """The end of the player's break or self-exclusion, if one runs: from their account,
        or while PostgreSQL does not answer, from the mark the REST API left in Redis (a
        seated player may still reconnect to finish a hand during a PostgreSQL outage)."""
        now = datetime.now(UTC)
        try:
            async with self.container.sessions() as session:
                return await protection.excluded_until(SqlTransaction(session), user_id, now)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("exclusion read from the Redis mark: PostgreSQL unavailable (%r)", exc)
            mark = await self.relay.excluded_until(user_id)
            if mark is None or mark <= now.timestamp():
                return None
            return datetime.fromtimestamp(mark, UTC)
