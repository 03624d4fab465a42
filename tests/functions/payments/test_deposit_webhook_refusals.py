"""The deposit webhook refuses, through its ASGI app, what it must not take: a deposit worth
more than one ledger movement may carry (422, kept for operators, listed by the admin route),
and a body over 64 KiB — by its Content-Length before reading any of it, or at the cap when
the length is absent (chunked) or lies. Nothing is recorded for an oversized body."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from gateway_sim.app import deliveries
from sqlalchemy import func, select

from devstack.paths import ROOT
from functions.deposit_webhook import handler as deposit_webhook
from functions.deposit_webhook.handler import PATH, create_asgi_app
from functions.gateway_callbacks import MAX_BODY_BYTES
from holdem.adapters.orm.payments import Deposit
from holdem.services import deposits
from tests.functions.api.conftest import Users, make_app
from tests.payments_support import SECRET, balances, make_user

CHUNK = 16 * 1024
HUGE = 30 * 1024 * 1024  # the 30 MB body that once took 10.6 s to refuse


@pytest.fixture
async def webhook(payments) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_asgi_app(lambda: payments.container))
    async with httpx.AsyncClient(transport=transport, base_url="http://webhook") as c:
        yield c


async def _deposit_rows(container) -> int:
    async with container.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Deposit))


async def test_an_over_limit_deposit_is_422_on_every_delivery_and_listed_for_operators(
    webhook, payments, container
):
    user = await make_user(container)
    address = (await deposits.deposit_address(payments.deposits, user, "BTC")).address
    answers = []
    for delivery in deliveries(SECRET, address=address, coin="BTC", amount="20000000"):
        r = await webhook.post(PATH, content=delivery.body, headers=delivery.headers)
        answers.append(r)
    assert [r.status_code for r in answers] == [202, 202, 202, 422]
    error = answers[-1].json()["error"]
    assert (error["code"], error["details"]["max_krw"]) == ("deposit_over_limit", 10**15)
    again = await webhook.post(PATH, content=delivery.body, headers=delivery.headers)
    assert (again.status_code, again.json()) == (422, answers[-1].json())
    assert (await balances(container, user)).wallet == 0

    app = make_app(container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        operator = await Users(api, container).operator()
        r = await api.get("/api/v1/admin/deposits/over-limit", headers=operator.headers)
        player = await Users(api, container).player()
        refused = await api.get("/api/v1/admin/deposits/over-limit", headers=player.headers)
    assert r.status_code == 200, r.text
    [row] = r.json()
    assert (row["id"], row["user_id"], row["crypto_amount"]) == (
        error["details"]["deposit_id"],
        user,
        "20000000",
    )
    assert (Decimal(row["rate_krw"]), row["confirmations"]) == (100_000_000, 3)
    assert refused.status_code == 403


class Body:
    """A request body of `size` bytes sent in chunks; counts the chunks the server pulled."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.size // CHUNK):
            self.pulled += 1
            yield b"x" * CHUNK


def _pulled_at_most_the_cap(body: Body) -> bool:
    return body.pulled * CHUNK <= MAX_BODY_BYTES + CHUNK


async def test_a_body_declared_over_the_cap_is_413_before_any_of_it_is_read(webhook, container):
    body = Body(HUGE)
    r = await webhook.post(PATH, content=body, headers={"content-length": str(HUGE)})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert body.pulled <= 1  # the transport's first chunk at most: the app read none of it
    assert await _deposit_rows(container) == 0


@pytest.mark.parametrize("declared", [None, "100"], ids=["chunked", "lying"])
async def test_a_chunked_or_lying_body_is_413_once_the_bytes_read_pass_the_cap(
    webhook, container, declared
):
    body = Body(HUGE)
    headers = {} if declared is None else {"content-length": declared}
    r = await webhook.post(PATH, content=body, headers=headers)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert _pulled_at_most_the_cap(body), body.pulled
    assert await _deposit_rows(container) == 0


async def test_a_body_at_the_cap_is_read_and_judged_on_its_merits(webhook):
    padded = json.dumps({"pad": "x" * (MAX_BODY_BYTES - 20)}).encode()[:MAX_BODY_BYTES]
    r = await webhook.post(PATH, content=padded)
    assert r.status_code == 401  # read whole, then refused for its missing signature
    assert r.json()["error"]["code"] == "invalid_signature"


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 10 * MAX_BODY_BYTES], ids=["cap", "far"])
@pytest.mark.parametrize("encoded", [True, False], ids=["base64", "text"])
def test_the_lambda_refuses_an_event_body_over_the_cap(encoded, size):
    # Far over the cap, the event's body is refused before it is decoded; just over it, the
    # app refuses it as it reads, before it asks for the process container.
    event = json.loads((ROOT / "events/deposit_webhook/notice-confirmed.json").read_text())
    raw = b"x" * size
    event["body"] = base64.b64encode(raw).decode() if encoded else raw.decode()
    event["isBase64Encoded"] = encoded
    answer = deposit_webhook.handler(event, None)
    assert answer["statusCode"] == 413
    assert json.loads(answer["body"])["error"]["code"] == "payload_too_large"
