"""Player protection rules (SPEC §10): limits a player sets, breaks and self-exclusion.

Pure: the shells read the player's settings and their recent ledger figures, pass them in
with the time, and apply what these functions answer.

* A limit that is set or lowered takes effect at once; one that is raised or removed waits
  for the cooling period (`request_limits`): the change is kept pending and folded in by
  `settle_pending` once due.
* Windows are rolling: the last 24 hours, 7 days and 30 days (`WINDOWS`).
* A deposit cannot be refused once sent on chain: the part beyond the deposit limits (all of
  it during a break or an exclusion) is credited *locked* (`split_deposit`).
* A buy-in or top-up is refused when the player's losses in a window, plus every chip they
  have at tables, plus the new chips, could pass a loss limit (`loss_room`).

>>> from datetime import UTC, datetime, timedelta
>>> now = datetime(2026, 12, 7, tzinfo=UTC)
>>> limits, pending = request_limits({"deposit_day": 100_000}, {}, {"deposit_day": 50_000},
...                                  now, timedelta(hours=24))
>>> limits["deposit_day"], pending
(50000, {})
>>> limits, pending = request_limits(limits, pending, {"deposit_day": 80_000}, now,
...                                  timedelta(hours=24))
>>> limits["deposit_day"], pending["deposit_day"].value
(50000, 80000)
>>> settle_pending(limits, pending, now + timedelta(hours=24))[0]["deposit_day"]
80000
>>> split_deposit(30_000, room=20_000, excluded=False)
(20000, 10000)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

WINDOWS: dict[str, timedelta] = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
"""The rolling window of each period a deposit or loss limit is set for."""

DEPOSIT_LIMITS = tuple(f"deposit_{period}" for period in WINDOWS)
LOSS_LIMITS = tuple(f"loss_{period}" for period in WINDOWS)
LIMIT_FIELDS = (*DEPOSIT_LIMITS, *LOSS_LIMITS, "session_minutes")
"""Every limit a player sets: won amounts per window, and a session length in minutes."""

FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
"""The end of a permanent self-exclusion."""


class ProtectionRuleError(ValueError):
    """A request the rules refuse (a bad value, a shorter exclusion)."""


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A raise or removal waiting for its cooling period: `value` None removes the limit."""

    value: int | None
    effective_at: datetime


def _tightens(old: int | None, new: int | None) -> bool:
    """Setting a limit where none was, or lowering one, protects the player more."""
    if new is None:
        return old is None
    return old is None or new <= old


def request_limits(
    limits: Mapping[str, int | None],
    pending: Mapping[str, PendingChange],
    requested: Mapping[str, int | None],
    now: datetime,
    cooling: timedelta,
) -> tuple[dict[str, int | None], dict[str, PendingChange]]:
    """Apply a player's requested limits: tighter ones now, looser ones after `cooling`.

    Asking again for the raise already pending keeps its original due time (a repeated
    request never restarts the clock); any other request for a field replaces its pending
    change.

    Raises:
        ProtectionRuleError: an unknown field, or a value that is not a positive integer.
    """
    current = {name: limits.get(name) for name in LIMIT_FIELDS}
    waiting = dict(pending)
    for name, new in requested.items():
        if name not in LIMIT_FIELDS:
            raise ProtectionRuleError(f"unknown limit {name!r}")
        if new is not None and (isinstance(new, bool) or not isinstance(new, int) or new <= 0):
            raise ProtectionRuleError(f"{name} must be a positive integer or null")
        if _tightens(current[name], new):
            current[name] = new
            waiting.pop(name, None)
        elif name not in waiting or waiting[name].value != new:
            waiting[name] = PendingChange(new, now + cooling)
    return current, waiting


def settle_pending(
    limits: Mapping[str, int | None], pending: Mapping[str, PendingChange], now: datetime
) -> tuple[dict[str, int | None], dict[str, PendingChange]]:
    """Fold in the pending changes whose cooling period is over."""
    current = {name: limits.get(name) for name in LIMIT_FIELDS}
    waiting: dict[str, PendingChange] = {}
    for name, change in pending.items():
        if change.effective_at <= now:
            current[name] = change.value
        else:
            waiting[name] = change
    return current, waiting


def window_starts(now: datetime) -> dict[str, datetime]:
    """The start of each rolling window ending `now`."""
    return {period: now - span for period, span in WINDOWS.items()}


def room(limits: Mapping[str, int | None], prefix: str, used: Mapping[str, int]) -> int | None:
    """What the tightest window of `prefix` (``deposit`` or ``loss``) still allows: None when
    no limit of that kind is set, never below 0.

    >>> room({"loss_day": 10_000, "loss_week": 15_000}, "loss", {"day": 2_000, "week": 9_000})
    6000
    """
    left = [
        limit - used.get(period, 0)
        for period in WINDOWS
        if (limit := limits.get(f"{prefix}_{period}")) is not None
    ]
    return max(0, min(left)) if left else None


def split_deposit(amount: int, *, room: int | None, excluded: bool) -> tuple[int, int]:
    """(playable, locked) parts of a deposit of `amount` won.

    >>> split_deposit(30_000, room=None, excluded=True)
    (0, 30000)
    >>> split_deposit(30_000, room=None, excluded=False)
    (30000, 0)
    """
    if excluded:
        return 0, amount
    playable = amount if room is None else min(amount, room)
    return playable, amount - playable


def losses(net_by_period: Mapping[str, int]) -> dict[str, int]:
    """Losses per window from the net result at tables (rake included): a net win is 0.

    >>> losses({"day": -5_000, "week": 3_000, "month": -1_000})
    {'day': 5000, 'week': 0, 'month': 1000}
    """
    return {period: max(0, -net) for period, net in net_by_period.items()}


def loss_room(
    limits: Mapping[str, int | None], net_by_period: Mapping[str, int], at_tables: int
) -> int | None:
    """How many more chips the player may bring to a table (None: no loss limit).

    Every chip already at a table counts as at risk: the player could lose all of it.

    >>> loss_room({"loss_day": 50_000}, {"day": -10_000}, at_tables=20_000)
    20000
    """
    left = room(limits, "loss", losses(net_by_period))
    return None if left is None else max(0, left - at_tables)


class ExclusionKind(StrEnum):
    """A short break (cool-off) or a self-exclusion."""

    BREAK = "break"
    SELF_EXCLUSION = "self_exclusion"


EXCLUSION_PERIODS: dict[str, tuple[ExclusionKind, timedelta | None]] = {
    "24h": (ExclusionKind.BREAK, timedelta(hours=24)),
    "7d": (ExclusionKind.BREAK, timedelta(days=7)),
    "30d": (ExclusionKind.BREAK, timedelta(days=30)),
    "6m": (ExclusionKind.SELF_EXCLUSION, timedelta(days=183)),
    "1y": (ExclusionKind.SELF_EXCLUSION, timedelta(days=365)),
    "5y": (ExclusionKind.SELF_EXCLUSION, timedelta(days=1827)),
    "permanent": (ExclusionKind.SELF_EXCLUSION, None),
}
"""The periods a player may choose, as (kind, length); None is permanent."""


def exclusion_end(period: str, now: datetime) -> tuple[ExclusionKind, datetime]:
    """The kind and the end of an exclusion of `period` starting `now`."""
    if period not in EXCLUSION_PERIODS:
        raise ProtectionRuleError(f"period must be one of {sorted(EXCLUSION_PERIODS)}")
    kind, length = EXCLUSION_PERIODS[period]
    return kind, FOREVER if length is None else now + length


def extend_exclusion(current_until: datetime | None, now: datetime, new_until: datetime) -> None:
    """Check that a new end only lengthens an exclusion (none is ever shortened).

    Raises:
        ProtectionRuleError: `new_until` is in the past or before the current end.
    """
    if new_until <= now:
        raise ProtectionRuleError("an exclusion must end in the future")
    if current_until is not None and current_until > now and new_until < current_until:
        raise ProtectionRuleError(
            f"an exclusion can only be extended: it runs until {current_until.isoformat()}"
        )
