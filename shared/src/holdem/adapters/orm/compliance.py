"""Compliance records: the KYC provider's events (one row per event id) and AML flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, created_at_column


class KycEvent(Base):
    """One status event of the KYC provider, stored once: a redelivery finds its row."""

    __tablename__ = "kyc_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied: Mapped[bool]
    """False when a later status was already recorded (the event arrived out of order)."""
    received_at: Mapped[datetime] = created_at_column()


class AmlFlag(Base):
    """One AML rule that fired on one movement of money, for the operators' queue.

    ``subject`` names the movement (``deposit-tx:{ledger transaction id}``,
    ``withdrawal:{id}``): a rule fires at most once per subject, so evaluating twice (a
    redelivered deposit, a replayed request) adds nothing.
    """

    __tablename__ = "aml_flags"
    __table_args__ = (
        CheckConstraint("status in ('open', 'reviewing', 'resolved')", name="status"),
        Index("uq_aml_flags_rule_subject", "rule", "subject", unique=True),
        Index("ix_aml_flags_status_id", "status", "id"),
        Index("ix_aml_flags_user_id_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    rule: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("withdrawals.id"))
    """The withdrawal this flag held, if it held one."""
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_note: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = created_at_column()
