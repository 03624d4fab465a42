"""An ASGI app behind API Gateway's HTTP API: one payload-2.0 event in, its response out.

`HttpApiAdapter` is what Mangum (0.22) did for these functions, for the one event kind they
get, and nothing more. Per invocation Mangum inferred the event's kind among four, built the
ASGI scope twice (its response step built it again to read the event's version), ran an
`HTTPCycle` (an `asyncio.Queue`, a `BytesIO`, an info log call) and started a task for it:
about a tenth of the API function's CPU on a light read. The behaviour is Mangum's, for
payload 2.0 (tests/functions/test_http_api.py runs both on the events of events/api and on
edge cases and compares them):

* the scope: the method, the path (percent-decoded) and the raw query string of the
  request context; the headers lower-cased, with the event's ``cookies`` joined into one
  ``cookie`` header; ``scheme`` from ``x-forwarded-proto`` (else https); ``server`` from
  ``host`` and ``x-forwarded-port``; ``client`` the source IP; the event and the context as
  ``aws.event`` and ``aws.context`` (the correlation id's source, `functions.api.observability`);
* the body: the event's text as UTF-8, or its base64 decoded when ``isBase64Encoded``;
* the response: the status; headers lower-cased, repeated ones joined with commas, every
  ``set-cookie`` in ``cookies``, ``content-type: application/json`` when the app gave none;
  the body as text when the content type is textual and the bytes UTF-8, else base64 with
  ``isBase64Encoded``;
* an exception out of the app (the API's own layers answer theirs first), or an app that
  ends without a whole response: logged, and a 500 ``Internal Server Error`` in plain text.

Where Mangum failed on a client's value, this does not: a ``host`` with several colons or an
``x-forwarded-port`` that is not a number (API Gateway sets that header itself; the local
gateway passes the client's) gives port 80 instead of a `ValueError`, so a 500.

Each invocation runs to its end on the execution environment's event loop
(`functions.event_loop`), where the process's pools live.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from starlette.types import ASGIApp, Message, Scope

from functions import event_loop

TEXT_MIME_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/vnd.api+json",
    "application/vnd.oai.openapi",
)
"""Response content types sent as text (Mangum's defaults): any other body goes base64."""

_ASGI = {"version": "3.0", "spec_version": "2.0"}
_DISCONNECT: Message = {"type": "http.disconnect"}
_ERROR_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
_ERROR_BODY = b"Internal Server Error"

logger = Logger()  # the function's service (POWERTOOLS_SERVICE_NAME)


def http_scope(event: dict[str, Any], context: Any) -> Scope:
    """The ASGI scope of a payload-2.0 event (see the module docstring)."""
    request_context = event["requestContext"]
    http = request_context["http"]
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    cookies = event.get("cookies")
    if cookies:
        headers["cookie"] = "; ".join(cookies)
    host = headers.get("host", "mangum")
    name, colon, port = host.rpartition(":")
    if not colon:
        name, port = host, headers.get("x-forwarded-port", "80")
    return {
        "type": "http",
        "method": http["method"],
        "http_version": "1.1",
        "headers": [(key.encode(), value.encode()) for key, value in headers.items()],
        "path": unquote(http["path"]) if http["path"] else "/",
        "raw_path": None,
        "root_path": "",
        "scheme": headers.get("x-forwarded-proto", "https"),
        "query_string": event.get("rawQueryString", "").encode(),
        "server": (name, int(port) if port.isascii() and port.isdigit() else 80),
        "client": (http["sourceIp"], 0),
        "asgi": _ASGI,
        "aws.event": event,
        "aws.context": context,
    }


def request_body(event: dict[str, Any]) -> bytes:
    """The request's bytes: the event's body, base64-decoded when it says so."""
    body: str | None = event.get("body")
    if not body:
        return b""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def http_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> dict[str, Any]:
    """The payload-2.0 response of the app's answer (see the module docstring)."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for raw_name, raw_value in headers:
        name, value = raw_name.decode().lower(), raw_value.decode()
        if name == "set-cookie":
            cookies.append(value)
        elif name in joined:
            joined[name] = f"{joined[name]},{value}"
        else:
            joined[name] = value
    content_type = joined.setdefault("content-type", "application/json")
    text, encoded = "", False
    if body:
        if any(kind in content_type for kind in TEXT_MIME_TYPES):
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text, encoded = base64.b64encode(body).decode(), True
        else:
            text, encoded = base64.b64encode(body).decode(), True
    response: dict[str, Any] = {"statusCode": status, "body": text, "headers": joined}
    if cookies:
        response["cookies"] = cookies
    response["isBase64Encoded"] = encoded
    return response


class _Exchange:
    """One request's ASGI channel: the body once, then a disconnect when the response is
    whole (as a server whose client left would); the response collected for the return."""

    __slots__ = ("_request", "_sent", "chunks", "complete", "headers", "status")

    def __init__(self, body: bytes) -> None:
        self._request: Message | None = {"type": "http.request", "body": body, "more_body": False}
        self._sent: asyncio.Future[None] | None = None
        self.status = 0  # no response started
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.complete = False

    async def receive(self) -> Message:
        request, self._request = self._request, None
        if request is not None:
            return request
        if not self.complete:
            if self._sent is None:
                self._sent = asyncio.get_running_loop().create_future()
            await self._sent
        return _DISCONNECT

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.status:
            self.status = message["status"]
            self.headers = message.get("headers", [])
        elif kind == "http.response.body" and self.status and not self.complete:
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True
                if self._sent is not None:
                    self._sent.set_result(None)
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")


class HttpApiAdapter:
    """Serves an ASGI app to API Gateway HTTP API events (payload 2.0), one invocation at a
    time, on the execution environment's event loop (`loop`, called per invocation)."""

    def __init__(
        self,
        app: ASGIApp,
        loop: Callable[[], asyncio.AbstractEventLoop] = event_loop.loop,
    ) -> None:
        self.app = app
        self._loop = loop

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        scope = http_scope(event, context)
        exchange = _Exchange(request_body(event))
        self._loop().run_until_complete(self._run(scope, exchange))
        if not exchange.complete:
            return http_response(500, _ERROR_HEADERS, _ERROR_BODY)
        return http_response(exchange.status, exchange.headers, b"".join(exchange.chunks))

    async def _run(self, scope: Scope, exchange: _Exchange) -> None:
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            logger.exception("unhandled error in the ASGI app", extra={"path": scope["path"]})
