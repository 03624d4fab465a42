"""Fixtures for the REST API: the app on this test's PostgreSQL/Redis, clients, users."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from functions import event_loop
from holdem.config import Settings
from tests.functions.api.api_support import Users, make_app
from tests.settings_support import TEST_AUTH


@pytest.fixture
def settings(database_url, redis_url) -> Settings:
    """Test settings with rate limits high enough that only the rate-limit tests meet them."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        auth=TEST_AUTH,
        money={"webhook_secret": "test-only-webhook-secret"},
        rate_limits={
            "default_per_minute": 10_000,
            "login_per_minute": 1_000,
            "register_per_minute": 1_000,
        },
    )


@pytest.fixture
def app(container):
    return make_app(container)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def users(client, container) -> Users:
    return Users(client, container)


@pytest.fixture
def lambda_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The execution environment's event loop, the Lambda handler's (`functions.event_loop`):
    a new one for the test, closed after it."""
    event_loop.loop.cache_clear()
    loop = event_loop.loop()
    try:
        yield loop
    finally:
        # Finalise what the test dropped while its loop can still close it.
        gc.collect()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        event_loop.loop.cache_clear()
