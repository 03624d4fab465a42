"""Lambda entry point of the REST API (API Gateway HTTP API, payload 2.0)."""

from __future__ import annotations

from mangum import Mangum

from functions.api.app import app

handler = Mangum(app, lifespan="off")
