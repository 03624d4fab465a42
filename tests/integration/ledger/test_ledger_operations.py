"""Every ledger operation against real PostgreSQL: balances, entries, refusals, idempotency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from holdem.adapters.orm.ledger import LedgerTransaction
from holdem.adapters.orm.users import User
from holdem.ledger.accounts import AccountKind
from holdem.ledger.transactions import TransactionKind
from holdem.services import ledger
from holdem.services.ledger_errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidCursor,
    InvalidLedgerRequest,
    StaleFencingToken,
    UnknownAccountOwner,
    WithdrawalAlreadyFinished,
    WithdrawalNotFound,
)


async def test_a_deposit_credits_the_wallet_and_keeps_its_crypto_details(world):
    user = await world.user()
    posted = await world.service.credit_deposit(
        key="deposit:BTC:abc:0",
        user_id=user,
        amount=1_234_567,
        coin="BTC",
        crypto_amount=Decimal("0.01234567"),
        rate_krw=Decimal("100000000"),
        tx_hash="abc",
        address="bc1qaddr",
    )
    assert posted.kind is TransactionKind.CRYPTO_DEPOSIT
    assert posted.balance_after(AccountKind.WALLET, user) == 1_234_567
    assert posted.metadata["crypto_amount"] == "0.01234567"
    assert posted.metadata["rate"] == "1 BTC = 100000000 KRW"
    assert sum(e.amount for e in posted.entries) == 0
    balances = await world.service.balances(user)
    assert (balances.wallet, balances.pending_withdrawal, balances.total) == (
        1_234_567,
        0,
        1_234_567,
    )
    await world.assert_sound()


async def test_buy_in_top_up_hand_and_cash_out_move_chips_between_wallet_and_seats(world):
    alice, bob = await world.user(), await world.user()
    table = await world.table()
    await world.deposit(alice, 500_000)
    await world.deposit(bob, 500_000)
    await world.service.buy_in(key="bi:a", user_id=alice, table_id=table, amount=200_000)
    await world.service.buy_in(key="bi:b", user_id=bob, table_id=table, amount=100_000)
    await world.service.buy_in(key="top:b", user_id=bob, table_id=table, amount=50_000)
    settled = await world.service.settle_hand(
        table_id=table,
        hand_id=1,
        fencing_token=7,
        nets={alice: 19_000, bob: -20_000},
        rake=1_000,
        rake_shares={alice: 500, bob: 500},
    )
    assert settled.balance_after(AccountKind.SEAT, alice, table) == 219_000
    assert settled.balance_after(AccountKind.SEAT, bob, table) == 130_000
    assert [e.amount for e in settled.entries if e.account_kind is AccountKind.HOUSE_RAKE] == [
        1_000
    ]
    await world.service.cash_out(key="co:a", user_id=alice, table_id=table, amount=219_000)
    a, b = await world.service.balances(alice), await world.service.balances(bob)
    assert (a.wallet, dict(a.seats)) == (519_000, {})
    assert (b.wallet, dict(b.seats)) == (350_000, {table: 130_000})
    report = await world.service.conservation_report()
    assert report.ok
    assert report.totals.rake == 1_000
    assert report.totals.player_balances == 999_000
    await world.assert_sound()


async def test_withdrawal_reserve_then_complete_pays_out_from_pending(world):
    user = await world.user()
    await world.deposit(user, 300_000)
    reserved = await world.service.reserve_withdrawal(
        key="wd:1", user_id=user, amount=100_000, coin="BTC", address="bc1qout", withdrawal_id=None
    )
    mid = await world.service.balances(user)
    assert (mid.wallet, mid.pending_withdrawal) == (200_000, 100_000)
    paid = await world.service.complete_withdrawal(
        key="wd:1:complete",
        reserve_transaction_id=reserved.transaction_id,
        crypto_amount=Decimal("0.001"),
        rate_krw=Decimal("100000000"),
        tx_hash="0xpaid",
    )
    assert paid.metadata["tx_hash"] == "0xpaid"
    end = await world.service.balances(user)
    assert (end.wallet, end.pending_withdrawal) == (200_000, 0)
    with pytest.raises(WithdrawalAlreadyFinished):
        await world.service.return_withdrawal(
            key="wd:1:return", reserve_transaction_id=reserved.transaction_id, reason="late"
        )
    report = await world.service.conservation_report()
    assert report.ok
    assert report.totals.paid_withdrawals == 100_000


async def test_a_returned_withdrawal_goes_back_to_the_wallet_once(world):
    user = await world.user()
    await world.deposit(user, 50_000)
    reserved = await world.service.reserve_withdrawal(
        key="wd:2", user_id=user, amount=40_000, coin="ETH", address="0xabc"
    )
    await world.service.return_withdrawal(
        key="wd:2:return", reserve_transaction_id=reserved.transaction_id, reason="rejected"
    )
    assert (await world.service.balances(user)).wallet == 50_000
    with pytest.raises(WithdrawalAlreadyFinished):
        await world.service.complete_withdrawal(
            key="wd:2:complete",
            reserve_transaction_id=reserved.transaction_id,
            crypto_amount=Decimal("0.01"),
            rate_krw=Decimal("4000000"),
            tx_hash="0x1",
        )
    with pytest.raises(WithdrawalNotFound):
        await world.service.return_withdrawal(key="x", reserve_transaction_id=999_999, reason="r")
    await world.assert_sound()


async def test_rakeback_and_adjustments_are_credited_and_audited(world):
    user, operator = await world.user(), await world.user()
    await world.service.credit_rakeback(
        key="rakeback:1:2026-11-16", user_id=user, amount=7_000, week_start=date(2026, 11, 16)
    )
    await world.service.adjust(
        key="adj:1", user_id=user, amount=-2_000, reason="duplicate bonus", operator_id=operator
    )
    with pytest.raises(InvalidLedgerRequest):
        await world.service.adjust(
            key="adj:2", user_id=user, amount=5, reason="  ", operator_id=operator
        )
    report = await world.service.conservation_report()
    assert report.ok
    assert (report.totals.rakeback, report.totals.adjustments) == (7_000, -2_000)
    assert (await world.service.balances(user)).wallet == 5_000


async def test_no_operation_overdraws_a_player_account(world):
    user = await world.user()
    table = await world.table()
    await world.deposit(user, 10_000)
    with pytest.raises(InsufficientFunds) as caught:
        await world.service.buy_in(key="bi:x", user_id=user, table_id=table, amount=10_001)
    assert caught.value.code == "insufficient_funds"
    with pytest.raises(InsufficientFunds):
        await world.service.cash_out(key="co:x", user_id=user, table_id=table, amount=1)
    with pytest.raises(InsufficientFunds):
        await world.service.adjust(
            key="adj:x", user_id=user, amount=-10_001, reason="r", operator_id=user
        )
    assert (await world.service.balances(user)).wallet == 10_000
    await world.assert_sound()


@pytest.mark.parametrize(
    "amount",
    [0, -5, 1.5, True, "100", 10**16],
    ids=["zero", "negative", "float", "bool", "str", "huge"],
)
async def test_bad_amounts_are_refused_before_anything_is_written(world, amount):
    user = await world.user()
    table = await world.table()
    with pytest.raises(InvalidLedgerRequest):
        await world.service.buy_in(key="bi:bad", user_id=user, table_id=table, amount=amount)
    async with world.container.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


async def test_bad_keys_and_unknown_owners_are_refused(world):
    with pytest.raises(InvalidLedgerRequest):
        await world.deposit(await world.user(), 1_000, key="has spaces")
    with pytest.raises(UnknownAccountOwner):
        await world.deposit(123_456, 1_000)


async def test_same_key_same_request_returns_the_original_result(world):
    user = await world.user()
    first = await world.deposit(user, 20_000, key="deposit:BTC:dup:0")
    again = await world.deposit(user, 20_000, key="deposit:BTC:dup:0")
    assert again.replayed
    assert not first.replayed
    assert again.transaction_id == first.transaction_id
    assert again.entries == first.entries
    assert (await world.service.balances(user)).wallet == 20_000


async def test_same_key_with_other_parameters_is_an_error_with_a_stable_code(world):
    user = await world.user()
    table = await world.table()
    await world.deposit(user, 20_000)
    await world.service.buy_in(key="bi:k", user_id=user, table_id=table, amount=5_000)
    with pytest.raises(IdempotencyKeyReused) as caught:
        await world.service.buy_in(key="bi:k", user_id=user, table_id=table, amount=6_000)
    assert caught.value.code == "idempotency_key_reused"
    assert (await world.service.balances(user)).wallet == 15_000


async def test_a_stale_fencing_token_cannot_settle_a_hand(world):
    a, b = await world.user(), await world.user()
    table = await world.table()
    for user in (a, b):
        await world.deposit(user, 100_000)
        await world.service.buy_in(key=f"bi:{user}", user_id=user, table_id=table, amount=100_000)
    await world.service.settle_hand(
        table_id=table, hand_id=1, fencing_token=5, nets={a: 1_000, b: -1_000}, rake=0
    )
    await world.service.settle_hand(
        table_id=table, hand_id=2, fencing_token=6, nets={a: -500, b: 500}, rake=0
    )
    with pytest.raises(StaleFencingToken) as caught:
        await world.service.settle_hand(
            table_id=table, hand_id=3, fencing_token=5, nets={a: 2_000, b: -2_000}, rake=0
        )
    assert caught.value.details["token"] == 6
    # A hand already settled replays, whoever asks again (a new owner resuming the hand).
    replay = await world.service.settle_hand(
        table_id=table, hand_id=1, fencing_token=9, nets={a: 1_000, b: -1_000}, rake=0
    )
    assert replay.replayed
    assert (await world.service.balances(a)).seats[table] == 100_500


async def test_unbalanced_settlements_are_refused(world):
    a, b = await world.user(), await world.user()
    table = await world.table()
    with pytest.raises(InvalidLedgerRequest):
        await world.service.settle_hand(
            table_id=table, hand_id=1, fencing_token=1, nets={a: 1_000, b: -900}, rake=0
        )
    with pytest.raises(InvalidLedgerRequest):
        await world.service.settle_hand(
            table_id=table,
            hand_id=1,
            fencing_token=1,
            nets={a: 900, b: -1_000},
            rake=100,
            rake_shares={a: 10},
        )


async def test_a_refusal_leaves_the_callers_transaction_usable(world):
    user = await world.user()
    table = await world.table()
    await world.deposit(user, 10_000)
    async with world.container.sessions.begin() as session:
        with pytest.raises(InsufficientFunds):
            await ledger.buy_in(session, key="bi:1", user_id=user, table_id=table, amount=50_000)
        posted = await ledger.buy_in(
            session, key="bi:2", user_id=user, table_id=table, amount=4_000
        )
        await session.execute(text("select 1"))
    assert not posted.replayed
    assert (await world.service.balances(user)).seats == {table: 4_000}


async def test_operations_compose_in_one_caller_transaction_and_roll_back_together(world):
    user = await world.user()
    table = await world.table()
    await world.deposit(user, 10_000)

    async def compose_then_fail() -> None:
        async with world.container.sessions.begin() as session:
            await ledger.buy_in(session, key="c:1", user_id=user, table_id=table, amount=3_000)
            await ledger.cash_out(session, key="c:2", user_id=user, table_id=table, amount=1_000)
            raise LookupError("the caller fails after posting")

    with pytest.raises(LookupError):
        await compose_then_fail()
    assert (await world.service.balances(user)).wallet == 10_000
    async with world.container.sessions.begin() as session:
        await ledger.buy_in(session, key="c:1", user_id=user, table_id=table, amount=3_000)
        await ledger.cash_out(session, key="c:2", user_id=user, table_id=table, amount=1_000)
    after = await world.service.balances(user)
    assert (after.wallet, after.seats) == (8_000, {table: 2_000})
    await world.assert_sound()


async def test_the_statement_pages_newest_first_with_amounts_and_balances(world):
    user = await world.user()
    table = await world.table()
    await world.deposit(user, 100_000)
    for n in range(5):
        await world.service.buy_in(key=f"s:{n}", user_id=user, table_id=table, amount=1_000)
    first = await world.service.transactions(user, limit=4)
    assert len(first.items) == 4
    assert first.next_cursor is not None
    rest = await world.service.transactions(user, cursor=first.next_cursor, limit=50)
    lines = first.items + rest.items
    assert len(lines) == 11  # one deposit line, two lines per buy-in
    assert [line.entry_id for line in lines] == sorted((x.entry_id for x in lines), reverse=True)
    assert rest.next_cursor is None
    deposit = lines[-1]
    assert (deposit.kind, deposit.amount_krw, deposit.balance_after) == (
        "crypto_deposit",
        100_000,
        100_000,
    )
    assert deposit.metadata["coin"] == "BTC"
    newest_wallet = next(line for line in lines if line.account is AccountKind.WALLET)
    assert newest_wallet.balance_after == 95_000
    only_buy_ins = await world.service.transactions(user, kind="buy_in")
    assert {line.kind for line in only_buy_ins.items} == {"buy_in"}
    with pytest.raises(InvalidCursor):
        await world.service.transactions(user, cursor="not-a-cursor")
    with pytest.raises(InvalidLedgerRequest):
        await world.service.transactions(user, kind="teleport")


async def test_a_reserved_withdrawal_line_shows_when_it_completed(world):
    user = await world.user()
    await world.deposit(user, 30_000)
    reserved = await world.service.reserve_withdrawal(
        key="wd:s", user_id=user, amount=20_000, coin="BTC", address="bc1q"
    )
    pending = await world.service.transactions(user, kind="crypto_withdrawal")
    assert all(line.completed_at is None for line in pending.items)
    await world.service.complete_withdrawal(
        key="wd:s:done",
        reserve_transaction_id=reserved.transaction_id,
        crypto_amount=Decimal("0.0002"),
        rate_krw=Decimal("100000000"),
        tx_hash="txdone",
    )
    done = await world.service.transactions(user, kind="crypto_withdrawal")
    assert all(line.completed_at is not None for line in done.items)


async def test_the_callers_pending_rows_are_flushed_before_money_moves(world):
    async with world.container.sessions.begin() as session:
        session.add(User(id=90_001, email="new@example.test", nickname="new", password_hash="x"))
        posted = await ledger.credit_rakeback(session, key="rb:new", user_id=90_001, amount=10)
    assert posted.balance_after(AccountKind.WALLET, 90_001) == 10
