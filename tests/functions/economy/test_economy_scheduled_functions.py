"""The planner, archiver, daily-stats and audit-relay Lambdas with their sample events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from devstack.lambda_runtime import load_functions
from devstack.paths import ROOT
from devstack.scheduler import find_schedule, schedules
from devstack.template import Resolver, load_template
from functions.archiver import handler as archiver
from functions.audit_relay import handler as audit_relay_function
from functions.daily_stats import handler as daily_stats
from functions.rakeback_planner import handler as planner
from holdem.adapters import audit_relay
from holdem.ledger.rakeback import KST
from tests.economy_hands import PREFLOP_FOLD, SHOWDOWN, make_table, make_users, play, store_hand
from tests.functions.economy.economy_lambda import REGION, event


def _hands(instants, players=3):
    async def make(container):
        async with container.sessions() as session, session.begin():
            users = await make_users(session, players)
            table = await make_table(session)
            ids = [
                await store_hand(session, table, users, play("abc", SHOWDOWN), at)
                for at in instants
            ]
        return users, ids

    return make


def test_the_planner_sends_the_users_owed_for_a_week_in_batches(lam):
    sunday = datetime(2026, 11, 22, 23, 59, 59, tzinfo=KST)
    users, _ = lam.seed(_hands([sunday]))

    result = planner.handler(event("rakeback_planner/rerun-week.json"), lam.context)

    assert result == {"week": "2026-11-16", "users": 3, "messages": 2}
    messages = lam.received()
    assert sorted(u for m in messages for u in m["user_ids"]) == users
    assert {m["week"] for m in messages} == {"2026-11-16"}


def test_the_scheduled_planner_settles_the_previous_kst_week(lam):
    result = planner.handler(event("rakeback_planner/scheduled.json"), lam.context)
    monday = datetime.fromisoformat(result["week"])
    assert monday.weekday() == 0
    assert result["users"] == result["messages"] == 0
    assert lam.received() == []


def test_a_planner_event_with_a_tuesday_is_refused_and_sends_nothing(lam):
    result = planner.handler(event("rakeback_planner/bad-week.json"), lam.context)
    assert result["error"]["code"] == "invalid_input"
    assert lam.received() == []
    assert planner.handler({"batch_size": 0}, lam.context)["error"]["code"] == "invalid_input"


def test_the_archiver_moves_week_old_hands_to_s3(lam):
    now = datetime.now(UTC)
    old = (now - timedelta(days=8)).replace(minute=10, second=0, microsecond=0)
    _, ids = lam.seed(_hands([old, old + timedelta(minutes=1), now - timedelta(days=1)]))

    result = archiver.handler(event("archiver/scheduled.json"), lam.context)

    assert result["hands"] == 2
    assert result["batches"] == 1
    keys = [o["Key"] for o in lam.s3.list_objects_v2(Bucket=lam.bucket)["Contents"]]
    assert len(keys) == 1
    assert keys[0].endswith(f"-{ids[0]}.msgpack.xz")
    assert archiver.handler(event("archiver/scheduled.json"), lam.context)["hands"] == 0
    assert archiver.handler({"max_batches": -1}, lam.context)["error"]["code"] == "invalid_input"


def test_daily_stats_at_03_00_kst_cover_the_day_before(lam):
    now = datetime.now(UTC)
    yesterday = now.astimezone(KST).date() - timedelta(days=1)
    noon = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=KST)

    async def make(container):
        async with container.sessions() as session, session.begin():
            users = await make_users(session, 3)
            table = await make_table(session)
            await store_hand(session, table, users, play("abc", SHOWDOWN), noon)
            await store_hand(session, table, users, play("abc", PREFLOP_FOLD), noon)

    lam.seed(make)
    result = daily_stats.handler(event("daily_stats/scheduled.json"), lam.context)
    assert result == {
        "day": yesterday.isoformat(),
        "stakes": 1,
        "hands": 2,
        "rake": 900,
        "active_players": 3,
    }
    bad = daily_stats.handler(event("daily_stats/bad-day.json"), lam.context)
    assert bad["error"]["code"] == "invalid_input"
    recompute = daily_stats.handler({"day": yesterday.isoformat()}, lam.context)
    assert recompute == result
    long_ago = (yesterday - timedelta(days=10)).isoformat()
    assert daily_stats.handler({"day": long_ago}, lam.context)["error"]["code"] == "invalid_input"
    assert daily_stats.StatsEvent.model_validate(event("daily_stats/recompute-day.json")).day


def _template_schedule(function_id):
    template = ROOT / "template.yaml"
    resolver = Resolver(load_template(template), "holdem-local", REGION)
    return find_schedule(schedules(load_functions(resolver, template), resolver), function_id)


async def _deposits(container):
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 2)
    service = container.ledger
    for user in users:
        await service.credit_deposit(
            key=f"deposit:USDT:relay{user}:0",
            user_id=user,
            amount=150_000,
            coin="USDT",
            crypto_amount=Decimal(100),
            rate_krw=Decimal(1500),
            tx_hash=f"relay{user}",
            address="0xrelay",
        )


def test_the_audit_relay_runs_every_minute_and_copies_new_records_to_redis_and_s3(lam):
    schedule = _template_schedule("AuditRelayFunction")
    at = datetime(2026, 11, 26, 13, 7, 30, tzinfo=UTC)
    assert schedule.next_after(at) == datetime(2026, 11, 26, 13, 8, tzinfo=UTC)
    lam.seed(_deposits)

    fired = schedule.event(schedule.next_after(at))
    result = audit_relay_function.handler(fired, lam.context)

    assert result == {"redis": 2, "s3_records": 2, "s3_objects": 1}
    assert audit_relay_function.handler(fired, lam.context) == {
        "redis": 0,
        "s3_records": 0,
        "s3_objects": 0,
    }

    async def copies(container):
        async with container.sessions() as session:
            database = await audit_relay.database_records(session)
            cursors = {d: await audit_relay.published_cursors(session, d) for d in ("redis", "s3")}
        streamed = await audit_relay.redis_copies(container.redis)
        return database, cursors, streamed

    database, cursors, streamed = lam.seed(copies)
    stored = audit_relay.s3_copies(lam.s3, lam.audit_bucket)
    for destination, found in (("redis", streamed), ("s3", stored)):
        report = audit_relay.compare_copy(destination, found, database, cursors[destination])
        assert report.ok, report.problems
        assert report.records == 2
