"""Chat mutes at the table server: the player's own mute list and an operator's mute.

A player's mute list (kept in Redis, `holdem.adapters.chat_store`) is copied onto each of
their connections (`Connection.muted`), here and on the other servers, and the fan-out skips
the muted users' lines for that connection only. An operator's mute holds at every table: a
muted player's line is refused before it reaches one.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from edge.connections import Connection, Registry
from holdem.adapters.chat_store import ChatStore
from holdem.protocol import errors as perr
from holdem.protocol.messages import Mute, ServerType, Unmute
from holdem.protocol.pubsub import pack, user_channel


class ChatMutes:
    """The ``mute`` and ``unmute`` commands, and the operator's mute of a chat line."""

    def __init__(self, chat: ChatStore, redis: Redis, registry: Registry, max_mutes: int) -> None:
        self.chat = chat
        self.redis = redis
        self.registry = registry
        self.max_mutes = max_mutes

    async def check_not_silenced(self, user_id: int) -> None:
        """An operator's mute holds at every table: the line is refused before it reaches one."""
        until = await self.chat.silenced_until(user_id)
        if until is not None and until > time.time():
            when = datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")
            raise perr.ChatMuted(f"an operator muted your chat until {when}")

    async def change(self, conn: Connection, message: Mute | Unmute) -> None:
        """Change the user's mute list (kept in Redis), then every connection of theirs, here
        and on the other servers (``_mutes`` on their user channel), stops or starts
        receiving the other user's lines."""
        user, other = conn.user_id, message.user_id
        if isinstance(message, Unmute):
            muted: set[int] | None = await self.chat.unmute(user, other)
        elif other == user:
            raise perr.InvalidMessage("user_id: you cannot mute yourself")
        else:
            limit = self.max_mutes
            muted = await self.chat.mute(user, other, limit=limit)
            if muted is None:
                raise perr.MuteListFull(f"at most {limit} users may be muted")
        listed = sorted(muted or ())
        for mine in self.registry.by_user.get(user, ()):
            mine.muted = frozenset(listed)
        await self.redis.publish(user_channel(user), pack({"type": "_mutes", "muted": listed}))
        conn.send({"type": ServerType.RESULT, "id": message.id, "ok": True, "muted": listed})
