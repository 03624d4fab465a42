"""Operator use cases: look users up, list withdrawals by status.

Locking and unlocking go through `holdem.services.accounts.Accounts.set_locked` (it also
signs the user out everywhere); the API records every operator action in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from holdem.ports.accounts import UserRow
from holdem.ports.payments import WithdrawalRow
from holdem.ports.transaction import Transaction
from holdem.services import ledger
from holdem.services.errors import InvalidInput, NotFound
from holdem.services.pagination import Page, decode_cursor, encode_cursor

WITHDRAWAL_STATUSES = (
    "pending",
    "held",
    "approved",
    "processing",
    "paid",
    "failed",
    "rejected",
    "cancelled",
)


async def record_action(
    tx: Transaction,
    actor_id: int,
    action: str,
    *,
    target_user_id: int | None = None,
    target_table_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an operator action to the audit log, in the caller's transaction."""
    tx.admin.record(actor_id, action, target_user_id, target_table_id, details or {})


async def adjust_wallet(
    tx: Transaction, *, actor_id: int, user_id: int, amount: int, reason: str, key: str
) -> ledger.Posted:
    """An operator's credit (amount > 0) or debit of a player's wallet, with a reason.

    The ledger transaction and the audit-log row commit together; the same ``key`` with the
    same request is a replay (nothing moves twice).

    Raises:
        InvalidInput: a zero amount. NotFound: no such user.
        InsufficientFunds: a debit larger than the wallet.
        IdempotencyKeyReused: the key was used for another request.
    """
    if amount == 0:
        raise InvalidInput("an adjustment moves a non-zero amount", {"field": "amount_krw"})
    if await tx.users.get(user_id) is None:
        raise NotFound("no such user", {"user_id": user_id})
    posted = await ledger.adjust(
        tx.session,
        key=f"admin-adjust:{key}",
        user_id=user_id,
        amount=amount,
        reason=reason,
        operator_id=actor_id,
    )
    if not posted.replayed:
        await record_action(
            tx,
            actor_id,
            "adjust_wallet",
            target_user_id=user_id,
            details={"amount": amount, "reason": reason, "transaction_id": posted.transaction_id},
        )
    await tx.session.commit()
    return posted


async def find_user(tx: Transaction, *, user_id: int | None, email: str | None) -> UserRow:
    """A user by id or by email.

    Raises:
        NotFound: no such user.
    """
    if user_id is not None:
        user = await tx.users.get(user_id)
    elif email is not None:
        user = await tx.users.by_email(email.strip().lower())
    else:
        user = None
    if user is None:
        raise NotFound("no such user")
    return user


async def list_withdrawals(
    tx: Transaction, status: str, cursor: str | None, limit: int
) -> Page[WithdrawalRow]:
    """Withdrawals in one status, oldest due first (the order operators work them)."""
    after = None
    if cursor is not None:
        due_at, withdrawal_id = decode_cursor(cursor, datetime, int)
        after = (due_at, withdrawal_id)
    rows = await tx.admin.withdrawals_by_due(status, after, limit + 1)
    items = list(rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(items[-1].due_at, items[-1].id)
    return Page(items, next_cursor)
