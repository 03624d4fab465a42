"""The local EventBridge Scheduler: 6-field cron in a timezone, firing through our own code."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from devstack.lambda_runtime import InProcessInvoker, load_functions
from devstack.paths import ROOT
from devstack.scheduler import (
    Cron,
    Schedule,
    ScheduleExpressionError,
    Scheduler,
    find_schedule,
    fire,
    schedules,
)
from devstack.template import Resolver, load_template
from tests.template.conftest import run_python

TEMPLATE_TEXT = (ROOT / "template.yaml").read_text()


def _schedule(expression: str, timezone: str = "Asia/Seoul") -> Schedule:
    return Schedule("s", "F", "E", expression, timezone, None, True)


def test_weekly_rakeback_cron_fires_monday_0400_in_seoul():
    weekly = _schedule("cron(0 4 ? * MON *)")
    # Thursday 26 Nov 2026, 13:00 UTC → Monday 30 Nov 04:00 KST = Sunday 29 Nov 19:00 UTC.
    after = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert weekly.next_after(after) == datetime(2026, 11, 29, 19, 0, tzinfo=UTC)
    assert weekly.next_after(datetime(2026, 11, 29, 19, 0, tzinfo=UTC)) == datetime(
        2026, 12, 6, 19, 0, tzinfo=UTC
    )


def test_hourly_and_daily_crons_and_rates():
    after = datetime(2026, 11, 26, 13, 7, 30, tzinfo=UTC)
    assert _schedule("cron(5 * * * ? *)").next_after(after) == datetime(
        2026, 11, 26, 14, 5, tzinfo=UTC
    )
    # 00:10 KST every day = 15:10 UTC the day before.
    assert _schedule("cron(10 0 * * ? *)").next_after(after) == datetime(
        2026, 11, 26, 15, 10, tzinfo=UTC
    )
    assert _schedule("cron(0/15 * * * ? *)", "UTC").next_after(after) == datetime(
        2026, 11, 26, 13, 15, tzinfo=UTC
    )
    assert _schedule("rate(5 minutes)").next_after(after) == after + timedelta(minutes=5)


def test_last_day_of_month_and_day_names_and_ranges():
    after = datetime(2027, 2, 10, tzinfo=UTC)
    assert _schedule("cron(0 12 L * ? *)", "UTC").next_after(after) == datetime(
        2027, 2, 28, 12, 0, tzinfo=UTC
    )
    weekdays = _schedule("cron(30 9 ? * MON-FRI 2027)", "UTC")
    friday = datetime(2027, 2, 12, 10, 0, tzinfo=UTC)
    assert weekdays.next_after(friday) == datetime(2027, 2, 15, 9, 30, tzinfo=UTC)  # Monday


def test_eventbridge_numbers_the_days_of_the_week_from_sunday_as_1():
    # Thursday 26 Nov 2026; EventBridge's 2 is Monday (classic cron's 1), 1 and 7 the weekend.
    after = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    assert _schedule("cron(0 4 ? * 2 *)", "UTC").next_after(after) == datetime(
        2026, 11, 30, 4, 0, tzinfo=UTC
    )
    assert _schedule("cron(0 4 ? * 7 *)", "UTC").next_after(after) == datetime(
        2026, 11, 28, 4, 0, tzinfo=UTC
    )
    assert _schedule("cron(0 4 ? * 1,7 *)", "UTC").next_after(after) == datetime(
        2026, 11, 28, 4, 0, tzinfo=UTC
    )
    assert _schedule("cron(0 4 ? * 2-6 *)", "UTC").next_after(after) == datetime(
        2026, 11, 27, 4, 0, tzinfo=UTC
    )
    # 1#2: the second Sunday of the month; 6L: the last Friday.
    assert _schedule("cron(0 4 ? * 1#2 *)", "UTC").next_after(after) == datetime(
        2026, 12, 13, 4, 0, tzinfo=UTC
    )
    assert _schedule("cron(0 4 ? * 6L *)", "UTC").next_after(after) == datetime(
        2026, 11, 27, 4, 0, tzinfo=UTC
    )
    assert Cron.parse("0 4 ? * 2 *").classic == "0 4 * * 1"


def test_the_year_field_limits_the_times():
    after = datetime(2026, 11, 26, tzinfo=UTC)
    assert _schedule("cron(0 0 1 JAN ? 2029-2030)", "UTC").next_after(after) == datetime(
        2029, 1, 1, 0, 0, tzinfo=UTC
    )
    assert _schedule("cron(* * * * ? 2027)", "UTC").next_after(after) == datetime(
        2027, 1, 1, 0, 0, tzinfo=UTC
    )
    assert _schedule("cron(0 0 * * ? 2025)", "UTC").next_after(after) is None


@pytest.mark.parametrize(
    "expression", sorted(set(re.findall(r"ScheduleExpression: (cron\(.*\))", TEMPLATE_TEXT)))
)
def test_every_cron_of_the_template_parses(expression):
    assert _schedule(expression).next_after(datetime(2026, 11, 26, tzinfo=UTC)) is not None


@pytest.mark.parametrize(
    "body",
    [
        "0 4 * * MON",  # five fields: what cron(8) accepts, EventBridge rejects
        "0 4 * * MON * *",
        "0 4 * * MON *",  # both day fields set
        "0 4 ? * ? *",  # neither
        "61 4 ? * MON *",
        "0 4 ? * 8 *",  # EventBridge's days of the week are 1-7
        "0 4 ? * 0 *",
        "0 4 15W * ? *",  # nearest weekday: unsupported here, say so rather than guess
        "0 4 ? * MON 1969",
        "0 4 ? * MON soon",
    ],
)
def test_bad_cron_expressions_are_refused_with_a_reason(body):
    with pytest.raises(ScheduleExpressionError, match=r"cron\("):
        Cron.parse(body)


def _small(small_template):
    resolver = Resolver(load_template(small_template), "holdem-local", "ap-northeast-2")
    specs = load_functions(resolver, small_template)
    return specs, schedules(specs, resolver)


def test_schedules_are_read_from_the_template_with_their_stack_name(small_template):
    _, found = _small(small_template)
    (schedule,) = found.values()
    assert schedule.name == "holdem-local-weekly"
    assert schedule.function_id == "WeeklyFunction"
    assert find_schedule(found, "weekly") is schedule
    assert find_schedule(found, "WeeklyFunction") is schedule
    with pytest.raises(KeyError):
        find_schedule(found, "nightly")


def test_fire_invokes_the_handler_with_the_input_and_scheduler_context(small_template, record_file):
    specs, found = _small(small_template)
    when = datetime(2026, 11, 29, 19, 0, tzinfo=UTC)
    result = fire(found["holdem-local-weekly"], InProcessInvoker(specs, {}), when)
    assert result == {"ok": True, "received": {"week_of": "2026-11-29T19:00:00Z", "kind": "weekly"}}
    (call,) = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert call["fn"] == "WeeklyFunction"


def test_scheduler_fires_what_is_due_in_a_window_and_nothing_else(small_template, record_file):
    specs, found = _small(small_template)
    scheduler = Scheduler(found, InProcessInvoker(specs, {}))
    start = datetime(2026, 11, 26, tzinfo=UTC)
    due = scheduler.due(start, start + timedelta(days=14))
    assert [when for when, _ in due] == [
        datetime(2026, 11, 29, 19, 0, tzinfo=UTC),
        datetime(2026, 12, 6, 19, 0, tzinfo=UTC),
    ]


def test_scheduler_thread_fires_when_its_clock_passes_the_time(small_template, record_file):
    specs, found = _small(small_template)
    ticks = iter(
        [datetime(2026, 11, 29, 18, 59, tzinfo=UTC), datetime(2026, 11, 29, 19, 0, 1, tzinfo=UTC)]
    )
    stop = threading.Event()
    fired = threading.Event()

    def clock() -> datetime:
        try:
            return next(ticks)
        except StopIteration:
            fired.set()
            return datetime(2026, 11, 29, 19, 0, 2, tzinfo=UTC)

    scheduler = Scheduler(found, InProcessInvoker(specs, {}), clock=clock)
    thread = threading.Thread(target=scheduler.run, args=(stop,), kwargs={"tick_s": 0.01})
    thread.start()
    assert fired.wait(10)
    stop.set()
    thread.join(10)
    (call,) = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert call["event"]["week_of"] == "2026-11-29T19:00:00Z"


def test_dev_fire_runs_a_schedule_of_the_template(
    small_template, record_file, database_url, redis_url
):
    result = run_python(
        "-m",
        "devstack",
        "fire",
        "weekly",
        DEVSTACK_TEMPLATE=str(small_template),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert "holdem-local-weekly -> WeeklyFunction" in result.stderr
    (call,) = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert call["kind"] == "schedule"


def test_dev_fire_names_the_known_schedules_when_asked_for_an_unknown_one(small_template):
    result = run_python(
        "-m", "devstack", "fire", "nightly", timeout=60, DEVSTACK_TEMPLATE=str(small_template)
    )
    assert result.returncode == 2
    assert "holdem-local-weekly" in result.stderr
