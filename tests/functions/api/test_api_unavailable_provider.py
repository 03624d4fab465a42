"""A provider outage is the server's condition, not the client's mistake: 503 with a retry hint."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from functions.api.errors import install_error_handlers
from holdem.services.deposits import GatewayUnavailableError


async def test_an_unreachable_payment_gateway_is_a_503_in_the_envelope():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/address")
    async def address() -> None:
        raise GatewayUnavailableError("the payment gateway did not answer")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/address")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "gateway_unavailable"
