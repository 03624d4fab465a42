"""EventBridge Scheduler for the local stack: fires each `ScheduleV2` event of template.yaml.

moto stores schedules but never fires them, so the local stack reads them from the template
and fires them itself, at the cron time in the schedule's `ScheduleExpressionTimezone`.
Supported expressions: `cron(min hour day-of-month month day-of-week year)` (6 fields, as
EventBridge wants; `*`, `?`, lists, ranges, steps, `MON`..`SUN`, `JAN`..`DEC`, `L` for the last
day of the month), `rate(N minutes|hours|days)` and `at(yyyy-mm-ddThh:mm:ss)`.

The handler receives the schedule's `Input` (JSON, `{}` when absent) with Scheduler's context
attributes substituted: `<aws.scheduler.scheduled-time>`, `<aws.scheduler.execution-id>`,
`<aws.scheduler.attempt-number>` and `<aws.scheduler.schedule-arn>`.
"""

from __future__ import annotations

import calendar
import json
import re
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from devstack.lambda_runtime import FunctionSpec, InvocationError, Invoker
from devstack.template import LOCAL_ACCOUNT_ID, Resolver

_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_SEARCH_DAYS = 366 * 8


class ScheduleExpressionError(ValueError):
    """A schedule expression EventBridge Scheduler would reject."""


def _field(text: str, low: int, high: int, names: Mapping[str, int] | None = None) -> set[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleExpressionError(f"bad step in {text!r}")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ScheduleExpressionError(f"{text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: Mapping[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleExpressionError(f"unsupported cron value {text!r}")
    return int(text)


@dataclass(frozen=True)
class Cron:
    """A parsed 6-field EventBridge cron expression."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: `?`
    last_day_of_month: bool
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1 = Sunday ... 7 = Saturday; None: `?`
    years: frozenset[int]

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(
                f"cron({body}) has {len(fields)} fields; EventBridge wants 6 "
                "(minutes hours day-of-month month day-of-week year)"
            )
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ScheduleExpressionError(
                f"cron({body}): exactly one of day-of-month and day-of-week must be '?'"
            )
        last = dom.upper() == "L"
        return cls(
            minutes=frozenset(_field(minute, 0, 59)),
            hours=frozenset(_field(hour, 0, 23)),
            days_of_month=None if dom == "?" or last else frozenset(_field(dom, 1, 31)),
            last_day_of_month=last,
            months=frozenset(_field(month, 1, 12, _MONTHS)),
            days_of_week=None if dow == "?" else frozenset(_field(dow, 1, 7, _DAYS)),
            years=frozenset(_field(year, 1970, 2199)),
        )

    def _day_matches(self, day: datetime) -> bool:
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.last_day_of_month:
            return day.day == calendar.monthrange(day.year, day.month)[1]
        if self.days_of_month is not None:
            return day.day in self.days_of_month
        assert self.days_of_week is not None
        return (day.isoweekday() % 7) + 1 in self.days_of_week

    def next_after(self, after: datetime) -> datetime | None:
        """The first matching minute strictly after `after` (an aware datetime, its zone's)."""
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        return None


_RATE_UNITS = {
    "minute": 60,
    "minutes": 60,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}


@dataclass(frozen=True)
class Schedule:
    """One `ScheduleV2` event: when to invoke which function with what input."""

    name: str
    function_id: str
    event_name: str
    expression: str
    timezone: str
    input: str | None
    enabled: bool

    @property
    def arn(self) -> str:
        return f"arn:aws:scheduler:ap-northeast-2:{LOCAL_ACCOUNT_ID}:schedule/default/{self.name}"

    def next_after(self, after: datetime) -> datetime | None:
        """The next firing time strictly after `after` (UTC in, UTC out); None when done."""
        zone = ZoneInfo(self.timezone)
        local = after.astimezone(zone)
        match = re.fullmatch(r"(cron|rate|at)\((.*)\)", self.expression.strip())
        if match is None:
            raise ScheduleExpressionError(f"unsupported schedule expression {self.expression!r}")
        kind, body = match.groups()
        if kind == "cron":
            found = Cron.parse(body).next_after(local)
            return None if found is None else found.astimezone(UTC)
        if kind == "rate":
            amount, _, unit = body.partition(" ")
            if not amount.isdigit() or unit not in _RATE_UNITS or int(amount) == 0:
                raise ScheduleExpressionError(f"bad rate expression {self.expression!r}")
            return after + timedelta(seconds=int(amount) * _RATE_UNITS[unit])
        when = datetime.fromisoformat(body).replace(tzinfo=zone).astimezone(UTC)
        return when if when > after else None

    def event(self, scheduled_time: datetime, attempt: int = 1) -> Any:
        """The payload Scheduler delivers: `Input` with its context attributes filled in."""
        text = self.input if self.input is not None else "{}"
        replacements = {
            "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "<aws.scheduler.execution-id>": str(uuid.uuid4()),
            "<aws.scheduler.attempt-number>": str(attempt),
            "<aws.scheduler.schedule-arn>": self.arn,
        }
        for placeholder, value in replacements.items():
            text = text.replace(placeholder, value)
        return json.loads(text)


def schedules(specs: Mapping[str, FunctionSpec], resolver: Resolver) -> dict[str, Schedule]:
    """Every `ScheduleV2` event of the template's functions, by schedule name."""
    found: dict[str, Schedule] = {}
    for spec in specs.values():
        for event_name, props in spec.events_of_type("ScheduleV2").items():
            name = str(resolver.resolve(props.get("Name", f"{spec.logical_id}-{event_name}")))
            raw_input = props.get("Input")
            found[name] = Schedule(
                name=name,
                function_id=spec.logical_id,
                event_name=event_name,
                expression=str(resolver.resolve(props["ScheduleExpression"])),
                timezone=str(props.get("ScheduleExpressionTimezone", "UTC")),
                input=None if raw_input is None else str(resolver.resolve(raw_input)),
                enabled=str(props.get("State", "ENABLED")).upper() == "ENABLED",
            )
    return found


def find_schedule(found: Mapping[str, Schedule], wanted: str) -> Schedule:
    """A schedule by its name, by its name without the stack prefix, or by function id."""
    for schedule in found.values():
        if wanted in (schedule.name, schedule.function_id, schedule.event_name) or (
            schedule.name.endswith("-" + wanted)
        ):
            return schedule
    known = ", ".join(sorted(found)) or "none"
    raise KeyError(f"no schedule or scheduled function named {wanted!r} (schedules: {known})")


def fire(schedule: Schedule, invoker: Invoker, when: datetime | None = None) -> Any:
    """Invoke the schedule's function now, as Scheduler would at `when` (default: now)."""
    return invoker.invoke(schedule.function_id, schedule.event(when or datetime.now(UTC)))


class Scheduler:
    """Fires every enabled schedule at its next time until stopped."""

    def __init__(
        self,
        found: Mapping[str, Schedule],
        invoker: Invoker,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._schedules = [s for s in found.values() if s.enabled]
        self._invoker = invoker
        self._clock = clock

    def due(self, since: datetime, until: datetime) -> list[tuple[datetime, Schedule]]:
        """Every firing in (since, until], in time order."""
        firings: list[tuple[datetime, Schedule]] = []
        for schedule in self._schedules:
            when = schedule.next_after(since)
            while when is not None and when <= until:
                firings.append((when, schedule))
                when = schedule.next_after(when)
        return sorted(firings, key=lambda item: item[0])

    def run(self, stop: threading.Event, tick_s: float = 1.0) -> None:
        last = self._clock()
        while not stop.wait(tick_s):
            now = self._clock()
            for when, schedule in self.due(last, now):
                try:
                    fire(schedule, self._invoker, when)
                except InvocationError as error:
                    print(f"dev: schedule {schedule.name} failed: {error}", file=sys.stderr)
                except Exception as exc:
                    print(f"dev: schedule {schedule.name}: {exc!r}", file=sys.stderr)
            last = now
