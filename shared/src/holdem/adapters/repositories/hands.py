"""The stored hands' repositories over SQLAlchemy (the ports: `holdem.ports.hands`).

Hand records are read as rows and built into `HandRecord` values; the archiver's locks are
PostgreSQL's (``FOR UPDATE SKIP LOCKED``, so two archivers never take the same batch), and its
index rows are upserted so that a batch written again points at the object written last.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, literal, or_, select, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.economy import ArchivedHand, ArchivedHandPlayer, DailyStats
from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User
from holdem.ports import ColumnReader
from holdem.ports.hands import (
    ArchiveEntry,
    DayFigures,
    EventRow,
    HandRecord,
    HotHand,
    HotHandFacts,
    HotSeat,
    PlayerHandRef,
    PlayerRow,
    StakeDay,
    TableFacts,
)

__all__ = ["SqlDailyStats", "SqlHandHistory", "SqlHandRecords"]


class SqlHandRecords:
    """`HandRecordRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hot_hands(self, hand_ids: Sequence[int]) -> list[HandRecord]:
        # Three queries, whatever the number of hands.
        if not hand_ids:
            return []
        session = self._session
        hands = (
            (await session.execute(select(Hand).where(Hand.id.in_(hand_ids)).order_by(Hand.id)))
            .scalars()
            .all()
        )
        events: dict[int, list[EventRow]] = {h.id: [] for h in hands}
        players: dict[int, list[PlayerRow]] = {h.id: [] for h in hands}
        for e in (
            await session.execute(
                select(HandEvent)
                .where(HandEvent.hand_id.in_(events))
                .order_by(HandEvent.hand_id, HandEvent.seq_no)
            )
        ).scalars():
            events[e.hand_id].append(EventRow(e.seq_no, e.type, e.seat_no, e.payload))
        for p in (
            await session.execute(
                select(HandPlayer)
                .where(HandPlayer.hand_id.in_(players))
                .order_by(HandPlayer.hand_id, HandPlayer.seat_no)
            )
        ).scalars():
            players[p.hand_id].append(
                PlayerRow(
                    p.seat_no, p.user_id, p.started_at, p.hole_cards, p.shown, p.net, p.rake_share
                )
            )
        return [
            HandRecord(
                id=h.id,
                table_id=h.table_id,
                hand_no=h.hand_no,
                started_at=h.started_at,
                ended_at=h.ended_at,
                small_blind=h.small_blind,
                big_blind=h.big_blind,
                button_seat=h.button_seat,
                board=h.board,
                total_pot=h.total_pot,
                rake=h.rake,
                deck_commitment=h.deck_commitment,
                deck_seed=h.deck_seed,
                result=h.result,
                events=tuple(events[h.id]),
                players=tuple(players[h.id]),
                chat=tuple(h.chat),
            )
            for h in hands
        ]

    async def archive_entries(self, hand_ids: Collection[int]) -> list[ArchiveEntry]:
        entries = await self._session.execute(
            select(ArchivedHand.hand_id, ArchivedHand.object_key, ArchivedHand.position).where(
                ArchivedHand.hand_id.in_(hand_ids)
            )
        )
        return [ArchiveEntry(int(i), str(key), int(position)) for i, key, position in entries]

    async def player_hands(
        self, user_id: int, since: datetime, until: datetime, limit: int
    ) -> list[PlayerHandRef]:
        hot = select(HandPlayer.hand_id, HandPlayer.started_at).where(
            HandPlayer.user_id == user_id,
            HandPlayer.started_at >= since,
            HandPlayer.started_at < until,
        )
        cold = select(ArchivedHandPlayer.hand_id, ArchivedHandPlayer.started_at).where(
            ArchivedHandPlayer.user_id == user_id,
            ArchivedHandPlayer.started_at >= since,
            ArchivedHandPlayer.started_at < until,
        )
        both = union_all(
            hot.add_columns(literal(False)), cold.add_columns(literal(True))
        ).subquery()
        rows = await self._session.execute(
            select(both).order_by(both.c[1].desc(), both.c[0].desc()).limit(limit)
        )
        return [PlayerHandRef(int(r[0]), r[1], bool(r[2])) for r in rows]

    async def lock_oldest_due(self, cutoff: datetime) -> tuple[int, datetime] | None:
        oldest = (
            await self._session.execute(
                select(Hand.table_id, Hand.started_at)
                .where(Hand.started_at < cutoff)
                .order_by(Hand.started_at, Hand.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).first()
        return None if oldest is None else (int(oldest[0]), oldest[1])

    async def lock_table_hands(self, table_id: int, since: datetime, until: datetime) -> list[int]:
        return list(
            (
                await self._session.execute(
                    select(Hand.id)
                    .where(
                        Hand.table_id == table_id,
                        Hand.started_at >= since,
                        Hand.started_at < until,
                    )
                    .order_by(Hand.id)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )

    async def move_to_archive(self, object_key: str, hands: Sequence[HandRecord]) -> None:
        session = self._session
        index_rows = insert(ArchivedHand).values(
            [
                {
                    "hand_id": h.id,
                    "table_id": h.table_id,
                    "hand_no": h.hand_no,
                    "started_at": h.started_at,
                    "object_key": object_key,
                    "position": i,
                }
                for i, h in enumerate(hands)
            ]
        )
        await session.execute(
            index_rows.on_conflict_do_update(
                index_elements=["hand_id"],
                set_={
                    "object_key": index_rows.excluded.object_key,
                    "position": index_rows.excluded.position,
                },
            )
        )
        player_rows = [
            {
                "hand_id": h.id,
                "seat_no": p.seat_no,
                "user_id": p.user_id,
                "started_at": p.started_at,
                "net": p.net,
                "rake_share": p.rake_share,
            }
            for h in hands
            for p in h.players
        ]
        if player_rows:
            await session.execute(
                insert(ArchivedHandPlayer).values(player_rows).on_conflict_do_nothing()
            )
        await session.execute(delete(Hand).where(Hand.id.in_([h.id for h in hands])))

    async def nicknames(self, user_ids: Collection[int]) -> dict[int, str]:
        if not user_ids:
            return {}
        rows = await self._session.execute(
            select(User.id, User.nickname).where(User.id.in_(user_ids))
        )
        return {int(i): str(n) for i, n in rows}

    async def tables(self, table_ids: Collection[int]) -> dict[int, TableFacts]:
        if not table_ids:
            return {}
        rows = await self._session.execute(
            select(PokerTable.id, PokerTable.name, PokerTable.max_seats).where(
                PokerTable.id.in_(table_ids)
            )
        )
        return {int(i): TableFacts(str(name), int(seats)) for i, name, seats in rows}


# HandSummary's fields, in order.
_SUMMARY_COLUMNS = (
    Hand.id,
    Hand.table_id,
    Hand.hand_no,
    Hand.started_at,
    Hand.ended_at,
    Hand.small_blind,
    Hand.big_blind,
    Hand.board,
    Hand.total_pot,
    Hand.rake,
    HandPlayer.seat_no,
    HandPlayer.hole_cards,
    HandPlayer.net,
)


# The user's hands, newest first, from the start and after a cursor's (started_at, hand id).
# Rows, not ORM objects: a page is read, never changed. Built once.
_MY_HANDS = (
    select(*_SUMMARY_COLUMNS)
    .join(Hand, Hand.id == HandPlayer.hand_id)
    .where(HandPlayer.user_id == bindparam("user_id"))
    .order_by(HandPlayer.started_at.desc(), HandPlayer.hand_id.desc())
    .limit(bindparam("limit"))
)
_MY_HANDS_AFTER = _MY_HANDS.where(
    or_(
        HandPlayer.started_at < bindparam("started_at"),
        and_(
            HandPlayer.started_at == bindparam("started_at"),
            HandPlayer.hand_id < bindparam("hand_id"),
        ),
    )
)

# One hand with its seats and events in one round trip (a second query cost the one-hand read
# ~0.1 ms of the API's CPU): the hand's columns, then its seats and its events each as one JSON
# array of arrays (`HotSeat`'s and `EventRow`'s fields, in order), read through the primary
# keys. Rows, not ORM objects: a hand is read, never changed. Built once.
_SEATS = (
    select(
        func.json_agg(
            aggregate_order_by(
                func.json_build_array(
                    HandPlayer.seat_no,
                    HandPlayer.hole_cards,
                    HandPlayer.net,
                    HandPlayer.user_id,
                    HandPlayer.shown,
                    User.nickname,
                ),
                HandPlayer.seat_no,
            )
        )
    )
    .join_from(HandPlayer, User, User.id == HandPlayer.user_id)
    .where(HandPlayer.hand_id == Hand.id)
    .scalar_subquery()
)
_EVENTS = (
    select(
        func.json_agg(
            aggregate_order_by(
                func.json_build_array(
                    HandEvent.seq_no, HandEvent.type, HandEvent.seat_no, HandEvent.payload
                ),
                HandEvent.seq_no,
            )
        )
    )
    .where(HandEvent.hand_id == Hand.id)
    .scalar_subquery()
)
_HOT_HAND = select(
    *_SUMMARY_COLUMNS[:10],
    Hand.button_seat,
    Hand.deck_commitment,
    Hand.result,
    _SEATS,
    _EVENTS,
).where(Hand.id == bindparam("hand_id"))


class SqlHandHistory:
    """`HandHistoryReads` on a session, a connection or a raw reader (`ColumnReader`)."""

    def __init__(self, db: ColumnReader) -> None:
        self._db = db

    async def summaries(
        self, user_id: int, after: tuple[datetime, int] | None, limit: int
    ) -> Sequence[Sequence[Any]]:
        params: dict[str, Any] = {"user_id": user_id, "limit": limit}
        query = _MY_HANDS
        if after is not None:
            params["started_at"], params["hand_id"] = after
            query = _MY_HANDS_AFTER
        return (await self._db.execute(query, params)).all()

    async def hot_hand(self, hand_id: int) -> HotHand | None:
        found = (await self._db.execute(_HOT_HAND, {"hand_id": hand_id})).all()
        if not found:
            return None
        *summary, button_seat, deck_commitment, result, seats, events = found[0]
        return HotHand(
            facts=HotHandFacts(*summary),
            button_seat=button_seat,
            deck_commitment=deck_commitment,
            result=result,
            seats=[HotSeat(*seat) for seat in seats or ()],
            events=[EventRow(*event) for event in events or ()],
        )

    async def nicknames(self, user_ids: Collection[int]) -> dict[int, str]:
        rows = await self._db.execute(select(User.id, User.nickname).where(User.id.in_(user_ids)))
        return dict(rows.all())


class SqlDailyStats:
    """`DailyStatsRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def stakes(self, since: datetime, until: datetime) -> list[StakeDay]:
        in_day = (Hand.started_at >= since) & (Hand.started_at < until)
        rows = await self._session.execute(
            select(
                Hand.small_blind,
                Hand.big_blind,
                func.count(),
                func.coalesce(func.sum(Hand.rake), 0),
                func.coalesce(func.sum(Hand.total_pot), 0),
            )
            .where(in_day)
            .group_by(Hand.small_blind, Hand.big_blind)
        )
        return [StakeDay(sb, bb, n, int(rake), int(pots)) for sb, bb, n, rake, pots in rows]

    async def players_by_stake(
        self, since: datetime, until: datetime
    ) -> dict[tuple[int, int], int]:
        in_day = (Hand.started_at >= since) & (Hand.started_at < until)
        rows = await self._session.execute(
            select(Hand.small_blind, Hand.big_blind, func.count(func.distinct(HandPlayer.user_id)))
            .join(HandPlayer, HandPlayer.hand_id == Hand.id)
            .where(in_day)
            .group_by(Hand.small_blind, Hand.big_blind)
        )
        return {(sb, bb): n for sb, bb, n in rows}

    async def players(self, since: datetime, until: datetime) -> int:
        in_day = (Hand.started_at >= since) & (Hand.started_at < until)
        everyone = await self._session.execute(
            select(func.count(func.distinct(HandPlayer.user_id)))
            .join(Hand, HandPlayer.hand_id == Hand.id)
            .where(in_day)
        )
        return int(everyone.scalar_one())

    async def replace_day(self, day: date, figures: Sequence[DayFigures]) -> None:
        await self._session.execute(delete(DailyStats).where(DailyStats.day == day))
        await self._session.execute(
            insert(DailyStats).values(
                [
                    {
                        "day": f.day,
                        "stakes": f.stakes,
                        "small_blind": f.small_blind,
                        "big_blind": f.big_blind,
                        "hands": f.hands,
                        "rake": f.rake,
                        "pots": f.pots,
                        "active_players": f.active_players,
                    }
                    for f in figures
                ]
            )
        )

    async def days(self, since: date, until: date) -> list[DayFigures]:
        rows = await self._session.execute(
            select(DailyStats)
            .where(DailyStats.day >= since, DailyStats.day <= until)
            .order_by(DailyStats.day, DailyStats.big_blind.nulls_last(), DailyStats.small_blind)
        )
        return [
            DayFigures(
                r.day,
                r.stakes,
                r.small_blind,
                r.big_blind,
                r.hands,
                r.rake,
                r.pots,
                r.active_players,
            )
            for r in rows.scalars()
        ]
