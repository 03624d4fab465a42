"""VIP status: the level decided by the rake a player paid in the trailing window (SPEC §4.2).

The rake is read by `holdem.services.rakeback.rake_paid`, the query the weekly settlement
pays by: the level a player is shown and the level they are paid at come from one figure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from holdem.ledger.rakeback import Tier, VipStatus, vip_status
from holdem.ports.transaction import Transaction
from holdem.services.rakeback import rake_paid


async def status(
    tx: Transaction, user_id: int, now: datetime, window_days: int, tiers: tuple[Tier, ...]
) -> tuple[VipStatus, datetime]:
    """The user's level over the trailing ``window_days`` ending ``now``, and the window start."""
    since = now - timedelta(days=window_days)
    return vip_status(await rake_paid(tx, user_id, since, now), tiers), since
