"""Lambda entry point of the REST API (API Gateway HTTP API, payload 2.0).

`functions.http_api` turns each event into one ASGI request to the app (no lifespan: it would
run on every invocation) on the execution environment's event loop (`functions.event_loop`);
the adapters are built on the first request and live for the execution environment
(`functions.api.deps`). The request id of API Gateway becomes the correlation id of the logs,
the metrics and the ``X-Correlation-Id`` response header (see `functions.api.observability`).
"""

from __future__ import annotations

from typing import Any

from functions.api.app import app
from functions.api.observability import logger
from functions.http_api import HttpApiAdapter

_asgi = HttpApiAdapter(app)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Serve one API Gateway event."""
    request_context = event.get("requestContext")
    if isinstance(request_context, dict):
        logger.set_correlation_id(request_context.get("requestId"))
    return _asgi(event, context)
