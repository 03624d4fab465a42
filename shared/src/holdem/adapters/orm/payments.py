"""Crypto deposit addresses, deposits seen on chain, and withdrawals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, Won, created_at_column

CryptoAmount = Numeric(38, 18)
"""Crypto amounts: exact decimals, never floats."""


class DepositAddress(Base):
    __tablename__ = "deposit_addresses"
    __table_args__ = (UniqueConstraint("user_id", "coin"), UniqueConstraint("coin", "address"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    coin: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(128))
    gateway_ref: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_at_column()


class Deposit(Base):
    """One chain output paid to one of our addresses, pending until confirmed enough; then
    credited, or ``over_limit`` (worth more than one ledger movement may carry: for an
    operator). ``unmatched``: paid to an address we never issued."""

    __tablename__ = "deposits"
    __table_args__ = (
        UniqueConstraint("coin", "tx_hash", "output_index"),
        CheckConstraint(
            "status in ('pending', 'credited', 'unmatched', 'over_limit')", name="status"
        ),
        Index("ix_deposits_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    coin: Mapped[str] = mapped_column(String(10))
    tx_hash: Mapped[str] = mapped_column(String(128))
    output_index: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(128))
    crypto_amount: Mapped[Decimal] = mapped_column(CryptoAmount)
    confirmations: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    amount_krw: Mapped[int | None] = mapped_column(Won)
    rate_krw: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    ledger_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class Withdrawal(Base):
    """A withdrawal's state machine: pending → approved → processing → paid | failed."""

    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint(
            "status in ('pending', 'held', 'approved', 'processing', 'paid', 'failed', "
            "'rejected', 'cancelled')",
            name="status",
        ),
        CheckConstraint("amount_krw > 0", name="amount_positive"),
        Index("ix_withdrawals_status_due_at", "status", "due_at"),
        Index("ix_withdrawals_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    amount_krw: Mapped[int] = mapped_column(Won)
    coin: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(128))
    crypto_amount: Mapped[Decimal | None] = mapped_column(CryptoAmount)
    rate_krw: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payout_id: Mapped[str | None] = mapped_column(String(128))
    tx_hash: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    kyc_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    """Pending until the player's KYC is verified (the scheduler and operators wait)."""
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
