"""The payment use cases' unit of work and repositories over SQLAlchemy (the ports:
`holdem.ports.payments`).

Rows are the ORM's (`holdem.adapters.orm.payments`, `users`, `compliance`): what a use case
changes on them is written by the session at commit. Locks are PostgreSQL's row locks
(``FOR UPDATE``, ``SKIP LOCKED`` for the batch pickers); inserts that may race use
``ON CONFLICT DO NOTHING`` so the loser learns it lost instead of failing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from holdem.adapters.database import violated_constraint
from holdem.adapters.orm.compliance import KycEvent
from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.payments import Deposit, DepositAddress, Withdrawal
from holdem.adapters.orm.users import User
from holdem.adapters.repositories.paging import newest_first
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.payments.withdrawals import WithdrawalStatus
from holdem.ports.payments import (
    NewDeposit,
    NewWithdrawal,
    PaymentsUnitOfWork,
    UnitOfWork,
    UnknownUserError,
)

_ADDRESS_USER_FK = "fk_deposit_addresses_user_id_users"


class SqlDeposits:
    """`DepositRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def address_of(self, user_id: int, coin: str) -> DepositAddress | None:
        stmt = select(DepositAddress).where(
            DepositAddress.user_id == user_id, DepositAddress.coin == coin
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def add_address(
        self, user_id: int, coin: str, address: str, gateway_ref: str
    ) -> DepositAddress:
        try:
            await self._session.execute(
                insert(DepositAddress)
                .values(user_id=user_id, coin=coin, address=address, gateway_ref=gateway_ref)
                .on_conflict_do_nothing(index_elements=["user_id", "coin"])
            )
        except IntegrityError as exc:
            if violated_constraint(exc) != _ADDRESS_USER_FK:
                raise
            raise UnknownUserError(user_id) from exc
        stored = await self.address_of(user_id, coin)
        assert stored is not None
        return stored

    async def user_exists(self, user_id: int) -> bool:
        return await self._session.get(User, user_id) is not None

    async def find(self, coin: str, tx_hash: str, output_index: int) -> Deposit | None:
        stmt = select(Deposit).where(*_output(coin, tx_hash, output_index))
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def lock(self, coin: str, tx_hash: str, output_index: int) -> Deposit:
        stmt = (
            select(Deposit)
            .where(*_output(coin, tx_hash, output_index))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self._session.execute(stmt)).scalar_one()

    async def insert(
        self, coin: str, output: NewDeposit, confirmations: int, now: datetime
    ) -> Deposit | None:
        owner = (
            select(DepositAddress.user_id)
            .where(DepositAddress.coin == coin, DepositAddress.address == output.pay_address)
            .scalar_subquery()
        )
        stmt = (
            insert(Deposit)
            .values(
                user_id=owner,
                coin=coin,
                tx_hash=output.payin_hash,
                output_index=output.output_index,
                address=output.pay_address,
                crypto_amount=output.actually_paid,
                confirmations=confirmations,
                status=case((owner.is_(None), "unmatched"), else_="pending"),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["coin", "tx_hash", "output_index"])
            .returning(Deposit)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def has_waiting(self, coin: str, min_confirmations: int) -> bool:
        stmt = select(Deposit.id).where(
            Deposit.status == "pending",
            Deposit.coin == coin,
            Deposit.confirmations >= min_confirmations,
        )
        return (await self._session.execute(stmt.limit(1))).first() is not None

    async def lock_waiting(self, coin: str, min_confirmations: int, limit: int) -> list[Deposit]:
        stmt = (
            select(Deposit)
            .where(
                Deposit.status == "pending",
                Deposit.coin == coin,
                Deposit.user_id.is_not(None),
                Deposit.confirmations >= min_confirmations,
            )
            .order_by(Deposit.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._session.execute(stmt)).scalars().all())

    async def of_user(self, user_id: int, limit: int, before_id: int | None) -> list[Deposit]:
        return await newest_first(
            self._session, Deposit, limit, before_id, ((Deposit.user_id, user_id),)
        )

    async def with_status(self, status: str, limit: int) -> list[Deposit]:
        stmt = select(Deposit).where(Deposit.status == status)
        stmt = stmt.order_by(Deposit.id.desc()).limit(limit)
        return list((await self._session.execute(stmt)).scalars().all())


def _output(coin: str, tx_hash: str, output_index: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Deposit.coin == coin,
        Deposit.tx_hash == tx_hash,
        Deposit.output_index == output_index,
    )


class SqlWithdrawals:
    """`WithdrawalRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_key(self, idempotency_key: str) -> Withdrawal | None:
        stmt = select(Withdrawal).where(Withdrawal.idempotency_key == idempotency_key)
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def user_exists(self, user_id: int) -> bool:
        return await self._session.get(User, user_id) is not None

    async def lock_user_kyc_status(self, user_id: int) -> str | None:
        stmt = select(User.kyc_status).where(User.id == user_id).with_for_update()
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def active_total_krw(self, user_id: int, excluding: Iterable[str]) -> int:
        stmt = select(func.coalesce(func.sum(Withdrawal.amount_krw), 0)).where(
            Withdrawal.user_id == user_id, Withdrawal.status.not_in(list(excluding))
        )
        return int((await self._session.execute(stmt)).scalar_one())

    async def insert(self, new: NewWithdrawal, status: str, now: datetime) -> int | None:
        stmt = (
            insert(Withdrawal)
            .values(
                user_id=new.user_id,
                idempotency_key=new.idempotency_key,
                amount_krw=new.amount_krw,
                coin=new.coin,
                address=new.address,
                crypto_amount=new.crypto_amount,
                rate_krw=new.rate_krw,
                status=status,
                kyc_hold=new.kyc_hold,
                due_at=new.due_at,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Withdrawal.id)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def get(self, withdrawal_id: int) -> Withdrawal | None:
        return await self._session.get(Withdrawal, withdrawal_id)

    async def lock(self, withdrawal_id: int, *, skip_locked: bool = False) -> Withdrawal | None:
        stmt = (
            select(Withdrawal)
            .where(Withdrawal.id == withdrawal_id)
            .with_for_update(skip_locked=skip_locked)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def reserve_transaction_id(self, reserve_key: str) -> int | None:
        stmt = select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == reserve_key)
        found = (await self._session.execute(stmt)).scalar_one_or_none()
        return None if found is None else int(found)

    async def lock_due_pending(
        self, now: datetime, max_amount_krw: int, limit: int
    ) -> list[Withdrawal]:
        stmt = (
            select(Withdrawal)
            .where(
                Withdrawal.status == WithdrawalStatus.PENDING.value,
                Withdrawal.due_at <= now,
                Withdrawal.amount_krw <= max_amount_krw,
                Withdrawal.kyc_hold.is_(False),
            )
            .order_by(Withdrawal.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._session.execute(stmt)).scalars().all())

    async def lock_due_payouts(self, now: datetime, limit: int) -> list[Withdrawal]:
        stmt = (
            select(Withdrawal)
            .where(
                Withdrawal.due_at <= now,
                or_(
                    Withdrawal.status == WithdrawalStatus.APPROVED.value,
                    Withdrawal.status == WithdrawalStatus.PROCESSING.value,
                ),
            )
            .order_by(Withdrawal.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._session.execute(stmt)).scalars().all())

    async def release_kyc_holds(self, user_id: int, at: datetime) -> tuple[int, ...]:
        released = await self._session.execute(
            update(Withdrawal)
            .where(Withdrawal.user_id == user_id, Withdrawal.kyc_hold.is_(True))
            .values(kyc_hold=False, updated_at=at)
            .returning(Withdrawal.id)
        )
        return tuple(sorted(int(i) for i in released.scalars()))

    async def listing(
        self, user_id: int | None, status: str | None, limit: int, before_id: int | None
    ) -> list[Withdrawal]:
        equal = ((Withdrawal.user_id, user_id), (Withdrawal.status, status))
        return await newest_first(self._session, Withdrawal, limit, before_id, equal)


class SqlKyc:
    """`KycRepository` in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def user(self, user_id: int, *, lock: bool = False) -> User | None:
        if not lock:
            return await self._session.get(User, user_id)
        stmt = select(User).where(User.id == user_id).with_for_update()
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def add_event(
        self, event_id: str, user_id: int, status: str, occurred_at: datetime, applied: bool
    ) -> bool:
        inserted = await self._session.execute(
            insert(KycEvent)
            .values(
                event_id=event_id,
                user_id=user_id,
                status=status,
                occurred_at=occurred_at,
                applied=applied,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(KycEvent.event_id)
        )
        return inserted.scalar_one_or_none() is not None


class SqlPaymentsUnitOfWork(SqlTransaction):
    """`PaymentsUnitOfWork`: the repositories over one session in a transaction."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self.deposits = SqlDeposits(session)
        self.withdrawals = SqlWithdrawals(session)
        self.kyc = SqlKyc(session)


@asynccontextmanager
async def _transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[PaymentsUnitOfWork]:
    async with sessions() as session, session.begin():
        yield SqlPaymentsUnitOfWork(session)


def payments_unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> UnitOfWork:
    """The `UnitOfWork` of the payment use cases: each call opens a session and begins a
    transaction, committed when the ``async with`` block ends."""

    def transaction() -> AbstractAsyncContextManager[PaymentsUnitOfWork]:
        return _transaction(sessions)

    return transaction
