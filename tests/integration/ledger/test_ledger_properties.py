"""Random sequences of every operation keep every invariant (hypothesis against PostgreSQL).

A plain-Python model predicts each balance and whether each operation must succeed; after
each sequence the database must agree with the model, pass every conservation rule, and
its audit chains must verify.
"""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from holdem.bootstrap import bootstrap
from holdem.services.ledger_errors import InsufficientFunds, InvalidLedgerRequest

USERS = 3
amounts = st.integers(1, 60_000)
user = st.integers(0, USERS - 1)
operation = st.one_of(
    st.tuples(st.just("deposit"), user, amounts),
    st.tuples(st.just("buy_in"), user, amounts),
    st.tuples(st.just("cash_out"), user, amounts),
    st.tuples(st.just("reserve"), user, amounts),
    st.tuples(st.just("complete"), st.integers(0, 5)),
    st.tuples(st.just("return"), st.integers(0, 5)),
    st.tuples(
        st.just("settle"),
        user,
        st.lists(st.integers(0, 30_000), min_size=USERS, max_size=USERS),
        st.integers(0, 100),
    ),
    st.tuples(st.just("rakeback"), user, amounts),
    st.tuples(st.just("adjust"), user, st.integers(-30_000, 30_000).filter(bool)),
    st.tuples(st.just("replay"), st.integers(0, 20)),
)
_run = itertools.count(1)


class Model:
    def __init__(self) -> None:
        self.wallet = [0] * USERS
        self.seat = [0] * USERS
        self.pending = [0] * USERS
        self.reservations: list[tuple[int, int, int]] = []  # (tx id, user, amount)
        self.finished: set[int] = set()


async def _scenario(settings_, ops) -> None:
    container = bootstrap(settings_)
    service = container.ledger
    run = next(_run)
    try:
        async with container.sessions.begin() as session:
            users = [
                (
                    await session.execute(
                        text(
                            "insert into users (email, nickname, password_hash) "
                            "values (:e, :n, 'x') returning id"
                        ),
                        {"e": f"prop{run}-{i}@example.test", "n": f"prop{run}-{i}"},
                    )
                ).scalar_one()
                for i in range(USERS)
            ]
            table = (
                await session.execute(
                    text(
                        "insert into poker_tables (name, small_blind, big_blind, max_seats, "
                        "min_buy_in, max_buy_in, rake_rate_bps, rake_cap) "
                        "values ('p', 1, 2, 6, 1, 2, 0, 0) returning id"
                    )
                )
            ).scalar_one()
        model = Model()
        done: list[tuple[str, dict]] = []  # succeeded calls, for replays
        hand = itertools.count(1)
        for n, op in enumerate(ops):
            key = f"p{run}:{n}"
            name = op[0]
            if name == "replay":
                if not done:
                    continue
                method, kwargs = done[op[1] % len(done)]
                posted = await getattr(service, method)(**kwargs)
                assert posted.replayed
                continue
            call: tuple[str, dict] | None = None
            expect_ok = True
            if name == "deposit":
                _, u, amount = op
                call = (
                    "credit_deposit",
                    {
                        "key": key,
                        "user_id": users[u],
                        "amount": amount,
                        "coin": "USDT",
                        "crypto_amount": Decimal(amount) / 1500,
                        "rate_krw": Decimal(1500),
                        "tx_hash": key,
                        "address": "0xaddr",
                    },
                )
                model.wallet[u] += amount
            elif name in ("buy_in", "cash_out"):
                _, u, amount = op
                source = model.wallet if name == "buy_in" else model.seat
                target = model.seat if name == "buy_in" else model.wallet
                expect_ok = source[u] >= amount
                if expect_ok:
                    source[u] -= amount
                    target[u] += amount
                call = (
                    name,
                    {"key": key, "user_id": users[u], "table_id": table, "amount": amount},
                )
            elif name == "reserve":
                _, u, amount = op
                expect_ok = model.wallet[u] >= amount
                if expect_ok:
                    model.wallet[u] -= amount
                    model.pending[u] += amount
                call = (
                    "reserve_withdrawal",
                    {
                        "key": key,
                        "user_id": users[u],
                        "amount": amount,
                        "coin": "USDT",
                        "address": "0x",
                    },
                )
            elif name in ("complete", "return"):
                open_ones = [r for r in model.reservations if r[0] not in model.finished]
                if not open_ones:
                    continue
                tx_id, u, amount = open_ones[op[1] % len(open_ones)]
                model.finished.add(tx_id)
                model.pending[u] -= amount
                if name == "return":
                    model.wallet[u] += amount
                    call = (
                        "return_withdrawal",
                        {"key": key, "reserve_transaction_id": tx_id, "reason": "rejected"},
                    )
                else:
                    call = (
                        "complete_withdrawal",
                        {
                            "key": key,
                            "reserve_transaction_id": tx_id,
                            "crypto_amount": Decimal(1),
                            "rate_krw": Decimal(amount),
                            "tx_hash": key,
                        },
                    )
            elif name == "settle":
                _, winner, losses, rake_pct = op
                losses = [0 if i == winner else loss for i, loss in enumerate(losses)]
                total = sum(losses)
                rake = total * rake_pct // 1000
                nets = {users[i]: -loss for i, loss in enumerate(losses) if loss}
                nets[users[winner]] = total - rake
                kwargs = {
                    "table_id": table,
                    "hand_id": next(hand),
                    "fencing_token": 1,
                    "nets": nets,
                    "rake": rake,
                }
                if total == 0:
                    with pytest.raises(InvalidLedgerRequest):
                        await service.settle_hand(**kwargs)
                    continue
                expect_ok = all(model.seat[i] >= loss for i, loss in enumerate(losses))
                if expect_ok:
                    for i, loss in enumerate(losses):
                        model.seat[i] -= loss
                    model.seat[winner] += total - rake
                call = ("settle_hand", kwargs)
            elif name == "rakeback":
                _, u, amount = op
                model.wallet[u] += amount
                call = ("credit_rakeback", {"key": key, "user_id": users[u], "amount": amount})
            elif name == "adjust":
                _, u, amount = op
                expect_ok = model.wallet[u] + amount >= 0
                if expect_ok:
                    model.wallet[u] += amount
                call = (
                    "adjust",
                    {
                        "key": key,
                        "user_id": users[u],
                        "amount": amount,
                        "reason": "p",
                        "operator_id": users[0],
                    },
                )
            assert call is not None
            method, kwargs = call
            if expect_ok:
                posted = await getattr(service, method)(**kwargs)
                assert not posted.replayed
                done.append(call)
                if name == "reserve":
                    model.reservations.append((posted.transaction_id, op[1], op[2]))
            else:
                with pytest.raises(InsufficientFunds):
                    await getattr(service, method)(**kwargs)
        for i, user_id in enumerate(users):
            held = await service.balances(user_id)
            assert held.wallet == model.wallet[i]
            assert held.pending_withdrawal == model.pending[i]
            assert held.seats.get(table, 0) == model.seat[i]
        report = await service.conservation_report()
        assert report.violations == []
        assert (await service.verify_audit_chain()).problems == []
    finally:
        await container.aclose()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_random_operation_sequences_keep_every_invariant(settings, ops):
    asyncio.run(_scenario(settings, ops))
