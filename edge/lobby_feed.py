"""The lobby's fan-out: what this server's lobby subscribers are sent.

A new subscriber gets the whole lobby at once (from this server's `LobbyCache`); after that,
every lobby interval, one frame with the tables that changed since the last one (what the
lobby channel brought meanwhile, latest values winning), encoded once per codec.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from edge.connections import Connection, Registry, broadcast
from edge.lobby import LobbyCache
from holdem.adapters.relay import Relay
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import Container
from holdem.protocol import errors as perr
from holdem.protocol.messages import ServerType
from holdem.services import lobby

log = logging.getLogger("edge.lobby_feed")


class LobbyFeed:
    """The lobby subscribers of one server: their first full lobby, then its changes."""

    def __init__(self, container: Container, relay: Relay, registry: Registry) -> None:
        self.container = container
        self.relay = relay
        self.registry = registry
        self.cache = LobbyCache()
        self._changes: dict[int, dict[str, Any]] = {}
        """Lobby entries changed since the last lobby frame, by table (latest values win)."""

    def apply(self, entry: dict[str, Any]) -> None:
        """An entry published on the lobby channel: kept in the copy, and remembered for the
        next lobby frame while anyone here subscribes."""
        self.cache.apply(entry)
        if self.registry.lobby:
            table_id = int(entry["table_id"])
            changed = self._changes.get(table_id, {})
            self._changes[table_id] = {**changed, **entry}

    async def subscribe(self, conn: Connection, request_id: str | None) -> None:
        """Add a lobby subscriber and send it the whole lobby."""
        # Subscribed before the lobby is read: a change published meanwhile is sent after it.
        self.registry.lobby.add(conn)
        try:
            tables = await self.cache.tables(self._read_lobby)
        except Exception as exc:
            self.registry.lobby.discard(conn)
            log.warning("lobby read failed", exc_info=True)
            raise perr.LobbyUnavailable("the lobby cannot be read now; retry") from exc
        conn.send({"type": ServerType.LOBBY, "id": request_id, "full": True, "tables": tables})

    async def _read_lobby(self) -> list[dict[str, Any]]:
        live = await self.relay.lobby_live()
        async with self.container.sessions() as session:
            return await lobby.open_lobby(SqlTransaction(session), live)

    async def fan_out_forever(self) -> None:
        """Every lobby interval, one frame with the tables that changed to each subscriber."""
        while True:
            await asyncio.sleep(self.container.settings.ws.lobby_interval_s)
            changes, self._changes = self._changes, {}
            if changes and self.registry.lobby:
                msg = {"type": ServerType.LOBBY, "full": False, "tables": list(changes.values())}
                broadcast(list(self.registry.lobby), msg)
