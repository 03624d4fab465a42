"""The local API Gateway: the template's HttpApi routes, payload 2.0 events, responses."""

from __future__ import annotations

import base64

import httpx
import pytest

from devstack.http_routes import MAX_PAYLOAD_BYTES, Gateway, api_response, http_routes, match
from devstack.lambda_runtime import FunctionSpec, InvocationError, load_functions
from devstack.paths import ROOT


class RecordingInvoker:
    """A fake of our own Invoker port: records events, answers like a function would."""

    def __init__(self, answer=None, fail=None):
        self.calls = []
        self._answer = answer or {"statusCode": 201, "headers": {"x-a": "b"}, "body": "{}"}
        self._fail = fail

    async def invoke(self, function_id, event):
        self.calls.append((function_id, event))
        if self._fail:
            raise self._fail
        return self._answer

    def close(self):
        pass


def _spec(logical, *events):
    return FunctionSpec(
        logical,
        "h.handler",
        ROOT,
        3,
        128,
        {},
        {f"E{i}": {"Type": "HttpApi", "Properties": p} for i, p in enumerate(events)},
    )


ROUTES = http_routes(
    {
        "Api": _spec("Api", {"Path": "/api/{proxy+}", "Method": "ANY"}),
        "Webhook": _spec("Webhook", {"Path": "/api/v1/wallet/webhook/deposit", "Method": "POST"}),
        "Hand": _spec("Hand", {"Path": "/hands/{hand_id}", "Method": "GET"}),
    }
)


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("POST", "/api/v1/wallet/webhook/deposit", "Webhook", {}),
        ("GET", "/api/v1/wallet/webhook/deposit", "Api", {"proxy": "v1/wallet/webhook/deposit"}),
        ("DELETE", "/api/v1/me", "Api", {"proxy": "v1/me"}),
        ("GET", "/hands/42", "Hand", {"hand_id": "42"}),
    ],
)
def test_the_most_specific_route_wins_like_api_gateway(method, path, function, params):
    found = match(ROUTES, method, path)
    assert found is not None
    route, got = found
    assert (route.function_id, got) == (function, params)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/hands/42"), ("GET", "/hands/42/x"), ("GET", "/")]
)
def test_a_route_not_in_the_template_does_not_match(method, path):
    assert match(ROUTES, method, path) is None


def test_the_template_routes_reach_the_rest_api():
    routes = http_routes(load_functions())
    for path in ("/health/ready", "/health", "/api/v1/me", "/docs", "/openapi.json"):
        found = match(routes, "GET", path)
        assert found is not None, path
    assert match(routes, "GET", "/nowhere") is None


async def _request(gateway, method, url, **kwargs):
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://local") as client:
        return await client.request(method, url, **kwargs)


async def test_a_request_becomes_a_payload_2_event_and_the_response_comes_back():
    invoker = RecordingInvoker()
    response = await _request(
        Gateway(ROUTES, invoker),
        "POST",
        "/api/v1/wallet/withdraw?coin=BTC&coin=ETH",
        content=b'{"amount": 10000}',
        headers={"content-type": "application/json", "cookie": "a=1; b=2", "x-trace": "t1"},
    )
    assert response.status_code == 201
    assert response.headers["x-a"] == "b"
    ((function, event),) = invoker.calls
    assert function == "Api"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /api/{proxy+}"
    assert event["rawPath"] == "/api/v1/wallet/withdraw"
    assert event["rawQueryString"] == "coin=BTC&coin=ETH"
    assert event["queryStringParameters"] == {"coin": "BTC,ETH"}
    assert event["pathParameters"] == {"proxy": "v1/wallet/withdraw"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-trace"] == "t1"
    assert event["body"] == '{"amount": 10000}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"


async def test_binary_bodies_travel_base64_encoded():
    invoker = RecordingInvoker()
    await _request(
        Gateway(ROUTES, invoker),
        "PUT",
        "/api/v1/blob",
        content=b"\x00\x01\xff",
        headers={"content-type": "application/octet-stream"},
    )
    ((_, event),) = invoker.calls
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01\xff"


async def test_unknown_route_is_404_and_a_function_error_is_500_without_details():
    assert (await _request(Gateway(ROUTES, RecordingInvoker()), "GET", "/nope")).status_code == 404
    error = InvocationError("RuntimeError", "boom", [])
    response = await _request(Gateway(ROUTES, RecordingInvoker(fail=error)), "GET", "/api/v1/me")
    assert response.status_code == 500
    assert "boom" not in response.text


async def test_an_integration_past_api_gateways_timeout_is_503():
    slow = Gateway(ROUTES, RecordingInvoker(fail=TimeoutError()))
    response = await _request(slow, "GET", "/api/v1/me")
    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})


def test_responses_without_a_status_code_are_200_json_and_binary_bodies_are_decoded():
    assert api_response({"a": 1}) == (200, [(b"content-type", b"application/json")], b'{"a": 1}')
    status, headers, body = api_response(
        {"statusCode": 200, "isBase64Encoded": True, "body": "AAH/", "cookies": ["s=1"]}
    )
    assert (status, body) == (200, b"\x00\x01\xff")
    assert (b"set-cookie", b"s=1") in headers


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"email": "\xff\xfe"}'),  # claims JSON, is not UTF-8
        ("text/plain; charset=utf-8", b"\xc3\x28"),
        (None, b'{"amount": 10000}'),  # no content type: binary to API Gateway
    ],
)
async def test_a_body_api_gateway_cannot_pass_as_text_travels_base64_encoded(content_type, body):
    """API Gateway passes a body as text only when its type is textual AND it is UTF-8."""
    invoker = RecordingInvoker()
    headers = {} if content_type is None else {"content-type": content_type}
    response = await _request(
        Gateway(ROUTES, invoker), "POST", "/api/v1/auth/login", content=body, headers=headers
    )
    assert response.status_code == 201  # the function's answer: the gateway did not crash
    ((_, event),) = invoker.calls
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


async def test_header_and_query_bytes_that_are_not_utf8_do_not_crash_the_gateway():
    invoker = RecordingInvoker()
    gateway = Gateway(ROUTES, invoker)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/me",
        "query_string": b"q=\xff",
        "headers": [(b"x-odd", b"\xe9t\xe9")],
        "client": ("127.0.0.1", 1),
    }
    status, _, _ = await gateway.handle(scope, b"")
    assert status == 201
    ((_, event),) = invoker.calls
    assert event["headers"]["x-odd"] == "\xe9t\xe9"
    assert event["rawQueryString"] == "q=\xff"


class CountingBody:
    """An ASGI receive() of `size` bytes in 64 KiB messages; counts what was pulled."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.pulled = 0

    async def __call__(self) -> dict:
        chunk = min(self.left, 64 * 1024)
        self.left -= chunk
        self.pulled += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": self.left > 0}


async def _send_to(gateway, headers, receive) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/wallet/webhook/deposit",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
    }
    await gateway(scope, receive, send)
    return sent


@pytest.mark.parametrize("declared", [None, b"100"], ids=["chunked", "lying"])
async def test_a_payload_over_api_gateways_quota_is_413_once_the_bytes_read_pass_it(declared):
    invoker = RecordingInvoker()
    body = CountingBody(3 * MAX_PAYLOAD_BYTES)
    headers = [] if declared is None else [(b"content-length", declared)]
    sent = await _send_to(Gateway(ROUTES, invoker), headers, body)
    assert sent[0]["status"] == 413
    assert body.pulled <= MAX_PAYLOAD_BYTES + 64 * 1024  # stopped at the quota
    assert invoker.calls == []


async def test_a_payload_declared_over_api_gateways_quota_is_413_before_any_of_it_is_read():
    invoker = RecordingInvoker()
    body = CountingBody(30 * 1024 * 1024)
    sent = await _send_to(Gateway(ROUTES, invoker), [(b"content-length", b"31457280")], body)
    assert (sent[0]["status"], body.pulled, invoker.calls) == (413, 0, [])
