"""The error envelope and the one table that maps domain errors to HTTP statuses.

Every error leaves the API as ``{"error": {"code", "message", "details"}}`` with a stable
``code``. Client mistakes are 4xx; only our own bugs and outages are 5xx.
"""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis import exceptions as redis_errors
from sqlalchemy import exc as sqlalchemy_errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from holdem.ledger.rakeback import RakebackRuleError
from holdem.services import errors as svc

# Checked in order, most specific first: the first class the error is an instance of wins.
HTTP_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (svc.InvalidInput, 400),
    (svc.AuthenticationError, 401),
    (svc.AccountLocked, 403),
    (svc.Forbidden, 403),
    (svc.NotFound, 404),
    (svc.Conflict, 409),
    (svc.RateLimited, 429),
    (svc.Unavailable, 503),
    (RakebackRuleError, 400),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def status_for(exc: Exception) -> int:
    """The HTTP status of a domain error (500 for anything not in the table)."""
    for kind, status in HTTP_STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def envelope(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    """The one error body of the API."""
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status_code=status,
    )


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, svc.ServiceError | RakebackRuleError)
    status = status_for(exc)
    message = exc.message if isinstance(exc, svc.ServiceError) else str(exc)
    details = exc.details if isinstance(exc, svc.ServiceError) else {}
    response = envelope(status, exc.code, message, details)
    if isinstance(exc, svc.RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, svc.Unavailable):
        response.headers["Retry-After"] = "5"
    if isinstance(exc, svc.AuthenticationError):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()
    ]
    return envelope(422, "validation_error", "the request is not valid", {"errors": problems})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    response = envelope(exc.status_code, code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


# An outage of a dependency is not the client's mistake, nor a bug of ours: 503, retry soon.
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    sqlalchemy_errors.TimeoutError,
    sqlalchemy_errors.OperationalError,
    psycopg.OperationalError,  # the API's raw reads (`StatementPool.reader`)
)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    response = envelope(503, "service_unavailable", "a dependency is unavailable; retry soon")
    response.headers["Retry-After"] = "1"
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Register the envelope for domain errors, validation errors, routing errors and
    outages of PostgreSQL or Redis."""
    for kind in UNAVAILABLE:
        app.add_exception_handler(kind, _unavailable)
    app.add_exception_handler(svc.ServiceError, _service_error)
    app.add_exception_handler(RakebackRuleError, _service_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
