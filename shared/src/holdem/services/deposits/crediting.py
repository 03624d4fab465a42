"""Recording gateway notices and crediting confirmed deposits exactly once (the package
docstring says how)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from holdem.config import AmlSettings
from holdem.ledger.amounts import MAX_WON
from holdem.payments.coins import Coin
from holdem.payments.conversion import krw_for_crypto
from holdem.payments.errors import UnsupportedCoin
from holdem.payments.rates import Quote, RateUnavailable
from holdem.ports.payments import DepositRepository, DepositRow, PaymentsUnitOfWork
from holdem.services import aml, ledger, protection
from holdem.services.deposits.notices import (
    DepositDeps,
    DepositNotice,
    DepositOverLimit,
    DepositResult,
    Outcome,
    parse_notice,
)
from holdem.services.errors import CoinNotAccepted
from holdem.services.notifications import Notice, NoticeKind

log = logging.getLogger(__name__)


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


def _nothing_new(deposit: DepositRow, confirmations: int, coin: Coin) -> bool:
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
    deposits: DepositRepository,
    notice: DepositNotice,
    coin: Coin,
    confirmations: int,
    now: datetime,
    seen: DepositRow | None,
) -> tuple[DepositRow, bool]:
    """The output's row, locked: (row, inserted now)."""
    output = (coin.symbol, notice.payin_hash, notice.output_index)
    if seen is not None:
        return await deposits.lock(*output), False
    inserted = await deposits.insert(coin.symbol, notice, confirmations, now)
    if inserted is not None:  # our uncommitted insert: nobody else can lock it
        return inserted, True
    # A concurrent delivery of the same output inserted it first: wait for its lock.
    return await deposits.lock(*output), False


async def _record(deps: DepositDeps, notice: DepositNotice, coin: Coin) -> DepositResult:
    """One transaction. A delivery with nothing new only reads (no lock, nothing to flush at
    commit): most of a storm is repeats. Otherwise the row is locked or inserted, and its
    confirmations grow, or it is credited."""
    now = deps.clock()
    confirmations = notice.confirmations_for(coin)
    async with deps.uow() as uow:
        seen = await uow.deposits.find(coin.symbol, notice.payin_hash, notice.output_index)
        if seen is not None and _nothing_new(seen, confirmations, coin):
            return _repeat(seen)
        deposit, is_new = await _lock_or_insert(
            uow.deposits, notice, coin, confirmations, now, seen
        )
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
        credited = await _credit(uow, deposit, coin, quote, now, deps.aml, notice if grew else None)
    if deposit.status == "over_limit":
        return DepositResult(Outcome.OVER_LIMIT, deposit.id)
    return DepositResult(Outcome.CREDITED, deposit.id, deposit.amount_krw, credited)


def _repeat(deposit: DepositRow) -> DepositResult:
    """A delivery of an output already settled: credited, or refused as over the limit."""
    if deposit.status == "over_limit":
        return DepositResult(Outcome.OVER_LIMIT, deposit.id)
    return DepositResult(Outcome.DUPLICATE, deposit.id, deposit.amount_krw)


def _grow(deposit: DepositRow, notice: DepositNotice, confirmations: int, now: datetime) -> None:
    """More confirmations of a pending output (its amount as the latest notice says)."""
    deposit.confirmations = confirmations
    deposit.crypto_amount = notice.actually_paid
    deposit.updated_at = now


def _notice_data(deposit: DepositRow, coin: Coin) -> dict[str, Any]:
    return {
        "deposit_id": deposit.id,
        "coin": coin.symbol,
        "crypto_amount": str(deposit.crypto_amount),
        "confirmations": deposit.confirmations,
        "required_confirmations": coin.min_confirmations,
        "tx_hash": deposit.tx_hash,
    }


async def _credit(
    uow: PaymentsUnitOfWork,
    deposit: DepositRow,
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
        _, locked = await protection.deposit_split(uow, deposit.user_id, amount_krw, now)
        posted = await ledger.credit_deposit(
            uow.session,
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
            uow,
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
        async with deps.uow() as uow:
            waiting = await uow.deposits.has_waiting(coin.symbol, coin.min_confirmations)
        if not waiting:
            continue
        quote = await _quote_or_none(deps, coin)
        if quote is None:
            continue
        async with deps.uow() as uow:
            rows = await uow.deposits.lock_waiting(coin.symbol, coin.min_confirmations, limit)
            for deposit in rows:
                notices += await _credit(uow, deposit, coin, quote, deps.clock(), deps.aml)
                credited += deposit.status == "credited"
    await deps.notifier.notify_all(notices)
    return credited
