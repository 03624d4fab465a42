"""Crypto deposits: standing addresses, signed gateway notices, crediting exactly once.

The gateway notifies us (IPN, `receive_notice`) each time it sees a chain output paid to one
of our addresses, with the number of confirmations so far. For each output, keyed by
coin + transaction hash + output index:

- the notice's signature is checked in constant time and its timestamp against the replay
  window; the payload is validated (`DepositNotice`);
- the output is recorded once (``deposits``), its confirmation count only ever grows;
- an output paid to an address we never issued is recorded ``unmatched`` for an operator
  and credits nobody;
- once the coin's minimum confirmations are reached the amount is converted at the live
  rate (rounded down to the won) and credited through the ledger, exactly once: the
  deposit row is locked, and the ledger's idempotency key is ``deposit:{coin}:{tx}:{n}``;
- if no fresh rate exists the deposit waits (the gateway's retry or the scheduler's sweep,
  `credit_waiting_deposits`, credits it later);
- an output worth more than one ledger movement may carry (`MAX_WON`, ₩10^15) at the rate of
  its credit is recorded ``over_limit`` for an operator instead, credits nobody, and every
  delivery of it is refused (`DepositOverLimit`): it is not the gateway's to retry.

Deliveries may be duplicated, reordered or concurrent: each ends in one of `Outcome`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, StrictInt, StrictStr, field_validator
from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from holdem.adapters.database import violated_constraint
from holdem.adapters.gateway.base import GatewayError, PaymentGateway
from holdem.adapters.orm.payments import Deposit, DepositAddress
from holdem.adapters.orm.users import User
from holdem.adapters.rates import Quote, RateService, RateUnavailable
from holdem.config import AmlSettings, MoneySettings
from holdem.ledger.amounts import MAX_WON
from holdem.payments.coins import Coin, CoinRegistry
from holdem.payments.conversion import krw_for_crypto
from holdem.payments.errors import InvalidAddress, UnsupportedCoin
from holdem.services import aml, errors, ledger, protection
from holdem.services.errors import CoinNotAccepted
from holdem.services.gateway_callbacks import (
    SignedCallback,
    WebhookMalformed,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
    WebhookStale,
    verify_callback,
)
from holdem.services.notifications import Notice, NoticeKind, Notifier

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


# --- errors (mapped to HTTP by the webhook function and the API) -------------------------


class DepositOverLimit(errors.InvalidInput):
    """The output is worth more than one ledger movement may carry: it is kept ``over_limit``
    for an operator's review and credits nobody."""

    code = "deposit_over_limit"


class GatewayUnavailableError(errors.Unavailable):
    """The payment gateway could not be reached; try again later."""

    code = "gateway_unavailable"


# --- the notice ---------------------------------------------------------------------------


class DepositNotice(SignedCallback):
    """A gateway IPN about a payment to one of our addresses (NOWPayments' field names).

    ``confirmations`` and ``output_index`` extend NOWPayments' payload (the simulator sends
    them); without ``confirmations`` the payment status decides: ``confirmed``/``finished``
    mean the gateway has seen enough confirmations, anything else none.
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    what = "deposit notice"

    payment_id: StrictInt | StrictStr
    payment_status: str = Field(min_length=1, max_length=32)
    pay_address: str = Field(min_length=1, max_length=128)
    pay_currency: str = Field(min_length=1, max_length=16)
    actually_paid: Decimal = Field(gt=0, max_digits=38, decimal_places=18)
    payin_hash: str = Field(min_length=8, max_length=128, pattern=r"^[0-9A-Za-z]+$")
    # Counts are strict, as the ledger's amounts are: `true` is not one confirmation.
    output_index: StrictInt = Field(default=0, ge=0, le=100_000)
    confirmations: StrictInt | None = Field(default=None, ge=0, le=1_000_000)
    updated_at: StrictInt = Field(gt=0, description="milliseconds since the epoch")

    @field_validator("actually_paid", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("amounts must be exact decimals")
        return value

    def stamped_at_ms(self) -> int:
        return self.updated_at

    def confirmations_for(self, coin: Coin) -> int:
        if self.confirmations is not None:
            return self.confirmations
        done = self.payment_status.lower() in {"confirmed", "sending", "finished"}
        return coin.min_confirmations if done else 0


class Outcome(StrEnum):
    CREDITED = "credited"
    PENDING = "pending"
    DUPLICATE = "duplicate"
    UNMATCHED = "unmatched"
    AWAITING_RATE = "awaiting_rate"
    OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class DepositResult:
    outcome: Outcome
    deposit_id: int
    amount_krw: int | None = None
    notices: tuple[Notice, ...] = ()
    """What the player should hear about this delivery (sent after the commit)."""


@dataclass
class DepositDeps:
    """What the deposit use cases need."""

    sessions: async_sessionmaker[AsyncSession]
    money: MoneySettings
    coins: CoinRegistry
    rates: RateService
    notifier: Notifier
    gateway: PaymentGateway | None = None
    clock: Clock = lambda: datetime.now(UTC)
    rate_budget_s: float = 1.0
    aml: AmlSettings = field(default_factory=AmlSettings)


def coin_registry(money: MoneySettings) -> CoinRegistry:
    """The accepted coins of these settings."""
    return CoinRegistry.build(money.coins, money.min_confirmations)


# --- addresses ----------------------------------------------------------------------------


async def deposit_address(deps: DepositDeps, user_id: int, coin_symbol: str) -> DepositAddress:
    """The user's standing address for a coin: created at the gateway once, then stored.

    Raises:
        CoinNotAccepted: the coin is not one the card room takes.
        NotFound: no such user (the account was deleted while its access token lives on).
        GatewayUnavailableError: the gateway issued no usable address.
    """
    try:
        coin = deps.coins.get(coin_symbol)
    except UnsupportedCoin as exc:
        raise CoinNotAccepted(exc.message, exc.details) from exc
    async with deps.sessions() as session:
        found = await _address_of(session, user_id, coin.symbol)
        if found is None and await session.get(User, user_id) is None:
            raise _no_such_user(user_id)  # before asking the gateway for an address
    if found is not None:
        return found
    if deps.gateway is None:
        raise GatewayUnavailableError("no payment gateway is configured")
    try:
        issued = await deps.gateway.create_deposit_address(coin, f"user-{user_id}")
        address = coin.validate_address(issued.address, deps.money.address_network)
    except (GatewayError, InvalidAddress) as exc:
        raise GatewayUnavailableError(f"the gateway did not issue a usable address: {exc}") from exc
    try:
        async with deps.sessions() as session, session.begin():
            await session.execute(
                insert(DepositAddress)
                .values(
                    user_id=user_id,
                    coin=coin.symbol,
                    address=address,
                    gateway_ref=issued.gateway_ref,
                )
                .on_conflict_do_nothing(index_elements=["user_id", "coin"])
            )
            stored = await _address_of(session, user_id, coin.symbol)
    except IntegrityError as exc:
        if violated_constraint(exc) != _ADDRESS_USER_FK:
            raise
        raise _no_such_user(user_id) from exc  # deleted while the gateway was asked
    assert stored is not None
    return stored


_ADDRESS_USER_FK = "fk_deposit_addresses_user_id_users"


def _no_such_user(user_id: int) -> errors.NotFound:
    return errors.NotFound("no such user", {"user_id": user_id})


async def _address_of(session: AsyncSession, user_id: int, coin: str) -> DepositAddress | None:
    stmt = select(DepositAddress).where(
        DepositAddress.user_id == user_id, DepositAddress.coin == coin
    )
    return (await session.execute(stmt)).scalar_one_or_none()


# --- notices ------------------------------------------------------------------------------


def parse_notice(
    body: bytes, signature: str | None, money: MoneySettings, now: datetime
) -> DepositNotice:
    """Verify and validate a delivery, or raise the webhook error that says why."""
    return verify_callback(body, signature, money, now, DepositNotice)


async def record_notice(deps: DepositDeps, body: bytes, signature: str | None) -> DepositResult:
    """Apply one webhook delivery; its notices are left to the caller to send.

    One database transaction: a repeat only reads; otherwise the output's row is locked (or
    inserted), its confirmations grow, and at the minimum it is credited. A fresh rate is
    fetched only when the row is about to be credited, within `DepositDeps.rate_budget_s`.

    Raises:
        DepositOverLimit: the output is (now, or was already) recorded ``over_limit``.
    """
    notice = parse_notice(body, signature, deps.money, deps.clock())
    try:
        coin = deps.coins.by_gateway_code(notice.pay_currency)
    except UnsupportedCoin as exc:
        raise CoinNotAccepted(exc.message, exc.details) from exc
    result = await _record(deps, notice, coin)
    if result.outcome is Outcome.OVER_LIMIT:  # raised after the commit: the record stays
        raise DepositOverLimit(
            f"the deposit is worth more than ₩{MAX_WON:,}: kept for an operator's review",
            {"deposit_id": result.deposit_id, "max_krw": MAX_WON},
        )
    return result


async def receive_notice(deps: DepositDeps, body: bytes, signature: str | None) -> DepositResult:
    """Handle one webhook delivery end to end (see the module docstring), notices included."""
    result = await record_notice(deps, body, signature)
    await deps.notifier.notify_all(list(result.notices))
    return result


async def _quote_or_none(deps: DepositDeps, coin: Coin) -> Quote | None:
    """A fresh rate within the time budget (the webhook must answer in 3 s), else None."""
    try:
        async with asyncio.timeout(deps.rate_budget_s):
            return await deps.rates.rate(coin.symbol)
    except RateUnavailable as exc:
        log.warning("no fresh %s rate (%s): the deposit waits", coin.symbol, exc)
        return None
    except TimeoutError:
        log.warning("no %s rate within %.1f s: the deposit waits", coin.symbol, deps.rate_budget_s)
        return None


def _output_of(coin: Coin, notice: DepositNotice) -> tuple[Any, ...]:
    return (
        Deposit.coin == coin.symbol,
        Deposit.tx_hash == notice.payin_hash,
        Deposit.output_index == notice.output_index,
    )


def _nothing_new(deposit: Deposit, confirmations: int, coin: Coin) -> bool:
    """Whether a delivery can change nothing of this row, however stale the read.

    Safe without a lock: a credited row never changes and confirmations only grow, so a
    delivery with no more confirmations than a committed row has brings nothing new — except
    to a confirmed row still waiting for a rate, which each delivery tries to credit.
    """
    if deposit.status in ("credited", "over_limit"):
        return True
    if confirmations > deposit.confirmations:
        return False
    return deposit.status == "unmatched" or deposit.confirmations < coin.min_confirmations


async def _lock_or_insert(
    session: AsyncSession,
    notice: DepositNotice,
    coin: Coin,
    confirmations: int,
    now: datetime,
    seen: Deposit | None,
) -> tuple[Deposit, bool]:
    """The output's row, locked: (row, inserted now)."""
    locked = (
        select(Deposit)
        .where(*_output_of(coin, notice))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if seen is not None:
        return (await session.execute(locked)).scalar_one(), False
    owner = (
        select(DepositAddress.user_id)
        .where(DepositAddress.coin == coin.symbol, DepositAddress.address == notice.pay_address)
        .scalar_subquery()
    )
    inserted = (
        await session.execute(
            insert(Deposit)
            .values(
                user_id=owner,
                coin=coin.symbol,
                tx_hash=notice.payin_hash,
                output_index=notice.output_index,
                address=notice.pay_address,
                crypto_amount=notice.actually_paid,
                confirmations=confirmations,
                status=case((owner.is_(None), "unmatched"), else_="pending"),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["coin", "tx_hash", "output_index"])
            .returning(Deposit)
        )
    ).scalar_one_or_none()
    if inserted is not None:  # our uncommitted insert: nobody else can lock it
        return inserted, True
    # A concurrent delivery of the same output inserted it first: wait for its lock.
    return (await session.execute(locked)).scalar_one(), False


async def _record(deps: DepositDeps, notice: DepositNotice, coin: Coin) -> DepositResult:
    """One transaction. A delivery with nothing new only reads (no lock, nothing to flush at
    commit): most of a storm is repeats. Otherwise the row is locked or inserted, and its
    confirmations grow, or it is credited."""
    now = deps.clock()
    confirmations = notice.confirmations_for(coin)
    async with deps.sessions() as session, session.begin():
        seen = (
            await session.execute(select(Deposit).where(*_output_of(coin, notice)))
        ).scalar_one_or_none()
        if seen is not None and _nothing_new(seen, confirmations, coin):
            return _repeat(seen)
        deposit, is_new = await _lock_or_insert(session, notice, coin, confirmations, now, seen)
        if deposit.status in ("credited", "over_limit"):
            return _repeat(deposit)
        grew = confirmations > deposit.confirmations
        if deposit.status == "unmatched":
            if grew:
                deposit.confirmations = confirmations
                deposit.updated_at = now
            return DepositResult(Outcome.UNMATCHED if is_new else Outcome.DUPLICATE, deposit.id)
        if max(confirmations, deposit.confirmations) < coin.min_confirmations:
            if not (is_new or grew):
                return DepositResult(Outcome.DUPLICATE, deposit.id)
            _grow(deposit, notice, confirmations, now)
            assert deposit.user_id is not None
            pending = Notice(
                deposit.user_id, NoticeKind.DEPOSIT_PENDING, _notice_data(deposit, coin)
            )
            return DepositResult(Outcome.PENDING, deposit.id, notices=(pending,))
        quote = await _quote_or_none(deps, coin)  # the row lock waits at most the budget
        if quote is None:
            if grew:
                _grow(deposit, notice, confirmations, now)
            return DepositResult(Outcome.AWAITING_RATE, deposit.id)
        credited = await _credit(
            session, deposit, coin, quote, now, deps.aml, notice if grew else None
        )
    if deposit.status == "over_limit":
        return DepositResult(Outcome.OVER_LIMIT, deposit.id)
    return DepositResult(Outcome.CREDITED, deposit.id, deposit.amount_krw, credited)


def _repeat(deposit: Deposit) -> DepositResult:
    """A delivery of an output already settled: credited, or refused as over the limit."""
    if deposit.status == "over_limit":
        return DepositResult(Outcome.OVER_LIMIT, deposit.id)
    return DepositResult(Outcome.DUPLICATE, deposit.id, deposit.amount_krw)


def _grow(deposit: Deposit, notice: DepositNotice, confirmations: int, now: datetime) -> None:
    """More confirmations of a pending output (its amount as the latest notice says)."""
    deposit.confirmations = confirmations
    deposit.crypto_amount = notice.actually_paid
    deposit.updated_at = now


def _notice_data(deposit: Deposit, coin: Coin) -> dict[str, Any]:
    return {
        "deposit_id": deposit.id,
        "coin": coin.symbol,
        "crypto_amount": str(deposit.crypto_amount),
        "confirmations": deposit.confirmations,
        "required_confirmations": coin.min_confirmations,
        "tx_hash": deposit.tx_hash,
    }


async def _credit(
    session: AsyncSession,
    deposit: Deposit,
    coin: Coin,
    quote: Quote,
    now: datetime,
    aml_settings: AmlSettings,
    grown_by: DepositNotice | None = None,
) -> tuple[Notice, ...]:
    """Credit a locked, confirmed deposit through the ledger (its key makes it once only).

    `grown_by` is the delivery that brought the row to its minimum, if it is this one. The
    ledger posts first, while the row is unchanged (nothing of it to flush before the post);
    the row's new values then go out in one UPDATE at commit. A deposit worth more than
    `MAX_WON` at this rate is marked ``over_limit`` instead (no notice: an operator decides).
    The AML deposit rules run in the same transaction, after the post.
    """
    assert deposit.user_id is not None
    crypto_amount = Decimal(deposit.crypto_amount if grown_by is None else grown_by.actually_paid)
    amount_krw = krw_for_crypto(crypto_amount, quote.rate)
    if amount_krw > MAX_WON:
        if grown_by is not None:
            _grow(deposit, grown_by, grown_by.confirmations_for(coin), now)
        log.warning(
            "deposit %s is worth %s KRW, over the limit: kept over_limit for review",
            deposit.id,
            amount_krw,
        )
        deposit.rate_krw = quote.rate
        deposit.status = "over_limit"
        deposit.updated_at = now
        return ()
    transaction_id = None
    locked = 0
    if amount_krw > 0:
        # Never refused (the coins are sent): what the player's limits or exclusion do not
        # allow to be played is credited locked (withdrawable).
        _, locked = await protection.deposit_split(session, deposit.user_id, amount_krw, now)
        posted = await ledger.credit_deposit(
            session,
            key=f"deposit:{coin.symbol}:{deposit.tx_hash}:{deposit.output_index}",
            user_id=deposit.user_id,
            amount=amount_krw,
            coin=coin.symbol,
            crypto_amount=crypto_amount,
            rate_krw=quote.rate,
            tx_hash=deposit.tx_hash,
            address=deposit.address,
            deposit_id=deposit.id,
            locked=locked,
        )
        transaction_id = posted.transaction_id
        await aml.on_deposit_credited(
            session,
            aml_settings,
            user_id=deposit.user_id,
            amount_krw=amount_krw,
            ledger_transaction_id=transaction_id,
            now=now,
        )
    deposit.amount_krw = amount_krw
    deposit.rate_krw = quote.rate
    deposit.status = "credited"
    deposit.updated_at = now
    deposit.ledger_transaction_id = transaction_id
    if grown_by is not None:
        _grow(deposit, grown_by, grown_by.confirmations_for(coin), now)
    data = {**_notice_data(deposit, coin), "amount_krw": amount_krw, "rate_krw": str(quote.rate)}
    if locked:
        data["locked_krw"] = locked
        return (
            Notice(deposit.user_id, NoticeKind.DEPOSIT_CREDITED, data),
            Notice(deposit.user_id, NoticeKind.DEPOSIT_LOCKED, data),
        )
    return (Notice(deposit.user_id, NoticeKind.DEPOSIT_CREDITED, data),)


async def credit_waiting_deposits(deps: DepositDeps, limit: int = 100) -> int:
    """Credit deposits that reached their confirmations while no rate was fresh. Returns count."""
    credited = 0
    notices: list[Notice] = []
    for coin in deps.coins:
        async with deps.sessions() as session:
            waiting = (
                await session.execute(
                    select(Deposit.id)
                    .where(
                        Deposit.status == "pending",
                        Deposit.coin == coin.symbol,
                        Deposit.confirmations >= coin.min_confirmations,
                    )
                    .limit(1)
                )
            ).first()
        if waiting is None:
            continue
        quote = await _quote_or_none(deps, coin)
        if quote is None:
            continue
        async with deps.sessions() as session, session.begin():
            rows = (
                (
                    await session.execute(
                        select(Deposit)
                        .where(
                            Deposit.status == "pending",
                            Deposit.coin == coin.symbol,
                            Deposit.user_id.is_not(None),
                            Deposit.confirmations >= coin.min_confirmations,
                        )
                        .order_by(Deposit.id)
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .scalars()
                .all()
            )
            for deposit in rows:
                notices += await _credit(session, deposit, coin, quote, deps.clock(), deps.aml)
                credited += deposit.status == "credited"
    await deps.notifier.notify_all(notices)
    return credited


# --- reading ------------------------------------------------------------------------------


async def list_deposits(
    session: AsyncSession, user_id: int, *, limit: int = 50, before_id: int | None = None
) -> list[Deposit]:
    """A user's deposits, newest first, including pending ones (cursor: the last id seen)."""
    stmt = select(Deposit).where(Deposit.user_id == user_id)
    if before_id is not None:
        stmt = stmt.where(Deposit.id < before_id)
    stmt = stmt.order_by(Deposit.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def unmatched_deposits(session: AsyncSession, *, limit: int = 100) -> list[Deposit]:
    """Deposits to addresses we never issued, for operator review."""
    return await _for_review(session, "unmatched", limit)


async def over_limit_deposits(session: AsyncSession, *, limit: int = 100) -> list[Deposit]:
    """Deposits worth more than one ledger movement may carry, for operator review."""
    return await _for_review(session, "over_limit", limit)


async def _for_review(session: AsyncSession, status: str, limit: int) -> list[Deposit]:
    stmt = select(Deposit).where(Deposit.status == status).order_by(Deposit.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


__all__ = [
    "CoinNotAccepted",
    "DepositDeps",
    "DepositNotice",
    "DepositOverLimit",
    "DepositResult",
    "GatewayUnavailableError",
    "Outcome",
    "WebhookMalformed",
    "WebhookPayloadInvalid",
    "WebhookSignatureInvalid",
    "WebhookStale",
    "coin_registry",
    "credit_waiting_deposits",
    "deposit_address",
    "list_deposits",
    "over_limit_deposits",
    "parse_notice",
    "receive_notice",
    "record_notice",
    "unmatched_deposits",
]
