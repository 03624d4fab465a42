"""The NOWPayments adapter against httpx.MockTransport: requests, retries, error mapping."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from holdem.adapters.gateway import NowPaymentsGateway
from holdem.payments.coins import CoinRegistry
from holdem.payments.gateway import GatewayRejected, GatewayUnavailable, PayoutState, payout_state

COINS = CoinRegistry.build(("BTC", "USDT"), {"BTC": 3, "USDT": 12})


async def _no_sleep(_: float) -> None:
    return None


def _gateway(handler, **kwargs) -> NowPaymentsGateway:
    return NowPaymentsGateway(
        "https://api.example",
        "api-key",
        email="ops@example.com",
        password="pw",
        deposit_callback_url="https://us/api/v1/wallet/webhook/deposit",
        transport=httpx.MockTransport(handler),
        sleep=_no_sleep,
        **kwargs,
    )


async def test_a_deposit_address_comes_from_create_payment_with_our_callback():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"payment_id": 5077, "pay_address": "bc1qexample"})

    gateway = _gateway(handler)
    try:
        info = await gateway.create_deposit_address(COINS.get("BTC"), "user-7")
    finally:
        await gateway.aclose()
    assert (info.address, info.gateway_ref) == ("bc1qexample", "5077")
    body = json.loads(seen[0].content)
    assert seen[0].url.path == "/v1/payment"
    assert seen[0].headers["x-api-key"] == "api-key"
    assert body["pay_currency"] == "btc"
    assert body["order_id"] == "deposit:user-7:BTC"
    assert body["ipn_callback_url"].endswith("/webhook/deposit")


async def test_a_payout_authenticates_then_sends_the_idempotency_key_and_exact_amount():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/auth":
            return httpx.Response(200, json={"token": "jwt"})
        return httpx.Response(
            200,
            json={"id": "b1", "withdrawals": [{"id": "w1", "status": "WAITING", "hash": None}]},
        )

    gateway = _gateway(handler)
    try:
        info = await gateway.create_payout(
            COINS.get("USDT"), "0xabc", Decimal("12.345678"), "withdrawal-42"
        )
    finally:
        await gateway.aclose()
    assert info.payout_id == "w1"
    assert info.state is PayoutState.PENDING
    payout = seen[-1]
    assert payout.headers["authorization"] == "Bearer jwt"
    item = json.loads(payout.content)["withdrawals"][0]
    assert item == {
        "address": "0xabc",
        "currency": "usdterc20",
        "amount": "12.345678",
        "unique_external_id": "withdrawal-42",
    }


async def test_find_payout_looks_the_key_up_and_maps_the_state():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth":
            return httpx.Response(200, json={"token": "jwt"})
        assert request.url.params["unique_external_id"] == "k1"
        return httpx.Response(
            200,
            json={
                "withdrawals": [
                    {"id": "w9", "status": "FINISHED", "hash": "0xfeed", "unique_external_id": "k1"}
                ]
            },
        )

    gateway = _gateway(handler)
    try:
        found = await gateway.find_payout("k1")
    finally:
        await gateway.aclose()
    assert found is not None
    assert (found.payout_id, found.state, found.tx_hash) == ("w9", PayoutState.SENT, "0xfeed")


async def test_find_payout_returns_none_for_an_unknown_key():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth":
            return httpx.Response(200, json={"token": "jwt"})
        return httpx.Response(200, json={"withdrawals": []})

    gateway = _gateway(handler)
    try:
        assert await gateway.find_payout("nope") is None
    finally:
        await gateway.aclose()


async def test_reads_are_retried_three_times_on_server_errors_then_reported_unavailable():
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503)

    gateway = _gateway(handler)
    try:
        with pytest.raises(GatewayUnavailable):
            await gateway.find_payout("k")
    finally:
        await gateway.aclose()
    assert calls == 3  # the /v1/auth call, retried 3 times


async def test_a_payout_post_is_not_repeated_after_an_ambiguous_failure():
    calls = {"payout": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth":
            return httpx.Response(200, json={"token": "jwt"})
        calls["payout"] += 1
        raise httpx.ReadTimeout("the answer was lost", request=request)

    gateway = _gateway(handler)
    try:
        with pytest.raises(GatewayUnavailable):
            await gateway.create_payout(COINS.get("BTC"), "bc1q", Decimal("0.1"), "k")
    finally:
        await gateway.aclose()
    assert calls["payout"] == 1  # the service looks it up by key before paying again


async def test_a_payout_post_that_never_connected_is_retried():
    calls = {"payout": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth":
            return httpx.Response(200, json={"token": "jwt"})
        calls["payout"] += 1
        if calls["payout"] < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"withdrawals": [{"id": "w", "status": "SENDING"}]})

    gateway = _gateway(handler)
    try:
        info = await gateway.create_payout(COINS.get("BTC"), "bc1q", Decimal("0.1"), "k")
    finally:
        await gateway.aclose()
    assert calls["payout"] == 3
    assert info.payout_id == "w"


async def test_client_errors_are_rejections_and_not_retried():
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, json={"message": "address invalid"})

    gateway = _gateway(handler)
    try:
        with pytest.raises(GatewayRejected) as caught:
            await gateway.create_deposit_address(COINS.get("BTC"), "u")
    finally:
        await gateway.aclose()
    assert calls == 1
    assert caught.value.details["status"] == 400


async def test_a_malformed_answer_is_reported_not_crashed_on():
    gateway = _gateway(lambda request: httpx.Response(200, content=b"<html>oops</html>"))
    try:
        with pytest.raises(GatewayUnavailable):
            await gateway.create_deposit_address(COINS.get("BTC"), "u")
    finally:
        await gateway.aclose()


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("FINISHED", PayoutState.SENT),
        ("sending", PayoutState.PENDING),
        ("WAITING", PayoutState.PENDING),
        ("FAILED", PayoutState.FAILED),
        ("expired", PayoutState.FAILED),
        ("REJECTED", PayoutState.REJECTED),  # a refusal: not retried under a new key
    ],
)
def test_payout_statuses_map_to_ours(status, state):
    assert payout_state(status) is state
