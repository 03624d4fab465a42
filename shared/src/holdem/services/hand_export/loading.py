"""Loading a viewer's hands for export, hot or archived, and rendering them as a file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from redis.asyncio import Redis

from holdem.ledger.rakeback import KST
from holdem.ports import ObjectStore
from holdem.ports.hands import HandRecord
from holdem.ports.transaction import Transaction
from holdem.services.archive import list_player_hands, load_hand, load_hands
from holdem.services.errors import InvalidInput, NotFound
from holdem.services.hand_export.ohh import to_ohh
from holdem.services.hand_export.pokerstars import to_pokerstars

__all__ = ["MAX_EXPORT_HANDS", "ExportFormat", "Exported", "export_hand", "export_range"]

MAX_EXPORT_HANDS = 500


class ExportFormat(StrEnum):
    """The export formats."""

    POKERSTARS = "pokerstars"
    OHH = "ohh"


@dataclass(frozen=True, slots=True)
class Exported:
    """An export: its media type, a file name and the body."""

    media_type: str
    filename: str
    body: str
    hands: int


async def _render(
    tx: Transaction,
    hands: Sequence[HandRecord],
    viewer_id: int,
    fmt: ExportFormat,
    stem: str,
) -> Exported:
    names = await tx.hand_records.nicknames({p.user_id for h in hands for p in h.players})
    tables = await tx.hand_records.tables({h.table_id for h in hands})
    if fmt is ExportFormat.POKERSTARS:
        body = "\n\n".join(
            to_pokerstars(h, names, viewer_id, tables.get(h.table_id)) for h in hands
        )
        return Exported("text/plain; charset=utf-8", f"{stem}.txt", body, len(hands))
    # The OHH storage format: one {"ohh": ...} object per hand, separated by a blank line
    # (a file of many hands is not one JSON document; one hand is).
    documents = [to_ohh(h, names, viewer_id, tables.get(h.table_id)) for h in hands]
    body = "\n\n".join(json.dumps(d, ensure_ascii=False) for d in documents) + "\n"
    media = "application/json" if len(hands) == 1 else "text/plain; charset=utf-8"
    return Exported(media, f"{stem}.ohh", body, len(hands))


async def export_hand(
    tx: Transaction,
    store: ObjectStore,
    redis: Redis | None,
    viewer_id: int,
    hand_id: int,
    fmt: ExportFormat,
) -> Exported:
    """One of the viewer's hands, hot or archived.

    Raises:
        NotFound: No such hand, or the viewer did not play it (not told apart).
    """
    hand = await load_hand(tx, store, redis, hand_id)
    if hand is None or all(p.user_id != viewer_id for p in hand.players):
        raise NotFound(f"hand {hand_id} not found", {"hand_id": hand_id})
    return await _render(tx, [hand], viewer_id, fmt, f"hand-{hand_id}")


async def export_range(
    tx: Transaction,
    store: ObjectStore,
    redis: Redis | None,
    viewer_id: int,
    since: datetime,
    until: datetime,
    fmt: ExportFormat,
) -> Exported:
    """The viewer's hands started in ``[since, until)``, oldest first (at most 500).

    Raises:
        InvalidInput: The range is empty, reversed, naive, or holds more than 500 hands.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput("give times with a time zone offset")
    if until <= since:
        raise InvalidInput("the range must end after it starts")
    refs = await list_player_hands(tx, viewer_id, since, until, MAX_EXPORT_HANDS + 1)
    if len(refs) > MAX_EXPORT_HANDS:
        raise InvalidInput(
            f"more than {MAX_EXPORT_HANDS} hands in the range: export a shorter one",
            {"max_hands": MAX_EXPORT_HANDS},
        )
    hands = await load_hands(tx, store, redis, [r.hand_id for r in reversed(refs)])
    stem = f"hands-{since.astimezone(KST):%Y%m%d}-{until.astimezone(KST):%Y%m%d}"
    return await _render(tx, hands, viewer_id, fmt, stem)
