"""Ledger accounts: who holds money, and the natural key that names each account.

Player accounts (a wallet, a pending-withdrawal account, a locked account, and one seat
account per table the player sits at) can never go negative. The locked account holds the
part of a deposit credited over the player's deposit limit, or during a break or
self-exclusion: it can be withdrawn, never brought to a table. House accounts are the
other side of every movement: rake revenue, rakeback expense, operator adjustments, and one
gateway clearing account per coin. House accounts are *striped*: each has `LANES` rows
(``house_rake:0`` … ``house_rake:7``) so that concurrent transactions never queue behind one
hot row; a transaction uses the stripe of the audit lane it holds (see `holdem.ledger.audit`).

>>> wallet_key(42)
'wallet:42'
>>> seat_key(42, 7)
'seat:42:7'
>>> house_key(AccountKind.GATEWAY_CLEARING, 3, coin="BTC")
'gateway_clearing:BTC:3'
"""

from __future__ import annotations

from enum import StrEnum

LANES = 8
"""Number of audit lanes, and of stripes of every house account."""


class AccountKind(StrEnum):
    """What an account holds."""

    WALLET = "wallet"
    PENDING_WITHDRAWAL = "pending_withdrawal"
    LOCKED = "locked"
    SEAT = "seat"
    HOUSE_RAKE = "house_rake"
    HOUSE_RAKEBACK = "house_rakeback"
    HOUSE_ADJUSTMENT = "house_adjustment"
    GATEWAY_CLEARING = "gateway_clearing"

    @property
    def is_player(self) -> bool:
        """Player accounts belong to one user and can never go negative."""
        return self in PLAYER_KINDS


PLAYER_KINDS = frozenset(
    {AccountKind.WALLET, AccountKind.PENDING_WITHDRAWAL, AccountKind.LOCKED, AccountKind.SEAT}
)
HOUSE_KINDS = frozenset(AccountKind) - PLAYER_KINDS


def wallet_key(user_id: int) -> str:
    """The key of a player's wallet."""
    return f"{AccountKind.WALLET}:{user_id}"


def pending_key(user_id: int) -> str:
    """The key of a player's pending-withdrawal account."""
    return f"{AccountKind.PENDING_WITHDRAWAL}:{user_id}"


def locked_key(user_id: int) -> str:
    """The key of a player's locked account (withdrawable, not playable)."""
    return f"{AccountKind.LOCKED}:{user_id}"


def seat_key(user_id: int, table_id: int) -> str:
    """The key of a player's seat account at a table (reused by every sitting there)."""
    return f"{AccountKind.SEAT}:{user_id}:{table_id}"


def house_base_key(kind: AccountKind, coin: str | None = None) -> str:
    """The key of a house account without its stripe number."""
    if kind not in HOUSE_KINDS:
        raise ValueError(f"{kind} is not a house account kind")
    if kind is AccountKind.GATEWAY_CLEARING:
        if not coin:
            raise ValueError("a gateway clearing account needs a coin")
        return f"{kind}:{coin}"
    return str(kind)


def house_key(kind: AccountKind, lane: int, coin: str | None = None) -> str:
    """The key of one stripe of a house account."""
    if not 0 <= lane < LANES:
        raise ValueError(f"lane {lane} is outside 0..{LANES - 1}")
    return f"{house_base_key(kind, coin)}:{lane}"
