"""Operators' chat moderation: timed mutes (audited) and the chat kept with a hand.

A mute is kept in Redis (the `ChatSilences` port: `holdem.adapters.chat_store`), where every
table server checks it before a line reaches a table; the muted player's ``chat`` is refused
with ``chat_muted`` and the time it ends. The audit-log row and the mute are written
together: the row is added, the mute set, then the row committed, so a Redis failure leaves
neither.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from holdem.ports import ChatSilences, ObjectStore
from holdem.ports.transaction import Transaction
from holdem.services.admin import record_action
from holdem.services.archive import HandRecord, load_hand
from holdem.services.errors import NotFound

__all__ = ["hand_chat", "mute_player", "unmute_player"]


async def mute_player(
    tx: Transaction,
    store: ChatSilences,
    *,
    actor_id: int,
    user_id: int,
    minutes: int,
    reason: str,
    now: datetime,
) -> datetime:
    """Mute a player's chat at every table for `minutes` (replacing a mute in force);
    returns when it ends. Audited ``chat_mute``.

    Raises:
        NotFound: no such user.
    """
    if await tx.users.get(user_id) is None:
        raise NotFound("no such user", {"user_id": user_id})
    until = (now + timedelta(minutes=minutes)).replace(microsecond=0)  # whole seconds
    details: dict[str, Any] = {"minutes": minutes, "until": until.isoformat(), "reason": reason}
    await record_action(tx, actor_id, "chat_mute", target_user_id=user_id, details=details)
    await tx.session.flush()
    await store.silence(user_id, until.timestamp())
    await tx.session.commit()
    return until


async def unmute_player(
    tx: Transaction, store: ChatSilences, *, actor_id: int, user_id: int, reason: str
) -> None:
    """Lift a player's chat mute early. Audited ``chat_unmute``.

    Raises:
        NotFound: no such user.
    """
    if await tx.users.get(user_id) is None:
        raise NotFound("no such user", {"user_id": user_id})
    details = {"reason": reason}
    await record_action(tx, actor_id, "chat_unmute", target_user_id=user_id, details=details)
    await tx.session.flush()
    await store.unsilence(user_id)
    await tx.session.commit()


async def hand_chat(
    tx: Transaction, objects: ObjectStore, redis: Redis | None, hand_id: int
) -> HandRecord:
    """The hand (hot or archived) whose ``chat`` an operator reads.

    Raises:
        NotFound: no such hand.
    """
    record = await load_hand(tx, objects, redis, hand_id)
    if record is None:
        raise NotFound("no such hand", {"hand_id": hand_id})
    return record
