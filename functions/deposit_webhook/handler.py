"""Deposit webhook Lambda: ``POST /api/v1/wallet/webhook/deposit`` (gateway IPN callbacks).

Thin: read the body and the ``x-nowpayments-sig`` header, hand them to
`holdem.services.deposits.receive_notice`, map the outcome or error to a status in the one
table below. The same function serves API Gateway (``handler``) and, locally, uvicorn
(``asgi_app``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from holdem.adapters.gateway.wiring import PaymentsRuntime
from holdem.bootstrap import bootstrap
from holdem.payments.signatures import SIGNATURE_HEADER
from holdem.services import deposits, errors

logger = Logger(service="deposit-webhook")
PATH = "/api/v1/wallet/webhook/deposit"
MAX_BODY_BYTES = 64 * 1024

OUTCOME_STATUS = {
    deposits.Outcome.CREDITED: 200,
    deposits.Outcome.DUPLICATE: 200,
    deposits.Outcome.PENDING: 202,
    deposits.Outcome.UNMATCHED: 202,
    deposits.Outcome.AWAITING_RATE: 503,  # the gateway retries; the scheduler also sweeps
}
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (deposits.WebhookSignatureInvalid, 401),
    (deposits.WebhookStale, 400),
    (deposits.WebhookMalformed, 400),
    (deposits.WebhookPayloadInvalid, 422),
    (deposits.CoinNotAccepted, 422),
)


async def handle(
    runtime: PaymentsRuntime, body: bytes, signature: str | None
) -> tuple[int, dict[str, Any]]:
    """One delivery → (HTTP status, JSON body)."""
    if len(body) > MAX_BODY_BYTES:
        return 413, {"error": {"code": "payload_too_large", "message": "body over 64 KiB"}}
    try:
        result = await deposits.receive_notice(runtime.deposits(), body, signature)
    except errors.ServiceError as exc:
        status = next((s for kind, s in ERROR_STATUS if isinstance(exc, kind)), 500)
        logger.warning("deposit notice refused", extra={"code": exc.code, "status": status})
        return status, {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    logger.info(
        "deposit notice", extra={"outcome": result.outcome, "deposit_id": result.deposit_id}
    )
    return OUTCOME_STATUS[result.outcome], {
        "status": result.outcome.value,
        "deposit_id": result.deposit_id,
        "amount_krw": result.amount_krw,
    }


@lru_cache(maxsize=1)
def runtime() -> PaymentsRuntime:
    """The adapters of this execution environment, built on the first delivery."""
    return PaymentsRuntime.build(bootstrap())


@lru_cache(maxsize=1)
def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway HTTP API (payload 2.0) entry point."""
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    status, payload = _loop().run_until_complete(
        handle(runtime(), body, headers.get(SIGNATURE_HEADER))
    )
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(payload),
    }


def create_asgi_app(get_runtime: Any = runtime) -> Starlette:
    """The same endpoint as an ASGI app (the local stack, tests, the benchmark)."""

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.body()
        status, payload = await handle(get_runtime(), body, request.headers.get(SIGNATURE_HEADER))
        return JSONResponse(payload, status)

    return Starlette(routes=[Route(PATH, endpoint, methods=["POST"])])


asgi_app = create_asgi_app()
