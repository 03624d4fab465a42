"""The webhooks' Lambda shell: API Gateway events reach the same ASGI app through
`functions.http_api`, and a failure stays a failed invocation (the money-function alarm counts
Lambda's Errors)."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devstack.paths import ROOT
from functions.deposit_webhook.handler import PATH
from functions.gateway_callbacks import lambda_handler


def _sample() -> dict:
    return json.loads((ROOT / "events/deposit_webhook/notice-confirmed.json").read_text())


def test_the_app_sees_the_events_body_header_and_source_address():
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "body": (await request.body()).decode(),
                "signature": request.headers.get("x-nowpayments-sig"),
                "source": request.client.host if request.client else None,
            },
            202,
        )

    handler = lambda_handler(Starlette(routes=[Route(PATH, echo, methods=["POST"])]))
    event = _sample()
    answer = handler(event, None)
    assert answer["statusCode"] == 202
    assert json.loads(answer["body"]) == {
        "body": event["body"],
        "signature": event["headers"]["x-nowpayments-sig"],
        "source": event["requestContext"]["http"]["sourceIp"],
    }


def test_an_error_in_the_app_fails_the_invocation_rather_than_answering_500():
    async def broken(request: Request) -> JSONResponse:
        raise RuntimeError("the database went away")

    handler = lambda_handler(Starlette(routes=[Route(PATH, broken, methods=["POST"])]))
    with pytest.raises(RuntimeError, match="the database went away"):
        handler(_sample(), None)
    with pytest.raises(RuntimeError):  # every time, not only the first
        handler(_sample(), None)
