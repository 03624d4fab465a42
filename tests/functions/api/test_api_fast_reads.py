"""The hot reads' plain ASGI handlers (`functions.api.fast`) answer as the FastAPI routes they
shadow: the same status, headers and body bytes for valid and invalid requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import TypeAdapter

from functions.api import deps
from functions.api.fast import FastReads, page_json, plain_json
from functions.api.observability import REQUESTS
from functions.api.schemas import HandEventOut, HandPlayerOut, HandSummaryOut, StatementPage
from holdem.bootstrap import bootstrap
from holdem.services import hand_history
from tests.functions.api.api_support import deposit, make_app, make_hand, make_table

CORRELATION = {"X-Correlation-Id": "compare-1"}


def _clients(container):
    """Clients of the app and of `_fastapi_only`, from one address of their own (the players'
    registrations counted the usual one against the lobby's per-address limit)."""
    return tuple(
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("192.0.2.7", 1000)),
            base_url="http://test",
        )
        for app in (make_app(container), _fastapi_only(container))
    )


def _fastapi_only(container):
    """The same app without the fast path: every request through FastAPI's router."""
    app = make_app(container)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not FastReads]
    return app


@pytest.fixture
async def plain(container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_fastapi_only(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def seeded(users, container):
    """Two players with money, a table and a hand each saw: (me, other, hand id)."""
    me, other = await users.player(), await users.player()
    await deposit(container, me.user_id, 150_000)
    async with container.sessions() as db:
        table = await make_table(db)
        await make_table(db, name="Busan 2", small_blind=500, big_blind=1_000, max_seats=6)
        hand = await make_hand(
            db, table.id, 1, [(0, me.user_id, "AsAd", False), (1, other.user_id, "KcKd", True)]
        )
        alone = await make_hand(db, table.id, 2, [(1, other.user_id, "7h2s", False)])
        await db.commit()
    return me, other, hand.id, alone.id


async def _same(client, plain, path: str, headers: dict[str, str]) -> httpx.Response:
    fast = await client.get(path, headers={**CORRELATION, **headers})
    slow = await plain.get(path, headers={**CORRELATION, **headers})
    assert (fast.status_code, fast.content) == (slow.status_code, slow.content), path
    assert fast.headers.multi_items() == slow.headers.multi_items(), path
    return fast


READS = [
    "/api/v1/wallet/balance",
    "/api/v1/wallet/transactions",
    "/api/v1/wallet/transactions?limit=1",
    "/api/v1/wallet/transactions?limit=200&kind=crypto_deposit",
    "/api/v1/wallet/transactions?kind=win",
    "/api/v1/wallet/transactions?limit=2&other=ignored",
    "/api/v1/lobby/tables",
    "/api/v1/lobby/tables?limit=1",
    "/api/v1/lobby/tables?status=closed",
    "/api/v1/lobby/tables?small_blind=500&big_blind=1000&max_seats=6&min_free_seats=3",
    "/api/v1/hands",
    "/api/v1/hands?limit=1",
]
INVALID = [
    "/api/v1/wallet/transactions?limit=0",
    "/api/v1/wallet/transactions?limit=201",
    "/api/v1/wallet/transactions?limit=abc",
    "/api/v1/wallet/transactions?limit=+5",
    "/api/v1/wallet/transactions?limit=05",
    "/api/v1/wallet/transactions?limit=",
    "/api/v1/wallet/transactions?limit=1&limit=2",
    "/api/v1/wallet/transactions?kind=bogus",
    "/api/v1/wallet/transactions?cursor=not-a-cursor",
    "/api/v1/wallet/transactions?cursor=" + "x" * 65,
    "/api/v1/wallet/transactions?cursor=",
    "/api/v1/lobby/tables?status=gone",
    "/api/v1/lobby/tables?small_blind=0",
    "/api/v1/lobby/tables?small_blind=1000000000000001",
    "/api/v1/lobby/tables?max_seats=1",
    "/api/v1/lobby/tables?min_free_seats=10",
    "/api/v1/lobby/tables?cursor=%ff%fe",
    "/api/v1/lobby/tables?limit=101",
    "/api/v1/hands?limit=0",
    "/api/v1/hands?cursor=bad",
    "/api/v1/hands?cursor=" + "x" * 513,
    "/api/v1/hands/0",
    "/api/v1/hands/abc",
    "/api/v1/hands/-1",
    "/api/v1/hands/9223372036854775808",
    "/api/v1/hands/9223372036854775807",
    "/api/v1/hands/1/",
    "/api/v1/wallet/balance/",
]


@pytest.mark.parametrize("path", READS + INVALID)
async def test_each_read_answers_as_its_fastapi_route(client, plain, seeded, path):
    me, _, _, _ = seeded
    await _same(client, plain, path, me.headers)


async def test_one_hand_mine_and_not_mine(client, plain, seeded):
    me, other, hand_id, alone_id = seeded
    r = await _same(client, plain, f"/api/v1/hands/{hand_id}", me.headers)
    assert r.status_code == 200
    assert "KcKd" in r.text  # shown
    r = await _same(client, plain, f"/api/v1/hands/{alone_id}", me.headers)
    assert r.status_code == 404
    await _same(client, plain, f"/api/v1/hands/{alone_id}", other.headers)


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer ", "Basic abc", "bearer not-a-token", "Bearer a.b.c"],
)
async def test_a_missing_or_invalid_token_is_refused_alike(client, plain, seeded, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in ("/api/v1/wallet/balance", "/api/v1/hands?limit=0", "/api/v1/hands/1"):
        r = await _same(client, plain, path, headers)
        assert r.status_code == 401


@pytest.mark.parametrize("spelling", ["bearer {}", "BEARER {}", "Bearer  {} ", "Bearer {}  "])
async def test_the_token_is_read_alike_in_any_spelling_fastapi_accepts(
    client, plain, seeded, spelling
):
    me, _, _, _ = seeded
    headers = {"Authorization": spelling.format(me.access_token)}
    r = await _same(client, plain, "/api/v1/wallet/balance", headers)
    assert r.status_code == 200


async def test_a_revoked_token_is_refused_alike(client, plain, seeded):
    me, _, hand_id, _ = seeded
    assert (await client.get("/api/v1/wallet/balance", headers=me.headers)).status_code == 200
    r = await client.post("/api/v1/auth/logout", json={}, headers=me.headers)
    assert r.status_code == 204
    for path in (
        "/api/v1/wallet/balance",
        "/api/v1/wallet/transactions",
        f"/api/v1/hands/{hand_id}",
    ):
        r = await _same(client, plain, path, me.headers)
        assert r.status_code == 401
        assert r.json()["error"]["details"] == {"reason": "revoked"}


async def test_valid_reads_never_reach_fastapi(container, seeded):
    """With FastAPI's token check and lobby limit made to fail, the valid hot reads still
    succeed: the fast path answered them (and counted them, under the route's template)."""
    me, _, hand_id, _ = seeded
    app = make_app(container)

    async def not_here() -> None:
        raise AssertionError("answered by FastAPI")

    app.dependency_overrides[deps.authenticated_general_limit] = not_here
    app.dependency_overrides[deps.general_limit] = not_here
    counted = REQUESTS.labels("GET", "/api/v1/hands/{hand_id}", "2xx")
    before = counted._value.get()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as fast:
        for path in [*READS, f"/api/v1/hands/{hand_id}"]:
            r = await fast.get(path, headers={**CORRELATION, **me.headers})
            assert r.status_code == 200, (path, r.text)
            assert r.headers["x-correlation-id"] == "compare-1"
        # An invalid one goes to FastAPI (here: the failing check, a 500).
        r = await fast.get("/api/v1/hands?limit=0", headers=me.headers)
        assert r.status_code == 500
    assert counted._value.get() == before + 1


async def test_the_rate_limit_refuses_alike(settings, seeded):
    me, _, _, _ = seeded
    tight = settings.model_copy(
        update={"rate_limits": settings.rate_limits.model_copy(update={"default_per_minute": 2})}
    )
    container = bootstrap(tight)
    try:
        fast, slow = _clients(container)
        async with fast, slow:
            for path, headers in (
                ("/api/v1/wallet/balance", me.headers),
                ("/api/v1/lobby/tables", {}),
            ):
                assert (await fast.get(path, headers=headers)).status_code == 200
                assert (await slow.get(path, headers=headers)).status_code == 200
                a = await fast.get(path, headers={**CORRELATION, **headers})
                b = await slow.get(path, headers={**CORRELATION, **headers})
                assert a.status_code == b.status_code == 429
                # The time left may read a second apart between the two requests.
                assert _without_time(a.json()) == _without_time(b.json())
                assert a.headers.keys() == b.headers.keys()
                assert 1 <= int(a.headers["retry-after"]) <= 60
    finally:
        await container.aclose()


def _without_time(body: dict) -> dict:
    body["error"]["details"].pop("retry_after_s")
    return body


async def test_a_redis_outage_is_a_503_alike(settings, seeded):
    me, _, _, _ = seeded
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    container = bootstrap(down)
    try:
        fast, slow = _clients(container)
        async with fast, slow:
            for path, headers in (
                ("/api/v1/wallet/balance", me.headers),
                ("/api/v1/lobby/tables", {}),
            ):
                a = await fast.get(path, headers={**CORRELATION, **headers})
                b = await slow.get(path, headers={**CORRELATION, **headers})
                assert (a.status_code, a.content) == (b.status_code, b.content)
                assert a.status_code == 503
                assert a.headers.multi_items() == b.headers.multi_items()
    finally:
        await container.aclose()


@pytest.mark.parametrize(
    ("view", "model"),
    [
        (hand_history.HandSummary, HandSummaryOut),
        (hand_history.PlayerView, HandPlayerOut),
        (hand_history.EventView, HandEventOut),
    ],
)
def test_the_hand_views_are_written_as_their_models(view, model):
    """The hand reads write their views' fields as is (`_asdict`): a field added to a view and
    not to its model would reach the fast path's answer, and not FastAPI's."""
    assert list(view._fields) == list(model.model_fields)


def test_plain_answers_are_written_as_their_models_write_them():
    """A statement in plain values is written with the bytes of its model's JSON by both of the
    fast path's writers (`page_json`, orjson; `plain_json`, pydantic's), whatever the details
    hold: numbers beyond 64 bits (orjson refuses them: pydantic writes the page), floats,
    non-finite ones (``null``, as the models write them), text to escape."""
    at = datetime(2026, 12, 7, 8, 30, 1, 250, tzinfo=UTC)
    line = {
        "id": 2**62,
        "transaction_id": 7,
        "kind": "crypto_deposit",
        "account": "wallet",
        "table_id": None,
        "amount_krw": -1_000,
        "balance_after": 0,
        "created_at": at,
        "completed_at": at.replace(microsecond=0),
        "details": {
            "crypto_amount": "0.00100000",
            "rate": 1.5e-7,
            "huge": float("inf"),  # json.loads of 1e400, which jsonb stores
            "nan": float("nan"),
            "text": 'Seoul "서울"\n\t\u0001\u2028',
            "nested": [{"a": None, "b": True}, [], {}],
        },
    }
    adapter = TypeAdapter(StatementPage)
    small = {"items": [line, {**line, "completed_at": None, "details": {}}], "next_cursor": "ZTE"}
    big = {**small, "items": [{**line, "details": {**line["details"], "big": 10**30}}]}
    for page in (small, big):
        model_json = adapter.dump_json(adapter.validate_python(page))
        assert page_json(page) == plain_json(page) == model_json
