"""Integrity records: where players connect from, and each run of the integrity signals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, created_at_column


class PlayerLogin(Base):
    """One authenticated table-server connection: who, from which address and device."""

    __tablename__ = "player_logins"
    __table_args__ = (Index("ix_player_logins_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ip: Mapped[str] = mapped_column(String(45))
    """The client's address (behind the load balancer: from X-Forwarded-For)."""
    device_id: Mapped[str | None] = mapped_column(String(64))
    """What the client sent at ``auth`` (optional, and only as honest as the client)."""
    created_at: Mapped[datetime] = created_at_column()


class IntegrityRun(Base):
    """One run of the integrity signals (append-only): window, thresholds, what it filed."""

    __tablename__ = "integrity_runs"
    __table_args__ = (CheckConstraint("trigger in ('schedule', 'operator')", name="trigger"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(16))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    window_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hands: Mapped[int] = mapped_column(Integer)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSONB)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    """Flags filed per signal (new ones; a pair or player already flagged and open is not
    filed again)."""
    flag_ids: Mapped[list[int]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
