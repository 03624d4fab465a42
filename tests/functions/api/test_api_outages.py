"""An outage of Redis or PostgreSQL is a 503 in the envelope (with Retry-After), not a 500;
and a burst larger than the Redis pool waits for a connection instead of failing."""

from __future__ import annotations

import asyncio

import httpx

from holdem.bootstrap import bootstrap
from tests.functions.api.api_support import make_app


async def _get(container, path: str, **kwargs) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path, **kwargs)


async def test_redis_down_is_a_503_envelope(settings):
    broken = bootstrap(
        settings.model_copy(
            update={
                "redis_url": "redis://127.0.0.1:1/0",
                "redis": settings.redis.model_copy(update={"socket_connect_timeout": 0.2}),
            }
        )
    )
    try:
        r = await _get(broken, "/api/v1/lobby/tables")
    finally:
        await broken.aclose()
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "service_unavailable"
    assert r.headers["retry-after"] == "1"


async def test_postgres_down_is_a_503_envelope(settings):
    broken = bootstrap(
        settings.model_copy(
            update={"database_url": "postgresql+psycopg://postgres@127.0.0.1:1/none"}
        )
    )
    try:
        r = await _get(broken, "/api/v1/lobby/tables")
    finally:
        await broken.aclose()
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "service_unavailable"


async def test_a_burst_beyond_the_redis_pool_waits_instead_of_failing(settings):
    small = bootstrap(
        settings.model_copy(
            update={"redis": settings.redis.model_copy(update={"max_connections": 2})}
        )
    )
    transport = httpx.ASGITransport(app=make_app(small))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = await asyncio.gather(
                *(client.get("/api/v1/lobby/tables") for _ in range(20))
            )
    finally:
        await small.aclose()
    assert [r.status_code for r in responses] == [200] * 20
