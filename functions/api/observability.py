"""Correlation ids, structured logs (Powertools Logger) and EMF metrics (Powertools Metrics'
documents, written directly).

One pure-ASGI middleware per request:

* takes the correlation id from the API Gateway request id (Lambda), else a well-formed
  ``X-Correlation-Id`` request header, else a new UUID; echoes it in ``X-Correlation-Id``;
* logs one JSON line per request (method, route template, status, latency, correlation id);
* on Lambda, flushes EMF metrics per invocation: ``requests``, ``errors`` (5xx),
  ``client_errors`` (4xx) and ``latency`` (ms), with the route as dimension;
* counts the same in Prometheus instruments (``api_requests_total`` by method, route template
  and status class, ``api_request_duration_seconds`` by method and route), read at
  ``/metrics`` when the app runs as a server and on each execution environment's metrics port
  under ``./dev up`` (Lambda itself is never scraped: there EMF is the record);
* turns an unexpected exception into the 500 envelope, logged with its traceback.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from holdem.config import get_settings

SERVICE = "holdem-api"
METRICS_NAMESPACE = "Holdem"
CORRELATION_HEADER = "x-correlation-id"
_CORRELATION_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_CORRELATION_HEADER_BYTES = CORRELATION_HEADER.encode()

logger = Logger(service=SERVICE, level=get_settings().log_level)


def correlation_id_of(scope: Scope) -> str:
    """The request's correlation id (see the module docstring for the order)."""
    event = scope.get("aws.event")
    if isinstance(event, dict):
        context = event.get("requestContext")
        request_id = context.get("requestId") if isinstance(context, dict) else None
        if isinstance(request_id, str) and _CORRELATION_RE.match(request_id):
            return str(request_id)
    for name, value in scope.get("headers", ()):
        if name == _CORRELATION_HEADER_BYTES:
            candidate = value.decode("latin-1")
            if _CORRELATION_RE.match(candidate):
                return str(candidate)
    return new_correlation_id()


_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_correlation_id() -> str:
    """A random UUID (version 4) as 32 hex digits: ``uuid.uuid4().hex``'s value, without its
    `uuid.UUID` object (a third of the cost, on most requests: clients rarely send an id)."""
    return "%032x" % (int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET)


def route_of(scope: Scope) -> str:
    """The matched route template (``/api/v1/hands/{hand_id}``), bounded for metrics."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
"""Methods counted by name; any other (a client may send any token) counts as ``OTHER``, so
no client can grow the metrics' label sets."""

REQUESTS = Counter("api_requests", "REST API requests", ["method", "route", "status_class"])
LATENCY = Histogram(
    "api_request_duration_seconds",
    "REST API request latency, from the request reaching the app to its response",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
"""The instruments' children by (method, route, status class): ``labels()`` takes a lock and
builds its key on every call. Bounded as the label sets are."""


def _count_request(route: str, method: str, status: int, latency_s: float) -> None:
    """Count a request in the Prometheus instruments; every label value is bounded (route
    templates, a fixed method set, ``2xx``..``5xx``)."""
    key = (method, route, status // 100)
    children = _children.get(key)
    if children is None:
        name = method if method in _METHODS else "OTHER"
        children = (
            REQUESTS.labels(name, route, f"{status // 100}xx"),
            LATENCY.labels(name, route),
        )
        # A method outside the set is counted as OTHER but not kept under its own name: no
        # client can grow this dict either.
        if name == method:
            _children[key] = children
    requests, latency = children
    requests.inc()
    latency.observe(latency_s)


_EMF_HEAD = (
    b'{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"'
    + METRICS_NAMESPACE.encode()
    + b'","Dimensions":[["route","service"]],"Metrics":[{"Name":"requests","Unit":"Count"},'
    b'{"Name":"errors","Unit":"Count"},{"Name":"client_errors","Unit":"Count"},'
    b'{"Name":"latency","Unit":"Milliseconds"}]}]},"route":'
)


def emf_document(route: str, method: str, status: int, latency_ms: float, now_ms: int) -> bytes:
    """One request's EMF document, as Powertools' ``EphemeralMetrics`` flushes it (same keys,
    order and values; tests/unit/observability compares them) at a tenth of its CPU: it was
    ~70 µs of every Lambda invocation."""
    tail = {
        "service": SERVICE,
        "requests": [1.0],
        "errors": [float(status >= 500)],
        "client_errors": [float(400 <= status < 500)],
        "latency": [float(latency_ms)],
    }
    return _EMF_HEAD % now_ms + orjson.dumps(f"{method} {route}") + b"," + orjson.dumps(tail)[1:]


def _emit_metrics(route: str, method: str, status: int, latency_ms: float) -> None:
    document = emf_document(route, method, status, latency_ms, int(time.time() * 1000))
    print(document.decode())  # Lambda's stdout is CloudWatch Logs, which extracts the metrics


_INTERNAL_ERROR = orjson.dumps(
    {"error": {"code": "internal_error", "message": "internal error", "details": {}}}
)


class ObservabilityMiddleware:
    """Correlation id, access log, metrics and the last-resort 500 envelope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = correlation_id_of(scope)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        started = time.perf_counter()
        response: dict[str, Any] = {"status": 500, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                MutableHeaders(scope=message).append(CORRELATION_HEADER, correlation_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception(
                "unhandled error",
                extra={"correlation_id": correlation_id, "route": route_of(scope)},
            )
            if not response["started"]:
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_INTERNAL_ERROR)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            latency_s = time.perf_counter() - started
            latency_ms = round(latency_s * 1000, 3)
            route, status = route_of(scope), int(response["status"])
            _count_request(route, scope["method"], status, latency_s)
            logger.info(
                "request",
                extra={
                    "correlation_id": correlation_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "latency_ms": latency_ms,
                },
            )
            if "aws.event" in scope:
                _emit_metrics(route, scope["method"], status, latency_ms)
