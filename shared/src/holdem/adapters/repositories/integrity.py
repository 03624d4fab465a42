"""The integrity signals' repository over SQLAlchemy (the port:
`holdem.ports.integrity.IntegrityRepository`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.compliance import AmlFlag
from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.adapters.orm.integrity import IntegrityRun, PlayerLogin
from holdem.adapters.orm.tables import Seat
from holdem.adapters.repositories.paging import newest_first
from holdem.ports.integrity import Login, NewRun, SignalHand

__all__ = ["SqlIntegrity"]

_EVENT_TYPES = ("action", "street_dealt", "blind_posted")
"""The stored events the signals read."""
_CHUNK = 500
"""Users or hands read per round trip."""


class SqlIntegrity:
    """`IntegrityRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_login(self, user_id: int, ip: str, device_id: str | None) -> None:
        self._session.add(PlayerLogin(user_id=user_id, ip=ip[:45], device_id=device_id))

    async def seated_others(self, table_id: int, user_id: int) -> list[int]:
        seated = select(Seat.user_id).where(
            Seat.table_id == table_id, Seat.left_at.is_(None), Seat.user_id != user_id
        )
        return [int(u) for u in (await self._session.execute(seated)).scalars()]

    async def logins(
        self, user_ids: Sequence[int], since: datetime, until: datetime
    ) -> list[Login]:
        found = []
        for start in range(0, len(user_ids), _CHUNK):
            stmt = select(PlayerLogin.user_id, PlayerLogin.ip, PlayerLogin.device_id).where(
                PlayerLogin.user_id.in_(user_ids[start : start + _CHUNK]),
                PlayerLogin.created_at >= since,
                PlayerLogin.created_at <= until,
            )
            found += [Login(u, ip, d) for u, ip, d in await self._session.execute(stmt)]
        return found

    async def hands_ended(self, since: datetime, until: datetime) -> list[SignalHand]:
        session = self._session
        ids_stmt = (
            select(Hand.id, Hand.big_blind)
            .where(Hand.ended_at >= since, Hand.ended_at < until)
            .order_by(Hand.id)
        )
        blinds = {int(i): int(bb) for i, bb in await session.execute(ids_stmt)}
        ids = list(blinds)
        hands = []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            seats: dict[int, dict[int, int]] = defaultdict(dict)
            nets: dict[int, dict[int, int]] = defaultdict(dict)
            holes: dict[int, dict[int, str]] = defaultdict(dict)
            players = select(
                HandPlayer.hand_id,
                HandPlayer.seat_no,
                HandPlayer.user_id,
                HandPlayer.net,
                HandPlayer.hole_cards,
            ).where(HandPlayer.hand_id.in_(chunk))
            for hand_id, seat_no, user_id, net, hole in await session.execute(players):
                seats[hand_id][seat_no] = user_id
                nets[hand_id][user_id] = int(net)
                holes[hand_id][user_id] = hole
            events: dict[int, list[dict[str, Any]]] = defaultdict(list)
            stored = (
                select(HandEvent.hand_id, HandEvent.payload)
                .where(HandEvent.hand_id.in_(chunk), HandEvent.type.in_(_EVENT_TYPES))
                .order_by(HandEvent.hand_id, HandEvent.seq_no)
            )
            for hand_id, payload in await session.execute(stored):
                events[hand_id].append(payload)
            hands += [
                SignalHand(i, blinds[i], seats[i], nets[i], holes[i], events[i])
                for i in chunk
                if seats[i]
            ]
        return hands

    async def open_flags(
        self, rules: Collection[str], statuses: Collection[str]
    ) -> set[tuple[str, int, int | None]]:
        stmt = select(AmlFlag.rule, AmlFlag.user_id, AmlFlag.details["other_user_id"]).where(
            AmlFlag.rule.in_(rules), AmlFlag.status.in_(statuses)
        )
        rows = await self._session.execute(stmt)
        return {(r, int(u), None if o is None else int(o)) for r, u, o in rows}

    async def file_flag(
        self, user_id: int, rule: str, subject: str, details: dict[str, Any]
    ) -> int | None:
        flag_id = await self._session.scalar(
            insert(AmlFlag)
            .values(user_id=user_id, rule=rule, subject=subject, details=details)
            .on_conflict_do_nothing(index_elements=["rule", "subject"])
            .returning(AmlFlag.id)
        )
        return None if flag_id is None else int(flag_id)

    async def add_run(self, run: NewRun) -> IntegrityRun:
        row = IntegrityRun(
            trigger=run.trigger,
            operator_id=run.operator_id,
            window_from=run.window_from,
            window_to=run.window_to,
            hands=run.hands,
            thresholds=run.thresholds,
            counts=run.counts,
            flag_ids=run.flag_ids,
        )
        self._session.add(row)
        await self._session.flush()
        await self._session.refresh(row)
        return row

    async def runs(self, limit: int, before_id: int | None) -> list[IntegrityRun]:
        return await newest_first(self._session, IntegrityRun, limit, before_id)
