"""VIP status: the level decided by the rake a player paid in the trailing window (SPEC §4.2)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.economy import ArchivedHandPlayer
from holdem.adapters.orm.hands import HandPlayer
from holdem.ledger.rakeback import Tier, VipStatus, vip_status


async def rake_paid(db: AsyncSession, user_id: int, since: datetime, until: datetime) -> int:
    """Rake attributed to the user in hands started in ``[since, until)`` (won), hot or
    archived."""
    total = 0
    # Hot hands and archived ones (moved out of hand_players after 7 days) both count.
    for table in (HandPlayer, ArchivedHandPlayer):
        total += (
            await db.execute(
                select(func.coalesce(func.sum(table.rake_share), 0)).where(
                    table.user_id == user_id,
                    table.started_at >= since,
                    table.started_at < until,
                )
            )
        ).scalar_one()
    return int(total)


async def status(
    db: AsyncSession, user_id: int, now: datetime, window_days: int, tiers: tuple[Tier, ...]
) -> tuple[VipStatus, datetime]:
    """The user's level over the trailing ``window_days`` ending ``now``, and the window start."""
    since = now - timedelta(days=window_days)
    return vip_status(await rake_paid(db, user_id, since, now), tiers), since
