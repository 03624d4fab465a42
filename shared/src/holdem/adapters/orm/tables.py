"""Poker tables and who sits at them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, Won, created_at_column


class PokerTable(Base):
    __tablename__ = "poker_tables"
    __table_args__ = (
        CheckConstraint("max_seats between 2 and 9", name="max_seats"),
        CheckConstraint("small_blind > 0 and big_blind >= small_blind", name="blinds"),
        CheckConstraint("min_buy_in > 0 and max_buy_in >= min_buy_in", name="buy_in_range"),
        CheckConstraint("rake_rate_bps between 0 and 10000 and rake_cap >= 0", name="rake"),
        CheckConstraint("status in ('open', 'closing', 'closed')", name="status"),
        Index("ix_poker_tables_created_at", text("created_at desc")),
        Index("ix_poker_tables_status_created_at", "status", text("created_at desc")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    small_blind: Mapped[int] = mapped_column(Won)
    big_blind: Mapped[int] = mapped_column(Won)
    max_seats: Mapped[int] = mapped_column(SmallInteger)
    min_buy_in: Mapped[int] = mapped_column(Won)
    max_buy_in: Mapped[int] = mapped_column(Won)
    rake_rate_bps: Mapped[int] = mapped_column(Integer)
    rake_cap: Mapped[int] = mapped_column(Won)
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    created_at: Mapped[datetime] = created_at_column()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Seat(Base):
    """A player's sitting at a table, from sitting down to leaving. Chips live in the ledger."""

    __tablename__ = "seats"
    __table_args__ = (
        CheckConstraint("seat_no between 0 and 8", name="seat_no"),
        Index(
            "uq_seats_table_seat_open",
            "table_id",
            "seat_no",
            unique=True,
            postgresql_where=text("left_at is null"),
        ),
        Index(
            "uq_seats_table_user_open",
            "table_id",
            "user_id",
            unique=True,
            postgresql_where=text("left_at is null"),
        ),
        Index("ix_seats_user_id_left_at", "user_id", "left_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("poker_tables.id"))
    seat_no: Mapped[int] = mapped_column(SmallInteger)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sat_at: Mapped[datetime] = created_at_column()
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_with: Mapped[int | None] = mapped_column(Won)
