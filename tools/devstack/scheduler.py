"""EventBridge Scheduler for the local stack: fires each `ScheduleV2` event of template.yaml.

moto stores schedules but never fires them, so the local stack reads them from the template
and fires them itself, at the cron time in the schedule's `ScheduleExpressionTimezone`.
Supported expressions: `cron(min hour day-of-month month day-of-week year)` (6 fields, as
EventBridge wants; `*`, `?`, lists, ranges, steps, `MON`..`SUN`, `JAN`..`DEC`, `L` and `LW` in
the day of the month, `nL` and `n#k` in the day of the week: the times are cronsim's, `Cron`
converts), `rate(N minutes|hours|days)` and `at(yyyy-mm-ddThh:mm:ss)`.

The handler receives the schedule's `Input` (JSON, `{}` when absent) with Scheduler's context
attributes substituted: `<aws.scheduler.scheduled-time>`, `<aws.scheduler.execution-id>`,
`<aws.scheduler.attempt-number>` and `<aws.scheduler.schedule-arn>`.
"""

from __future__ import annotations

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

from cronsim import CronSim, CronSimError

from devstack.lambda_runtime import FunctionSpec, InvocationError, Invoker
from devstack.template import LOCAL_ACCOUNT_ID, Resolver

_EVENTBRIDGE_YEARS = range(1970, 2200)
_WEEKDAY_NUMBER = re.compile(r"(?<![#/\d])\d+")  # not an nth (#2) nor a step (/2)


class ScheduleExpressionError(ValueError):
    """A schedule expression EventBridge Scheduler would reject, or that is not supported here."""


def _classic_weekdays(text: str, body: str) -> str:
    """EventBridge's day-of-week field (1 = SUN .. 7 = SAT) in classic cron's numbering
    (0 = SUN .. 6 = SAT); day names and the numbers after ``#`` and ``/`` stay as they are."""

    def shift(found: re.Match[str]) -> str:
        day = int(found.group())
        if not 1 <= day <= 7:
            raise ScheduleExpressionError(f"cron({body}): day of week {day} is outside 1-7")
        return str(day - 1)

    return _WEEKDAY_NUMBER.sub(shift, text)


def _years(text: str, body: str) -> frozenset[int] | None:
    """The years field (which classic cron lacks): None for every year."""
    if text == "*":
        return None
    years: set[int] = set()
    for part in text.split(","):
        span, _, step = part.partition("/")
        first, _, last = span.partition("-")
        try:
            low = _EVENTBRIDGE_YEARS.start if first == "*" else int(first)
            high = int(last) if last else (_EVENTBRIDGE_YEARS.stop - 1 if step else low)
            years.update(range(low, high + 1, int(step) if step else 1))
        except ValueError as exc:
            raise ScheduleExpressionError(f"cron({body}): bad year {part!r}") from exc
    if not years or not years <= set(_EVENTBRIDGE_YEARS):
        raise ScheduleExpressionError(f"cron({body}): years outside 1970-2199")
    return frozenset(years)


@dataclass(frozen=True)
class Cron:
    """A 6-field EventBridge cron expression, its times computed by cronsim.

    EventBridge writes ``minutes hours day-of-month month day-of-week year``, with ``?`` in
    exactly one of the two day fields and the days of the week numbered 1 (SUN) to 7 (SAT).
    cronsim reads classic 5-field cron, so `parse` converts explicitly: ``?`` becomes ``*``
    (classic cron then requires both day fields, as EventBridge means), the days of the week
    are renumbered 0 (SUN) to 6 (SAT), and the year, which classic cron lacks, filters the
    times cronsim finds. ``W`` (nearest weekday) other than ``LW`` is refused: cronsim has no
    equivalent.
    """

    classic: str
    """The minutes, hours, days, months and weekdays as classic cron writes them."""
    years: frozenset[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(
                f"cron({body}) has {len(fields)} fields; EventBridge wants 6 "
                "(minutes hours day-of-month month day-of-week year)"
            )
        minute, hour, dom, month, dow, year = (field.upper() for field in fields)
        if (dom == "?") == (dow == "?"):
            raise ScheduleExpressionError(
                f"cron({body}): exactly one of day-of-month and day-of-week must be '?'"
            )
        if "W" in dom and dom != "LW":
            raise ScheduleExpressionError(f"cron({body}): 'W' is not supported here")
        days = "*" if dow == "?" else _classic_weekdays(dow, body)
        classic = " ".join((minute, hour, "*" if dom == "?" else dom, month, days))
        try:
            CronSim(classic, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ScheduleExpressionError(f"cron({body}): {exc}") from exc
        return cls(classic, _years(year, body))

    def next_after(self, after: datetime) -> datetime | None:
        """The first matching minute strictly after `after` (an aware datetime, its zone's)."""
        start = after
        while True:
            when = next(CronSim(self.classic, start), None)
            if when is None or self.years is None or when.year in self.years:
                return when
            later = [year for year in self.years if year > when.year]
            if not later:
                return None
            # Skip to the next allowed year rather than walk every time in between.
            start = when.replace(year=min(later), month=1, day=1, hour=0, minute=0, second=0)
            start -= timedelta(seconds=1)


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
