"""The API's EMF documents are the ones Powertools Metrics writes."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from functions.api.observability import METRICS_NAMESPACE, SERVICE, emf_document


def _powertools(route: str, method: str, status: int, latency_ms: float, capsys) -> dict:
    metrics = EphemeralMetrics(namespace=METRICS_NAMESPACE, service=SERVICE)
    metrics.add_dimension(name="route", value=f"{method} {route}")
    metrics.add_metric(name="requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="errors", unit=MetricUnit.Count, value=int(status >= 500))
    metrics.add_metric(name="client_errors", unit=MetricUnit.Count, value=int(400 <= status < 500))
    metrics.add_metric(name="latency", unit=MetricUnit.Milliseconds, value=latency_ms)
    metrics.flush_metrics()
    document: dict = json.loads(capsys.readouterr().out)
    return document


@pytest.mark.parametrize(
    ("route", "method", "status", "latency_ms"),
    [
        ("/api/v1/wallet/balance", "GET", 200, 1.234),
        ("/api/v1/hands/{hand_id}", "GET", 404, 0.5),
        ('/odd "route" é', "OTHER", 503, 12.0),
        ("unmatched", "POST", 429, 3),
    ],
)
def test_the_document_is_powertools_own(route, method, status, latency_ms, capsys):
    expected = _powertools(route, method, status, latency_ms, capsys)
    ours = emf_document(route, method, status, latency_ms, expected["_aws"]["Timestamp"])
    assert json.loads(ours) == expected
    assert list(json.loads(ours)) == list(expected)  # the same key order
