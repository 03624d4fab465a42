"""Deposit webhook Lambda: ``POST /api/v1/wallet/webhook/deposit`` (gateway IPN callbacks).

Thin: `holdem.services.deposits.record_notice` applies the delivery; the outcome becomes a
status in the table below, errors in `functions.gateway_callbacks` (shared with the payout
webhook). One ASGI app (``asgi_app``) serves API Gateway through `functions.http_api`
(``handler``) and, locally, uvicorn.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from starlette.applications import Starlette

from functions import gateway_callbacks
from functions.gateway_callbacks import Answer, GetContainer
from holdem.bootstrap import Container, process_container
from holdem.services import deposits

logger = Logger(service="deposit-webhook")
PATH = "/api/v1/wallet/webhook/deposit"

OUTCOME_STATUS = {
    deposits.Outcome.CREDITED: 200,
    deposits.Outcome.DUPLICATE: 200,
    deposits.Outcome.PENDING: 202,
    deposits.Outcome.UNMATCHED: 202,
    deposits.Outcome.AWAITING_RATE: 503,  # the gateway retries; the scheduler also sweeps
}


async def apply(container: Container, body: bytes, signature: str | None) -> Answer:
    """One deposit notice → its answer."""
    result = await deposits.record_notice(container.deposits(), body, signature)
    logger.info(
        "deposit notice", extra={"outcome": result.outcome, "deposit_id": result.deposit_id}
    )
    payload = {
        "status": result.outcome.value,
        "deposit_id": result.deposit_id,
        "amount_krw": result.amount_krw,
    }
    return Answer(OUTCOME_STATUS[result.outcome], payload, result.notices)


def create_asgi_app(get_container: GetContainer = process_container) -> Starlette:
    """The endpoint as an ASGI app (behind `handler` in AWS; the local stack, tests, benchmark)."""
    return gateway_callbacks.asgi_app(PATH, apply, logger, get_container)


asgi_app = create_asgi_app()
handler = gateway_callbacks.lambda_handler(asgi_app)
