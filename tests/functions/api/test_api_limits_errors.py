"""Rate limits shared through Redis across app instances; the error envelope; correlation ids."""

from __future__ import annotations

import httpx
import pytest

from functions.api import deps
from holdem.bootstrap import bootstrap
from tests.functions.api.api_support import PASSWORD, make_app


@pytest.fixture
async def two_instances(settings):
    """Two app instances, each with its own pools (as two Lambdas), sharing Redis and PG."""
    tight = settings.model_copy(
        update={
            "rate_limits": settings.rate_limits.model_copy(
                update={"login_per_minute": 5, "register_per_minute": 3, "default_per_minute": 8}
            )
        }
    )
    containers = [bootstrap(tight), bootstrap(tight)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app(c)), base_url="http://t")
        for c in containers
    ]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for container in containers:
            await container.aclose()


async def test_login_limit_is_shared_by_instances_and_answers_429_with_retry_after(
    two_instances,
):
    a, b = two_instances
    statuses = []
    for n in range(7):
        client = (a, b)[n % 2]
        r = await client.post(
            "/api/v1/auth/login", json={"email": "x@example.com", "password": "wrong-password"}
        )
        statuses.append(r.status_code)
    assert statuses == [401] * 5 + [429] * 2
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["error"]["details"]["scope"] == "login"


async def test_register_limit_is_three_per_minute(two_instances):
    a, b = two_instances
    statuses = []
    for n in range(4):
        r = await (a, b)[n % 2].post(
            "/api/v1/auth/register",
            json={
                "email": f"r{n}@example.com",
                "nickname": f"reg{n}",
                "password": PASSWORD,
                "date_of_birth": "1990-01-01",
            },
        )
        statuses.append(r.status_code)
    assert statuses == [201, 201, 201, 429]


async def test_general_limit_counts_per_user_across_instances(two_instances):
    a, b = two_instances
    await a.post(
        "/api/v1/auth/register",
        json={
            "email": "g@example.com",
            "nickname": "general",
            "password": PASSWORD,
            "date_of_birth": "1990-01-01",
        },
    )
    login = await b.post(
        "/api/v1/auth/login",
        json={"email": "g@example.com", "password": PASSWORD},
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    statuses = [
        (await (a, b)[n % 2].get("/api/v1/me", headers=headers)).status_code for n in range(10)
    ]
    assert statuses == [200] * 8 + [429] * 2


async def test_unknown_route_and_wrong_method_use_the_envelope(client):
    r = await client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await client.delete("/api/v1/lobby/tables")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/auth/login", {"content": b"{not json"}),
        ("post", "/api/v1/auth/login", {"json": ["a", "list"]}),
        ("get", "/api/v1/lobby/tables", {"params": {"limit": "many"}}),
        ("get", "/api/v1/lobby/tables/0", {}),
        ("get", "/api/v1/lobby/tables/99999999999999999999999", {}),
        ("get", "/api/v1/lobby/tables", {"params": {"big_blind": str(10**20)}}),
    ],
)
async def test_malformed_requests_are_422_in_the_envelope(client, method, path, kwargs):
    r = await getattr(client, method)(path, **kwargs)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["errors"]


async def test_correlation_id_is_echoed_or_made_up(client):
    r = await client.get("/health", headers={"X-Correlation-Id": "abc-123"})
    assert r.headers["x-correlation-id"] == "abc-123"
    r = await client.get("/health", headers={"X-Correlation-Id": "bad id;<script>"})
    assert r.headers["x-correlation-id"] != "bad id;<script>"
    assert len(r.headers["x-correlation-id"]) == 32


async def test_an_unexpected_failure_is_a_500_envelope_with_the_correlation_id(settings, container):
    app = make_app(container)

    def broken():
        raise RuntimeError("boom")

    app.dependency_overrides[deps.get_accounts] = broken
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post(
            "/api/v1/auth/login",
            json={"email": "a@example.com", "password": "x"},
            headers={"X-Correlation-Id": "trace-1"},
        )
    assert r.status_code == 500
    assert r.json() == {
        "error": {"code": "internal_error", "message": "internal error", "details": {}}
    }
    assert r.headers["x-correlation-id"] == "trace-1"
