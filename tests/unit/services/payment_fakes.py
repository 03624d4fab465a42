"""In-memory fakes of the payment ports (`holdem.ports.payments`): what the ports buy.

One `FakeDatabase` holds the rows; each `FakeUnitOfWork` is a transaction over it that
commits when its block ends and, when the block raises, puts every row back as it was (a
snapshot taken at the start). Row locks mean nothing here (one task at a time); the real
repositories' locking is tested against PostgreSQL in ``tests/integration/payments``.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.ports.payments import (
    NewDeposit,
    NewWithdrawal,
    PaymentsUnitOfWork,
    UnitOfWork,
    UnknownUserError,
)


@dataclass
class FakeUser:
    id: int
    kyc_status: str = "none"
    kyc_updated_at: datetime | None = None


@dataclass
class FakeAddress:
    user_id: int
    coin: str
    address: str
    gateway_ref: str | None


@dataclass
class FakeDeposit:
    id: int
    user_id: int | None
    coin: str
    tx_hash: str
    output_index: int
    address: str
    created_at: datetime
    crypto_amount: Decimal
    confirmations: int
    status: str
    updated_at: datetime
    amount_krw: int | None = None
    rate_krw: Decimal | None = None
    ledger_transaction_id: int | None = None


@dataclass
class FakeWithdrawal:
    id: int
    user_id: int
    idempotency_key: str
    amount_krw: int
    coin: str
    address: str
    crypto_amount: Decimal | None
    rate_krw: Decimal | None
    created_at: datetime
    status: str
    due_at: datetime
    updated_at: datetime
    kyc_hold: bool = False
    decided_by: int | None = None
    decided_at: datetime | None = None
    payout_id: str | None = None
    tx_hash: str | None = None
    attempts: int = 0
    failure_reason: str | None = None


@dataclass
class FakeKycEvent:
    event_id: str
    user_id: int
    status: str
    occurred_at: datetime
    applied: bool


@dataclass
class FakeDatabase:
    users: dict[int, FakeUser] = field(default_factory=dict)
    addresses: list[FakeAddress] = field(default_factory=list)
    deposits: list[FakeDeposit] = field(default_factory=list)
    withdrawals: list[FakeWithdrawal] = field(default_factory=list)
    kyc_events: dict[str, FakeKycEvent] = field(default_factory=dict)
    ledger_keys: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    rollbacks: int = 0

    def add_user(self, user_id: int, kyc_status: str = "none") -> FakeUser:
        self.users[user_id] = FakeUser(user_id, kyc_status)
        return self.users[user_id]


class FakeDeposits:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def address_of(self, user_id: int, coin: str) -> FakeAddress | None:
        return next((a for a in self.db.addresses if (a.user_id, a.coin) == (user_id, coin)), None)

    async def add_address(
        self, user_id: int, coin: str, address: str, gateway_ref: str
    ) -> FakeAddress:
        if user_id not in self.db.users:
            raise UnknownUserError(user_id)
        found = await self.address_of(user_id, coin)
        if found is None:
            found = FakeAddress(user_id, coin, address, gateway_ref)
            self.db.addresses.append(found)
        return found

    async def user_exists(self, user_id: int) -> bool:
        return user_id in self.db.users

    async def find(self, coin: str, tx_hash: str, output_index: int) -> FakeDeposit | None:
        key = (coin, tx_hash, output_index)
        return next(
            (d for d in self.db.deposits if (d.coin, d.tx_hash, d.output_index) == key), None
        )

    async def lock(self, coin: str, tx_hash: str, output_index: int) -> FakeDeposit:
        found = await self.find(coin, tx_hash, output_index)
        assert found is not None
        return found

    async def insert(
        self, coin: str, output: NewDeposit, confirmations: int, now: datetime
    ) -> FakeDeposit | None:
        if await self.find(coin, output.payin_hash, output.output_index) is not None:
            return None
        paid_to = (coin, output.pay_address)
        owner = next((a.user_id for a in self.db.addresses if (a.coin, a.address) == paid_to), None)
        row = FakeDeposit(
            id=len(self.db.deposits) + 1,
            user_id=owner,
            coin=coin,
            tx_hash=output.payin_hash,
            output_index=output.output_index,
            address=output.pay_address,
            created_at=now,
            crypto_amount=output.actually_paid,
            confirmations=confirmations,
            status="unmatched" if owner is None else "pending",
            updated_at=now,
        )
        self.db.deposits.append(row)
        return row

    def _waiting(self, coin: str, min_confirmations: int) -> list[FakeDeposit]:
        return [
            d
            for d in self.db.deposits
            if (d.status, d.coin) == ("pending", coin) and d.confirmations >= min_confirmations
        ]

    async def has_waiting(self, coin: str, min_confirmations: int) -> bool:
        return bool(self._waiting(coin, min_confirmations))

    async def lock_waiting(
        self, coin: str, min_confirmations: int, limit: int
    ) -> Sequence[FakeDeposit]:
        return [d for d in self._waiting(coin, min_confirmations) if d.user_id is not None][:limit]

    async def of_user(
        self, user_id: int, limit: int, before_id: int | None
    ) -> Sequence[FakeDeposit]:
        rows = [
            d
            for d in reversed(self.db.deposits)
            if d.user_id == user_id and (before_id is None or d.id < before_id)
        ]
        return rows[:limit]

    async def with_status(self, status: str, limit: int) -> Sequence[FakeDeposit]:
        return [d for d in reversed(self.db.deposits) if d.status == status][:limit]


class FakeWithdrawals:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def by_key(self, idempotency_key: str) -> FakeWithdrawal | None:
        return next((w for w in self.db.withdrawals if w.idempotency_key == idempotency_key), None)

    async def user_exists(self, user_id: int) -> bool:
        return user_id in self.db.users

    async def lock_user_kyc_status(self, user_id: int) -> str | None:
        user = self.db.users.get(user_id)
        return None if user is None else user.kyc_status

    async def active_total_krw(self, user_id: int, excluding: Iterable[str]) -> int:
        left_out = set(excluding)
        return sum(
            w.amount_krw
            for w in self.db.withdrawals
            if w.user_id == user_id and w.status not in left_out
        )

    async def insert(self, new: NewWithdrawal, status: str, now: datetime) -> int | None:
        if await self.by_key(new.idempotency_key) is not None:
            return None
        row = FakeWithdrawal(
            id=len(self.db.withdrawals) + 1,
            user_id=new.user_id,
            idempotency_key=new.idempotency_key,
            amount_krw=new.amount_krw,
            coin=new.coin,
            address=new.address,
            crypto_amount=new.crypto_amount,
            rate_krw=new.rate_krw,
            created_at=now,
            status=status,
            due_at=new.due_at,
            updated_at=now,
            kyc_hold=new.kyc_hold,
        )
        self.db.withdrawals.append(row)
        return row.id

    async def get(self, withdrawal_id: int) -> FakeWithdrawal | None:
        return next((w for w in self.db.withdrawals if w.id == withdrawal_id), None)

    async def lock(self, withdrawal_id: int, *, skip_locked: bool = False) -> FakeWithdrawal | None:
        return await self.get(withdrawal_id)

    async def reserve_transaction_id(self, reserve_key: str) -> int | None:
        return self.db.ledger_keys.get(reserve_key)

    async def lock_due_pending(
        self, now: datetime, max_amount_krw: int, limit: int
    ) -> Sequence[FakeWithdrawal]:
        due = [
            w
            for w in self.db.withdrawals
            if w.status == "pending"
            and w.due_at <= now
            and w.amount_krw <= max_amount_krw
            and not w.kyc_hold
        ]
        return sorted(due, key=lambda w: w.due_at)[:limit]

    async def lock_due_payouts(self, now: datetime, limit: int) -> Sequence[FakeWithdrawal]:
        due = [
            w
            for w in self.db.withdrawals
            if w.status in ("approved", "processing") and w.due_at <= now
        ]
        return sorted(due, key=lambda w: w.due_at)[:limit]

    async def release_kyc_holds(self, user_id: int, at: datetime) -> tuple[int, ...]:
        released = []
        for w in self.db.withdrawals:
            if w.user_id == user_id and w.kyc_hold:
                w.kyc_hold, w.updated_at = False, at
                released.append(w.id)
        return tuple(sorted(released))

    async def listing(
        self, user_id: int | None, status: str | None, limit: int, before_id: int | None
    ) -> Sequence[FakeWithdrawal]:
        rows = [
            w
            for w in reversed(self.db.withdrawals)
            if (user_id is None or w.user_id == user_id)
            and (status is None or w.status == status)
            and (before_id is None or w.id < before_id)
        ]
        return rows[:limit]


class FakeKyc:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    async def user(self, user_id: int, *, lock: bool = False) -> FakeUser | None:
        return self.db.users.get(user_id)

    async def add_event(
        self, event_id: str, user_id: int, status: str, occurred_at: datetime, applied: bool
    ) -> bool:
        if event_id in self.db.kyc_events:
            return False
        self.db.kyc_events[event_id] = FakeKycEvent(event_id, user_id, status, occurred_at, applied)
        return True


class FakeUnitOfWork:
    """`PaymentsUnitOfWork` over a `FakeDatabase`. There is no SQL session: a use case that
    reaches for one (the ledger, AML, audit) is not one to test against these fakes."""

    def __init__(self, db: FakeDatabase) -> None:
        self.deposits = FakeDeposits(db)
        self.withdrawals = FakeWithdrawals(db)
        self.kyc = FakeKyc(db)

    @property
    def session(self) -> AsyncSession:
        raise AssertionError("the fakes have no SQL session: test this path against PostgreSQL")


def fake_unit_of_work(db: FakeDatabase) -> UnitOfWork:
    """A `UnitOfWork` over `db`: commits at the end of the block, restores `db` if it raises."""

    @asynccontextmanager
    async def transaction() -> AsyncIterator[PaymentsUnitOfWork]:
        before = copy.deepcopy(db.__dict__)
        try:
            yield FakeUnitOfWork(db)
        except BaseException:
            db.__dict__.update(before)
            db.rollbacks += 1
            raise
        db.commits += 1

    return transaction
