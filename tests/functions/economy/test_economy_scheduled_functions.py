"""The planner, archiver and daily-stats Lambdas with their sample events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.archiver import handler as archiver
from functions.daily_stats import handler as daily_stats
from functions.rakeback_planner import handler as planner
from holdem.ledger.rakeback import KST
from tests.economy_hands import PREFLOP_FOLD, SHOWDOWN, make_table, make_users, play, store_hand
from tests.functions.economy.economy_lambda import event


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
