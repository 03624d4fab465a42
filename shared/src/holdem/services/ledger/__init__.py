"""The money ledger's use cases: the only way money moves (SPEC §3).

Every operation exists in two forms:

* a function taking an `AsyncSession` (or, for the withdrawal finishes, which read the
  reservation first, a `holdem.ports.transaction.Transaction`) — it posts inside the caller's
  database transaction, so a caller can compose (create a withdrawal row *and* reserve its
  funds; write a hand *and* settle it) and commit once;
* a method of `LedgerService`, which is its own transaction (a single post runs as one
  autocommit statement; the withdrawal finishes, which read the reservation first, open a
  transaction).

The package, by job (import from here; the modules are where each job is read and changed):

* `posting` — one call of the database function ``ledger_post`` (its current text: the
  newest ``migrations/sql/ledger_post_v*.sql``) and its answer as a `Posted`;
* `outcomes` — the one table from ``ledger_post``'s statuses to the ledger's errors;
* `operations` — deposits, withdrawals, buy-ins, cash-outs, hand settlement, rakeback and
  adjustments: the legs and metadata of each transaction;
* `statements` — a player's balances and statement (keyset cursors), read through
  `holdem.ports.ledger.LedgerReads` (``tx.ledger``, or the read-only routes' reader);
* `checks` — the conservation report and the audit chain recomputed (``tx.ledger``);
* `service` — `LedgerService`.

Each operation is one balanced ledger transaction, posted by the database function
``ledger_post`` in one round trip: account rows locked in id order, funds checked, entries
and cached balances written, and the audit record chained, all in the caller's transaction.
Each is idempotent by its key: the same key with the same parameters returns the original
result (``replayed=True``); the same key with other parameters raises
`IdempotencyKeyReused`. Refusals (`holdem.services.ledger_errors`) happen before anything
is written, so the caller's transaction stays usable.

Example::

    ledger = container.ledger                               # a LedgerService
    await ledger.credit_deposit(key="deposit:BTC:ab12:0", user_id=7, amount=1_000_000,
                                coin="BTC", crypto_amount=Decimal("0.01"),
                                rate_krw=Decimal("100000000"), tx_hash="ab12", address="bc1…")
    async with container.sessions.begin() as session:      # composed with other writes
        session.add(hand_row)
        await session.flush()
        await settle_hand(session, table_id=3, hand_id=hand_row.id, fencing_token=12,
                          nets={7: 5_700, 8: -6_000}, rake=300)
"""

from holdem.services.ledger.checks import (
    AuditReport,
    ConservationReport,
    conservation_report,
    verify_audit_chain,
)
from holdem.services.ledger.operations import (
    adjust,
    buy_in,
    cash_out,
    complete_withdrawal,
    credit_deposit,
    credit_rakeback,
    hand_post,
    release_locked,
    reserve_withdrawal,
    return_withdrawal,
    settle_hand,
    settlement_key,
)
from holdem.services.ledger.posting import Posted, PostedEntry
from holdem.services.ledger.service import LedgerService
from holdem.services.ledger.statements import (
    STATEMENT_KINDS,
    Balances,
    StatementLine,
    StatementPage,
    balances,
    transactions,
)

__all__ = [
    "STATEMENT_KINDS",
    "AuditReport",
    "Balances",
    "ConservationReport",
    "LedgerService",
    "Posted",
    "PostedEntry",
    "StatementLine",
    "StatementPage",
    "adjust",
    "balances",
    "buy_in",
    "cash_out",
    "complete_withdrawal",
    "conservation_report",
    "credit_deposit",
    "credit_rakeback",
    "hand_post",
    "release_locked",
    "reserve_withdrawal",
    "return_withdrawal",
    "settle_hand",
    "settlement_key",
    "transactions",
    "verify_audit_chain",
]
