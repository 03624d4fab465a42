"""The ledger's checks of itself: conservation of money, and the audit chain recomputed.

Both read one REPEATABLE READ snapshot, so every figure comes from the same instant
(``./dev ledger check`` and ``./dev audit verify``; docs/ledger.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.ledger import (
    AuditLane,
    AuditRecord,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from holdem.ledger import conservation
from holdem.ledger.accounts import PLAYER_KINDS
from holdem.ledger.audit import (
    AuditedEntry,
    AuditedTransaction,
    LaneVerifier,
    StoredRecord,
    canonical_content,
)

__all__ = ["AuditReport", "ConservationReport", "conservation_report", "verify_audit_chain"]


@dataclass(frozen=True)
class ConservationReport:
    """The conservation check of one snapshot: its totals and every violation found."""

    totals: conservation.LedgerTotals
    violations: list[conservation.Violation]

    @property
    def ok(self) -> bool:
        return not self.violations


_PLAYER = [str(k) for k in PLAYER_KINDS]


async def conservation_report(session: AsyncSession) -> ConservationReport:
    """Check every conservation rule (`holdem.ledger.conservation`) on one snapshot.

    Must be the first statement of the session's transaction: it makes the transaction
    REPEATABLE READ and read-only, so every sum comes from the same instant.
    """
    await session.execute(text("set transaction isolation level repeatable read, read only"))
    by_kind: dict[str, int] = {
        kind: int(total)
        for kind, total in await session.execute(
            select(LedgerAccount.kind, func.sum(LedgerAccount.balance)).group_by(LedgerAccount.kind)
        )
    }
    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    summed = func.coalesce(sums.c.total, 0)
    mismatches = [
        (int(a), int(b), int(c))
        for a, b, c in await session.execute(
            select(LedgerAccount.id, LedgerAccount.balance, summed)
            .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
            .where(LedgerAccount.balance != summed)
            .order_by(LedgerAccount.id)
        )
    ]
    running = (
        select(
            LedgerEntry.id,
            LedgerEntry.balance_after,
            func.sum(LedgerEntry.amount)
            .over(partition_by=LedgerEntry.account_id, order_by=LedgerEntry.id)
            .label("running"),
        )
    ).subquery()
    running_bad = [
        int(i)
        for (i,) in await session.execute(
            select(running.c.id)
            .where(running.c.running != running.c.balance_after)
            .order_by(running.c.id)
            .limit(1000)
        )
    ]
    entry_sums = (
        select(
            LedgerEntry.transaction_id,
            func.sum(LedgerEntry.amount).label("total"),
            func.count().label("n"),
        )
        .group_by(LedgerEntry.transaction_id)
        .subquery()
    )
    unbalanced = [
        (int(t), int(s or 0))
        for t, s in await session.execute(
            select(LedgerTransaction.id, entry_sums.c.total)
            .outerjoin(entry_sums, entry_sums.c.transaction_id == LedgerTransaction.id)
            .where(
                or_(
                    entry_sums.c.total.is_(None),
                    entry_sums.c.total != 0,
                    entry_sums.c.n < 2,
                )
            )
            .order_by(LedgerTransaction.id)
        )
    ]
    negative = [
        (int(a), int(b))
        for a, b in await session.execute(
            select(LedgerAccount.id, LedgerAccount.balance).where(
                LedgerAccount.kind.in_(_PLAYER), LedgerAccount.balance < 0
            )
        )
    ]
    flows: dict[tuple[str, str], int] = {
        (tk, ak): int(total)
        for tk, ak, total in await session.execute(
            select(LedgerTransaction.kind, LedgerAccount.kind, func.sum(LedgerEntry.amount))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .group_by(LedgerTransaction.kind, LedgerAccount.kind)
        )
    }
    totals = conservation.LedgerTotals(
        sum_of_balances=sum(by_kind.values()),
        player_balances=sum(v for k, v in by_kind.items() if k in _PLAYER),
        player_balances_by_kind={k: v for k, v in by_kind.items() if k in _PLAYER},
        house_balances_by_kind={k: v for k, v in by_kind.items() if k not in _PLAYER},
        credited_deposits=flows.get(("crypto_deposit", "wallet"), 0)
        + flows.get(("crypto_deposit", "locked"), 0),
        paid_withdrawals=-flows.get(("withdrawal_complete", "pending_withdrawal"), 0),
        rake=flows.get(("hand_settlement", "house_rake"), 0),
        rakeback=flows.get(("rakeback", "wallet"), 0),
        adjustments=sum(v for (tk, ak), v in flows.items() if tk == "adjustment" and ak in _PLAYER),
        balance_mismatches=mismatches,
        running_balance_mismatches=running_bad,
        unbalanced_transactions=unbalanced,
        negative_player_accounts=negative,
    )
    return ConservationReport(totals, conservation.violations(totals))


@dataclass(frozen=True)
class AuditReport:
    """The audit chain recomputed from the ledger rows themselves."""

    records: int
    heads: Mapping[int, tuple[int, str]]
    """lane → (last seq, last hash)."""
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_audit_chain(session: AsyncSession, batch: int = 2000) -> AuditReport:
    """Recompute every lane's hash chain from the transactions and entries.

    An edit to an entry or a transaction changes its rebuilt content; an edit to an audit
    record breaks its hash or the next record's link; a deleted record leaves a gap or a
    head that does not match. Also reports transactions that have no audit record. Call it
    first in its transaction (it switches to one REPEATABLE READ snapshot).
    """
    await session.execute(text("set transaction isolation level repeatable read, read only"))
    heads = {
        int(lane): (int(seq), str(hash_))
        for lane, seq, hash_ in await session.execute(
            select(AuditLane.lane, AuditLane.seq, AuditLane.hash).order_by(AuditLane.lane)
        )
    }
    problems: list[str] = []
    count = 0
    for lane, (head_seq, head_hash) in heads.items():
        verifier = LaneVerifier(lane)
        after = 0
        while True:
            records = [
                StoredRecord(r.lane, r.seq, r.transaction_id, r.prev_hash, r.hash, r.content)
                for r in (
                    await session.scalars(
                        select(AuditRecord)
                        .where(AuditRecord.lane == lane, AuditRecord.seq > after)
                        .order_by(AuditRecord.seq)
                        .limit(batch)
                    )
                )
            ]
            if not records:
                break
            rebuilt = await _rebuild_contents(session, [r.transaction_id for r in records])
            for record in records:
                verifier.check(record, rebuilt.get(record.transaction_id))
            count += len(records)
            after = records[-1].seq
        problems += verifier.finish(head_seq, head_hash)
    orphans = await session.scalars(
        select(LedgerTransaction.id)
        .outerjoin(AuditRecord, AuditRecord.transaction_id == LedgerTransaction.id)
        .where(AuditRecord.transaction_id.is_(None))
        .order_by(LedgerTransaction.id)
        .limit(1000)
    )
    problems += [f"transaction {tx_id} has no audit record" for tx_id in orphans]
    session.expunge_all()
    return AuditReport(count, heads, problems)


async def _rebuild_contents(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    entries: dict[int, list[AuditedEntry]] = {}
    for tx_id, account_id, amount, after in await session.execute(
        select(
            LedgerEntry.transaction_id,
            LedgerEntry.account_id,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
        ).where(LedgerEntry.transaction_id.in_(ids))
    ):
        entries.setdefault(tx_id, []).append(AuditedEntry(account_id, amount, after))
    contents: dict[int, str] = {}
    for tx in await session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.idempotency_key,
            LedgerTransaction.request_hash,
            LedgerTransaction.created_at,
            LedgerTransaction.user_id,
            LedgerTransaction.table_id,
            LedgerTransaction.hand_id,
            LedgerTransaction.related_id,
            LedgerTransaction.metadata_,
        ).where(LedgerTransaction.id.in_(ids))
    ):
        audited = AuditedTransaction(*tx)
        contents[audited.id] = canonical_content(audited, entries.get(audited.id, []))
    return contents
