"""The ledger's views and checks, and the AML rules, against in-memory fakes of their ports
(`holdem.ports.ledger`, `holdem.ports.aml`): no database. Posting (``ledger_post``) and the
SQL behind the ports run against PostgreSQL in ``tests/integration/ledger`` and
``tests/integration/payments/test_aml.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.config import AmlSettings
from holdem.ledger.audit import AuditedEntry, AuditedTransaction, StoredRecord
from holdem.ports.ledger import BalanceRow, RecordedTransaction, StatementRow
from holdem.services import aml, ledger
from holdem.services.ledger_errors import InvalidCursor, WithdrawalNotFound

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass
class FakeLedger:
    """`LedgerRepository` over lists: accounts as (user, kind, table, balance), entries as
    statement rows, newest last."""

    accounts: list[tuple[int, str, int | None, int]] = field(default_factory=list)
    entries: list[StatementRow] = field(default_factory=list)
    posted: dict[int, RecordedTransaction] = field(default_factory=dict)
    snapshots: int = 0

    async def balance_rows(self, user_id: int) -> Sequence[BalanceRow]:
        return [
            (kind, table, balance)
            for user, kind, table, balance in self.accounts
            if user == user_id
        ]

    async def statement_rows(
        self,
        user_id: int,
        *,
        limit: int,
        before: int | None = None,
        kinds: Sequence[str] | None = None,
        seat_sign: int = 0,
    ) -> Sequence[StatementRow]:
        rows = [
            r
            for r in reversed(self.entries)
            if (before is None or r[0] < before)
            and (kinds is None or r[6] in kinds)
            and (not seat_sign or (r[3] == "seat" and r[1] * seat_sign > 0))
        ]
        return rows[:limit]

    async def transaction(self, transaction_id: int) -> RecordedTransaction | None:
        return self.posted.get(transaction_id)

    async def read_one_snapshot(self) -> None:
        self.snapshots += 1

    async def balances_by_account_kind(self) -> Mapping[str, int]:
        by_kind: dict[str, int] = {}
        for _, kind, _, balance in self.accounts:
            by_kind[kind] = by_kind.get(kind, 0) + balance
        return by_kind

    async def balance_mismatches(self) -> list[tuple[int, int, int]]:
        return []

    async def running_balance_mismatches(self, limit: int) -> list[int]:
        return []

    async def unbalanced_transactions(self) -> list[tuple[int, int]]:
        return []

    async def negative_accounts(self, kinds: Sequence[str]) -> list[tuple[int, int]]:
        return [(user, b) for user, kind, _, b in self.accounts if kind in kinds and b < 0]

    async def flows(self) -> Mapping[tuple[str, str], int]:
        return {}

    async def audit_heads(self) -> Mapping[int, tuple[int, str]]:
        return {}

    async def audit_records(self, lane: int, after: int, limit: int) -> list[StoredRecord]:
        return []

    async def audited_entries(
        self, transaction_ids: Sequence[int]
    ) -> dict[int, list[AuditedEntry]]:
        return {}

    async def audited_transactions(
        self, transaction_ids: Sequence[int]
    ) -> list[AuditedTransaction]:
        return []

    async def unaudited_transactions(self, limit: int) -> list[int]:
        return [7]


@dataclass
class FakeFlag:
    id: int
    user_id: int
    rule: str
    subject: str
    details: dict[str, Any]
    created_at: datetime = NOW
    status: str = "open"
    withdrawal_id: int | None = None
    reviewed_by: int | None = None
    reviewed_at: datetime | None = None
    resolved_by: int | None = None
    resolved_at: datetime | None = None
    resolution_note: str | None = None


@dataclass
class FakeAml:
    """`AmlRepository` over lists."""

    flags: list[FakeFlag] = field(default_factory=list)
    deposits: list[tuple[int, datetime, int]] = field(default_factory=list)
    addresses: list[tuple[int, str]] = field(default_factory=list)

    async def file(self, user_id: int, rule: str, subject: str, details: dict[str, Any]) -> None:
        if not any((f.rule, f.subject) == (rule, subject) for f in self.flags):
            self.flags.append(FakeFlag(len(self.flags) + 1, user_id, rule, subject, details))

    async def credited_deposits_since(self, user_id: int, since: datetime) -> list[int]:
        return [a for u, at, a in self.deposits if u == user_id and at >= since]

    async def other_owners(self, user_id: int, coin: str, address: str) -> list[int]:
        return sorted(
            {u for u, a in self.addresses if a.lower() == address.lower() and u != user_id}
        )

    async def has_open(self, user_id: int, rules: Sequence[str], statuses: Sequence[str]) -> bool:
        return any(
            f.user_id == user_id and f.rule in rules and f.status in statuses for f in self.flags
        )

    async def unlinked(
        self, user_id: int, rules: Sequence[str], statuses: Sequence[str]
    ) -> list[FakeFlag]:
        return [
            f
            for f in self.flags
            if f.user_id == user_id
            and f.rule in rules
            and f.status in statuses
            and f.withdrawal_id is None
        ]

    async def listing(
        self,
        status: str | None,
        user_id: int | None,
        rule: str | None,
        limit: int,
        before_id: int | None,
    ) -> list[FakeFlag]:
        found = [
            f
            for f in reversed(self.flags)
            if (status is None or f.status == status)
            and (user_id is None or f.user_id == user_id)
            and (rule is None or f.rule == rule)
            and (before_id is None or f.id < before_id)
        ]
        return found[:limit]

    async def lock(self, flag_id: int) -> FakeFlag | None:
        return next((f for f in self.flags if f.id == flag_id), None)


@dataclass
class FakeTransaction:
    """`Transaction` with the ledger's and AML's fakes; there is no SQL session."""

    ledger: FakeLedger = field(default_factory=FakeLedger)
    aml: FakeAml = field(default_factory=FakeAml)

    @property
    def session(self) -> AsyncSession:
        raise AssertionError("no SQL session: this path is tested against PostgreSQL")


@dataclass
class Withdrawal:
    id: int
    user_id: int
    amount_krw: int
    coin: str
    address: str


def _entry(entry_id: int, amount: int, kind: str, account: str = "wallet") -> StatementRow:
    return (
        entry_id,
        amount,
        0,
        account,
        3 if account == "seat" else None,
        entry_id,
        kind,
        {},
        NOW,
        None,
    )


async def test_balances_add_up_a_players_accounts_and_skip_empty_seats():
    fake = FakeLedger(
        accounts=[
            (7, "wallet", None, 1_000),
            (7, "pending_withdrawal", None, 200),
            (7, "locked", None, 50),
            (7, "seat", 3, 400),
            (7, "seat", 4, 0),
            (8, "wallet", None, 9_999),
        ]
    )
    held = await ledger.balances(fake, 7)
    assert (held.wallet, held.pending_withdrawal, held.locked, dict(held.seats)) == (
        1_000,
        200,
        50,
        {3: 400},
    )
    assert held.total == 1_650


async def test_a_statement_pages_by_cursor_and_filters_wins_on_seats():
    fake = FakeLedger(
        entries=[
            _entry(1, 5_000, "crypto_deposit"),
            _entry(2, -1_000, "buy_in"),
            _entry(3, 1_000, "buy_in", "seat"),
            _entry(4, 300, "hand_settlement", "seat"),
            _entry(5, -200, "hand_settlement", "seat"),
        ]
    )
    first = await ledger.transactions(fake, 7, limit=2)
    assert [line.entry_id for line in first.items] == [5, 4]
    assert first.next_cursor is not None
    rest = await ledger.transactions(fake, 7, limit=10, cursor=first.next_cursor)
    assert [line.entry_id for line in rest.items] == [3, 2, 1]
    assert rest.next_cursor is None
    wins = await ledger.transactions(fake, 7, kind="win")
    assert [(line.entry_id, line.kind) for line in wins.items] == [(4, "win")]
    with pytest.raises(InvalidCursor):
        await ledger.transactions(fake, 7, cursor="bm90LWEtY3Vyc29y")


async def test_a_return_of_a_withdrawal_never_reserved_is_refused_before_posting():
    tx = FakeTransaction()  # no session: reaching `ledger_post` would fail the test
    with pytest.raises(WithdrawalNotFound):
        await ledger.return_withdrawal(tx, key="r", reserve_transaction_id=999, reason="r")
    tx.ledger.posted[5] = RecordedTransaction(5, "buy_in", 7, {"amount": 1})
    with pytest.raises(WithdrawalNotFound):  # a transaction, but not a reservation
        await ledger.return_withdrawal(tx, key="r", reserve_transaction_id=5, reason="r")


async def test_the_checks_read_one_snapshot_and_report_what_they_find():
    tx = FakeTransaction(FakeLedger(accounts=[(7, "wallet", None, 100)]))
    report = await ledger.conservation_report(tx)
    assert not report.ok
    assert "sum_not_zero" in {v.code for v in report.violations}
    chain = await ledger.verify_audit_chain(tx)
    assert chain.problems == ["transaction 7 has no audit record"]
    assert tx.ledger.snapshots == 2


async def test_a_large_deposit_is_flagged_once_however_often_it_is_delivered():
    tx = FakeTransaction()
    settings = AmlSettings()
    for _ in range(2):
        await aml.on_deposit_credited(
            tx,
            settings,
            user_id=7,
            amount_krw=settings.large_amount_krw,
            ledger_transaction_id=41,
            now=NOW,
        )
    assert [(f.rule, f.subject) for f in tx.aml.flags] == [("large_deposit", "deposit-tx:41")]


async def test_a_withdrawal_to_a_shared_address_is_flagged_held_and_linked():
    tx = FakeTransaction(aml=FakeAml(addresses=[(8, "bc1qShared")]))
    settings = AmlSettings(hold_rules=("shared_address",), little_play_min_withdrawal_krw=10**12)
    withdrawal = Withdrawal(id=3, user_id=7, amount_krw=10_000, coin="BTC", address="BC1QSHARED")
    assert await aml.on_withdrawal_requested(tx, settings, withdrawal, NOW)
    await aml.mark_held(tx, settings, withdrawal)
    [flag] = await aml.list_flags(tx)
    assert (flag.rule, flag.withdrawal_id, flag.details["other_users"]) == (
        "shared_address",
        3,
        [8],
    )
    flag_row = tx.aml.flags[0]
    flag_row.status = "resolved"
    assert not await aml.should_hold(tx, settings, 7)


async def test_structuring_counts_only_the_deposits_inside_the_window():
    settings = AmlSettings()
    just_under = settings.large_amount_krw - 1
    recent = [
        (7, NOW - timedelta(minutes=m), just_under) for m in range(settings.structuring_count)
    ]
    old = [(7, NOW - timedelta(seconds=settings.structuring_window_s + 60), just_under)]
    quiet = FakeTransaction(aml=FakeAml(deposits=old + recent[:-1]))
    await aml.on_deposit_credited(
        quiet, settings, user_id=7, amount_krw=just_under, ledger_transaction_id=1, now=NOW
    )
    assert quiet.aml.flags == []
    busy = FakeTransaction(aml=FakeAml(deposits=recent))
    await aml.on_deposit_credited(
        busy, settings, user_id=7, amount_krw=just_under, ledger_transaction_id=2, now=NOW
    )
    assert [f.rule for f in busy.aml.flags] == ["structuring"]
