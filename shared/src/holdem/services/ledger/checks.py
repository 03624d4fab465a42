"""The ledger's checks of itself: conservation of money, and the audit chain recomputed.

Both read one REPEATABLE READ snapshot, so every figure comes from the same instant
(``./dev ledger check`` and ``./dev audit verify``; docs/ledger.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from holdem.ledger import conservation
from holdem.ledger.accounts import PLAYER_KINDS
from holdem.ledger.audit import LaneVerifier, canonical_content
from holdem.ports.ledger import LedgerRepository
from holdem.ports.transaction import Transaction

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


async def conservation_report(tx: Transaction) -> ConservationReport:
    """Check every conservation rule (`holdem.ledger.conservation`) on one snapshot.

    Must be the first statement of the transaction: it makes the transaction REPEATABLE READ
    and read-only, so every sum comes from the same instant.
    """
    ledger = tx.ledger
    await ledger.read_one_snapshot()
    by_kind = await ledger.balances_by_account_kind()
    mismatches = await ledger.balance_mismatches()
    running_bad = await ledger.running_balance_mismatches(1000)
    unbalanced = await ledger.unbalanced_transactions()
    negative = await ledger.negative_accounts(_PLAYER)
    flows = await ledger.flows()
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


async def verify_audit_chain(tx: Transaction, batch: int = 2000) -> AuditReport:
    """Recompute every lane's hash chain from the transactions and entries.

    An edit to an entry or a transaction changes its rebuilt content; an edit to an audit
    record breaks its hash or the next record's link; a deleted record leaves a gap or a
    head that does not match. Also reports transactions that have no audit record. Call it
    first in its transaction (it switches to one REPEATABLE READ snapshot).
    """
    ledger = tx.ledger
    await ledger.read_one_snapshot()
    heads = await ledger.audit_heads()
    problems: list[str] = []
    count = 0
    for lane, (head_seq, head_hash) in heads.items():
        verifier = LaneVerifier(lane)
        after = 0
        while True:
            records = await ledger.audit_records(lane, after, batch)
            if not records:
                break
            rebuilt = await _rebuild_contents(ledger, [r.transaction_id for r in records])
            for record in records:
                verifier.check(record, rebuilt.get(record.transaction_id))
            count += len(records)
            after = records[-1].seq
        problems += verifier.finish(head_seq, head_hash)
    orphans = await ledger.unaudited_transactions(1000)
    problems += [f"transaction {tx_id} has no audit record" for tx_id in orphans]
    return AuditReport(count, heads, problems)


async def _rebuild_contents(ledger: LedgerRepository, ids: list[int]) -> dict[int, str]:
    entries = await ledger.audited_entries(ids)
    return {
        audited.id: canonical_content(audited, entries.get(audited.id, []))
        for audited in await ledger.audited_transactions(ids)
    }
