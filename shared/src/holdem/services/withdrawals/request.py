"""Requesting a withdrawal: validated, quoted at a fresh rate and reserved at once, with the
KYC gate and the AML rules in the same transaction (the package docstring says how)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from holdem.payments.conversion import crypto_for_krw
from holdem.payments.errors import InvalidAddress, UnsupportedCoin
from holdem.payments.rates import RateUnavailable
from holdem.payments.withdrawals import WithdrawalEvent, WithdrawalStatus
from holdem.ports.payments import WithdrawalRow
from holdem.services import aml, errors, kyc, ledger, ledger_errors
from holdem.services.errors import CoinNotAccepted
from holdem.services.ledger_errors import IdempotencyKeyReused
from holdem.services.notifications import Notice, NoticeKind
from holdem.services.withdrawals.model import (
    AML_HOLD_REASON,
    AmountBelowMinimum,
    InsufficientFunds,
    RateUnavailableError,
    WithdrawalAddressInvalid,
    WithdrawalDeps,
    WithdrawalView,
    reserve_key,
    step,
)


@dataclass(frozen=True)
class _Request:
    """A quoted request as it is stored (`holdem.ports.payments.NewWithdrawal`)."""

    user_id: int
    idempotency_key: str
    amount_krw: int
    coin: str
    address: str
    crypto_amount: Decimal
    rate_krw: Decimal
    kyc_hold: bool
    due_at: datetime


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
    async with deps.uow() as uow:
        existing = await uow.withdrawals.by_key(scoped_key)
        if existing is not None:
            return _replay(existing, amount_krw, spec.symbol, canonical)
        if not await uow.withdrawals.user_exists(user_id):
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
    async with deps.uow() as uow:
        # The user's row lock orders this user's requests: each sees the others' amounts in
        # the KYC total.
        kyc_status = await uow.withdrawals.lock_user_kyc_status(user_id)
        if kyc_status is None:  # the account was deleted while the rate was fetched
            raise errors.NotFound("no such user")
        kyc_hold = await kyc.needs_verification(
            uow.withdrawals, user_id, kyc_status, amount_krw, deps.money.kyc_required_above_krw
        )
        request = _Request(
            user_id=user_id,
            idempotency_key=scoped_key,
            amount_krw=amount_krw,
            coin=spec.symbol,
            address=canonical,
            crypto_amount=crypto_amount,
            rate_krw=quote.rate,
            kyc_hold=kyc_hold,
            due_at=now + timedelta(seconds=deps.money.withdrawal_delay_s),
        )
        new_id = await uow.withdrawals.insert(request, WithdrawalStatus.PENDING.value, now)
        if new_id is None:  # the same key raced us and won
            winner = await uow.withdrawals.by_key(scoped_key)
            assert winner is not None
            return _replay(winner, amount_krw, spec.symbol, canonical)
        # Locked funds (over a deposit limit, or credited during an exclusion) leave first.
        locked = (await ledger.balances(uow.ledger, user_id)).locked
        try:
            await ledger.reserve_withdrawal(
                uow.session,
                key=reserve_key(new_id),
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
        row = await uow.withdrawals.get(new_id)
        assert row is not None
        held = await aml.on_withdrawal_requested(uow, deps.aml, row, now)
        if held:
            await step(uow, row, WithdrawalEvent.HOLD, now, reason=AML_HOLD_REASON)
            await aml.mark_held(uow, deps.aml, row)
        view = WithdrawalView.of(row)
    notices = [Notice(user_id, NoticeKind.WITHDRAWAL_REQUESTED, view.to_json())]
    if held:  # the player hears it is held for review, never which rule fired
        notices.append(Notice(user_id, NoticeKind.WITHDRAWAL_HELD, view.to_json()))
    if kyc_hold:
        notices.append(Notice(user_id, NoticeKind.WITHDRAWAL_KYC_REQUIRED, view.to_json()))
    await deps.notifier.notify_all(notices)
    return view


def _replay(row: WithdrawalRow, amount_krw: int, coin: str, address: str) -> WithdrawalView:
    if (row.amount_krw, row.coin, row.address) != (amount_krw, coin, address):
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different withdrawal",
            {"withdrawal_id": row.id},
        )
    return WithdrawalView.of(row)
