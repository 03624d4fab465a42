"""The ports of the payment use cases (cosmicpython's repository and unit of work).

The use cases in `holdem.services.deposits`, `holdem.services.withdrawals` and
`holdem.services.kyc` depend on these Protocols only; `holdem.adapters.repositories.payments`
implements the database side with SQLAlchemy, `holdem.adapters.gateway`, `holdem.adapters.rates`
and `holdem.adapters.kyc` the outside services. Tests may pass fakes.

A unit of work is one database transaction: ``async with deps.uow() as uow`` begins it and
commits when the block ends (rolls back when it raises). Rows a repository returns belong to
it: the use case changes their attributes and the changes are written at commit. The other
use cases a payment calls in the same transaction (the ledger, AML, player protection, the
operators' audit log) take the transaction itself, `uow.session`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Protocol

from holdem import errors
from holdem.payments.coins import Coin
from holdem.payments.gateway import DepositAddressInfo, PayoutInfo
from holdem.payments.rates import Quote
from holdem.ports.transaction import Transaction

# --- the outside services ------------------------------------------------------------------


class PaymentGateway(Protocol):
    """Deposit addresses and payouts at a crypto payment gateway.

    Failures are raised as `holdem.payments.gateway.GatewayError` (unavailable: try again;
    rejected: repeating will not help).
    """

    async def create_deposit_address(self, coin: Coin, user_ref: str) -> DepositAddressInfo:
        """A new standing deposit address of `coin` for the user known as `user_ref`."""
        ...

    async def create_payout(
        self, coin: Coin, address: str, amount: Decimal, idempotency_key: str
    ) -> PayoutInfo:
        """Send `amount` of `coin` to `address`. The gateway dedupes on `idempotency_key`."""
        ...

    async def find_payout(self, idempotency_key: str) -> PayoutInfo | None:
        """The payout made with `idempotency_key`, if the gateway knows one."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ExchangeRates(Protocol):
    """Live KRW prices of the coins."""

    async def rate(self, coin: str) -> Quote:
        """A fresh quote of `coin` in KRW, or `holdem.payments.rates.RateUnavailable`."""
        ...


class KycProviderError(errors.Unavailable):
    """The provider could not be reached, or refused or garbled its answer: try later."""

    code: ClassVar[str] = "kyc_provider_unavailable"


@dataclass(frozen=True)
class KycSession:
    """A verification session at the provider: where the player goes to verify."""

    session_id: str
    url: str


class KycProvider(Protocol):
    """Starts verification sessions; outcomes come back by signed webhook."""

    async def start_session(self, user_ref: str) -> KycSession:
        """A new verification session for the user known to the provider as `user_ref`.

        Raises:
            KycProviderError: the provider is unavailable.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


# --- rows: what the use cases read and change ----------------------------------------------


class DepositAddressRow(Protocol):
    """A user's standing deposit address of one coin."""

    @property
    def user_id(self) -> int: ...

    @property
    def coin(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def gateway_ref(self) -> str | None: ...


class DepositRow(Protocol):
    """One chain output paid to one of our addresses (or to none: ``unmatched``)."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int | None: ...

    @property
    def coin(self) -> str: ...

    @property
    def tx_hash(self) -> str: ...

    @property
    def output_index(self) -> int: ...

    @property
    def address(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...

    crypto_amount: Decimal
    confirmations: int
    status: str
    amount_krw: int | None
    rate_krw: Decimal | None
    ledger_transaction_id: int | None
    updated_at: datetime


class WithdrawalRow(Protocol):
    """One withdrawal, from its request to its payout."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def amount_krw(self) -> int: ...

    @property
    def coin(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def crypto_amount(self) -> Decimal | None: ...

    @property
    def rate_krw(self) -> Decimal | None: ...

    @property
    def created_at(self) -> datetime: ...

    status: str
    due_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    payout_id: str | None
    tx_hash: str | None
    attempts: int
    failure_reason: str | None
    kyc_hold: bool
    updated_at: datetime


class KycUserRow(Protocol):
    """A user, as KYC sees one."""

    @property
    def id(self) -> int: ...

    kyc_status: str
    kyc_updated_at: datetime | None


# --- repositories ---------------------------------------------------------------------------


class NewDeposit(Protocol):
    """The output a delivery is about (`holdem.services.deposits.DepositNotice` is one)."""

    @property
    def pay_address(self) -> str: ...

    @property
    def payin_hash(self) -> str: ...

    @property
    def output_index(self) -> int: ...

    @property
    def actually_paid(self) -> Decimal: ...


class DepositRepository(Protocol):
    """Deposit addresses and deposits."""

    async def address_of(self, user_id: int, coin: str) -> DepositAddressRow | None:
        """The user's standing address of `coin`, if one was issued."""
        ...

    async def add_address(
        self, user_id: int, coin: str, address: str, gateway_ref: str
    ) -> DepositAddressRow:
        """Store an issued address (the one stored first wins a race); returns the stored one.

        Raises:
            UnknownUserError: the user does not exist (any more).
        """
        ...

    async def user_exists(self, user_id: int) -> bool:
        """Whether the user exists."""
        ...

    async def find(self, coin: str, tx_hash: str, output_index: int) -> DepositRow | None:
        """The output's row, read without a lock."""
        ...

    async def lock(self, coin: str, tx_hash: str, output_index: int) -> DepositRow:
        """The output's existing row, locked (fresh from the database)."""
        ...

    async def insert(
        self, coin: str, output: NewDeposit, confirmations: int, now: datetime
    ) -> DepositRow | None:
        """Insert the output's row: ``pending`` for the owner of its address, ``unmatched``
        when we never issued the address. None when the row exists already."""
        ...

    async def has_waiting(self, coin: str, min_confirmations: int) -> bool:
        """Whether a ``pending`` deposit of `coin` has its confirmations (waits for a rate)."""
        ...

    async def lock_waiting(
        self, coin: str, min_confirmations: int, limit: int
    ) -> Sequence[DepositRow]:
        """Matched ``pending`` deposits of `coin` with their confirmations, oldest first,
        locked; rows another transaction holds are skipped."""
        ...

    async def of_user(
        self, user_id: int, limit: int, before_id: int | None
    ) -> Sequence[DepositRow]:
        """A user's deposits, newest first, below `before_id`."""
        ...

    async def with_status(self, status: str, limit: int) -> Sequence[DepositRow]:
        """Deposits in `status`, newest first."""
        ...


class NewWithdrawal(Protocol):
    """A quoted withdrawal request, as it is stored."""

    @property
    def user_id(self) -> int: ...

    @property
    def idempotency_key(self) -> str: ...

    @property
    def amount_krw(self) -> int: ...

    @property
    def coin(self) -> str: ...

    @property
    def address(self) -> str: ...

    @property
    def crypto_amount(self) -> Decimal: ...

    @property
    def rate_krw(self) -> Decimal: ...

    @property
    def kyc_hold(self) -> bool: ...

    @property
    def due_at(self) -> datetime: ...


class WithdrawalRepository(Protocol):
    """Withdrawals (and the user rows their requests lock)."""

    async def by_key(self, idempotency_key: str) -> WithdrawalRow | None:
        """The withdrawal requested with this (user-scoped) idempotency key."""
        ...

    async def user_exists(self, user_id: int) -> bool:
        """Whether the user exists."""
        ...

    async def lock_user_kyc_status(self, user_id: int) -> str | None:
        """Lock the user's row (ordering the user's requests); their KYC status, or None
        when there is no such user."""
        ...

    async def active_total_krw(self, user_id: int, excluding: Iterable[str]) -> int:
        """What the user's withdrawals add up to, leaving out those in `excluding`."""
        ...

    async def insert(self, new: NewWithdrawal, status: str, now: datetime) -> int | None:
        """Insert a withdrawal; its id, or None when its idempotency key exists already."""
        ...

    async def get(self, withdrawal_id: int) -> WithdrawalRow | None:
        """The withdrawal, without a lock."""
        ...

    async def lock(self, withdrawal_id: int, *, skip_locked: bool = False) -> WithdrawalRow | None:
        """The withdrawal, locked; None if there is none (or, with `skip_locked`, another
        transaction holds it)."""
        ...

    async def reserve_transaction_id(self, reserve_key: str) -> int | None:
        """The ledger transaction posted with the reservation's idempotency key."""
        ...

    async def lock_due_pending(
        self, now: datetime, max_amount_krw: int, limit: int
    ) -> Sequence[WithdrawalRow]:
        """Due ``pending`` withdrawals up to `max_amount_krw` not waiting for KYC, by due
        time, locked (held rows skipped)."""
        ...

    async def lock_due_payouts(self, now: datetime, limit: int) -> Sequence[WithdrawalRow]:
        """Due ``approved`` or ``processing`` withdrawals, by due time, locked (held rows
        skipped)."""
        ...

    async def release_kyc_holds(self, user_id: int, at: datetime) -> tuple[int, ...]:
        """Clear the KYC hold of the user's withdrawals; their ids, ascending."""
        ...

    async def listing(
        self, user_id: int | None, status: str | None, limit: int, before_id: int | None
    ) -> Sequence[WithdrawalRow]:
        """Withdrawals newest first, by user and/or status, below `before_id`."""
        ...


class KycRepository(Protocol):
    """Users' KYC status and the provider's events."""

    async def user(self, user_id: int, *, lock: bool = False) -> KycUserRow | None:
        """The user (locked if asked), or None."""
        ...

    async def add_event(
        self, event_id: str, user_id: int, status: str, occurred_at: datetime, applied: bool
    ) -> bool:
        """Store a provider event once; False when its id was stored before."""
        ...


class UnknownUserError(Exception):
    """A row names a user that does not exist (any more)."""

    def __init__(self, user_id: int) -> None:
        super().__init__(f"no user {user_id}")
        self.user_id = user_id


# --- the unit of work -----------------------------------------------------------------------


class PaymentsUnitOfWork(Transaction, Protocol):
    """One database transaction and the repositories working in it: the payments' own, and
    every area's (`Transaction`) for the ledger, AML, protection and audit calls made in it."""

    @property
    def deposits(self) -> DepositRepository: ...

    @property
    def withdrawals(self) -> WithdrawalRepository: ...

    @property
    def kyc(self) -> KycRepository: ...


UnitOfWork = Callable[[], AbstractAsyncContextManager[PaymentsUnitOfWork]]
"""Begins a transaction (`PaymentsUnitOfWork`), committed when the block ends."""
