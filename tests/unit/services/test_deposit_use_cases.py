"""The deposit use cases against in-memory fakes of their ports (no database, no gateway):
addresses are issued once, and the deliveries of an output are recorded once while its
confirmations grow. Crediting (ledger, AML, protection in the same transaction) runs against
PostgreSQL in ``tests/integration/payments/test_deposits.py``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from gateway_sim.app import Delivery, address_for, deliveries
from pydantic import SecretStr

from holdem.config import MoneySettings
from holdem.payments.coins import Coin
from holdem.payments.gateway import DepositAddressInfo, GatewayUnavailable, PayoutInfo
from holdem.payments.rates import Quote, RateUnavailable
from holdem.services import deposits, errors
from holdem.services.deposits import Outcome
from holdem.services.notifications import NoticeKind, Notifier
from tests.unit.services.payment_fakes import FakeDatabase, fake_unit_of_work

SECRET = "test-only-webhook-secret"


class Gateway:
    """A `PaymentGateway` that issues the simulator's addresses, or is down."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.down = False

    async def create_deposit_address(self, coin: Coin, user_ref: str) -> DepositAddressInfo:
        if self.down:
            raise GatewayUnavailable("connection refused")
        self.issued.append(user_ref)
        return DepositAddressInfo(address_for(user_ref, coin.symbol), f"ref-{user_ref}")

    async def create_payout(
        self, coin: Coin, address: str, amount: Decimal, idempotency_key: str
    ) -> PayoutInfo:
        raise AssertionError("deposits never pay out")

    async def find_payout(self, idempotency_key: str) -> PayoutInfo | None:
        raise AssertionError("deposits never pay out")

    async def aclose(self) -> None:
        return None


class NoRates:
    """`ExchangeRates` with no fresh quote: a confirmed deposit waits."""

    def __init__(self) -> None:
        self.asked = 0

    async def rate(self, coin: str) -> Quote:
        self.asked += 1
        raise RateUnavailable(f"no fresh {coin} rate")


def _deps(db: FakeDatabase, gateway: Gateway | None = None, rates: NoRates | None = None):
    money = MoneySettings(webhook_secret=SecretStr(SECRET))
    return deposits.DepositDeps(
        fake_unit_of_work(db),
        money,
        deposits.coin_registry(money),
        rates or NoRates(),
        Notifier(None),
        gateway,
    )


async def _deliver(deps: deposits.DepositDeps, delivery: Delivery) -> deposits.DepositResult:
    return await deposits.record_notice(deps, delivery.body, delivery.headers["x-nowpayments-sig"])


async def test_an_address_is_issued_by_the_gateway_once_then_read_back():
    db = FakeDatabase()
    db.add_user(7)
    gateway = Gateway()
    deps = _deps(db, gateway)

    first = await deposits.deposit_address(deps, 7, "btc")
    again = await deposits.deposit_address(deps, 7, "BTC")

    assert first.address == again.address == address_for("user-7", "BTC")
    assert (first.coin, first.gateway_ref) == ("BTC", "ref-user-7")
    assert gateway.issued == ["user-7"]


async def test_no_address_is_asked_of_the_gateway_for_a_deleted_account():
    gateway = Gateway()
    with pytest.raises(errors.NotFound):
        await deposits.deposit_address(_deps(FakeDatabase(), gateway), 7, "BTC")
    assert gateway.issued == []


async def test_an_unreachable_gateway_stores_no_address():
    db = FakeDatabase()
    db.add_user(7)
    gateway = Gateway()
    gateway.down = True
    with pytest.raises(deposits.GatewayUnavailableError):
        await deposits.deposit_address(_deps(db, gateway), 7, "BTC")
    assert db.addresses == []


async def test_a_coin_the_room_does_not_take_is_refused_before_anything_is_read():
    db = FakeDatabase()
    with pytest.raises(deposits.CoinNotAccepted):
        await deposits.deposit_address(_deps(db, Gateway()), 7, "DOGE")
    assert db.commits == 0


async def test_confirmations_grow_once_each_and_a_confirmed_output_waits_for_a_rate():
    db = FakeDatabase()
    db.add_user(7)
    rates = NoRates()
    deps = _deps(db, Gateway(), rates)
    address = (await deposits.deposit_address(deps, 7, "BTC")).address
    batch = deliveries(SECRET, address=address, coin="BTC", amount="0.5")  # 0..3 confirmations

    pending = [await _deliver(deps, d) for d in batch[:3]]
    repeat = await _deliver(deps, batch[1])
    confirmed = await _deliver(deps, batch[3])
    retried = await _deliver(deps, batch[1])  # a confirmed row waiting for a rate: tried again

    assert [r.outcome for r in pending] == [Outcome.PENDING] * 3
    assert [r.notices[0].kind for r in pending] == [NoticeKind.DEPOSIT_PENDING] * 3
    assert [r.notices[0].data["confirmations"] for r in pending] == [0, 1, 2]
    assert (repeat.outcome, repeat.notices) == (Outcome.DUPLICATE, ())
    assert confirmed.outcome is retried.outcome is Outcome.AWAITING_RATE
    (row,) = db.deposits
    assert (row.user_id, row.status, row.confirmations) == (7, "pending", 3)
    assert (row.crypto_amount, row.amount_krw) == (Decimal("0.5"), None)
    assert rates.asked == 2  # a rate is fetched only when the row is about to be credited


async def test_an_output_to_an_address_we_never_issued_credits_nobody():
    db = FakeDatabase()
    deps = _deps(db, Gateway())
    stranger = address_for("never-issued", "BTC")
    batch = deliveries(SECRET, address=stranger, coin="BTC", amount="1")

    outcomes = [(await _deliver(deps, d)).outcome for d in batch]

    assert outcomes == [Outcome.UNMATCHED] + [Outcome.DUPLICATE] * 3
    review = await deposits.unmatched_deposits(deps)
    assert [(r.address, r.user_id, r.confirmations) for r in review] == [(stranger, None, 3)]
