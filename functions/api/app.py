"""The REST API: one FastAPI app, served by uvicorn locally and by `functions.http_api` on
Lambda."""

from __future__ import annotations

import copy

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, request_response

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
    tags, responses and dependencies, so each is added to the app's router as a copy of the
    module's route that answers for this app: its request handler is built again with the
    app as the provider of dependency overrides (`app.dependency_overrides`: tests), as
    `APIRoute.__init__` builds it. What the route's construction analysed (its parameters,
    dependencies, body and response models: ~1 ms per route, ~70 ms for the app) is the
    module route's, shared, and read only: a new app (each API test, a Lambda cold start)
    does not analyse every route again.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute) or route.max_body_size is not None:
            raise TypeError(f"{route!r}: only FastAPI path operations without a body limit")
        own = copy.copy(route)
        own.dependency_overrides_provider = app
        own.app = request_response(own.get_route_handler())
        app.router.routes.append(own)


app = create_app()
