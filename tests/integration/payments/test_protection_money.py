"""Player protection where money moves (docs/compliance.md): a deposit over a deposit limit,
or during a break or self-exclusion, is credited *locked* through the gateway's webhook;
locked funds are never playable, always withdrawable, and released only within the limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from gateway_sim.app import deliveries

from holdem.adapters.orm.tables import PokerTable, Seat
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.ledger.accounts import AccountKind
from holdem.services import deposits, ledger, protection
from holdem.services import withdrawals as wd
from holdem.services.deposits import Outcome
from holdem.services.ledger_errors import InsufficientFunds
from holdem.services.notifications import NoticeKind
from holdem.services.table_runtime import TableMoney
from holdem.services.withdrawals import OperatorAction
from tests.payments_support import SECRET, balances, conservation_ok, make_user, utc_now

BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
DEPOSIT = 1_234_567  # 0.01234567 BTC at the simulator's ₩100,000,000


async def _deposit(payments, user_id: int, amount: str = "0.01234567"):
    """A deposit through the gateway webhook's use case, up to its crediting delivery."""
    address = (await deposits.deposit_address(payments.deposits, user_id, "BTC")).address
    result = None
    for delivery in deliveries(SECRET, address=address, coin="BTC", amount=amount):
        result = await deposits.receive_notice(
            payments.deposits, delivery.body, delivery.headers.get("x-nowpayments-sig")
        )
    assert result is not None
    assert result.outcome is Outcome.CREDITED
    return result


@pytest.fixture
async def poker_table(container) -> int:
    async with container.sessions() as session, session.begin():
        row = PokerTable(
            name="protection",
            small_blind=1_000,
            big_blind=2_000,
            max_seats=6,
            min_buy_in=80_000,
            max_buy_in=200_000,
            rake_rate_bps=500,
            rake_cap=6_000,
        )
        session.add(row)
        await session.flush()
        return row.id


async def _limit(container, user_id: int, **limits) -> None:
    async with container.sessions() as session, session.begin():
        await protection.set_limits(
            SqlTransaction(session), user_id, limits, utc_now(), timedelta(hours=24)
        )


async def test_a_deposit_over_the_daily_limit_is_credited_with_the_excess_locked_and_told(
    payments, container
):
    user = await make_user(container)
    await _limit(container, user, deposit_day=1_000_000, deposit_month=5_000_000)
    result = await _deposit(payments, user)
    held = await balances(container, user)
    assert (held.wallet, held.locked, held.total) == (1_000_000, 234_567, DEPOSIT)
    kinds = [notice.kind for notice in result.notices]
    assert kinds == [NoticeKind.DEPOSIT_CREDITED, NoticeKind.DEPOSIT_LOCKED]
    assert result.notices[1].data["locked_krw"] == 234_567
    # A second deposit the same day: the daily room is used up, all of it is locked.
    await _deposit(payments, user, "0.00100000")
    held = await balances(container, user)
    assert (held.wallet, held.locked) == (1_000_000, 334_567)
    async with container.sessions() as session:
        figures = await protection.usage(SqlTransaction(session), user, utc_now())
    assert figures.deposited == {"day": 1_000_000, "week": 1_000_000, "month": 1_000_000}
    await conservation_ok(container)


async def test_every_deposit_during_a_break_is_credited_locked(payments, container):
    user = await make_user(container)
    async with container.sessions() as session, session.begin():
        await protection.exclude(SqlTransaction(session), user, "24h", utc_now())
    await _deposit(payments, user)
    held = await balances(container, user)
    assert (held.wallet, held.locked) == (0, DEPOSIT)
    await conservation_ok(container)


async def test_locked_funds_are_never_playable_but_are_withdrawable_and_returned_locked(
    payments, container, poker_table
):
    user = await make_user(container)
    operator = await make_user(container, role="operator")
    await _limit(container, user, deposit_week=100_000)
    await _deposit(payments, user)  # 100,000 playable, 1,134,567 locked
    with pytest.raises(InsufficientFunds):
        await TableMoney(container.transactions, container.settlements).sit(
            poker_table, 0, user, 200_000, key="sit-locked"
        )
    assert (await balances(container, user)).seats == {}

    deps = payments.withdrawals
    view = await wd.request_withdrawal(
        deps, user, amount_krw=1_200_000, coin="BTC", address=BTC_ADDRESS, idempotency_key="w1"
    )
    held = await balances(container, user)
    # Locked funds leave first; the rest comes from the wallet.
    assert (held.wallet, held.locked, held.pending_withdrawal) == (34_567, 0, 1_200_000)
    await wd.decide(deps, view.id, operator, OperatorAction.REJECT, "test")
    held = await balances(container, user)
    assert (held.wallet, held.locked, held.pending_withdrawal) == (100_000, 1_134_567, 0)
    async with container.sessions() as session:
        page = await ledger.transactions(SqlLedgerReads(session), user, limit=10)
    returned = [line for line in page.items if line.transaction_kind == "withdrawal_return"]
    assert {line.account for line in returned} == {
        AccountKind.PENDING_WITHDRAWAL,
        AccountKind.WALLET,
        AccountKind.LOCKED,
    }
    await conservation_ok(container)


async def test_locked_funds_are_released_only_as_far_as_the_deposit_limits_allow(
    payments, container
):
    user = await make_user(container)
    await _limit(container, user, deposit_day=1_000_000)
    await _deposit(payments, user)
    now = utc_now()
    async with container.sessions() as session, session.begin():
        assert await protection.release_locked(SqlTransaction(session), user, now, key="r1") is None
    tomorrow = now + timedelta(days=1, seconds=1)
    async with container.sessions() as session, session.begin():
        posted = await protection.release_locked(SqlTransaction(session), user, tomorrow, key="r2")
    assert posted is not None
    held = await balances(container, user)
    assert (held.wallet, held.locked) == (DEPOSIT, 0)
    await conservation_ok(container)


async def test_two_sessions_creating_the_players_row_at_once_both_apply(container):
    """The second waits on the first's uncommitted row, then locks it (no duplicate-key
    error): cosmicpython's two real sessions racing."""
    user = await make_user(container)
    now = utc_now()

    async def second() -> None:
        async with container.sessions() as session, session.begin():
            await protection.set_limits(
                SqlTransaction(session), user, {"loss_day": 40_000}, now, timedelta(0)
            )

    async with container.sessions() as first, first.begin():
        await protection.set_limits(
            SqlTransaction(first), user, {"deposit_day": 300_000}, now, timedelta(0)
        )
        racing = asyncio.create_task(second())
        done, _ = await asyncio.wait([racing], timeout=0.5)
        assert not done  # blocked behind the first's row until it commits
    await racing
    async with container.sessions() as session:
        view = await protection.load(SqlTransaction(session), user, now)
    assert (view.limits["deposit_day"], view.limits["loss_day"]) == (300_000, 40_000)


async def test_a_session_runs_across_tables_and_breaks_shorter_than_the_session_break(
    container, poker_table
):
    user = await make_user(container)
    now = utc_now()
    minutes = lambda n: now - timedelta(minutes=n)  # noqa: E731
    async with container.sessions() as session, session.begin():
        for seat_no, (sat, left) in enumerate(
            [(minutes(180), minutes(150)), (minutes(100), minutes(60)), (minutes(50), None)]
        ):
            session.add(
                Seat(
                    table_id=poker_table,
                    seat_no=seat_no,
                    user_id=user,
                    sat_at=sat,
                    left_at=left,
                )
            )
    async with container.sessions() as session:
        played = await protection.session_played_s(
            SqlTransaction(session), user, now, timedelta(minutes=15)
        )
        # 150 → 100 is a 50-minute break: the session began at 100 minutes ago.
        assert played == 100 * 60
        longer = await protection.session_played_s(
            SqlTransaction(session), user, now, timedelta(minutes=60)
        )
        assert longer == 180 * 60
