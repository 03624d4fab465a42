"""Operator use cases: look users up, list withdrawals by status.

Locking and unlocking go through `holdem.services.accounts.Accounts.set_locked` (it also
signs the user out everywhere); the API records every operator action in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.payments import Withdrawal
from holdem.adapters.orm.users import User
from holdem.ports import Reader
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


async def role_of(db: Reader, user_id: int) -> str | None:
    """The account's current role (None: there is no such account any more)."""
    return await db.scalar(select(User.role).where(User.id == user_id))


async def record_action(
    db: AsyncSession,
    actor_id: int,
    action: str,
    *,
    target_user_id: int | None = None,
    target_table_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an operator action to the audit log, in the caller's transaction."""
    db.add(
        AdminAction(
            actor_id=actor_id,
            action=action,
            target_user_id=target_user_id,
            target_table_id=target_table_id,
            details=details or {},
        )
    )


async def adjust_wallet(
    db: AsyncSession, *, actor_id: int, user_id: int, amount: int, reason: str, key: str
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
    if await db.get(User, user_id) is None:
        raise NotFound("no such user", {"user_id": user_id})
    posted = await ledger.adjust(
        db,
        key=f"admin-adjust:{key}",
        user_id=user_id,
        amount=amount,
        reason=reason,
        operator_id=actor_id,
    )
    if not posted.replayed:
        await record_action(
            db,
            actor_id,
            "adjust_wallet",
            target_user_id=user_id,
            details={"amount": amount, "reason": reason, "transaction_id": posted.transaction_id},
        )
    await db.commit()
    return posted


async def find_user(db: AsyncSession, *, user_id: int | None, email: str | None) -> User:
    """A user by id or by email.

    Raises:
        NotFound: no such user.
    """
    if user_id is not None:
        user = await db.get(User, user_id)
    elif email is not None:
        user = (
            await db.execute(select(User).where(User.email == email.strip().lower()))
        ).scalar_one_or_none()
    else:
        user = None
    if user is None:
        raise NotFound("no such user")
    return user


async def list_withdrawals(
    db: AsyncSession, status: str, cursor: str | None, limit: int
) -> Page[Withdrawal]:
    """Withdrawals in one status, oldest due first (the order operators work them)."""
    query = (
        select(Withdrawal)
        .where(Withdrawal.status == status)
        .order_by(Withdrawal.due_at, Withdrawal.id)
        .limit(limit + 1)
    )
    if cursor is not None:
        due_at, withdrawal_id = decode_cursor(cursor, datetime, int)
        query = query.where(
            or_(
                Withdrawal.due_at > due_at,
                and_(Withdrawal.due_at == due_at, Withdrawal.id > withdrawal_id),
            )
        )
    rows = list((await db.execute(query)).scalars())
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(items[-1].due_at, items[-1].id)
    return Page(items, next_cursor)
