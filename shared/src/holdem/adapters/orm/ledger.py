"""The money ledger: accounts, transactions, entries, the audit chain and its relay cursors.

Transactions, entries and audit records are append-only: triggers (migration 0003) reject
UPDATE, DELETE and TRUNCATE on them, and an account's identity columns can never change
(only its cached balance moves). Money is written only by the ``ledger_post`` database
function, called by `holdem.services.ledger`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Sequence,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, Won, created_at_column

PLAYER_KINDS_SQL = "('wallet', 'pending_withdrawal', 'locked', 'seat')"
_NEXT_ENTRY_ID = text("nextval('ledger_entries_id_seq'::regclass)")


class LedgerAccount(Base):
    """One account. `key` is its natural name (``wallet:42``, ``house_rake:3`` …)."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint(
            "kind in ('wallet', 'pending_withdrawal', 'locked', 'seat', 'house_rake', "
            "'house_rakeback', 'house_adjustment', 'gateway_clearing')",
            name="kind",
        ),
        CheckConstraint(
            f"kind not in {PLAYER_KINDS_SQL} or balance >= 0", name="player_not_negative"
        ),
        CheckConstraint(f"(user_id is not null) = (kind in {PLAYER_KINDS_SQL})", name="owner"),
        CheckConstraint("(table_id is not null) = (kind = 'seat')", name="seat_table"),
        Index("ix_ledger_accounts_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    table_id: Mapped[int | None] = mapped_column(ForeignKey("poker_tables.id"))
    coin: Mapped[str | None] = mapped_column(String(10))
    lane: Mapped[int | None] = mapped_column(SmallInteger)
    balance: Mapped[int] = mapped_column(Won, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()


class LedgerTransaction(Base):
    """One balanced movement, named by its idempotency key."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (
        Index(
            "uq_ledger_transactions_withdrawal_finish",
            "related_id",
            unique=True,
            postgresql_where=text("kind in ('withdrawal_complete', 'withdrawal_return')"),
        ),
        Index(
            "ix_ledger_transactions_user_id_created_at",
            "user_id",
            text("created_at desc"),
            postgresql_where=text("user_id is not null"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    table_id: Mapped[int | None] = mapped_column(BigInteger)
    hand_id: Mapped[int | None] = mapped_column(BigInteger)
    related_id: Mapped[int | None] = mapped_column(BigInteger)
    lane: Mapped[int] = mapped_column(SmallInteger)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LedgerEntry(Base):
    """One leg of a transaction: a signed amount on one account and the balance after it.

    Keyed by (transaction, account): a transaction moves each account once. `id` comes from
    its sequence and orders a player's statement (``ix_ledger_entries_user_id_id``). The
    ``ledger_entries_balanced`` statement trigger refuses entries that do not sum to zero or
    name a missing transaction or account (migration 0005; one set check per statement
    instead of a foreign-key check per row).
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index(
            "ix_ledger_entries_user_id_id",
            "user_id",
            text("id desc"),
            postgresql_where=text("user_id is not null"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger, Sequence("ledger_entries_id_seq"), server_default=_NEXT_ENTRY_ID
    )
    transaction_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(Won)
    balance_after: Mapped[int] = mapped_column(Won)


class AuditRecord(Base):
    """One link of an audit lane's hash chain: one per ledger transaction.

    `audit verify` reports a record whose transaction is missing (no per-row foreign key
    since migration 0005).
    """

    __tablename__ = "audit_log"

    lane: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditLane(Base):
    """The head of one audit lane: its last sequence number and hash (locked by writers)."""

    __tablename__ = "audit_lanes"

    lane: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))


class AuditRelayCursor(Base):
    """How far each lane has been copied to a destination (``redis`` or ``s3``).

    `planned_seq` > `published_seq` means a batch was planned and may have been published
    before a crash: the relay publishes exactly that batch again (same object key) first.
    """

    __tablename__ = "audit_relay_cursors"

    destination: Mapped[str] = mapped_column(String(16), primary_key=True)
    lane: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    published_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    planned_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class LedgerTableFence(Base):
    """The highest table-lease fencing token that settled a hand at each table."""

    __tablename__ = "ledger_table_fences"

    table_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
