"""The REST API's Prometheus metrics: requests by method, route template and status class,
latency by route, read at ``GET /metrics`` when the app runs as a server. Label values stay
bounded whatever a client sends (unknown paths and methods share one value each)."""

from __future__ import annotations

from prometheus_client import REGISTRY


def _requests(method: str, route: str, status_class: str) -> float:
    labels = {"method": method, "route": route, "status_class": status_class}
    return REGISTRY.get_sample_value("api_requests_total", labels) or 0.0


def _latency_count(method: str, route: str) -> float:
    labels = {"method": method, "route": route}
    return REGISTRY.get_sample_value("api_request_duration_seconds_count", labels) or 0.0


async def test_requests_are_counted_by_route_template_and_status_class(client):
    ok_before = _requests("GET", "/health/live", "2xx")
    hand_before = _requests("GET", "/api/v1/hands/{hand_id}", "4xx")
    latency_before = _latency_count("GET", "/health/live")

    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/api/v1/hands/12345")).status_code == 401  # no token

    assert _requests("GET", "/health/live", "2xx") == ok_before + 1
    assert _requests("GET", "/api/v1/hands/{hand_id}", "4xx") == hand_before + 1
    assert _latency_count("GET", "/health/live") == latency_before + 1


async def test_unknown_paths_and_methods_do_not_grow_the_label_sets(client):
    before = _requests("OTHER", "unmatched", "4xx")
    for n in range(3):
        await client.request("BREW", f"/no-such-path-{n}")
    assert _requests("OTHER", "unmatched", "4xx") == before + 3
    scraped = (await client.get("/metrics")).text
    assert "no-such-path" not in scraped
    assert "BREW" not in scraped


async def test_metrics_route_serves_the_prometheus_text_format(client):
    await client.get("/health/live")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    line = 'api_requests_total{method="GET",route="/health/live",status_class="2xx"}'
    assert line in response.text
    assert "# TYPE api_request_duration_seconds histogram" in response.text
