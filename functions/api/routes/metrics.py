"""``GET /metrics``: the REST API's Prometheus metrics, for the app run as a server.

Under uvicorn (server mode) Prometheus scrapes this route. On Lambda no template route leads
here (API Gateway answers 404 before the function runs), and the EMF metrics are the record;
`./dev up` serves the same registry on each execution environment's own metrics port.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus text format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
