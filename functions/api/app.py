"""The REST API: one FastAPI app, served by uvicorn locally and by Mangum on Lambda."""

from __future__ import annotations

from fastapi import FastAPI

from functions.api.routes import health


def create_app() -> FastAPI:
    """Build the app. Adapters are created on first use (see `functions.api.deps`)."""
    app = FastAPI(
        title="Hold'em backend API",
        version="0.1.0",
        description="REST API of the No-Limit Hold'em backend. Amounts are integer KRW.",
    )
    app.include_router(health.router)
    return app


app = create_app()
