"""NOWPayments (https://nowpayments.io) over httpx, following its published API.

- ``POST /v1/payment`` with ``x-api-key``: a payment whose ``pay_address`` we keep as the
  user's standing deposit address for the coin (``order_id`` = our reference); its IPN
  callbacks reach our deposit webhook signed with ``x-nowpayments-sig``.
- ``POST /v1/auth`` (e-mail, password) → a short-lived bearer token for payouts.
- ``POST /v1/payout`` ``{"withdrawals": [{address, currency, amount, unique_external_id}]}``
  creates a payout; ``unique_external_id`` is our idempotency key.
- ``GET /v1/payout?unique_external_id=…`` finds a payout by that key, so a payout interrupted
  after the call is looked up before anything is sent again.

Timeouts 10 s (connect 5 s). Requests that cannot have reached the gateway (connect errors)
are retried by tenacity, 3 tries, exponential 1–10 s; reads are retried on any transient
failure. A payout POST whose answer was lost is never blindly repeated: the caller looks it up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from holdem.payments.coins import Coin
from holdem.payments.gateway import (
    DepositAddressInfo,
    GatewayRejected,
    GatewayUnavailable,
    PayoutInfo,
    payout_state,
)
from holdem.ports.payments import PaymentGateway

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class _ConnectFailed(GatewayUnavailable):
    """The request never reached the gateway: always safe to repeat."""


class NowPaymentsGateway(PaymentGateway):
    """The NOWPayments REST API. Pass `transport` to talk to a simulator or a mock."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        email: str = "",
        password: str = "",
        deposit_callback_url: str = "",
        payout_callback_url: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        attempts: int = 3,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, timeout=TIMEOUT, transport=transport, headers={"x-api-key": api_key}
        )
        self._email = email
        self._password = password
        self._deposit_callback_url = deposit_callback_url
        self._payout_callback_url = payout_callback_url
        self._sleep = sleep
        self._attempts = attempts
        self._token: str | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    def _retrying(self, retry_on: type[Exception]) -> AsyncRetrying:
        options: dict[str, Any] = {
            "stop": stop_after_attempt(self._attempts),
            "wait": wait_exponential(multiplier=1, min=1, max=10),
            "retry": retry_if_exception_type(retry_on),
            "reraise": True,
        }
        if self._sleep is not None:
            options["sleep"] = self._sleep
        return AsyncRetrying(**options)

    async def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _ConnectFailed(f"gateway unreachable: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"gateway request failed: {exc!r}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise GatewayUnavailable(
                f"gateway answered {response.status_code}", {"status": response.status_code}
            )
        if response.status_code >= 400:
            raise GatewayRejected(
                f"gateway refused the request ({response.status_code})",
                {"status": response.status_code, "body": response.text[:500]},
            )
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError as exc:
            raise GatewayUnavailable("gateway answered with something that is not JSON") from exc

    async def _call(self, method: str, path: str, *, safe: bool, **kwargs: Any) -> Any:
        """One API call with retries: any transient failure if `safe`, else connect errors."""
        retry_on: type[Exception] = GatewayUnavailable if safe else _ConnectFailed
        async for attempt in self._retrying(retry_on):
            with attempt:
                return await self._send(method, path, **kwargs)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _bearer(self) -> dict[str, str]:
        if self._token is None:
            body = {"email": self._email, "password": self._password}
            answer = await self._call("POST", "/v1/auth", safe=True, json=body)
            self._token = str(answer["token"])
        return {"Authorization": f"Bearer {self._token}"}

    async def create_deposit_address(self, coin: Coin, user_ref: str) -> DepositAddressInfo:
        body = {
            "price_amount": 1,
            "price_currency": coin.gateway_code,
            "pay_currency": coin.gateway_code,
            "order_id": f"deposit:{user_ref}:{coin.symbol}",
            "order_description": f"standing {coin.symbol} deposit address",
            "ipn_callback_url": self._deposit_callback_url,
        }
        answer = await self._call("POST", "/v1/payment", safe=False, json=body)
        try:
            return DepositAddressInfo(str(answer["pay_address"]), str(answer["payment_id"]))
        except (KeyError, TypeError) as exc:
            raise GatewayUnavailable("the gateway's payment answer has no pay_address") from exc

    async def create_payout(
        self, coin: Coin, address: str, amount: Decimal, idempotency_key: str
    ) -> PayoutInfo:
        body = {
            "ipn_callback_url": self._payout_callback_url,
            "withdrawals": [
                {
                    "address": address,
                    "currency": coin.gateway_code,
                    "amount": str(amount),
                    "unique_external_id": idempotency_key,
                }
            ],
        }
        answer = await self._call(
            "POST", "/v1/payout", safe=False, json=body, headers=await self._bearer()
        )
        return self._payout_from(answer)

    async def find_payout(self, idempotency_key: str) -> PayoutInfo | None:
        answer = await self._call(
            "GET",
            "/v1/payout",
            safe=True,
            params={"unique_external_id": idempotency_key},
            headers=await self._bearer(),
        )
        items = answer.get("withdrawals") or answer.get("data") or []
        for item in items:
            if item.get("unique_external_id") == idempotency_key:
                return _withdrawal_info(item, answer.get("id"))
        return None

    @staticmethod
    def _payout_from(answer: Any) -> PayoutInfo:
        try:
            item = answer["withdrawals"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise GatewayUnavailable("the gateway's payout answer has no withdrawal") from exc
        return _withdrawal_info(item, answer.get("id"))


def _withdrawal_info(item: dict[str, Any], batch_id: Any) -> PayoutInfo:
    payout_id = str(item.get("id") or batch_id or "")
    if not payout_id:
        raise GatewayUnavailable("the gateway's withdrawal has no id")
    tx_hash = item.get("hash") or item.get("tx_hash")
    return PayoutInfo(
        payout_id, payout_state(str(item.get("status", ""))), tx_hash and str(tx_hash)
    )
