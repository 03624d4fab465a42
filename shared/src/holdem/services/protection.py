"""Player protection use cases (SPEC §10, docs/compliance.md): limits, breaks, exclusion.

The rules are `holdem.ledger.protection` (pure); here they meet the player's row
(``player_protection``) and their ledger figures. Where money moves, the callers ask:

* a confirmed deposit: `deposit_split` (the part over a deposit limit, or all of it during
  an exclusion, is credited to the locked account);
* a buy-in or top-up (every table server, `holdem.services.table_runtime.TableMoney`):
  `check_buy_in` raises `SelfExcluded` or `LossLimitReached`;
* a table server's ``auth``: `excluded_until` refuses an excluded player.

Every change is recorded in ``admin_actions`` (actor: the player, or the operator who
extended an exclusion) in the caller's transaction. Time comes from the caller (`now`), so
a test moves it without sleeping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from holdem.ledger import protection as rules
from holdem.ledger.protection import FOREVER, LIMIT_FIELDS, PendingChange, ProtectionRuleError
from holdem.ports.accounts import ProtectionRow
from holdem.ports.transaction import Transaction
from holdem.services import ledger
from holdem.services.admin import record_action
from holdem.services.errors import (
    Conflict,
    InvalidInput,
    LossLimitReached,
    NotFound,
    SelfExcluded,
)

__all__ = [
    "Protection",
    "TableRules",
    "Usage",
    "check_buy_in",
    "deposit_split",
    "exclude",
    "excluded_until",
    "extend_exclusion",
    "load",
    "release_locked",
    "seated_tables",
    "session_played_s",
    "set_limits",
    "table_rules",
    "usage",
]


@dataclass(frozen=True)
class Protection:
    """A player's limits as they apply at one instant, with what is pending."""

    user_id: int
    limits: Mapping[str, int | None]
    pending: Mapping[str, PendingChange] = field(default_factory=dict)
    reality_check_minutes: int | None = None
    exclusion_kind: str | None = None
    excluded_at: datetime | None = None
    excluded_until: datetime | None = None

    def excluded(self, now: datetime) -> bool:
        """On a break or self-excluded at `now`."""
        return self.excluded_until is not None and now < self.excluded_until

    @property
    def permanent(self) -> bool:
        return self.excluded_until == FOREVER


@dataclass(frozen=True)
class Usage:
    """What counts against the limits, per rolling window (``day``, ``week``, ``month``)."""

    deposited: Mapping[str, int]
    """Won credited as playable: deposits to the wallet and locked funds released."""
    net: Mapping[str, int]
    """Net result at tables (hand settlements, after rake): negative is a loss."""


def _pending_of(raw: Mapping[str, Any]) -> dict[str, PendingChange]:
    return {
        name: PendingChange(change["value"], datetime.fromisoformat(change["effective_at"]))
        for name, change in raw.items()
    }


def _pending_json(pending: Mapping[str, PendingChange]) -> dict[str, Any]:
    return {
        name: {"value": change.value, "effective_at": change.effective_at.isoformat()}
        for name, change in sorted(pending.items())
    }


def _view(row: ProtectionRow | None, user_id: int, now: datetime) -> Protection:
    if row is None:
        return Protection(user_id, dict.fromkeys(LIMIT_FIELDS))
    stored = {name: getattr(row, name) for name in LIMIT_FIELDS}
    limits, pending = rules.settle_pending(stored, _pending_of(row.pending), now)
    return Protection(
        user_id,
        limits,
        pending,
        row.reality_check_minutes,
        row.exclusion_kind,
        row.excluded_at,
        row.excluded_until,
    )


async def load(tx: Transaction, user_id: int, now: datetime) -> Protection:
    """The player's protection at `now` (raises whose cooling period is over included)."""
    return _view(await tx.protection.get(user_id), user_id, now)


async def excluded_until(tx: Transaction, user_id: int, now: datetime) -> datetime | None:
    """The end of the player's break or self-exclusion, if one runs at `now`."""
    until = await tx.protection.excluded_until(user_id)
    return until if until is not None and now < until else None


async def usage(tx: Transaction, user_id: int, now: datetime) -> Usage:
    """Deposits credited as playable and the net result at tables, per window (one query)."""
    deposited, net = await tx.protection.usage(user_id, rules.window_starts(now))
    return Usage(
        deposited={p: deposited[p] for p in rules.WINDOWS},
        net={p: net[p] for p in rules.WINDOWS},
    )


async def _row_for_update(tx: Transaction, user_id: int) -> ProtectionRow:
    """The player's row, locked (created when missing)."""
    row = await tx.protection.lock_or_create(user_id)
    if row is None:
        raise NotFound(f"no user {user_id}")
    return row


async def set_limits(
    tx: Transaction,
    user_id: int,
    requested: Mapping[str, int | None],
    now: datetime,
    cooling: timedelta,
    *,
    reality_check_minutes: int | None = None,
) -> Protection:
    """Set, lower, raise or remove limits (raises and removals wait `cooling`); audited.

    Args:
        requested: limit name (`LIMIT_FIELDS`) → won (minutes for ``session_minutes``), or
            None to remove it. Names left out are unchanged.
        reality_check_minutes: a new reality-check interval (applies at once).

    Raises:
        InvalidInput: an unknown limit or a value that is not a positive integer.
    """
    row = await _row_for_update(tx, user_id)
    before = _view(row, user_id, now)
    try:
        limits, pending = rules.request_limits(
            before.limits, before.pending, requested, now, cooling
        )
    except ProtectionRuleError as exc:
        raise InvalidInput(str(exc)) from exc
    for name, value in limits.items():
        setattr(row, name, value)
    row.pending = _pending_json(pending)
    if reality_check_minutes is not None:
        if reality_check_minutes <= 0:
            raise InvalidInput("reality_check_minutes must be positive")
        row.reality_check_minutes = reality_check_minutes
    row.updated_at = now
    await record_action(
        tx,
        user_id,
        "set_limits",
        target_user_id=user_id,
        details={
            "requested": dict(requested),
            "reality_check_minutes": reality_check_minutes,
            "limits": limits,
            "pending": row.pending,
        },
    )
    return _view(row, user_id, now)


async def exclude(
    tx: Transaction, user_id: int, period: str, now: datetime
) -> tuple[Protection, list[int]]:
    """Start a break or a self-exclusion of `period` (see `rules.EXCLUSION_PERIODS`); audited.

    One already running can only be lengthened. Returns the protection and the tables the
    player sits at (their owners must cash the player out after the hand running).

    Raises:
        InvalidInput: an unknown period. Conflict: it would end an exclusion earlier.
    """
    try:
        kind, until = rules.exclusion_end(period, now)
    except ProtectionRuleError as exc:
        raise InvalidInput(str(exc)) from exc
    row = await _row_for_update(tx, user_id)
    _set_exclusion(row, kind, until, now)
    await record_action(
        tx,
        user_id,
        "self_exclude",
        target_user_id=user_id,
        details={"period": period, "kind": str(kind), "until": until.isoformat()},
    )
    return _view(row, user_id, now), await seated_tables(tx, user_id)


def _set_exclusion(
    row: ProtectionRow, kind: rules.ExclusionKind, until: datetime, now: datetime
) -> None:
    current = row.excluded_until
    try:
        rules.extend_exclusion(current, now, until)
    except ProtectionRuleError as exc:
        raise Conflict(
            str(exc), {"excluded_until": current.isoformat() if current else None}
        ) from exc
    running = current is not None and current > now
    if not running or row.exclusion_kind != rules.ExclusionKind.SELF_EXCLUSION:
        row.exclusion_kind = str(kind)  # a break lengthened into an exclusion becomes one
    if not running:
        row.excluded_at = now
    row.excluded_until = until
    row.updated_at = now


async def extend_exclusion(
    tx: Transaction,
    operator_id: int,
    user_id: int,
    until: datetime | None,
    now: datetime,
    reason: str,
) -> tuple[Protection, list[int]]:
    """An operator lengthens a player's exclusion (None: permanent); never shortens it.

    Raises:
        Conflict: the new end is before the current one, or in the past. NotFound: no user.
        InvalidInput: no reason.
    """
    if not reason.strip():
        raise InvalidInput("a reason is required")
    row = await _row_for_update(tx, user_id)
    end = FOREVER if until is None else until
    _set_exclusion(row, rules.ExclusionKind.SELF_EXCLUSION, end, now)
    await record_action(
        tx,
        operator_id,
        "extend_exclusion",
        target_user_id=user_id,
        details={"until": end.isoformat(), "reason": reason},
    )
    return _view(row, user_id, now), await seated_tables(tx, user_id)


async def seated_tables(tx: Transaction, user_id: int) -> list[int]:
    """The tables where the player has an open seat."""
    return await tx.protection.seated_tables(user_id)


async def deposit_split(
    tx: Transaction, user_id: int, amount: int, now: datetime
) -> tuple[int, int]:
    """(playable, locked) parts of a confirmed deposit for this player at `now`.

    Read under the player's protection row lock (when there is a row), so two deposits of
    one player credited at once cannot both use the same room.
    """
    row = await tx.protection.get(user_id, lock=True)
    view = _view(row, user_id, now)
    excluded = view.excluded(now)
    left = None
    if not excluded and any(view.limits[name] is not None for name in rules.DEPOSIT_LIMITS):
        left = rules.room(view.limits, "deposit", (await usage(tx, user_id, now)).deposited)
    return rules.split_deposit(amount, room=left, excluded=excluded)


async def check_buy_in(
    tx: Transaction, user_id: int, amount: int, now: datetime, *, posted: bool = False
) -> None:
    """Refuse chips brought to a table by an excluded player, or over a loss limit.

    Args:
        posted: the buy-in is already posted in this transaction (its `amount` is among
            the player's seat balances); a refusal must roll that transaction back.

    Raises:
        SelfExcluded: a break or self-exclusion runs.
        LossLimitReached: the losses of a window, every chip at the player's tables and
            `amount` could pass a loss limit (details: ``room``, the most allowed now).
    """
    row = await tx.protection.get(user_id)
    if row is None:
        return
    view = _view(row, user_id, now)
    if view.excluded(now):
        assert view.excluded_until is not None
        raise SelfExcluded(
            "you are on a break or self-excluded: no play until it ends",
            {"excluded_until": view.excluded_until.isoformat()},
        )
    if all(view.limits[name] is None for name in rules.LOSS_LIMITS):
        return
    figures = await usage(tx, user_id, now)
    held = await ledger.balances(tx.ledger, user_id)
    at_tables = sum(held.seats.values()) - (amount if posted else 0)
    left = rules.loss_room(view.limits, figures.net, at_tables)
    if left is not None and amount > left:
        raise LossLimitReached(
            f"these chips could pass your loss limit: at most ₩{left:,} more now",
            {"room": left, "amount": amount},
        )


@dataclass(frozen=True)
class TableRules:
    """What a table server needs of a player sitting down."""

    session_minutes: int | None
    """The session-length limit (None: none)."""
    reality_check_minutes: int
    played_s: float = 0.0
    """How long the player's session has run already (at other tables)."""


async def table_rules(
    tx: Transaction,
    user_id: int,
    default_check_minutes: int,
    now: datetime,
    session_break: timedelta,
) -> TableRules:
    """The session limit, reality-check interval and session so far of a player sitting
    down at `now`."""
    row = await tx.protection.get(user_id)
    if row is None:
        return TableRules(None, default_check_minutes)
    played = 0.0
    if row.session_minutes is not None:
        played = await session_played_s(tx, user_id, now, session_break)
    return TableRules(
        row.session_minutes, row.reality_check_minutes or default_check_minutes, played
    )


async def session_played_s(
    tx: Transaction, user_id: int, now: datetime, session_break: timedelta
) -> float:
    """Seconds the player's session has run at `now`: from the earliest seat of a chain of
    seats (at any table) with no break of `session_break` or more between them, ending in
    a seat still open or left less than `session_break` ago; 0 when there is none."""
    seats = await tx.protection.seats_since(user_id, now - timedelta(days=1))
    start: datetime | None = None
    frontier = now
    for sat_at, left_at in seats:
        if (left_at or now) < frontier - session_break:
            break
        frontier = min(frontier, sat_at)
        start = frontier
    return 0.0 if start is None else max(0.0, (now - start).total_seconds())


async def release_locked(
    tx: Transaction, user_id: int, now: datetime, *, key: str
) -> ledger.Posted | None:
    """Move locked funds to the wallet as far as the deposit limits allow now; None when
    nothing may move (nothing locked, no room).

    Raises:
        SelfExcluded: a break or self-exclusion runs.
    """
    row = await tx.protection.get(user_id, lock=True)
    view = _view(row, user_id, now)
    if view.excluded(now):
        raise SelfExcluded("locked funds stay locked until the break or exclusion ends")
    locked = (await ledger.balances(tx.ledger, user_id)).locked
    left = rules.room(view.limits, "deposit", (await usage(tx, user_id, now)).deposited)
    amount = locked if left is None else min(locked, left)
    if amount <= 0:
        return None
    return await ledger.release_locked(tx.session, key=key, user_id=user_id, amount=amount)
