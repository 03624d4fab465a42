"""Health endpoints for load balancers and operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from functions.api.deps import get_container
from holdem.bootstrap import Container
from holdem.health import check_dependencies

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Liveness: the process answers requests."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "A dependency is not reachable"}})
async def ready(container: Annotated[Container, Depends(get_container)]) -> JSONResponse:
    """Readiness: PostgreSQL and Redis both answer a real query."""
    results = await check_dependencies(container)
    ok = all(result.ok for result in results)
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {
            r.name: {"ok": r.ok, "latency_ms": r.latency_ms, "error": r.error} for r in results
        },
    }
    return JSONResponse(body, status_code=200 if ok else 503)
