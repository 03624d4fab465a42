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

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.compliance import AmlFlag
from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.adapters.orm.integrity import IntegrityRun, PlayerLogin
from holdem.adapters.orm.tables import Seat
from holdem.adapters.repositories.transaction import SqlTransaction
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
_EVENT_TYPES = ("action", "street_dealt", "blind_posted")
"""The stored events the signals read."""
_CHUNK = 500
"""Hands read per round trip."""


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
    def of(cls, row: IntegrityRun) -> RunView:
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


async def record_login(session: AsyncSession, user_id: int, ip: str, device_id: str | None) -> None:
    """Keep one authenticated connection's address and device (in the caller's transaction)."""
    session.add(PlayerLogin(user_id=user_id, ip=ip[:45], device_id=device_id))


async def _identities(
    session: AsyncSession, user_ids: list[int], since: datetime, until: datetime
) -> dict[int, dict[str, frozenset[str]]]:
    """Per user, the addresses and devices of their logins in ``[since, until]``."""
    found: dict[int, dict[str, set[str]]] = defaultdict(lambda: {"ip": set(), "device_id": set()})
    for start in range(0, len(user_ids), _CHUNK):
        stmt = select(PlayerLogin.user_id, PlayerLogin.ip, PlayerLogin.device_id).where(
            PlayerLogin.user_id.in_(user_ids[start : start + _CHUNK]),
            PlayerLogin.created_at >= since,
            PlayerLogin.created_at <= until,
        )
        for user_id, ip, device_id in await session.execute(stmt):
            if ip != "unknown":
                found[user_id]["ip"].add(ip)
            if device_id:
                found[user_id]["device_id"].add(device_id)
    return {u: {k: frozenset(v) for k, v in ids.items()} for u, ids in found.items()}


async def check_sit(
    session: AsyncSession,
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
    seated = select(Seat.user_id).where(
        Seat.table_id == table_id, Seat.left_at.is_(None), Seat.user_id != user_id
    )
    others = [int(u) for u in (await session.execute(seated)).scalars()]
    if not others:
        return
    since = now - timedelta(seconds=settings.identity_lookback_s)
    ids = await _identities(session, [user_id, *others], since, now)
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


async def _hands(session: AsyncSession, since: datetime, until: datetime) -> list[HandRecord]:
    """The hands that ended in ``[since, until)``, as the signals read them."""
    ids_stmt = (
        select(Hand.id, Hand.big_blind)
        .where(Hand.ended_at >= since, Hand.ended_at < until)
        .order_by(Hand.id)
    )
    blinds = {int(i): int(bb) for i, bb in await session.execute(ids_stmt)}
    ids = list(blinds)
    records = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        seats: dict[int, dict[int, int]] = defaultdict(dict)
        nets: dict[int, dict[int, int]] = defaultdict(dict)
        holes: dict[int, dict[int, str]] = defaultdict(dict)
        players = select(
            HandPlayer.hand_id,
            HandPlayer.seat_no,
            HandPlayer.user_id,
            HandPlayer.net,
            HandPlayer.hole_cards,
        ).where(HandPlayer.hand_id.in_(chunk))
        for hand_id, seat_no, user_id, net, hole in await session.execute(players):
            seats[hand_id][seat_no] = user_id
            nets[hand_id][user_id] = int(net)
            holes[hand_id][user_id] = hole
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        stored = (
            select(HandEvent.hand_id, HandEvent.payload)
            .where(HandEvent.hand_id.in_(chunk), HandEvent.type.in_(_EVENT_TYPES))
            .order_by(HandEvent.hand_id, HandEvent.seq_no)
        )
        for hand_id, payload in await session.execute(stored):
            events[hand_id].append(payload)
        records += [
            read_hand(i, blinds[i], seats[i], nets[i], holes[i], events[i])
            for i in chunk
            if seats[i]
        ]
    return records


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


async def _open_flags(session: AsyncSession) -> set[tuple[str, int, int | None]]:
    """(signal, player, other player) of the integrity flags still open or in review."""
    stmt = select(AmlFlag.rule, AmlFlag.user_id, AmlFlag.details["other_user_id"]).where(
        AmlFlag.rule.in_([s.value for s in SIGNALS]), AmlFlag.status.in_(OPEN_STATUSES)
    )
    return {(r, int(u), None if o is None else int(o)) for r, u, o in await session.execute(stmt)}


async def run(
    session: AsyncSession,
    settings: IntegritySettings,
    *,
    now: datetime,
    operator_id: int | None = None,
) -> RunView:
    """Run every signal over the window ending `now`, file the new flags and record the run,
    in the caller's transaction (an operator's run is also in the operators' audit log)."""
    window_from = now - timedelta(days=settings.window_days)
    hands = await _hands(session, window_from, now)
    users = sorted({u for hand in hands for u in hand.players})
    lookback = timedelta(seconds=settings.identity_lookback_s)
    identities = await _identities(session, users, window_from - lookback, now)
    limits = thresholds(settings)
    already = await _open_flags(session)
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
        flag_id = await session.scalar(
            insert(AmlFlag)
            .values(
                user_id=finding.user_id,
                rule=finding.signal.value,
                subject=f"{now:%Y%m%d}:{finding.user_id}:{other}",
                details=details,
            )
            .on_conflict_do_nothing(index_elements=["rule", "subject"])
            .returning(AmlFlag.id)
        )
        if flag_id is not None:
            counts[finding.signal.value] += 1
            flag_ids.append(int(flag_id))
            already.add(key)
    row = IntegrityRun(
        trigger="schedule" if operator_id is None else "operator",
        operator_id=operator_id,
        window_from=window_from,
        window_to=now,
        hands=len(hands),
        thresholds={k: str(v) for k, v in vars(limits).items()},
        counts=counts,
        flag_ids=flag_ids,
    )
    session.add(row)
    await session.flush()
    if operator_id is not None:
        await record_action(
            SqlTransaction(session),
            operator_id,
            "integrity_run",
            details={"run_id": row.id, "counts": counts, "hands": len(hands)},
        )
    await session.refresh(row)
    return RunView.of(row)


async def list_runs(
    session: AsyncSession, *, limit: int = 50, before_id: int | None = None
) -> list[RunView]:
    """Runs newest first (cursor: the last id seen)."""
    stmt = select(IntegrityRun)
    if before_id is not None:
        stmt = stmt.where(IntegrityRun.id < before_id)
    rows = (await session.execute(stmt.order_by(IntegrityRun.id.desc()).limit(limit))).scalars()
    return [RunView.of(r) for r in rows]
