"""The economy's own tables: the index of archived hands and the daily statistics."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from holdem.adapters.orm.base import Base, Won, created_at_column


class ArchivedHand(Base):
    """Where an archived hand lives in S3: object ``object_key``, item ``position``; and its
    number at its table, which a late settlement of the hand is recognised by (None: archived
    before migration 0014 kept it)."""

    __tablename__ = "archived_hands"
    __table_args__ = (
        Index("ix_archived_hands_object_key", "object_key"),
        Index("ix_archived_hands_table_id_hand_no", "table_id", "hand_no"),
    )

    hand_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    table_id: Mapped[int] = mapped_column(BigInteger)
    hand_no: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    object_key: Mapped[str] = mapped_column(String(256))
    position: Mapped[int] = mapped_column(Integer)
    archived_at: Mapped[datetime] = created_at_column()


class ArchivedHandPlayer(Base):
    """A player's part in an archived hand: keeps "my hands" and rake windows indexed."""

    __tablename__ = "archived_hand_players"
    __table_args__ = (
        Index("ix_archived_hand_players_user_id_started_at", "user_id", text("started_at desc")),
    )

    hand_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seat_no: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    net: Mapped[int] = mapped_column(Won)
    rake_share: Mapped[int] = mapped_column(Won)


class DailyStats(Base):
    """One KST day's figures for one stake (``stakes`` like ``"1000/2000"``, or ``"all"``)."""

    __tablename__ = "daily_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    stakes: Mapped[str] = mapped_column(String(32), primary_key=True)
    small_blind: Mapped[int | None] = mapped_column(Won)
    big_blind: Mapped[int | None] = mapped_column(Won)
    hands: Mapped[int] = mapped_column(BigInteger)
    rake: Mapped[int] = mapped_column(Won)
    pots: Mapped[int] = mapped_column(Won)
    active_players: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = created_at_column()
