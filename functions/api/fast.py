"""Plain ASGI handlers for the five hot reads, served ahead of FastAPI's router.

The balance, the statement, the lobby list, the hand list and one hand are most of the API's
requests (`loadtest/bench_api.py`'s mix, the load test's bots). For them FastAPI's request
cycle — its dependency solver for four or five dependants, the request and response objects —
cost more CPU than the read itself. `FastReads` answers them directly, with the same security
and the same answers:

* the same code: the token check, revocation and rate limit are `deps.authenticate` (the
  lobby's per-address limit `deps.general_limit.count`), the answer is the route's own
  function (`read_balance`, `tables_page`, ...) serialised as FastAPI serialises the route's
  response model (the statement's and hands' answers are plain values in their models' shape,
  written without a model object per line: the pages by orjson, one hand by pydantic's own
  serialiser, `pydantic_core.to_json`; the same bytes, see `page_json`), and any error goes
  through the app's own exception handlers (the same envelopes, statuses and headers);
* only requests it fully understands: ``GET`` of one of the five paths, an ``Authorization:
  Bearer`` header where the route takes one, and every query parameter the route knows given
  once and valid under its bounds (plain digits for integers). Anything else — a missing
  token, a value out of bounds, an unknown ``kind`` — goes to FastAPI, which answers it as
  always (its 401 or 422), so no error shape is written twice;
* the matched FastAPI route is put in the scope (``scope["route"]``) before the answer, as
  Starlette does, so the access log, the metrics and the correlation id
  (`functions.api.observability`, which wraps this) are the route's.

The FastAPI routes stay: they describe these reads in the OpenAPI document and answer what
this module passes on. tests/functions/api/test_api_fast_reads.py compares both paths'
answers, valid and invalid.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any, cast, get_args
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from functions.api import deps
from functions.api.routes import hands, lobby, wallet
from functions.api.schemas import BalanceOut
from holdem.bootstrap import Container
from holdem.bounds import MAX_BIGINT
from holdem.ports import address_client
from holdem.services.lobby import TableFilter

_DIGITS = re.compile(r"0|[1-9][0-9]{0,18}")
"""An integer as plain digits (the values FastAPI accepts besides these — signs, spaces,
``5.0`` — go to FastAPI)."""


class _PassOnError(Exception):
    """The request is not one this module answers: FastAPI does."""


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
            raise _PassOnError
        return int(value)

    return parse


def _text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not 0 < len(value) <= max_length:
            raise _PassOnError
        return value

    return parse


def _one_of(*values: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in values:
            raise _PassOnError
        return value

    return parse


Parsers = dict[str, Callable[[str], Any]]


def _query(scope: Scope, parsers: Parsers) -> dict[str, Any]:
    """The known parameters' values, parsed as Starlette reads a query string; unknown ones
    are ignored (as FastAPI does)."""
    values: dict[str, Any] = {}
    for name, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        parse = parsers.get(name)
        if parse is not None:
            if name in values:
                raise _PassOnError  # FastAPI takes the last one: rare, so it answers
            values[name] = parse(value)
    return values


def _bearer(scope: Scope) -> str:
    """The token of the request's only ``Authorization: Bearer`` header."""
    found: list[bytes] = [value for name, value in scope["headers"] if name == b"authorization"]
    if len(found) != 1:
        raise _PassOnError
    scheme, _, token = found[0].decode("latin-1").partition(" ")
    token = token.strip()  # as FastAPI's `get_authorization_scheme_param`
    if scheme.lower() != "bearer" or not token:
        raise _PassOnError
    return token


_STATEMENT_KINDS = get_args(wallet.StatementKind)
_STATEMENT: Parsers = {
    "cursor": _text(64),
    "limit": _integer(1, 200),
    "kind": _one_of(*_STATEMENT_KINDS),
}
_HANDS: Parsers = {"cursor": _text(512), "limit": _integer(1, 100)}
_STAKE = _integer(1, 10**15)
_TABLES: Parsers = {
    "status": _one_of("open", "closing", "closed"),
    "small_blind": _STAKE,
    "big_blind": _STAKE,
    "max_seats": _integer(2, 9),
    "min_free_seats": _integer(0, 9),
    "cursor": _text(512),
    "limit": _integer(1, 100),
}
_HAND_ID = _integer(1, MAX_BIGINT)

_balance_json = TypeAdapter(BalanceOut)


def plain_json(answer: Any) -> bytes:
    """An answer in plain values (dicts, lists, numbers, text, timestamps, models) as its
    route's model writes it: pydantic's serialiser, a non-finite float as ``null`` (the models'
    ``ser_json_inf_nan``; `to_json`'s default would write ``Infinity``, which is not JSON)."""
    return to_json(answer, inf_nan_mode="null")


def page_json(page: dict[str, Any]) -> bytes:
    """A statement or hand list page in plain values, as `plain_json` writes it, by orjson:
    ≈ 6 against ≈ 19 µs for a page of 20 lines.

    The two write the same bytes for what a page holds (tests/functions/api/test_page_json.py,
    property tests of each kind of value against the models' `dump_json`, and the app's
    pages): text, booleans, None, integers in 64 bits, floats (finite, shortest round-trip;
    non-finite as ``null``), lists, dicts with text keys, and timestamps with a whole-minute
    UTC offset (``Z`` for UTC; a page's are PostgreSQL's, of entries and hands written by the
    server, and every time zone's offset is whole minutes since 1972). What orjson refuses (an
    integer beyond 64 bits, a lone surrogate, a type it does not know) is written by
    `plain_json`.
    """
    try:
        return orjson.dumps(page, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:
        return plain_json(page)


Read = Callable[[Container, Scope, str], Awaitable[bytes]]
"""A hot read: the container, the request's scope and the path's last segment -> the JSON
answer. Raises `_PassOnError` before any work when FastAPI should answer instead."""


async def _balance(container: Container, scope: Scope, _: str) -> bytes:
    claims = await deps.authenticate(container, _bearer(scope))
    return _balance_json.dump_json(await wallet.read_balance(container, claims.user_id))


async def _statement(container: Container, scope: Scope, _: str) -> bytes:
    query, token = _query(scope, _STATEMENT), _bearer(scope)
    claims = await deps.authenticate(container, token)
    page = await wallet.read_statement(
        container,
        claims.user_id,
        query.get("cursor"),
        query.get("limit", 50),
        query.get("kind"),
    )
    return page_json(page)


async def _tables(container: Container, scope: Scope, _: str) -> bytes:
    query = _query(scope, _TABLES)
    client = scope.get("client")
    address = client[0] if client and client[0] else "unknown"  # as `deps.client_ip`
    await deps.general_limit.count(container, address_client(address))
    where = TableFilter(
        status=query.get("status", "open"),
        small_blind=query.get("small_blind"),
        big_blind=query.get("big_blind"),
        min_free_seats=query.get("min_free_seats", 0),
        max_seats=query.get("max_seats"),
    )
    return await lobby.tables_page(container, where, query.get("cursor"), query.get("limit", 50))


async def _hand_list(container: Container, scope: Scope, _: str) -> bytes:
    query, token = _query(scope, _HANDS), _bearer(scope)
    claims = await deps.authenticate(container, token)
    page = await hands.read_hands(
        container, claims.user_id, query.get("cursor"), query.get("limit", 20)
    )
    return page_json(page)


async def _hand(container: Container, scope: Scope, segment: str) -> bytes:
    hand_id, token = _HAND_ID(segment), _bearer(scope)
    claims = await deps.authenticate(container, token)
    return plain_json(await hands.read_hand(container, claims.user_id, hand_id))


_READS: dict[str, Read] = {
    "/api/v1/wallet/balance": _balance,
    "/api/v1/wallet/transactions": _statement,
    "/api/v1/lobby/tables": _tables,
    "/api/v1/hands": _hand_list,
}
_HAND_PREFIX = "/api/v1/hands/"

_HttpHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


class FastReads:
    """The ASGI layer that answers the hot reads (see the module docstring) and passes every
    other request to the app it wraps."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        shadowed = {
            route.path: route
            for route in api.routes
            if isinstance(route, APIRoute) and route.methods == {"GET"}
        }
        # Each read's FastAPI route: the scope's route (metrics, logs) and its description.
        self._routes = {path: shadowed[path] for path in _READS}
        self._hand_route = shadowed[_HAND_PREFIX + "{hand_id}"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        read = _READS.get(path)
        if read is not None:
            route, segment = self._routes[path], ""
        elif path.startswith(_HAND_PREFIX) and "/" not in path[len(_HAND_PREFIX) :]:
            read, route, segment = _hand, self._hand_route, path[len(_HAND_PREFIX) :]
        else:
            await self.app(scope, receive, send)
            return
        try:
            await self._answer(scope, receive, send, read, route, segment)
        except _PassOnError:
            await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, read: Read, route: APIRoute, segment: str
    ) -> None:
        provider = self.api.dependency_overrides.get(deps.get_container, deps.get_container)
        container: Container = await provider()
        scope["route"] = route  # as Starlette's router sets it (FastAPI resets it if it answers)
        try:
            body = await read(container, scope, segment)
        except _PassOnError:
            raise
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # the observability layer's 500, as for an error in a FastAPI route
            answer = handler(Request(scope), exc)
            response = await answer if inspect.isawaitable(answer) else answer
            await response(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _handler_for(self, exc: Exception) -> _HttpHandler | None:
        """The app's exception handler for ``exc``, looked up as Starlette does (by class,
        most specific first)."""
        handlers = self.api.exception_handlers
        for kind in type(exc).__mro__:
            if kind in handlers:
                return cast(_HttpHandler, handlers[kind])  # the app's are all HTTP handlers
        return None
