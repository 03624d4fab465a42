"""Integrity signals for operators: logins recorded, the sit check, and the runs that read
stored hands and file flags (docs/integrity.md).

* `record_login` keeps each table-server connection's address and device id
  (``player_logins``); `client_ip` says which address that is behind proxies.
* `check_sit` refuses a seat (``shared_identity``) when the operator blocks shared identities
  and a player seated at the table logged in from the newcomer's address or device.
* `run` reads the window's hands (``hands``, ``hand_players``, ``hand_events``) and logins,
  asks the signals of `holdem.ledger.integrity`, files one flag per player and finding in the
  operators' queue (``aml_flags``, `holdem.services.aml`), and records the run
  (``integrity_runs``: window, thresholds, counts, flag ids). A pair or player with an open
  flag of the signal is not flagged again; a run on the same day files nothing twice.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from holdem.config import IntegritySettings
from holdem.ledger.aml import AmlRule
from holdem.ledger.integrity import (
    Finding,
    HandRecord,
    Thresholds,
    bot_timing,
    chip_dumping,
    read_hand,
    shared_identity,
    soft_play,
)
from holdem.ports.integrity import NewRun, RunRow
from holdem.ports.transaction import Transaction
from holdem.services.admin import record_action
from holdem.services.aml import OPEN_STATUSES
from holdem.services.errors import SharedIdentity

__all__ = [
    "SIGNALS",
    "RunView",
    "check_sit",
    "client_ip",
    "list_runs",
    "record_login",
    "run",
    "thresholds",
]

SIGNALS = (
    AmlRule.SHARED_IDENTITY,
    AmlRule.CHIP_DUMPING,
    AmlRule.SOFT_PLAY,
    AmlRule.BOT_TIMING,
)


@dataclass(frozen=True)
class RunView:
    """One run of the signals, as operators see it."""

    id: int
    trigger: str
    operator_id: int | None
    window_from: datetime
    window_to: datetime
    hands: int
    thresholds: dict[str, Any]
    counts: dict[str, int]
    flag_ids: list[int]
    created_at: datetime

    @classmethod
    def of(cls, row: RunRow) -> RunView:
        """The view of a recorded run."""
        return cls(
            row.id,
            row.trigger,
            row.operator_id,
            row.window_from,
            row.window_to,
            row.hands,
            dict(row.thresholds),
            dict(row.counts),
            list(row.flag_ids),
            row.created_at,
        )


def client_ip(remote: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    """The client's address: the connection's own, or behind `trusted_hops` proxies that each
    append what they saw to ``X-Forwarded-For``, the address the outermost of them saw.

    Entries further left were written by the client and prove nothing.

    >>> client_ip("10.0.1.5", "6.6.6.6, 203.0.113.9", 1)
    '203.0.113.9'
    >>> client_ip("198.51.100.7", "6.6.6.6", 0)
    '198.51.100.7'
    >>> client_ip("10.0.1.5", None, 1)
    '10.0.1.5'
    """
    candidate = remote
    if trusted_hops and forwarded_for:
        parts = [p.strip() for p in forwarded_for.split(",") if p.strip()]
        if len(parts) >= trusted_hops:
            candidate = parts[-trusted_hops]
    try:
        return str(ipaddress.ip_address(candidate or ""))
    except ValueError:
        return "unknown"


async def record_login(tx: Transaction, user_id: int, ip: str, device_id: str | None) -> None:
    """Keep one authenticated connection's address and device (in the caller's transaction)."""
    await tx.integrity.add_login(user_id, ip, device_id)


async def _identities(
    tx: Transaction, user_ids: list[int], since: datetime, until: datetime
) -> dict[int, dict[str, frozenset[str]]]:
    """Per user, the addresses and devices of their logins in ``[since, until]``."""
    found: dict[int, dict[str, set[str]]] = defaultdict(lambda: {"ip": set(), "device_id": set()})
    for user_id, ip, device_id in await tx.integrity.logins(user_ids, since, until):
        if ip != "unknown":
            found[user_id]["ip"].add(ip)
        if device_id:
            found[user_id]["device_id"].add(device_id)
    return {u: {k: frozenset(v) for k, v in ids.items()} for u, ids in found.items()}


async def check_sit(
    tx: Transaction,
    settings: IntegritySettings,
    table_id: int,
    user_id: int,
    now: datetime,
) -> None:
    """Refuse the seat when the operator blocks shared identities and a player seated at the
    table logged in from this player's address or device within the lookback.

    The refusal names no other player and no address: it only says why.

    Raises:
        SharedIdentity: Blocked; the caller rolls its transaction back.
    """
    if not settings.block_shared_identity_at_sit:
        return
    others = await tx.integrity.seated_others(table_id, user_id)
    if not others:
        return
    since = now - timedelta(seconds=settings.identity_lookback_s)
    ids = await _identities(tx, [user_id, *others], since, now)
    mine = ids.get(user_id, {})
    for other in others:
        theirs = ids.get(other, {})
        if any(mine.get(k, frozenset()) & theirs.get(k, frozenset()) for k in ("ip", "device_id")):
            raise SharedIdentity(
                "a player at this table shares your connection or device; choose another table",
                {"table_id": table_id},
            )


def thresholds(settings: IntegritySettings) -> Thresholds:
    """The signals' thresholds from the operator's settings."""
    values: dict[str, Any] = {f.name: getattr(settings, f.name) for f in fields(Thresholds)}
    values["soft_max_p_value"] = Fraction(settings.soft_max_p_value)
    return Thresholds(**values)


async def _hands(tx: Transaction, since: datetime, until: datetime) -> list[HandRecord]:
    """The hands that ended in ``[since, until)``, as the signals read them."""
    return [
        read_hand(h.hand_id, h.big_blind, h.seats, h.nets, h.holes, h.events)
        for h in await tx.integrity.hands_ended(since, until)
    ]


def _findings(
    hands: list[HandRecord],
    identities: dict[int, dict[str, frozenset[str]]],
    limits: Thresholds,
) -> list[Finding]:
    return [
        *shared_identity(hands, identities, limits),
        *chip_dumping(hands, limits),
        *soft_play(hands, limits),
        *bot_timing(hands, limits),
    ]


async def run(
    tx: Transaction,
    settings: IntegritySettings,
    *,
    now: datetime,
    operator_id: int | None = None,
) -> RunView:
    """Run every signal over the window ending `now`, file the new flags and record the run,
    in the caller's transaction (an operator's run is also in the operators' audit log)."""
    window_from = now - timedelta(days=settings.window_days)
    hands = await _hands(tx, window_from, now)
    users = sorted({u for hand in hands for u in hand.players})
    lookback = timedelta(seconds=settings.identity_lookback_s)
    identities = await _identities(tx, users, window_from - lookback, now)
    limits = thresholds(settings)
    # (signal, player, other player) of the integrity flags still open or in review.
    already = await tx.integrity.open_flags([s.value for s in SIGNALS], OPEN_STATUSES)
    counts = {s.value: 0 for s in SIGNALS}
    flag_ids: list[int] = []
    for finding in _findings(hands, identities, limits):
        key = (finding.signal.value, finding.user_id, finding.other_user_id)
        if key in already:
            continue
        other = "-" if finding.other_user_id is None else str(finding.other_user_id)
        details = {
            **finding.details,
            "other_user_id": finding.other_user_id,
            "hand_ids": list(finding.hand_ids),
            "hand_count": finding.hand_count,
            "window": [window_from.isoformat(), now.isoformat()],
        }
        flag_id = await tx.integrity.file_flag(
            finding.user_id,
            finding.signal.value,
            f"{now:%Y%m%d}:{finding.user_id}:{other}",
            details,
        )
        if flag_id is not None:
            counts[finding.signal.value] += 1
            flag_ids.append(flag_id)
            already.add(key)
    row = await tx.integrity.add_run(
        NewRun(
            trigger="schedule" if operator_id is None else "operator",
            operator_id=operator_id,
            window_from=window_from,
            window_to=now,
            hands=len(hands),
            thresholds={k: str(v) for k, v in vars(limits).items()},
            counts=counts,
            flag_ids=flag_ids,
        )
    )
    if operator_id is not None:
        await record_action(
            tx,
            operator_id,
            "integrity_run",
            details={"run_id": row.id, "counts": counts, "hands": len(hands)},
        )
    return RunView.of(row)


async def list_runs(
    tx: Transaction, *, limit: int = 50, before_id: int | None = None
) -> list[RunView]:
    """Runs newest first (cursor: the last id seen)."""
    return [RunView.of(r) for r in await tx.integrity.runs(limit, before_id)]
