"""The committed OpenAPI document matches the app; a schemathesis fuzz finds no 5xx and no
response that breaks the document."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import checks
from sqlalchemy import update

from functions.api.deps import get_accounts
from functions.api.openapi import render
from holdem.adapters.orm.users import User
from holdem.bootstrap import bootstrap
from tests.functions.api.api_support import make_app

DOC = Path(__file__).parents[3] / "docs" / "openapi.json"


def test_committed_openapi_document_matches_the_app():
    assert DOC.read_text(encoding="utf-8") == render(), "run ./dev openapi and commit the result"


def test_every_route_is_the_apps_own_not_an_included_router():
    # FastAPI 0.137+ resolves an included router on every request (functions.api.app).
    from fastapi.routing import APIRoute
    from starlette.routing import Route

    from functions.api.app import create_app

    assert {type(route) for route in create_app().router.routes} == {APIRoute, Route}


def test_every_operation_documents_its_errors_with_the_envelope():
    doc = json.loads(render())
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (
                        method,
                        path,
                        status,
                    )


SCHEMA = schemathesis.openapi.from_dict(json.loads(render()))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_fuzzing_an_endpoint_finds_no_5xx_and_no_schema_violation(operation, settings):
    """Property-based fuzz (schemathesis strategies from the committed OpenAPI document),
    sent through the ASGI app on real PostgreSQL and Redis, as an operator."""
    loop = asyncio.new_event_loop()
    container = bootstrap(settings)
    app = make_app(container)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    accounts = loop.run_until_complete(get_accounts(container))

    async def seed() -> int:
        r = await client.post(
            "/api/v1/auth/register",
            json={
                "email": "op@example.com",
                "nickname": "fuzzop",
                "password": "x" * 12,
                "date_of_birth": "1990-01-01",
            },
        )
        user_id = r.json()["id"]
        async with container.sessions() as db:
            await db.execute(update(User).where(User.id == user_id).values(role="operator"))
            await db.commit()
        return int(user_id)

    try:
        operator_id = loop.run_until_complete(seed())

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        def fuzz(case):
            async def call() -> httpx.Response:
                token, _ = await accounts.issue_access_token(operator_id, "operator")
                kwargs = case.as_transport_kwargs(base_url="http://test")
                kwargs.pop("cookies", None)
                if isinstance(kwargs.get("data"), bytes | str):
                    kwargs["content"] = kwargs.pop("data")
                kwargs["headers"] = {**kwargs["headers"], "Authorization": f"Bearer {token}"}
                return await client.request(**kwargs)

            response = loop.run_until_complete(call())
            case.validate_response(response, checks=CHECKS)

        fuzz()
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(container.aclose())
        loop.close()
