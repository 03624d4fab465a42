"""Users and their login sessions (refresh-token families)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, created_at_column


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role in ('player', 'operator')", name="role"),
        CheckConstraint(
            "kyc_status in ('none', 'pending', 'verified', 'rejected')", name="kyc_status"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    nickname: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="player", server_default="player")
    kyc_status: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    kyc_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When `kyc_status` last changed (an operator, or the provider's event time)."""
    is_locked: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    """Given at registration (checked against the minimum age); None for older accounts."""
    country: Mapped[str | None] = mapped_column(String(2))
    """The country the account registered from, as the jurisdiction check saw it."""
    created_at: Mapped[datetime] = created_at_column()


class Session(Base):
    """One refresh token. Tokens of one login share a family; rotation links them."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_expires_at", "expires_at"),
        Index("ix_sessions_user_id", "user_id"),
        Index("ix_sessions_family_id", "family_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str | None] = mapped_column(String(255))
