"""Shared support of the payment tests: the gateway simulator behind the real NOWPayments
adapter (httpx ASGI transport), rates in Upbit's format via MockTransport, users and funds."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from gateway_sim.app import SimState, create_app

from holdem.adapters.gateway import NowPaymentsGateway
from holdem.adapters.orm.users import User
from holdem.adapters.rates import RateService, UpbitProvider
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import Container
from holdem.services import ledger

SECRET = "test-only-webhook-secret"  # the `settings` fixture's MONEY__WEBHOOK_SECRET
PRICES = {
    "KRW-BTC": Decimal("100000000"),
    "KRW-ETH": Decimal("5000000"),
    "KRW-USDT": Decimal("1400"),
    "KRW-USDC": Decimal("1400"),
}


async def _no_sleep(_: float) -> None:
    return None


class Market:
    """Upbit's ticker over MockTransport; `down` makes every request fail."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            return httpx.Response(503)
        market = request.url.params["markets"]
        now_ms = int(time.time() * 1000)
        return httpx.Response(
            200,
            content=(
                f'[{{"market":"{market}","trade_price":{PRICES[market]},"timestamp":{now_ms}}}]'
            ).encode(),
        )


@dataclass
class Payments:
    container: Container
    sim: SimState
    market: Market
    sent: list[list[int]]

    @property
    def deposits(self):
        return self.container.deposits()

    @property
    def withdrawals(self):
        return self.container.withdrawals()


@pytest.fixture
def sim() -> SimState:
    return SimState(ipn_secret=SECRET)


@pytest.fixture
def payments(container, sim) -> Payments:
    market = Market()
    gateway = NowPaymentsGateway(
        "http://gateway-sim",
        "key",
        email="ops@example.com",
        password="pw",
        deposit_callback_url="http://us/api/v1/wallet/webhook/deposit",
        transport=httpx.ASGITransport(app=create_app(sim)),
        sleep=_no_sleep,
    )
    provider = UpbitProvider("http://upbit", transport=httpx.MockTransport(market), sleep=_no_sleep)
    rates = RateService(container.redis, [provider], cache_ttl_s=60, max_age_s=300)
    sent: list[list[int]] = []

    async def enqueue(ids: list[int]) -> None:
        sent.append(list(ids))

    # The container's own adapters, replaced before first use: the gateway talks to the
    # simulator, the rates to the fake market, the payout queue to a list (the container closes
    # them with the rest).
    container.gateway = gateway
    container.rates = rates
    container.payout_queue = enqueue
    return Payments(container, sim, market, sent)


async def make_user(container, *, kyc: str = "none", role: str = "player") -> int:
    async with container.sessions() as session, session.begin():
        tag = uuid.uuid4().hex[:10]
        user = User(
            email=f"{tag}@example.com",
            nickname=f"p{tag}",
            password_hash="not-a-real-hash",
            kyc_status=kyc,
            role=role,
        )
        session.add(user)
        await session.flush()
        return user.id


async def fund(container, user_id: int, amount_krw: int) -> None:
    """Put won in a wallet the way money enters: a credited deposit through the ledger."""
    async with container.sessions() as session, session.begin():
        await ledger.credit_deposit(
            session,
            key=f"test-funding:{uuid.uuid4().hex}",
            user_id=user_id,
            amount=amount_krw,
            coin="BTC",
            crypto_amount=Decimal(amount_krw) / PRICES["KRW-BTC"],
            rate_krw=PRICES["KRW-BTC"],
            tx_hash=uuid.uuid4().hex,
            address="bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        )


async def balances(container, user_id: int):
    async with container.sessions() as session:
        return await ledger.balances(SqlLedgerReads(session), user_id)


async def conservation_ok(container) -> None:
    async with container.sessions() as session, session.begin():
        report = await ledger.conservation_report(SqlTransaction(session))
    assert report.ok, report.violations


def utc_now() -> datetime:
    return datetime.now(UTC)


class SimServer:
    """The gateway simulator on a real port (uvicorn in a thread), for Lambda handler tests."""

    def __init__(self, state: SimState) -> None:
        import socket
        import threading

        import uvicorn

        self.state = state
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(state), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, args=([self._sock],), daemon=True)

    def __enter__(self) -> SimServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


@pytest.fixture
def sim_server(sim):
    with SimServer(sim) as server:
        yield server


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-2:123456789012:function:test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
