"""AML flags: each rule fires on a crafted ledger, at the moment money moves (in the same
transaction, once per subject), holds withdrawals only for the configured rules, and stays
silent on ordinary play."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from gateway_sim.app import deliveries
from sqlalchemy import select

from holdem.adapters.orm.admin import AdminAction
from holdem.adapters.orm.compliance import AmlFlag
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.services import aml, deposits, rakeback
from holdem.services import withdrawals as wd
from holdem.services.notifications import Notifier
from holdem.services.withdrawals import OperatorAction
from tests.economy_hands import make_table, play_random, store_hand
from tests.payments_support import SECRET, conservation_ok, fund, make_user, utc_now

BTC_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
OTHER_BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


class Mailbox:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, body: str) -> None:
        self.sent.append(json.loads(body))


@pytest.fixture
def mailbox(payments) -> Mailbox:
    box = Mailbox()
    payments.container.notifier = Notifier(None, box)
    return box


async def _flags(container, user_id=None) -> list[AmlFlag]:
    async with container.sessions() as session:
        stmt = select(AmlFlag).order_by(AmlFlag.id)
        if user_id is not None:
            stmt = stmt.where(AmlFlag.user_id == user_id)
        return list((await session.execute(stmt)).scalars())


async def _deposit(payments, user, btc: str, tx_hash=None):
    """A confirmed BTC deposit through the deposit webhook's path (₩100,000,000 per BTC)."""
    address = (await deposits.deposit_address(payments.deposits, user, "BTC")).address
    batch = deliveries(
        SECRET, address=address, coin="BTC", amount=btc, tx_hash=tx_hash or uuid.uuid4().hex
    )
    results = [
        await deposits.receive_notice(payments.deposits, d.body, d.headers["x-nowpayments-sig"])
        for d in batch
    ]
    assert results[-1].outcome is deposits.Outcome.CREDITED
    return batch


async def _withdraw(deps, user, amount, key, address=BTC_ADDRESS):
    return await wd.request_withdrawal(
        deps, user, amount_krw=amount, coin="BTC", address=address, idempotency_key=key
    )


async def test_a_large_deposit_is_flagged_once_even_when_redelivered(payments, container):
    user = await make_user(container)
    batch = await _deposit(payments, user, "0.1")  # ₩10,000,000: at the threshold
    for d in batch:  # the gateway repeats itself
        await deposits.receive_notice(payments.deposits, d.body, d.headers["x-nowpayments-sig"])
    flags = await _flags(container, user)
    assert [(f.rule, f.status) for f in flags] == [("large_deposit", "open")]
    assert flags[0].details == {"amount_krw": 10_000_000, "threshold_krw": 10_000_000}
    assert flags[0].subject.startswith("deposit-tx:")


async def test_deposits_just_under_the_threshold_in_a_window_are_flagged_as_structuring(
    payments, container
):
    user = await make_user(container)
    for btc in ("0.095", "0.099"):  # ₩9,500,000 and ₩9,900,000
        await _deposit(payments, user, btc)
    assert await _flags(container, user) == []
    await _deposit(payments, user, "0.091")  # the third within 24 h and the band
    flags = await _flags(container, user)
    assert [f.rule for f in flags] == ["structuring"]
    assert sorted(flags[0].details["deposits_krw"]) == [9_100_000, 9_500_000, 9_900_000]
    # A holding rule by default: the player's next withdrawal waits for an operator.
    held = await _withdraw(payments.withdrawals, user, 50_000, "s")
    assert held.status == "held"
    assert (await _flags(container, user))[0].withdrawal_id == held.id


async def test_no_rule_holds_when_none_is_configured(payments, container):
    user = await make_user(container)
    for btc in ("0.095", "0.099", "0.091"):
        await _deposit(payments, user, btc)
    deps = payments.withdrawals
    deps.aml = deps.aml.model_copy(update={"hold_rules": ()})
    assert (await _withdraw(deps, user, 50_000, "s")).status == "pending"


async def test_a_withdrawal_after_deposits_with_little_play_is_flagged_but_not_held(
    payments, container, mailbox
):
    user = await make_user(container)
    await fund(container, user, 2_000_000)
    view = await _withdraw(payments.withdrawals, user, 1_500_000, "lp")
    assert view.status == "pending"  # little_play is not a holding rule by default
    flags = await _flags(container, user)
    assert [(f.rule, f.subject) for f in flags] == [("little_play", f"withdrawal:{view.id}")]
    assert flags[0].details["deposits_krw"] == 2_000_000
    assert flags[0].details["rake_krw"] == 0


async def test_a_withdrawal_over_the_threshold_is_flagged(payments, container):
    user = await make_user(container, kyc="verified")
    await fund(container, user, 12_000_000)
    deps = payments.withdrawals
    deps.aml = deps.aml.model_copy(update={"little_play_min_withdrawal_krw": 10**12})
    view = await _withdraw(deps, user, 11_000_000, "big")
    assert [f.rule for f in await _flags(container, user)] == ["large_withdrawal"]
    assert view.status == "pending"


async def test_a_withdrawal_to_another_accounts_address_is_held_for_review_and_audited(
    payments, container, mailbox
):
    deps = payments.withdrawals
    deps.aml = deps.aml.model_copy(update={"hold_rules": ("structuring", "shared_address")})
    first = await make_user(container)
    second = await make_user(container)
    operator = await make_user(container, role="operator")
    for user in (first, second):
        await fund(container, user, 200_000)
    own = await _withdraw(deps, first, 50_000, "a")
    assert own.status == "pending"
    shared = await _withdraw(deps, second, 50_000, "b")
    assert shared.status == "held"
    assert shared.failure_reason == wd.AML_HOLD_REASON
    again = await _withdraw(deps, second, 50_000, "b")  # a replayed request adds nothing
    assert again.id == shared.id
    flags = await _flags(container)
    assert [(f.user_id, f.rule, f.withdrawal_id) for f in flags] == [
        (second, "shared_address", shared.id)
    ]
    assert flags[0].details["other_users"] == [first]
    held_notices = [n for n in mailbox.sent if n["user_id"] == second]
    assert all("shared_address" not in json.dumps(n) for n in held_notices)  # no tipping off
    # While the flag is open, each new withdrawal of that player is held too.
    later = await _withdraw(deps, second, 20_000, "c", address=OTHER_BTC)
    assert later.status == "held"

    async with container.sessions() as session:
        reviewed = await aml.review(SqlTransaction(session), flags[0].id, operator, utc_now())
    assert reviewed.status == "reviewing"
    async with container.sessions() as session:
        resolved = await aml.resolve(
            SqlTransaction(session), flags[0].id, operator, "same family", utc_now()
        )
    assert (resolved.status, resolved.resolution_note) == ("resolved", "same family")
    async with container.sessions() as session:
        with pytest.raises(aml.AmlFlagTransition):
            await aml.resolve(SqlTransaction(session), flags[0].id, operator, "again", utc_now())
    # Resolving lifts the hold on new withdrawals; the held one is decided as any other.
    assert (await _withdraw(deps, second, 20_000, "d", address=OTHER_BTC)).status == "pending"
    approved = await wd.decide(deps, shared.id, operator, OperatorAction.APPROVE)
    assert approved.status == "approved"
    async with container.sessions() as session:
        actions = (
            await session.execute(
                select(AdminAction.action).where(AdminAction.actor_id == operator)
            )
        ).scalars()
        assert list(actions) == ["aml_flag_review", "aml_flag_resolve", "withdrawal_approve"]
    await conservation_ok(container)


async def test_a_shared_address_only_flags_by_default(payments, container):
    deps = payments.withdrawals
    first, second = await make_user(container), await make_user(container)
    for user in (first, second):
        await fund(container, user, 100_000)
    await _withdraw(deps, first, 50_000, "a")
    assert (await _withdraw(deps, second, 50_000, "b")).status == "pending"
    assert [f.rule for f in await _flags(container)] == ["shared_address"]


async def test_a_refused_withdrawal_leaves_no_flag(payments, container):
    first, second = await make_user(container), await make_user(container)
    await fund(container, first, 100_000)
    await _withdraw(payments.withdrawals, first, 50_000, "a")
    with pytest.raises(wd.InsufficientFunds):  # rolled back with its reservation
        await _withdraw(payments.withdrawals, second, 50_000, "b")
    assert await _flags(container) == []


async def test_ordinary_play_raises_no_flags(payments, container):
    """Six players deposit ₩2,000,000 each through the webhook path, play 60 hands at
    ₩1,000/₩2,000 (each pays ₩46,020 to ₩65,228 in rake, as the table servers store it) and
    take ₩1,200,000 out to their own addresses: large enough for the little-play rule to
    look, and no rule fires."""
    players = [await make_user(container) for _ in range(6)]
    for user in players:
        await _deposit(payments, user, "0.02")
    start = utc_now() - timedelta(hours=2)
    async with container.sessions() as session, session.begin():
        table = await make_table(session)
        for seed in range(60):
            played = play_random(seed)
            await store_hand(session, table, players, played, start + timedelta(minutes=seed))
    addresses = [
        BTC_ADDRESS,
        OTHER_BTC,
        "bc1qc7slrfxkknqcq2jevvvkdgvrt8080852dfjewde450xdlk4ugp7szw5tk9",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
    ]
    async with container.sessions() as session:
        for user in players:  # the rule looked, and found play
            assert (
                await rakeback.rake_paid(SqlTransaction(session), user, start, utc_now()) >= 40_000
            )
    for n, user in enumerate(players):
        view = await _withdraw(payments.withdrawals, user, 1_200_000, f"w{n}", addresses[n])
        assert view.status == "pending"
    assert await _flags(container) == []
    await conservation_ok(container)
