"""API Gateway (HTTP API, payload format 2.0) for the local stack.

Every `Type: HttpApi` event of a template function becomes a route here: a request is matched
like API Gateway matches it (exact paths first, then `{param}`, then greedy `{proxy+}`, `ANY`
matching every method), turned into a version 2.0 event, handed to the function's execution
environment, and the function's response is sent back. So the locally served API is the
template's API: a route that is not in the template answers 404, as it would in AWS.

Bodies as API Gateway passes them: as text only when the content type is textual and the
bytes are valid UTF-8, else base64 with ``isBase64Encoded`` (a body claiming JSON that is not
UTF-8 included: the function answers it, the gateway never crashes on it); over the 10 MB
payload quota, 413 without invoking anything — by ``Content-Length`` before reading, else as
soon as the bytes read pass it.

An integration that takes longer than API Gateway's 30 s (waiting for a free execution
environment included) answers 503, as there. The gateway is the edge: the client's address
is the TCP peer's (``sourceIp``), never an ``X-Forwarded-For`` the client sent.

Run: `python -m devstack.http_routes --port N` with DEVSTACK_FUNCTION_PORTS (JSON, function id →
ports of its execution environments), as `./dev up` does.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl

from devstack.lambda_runtime import AsyncHttpInvoker, FunctionSpec, InvocationError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""API Gateway's quota on an HTTP API request's payload: a longer body is refused (413) before
any function is invoked."""
_TOO_LARGE = b'{"message":"Request Entity Too Large"}'
INTEGRATION_TIMEOUT_S = 30.0
"""API Gateway's limit on an HTTP API integration: past it, the client gets a 503."""


@dataclass(frozen=True)
class Route:
    """One HttpApi route of one function."""

    function_id: str
    method: str  # upper case, or ANY
    path: str  # as written in the template, e.g. /api/{proxy+}
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def priority(self) -> tuple[int, int, int]:
        greedy = self.path.count("+}")
        params = self.path.count("{")
        literal = len(re.sub(r"\{[^}]*\}", "", self.path))
        return (greedy, params, -literal)


def _compile(path: str) -> re.Pattern[str]:
    regex = ""
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("+}"):
            regex += f"(?P<{piece[1:-2]}>.+)"
        elif piece.startswith("{"):
            regex += f"(?P<{piece[1:-1]}>[^/]+)"
        else:
            regex += re.escape(piece)
    return re.compile(f"^{regex}$")


def http_routes(specs: Mapping[str, FunctionSpec]) -> list[Route]:
    """Every HttpApi route of the template, most specific first."""
    routes = [
        Route(
            function_id=spec.logical_id,
            method=str(props.get("Method", "ANY")).upper(),
            path=str(props["Path"]),
            pattern=_compile(str(props["Path"])),
        )
        for spec in specs.values()
        for props in spec.events_of_type("HttpApi").values()
    ]
    return sorted(routes, key=Route.priority)


def match(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        if route.method not in ("ANY", method.upper()):
            continue
        found = route.pattern.match(path)
        if found:
            return route, found.groupdict()
    return None


def _as_text(content_type: str | None, body: bytes) -> str | None:
    """The body as API Gateway passes it in ``body`` without base64: only a textual content
    type whose bytes are valid UTF-8. Anything else — no content type, a binary one, or bytes
    that are not UTF-8 whatever the type claims — arrives base64-encoded with
    ``isBase64Encoded`` true, and the function decides what to make of it."""
    if content_type is None or not content_type.startswith(_TEXT_TYPES):
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


def api_event(
    route: Route,
    params: dict[str, str],
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway builds for a request."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    query_params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        query_params[key] = f"{query_params[key]},{value}" if key in query_params else value
    text = _as_text(joined.get("content-type"), body)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": joined.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": bool(body) and text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query_params:
        event["queryStringParameters"] = query_params
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = base64.b64encode(body).decode() if text is None else text
    return event


def api_response(result: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body from a function's payload-2.0 response."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # API Gateway's inference: any other value is a 200 JSON body.
        body = json.dumps(result).encode()
        return 200, [(b"content-type", b"application/json")], body
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    headers = [
        (k.lower().encode(), str(v).encode()) for k, v in (result.get("headers") or {}).items()
    ]
    headers += [(b"set-cookie", str(c).encode()) for c in result.get("cookies") or []]
    return int(result["statusCode"]), headers, body


class AsyncInvoker(Protocol):
    """Runs a function of the template with an event, on the gateway's event loop, and
    returns its result (`AsyncHttpInvoker`: each function's invocations under way bounded
    by its execution environments)."""

    async def invoke(self, function_id: str, event: Any) -> Any: ...

    def close(self) -> None:
        """Close its connections (the gateway's shutdown, while its loop still runs)."""


class Gateway:
    """An ASGI app serving the template's HttpApi routes through an `AsyncInvoker`."""

    def __init__(self, routes: list[Route], invoker: AsyncInvoker) -> None:
        self._routes = routes
        self._invoker = invoker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self._invoker.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = await _read_capped(scope, receive, MAX_PAYLOAD_BYTES)
        if body is None:
            status, headers, payload = 413, [(b"content-type", b"application/json")], _TOO_LARGE
            headers.append((b"connection", b"close"))  # the rest of the body is not read
        else:
            status, headers, payload = await self.handle(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def handle(
        self, scope: Scope, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        method, path = scope["method"], scope["path"]
        found = match(self._routes, method, path)
        json_type = [(b"content-type", b"application/json")]
        if found is None:
            return 404, json_type, b'{"message":"Not Found"}'
        route, params = found
        # HTTP header values and the raw query are bytes: latin-1 decodes any of them (a
        # client's stray byte must not crash the gateway), and is what they are on the wire.
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        client = scope.get("client") or ("127.0.0.1", 0)
        query = scope["query_string"].decode("latin-1")
        event = api_event(route, params, method, path, query, headers, body, client[0])
        try:
            result = await self._invoker.invoke(route.function_id, event)
        except InvocationError:
            return 500, json_type, b'{"message":"Internal Server Error"}'
        except TimeoutError:
            return 503, json_type, b'{"message":"Service Unavailable"}'
        return api_response(result)


async def _read_capped(scope: Scope, receive: Receive, cap: int) -> bytes | None:
    """The request's body, or None when it is over ``cap`` bytes: refused by a declared
    Content-Length before any of it is read, else as soon as the bytes read pass the cap."""
    for name, value in scope["headers"]:
        if name.lower() == b"content-length" and value.isdigit() and int(value) > cap:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from devstack.lambda_runtime import load_functions

    parser = argparse.ArgumentParser(prog="python -m devstack.http_routes")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    ports: dict[str, list[int]] = json.loads(os.environ["DEVSTACK_FUNCTION_PORTS"])
    invoker = AsyncHttpInvoker(ports, INTEGRATION_TIMEOUT_S)
    gateway = Gateway(http_routes(load_functions()), invoker)
    uvicorn.run(
        gateway,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # the client's address is the peer's, as in API Gateway
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
