"""Transaction kinds, legs, and how each movement is built from its parameters.

A ledger transaction is a set of legs (account, signed amount) that sums to zero. Each
operation of the service layer is one `TransactionKind`; the functions here build its legs,
so that the rules of "which account pays which" live in one pure place.

SPEC §3 names the kinds crypto_deposit, crypto_withdrawal, buy_in, cash_out, win, lose, rake
and rakeback. Here a crypto withdrawal has three phases, each its own kind
(``withdrawal_reserve``: wallet → pending; ``withdrawal_complete``: pending → gateway;
``withdrawal_return``: pending → wallet), and a hand is one ``hand_settlement`` whose
entries are labelled win, lose or rake (`entry_label`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from holdem.ledger.accounts import AccountKind, locked_key, pending_key, seat_key, wallet_key
from holdem.ledger.amounts import LedgerRuleError, require_positive, require_won


class TransactionKind(StrEnum):
    """The kinds of ledger transaction."""

    CRYPTO_DEPOSIT = "crypto_deposit"
    WITHDRAWAL_RESERVE = "withdrawal_reserve"
    WITHDRAWAL_COMPLETE = "withdrawal_complete"
    WITHDRAWAL_RETURN = "withdrawal_return"
    BUY_IN = "buy_in"
    CASH_OUT = "cash_out"
    HAND_SETTLEMENT = "hand_settlement"
    RAKEBACK = "rakeback"
    ADJUSTMENT = "adjustment"
    LOCKED_RELEASE = "locked_release"


WITHDRAWAL_FINISHES = frozenset(
    {TransactionKind.WITHDRAWAL_COMPLETE, TransactionKind.WITHDRAWAL_RETURN}
)
"""The kinds that end a reserved withdrawal; at most one per reservation."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a movement: an account (by natural key) and a signed amount in won.

    House legs carry no stripe: the database posts them to the stripe of the transaction's
    audit lane.
    """

    key: str
    kind: AccountKind
    amount: int
    user_id: int | None = None
    table_id: int | None = None
    coin: str | None = None

    @property
    def striped(self) -> bool:
        return not self.kind.is_player


def _wallet(user_id: int, amount: int) -> Leg:
    return Leg(wallet_key(user_id), AccountKind.WALLET, amount, user_id=user_id)


def _pending(user_id: int, amount: int) -> Leg:
    return Leg(pending_key(user_id), AccountKind.PENDING_WITHDRAWAL, amount, user_id=user_id)


def _locked(user_id: int, amount: int) -> Leg:
    return Leg(locked_key(user_id), AccountKind.LOCKED, amount, user_id=user_id)


def _seat(user_id: int, table_id: int, amount: int) -> Leg:
    return Leg(
        seat_key(user_id, table_id), AccountKind.SEAT, amount, user_id=user_id, table_id=table_id
    )


def _house(kind: AccountKind, amount: int, coin: str | None = None) -> Leg:
    base = f"{kind}:{coin}" if coin else str(kind)
    return Leg(base, kind, amount, coin=coin)


def _split(amount: int, locked: int) -> None:
    require_positive(amount)
    require_won(locked)
    if not 0 <= locked <= amount:
        raise LedgerRuleError("the locked part must be between 0 and the amount")


def deposit_legs(user_id: int, amount: int, coin: str, locked: int = 0) -> list[Leg]:
    """Gateway clearing (per coin) → wallet, and the `locked` part of it → locked account.

    >>> [(leg.key, leg.amount) for leg in deposit_legs(7, 30_000, "BTC", locked=10_000)]
    [('gateway_clearing:BTC', -30000), ('wallet:7', 20000), ('locked:7', 10000)]
    """
    _split(amount, locked)
    legs = [_house(AccountKind.GATEWAY_CLEARING, -amount, coin)]
    if amount > locked:
        legs.append(_wallet(user_id, amount - locked))
    if locked:
        legs.append(_locked(user_id, locked))
    return legs


def reserve_legs(user_id: int, amount: int, from_locked: int = 0) -> list[Leg]:
    """Wallet (and `from_locked` of it from the locked account) → pending withdrawal."""
    _split(amount, from_locked)
    legs = [_pending(user_id, amount)]
    if amount > from_locked:
        legs.insert(0, _wallet(user_id, from_locked - amount))
    if from_locked:
        legs.insert(0, _locked(user_id, -from_locked))
    return legs


def complete_legs(user_id: int, amount: int, coin: str) -> list[Leg]:
    """Pending withdrawal → gateway clearing (paid out on chain)."""
    require_positive(amount)
    return [_pending(user_id, -amount), _house(AccountKind.GATEWAY_CLEARING, amount, coin)]


def return_legs(user_id: int, amount: int, to_locked: int = 0) -> list[Leg]:
    """Pending withdrawal → wallet (rejected, failed or cancelled); the part the reservation
    took from the locked account goes back there, still locked."""
    _split(amount, to_locked)
    legs = [_pending(user_id, -amount)]
    if amount > to_locked:
        legs.append(_wallet(user_id, amount - to_locked))
    if to_locked:
        legs.append(_locked(user_id, to_locked))
    return legs


def release_legs(user_id: int, amount: int) -> list[Leg]:
    """Locked account → wallet (the player's deposit limits allow it again)."""
    require_positive(amount)
    return [_locked(user_id, -amount), _wallet(user_id, amount)]


def buy_in_legs(user_id: int, table_id: int, amount: int) -> list[Leg]:
    """Wallet → seat (a buy-in or a top-up)."""
    require_positive(amount)
    return [_wallet(user_id, -amount), _seat(user_id, table_id, amount)]


def cash_out_legs(user_id: int, table_id: int, amount: int) -> list[Leg]:
    """Seat → wallet."""
    require_positive(amount)
    return [_seat(user_id, table_id, -amount), _wallet(user_id, amount)]


def settlement_legs(table_id: int, nets: Mapping[int, int], rake: int) -> list[Leg]:
    """Every seat's net result and the rake, as one movement.

    Args:
        table_id: the table the hand was played at.
        nets: user id → chips won (positive) or lost (negative) in the hand, after rake.
        rake: the rake taken from the pot(s), credited to the house.

    Raises:
        LedgerRuleError: the nets and the rake do not balance, or an amount is not won.
    """
    require_won(rake)
    if rake < 0:
        raise LedgerRuleError("rake cannot be negative")
    if not nets:
        raise LedgerRuleError("a hand settlement needs at least one seat")
    for user_id, net in nets.items():
        require_won(net)
        require_won(user_id)
    if sum(nets.values()) + rake != 0:
        raise LedgerRuleError(
            f"seat results ({sum(nets.values())}) and rake ({rake}) do not balance"
        )
    legs = [_seat(user_id, table_id, net) for user_id, net in sorted(nets.items()) if net]
    if rake:
        legs.append(_house(AccountKind.HOUSE_RAKE, rake))
    if not legs:
        raise LedgerRuleError("a hand settlement must move some chips")
    return legs


def rakeback_legs(user_id: int, amount: int) -> list[Leg]:
    """House rakeback expense → wallet."""
    require_positive(amount)
    return [_house(AccountKind.HOUSE_RAKEBACK, -amount), _wallet(user_id, amount)]


def adjustment_legs(
    user_id: int, amount: int, account: AccountKind, table_id: int | None
) -> list[Leg]:
    """House adjustments ↔ a player account (positive credits the player)."""
    require_won(amount)
    if amount == 0:
        raise LedgerRuleError("an adjustment must move a non-zero amount")
    if account is AccountKind.WALLET:
        player = _wallet(user_id, amount)
    elif account is AccountKind.PENDING_WITHDRAWAL:
        player = _pending(user_id, amount)
    elif account is AccountKind.SEAT and table_id is not None:
        player = _seat(user_id, table_id, amount)
    else:
        raise LedgerRuleError("adjust a wallet, a pending withdrawal or a seat (with its table)")
    return [_house(AccountKind.HOUSE_ADJUSTMENT, -amount), player]


def entry_label(kind: TransactionKind, account: AccountKind, amount: int) -> str:
    """How a player's statement names one entry (SPEC §3's kinds).

    >>> entry_label(TransactionKind.HAND_SETTLEMENT, AccountKind.SEAT, -500)
    'lose'
    >>> entry_label(TransactionKind.WITHDRAWAL_RESERVE, AccountKind.WALLET, -10000)
    'crypto_withdrawal'
    """
    if kind is TransactionKind.HAND_SETTLEMENT:
        if account is AccountKind.HOUSE_RAKE:
            return "rake"
        return "win" if amount > 0 else "lose"
    if kind in (TransactionKind.WITHDRAWAL_RESERVE, *WITHDRAWAL_FINISHES):
        return "crypto_withdrawal"
    return str(kind)
