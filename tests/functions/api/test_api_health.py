"""Health endpoints, through the ASGI app and through the Lambda handler with events/."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from functions.api import deps
from functions.api.app import create_app
from holdem.bootstrap import reset_process_container
from holdem.config import get_settings

EVENTS = Path(__file__).parents[3] / "events" / "api"


@pytest.fixture
def app(container):
    app = create_app()
    app.dependency_overrides[deps.get_container] = lambda: container
    return app


async def _get(app, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


@pytest.mark.parametrize("path", ["/health", "/health/live"])
async def test_liveness_endpoints_answer_ok(app, path):
    response = await _get(app, path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_postgres_and_redis_for_real(app):
    response = await _get(app, "/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["postgres"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


async def test_ready_is_503_when_redis_is_unreachable(settings):
    from holdem.bootstrap import bootstrap

    broken = bootstrap(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    app = create_app()
    app.dependency_overrides[deps.get_container] = lambda: broken
    try:
        response = await _get(app, "/health/ready")
    finally:
        await broken.aclose()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
    assert response.json()["checks"]["postgres"]["ok"] is True


def test_lambda_handler_answers_ready_from_an_api_gateway_event(
    database_url, redis_url, monkeypatch, lambda_loop
):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RUNTIME", "lambda")
    monkeypatch.setenv("AUTH__JWT_SECRET", "test-only-signing-key-0123456789abcdef")
    get_settings.cache_clear()
    from functions.api.handler import handler

    try:
        event = json.loads((EVENTS / "health-ready.json").read_text())
        response = handler(event, None)
    finally:
        # The handler runs the app on the execution environment's loop: close the pools there.
        lambda_loop.run_until_complete(reset_process_container())
        get_settings.cache_clear()
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["checks"]["postgres"]["ok"] is True
