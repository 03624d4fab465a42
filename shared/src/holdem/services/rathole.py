"""The rathole rule (SPEC §10, "Seating"): no cashing out a winning stack and sitting again
with a short one at the same stakes.

A player who left a table at these stakes (same small and big blind, any table) less than
`GameSettings.rathole_window_s` ago must buy in for at least the stack they left with, the
last time they left. The operator may cap that at the table's maximum buy-in
(`GameSettings.rathole_capped_at_max_buy_in`); uncapped, a player who left with more than the
maximum cannot sit at these stakes until the window has passed. A player who left with
nothing, or with less than the minimum buy-in, is not held to anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from holdem.ports.table_money import TableRow
from holdem.ports.transaction import Transaction
from holdem.services.errors import RatholeMinimum

__all__ = ["check_buy_in"]


async def check_buy_in(
    tx: Transaction,
    user_id: int,
    table: TableRow,
    amount: int,
    now: datetime,
    window: timedelta,
    *,
    capped_at_max: bool = False,
) -> None:
    """Raise `RatholeMinimum` if `amount` is less than the rule asks of this player here.

    The refusal names the amount and until when the rule holds (``details``: ``minimum``,
    ``until`` in ISO 8601 UTC).
    """
    if window <= timedelta(0):
        return
    left = await tx.table_records.last_departure(
        user_id, table.small_blind, table.big_blind, now - window
    )
    if left is None or not left.left_with:
        return
    minimum = min(left.left_with, table.max_buy_in) if capped_at_max else left.left_with
    if amount >= minimum:
        return
    until = left.left_at + window
    stakes = f"{table.small_blind:,}/{table.big_blind:,}"
    if minimum > table.max_buy_in:
        why = (
            f"you left a {stakes} table with {minimum:,} won, more than this table's maximum "
            f"buy-in ({table.max_buy_in:,}): you may sit at these stakes again from "
            f"{until:%Y-%m-%d %H:%M} UTC"
        )
    else:
        why = (
            f"you left a {stakes} table with {minimum:,} won: until {until:%Y-%m-%d %H:%M} UTC "
            f"a buy-in at these stakes must be at least {minimum:,}"
        )
    raise RatholeMinimum(why, {"minimum": minimum, "until": until.isoformat()})
