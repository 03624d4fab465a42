"""The REST API: one FastAPI app, served by uvicorn locally and by Mangum on Lambda."""

from __future__ import annotations

from fastapi import FastAPI

from functions.api.errors import install_error_handlers
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
    )
    install_error_handlers(app)
    app.add_middleware(ObservabilityMiddleware)
    for module in (
        health,
        auth,
        me,
        protection,
        wallet_payments,
        wallet,
        lobby,
        hands,
        admin,
        admin_withdrawals,
        admin_compliance,
        kyc,
        economy,
        metrics,
    ):
        app.include_router(module.router)
    return app


app = create_app()
