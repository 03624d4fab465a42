"""The ledger's reads (cosmicpython's repository): what its use cases need of the stored rows.

Money is written only by the database function ``ledger_post`` (`holdem.services.ledger.posting`
over the session or `holdem.ports.IdempotentStatements`); these Protocols read what it wrote:
a player's balances and statement (`LedgerReads`: on a transaction, or on a pool's raw reader
for the read-only routes), a reserved withdrawal, and the figures the conservation report and
the audit verification check (`LedgerRepository`). The SQL implementation is
`holdem.adapters.repositories.ledger`; rows come back as tuples and the frozen values of
`holdem.ledger.audit`, never as ORM objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from holdem.ledger.audit import AuditedEntry, AuditedTransaction, StoredRecord

__all__ = ["BalanceRow", "LedgerReads", "LedgerRepository", "RecordedTransaction", "StatementRow"]

BalanceRow = tuple[str, int | None, int]
"""One of a player's accounts: (account kind, table id of a seat, balance)."""

StatementRow = tuple[
    int, int, int, str, int | None, int, str, Mapping[str, Any], datetime, datetime | None
]
"""One entry on a player's account: (entry id, amount, balance after, account kind, table id,
transaction id, transaction kind, metadata, created at, created at of the transaction that
finished it — a reserved withdrawal's completion or return — or None)."""


@dataclass(frozen=True, slots=True)
class RecordedTransaction:
    """A posted ledger transaction, as an operation that follows it reads it."""

    id: int
    kind: str
    user_id: int | None
    metadata: Mapping[str, Any]


class LedgerReads(Protocol):
    """A player's accounts and entries."""

    async def balance_rows(self, user_id: int) -> Sequence[BalanceRow]:
        """Every account of the player (none for accounts that do not exist yet)."""
        ...

    async def statement_rows(
        self,
        user_id: int,
        *,
        limit: int,
        before: int | None = None,
        kinds: Sequence[str] | None = None,
        seat_sign: int = 0,
    ) -> Sequence[StatementRow]:
        """The player's entries, newest (highest id) first.

        Args:
            limit: at most this many rows.
            before: only entries with a lower id (the keyset cursor).
            kinds: only entries of transactions of these kinds.
            seat_sign: 1 or -1: only entries on seat accounts, credits or debits (0: all).
        """
        ...


class LedgerRepository(LedgerReads, Protocol):
    """The ledger's rows in one transaction: reads for the operations and the checks."""

    async def transaction(self, transaction_id: int) -> RecordedTransaction | None:
        """A posted transaction, or None."""
        ...

    # --- the checks: call `read_one_snapshot` first, in a transaction of their own ---------

    async def read_one_snapshot(self) -> None:
        """Make the transaction REPEATABLE READ and read-only (its first statement), so that
        every figure read next comes from the same instant."""
        ...

    async def balances_by_account_kind(self) -> Mapping[str, int]:
        """Account kind → the sum of its accounts' cached balances."""
        ...

    async def balance_mismatches(self) -> list[tuple[int, int, int]]:
        """(account id, cached balance, sum of its entries) of every account where they
        differ, by account id."""
        ...

    async def running_balance_mismatches(self, limit: int) -> list[int]:
        """Ids of the entries whose balance after is not their account's running sum, the
        lowest `limit`."""
        ...

    async def unbalanced_transactions(self) -> list[tuple[int, int]]:
        """(transaction id, sum of its entries) of every transaction whose entries do not sum
        to zero or are fewer than two, by id."""
        ...

    async def negative_accounts(self, kinds: Sequence[str]) -> list[tuple[int, int]]:
        """(account id, balance) of the accounts of `kinds` below zero."""
        ...

    async def flows(self) -> Mapping[tuple[str, str], int]:
        """(transaction kind, account kind) → the sum of those entries."""
        ...

    async def audit_heads(self) -> Mapping[int, tuple[int, str]]:
        """Audit lane → (its last seq, its last hash), by lane."""
        ...

    async def audit_records(self, lane: int, after: int, limit: int) -> list[StoredRecord]:
        """The lane's records after seq `after`, in seq order, at most `limit`."""
        ...

    async def audited_entries(
        self, transaction_ids: Sequence[int]
    ) -> Mapping[int, list[AuditedEntry]]:
        """Transaction id → its entries, for these transactions (those with entries)."""
        ...

    async def audited_transactions(
        self, transaction_ids: Sequence[int]
    ) -> list[AuditedTransaction]:
        """What the audit hash covers of these transactions."""
        ...

    async def unaudited_transactions(self, limit: int) -> list[int]:
        """Ids of the transactions without an audit record, the lowest `limit`."""
        ...
