"""The REST API: one FastAPI app, served by uvicorn locally and by `functions.http_api` on
Lambda."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from functions.api.errors import install_error_handlers
from functions.api.fast import FastReads
from functions.api.observability import ObservabilityMiddleware
from functions.api.routes import (
    admin,
    admin_compliance,
    admin_withdrawals,
    auth,
    economy,
    hands,
    health,
    kyc,
    lobby,
    me,
    metrics,
    protection,
    wallet,
    wallet_payments,
)


def create_app() -> FastAPI:
    """Build the app. Adapters are created on first use (see `functions.api.deps`)."""
    app = FastAPI(
        title="Hold'em backend API",
        version="0.2.0",
        description=(
            "REST API of the No-Limit Hold'em backend. Amounts are integer KRW. "
            'Every error is `{"error": {"code", "message", "details"}}` with a stable code.'
        ),
        # The API's telemetry is its own (`functions.api.observability`); FastAPI's native
        # OpenTelemetry would otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    # The hot reads are answered ahead of the router (`functions.api.fast`), inside the
    # observability layer (the last added is the outermost).
    app.add_middleware(FastReads, api=app)
    app.add_middleware(ObservabilityMiddleware)
    # Starlette tries the routes in order, a `matches` per route per request: the routes of
    # a player's reads (balance, statement, lobby, hand history) come first. No two routes of
    # one method match a common path (tests/functions/api/test_api_routes.py), so the order
    # changes no request's route.
    for module in (
        wallet,
        lobby,
        hands,
        health,
        auth,
        me,
        protection,
        wallet_payments,
        admin,
        admin_withdrawals,
        admin_compliance,
        kyc,
        economy,
        metrics,
    ):
        _add_routes(app, module.router)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Add a module's routes to the app itself, as `include_router` did before FastAPI 0.137.

    Since 0.137 an included router stays a node of the app's route list that is resolved on
    every request (each node's candidates, then the match again to handle it: ~10% of a read
    request's CPU with 14 routers). A module's routes already carry its router's prefix,
    tags, responses and dependencies, so they are added to the app's router unchanged; being
    the app's own, they take `app.dependency_overrides` (tests) as included routes did.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only FastAPI path operations are expected here")
        app.router.add_api_route(
            route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=route.response_class,
            name=route.name,
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=route.generate_unique_id_function,
            strict_content_type=route.strict_content_type,
            max_body_size=route.max_body_size,
        )


app = create_app()
