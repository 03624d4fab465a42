"""The account, operator, lobby and player-protection repositories over SQLAlchemy (the
ports: `holdem.ports.accounts` and `holdem.auth.refresh.RefreshTokenStore`).

Rows are the ORM's (`holdem.adapters.orm.users`, `tables`, `protection`, `payments`): what a use
case changes on them is written by the session at its next flush. Locks are PostgreSQL's row
locks (``FOR UPDATE``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import ScalarSelect

from holdem.adapters.database import violated_constraint
from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.ledger import LedgerAccount, LedgerEntry, LedgerTransaction
from holdem.adapters.orm.payments import Withdrawal
from holdem.adapters.orm.protection import PlayerProtection
from holdem.adapters.orm.tables import PokerTable, Seat
from holdem.adapters.orm.users import Session, User
from holdem.adapters.statement_pool import StatementPool
from holdem.auth.refresh import StoredToken
from holdem.errors import EmailTaken, NicknameTaken
from holdem.ledger.accounts import AccountKind
from holdem.ledger.transactions import TransactionKind
from holdem.ports import Reader
from holdem.ports.accounts import NewTable, SeatView, TableFilter

__all__ = [
    "RawRefreshRotation",
    "SqlAdmin",
    "SqlLobby",
    "SqlProtection",
    "SqlRefreshTokens",
    "SqlUsers",
    "role_of",
]


async def role_of(db: Reader, user_id: int) -> str | None:
    """The account's current role (None: no such account any more), on a session or a bare
    connection (the API's operator check reads it on every operator request)."""
    return await db.scalar(select(User.role).where(User.id == user_id))


# --- users -----------------------------------------------------------------------------------


def _taken(constraint: str) -> EmailTaken | NicknameTaken | None:
    """The taken field a unique index reports (None: the violation is of something else)."""
    if constraint == "uq_users_email":
        return EmailTaken("this email is already registered", {"field": "email"})
    if constraint == "uq_users_nickname":
        return NicknameTaken("this nickname is taken", {"field": "nickname"})
    return None


class SqlUsers:
    """`UserRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: int, *, lock: bool = False) -> User | None:
        return await self._session.get(User, user_id, with_for_update=lock)

    async def by_email(self, email: str) -> User | None:
        stmt = select(User).where(User.email == email)
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def id_by_email(self, email: str) -> int | None:
        return await self._session.scalar(select(User.id).where(User.email == email))

    async def holder_of(self, email: str, nickname: str) -> str | None:
        stmt = select(User.email, User.nickname).where(
            (User.email == email) | (User.nickname == nickname)
        )
        taken = (await self._session.execute(stmt)).first()
        return None if taken is None else str(taken.email)

    async def add(
        self,
        email: str,
        nickname: str,
        password_hash: str,
        date_of_birth: date | None,
        country: str | None,
    ) -> User:
        user = User(
            email=email,
            nickname=nickname,
            password_hash=password_hash,
            date_of_birth=date_of_birth,
            country=country,
        )
        self._session.add(user)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            taken = _taken(violated_constraint(exc))
            if taken is None:
                raise  # not a taken email or nickname: a bug, with nothing changed
            raise taken from exc  # a concurrent registration won the race
        return user

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._session.execute(
            update(User).where(User.id == user_id).values(password_hash=password_hash)
        )


class SqlRefreshTokens:
    """`holdem.auth.refresh.RefreshTokenStore` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        session_id: uuid.UUID,
        stored: StoredToken,
        token_hash: str,
        user_agent: str | None,
    ) -> None:
        self._session.add(
            Session(
                id=session_id,
                user_id=stored.user_id,
                family_id=stored.family_id,
                token_hash=token_hash,
                expires_at=stored.expires_at,
                user_agent=user_agent,
            )
        )
        await self._session.flush()

    async def claim(self, token_hash: str, now: datetime) -> StoredToken | None:
        claimed = (
            await self._session.execute(
                update(Session)
                .where(
                    Session.token_hash == token_hash,
                    Session.used_at.is_(None),
                    Session.revoked_at.is_(None),
                    Session.expires_at > now,
                )
                .values(used_at=now)
                .returning(Session.user_id, Session.family_id, Session.expires_at)
            )
        ).one_or_none()
        if claimed is None:
            return None
        user_id, family_id, expires_at = claimed
        return StoredToken(user_id, family_id, expires_at, used_at=now)

    async def find(self, token_hash: str) -> StoredToken | None:
        stmt = select(Session).where(Session.token_hash == token_hash)
        row = (await self._session.execute(stmt)).scalar_one_or_none()
        if row is None:
            return None
        return StoredToken(row.user_id, row.family_id, row.expires_at, row.used_at, row.revoked_at)

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self._session.execute(
            update(Session)
            .where(Session.family_id == family_id, Session.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user(self, user_id: int, now: datetime) -> None:
        await self._session.execute(
            update(Session)
            .where(Session.user_id == user_id, Session.revoked_at.is_(None))
            .values(revoked_at=now)
        )


_ROTATE_UNLOCKED = """
with claimed as (
    update sessions s set used_at = %s
    from users u
    where s.token_hash = %s and s.used_at is null and s.revoked_at is null
        and s.expires_at > %s and u.id = s.user_id and not u.is_locked
    returning s.user_id, s.family_id, s.expires_at, u.role
), successor as (
    insert into sessions (id, user_id, family_id, token_hash, expires_at, user_agent)
    select %s, user_id, family_id, %s, expires_at, %s from claimed
)
select user_id, family_id, expires_at, role from claimed
"""


class RawRefreshRotation:
    """`holdem.auth.refresh.Rotation` as one statement in a transaction on a raw connection
    (`StatementPool.transaction`): the claim of `SqlRefreshTokens.claim` joined with the
    account (only an unlocked one's token is claimed) and the successor's row of
    `SqlRefreshTokens.add`, without a session's unit of work (the general path took ~2 ms of
    the API's CPU per refresh). A connection lost once the statement is sent is not tried
    again: the token may be spent, and a second claim would read as its reuse."""

    def __init__(self, pool: StatementPool) -> None:
        self._pool = pool

    async def __call__(
        self,
        token_hash: str,
        now: datetime,
        successor: tuple[uuid.UUID, str, str | None],
    ) -> tuple[StoredToken, str] | None:
        session_id, successor_hash, user_agent = successor
        params = (now, token_hash, now, session_id, successor_hash, user_agent)
        async with self._pool.transaction() as tx:
            row = await tx.first(_ROTATE_UNLOCKED, params)
        if row is None:
            return None
        user_id, family_id, expires_at, role = row
        return StoredToken(user_id, family_id, expires_at, used_at=now), role


# --- the operators ---------------------------------------------------------------------------


class SqlAdmin:
    """`AdminRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def record(
        self,
        actor_id: int,
        action: str,
        target_user_id: int | None,
        target_table_id: int | None,
        details: dict[str, Any],
    ) -> None:
        self._session.add(
            AdminAction(
                actor_id=actor_id,
                action=action,
                target_user_id=target_user_id,
                target_table_id=target_table_id,
                details=details,
            )
        )

    async def withdrawals_by_due(
        self, status: str, after: tuple[datetime, int] | None, limit: int
    ) -> list[Withdrawal]:
        query = (
            select(Withdrawal)
            .where(Withdrawal.status == status)
            .order_by(Withdrawal.due_at, Withdrawal.id)
            .limit(limit)
        )
        if after is not None:
            due_at, withdrawal_id = after
            query = query.where(
                or_(
                    Withdrawal.due_at > due_at,
                    and_(Withdrawal.due_at == due_at, Withdrawal.id > withdrawal_id),
                )
            )
        return list((await self._session.execute(query)).scalars())


# --- the lobby -------------------------------------------------------------------------------

# Built once (statements are immutable; each call adds its filters to a copy).
_SEATED: ScalarSelect[int] = (
    select(func.count())
    .where(Seat.table_id == PokerTable.id, Seat.left_at.is_(None))
    .correlate(PokerTable)
    .scalar_subquery()
)
_TABLES = select(PokerTable, _SEATED.label("seated")).order_by(
    PokerTable.created_at.desc(), PokerTable.id.desc()
)


class SqlLobby:
    """`LobbyRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def tables(
        self, where: TableFilter, before: tuple[datetime, int] | None, limit: int
    ) -> list[tuple[PokerTable, int]]:
        query = _TABLES.where(PokerTable.status == where.status).limit(limit)
        if where.small_blind is not None:
            query = query.where(PokerTable.small_blind == where.small_blind)
        if where.big_blind is not None:
            query = query.where(PokerTable.big_blind == where.big_blind)
        if where.max_seats is not None:
            query = query.where(PokerTable.max_seats == where.max_seats)
        if where.min_free_seats > 0:
            query = query.where(PokerTable.max_seats - _SEATED >= where.min_free_seats)
        if before is not None:
            created_at, table_id = before
            query = query.where(
                or_(
                    PokerTable.created_at < created_at,
                    and_(PokerTable.created_at == created_at, PokerTable.id < table_id),
                )
            )
        return [(row[0], int(row[1])) for row in (await self._session.execute(query)).all()]

    async def get(self, table_id: int, *, lock: bool = False) -> PokerTable | None:
        return await self._session.get(PokerTable, table_id, with_for_update=lock)

    async def seats(self, table_id: int) -> list[SeatView]:
        rows = (
            await self._session.execute(
                select(Seat.seat_no, Seat.user_id, User.nickname, Seat.sat_at)
                .join(User, User.id == Seat.user_id)
                .where(Seat.table_id == table_id, Seat.left_at.is_(None))
                .order_by(Seat.seat_no)
            )
        ).all()
        return [SeatView(r.seat_no, r.user_id, r.nickname, r.sat_at) for r in rows]

    async def seated(self, table_id: int) -> int:
        stmt = select(func.count()).where(Seat.table_id == table_id, Seat.left_at.is_(None))
        return int((await self._session.execute(stmt)).scalar_one())

    async def add(self, spec: NewTable) -> PokerTable:
        table = PokerTable(
            name=spec.name,
            small_blind=spec.small_blind,
            big_blind=spec.big_blind,
            max_seats=spec.max_seats,
            min_buy_in=spec.min_buy_in,
            max_buy_in=spec.max_buy_in,
            rake_rate_bps=spec.rake_rate_bps,
            rake_cap=spec.rake_cap,
            status="open",
        )
        self._session.add(table)
        await self._session.flush()
        return table

    async def set_status(self, table_id: int, status: str, closed_at: datetime | None) -> None:
        await self._session.execute(
            update(PokerTable)
            .where(PokerTable.id == table_id)
            .values(status=status, closed_at=closed_at)
        )

    async def reload(self, table: object) -> None:
        await self._session.refresh(table)


# --- player protection -----------------------------------------------------------------------


class SqlProtection:
    """`ProtectionRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: int, *, lock: bool = False) -> PlayerProtection | None:
        return await self._session.get(PlayerProtection, user_id, with_for_update=lock)

    async def lock_or_create(self, user_id: int) -> PlayerProtection | None:
        session = self._session
        found = await session.get(PlayerProtection, user_id, with_for_update=True)
        if found is not None:
            return found
        if await session.get(User, user_id) is None:
            return None
        # Two first requests at once: one inserts, the other waits for it, then locks its row.
        await session.execute(
            insert(PlayerProtection).values(user_id=user_id).on_conflict_do_nothing()
        )
        row = await session.get(
            PlayerProtection, user_id, with_for_update=True, populate_existing=True
        )
        assert row is not None
        return row

    async def excluded_until(self, user_id: int) -> datetime | None:
        return await self._session.scalar(
            select(PlayerProtection.excluded_until).where(PlayerProtection.user_id == user_id)
        )

    async def usage(
        self, user_id: int, starts: Mapping[str, datetime]
    ) -> tuple[dict[str, int], dict[str, int]]:
        credited = and_(
            LedgerTransaction.kind.in_(
                [str(TransactionKind.CRYPTO_DEPOSIT), str(TransactionKind.LOCKED_RELEASE)]
            ),
            LedgerAccount.kind == AccountKind.WALLET,
        )
        played = LedgerTransaction.kind == TransactionKind.HAND_SETTLEMENT
        columns = []
        for period, start in starts.items():
            recent = LedgerTransaction.created_at >= start
            columns.append(
                func.coalesce(
                    func.sum(case((and_(credited, recent), LedgerEntry.amount))), 0
                ).label(f"deposited_{period}")
            )
            columns.append(
                func.coalesce(func.sum(case((and_(played, recent), LedgerEntry.amount))), 0).label(
                    f"net_{period}"
                )
            )
        row = (
            await self._session.execute(
                select(*columns)
                .select_from(LedgerEntry)
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                .where(
                    LedgerEntry.user_id == user_id,
                    LedgerTransaction.created_at >= starts["month"],
                )
            )
        ).one()
        figures = row._mapping
        return (
            {p: int(figures[f"deposited_{p}"]) for p in starts},
            {p: int(figures[f"net_{p}"]) for p in starts},
        )

    async def seated_tables(self, user_id: int) -> list[int]:
        found = await self._session.scalars(
            select(Seat.table_id)
            .where(Seat.user_id == user_id, Seat.left_at.is_(None))
            .order_by(Seat.table_id)
        )
        return list(found)

    async def seats_since(
        self, user_id: int, since: datetime
    ) -> list[tuple[datetime, datetime | None]]:
        seats = await self._session.execute(
            select(Seat.sat_at, Seat.left_at)
            .where(Seat.user_id == user_id, or_(Seat.left_at.is_(None), Seat.left_at >= since))
            .order_by(Seat.sat_at.desc())
        )
        return [(sat_at, left_at) for sat_at, left_at in seats]
