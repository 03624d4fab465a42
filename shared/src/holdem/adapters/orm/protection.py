"""Player protection: the limits each player set, their pending raises, and their exclusion.

One row per player who ever set a limit or took a break (no row: no limits, no exclusion).
Every change is also recorded in ``admin_actions`` (the actor is the player, or the operator
who extended an exclusion).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, Won, created_at_column


class PlayerProtection(Base):
    """A player's limits (won per rolling window; minutes), pending raises and exclusion."""

    __tablename__ = "player_protection"
    __table_args__ = (
        CheckConstraint(
            "exclusion_kind is null or exclusion_kind in ('break', 'self_exclusion')",
            name="exclusion_kind",
        ),
        CheckConstraint("(excluded_until is null) = (exclusion_kind is null)", name="exclusion"),
        CheckConstraint(
            "reality_check_minutes is null or reality_check_minutes > 0", name="reality_check"
        ),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    deposit_day: Mapped[int | None] = mapped_column(Won)
    deposit_week: Mapped[int | None] = mapped_column(Won)
    deposit_month: Mapped[int | None] = mapped_column(Won)
    loss_day: Mapped[int | None] = mapped_column(Won)
    loss_week: Mapped[int | None] = mapped_column(Won)
    loss_month: Mapped[int | None] = mapped_column(Won)
    session_minutes: Mapped[int | None] = mapped_column(Integer)
    reality_check_minutes: Mapped[int | None] = mapped_column(Integer)
    pending: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    """Raises and removals waiting for the cooling period: field → {value, effective_at}."""
    exclusion_kind: Mapped[str | None] = mapped_column(String(16))
    excluded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    excluded_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
