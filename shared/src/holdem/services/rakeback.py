"""Weekly rakeback (SPEC §4.2): statements, the settlement plan, and paying each user once.

A user's statement for a KST week: the rake they paid in the week, the level decided by the
rake they paid in the level window (the configured number of KST days ending with the week,
default 30), that level's rate, and the amount (rounded down to the won). Rake is read from
``hand_players`` and, for hands already moved to S3, ``archived_hand_players``: the archiver
moves each row in the same transaction that deletes it, so a window never counts a hand twice
or misses one.

Paying is exactly once per (user, week), whatever retries, duplicate SQS deliveries or
operator re-runs happen: the ``rakeback_settlements`` row (unique per user and week) is
claimed and locked in the transaction that credits the ledger, with the ledger's own
idempotency key ``rakeback:<user>:<monday>`` as a second guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from holdem.ledger.rakeback import (
    SPEC_VIP_TIERS,
    KstWeek,
    RakebackRuleError,
    Tier,
    VipLevel,
    level_window,
    rakeback_amount,
    vip_status,
    week_starting,
)
from holdem.ports.rakeback import SettlementRow
from holdem.ports.transaction import Transaction
from holdem.services import ledger
from holdem.services.errors import InvalidInput
from holdem.services.notifications import Notice, NoticeKind

__all__ = [
    "EnqueueReport",
    "LedgerCredit",
    "RakebackLedger",
    "SettleOutcome",
    "Settlement",
    "SettlementQueue",
    "Statement",
    "enqueue_week",
    "idempotency_key",
    "paid_notice",
    "plan_week",
    "rake_by_user",
    "rake_paid",
    "settle_user",
    "statements_for_user",
    "week_from_date",
    "weekly_statements",
]


class RakebackLedger(Protocol):
    """The ledger's rakeback credit, posted inside the caller's transaction.

    :class:`LedgerCredit` adapts ``holdem.services.ledger.credit_rakeback`` (which returns a
    ``Posted``) to it. Idempotent by ``key``.
    """

    async def credit_rakeback(
        self,
        tx: Transaction,
        *,
        key: str,
        user_id: int,
        amount: int,
        week_start: date,
        rake_paid: int,
        level: str,
    ) -> int:
        """Move ``amount`` from the house rakeback expense to the wallet; the transaction id."""


class LedgerCredit:
    """The real ledger (``holdem.services.ledger``) as a :class:`RakebackLedger`."""

    async def credit_rakeback(
        self,
        tx: Transaction,
        *,
        key: str,
        user_id: int,
        amount: int,
        week_start: date,
        rake_paid: int,
        level: str,
    ) -> int:
        posted = await ledger.credit_rakeback(
            tx.session,
            key=key,
            user_id=user_id,
            amount=amount,
            week_start=week_start,
            rake_paid=rake_paid,
            level=level,
        )
        return posted.transaction_id


def week_from_date(monday: date) -> KstWeek:
    """The KST week starting on ``monday``; a client's bad date becomes ``InvalidInput``."""
    try:
        return week_starting(monday)
    except RakebackRuleError as exc:
        raise InvalidInput(str(exc), {"week": monday.isoformat()}) from exc


async def rake_by_user(
    tx: Transaction, start: datetime, end: datetime, user_ids: Sequence[int] | None = None
) -> dict[int, int]:
    """Rake attributed to each user in hands started in ``[start, end)``, hot and archived.

    Users whose rake is 0 are left out.
    """
    return await tx.rakeback.rake_by_user(start, end, user_ids)


async def rake_paid(tx: Transaction, user_id: int, start: datetime, end: datetime) -> int:
    """One user's rake in ``[start, end)`` (won), hot and archived hands alike."""
    return (await rake_by_user(tx, start, end, [user_id])).get(user_id, 0)


@dataclass(frozen=True, slots=True)
class Statement:
    """A user's rakeback for one week (``level_rake`` is ``None`` when read back from a
    settlement, which records the level but not the window's total)."""

    user_id: int
    week_start: date
    rake: int
    level_rake: int | None
    level: VipLevel
    rate_bps: int
    amount: int


async def weekly_statements(
    tx: Transaction,
    week: KstWeek,
    *,
    window_days: int = 30,
    tiers: Sequence[Tier] = SPEC_VIP_TIERS,
    user_ids: Sequence[int] | None = None,
) -> list[Statement]:
    """Statements of every user who paid rake in ``week`` (or of ``user_ids``), by user id.

    Reads only: this is also the operators' dry run.
    """
    week_rake = await rake_by_user(tx, week.starts_at, week.ends_at, user_ids)
    if not week_rake:
        return []
    since, until = level_window(week, window_days)
    window_rake = await rake_by_user(tx, since, until, list(week_rake))
    statements = []
    for user_id in sorted(week_rake):
        status = vip_status(window_rake.get(user_id, 0), tiers)
        rake = week_rake[user_id]
        statements.append(
            Statement(
                user_id=user_id,
                week_start=week.start,
                rake=rake,
                level_rake=status.rake_paid,
                level=status.level,
                rate_bps=status.rate_bps,
                amount=rakeback_amount(rake, status.rate_bps),
            )
        )
    return statements


async def plan_week(tx: Transaction, week: KstWeek, batch_size: int = 100) -> list[list[int]]:
    """The users to settle for ``week``, in batches for the queue.

    Users already paid for the week are left out, so an operator re-run only sends the
    ones still owed (the worker would skip the others anyway).
    """
    if batch_size < 1:
        raise InvalidInput("batch size must be at least 1")
    owed = await rake_by_user(tx, week.starts_at, week.ends_at)
    settled = await tx.rakeback.settled_users(week.start)
    users = sorted(set(owed) - settled)
    return [users[i : i + batch_size] for i in range(0, len(users), batch_size)]


class SettlementQueue(Protocol):
    """Where the planner puts batches of users for the workers."""

    async def send(self, messages: Sequence[dict[str, Any]]) -> None:
        """Send every message, or raise."""


@dataclass(frozen=True, slots=True)
class EnqueueReport:
    """What a planner run sent."""

    week_start: date
    users: int
    messages: int


async def enqueue_week(
    tx: Transaction, queue: SettlementQueue, week: KstWeek, batch_size: int = 100
) -> EnqueueReport:
    """Send the users still owed for ``week`` to the workers, ``batch_size`` per message.

    Messages are ``{"week": "YYYY-MM-DD", "user_ids": [...]}``. Safe to repeat: the
    workers pay each user and week once.
    """
    batches = await plan_week(tx, week, batch_size)
    await queue.send([{"week": week.start.isoformat(), "user_ids": b} for b in batches])
    return EnqueueReport(week.start, sum(len(b) for b in batches), len(batches))


def idempotency_key(user_id: int, week: KstWeek) -> str:
    """The ledger key of a user's rakeback for a week."""
    return f"rakeback:{user_id}:{week.start.isoformat()}"


class SettleOutcome(StrEnum):
    """What settling one user did."""

    PAID = "paid"
    NOTHING_OWED = "nothing_owed"
    ALREADY_SETTLED = "already_settled"


@dataclass(frozen=True, slots=True)
class Settlement:
    """The result of settling one user for one week."""

    outcome: SettleOutcome
    statement: Statement | None
    ledger_transaction_id: int | None


async def settle_user(
    tx: Transaction,
    ledger: RakebackLedger,
    user_id: int,
    week: KstWeek,
    *,
    window_days: int = 30,
    tiers: Sequence[Tier] = SPEC_VIP_TIERS,
) -> Settlement:
    """Pay one user's rakeback for ``week``, at most once. Commit is the caller's.

    The settlement row is inserted (or found) and locked ``FOR UPDATE`` first, so two
    deliveries of the same message serialise here and the second sees the first's payment.
    """
    statements = await weekly_statements(
        tx, week, window_days=window_days, tiers=tiers, user_ids=[user_id]
    )
    if not statements:
        return Settlement(SettleOutcome.NOTHING_OWED, None, None)
    st = statements[0]
    row = await tx.rakeback.claim_settlement(
        user_id, week.start, st.rake, st.level.value, st.rate_bps, st.amount
    )
    if row.ledger_transaction_id is not None or row.amount == 0:
        outcome = SettleOutcome.ALREADY_SETTLED if row.amount else SettleOutcome.NOTHING_OWED
        return Settlement(outcome, _statement_of(row), row.ledger_transaction_id)
    # A row left unpaid by an earlier attempt keeps its recorded figures: pay those.
    transaction_id = await ledger.credit_rakeback(
        tx,
        key=idempotency_key(user_id, week),
        user_id=user_id,
        amount=row.amount,
        week_start=week.start,
        rake_paid=row.rake_paid,
        level=row.level,
    )
    await tx.rakeback.record_payment(row, transaction_id)
    return Settlement(SettleOutcome.PAID, _statement_of(row), row.ledger_transaction_id)


def paid_notice(statement: Statement) -> Notice:
    """The player's ``rakeback_paid`` notice for a settled statement."""
    return Notice(
        statement.user_id,
        NoticeKind.RAKEBACK_PAID,
        {
            "week_start": statement.week_start.isoformat(),
            "amount": statement.amount,
            "level": statement.level.value,
            "rate_bps": statement.rate_bps,
        },
    )


def _statement_of(row: SettlementRow) -> Statement:
    return Statement(
        user_id=row.user_id,
        week_start=row.week_start,
        rake=row.rake_paid,
        level_rake=None,
        level=VipLevel(row.level),
        rate_bps=row.rate_bps,
        amount=row.amount,
    )


async def statements_for_user(
    tx: Transaction, user_id: int, limit: int = 52
) -> list[SettlementRow]:
    """A user's settled weeks, newest first."""
    return list(await tx.rakeback.settlements_of(user_id, limit))
