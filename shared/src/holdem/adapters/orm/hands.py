"""Completed hands, their events in order, and each player's part in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, Won


class Hand(Base):
    __tablename__ = "hands"
    __table_args__ = (
        UniqueConstraint("table_id", "hand_no"),
        Index("ix_hands_started_at", text("started_at desc")),
        Index("ix_hands_table_id_started_at", "table_id", text("started_at desc")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("poker_tables.id"))
    hand_no: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    small_blind: Mapped[int] = mapped_column(Won)
    big_blind: Mapped[int] = mapped_column(Won)
    button_seat: Mapped[int] = mapped_column(SmallInteger)
    board: Mapped[str] = mapped_column(String(20))
    total_pot: Mapped[int] = mapped_column(Won)
    rake: Mapped[int] = mapped_column(Won)
    deck_commitment: Mapped[str] = mapped_column(String(64))
    deck_seed: Mapped[str] = mapped_column(String(128))
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    chat: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    """The table's chat lines since the previous hand (`holdem.session.chat`): operators only."""


class HandEvent(Base):
    __tablename__ = "hand_events"

    hand_id: Mapped[int] = mapped_column(
        ForeignKey("hands.id", ondelete="CASCADE"), primary_key=True
    )
    seq_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    seat_no: Mapped[int | None] = mapped_column(SmallInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)


class HandPlayer(Base):
    """One seat's part in a hand: the index for "my hands" and for rake paid per player."""

    __tablename__ = "hand_players"
    __table_args__ = (
        Index("ix_hand_players_user_id_started_at", "user_id", text("started_at desc")),
    )

    hand_id: Mapped[int] = mapped_column(
        ForeignKey("hands.id", ondelete="CASCADE"), primary_key=True
    )
    seat_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hole_cards: Mapped[str] = mapped_column(String(8))
    shown: Mapped[bool]
    net: Mapped[int] = mapped_column(Won)
    rake_share: Mapped[int] = mapped_column(Won)
