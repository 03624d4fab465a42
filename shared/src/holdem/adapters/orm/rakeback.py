"""Weekly rakeback settlements, one per user and week."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, Won, created_at_column


class RakebackSettlement(Base):
    __tablename__ = "rakeback_settlements"
    __table_args__ = (UniqueConstraint("user_id", "week_start"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    week_start: Mapped[date] = mapped_column(Date)
    rake_paid: Mapped[int] = mapped_column(Won)
    level: Mapped[str] = mapped_column(String(16))
    rate_bps: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Won)
    ledger_transaction_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
