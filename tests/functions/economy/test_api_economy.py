"""The economy routes of the REST API: statements, operators' rakeback and stats, exports."""

from __future__ import annotations

from datetime import datetime, timedelta

import boto3
import httpx
import pytest

from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.config import Settings
from holdem.ledger.rakeback import KST, week_starting
from holdem.services import rakeback, stats
from tests.economy_hands import SHOWDOWN, make_table, play, store_hand
from tests.functions.api.api_support import Users, make_app
from tests.settings_support import TEST_AUTH

SUNDAY_LATE = datetime(2026, 11, 22, 23, 59, 59, tzinfo=KST)
WEEK = "2026-11-16"


@pytest.fixture
def settings(aws, database_url, redis_url) -> Settings:
    s3 = boto3.client("s3", region_name="ap-northeast-2")
    s3.create_bucket(
        Bucket="api-hand-archive",
        CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"},
    )
    sqs = boto3.client("sqs", region_name="ap-northeast-2")
    queue_url = sqs.create_queue(QueueName="api-rakeback")["QueueUrl"]
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        auth=TEST_AUTH,
        aws={"archive_bucket": "api-hand-archive", "rakeback_queue_url": queue_url},
        rate_limits={
            "default_per_minute": 10_000,
            "login_per_minute": 1_000,
            "register_per_minute": 1_000,
        },
    )


@pytest.fixture
async def client(container):
    app = make_app(container)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        yield c


@pytest.fixture
async def table(container, client):
    users = Users(client, container)
    players = [await users.player() for _ in range(3)]
    operator = await users.operator()
    async with container.sessions() as session, session.begin():
        table_id = await make_table(session)
        hand_id = await store_hand(
            session, table_id, [p.user_id for p in players], play("abc", SHOWDOWN), SUNDAY_LATE
        )
    return players, operator, hand_id


async def test_a_player_reads_their_weekly_statement(client, container, table):
    players, _, _ = table
    async with container.sessions() as session, session.begin():
        await rakeback.settle_user(
            SqlTransaction(session),
            rakeback.LedgerCredit(),
            players[0].user_id,
            week_starting(SUNDAY_LATE.date() - timedelta(days=6)),
        )
    r = await client.get("/api/v1/rakeback/statements", headers=players[0].headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert (item["week_start"], item["rake_paid"], item["level"], item["amount"], item["paid"]) == (
        WEEK,
        300,
        "bronze",
        60,
        True,
    )
    r = await client.get("/api/v1/rakeback/statements", headers=players[1].headers)
    assert r.json()["items"] == []


async def test_operators_dry_run_and_rerun_a_week(client, table):
    players, operator, _ = table
    url = f"/api/v1/admin/rakeback/weeks/{WEEK}"
    r = await client.get(f"{url}/dry-run", headers=operator.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["users"], body["total_rake"], body["total_rakeback"]) == (3, 900, 180)
    assert (await client.get(f"{url}/dry-run", headers=players[0].headers)).status_code == 403
    bad = await client.get(
        "/api/v1/admin/rakeback/weeks/2026-11-17/dry-run", headers=operator.headers
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_input"
    run = await client.post(f"{url}/run", headers=operator.headers)
    assert run.status_code == 202, run.text
    assert run.json() == {"week_start": WEEK, "users_enqueued": 3, "messages": 1}


async def test_operators_read_daily_stats(client, container, table):
    _, operator, _ = table
    day = SUNDAY_LATE.date()
    async with container.sessions() as session, session.begin():
        await stats.compute_daily_stats(
            SqlTransaction(session), day, SUNDAY_LATE + timedelta(hours=4)
        )
    r = await client.get(
        "/api/v1/admin/stats/daily",
        params={"since": day.isoformat(), "until": day.isoformat()},
        headers=operator.headers,
    )
    assert r.status_code == 200, r.text
    assert {i["stakes"]: i["hands"] for i in r.json()["items"]} == {"1000/2000": 1, "all": 1}
    reversed_range = await client.get(
        "/api/v1/admin/stats/daily",
        params={"since": day.isoformat(), "until": (day - timedelta(days=1)).isoformat()},
        headers=operator.headers,
    )
    assert reversed_range.status_code == 400


async def test_players_export_their_hands_in_both_formats(client, table):
    players, operator, hand_id = table
    me = players[1]
    text = await client.get(f"/api/v1/hand-exports/{hand_id}", headers=me.headers)
    assert text.status_code == 200, text.text
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith(f"PokerStars Hand #{hand_id}:")
    assert "attachment" in text.headers["content-disposition"]
    assert f"Dealt to {me.nickname} [Ks Kd]" in text.text
    assert "As Ad" not in text.text  # seat 0 mucked its aces
    ohh = await client.get(
        f"/api/v1/hand-exports/{hand_id}", params={"format": "ohh"}, headers=me.headers
    )
    assert ohh.json()["ohh"]["currency"] == "KRW"  # one hand: one OHH document
    assert ohh.headers["content-disposition"].endswith('.ohh"')
    start = SUNDAY_LATE - timedelta(hours=1)
    ranged = await client.get(
        "/api/v1/hand-exports",
        params={"since": start.isoformat(), "until": (start + timedelta(days=1)).isoformat()},
        headers=me.headers,
    )
    assert ranged.status_code == 200
    assert ranged.headers["x-hand-count"] == "1"
    other = await client.get(f"/api/v1/hand-exports/{hand_id}", headers=operator.headers)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
    bad = await client.get(
        f"/api/v1/hand-exports/{hand_id}", params={"format": "csv"}, headers=me.headers
    )
    assert bad.status_code == 422
    naive = await client.get(
        "/api/v1/hand-exports",
        params={"since": "2026-11-22T00:00:00", "until": "2026-11-23T00:00:00"},
        headers=me.headers,
    )
    assert naive.status_code == 400
    assert (await client.get(f"/api/v1/hand-exports/{hand_id}")).status_code == 401
