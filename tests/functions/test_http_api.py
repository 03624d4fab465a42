"""`functions.http_api` against Mangum, which it replaced: the same ASGI scope and body for
API Gateway's payload-2.0 events (every event of events/api, and edge cases), the same
Lambda response for what an app answers (headers, cookies, text and binary bodies, errors)."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mangum import Mangum

from functions.http_api import HttpApiAdapter

EVENTS = Path(__file__).parents[2] / "events" / "api"
CONTEXT = object()


def _event(name: str) -> dict[str, Any]:
    text = re.sub(r"\$\{[A-Z_]+\}", "1", (EVENTS / f"{name}.json").read_text())
    return json.loads(text)


def _base(**changes: Any) -> dict[str, Any]:
    event = _event("wallet-transactions")
    event.update(changes)
    return event


class Recorder:
    """An ASGI app that records its scope and the messages it received, then answers
    `messages` (or raises `fail` after sending them)."""

    def __init__(self, messages: list[dict[str, Any]], fail: Exception | None = None) -> None:
        self.messages = messages
        self.fail = fail
        self.scope: dict[str, Any] = {}
        self.received: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self.received.append(await receive())
        for message in self.messages:
            await send(message)
        if self.fail is not None:
            raise self.fail


def _answer(
    status: int = 200, headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"{}"
) -> list[dict[str, Any]]:
    start = {"type": "http.response.start", "status": status, "headers": headers or []}
    return [start, {"type": "http.response.body", "body": body}]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """Mangum runs on the thread's loop; the adapter on the one it is given: the same."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        loop.close()
        asyncio.set_event_loop(None)


Serve = Callable[[Recorder, dict[str, Any]], dict[str, Any]]


@pytest.fixture(params=["mangum", "ours"])
def serve(request: pytest.FixtureRequest, loop: asyncio.AbstractEventLoop) -> Serve:
    def run(app: Recorder, event: dict[str, Any]) -> dict[str, Any]:
        if request.param == "mangum":
            return Mangum(app, lifespan="off")(copy.deepcopy(event), CONTEXT)  # type: ignore[arg-type]
        return HttpApiAdapter(app, lambda: loop)(copy.deepcopy(event), CONTEXT)

    return run


def _both(
    loop: asyncio.AbstractEventLoop, event: dict[str, Any], messages: list[dict[str, Any]]
) -> tuple[tuple[Recorder, dict[str, Any]], tuple[Recorder, dict[str, Any]]]:
    """The same event and answer through Mangum and through the adapter."""
    theirs, ours = Recorder(messages), Recorder(messages)
    mangum = Mangum(theirs, lifespan="off")  # type: ignore[arg-type]
    return (
        (theirs, mangum(copy.deepcopy(event), CONTEXT)),
        (ours, HttpApiAdapter(ours, lambda: loop)(copy.deepcopy(event), CONTEXT)),
    )


def _comparable(scope: dict[str, Any]) -> dict[str, Any]:
    return {**scope, "headers": [tuple(header) for header in scope["headers"]]}


EDGE_EVENTS = {
    "cookies": _base(cookies=["a=1", "b=2; Path=/"]),
    "repeated query": _base(rawQueryString="limit=5&kind=rake&kind=deposit&x=%20y"),
    "base64 body": _base(body=base64.b64encode(b"\x00\xff{}").decode(), isBase64Encoded=True),
    "text body": _base(body='{"amount": 10000, "note": "caf\u00e9"}', isBase64Encoded=False),
    "no headers": _base(headers={}),
    "mixed-case headers": _base(headers={"Host": "h.example", "X-Forwarded-Proto": "http"}),
    "joined header": _base(headers={"host": "h", "accept": "a/b,c/d", "x-forwarded-port": "8443"}),
    "host with port": _base(headers={"host": "h.example:8080"}),
    "encoded path": _base(
        requestContext={
            **_base()["requestContext"],
            "http": {**_base()["requestContext"]["http"], "path": "/api/v1/hands/a%2Fb%20c"},
        }
    ),
}


@pytest.mark.parametrize("name", sorted(p.stem for p in EVENTS.glob("*.json")))
def test_every_api_event_gives_mangums_scope_and_body(loop, name):
    (theirs, their_answer), (ours, our_answer) = _both(loop, _event(name), _answer())
    assert _comparable(ours.scope) == _comparable(theirs.scope)
    assert ours.received == theirs.received
    assert our_answer == their_answer


@pytest.mark.parametrize("name", sorted(EDGE_EVENTS))
def test_edge_cases_give_mangums_scope_and_body(loop, name):
    (theirs, _), (ours, _) = _both(loop, EDGE_EVENTS[name], _answer())
    assert _comparable(ours.scope) == _comparable(theirs.scope)
    assert ours.received == theirs.received


def test_the_scope_carries_what_the_app_reads(serve):
    app = Recorder(_answer())
    serve(app, EDGE_EVENTS["cookies"])
    headers = dict(app.scope["headers"])
    assert headers[b"cookie"] == b"a=1; b=2; Path=/"
    assert headers[b"authorization"] == b"Bearer 1"
    assert app.scope["client"] == ("203.0.113.10", 0)
    assert app.scope["aws.event"]["requestContext"]["requestId"] == "wallet-transactions-0001"
    assert app.scope["aws.context"] is CONTEXT
    assert app.received == [{"type": "http.request", "body": b"", "more_body": False}]


ANSWERS = {
    "json": _answer(201, [(b"content-type", b"application/json")], b'{"a": 1}'),
    "no content type": _answer(200, [], b'{"a": 1}'),
    "empty body": _answer(204, [(b"x-correlation-id", b"c-1")], b""),
    "repeated headers": _answer(
        200, [(b"Vary", b"Accept"), (b"vary", b"Origin"), (b"X-A", b"1")], b"ok"
    ),
    "cookies": _answer(
        200,
        [
            (b"set-cookie", b"a=1; HttpOnly"),
            (b"Set-Cookie", b"b=2"),
            (b"content-type", b"text/plain"),
        ],
        b"ok",
    ),
    "binary": _answer(200, [(b"content-type", b"application/octet-stream")], b"\x00\x01\xff"),
    "text that is not utf-8": _answer(200, [(b"content-type", b"text/csv")], b"caf\xe9"),
    "openapi": _answer(200, [(b"content-type", b"application/vnd.oai.openapi")], b"openapi: 3"),
    "chunked": [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.body", "body": b'{"a": ', "more_body": True},
        {"type": "http.response.body", "body": b"1}", "more_body": False},
    ],
}


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_the_response_is_mangums(loop, name):
    (_, theirs), (_, ours) = _both(loop, _event("wallet-balance"), ANSWERS[name])
    assert ours == theirs
    assert list(ours) == list(theirs)  # the same keys in the same order


def test_binary_and_base64_bodies_round_trip(serve):
    answer = serve(Recorder(ANSWERS["binary"]), EDGE_EVENTS["base64 body"])
    assert answer["isBase64Encoded"] is True
    assert base64.b64decode(answer["body"]) == b"\x00\x01\xff"


@pytest.mark.parametrize(
    ("messages", "expected_status"),
    [([], 500), (_answer(202)[:1], 500), (_answer(202), 202)],
    ids=["before the response", "during the response", "after the response"],
)
def test_an_app_that_raises_is_a_plain_500_unless_its_answer_was_whole(
    serve, messages, expected_status
):
    answer = serve(Recorder(messages, fail=RuntimeError("boom")), _event("wallet-balance"))
    assert answer["statusCode"] == expected_status
    if expected_status == 500:
        assert answer["body"] == "Internal Server Error"
        assert answer["headers"] == {"content-type": "text/plain; charset=utf-8"}


def test_a_client_value_mangum_failed_on_is_port_80(loop):
    event = _base(headers={"host": "h", "x-forwarded-port": "８０"})
    app = Recorder(_answer())
    HttpApiAdapter(app, lambda: loop)(event, CONTEXT)
    assert app.scope["server"] == ("h", 80)
    app = Recorder(_answer())
    HttpApiAdapter(app, lambda: loop)(_base(headers={"host": "a:b:443"}), CONTEXT)
    assert app.scope["server"] == ("a:b", 443)


def test_a_second_receive_waits_for_the_whole_response_then_disconnects(loop):
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

        async def listen() -> None:
            message = await receive()
            seen.append(message["type"])

        listener = asyncio.create_task(listen())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0)
        seen.append("body")
        await send({"type": "http.response.body", "body": b"{}"})
        await listener

    answer = HttpApiAdapter(app, lambda: loop)(_event("wallet-balance"), CONTEXT)
    assert answer["statusCode"] == 200
    assert seen == ["body", "http.disconnect"]


def test_invocations_share_the_execution_environments_loop(loop):
    loops: list[asyncio.AbstractEventLoop] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        loops.append(asyncio.get_running_loop())
        for message in _answer():
            await send(message)

    adapter = HttpApiAdapter(app, lambda: loop)
    for _ in range(3):
        adapter(_event("health"), CONTEXT)
    assert loops == [loop, loop, loop]


def test_an_unexpected_message_is_an_error_in_the_app(serve):
    twice = [_answer()[0], *_answer()]
    assert serve(Recorder(twice), _event("health"))["statusCode"] == 500
