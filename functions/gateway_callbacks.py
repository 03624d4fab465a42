"""What the gateway callback functions share: one status table and the two shells.

Each gateway callback function (``functions/deposit_webhook``, ``functions/payout_webhook``)
supplies an `Apply`: the body and the ``x-nowpayments-sig`` header in, an `Answer` out.
Here the errors become statuses (the one table of this transport), and the endpoint is one
ASGI app (`asgi_app`), served by uvicorn locally and in tests, and in AWS by
`functions.http_api` (`lambda_handler`), as the REST API is: one shell, so API Gateway's event
is parsed by the code that parses the API's. The players' notices are sent after the answer is
made, behind the response; in a Lambda, they run before the invocation returns (bounded by the
notifier's timeout; a Lambda cannot work after its answer).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from functions.http_api import HttpApiAdapter
from holdem.bootstrap import Container, process_container
from holdem.payments.signatures import SIGNATURE_HEADER
from holdem.services import deposits, errors, gateway_callbacks, withdrawals
from holdem.services.notifications import Notice

MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = {"error": {"code": "payload_too_large", "message": "body over 64 KiB", "details": {}}}

ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (gateway_callbacks.WebhookSourceNotAllowed, 403),
    (gateway_callbacks.WebhookSignatureInvalid, 401),
    (gateway_callbacks.WebhookStale, 400),
    (gateway_callbacks.WebhookMalformed, 400),
    (gateway_callbacks.WebhookPayloadInvalid, 422),
    (deposits.CoinNotAccepted, 422),
    (deposits.DepositOverLimit, 422),  # recorded for an operator; the gateway must not retry
    (withdrawals.PayoutNotFound, 404),
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """One callback as the transport received it."""

    body: bytes
    signature: str | None
    source: str | None
    """The peer address the transport saw (not a header)."""


Apply = Callable[[Container, bytes, str | None], Awaitable[Answer]]
GetContainer = Callable[[], Container]


async def answer(
    apply: Apply,
    container: Container,
    delivery: Delivery,
    logger: Logger,
) -> Answer:
    """One delivery → its answer; a refused delivery changes nothing and says why."""
    if len(delivery.body) > MAX_BODY_BYTES:
        return Answer(413, TOO_LARGE)
    try:
        gateway_callbacks.check_source(delivery.source, container.settings.money)
        return await apply(container, delivery.body, delivery.signature)
    except errors.ServiceError as exc:
        status = next((s for kind, s in ERROR_STATUS if isinstance(exc, kind)), 500)
        logger.warning("gateway callback refused", extra={"code": exc.code, "status": status})
        error = {"code": exc.code, "message": exc.message, "details": exc.details}
        return Answer(status, {"error": error})


def lambda_handler(app: Starlette) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """An API Gateway HTTP API (payload 2.0) entry point for the ASGI `app`, through
    `functions.http_api` (on the execution environment's event loop).

    Two things the adapter alone would not do: a body over the cap is refused before it is decoded,
    and an exception in the app fails the invocation (Lambda's ``Errors``, which the
    money-function alarm watches) instead of becoming a 500 answer.
    """
    failures: list[Exception] = []

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            failures.append(exc)
            raise

    adapter = HttpApiAdapter(failing)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raw = event.get("body") or ""
        encoded = bool(event.get("isBase64Encoded"))
        if len(raw) > (_MAX_BASE64_CHARS if encoded else MAX_BODY_BYTES):
            return _too_large()
        failures.clear()
        response = adapter(event, context)
        if failures:
            raise failures.pop()
        return response

    return handler


# The longest base64 text of a body within MAX_BODY_BYTES (4 characters per 3 bytes); a text
# body has at least as many bytes as characters.
_MAX_BASE64_CHARS = 4 * -(-MAX_BODY_BYTES // 3)


def _too_large() -> dict[str, Any]:
    return {
        "statusCode": 413,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(TOO_LARGE),
        "isBase64Encoded": False,
    }


async def read_capped(request: Request, cap: int) -> bytes | None:
    """The request's body, or None when it is over ``cap`` bytes: refused by its declared
    Content-Length before any of it is read, else as soon as the bytes read pass the cap (a
    chunked body, or one longer than it declared) — never read to its end."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def asgi_app(
    path: str, apply: Apply, logger: Logger, get_container: GetContainer = process_container
) -> Starlette:
    """The same endpoint as an ASGI app; notices go out after the response."""

    async def endpoint(request: Request) -> JSONResponse:
        body = await read_capped(request, MAX_BODY_BYTES)
        if body is None:
            # Close the connection: the rest of the body is never read.
            return JSONResponse(TOO_LARGE, 413, headers={"connection": "close"})
        container = get_container()
        delivery = Delivery(
            body,
            request.headers.get(SIGNATURE_HEADER),
            request.client.host if request.client else None,
        )
        result = await answer(apply, container, delivery, logger)
        later = BackgroundTask(container.notifier.notify_all, list(result.notices))
        return JSONResponse(result.body, result.status, background=later)

    return Starlette(routes=[Route(path, endpoint, methods=["POST"])])
