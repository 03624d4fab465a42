"""Crypto withdrawals: request, operator decisions, scheduling and payout (SPEC §3.2).

The life of a withdrawal (`holdem.payments.withdrawals` has the table of steps):

1. `request_withdrawal` — minimum amount, the address checked for the coin's chain and
   network, a fresh rate (else refused), the quote (KRW → coin, rounded down) and the amount
   reserved at once (wallet → pending) through the ledger. Idempotent per user and
   ``Idempotency-Key``: the same key and body return the same withdrawal. In the same
   transaction: the KYC gate (`holdem.services.kyc.needs_verification`: past the
   cumulative threshold an unverified player's withdrawal stays pending with
   ``kyc_required`` until verified) and the AML rules (`holdem.services.aml`: an open flag
   of a holding rule holds it for an operator).
2. It waits ``MONEY__WITHDRAWAL_DELAY_S`` (24 h). `schedule_payouts` (the scheduler Lambda)
   approves due ones up to ``MONEY__AUTO_APPROVE_LIMIT_KRW`` automatically; larger ones
   wait for an operator (`decide`: approve / hold / release / reject). Rejecting or
   cancelling returns the funds.
3. `schedule_payouts` moves due approved withdrawals to ``processing`` under a lease and
   enqueues them; `pay_out` (the payout worker) pays each through the gateway with the
   key ``withdrawal-{id}-{attempt}``, after looking that key and the earlier attempts' keys
   up at the gateway — so neither a crash between the gateway call and our commit nor a
   lost answer to a payout request ever pays twice. A payout that fails
   is retried with exponential backoff; the last failure returns the funds and flags the
   withdrawal (``failed`` with a reason). When the last attempt ends with the gateway
   unreachable, nobody knows whether an attempt paid: the withdrawal is ``held`` with its
   funds still reserved, for an operator who checks the gateway and approves it (the next
   payout looks every earlier attempt up first, so a paid one completes it) or rejects it
   (funds returned). Refunding blindly there could pay the player twice.

Rows are locked (``FOR UPDATE``, ``SKIP LOCKED`` for the batch pickers), and every ledger
call carries an idempotency key, so duplicate deliveries and parallel workers are harmless.
The coin amount is fixed by the quote at request time.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from holdem.adapters.gateway.base import (
    GatewayError,
    GatewayRejected,
    PaymentGateway,
    PayoutInfo,
    PayoutState,
)
from holdem.adapters.gateway.nowpayments import payout_state
from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.payments import Withdrawal
from holdem.adapters.orm.users import User
from holdem.adapters.rates import RateService, RateUnavailable
from holdem.config import AmlSettings, MoneySettings
from holdem.payments.coins import KNOWN_COINS, CoinRegistry
from holdem.payments.conversion import crypto_for_krw
from holdem.payments.errors import IllegalTransition, InvalidAddress, UnsupportedCoin
from holdem.payments.withdrawals import (
    RETURNS_FUNDS,
    AutoApprovalPolicy,
    RetryPolicy,
    WithdrawalEvent,
    WithdrawalStatus,
    transition,
)
from holdem.services import aml, errors, kyc, ledger, ledger_errors
from holdem.services.admin import record_action
from holdem.services.errors import CoinNotAccepted
from holdem.services.gateway_callbacks import SignedCallback, verify_callback
from holdem.services.ledger_errors import IdempotencyKeyReused, WithdrawalNotFound
from holdem.services.notifications import Notice, NoticeKind, Notifier

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Enqueue = Callable[[list[int]], Awaitable[None]]
PROCESSING_LEASE = timedelta(minutes=15)
"""How long a picked withdrawal belongs to its payout message before it is re-enqueued."""
PENDING_POLL = timedelta(minutes=2)
"""When the gateway accepted a payout but has not sent it yet, look again after this."""
AML_HOLD_REASON = "held for review"
"""The reason a withdrawal held by an AML flag shows (the rule is for operators only)."""


# --- errors -------------------------------------------------------------------------------


class AmountBelowMinimum(errors.InvalidInput):
    code = "amount_below_minimum"


class WithdrawalAddressInvalid(errors.InvalidInput):
    code = "invalid_address"


class KycRequired(errors.Conflict):
    """The withdrawal waits for the player's verified KYC: it cannot be approved yet."""

    code = "kyc_required"


class CancelNotAllowed(errors.Forbidden):
    code = "withdrawal_cancel_disabled"


class InsufficientFunds(ledger_errors.InsufficientFunds):
    """The wallet does not cover the withdrawal (nothing was reserved)."""


class RateUnavailableError(errors.Conflict):
    """No fresh exchange rate: the withdrawal is refused rather than priced on an old one."""

    code = "rate_unavailable"


class TransitionNotAllowed(errors.Conflict):
    code = "illegal_withdrawal_transition"


class PayoutNotFound(errors.NotFound):
    """A payout callback names a payout we never made."""

    code = "payout_not_found"


# --- dependencies and views ---------------------------------------------------------------


@dataclass
class WithdrawalDeps:
    sessions: async_sessionmaker[AsyncSession]
    money: MoneySettings
    coins: CoinRegistry
    rates: RateService | None
    notifier: Notifier
    gateway: PaymentGateway | None = None
    enqueue: Enqueue | None = None
    clock: Clock = field(default=lambda: datetime.now(UTC))
    aml: AmlSettings = field(default_factory=AmlSettings)

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.money.payout_max_attempts, self.money.payout_retry_base_s)


@dataclass(frozen=True)
class WithdrawalView:
    """What a player or an operator sees of a withdrawal."""

    id: int
    user_id: int
    status: str
    amount_krw: int
    coin: str
    address: str
    crypto_amount: Decimal | None
    rate_krw: Decimal | None
    due_at: datetime
    created_at: datetime
    tx_hash: str | None
    attempts: int
    failure_reason: str | None
    kyc_required: bool = False
    """It waits for the player's verified KYC (``MONEY__KYC_REQUIRED_ABOVE_KRW``)."""

    @classmethod
    def of(cls, row: Withdrawal) -> WithdrawalView:
        places = Decimal(1).scaleb(-KNOWN_COINS[row.coin].decimals)
        crypto = None if row.crypto_amount is None else row.crypto_amount.quantize(places)
        return cls(
            row.id,
            row.user_id,
            row.status,
            row.amount_krw,
            row.coin,
            row.address,
            crypto,
            row.rate_krw,
            row.due_at,
            row.created_at,
            row.tx_hash,
            row.attempts,
            row.failure_reason,
            row.kyc_hold,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "withdrawal_id": self.id,
            "status": self.status,
            "amount_krw": self.amount_krw,
            "coin": self.coin,
            "address": self.address,
            "crypto_amount": None if self.crypto_amount is None else str(self.crypto_amount),
            "rate_krw": None if self.rate_krw is None else str(self.rate_krw),
            "due_at": self.due_at.isoformat(),
            "tx_hash": self.tx_hash,
            "kyc_required": self.kyc_required,
        }


# --- requesting ---------------------------------------------------------------------------


async def request_withdrawal(
    deps: WithdrawalDeps,
    user_id: int,
    *,
    amount_krw: int,
    coin: str,
    address: str,
    idempotency_key: str,
) -> WithdrawalView:
    """Validate, quote and reserve a withdrawal (see the module docstring)."""
    if not 1 <= len(idempotency_key) <= 100:
        raise errors.InvalidInput("the Idempotency-Key must have 1 to 100 characters")
    try:
        spec = deps.coins.get(coin)
    except UnsupportedCoin as exc:
        raise CoinNotAccepted(exc.message, exc.details) from exc
    if amount_krw < deps.money.min_withdrawal_krw:
        raise AmountBelowMinimum(
            f"the minimum withdrawal is ₩{deps.money.min_withdrawal_krw:,}",
            {"minimum_krw": deps.money.min_withdrawal_krw},
        )
    try:
        canonical = spec.validate_address(
            address,
            deps.money.address_network,
            require_checksum=deps.money.require_eip55_checksum,
        )
    except InvalidAddress as exc:
        raise WithdrawalAddressInvalid(
            f"not a valid {spec.symbol} address: {exc.message}", {"coin": spec.symbol}
        ) from exc
    scoped_key = f"{user_id}:{idempotency_key}"
    async with deps.sessions() as session:
        existing = await _by_key(session, scoped_key)
        if existing is not None:
            return _replay(existing, amount_krw, spec.symbol, canonical)
        if await session.get(User, user_id) is None:
            raise errors.NotFound("no such user")
    if deps.rates is None:
        raise RateUnavailableError("no exchange-rate source is configured")
    try:
        quote = await deps.rates.rate(spec.symbol)
    except RateUnavailable as exc:
        raise RateUnavailableError(
            f"no fresh {spec.symbol}/KRW rate right now; try again in a minute"
        ) from exc
    crypto_amount = crypto_for_krw(amount_krw, quote.rate, spec.decimals)
    now = deps.clock()
    async with deps.sessions() as session, session.begin():
        # The user's row lock orders this user's requests: each sees the others' amounts in
        # the KYC total.
        kyc_status = (
            await session.execute(
                select(User.kyc_status).where(User.id == user_id).with_for_update()
            )
        ).scalar_one_or_none()
        if kyc_status is None:  # the account was deleted while the rate was fetched
            raise errors.NotFound("no such user")
        kyc_hold = await kyc.needs_verification(
            session, user_id, kyc_status, amount_krw, deps.money.kyc_required_above_krw
        )
        inserted = await session.execute(
            insert(Withdrawal)
            .values(
                user_id=user_id,
                idempotency_key=scoped_key,
                amount_krw=amount_krw,
                coin=spec.symbol,
                address=canonical,
                crypto_amount=crypto_amount,
                rate_krw=quote.rate,
                status=WithdrawalStatus.PENDING.value,
                kyc_hold=kyc_hold,
                due_at=now + timedelta(seconds=deps.money.withdrawal_delay_s),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Withdrawal.id)
        )
        new_id = inserted.scalar_one_or_none()
        if new_id is None:  # the same key raced us and won
            winner = await _by_key(session, scoped_key)
            assert winner is not None
            return _replay(winner, amount_krw, spec.symbol, canonical)
        # Locked funds (over a deposit limit, or credited during an exclusion) leave first.
        locked = (await ledger.balances(session, user_id)).locked
        try:
            await ledger.reserve_withdrawal(
                session,
                key=_reserve_key(new_id),
                user_id=user_id,
                amount=amount_krw,
                coin=spec.symbol,
                address=canonical,
                withdrawal_id=new_id,
                from_locked=min(locked, amount_krw),
            )
        except ledger_errors.InsufficientFunds as exc:
            raise InsufficientFunds(
                "the wallet balance does not cover this withdrawal", {"amount_krw": amount_krw}
            ) from exc
        row = await session.get(Withdrawal, new_id)
        assert row is not None
        held = await aml.on_withdrawal_requested(session, deps.aml, row, now)
        if held:
            await _step(session, row, WithdrawalEvent.HOLD, now, reason=AML_HOLD_REASON)
            await aml.mark_held(session, deps.aml, row)
        view = WithdrawalView.of(row)
    notices = [Notice(user_id, NoticeKind.WITHDRAWAL_REQUESTED, view.to_json())]
    if held:  # the player hears it is held for review, never which rule fired
        notices.append(Notice(user_id, NoticeKind.WITHDRAWAL_HELD, view.to_json()))
    if kyc_hold:
        notices.append(Notice(user_id, NoticeKind.WITHDRAWAL_KYC_REQUIRED, view.to_json()))
    await deps.notifier.notify_all(notices)
    return view


def _replay(row: Withdrawal, amount_krw: int, coin: str, address: str) -> WithdrawalView:
    if (row.amount_krw, row.coin, row.address) != (amount_krw, coin, address):
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different withdrawal",
            {"withdrawal_id": row.id},
        )
    return WithdrawalView.of(row)


async def _by_key(session: AsyncSession, scoped_key: str) -> Withdrawal | None:
    stmt = select(Withdrawal).where(Withdrawal.idempotency_key == scoped_key)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- decisions ----------------------------------------------------------------------------

_NOTICE_FOR = {
    WithdrawalStatus.APPROVED: NoticeKind.WITHDRAWAL_APPROVED,
    WithdrawalStatus.HELD: NoticeKind.WITHDRAWAL_HELD,
    WithdrawalStatus.REJECTED: NoticeKind.WITHDRAWAL_REJECTED,
    WithdrawalStatus.CANCELLED: NoticeKind.WITHDRAWAL_CANCELLED,
    WithdrawalStatus.PAID: NoticeKind.WITHDRAWAL_PAID,
    WithdrawalStatus.FAILED: NoticeKind.WITHDRAWAL_FAILED,
}


async def _step(
    session: AsyncSession,
    row: Withdrawal,
    event: WithdrawalEvent,
    now: datetime,
    *,
    reason: str | None = None,
) -> WithdrawalStatus:
    """Apply one legal step to a locked row, with its ledger effect."""
    try:
        target = transition(WithdrawalStatus(row.status), event)
    except IllegalTransition as exc:
        raise TransitionNotAllowed(exc.message, {**exc.details, "withdrawal_id": row.id}) from exc
    if target in RETURNS_FUNDS:
        await ledger.return_withdrawal(
            session,
            key=f"withdrawal:{row.id}:return",
            reserve_transaction_id=await _reservation_id(session, row.id),
            reason=reason or target.value,
        )
    elif target is WithdrawalStatus.PAID:
        assert row.crypto_amount is not None
        assert row.rate_krw is not None
        await ledger.complete_withdrawal(
            session,
            key=f"withdrawal:{row.id}:complete",
            reserve_transaction_id=await _reservation_id(session, row.id),
            crypto_amount=row.crypto_amount,
            rate_krw=row.rate_krw,
            tx_hash=row.tx_hash or f"gateway:{row.payout_id}",
        )
    row.status = target.value
    row.updated_at = now
    if reason is not None:
        row.failure_reason = reason[:255]
    return target


def _reserve_key(withdrawal_id: int) -> str:
    return f"withdrawal:{withdrawal_id}:reserve"


async def _reservation_id(session: AsyncSession, withdrawal_id: int) -> int:
    """The ledger transaction that reserved this withdrawal's funds."""
    stmt = select(LedgerTransaction.id).where(
        LedgerTransaction.idempotency_key == _reserve_key(withdrawal_id)
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise WithdrawalNotFound("the withdrawal has no reserved funds", {"id": withdrawal_id})
    return int(found)


async def _locked(session: AsyncSession, withdrawal_id: int) -> Withdrawal:
    stmt = select(Withdrawal).where(Withdrawal.id == withdrawal_id).with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise WithdrawalNotFound("no such withdrawal", {"withdrawal_id": withdrawal_id})
    return row


class OperatorAction(StrEnum):
    APPROVE = "approve"
    HOLD = "hold"
    RELEASE = "release"
    REJECT = "reject"


async def decide(
    deps: WithdrawalDeps,
    withdrawal_id: int,
    operator_id: int,
    action: OperatorAction,
    reason: str | None = None,
) -> WithdrawalView:
    """An operator approves, holds, releases or rejects (funds returned) a withdrawal.

    The decision is written to the operators' audit log in the same transaction.
    """
    now = deps.clock()
    async with deps.sessions() as session, session.begin():
        row = await _locked(session, withdrawal_id)
        if action is OperatorAction.APPROVE and row.kyc_hold:
            raise KycRequired(
                "this withdrawal waits for the player's verified KYC",
                {"withdrawal_id": row.id},
            )
        before = row.status
        target = await _step(session, row, WithdrawalEvent(action.value), now, reason=reason)
        row.decided_by = operator_id
        row.decided_at = now
        await record_action(
            session,
            operator_id,
            f"withdrawal_{action.value}",
            target_user_id=row.user_id,
            details={
                "withdrawal_id": row.id,
                "from": before,
                "to": target.value,
                "amount_krw": row.amount_krw,
                "reason": reason,
            },
        )
        view = WithdrawalView.of(row)
    if target in _NOTICE_FOR:
        await deps.notifier.notify(Notice(row.user_id, _NOTICE_FOR[target], view.to_json()))
    return view


async def cancel(deps: WithdrawalDeps, user_id: int, withdrawal_id: int) -> WithdrawalView:
    """The player takes a pending withdrawal back — only where the setting allows it."""
    if not deps.money.allow_withdrawal_cancel:
        raise CancelNotAllowed("withdrawals cannot be cancelled in this card room")
    now = deps.clock()
    async with deps.sessions() as session, session.begin():
        row = await _locked(session, withdrawal_id)
        if row.user_id != user_id:
            raise WithdrawalNotFound("no such withdrawal", {"withdrawal_id": withdrawal_id})
        await _step(session, row, WithdrawalEvent.CANCEL, now)
        view = WithdrawalView.of(row)
    await deps.notifier.notify(Notice(user_id, NoticeKind.WITHDRAWAL_CANCELLED, view.to_json()))
    return view


async def get_withdrawal(session: AsyncSession, withdrawal_id: int) -> WithdrawalView:
    row = await session.get(Withdrawal, withdrawal_id)
    if row is None:
        raise WithdrawalNotFound("no such withdrawal", {"withdrawal_id": withdrawal_id})
    return WithdrawalView.of(row)


async def list_withdrawals(
    session: AsyncSession,
    *,
    user_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[WithdrawalView]:
    """Withdrawals newest first, by user and/or status (cursor: the last id seen)."""
    stmt = select(Withdrawal)
    if user_id is not None:
        stmt = stmt.where(Withdrawal.user_id == user_id)
    if status is not None:
        stmt = stmt.where(Withdrawal.status == status)
    if before_id is not None:
        stmt = stmt.where(Withdrawal.id < before_id)
    rows = (await session.execute(stmt.order_by(Withdrawal.id.desc()).limit(limit))).scalars()
    return [WithdrawalView.of(r) for r in rows]


# --- scheduling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleReport:
    auto_approved: list[int]
    enqueued: list[int]


async def schedule_payouts(deps: WithdrawalDeps, limit: int = 100) -> ScheduleReport:
    """Approve due small withdrawals, then lease due approved ones and enqueue them."""
    now = deps.clock()
    policy = AutoApprovalPolicy(deps.money.auto_approve_limit_krw)
    notices: list[Notice] = []
    async with deps.sessions() as session, session.begin():
        due = (
            (
                await session.execute(
                    select(Withdrawal)
                    .where(
                        Withdrawal.status == WithdrawalStatus.PENDING.value,
                        Withdrawal.due_at <= now,
                        Withdrawal.amount_krw <= deps.money.auto_approve_limit_krw,
                        Withdrawal.kyc_hold.is_(False),
                    )
                    .order_by(Withdrawal.due_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        approved: list[int] = []
        for row in due:
            assert policy.auto_approves(row.amount_krw, row.due_at, now)
            await _step(session, row, WithdrawalEvent.AUTO_APPROVE, now)
            approved.append(row.id)
            notices.append(
                Notice(
                    row.user_id, NoticeKind.WITHDRAWAL_APPROVED, WithdrawalView.of(row).to_json()
                )
            )
    async with deps.sessions() as session, session.begin():
        ready = (
            (
                await session.execute(
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
            )
            .scalars()
            .all()
        )
        enqueued: list[int] = []
        for row in ready:
            if row.status == WithdrawalStatus.APPROVED.value:
                await _step(session, row, WithdrawalEvent.START_PAYOUT, now)
            row.due_at = now + PROCESSING_LEASE  # re-enqueued if no worker finishes it
            enqueued.append(row.id)
    if enqueued and deps.enqueue is not None:
        await deps.enqueue(enqueued)
    await deps.notifier.notify_all(notices)
    return ScheduleReport(approved, enqueued)


# --- paying out ---------------------------------------------------------------------------


class PayoutOutcome(StrEnum):
    PAID = "paid"
    WAITING = "waiting"  # the gateway accepted it; not on chain yet
    RETRY = "retry"  # failed for now; back to approved with a backoff
    FAILED = "failed"  # gave up: funds returned, flagged
    HELD = "held"  # gave up not knowing whether a payout went out: an operator decides
    SKIPPED = "skipped"  # not processing (a duplicate message, or already finished)


def payout_key(withdrawal_id: int, attempt: int) -> str:
    """The gateway idempotency key of one payout attempt."""
    return f"withdrawal-{withdrawal_id}-{attempt}"


async def pay_out(deps: WithdrawalDeps, withdrawal_id: int) -> PayoutOutcome:
    """Pay one leased withdrawal through the gateway, exactly once (module docstring)."""
    if deps.gateway is None:
        raise errors.ServiceError("no payment gateway is configured")
    async with deps.sessions() as session, session.begin():
        stmt = (
            select(Withdrawal)
            .where(Withdrawal.id == withdrawal_id)
            .with_for_update(skip_locked=True)
        )
        row = (await session.execute(stmt)).scalar_one_or_none()
        if row is None or row.status != WithdrawalStatus.PROCESSING.value:
            return PayoutOutcome.SKIPPED  # another worker holds it, or it is not ours to pay
        outcome = await _attempt(deps, session, row)
        notices = _finished_notices(row, outcome)
    await deps.notifier.notify_all(notices)
    return outcome


def _finished_notices(row: Withdrawal, outcome: PayoutOutcome) -> list[Notice]:
    """The player hears when a payout is paid or finally failed (funds returned)."""
    kinds = {PayoutOutcome.PAID: NoticeKind.WITHDRAWAL_PAID}
    kinds[PayoutOutcome.FAILED] = NoticeKind.WITHDRAWAL_FAILED
    if outcome not in kinds:
        return []
    return [Notice(row.user_id, kinds[outcome], WithdrawalView.of(row).to_json())]


async def _attempt(deps: WithdrawalDeps, session: AsyncSession, row: Withdrawal) -> PayoutOutcome:
    assert deps.gateway is not None
    coin = deps.coins.get(row.coin)
    key = payout_key(row.id, row.attempts)
    info: PayoutInfo | None
    try:
        info = await _earlier_payout(deps.gateway, row)
        if info is None:
            info = await deps.gateway.find_payout(key)
        if info is None:
            assert row.crypto_amount is not None
            # numeric(38, 18) comes back with 18 places; the gateway gets the coin's precision.
            amount = row.crypto_amount.quantize(Decimal(1).scaleb(-coin.decimals))
            info = await deps.gateway.create_payout(coin, row.address, amount, key)
    except GatewayRejected as exc:
        log.warning("payout %s refused by the gateway: %s", key, exc)
        return await _failed_attempt(
            deps, session, row, f"gateway refused: {exc.message}", final=True
        )
    except GatewayError as exc:
        log.warning("payout %s: gateway unavailable: %s", key, exc)
        return await _failed_attempt(
            deps, session, row, f"gateway unavailable: {exc.message}", outcome_known=False
        )
    return await _apply_payout(deps, session, row, info)


async def _earlier_payout(gateway: PaymentGateway, row: Withdrawal) -> PayoutInfo | None:
    """A payout of an earlier attempt that the gateway sent or is still sending.

    An attempt counted as failed because the gateway did not answer (a lost answer to the
    payout request) may still have paid: that payout is the withdrawal's, and no new one
    is made while it is sent or under way.
    """
    for attempt in range(row.attempts):
        found = await gateway.find_payout(payout_key(row.id, attempt))
        if found is not None and found.state in (PayoutState.SENT, PayoutState.PENDING):
            return found
    return None


async def _apply_payout(
    deps: WithdrawalDeps, session: AsyncSession, row: Withdrawal, info: PayoutInfo
) -> PayoutOutcome:
    """What the gateway says of the current attempt's payout (a lookup or its callback)."""
    now = deps.clock()
    row.payout_id = info.payout_id
    if info.state is PayoutState.SENT:
        row.tx_hash = info.tx_hash
        await _step(session, row, WithdrawalEvent.PAID, now)
        return PayoutOutcome.PAID
    if info.state is PayoutState.REJECTED:
        reason = "the gateway rejected the payout"
        return await _failed_attempt(deps, session, row, reason, final=True)
    if info.state is PayoutState.FAILED:
        return await _failed_attempt(deps, session, row, "the gateway reported the payout failed")
    row.due_at = now + PENDING_POLL
    row.updated_at = now
    return PayoutOutcome.WAITING


async def _failed_attempt(
    deps: WithdrawalDeps,
    session: AsyncSession,
    row: Withdrawal,
    reason: str,
    *,
    final: bool = False,
    outcome_known: bool = True,
) -> PayoutOutcome:
    """Count a failed attempt: retry with backoff, or give up.

    Giving up after a known failure returns the funds (``failed``). Giving up after an
    attempt whose outcome is unknown (the gateway unreachable, so neither this attempt's
    payout nor the earlier ones could be looked up) holds the withdrawal for an operator.
    """
    now = deps.clock()
    row.attempts += 1
    row.payout_id = None
    if not outcome_known and deps.retry.gives_up(row.attempts):
        log.error(
            "withdrawal %s held after %s attempts: payout outcome unknown (%s); "
            "check the gateway, then approve or reject it",
            row.id,
            row.attempts,
            reason,
        )
        await _step(session, row, WithdrawalEvent.REVIEW, now, reason=f"held: {reason}")
        row.due_at = now  # once approved, paid at the scheduler's next run
        return PayoutOutcome.HELD
    if final or deps.retry.gives_up(row.attempts):
        await _step(session, row, WithdrawalEvent.FAIL, now, reason=reason)
        return PayoutOutcome.FAILED
    await _step(session, row, WithdrawalEvent.RETRY, now, reason=reason)
    row.due_at = now + timedelta(seconds=deps.retry.delay_s(row.attempts))
    return PayoutOutcome.RETRY


# --- payout callbacks ---------------------------------------------------------------------

_PAYOUT_KEY = re.compile(r"withdrawal-([1-9][0-9]{0,17})-([0-9]{1,4})")


class PayoutNotice(SignedCallback):
    """The gateway's callback when a payout changes status (NOWPayments' field names).

    ``unique_external_id`` is our key of the attempt (`payout_key`); ``updated_at`` is when
    the gateway changed the status (an ISO time with its offset, or epoch milliseconds).
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    what = "payout notice"

    id: StrictInt | StrictStr
    status: str = Field(min_length=1, max_length=32)
    unique_external_id: str = Field(min_length=1, max_length=128)
    hash: str | None = Field(default=None, max_length=128, pattern=r"^[0-9A-Za-z]+$")
    updated_at: AwareDatetime

    def stamped_at_ms(self) -> int:
        return int(self.updated_at.timestamp() * 1000)

    def info(self) -> PayoutInfo:
        return PayoutInfo(str(self.id), payout_state(self.status), self.hash)


@dataclass(frozen=True)
class PayoutNoticeResult:
    outcome: PayoutOutcome
    withdrawal_id: int
    status: str
    notices: tuple[Notice, ...] = ()
    """What the player should hear (sent after the commit, off the answer path)."""


async def record_payout_notice(
    deps: WithdrawalDeps, body: bytes, signature: str | None
) -> PayoutNoticeResult:
    """Apply one payout callback; its notices are left to the caller to send.

    Checked exactly like a deposit notice (`verify_callback`). The withdrawal is locked and
    the callback counts only if it is about the attempt being paid now, while the withdrawal
    is ``processing``: then it takes the same path as a lookup's answer (`_apply_payout`):
    sent → paid (ledger completed); failed → a failed attempt (retried, the last one returns
    the funds); rejected → failed at once, funds returned. Anything else — a duplicate, an
    older status arriving late, a previous attempt, a withdrawal already finished — changes
    nothing (``skipped``): a status only moves forward, and each ledger effect has its key.
    """
    notice = verify_callback(body, signature, deps.money, deps.clock(), PayoutNotice)
    matched = _PAYOUT_KEY.fullmatch(notice.unique_external_id)
    if matched is None:
        raise PayoutNotFound("no payout of ours has this key", {"key": notice.unique_external_id})
    withdrawal_id, attempt = int(matched[1]), int(matched[2])
    info = notice.info()
    async with deps.sessions() as session, session.begin():
        try:
            row = await _locked(session, withdrawal_id)
        except WithdrawalNotFound as exc:
            raise PayoutNotFound(
                "no payout of ours has this key", {"key": notice.unique_external_id}
            ) from exc
        current = row.status == WithdrawalStatus.PROCESSING.value and attempt == row.attempts
        if not current:
            if info.state is PayoutState.SENT and attempt != row.attempts:
                log.error(
                    "payout %s reported sent, but withdrawal %s is on attempt %s (%s): "
                    "check it at the gateway",
                    notice.unique_external_id,
                    row.id,
                    row.attempts,
                    row.status,
                )
            return PayoutNoticeResult(PayoutOutcome.SKIPPED, row.id, row.status)
        if info.state is PayoutState.PENDING:
            return PayoutNoticeResult(PayoutOutcome.WAITING, row.id, row.status)
        outcome = await _apply_payout(deps, session, row, info)
        result = PayoutNoticeResult(
            outcome, row.id, row.status, tuple(_finished_notices(row, outcome))
        )
    return result
