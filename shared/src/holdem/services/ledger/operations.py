"""The ledger's operations: each posts one balanced transaction (SPEC §3).

Every function posts inside the caller's database transaction, so a caller can compose
(create a withdrawal row *and* reserve its funds; write a hand *and* settle it) and commit
once; `LedgerService` runs each in its own transaction. Each is idempotent by its key
(`holdem.services.ledger.posting.post`). An operation that only posts takes the session (the
posting path: ``ledger_post`` on its connection); the withdrawal finishes, which read the
reservation first, take the `Transaction` (its ledger repository, and its session to post).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.ledger import transactions as legs_of
from holdem.ledger.accounts import AccountKind
from holdem.ledger.amounts import require_crypto, require_won
from holdem.ledger.audit import around, canonical_metadata, request_body
from holdem.ledger.transactions import Leg, TransactionKind
from holdem.ports.ledger import RecordedTransaction
from holdem.ports.table_money import HandPost
from holdem.ports.transaction import Transaction
from holdem.services.ledger.posting import Posted, legs_json, post, rule
from holdem.services.ledger_errors import InvalidLedgerRequest, WithdrawalNotFound


def _rate_text(coin: str, rate_krw: Decimal) -> str:
    return f"1 {coin} = {format(rate_krw, 'f')} KRW"


async def credit_deposit(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    coin: str,
    crypto_amount: Decimal,
    rate_krw: Decimal,
    tx_hash: str,
    address: str,
    deposit_id: int | None = None,
    locked: int = 0,
) -> Posted:
    """Credit a confirmed crypto deposit to the wallet (gateway clearing → wallet).

    `amount` is the KRW credited, converted at `rate_krw` (KRW per coin); both are kept with
    the coin amount, chain transaction hash and address. `locked` of it (over the player's
    deposit limit, or during an exclusion) goes to the locked account instead: withdrawable,
    not playable (`holdem.ledger.protection`).
    """
    rule(require_crypto, crypto_amount)
    rule(require_crypto, rate_krw)
    meta = {
        "coin": coin,
        "crypto_amount": crypto_amount,
        "rate_krw": rate_krw,
        "rate": _rate_text(coin, rate_krw),
        "tx_hash": tx_hash,
        "address": address,
        "deposit_id": deposit_id,
    }
    if locked:  # only when some is locked: the request hash of every other deposit is as before
        meta["locked"] = locked
    return await post(
        session,
        kind=TransactionKind.CRYPTO_DEPOSIT,
        key=key,
        request={"user_id": user_id, "amount": amount, **meta},
        metadata=meta,
        legs=rule(legs_of.deposit_legs, user_id, amount, coin, locked),
        user_id=user_id,
    )


async def reserve_withdrawal(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    coin: str,
    address: str,
    withdrawal_id: int | None = None,
    from_locked: int = 0,
) -> Posted:
    """Move a withdrawal's amount from the wallet to pending-withdrawal, at once.

    `from_locked` of it comes from the locked account (locked funds are withdrawable); a
    returned withdrawal puts that part back there.
    """
    meta: dict[str, Any] = {
        "amount": amount,
        "coin": coin,
        "address": address,
        "withdrawal_id": withdrawal_id,
    }
    if from_locked:
        meta["from_locked"] = from_locked
    return await post(
        session,
        kind=TransactionKind.WITHDRAWAL_RESERVE,
        key=key,
        request={"user_id": user_id, **meta},
        metadata=meta,
        legs=rule(legs_of.reserve_legs, user_id, amount, from_locked),
        user_id=user_id,
    )


async def _reservation(tx: Transaction, reserve_transaction_id: int) -> RecordedTransaction:
    found = await tx.ledger.transaction(reserve_transaction_id)
    if found is None or found.kind != TransactionKind.WITHDRAWAL_RESERVE:
        raise WithdrawalNotFound(
            f"no reserved withdrawal {reserve_transaction_id}",
            {"reserve_transaction_id": reserve_transaction_id},
        )
    return found


async def complete_withdrawal(
    tx: Transaction,
    *,
    key: str,
    reserve_transaction_id: int,
    crypto_amount: Decimal,
    rate_krw: Decimal,
    tx_hash: str,
) -> Posted:
    """Record a paid withdrawal: its reserved amount leaves pending for the gateway."""
    rule(require_crypto, crypto_amount)
    rule(require_crypto, rate_krw)
    reserved = await _reservation(tx, reserve_transaction_id)
    user_id, coin = reserved.user_id, str(reserved.metadata["coin"])
    amount = int(reserved.metadata["amount"])
    assert user_id is not None
    meta = {
        "amount": amount,
        "coin": coin,
        "address": reserved.metadata["address"],
        "crypto_amount": crypto_amount,
        "rate_krw": rate_krw,
        "rate": _rate_text(coin, rate_krw),
        "tx_hash": tx_hash,
        "withdrawal_id": reserved.metadata.get("withdrawal_id"),
    }
    return await post(
        tx.session,
        kind=TransactionKind.WITHDRAWAL_COMPLETE,
        key=key,
        request={"reserve_transaction_id": reserve_transaction_id, **meta},
        metadata=meta,
        legs=rule(legs_of.complete_legs, user_id, amount, coin),
        user_id=user_id,
        related_id=reserve_transaction_id,
    )


async def return_withdrawal(
    tx: Transaction, *, key: str, reserve_transaction_id: int, reason: str
) -> Posted:
    """Return a rejected, failed or cancelled withdrawal's amount to the wallet."""
    if not reason.strip():
        raise InvalidLedgerRequest("a returned withdrawal needs a reason")
    reserved = await _reservation(tx, reserve_transaction_id)
    user_id, amount = reserved.user_id, int(reserved.metadata["amount"])
    assert user_id is not None
    meta = {
        "amount": amount,
        "coin": reserved.metadata["coin"],
        "reason": reason,
        "withdrawal_id": reserved.metadata.get("withdrawal_id"),
    }
    return await post(
        tx.session,
        kind=TransactionKind.WITHDRAWAL_RETURN,
        key=key,
        request={"reserve_transaction_id": reserve_transaction_id, **meta},
        metadata=meta,
        legs=rule(
            legs_of.return_legs, user_id, amount, int(reserved.metadata.get("from_locked", 0))
        ),
        user_id=user_id,
        related_id=reserve_transaction_id,
    )


async def release_locked(session: AsyncSession, *, key: str, user_id: int, amount: int) -> Posted:
    """Move locked funds to the wallet, where they are playable (locked account → wallet)."""
    meta = {"amount": amount}
    return await post(
        session,
        kind=TransactionKind.LOCKED_RELEASE,
        key=key,
        request={"user_id": user_id, **meta},
        metadata=meta,
        legs=rule(legs_of.release_legs, user_id, amount),
        user_id=user_id,
    )


async def buy_in(
    session: AsyncSession, *, key: str, user_id: int, table_id: int, amount: int
) -> Posted:
    """Move chips from the wallet to the player's seat at a table (buy-in or top-up)."""
    legs = rule(legs_of.buy_in_legs, user_id, table_id, amount)
    return await _seat_move(session, TransactionKind.BUY_IN, legs, key, user_id, table_id, amount)


async def cash_out(
    session: AsyncSession, *, key: str, user_id: int, table_id: int, amount: int
) -> Posted:
    """Move chips from the player's seat back to the wallet."""
    legs = rule(legs_of.cash_out_legs, user_id, table_id, amount)
    return await _seat_move(session, TransactionKind.CASH_OUT, legs, key, user_id, table_id, amount)


async def _seat_move(
    session: AsyncSession,
    kind: TransactionKind,
    legs: list[Leg],
    key: str,
    user_id: int,
    table_id: int,
    amount: int,
) -> Posted:
    """Post a move between the wallet and a seat (a buy-in and a cash-out differ by their
    legs only)."""
    meta = {"amount": amount}
    return await post(
        session,
        kind=kind,
        key=key,
        request={"user_id": user_id, "table_id": table_id, **meta},
        metadata=meta,
        legs=legs,
        user_id=user_id,
        table_id=table_id,
    )


def settlement_key(table_id: int, hand_id: int) -> str:
    """The idempotency key of a hand's settlement."""
    return f"hand:{table_id}:{hand_id}"


async def settle_hand(
    session: AsyncSession,
    *,
    table_id: int,
    hand_id: int,
    fencing_token: int,
    nets: Mapping[int, int],
    rake: int,
    rake_shares: Mapping[int, int] | None = None,
) -> Posted:
    """Settle a hand in one transaction: every seat's net result and the rake.

    Keyed by (table, hand): settling the same hand again returns the original result, even
    from a new table owner. Refused with `StaleFencingToken` when a higher fencing token has
    already settled a hand at this table (the highest token seen per table is kept in
    PostgreSQL and compared under its row lock).

    Args:
        nets: user id → net chips won (+) or lost (−) in the hand, after rake.
        rake: the rake, credited to the house; ``sum(nets) + rake`` must be 0.
        rake_shares: user id → the part of the rake attributed to them (for rakeback);
            must add up to `rake` when given.
    """
    request, meta, legs = _hand_settlement(table_id, fencing_token, nets, rake, rake_shares)
    return await post(
        session,
        kind=TransactionKind.HAND_SETTLEMENT,
        key=settlement_key(table_id, hand_id),
        request=request(hand_id),
        metadata=meta,
        legs=legs,
        table_id=table_id,
        hand_id=hand_id,
        fence=(table_id, fencing_token),
    )


def hand_post(
    *,
    table_id: int,
    fencing_token: int,
    nets: Mapping[int, int],
    rake: int,
    rake_shares: Mapping[int, int] | None = None,
) -> HandPost:
    """`settle_hand`'s post of a hand that has no id yet, for the statement that writes the
    hand and posts it at once (`holdem.ports.table_money.Settlements.at_once`): the same
    key, request hash, metadata, legs and fence once the hand's id is filled in.

    Raises:
        InvalidLedgerRequest: as `settle_hand`, before anything is sent.
    """
    request, meta, legs = _hand_settlement(table_id, fencing_token, nets, rake, rake_shares)
    kind = str(TransactionKind.HAND_SETTLEMENT)
    return HandPost(
        key=rule(around, lambda hand_id: settlement_key(table_id, hand_id)),
        request=rule(around, lambda hand_id: request_body(kind, request(hand_id))),
        metadata=rule(canonical_metadata, meta),
        legs=legs_json(legs),
        table_id=table_id,
        fencing_token=fencing_token,
    )


def _hand_settlement(
    table_id: int,
    fencing_token: int,
    nets: Mapping[int, int],
    rake: int,
    rake_shares: Mapping[int, int] | None,
) -> tuple[Callable[[int], dict[str, Any]], dict[str, Any], list[Leg]]:
    """A hand's settlement checked: its request for a hand id, its metadata and its legs."""
    rule(require_won, fencing_token)
    shares = dict(rake_shares or {})
    if shares and sum(shares.values()) != rake:
        raise InvalidLedgerRequest("rake shares must add up to the rake")
    meta: dict[str, Any] = {"rake": rake}
    if shares:
        meta["rake_shares"] = json.dumps({str(k): v for k, v in sorted(shares.items())})
    outcome = json.dumps({str(k): v for k, v in sorted(nets.items())})

    def request(hand_id: int) -> dict[str, Any]:
        return {"table_id": table_id, "hand_id": hand_id, "nets": outcome, **meta}

    return request, meta, rule(legs_of.settlement_legs, table_id, nets, rake)


async def credit_rakeback(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    week_start: date | None = None,
    rake_paid: int | None = None,
    level: str | None = None,
) -> Posted:
    """Credit rakeback to the wallet (house rakeback expense → wallet)."""
    meta = {
        "week_start": week_start.isoformat() if week_start else None,
        "rake_paid": rake_paid,
        "level": level,
    }
    return await post(
        session,
        kind=TransactionKind.RAKEBACK,
        key=key,
        request={"user_id": user_id, "amount": amount, **meta},
        metadata=meta,
        legs=rule(legs_of.rakeback_legs, user_id, amount),
        user_id=user_id,
    )


async def adjust(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    reason: str,
    operator_id: int,
    account: AccountKind = AccountKind.WALLET,
    table_id: int | None = None,
) -> Posted:
    """An operator's correction: credit (amount > 0) or debit a player account.

    A reason is required; it and the operator are part of the audited record.
    """
    if not reason.strip():
        raise InvalidLedgerRequest("an adjustment needs a reason")
    meta = {"reason": reason, "operator_id": operator_id, "account": str(account)}
    return await post(
        session,
        kind=TransactionKind.ADJUSTMENT,
        key=key,
        request={"user_id": user_id, "amount": amount, "table_id": table_id, **meta},
        metadata=meta,
        legs=rule(legs_of.adjustment_legs, user_id, amount, account, table_id),
        user_id=user_id,
        table_id=table_id,
    )
