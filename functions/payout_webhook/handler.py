"""Payout webhook Lambda: ``POST /api/v1/wallet/webhook/payout`` (the gateway's callback
when a payout changes status; its URL is ``MONEY__PAYOUT_CALLBACK_URL``).

Thin: `holdem.services.withdrawals.record_payout_notice` applies the callback; the outcome
becomes a status in the table below, errors in `functions.gateway_callbacks` (shared with
the deposit webhook, so the signature is checked the same way).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from starlette.applications import Starlette

from functions import gateway_callbacks
from functions.gateway_callbacks import Answer, GetContainer
from holdem.bootstrap import Container, process_container
from holdem.services import withdrawals

logger = Logger(service="payout-webhook")
PATH = "/api/v1/wallet/webhook/payout"

OUTCOME_STATUS = {
    withdrawals.PayoutOutcome.PAID: 200,
    withdrawals.PayoutOutcome.RETRY: 200,
    withdrawals.PayoutOutcome.FAILED: 200,
    withdrawals.PayoutOutcome.WAITING: 202,
    withdrawals.PayoutOutcome.HELD: 200,  # a lookup's outcome only; listed for completeness
    withdrawals.PayoutOutcome.SKIPPED: 200,  # a duplicate, late or superseded status
}


async def apply(container: Container, body: bytes, signature: str | None) -> Answer:
    """One payout callback → its answer."""
    result = await withdrawals.record_payout_notice(container.withdrawals(), body, signature)
    logger.info(
        "payout notice",
        extra={"outcome": result.outcome, "withdrawal_id": result.withdrawal_id},
    )
    payload = {
        "status": result.outcome.value,
        "withdrawal_id": result.withdrawal_id,
        "withdrawal_status": result.status,
    }
    return Answer(OUTCOME_STATUS[result.outcome], payload, result.notices)


def create_asgi_app(get_container: GetContainer = process_container) -> Starlette:
    """The endpoint as an ASGI app (behind `handler` in AWS; the local stack, tests)."""
    return gateway_callbacks.asgi_app(PATH, apply, logger, get_container)


asgi_app = create_asgi_app()
handler = gateway_callbacks.lambda_handler(asgi_app)
