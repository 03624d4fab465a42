"""Hand archives: hot hands older than 7 days move to S3; any hand is still found by id.

Format: one object per table and hour of play holding every hand of that hour,
MessagePack then compressed as a whole (the hands of a table share most of their bytes,
so compressing the batch beats compressing each hand; see ``loadtest/bench_archive.py``).
The object key is decided by its content's first hand, so re-running a batch rewrites the
same object instead of adding another.

Crash safety: one PostgreSQL transaction locks a batch's hot rows, the object is written
(S3 checks its MD5), then the index rows are inserted and the hot rows deleted, and the
transaction commits. If anything fails after the S3 write, the transaction rolls back: the
hands stay hot, no index row points at the object, and the next run rewrites the same key.
So a crash loses nothing and duplicates nothing.

Reads go through :func:`load_hand`, which serves hot and archived hands alike; a fetched
archive object is cached in Redis for a few minutes because a player reading one old hand
often reads its neighbours next.
"""

from __future__ import annotations

import gzip
import lzma
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
from redis.asyncio import Redis

from holdem.ports import ObjectStore
from holdem.ports.hands import ArchiveEntry, EventRow, HandRecord, PlayerHandRef, PlayerRow
from holdem.ports.transaction import Transaction, Transactions
from holdem.services.errors import ServiceError

__all__ = [
    "ARCHIVE_FORMAT",
    "HOT_RETENTION",
    "ArchiveCorrupt",
    "ArchiveReport",
    "EventRow",
    "HandRecord",
    "PlayerHandRef",
    "PlayerRow",
    "archive_due_hands",
    "decode_batch",
    "encode_batch",
    "list_player_hands",
    "load_hand",
    "load_hands",
    "load_hot_hands",
]

HOT_RETENTION = timedelta(days=7)
CACHE_TTL_S = 300
CACHE_PREFIX = "archive:object:"
FORMAT_VERSION = 1


def _xz(raw: bytes) -> bytes:
    return lzma.compress(raw, preset=6)


def _gz(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=6, mtime=0)


_COMPRESSORS: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    ".msgpack.xz": (_xz, lzma.decompress),
    ".msgpack.gz": (_gz, gzip.decompress),
}
ARCHIVE_FORMAT = ".msgpack.xz"
"""The format new objects are written in (its key suffix); every listed one can be read."""


class ArchiveCorrupt(ServiceError):  # noqa: N818 - reads as a condition
    """An archive object does not hold the hand its index promises."""

    code = "archive_corrupt"


def _micros(instant: datetime) -> int:
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _instant(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _to_wire(hand: HandRecord) -> list[Any]:
    # Positional arrays: field names would repeat in every hand of every object.
    return [
        hand.id,
        hand.table_id,
        hand.hand_no,
        _micros(hand.started_at),
        _micros(hand.ended_at),
        hand.small_blind,
        hand.big_blind,
        hand.button_seat,
        hand.board,
        hand.total_pot,
        hand.rake,
        hand.deck_commitment,
        hand.deck_seed,
        hand.result,
        [list(e) for e in hand.events],
        [[p.seat_no, p.user_id, p.hole_cards, p.shown, p.net, p.rake_share] for p in hand.players],
        list(hand.chat),
    ]


def _from_wire(item: list[Any]) -> HandRecord:
    started_at = _instant(item[3])
    return HandRecord(
        id=item[0],
        table_id=item[1],
        hand_no=item[2],
        started_at=started_at,
        ended_at=_instant(item[4]),
        small_blind=item[5],
        big_blind=item[6],
        button_seat=item[7],
        board=item[8],
        total_pot=item[9],
        rake=item[10],
        deck_commitment=item[11],
        deck_seed=item[12],
        result=item[13],
        events=tuple(EventRow(*e) for e in item[14]),
        players=tuple(PlayerRow(p[0], p[1], started_at, *p[2:]) for p in item[15]),
        archived=True,
        # Hands archived before chat was kept have 16 items.
        chat=tuple(item[16]) if len(item) > 16 else (),
    )


def encode_batch(hands: Sequence[HandRecord], fmt: str = ARCHIVE_FORMAT) -> bytes:
    """The bytes of one archive object."""
    compress, _ = _COMPRESSORS[fmt]
    raw = msgpack.packb({"v": FORMAT_VERSION, "hands": [_to_wire(h) for h in hands]})
    return compress(raw)


def decode_batch(body: bytes, fmt: str = ARCHIVE_FORMAT) -> list[HandRecord]:
    """The hands of one archive object.

    Raises:
        ArchiveCorrupt: The bytes are not an archive object of a known version.
    """
    try:
        _, decompress = _COMPRESSORS[fmt]
        document = msgpack.unpackb(decompress(body))
        if document.get("v") != FORMAT_VERSION:
            raise ArchiveCorrupt(f"unknown archive version {document.get('v')!r}")
        return [_from_wire(item) for item in document["hands"]]
    except (KeyError, ValueError, TypeError, lzma.LZMAError, OSError, EOFError) as exc:
        raise ArchiveCorrupt("an archive object could not be decoded") from exc


def _format_of(key: str) -> str:
    for suffix in _COMPRESSORS:
        if key.endswith(suffix):
            return suffix
    raise ArchiveCorrupt(f"archive object {key} has an unknown format")


def object_key(table_id: int, hour: datetime, first_hand_id: int, fmt: str) -> str:
    """Where a table-hour batch lives: ``hands/YYYY/MM/DD/HH/table-<id>-<first hand>``."""
    return f"hands/{hour:%Y/%m/%d/%H}/table-{table_id}-{first_hand_id}{fmt}"


async def load_hot_hands(tx: Transaction, hand_ids: Sequence[int]) -> list[HandRecord]:
    """Hot hands by id (those found), in id order, with events and players: three queries."""
    return await tx.hand_records.hot_hands(hand_ids)


async def _read_object(store: ObjectStore, redis: Redis | None, key: str) -> bytes:
    if redis is not None:
        cached = await redis.get(CACHE_PREFIX + key)
        if isinstance(cached, bytes):
            return cached
    body = await store.get(key)
    if redis is not None:
        await redis.set(CACHE_PREFIX + key, body, ex=CACHE_TTL_S)
    return body


async def load_hand(
    tx: Transaction, store: ObjectStore, redis: Redis | None, hand_id: int
) -> HandRecord | None:
    """A completed hand by id, hot or archived (``None`` if there is no such hand).

    This is the one read path of hand history: callers need not know where a hand lives.
    """
    hot = await load_hot_hands(tx, [hand_id])
    if hot:
        return hot[0]
    entries = await tx.hand_records.archive_entries([hand_id])
    if not entries:
        return None
    entry = entries[0]
    body = await _read_object(store, redis, entry.object_key)
    hands = decode_batch(body, _format_of(entry.object_key))
    if not 0 <= entry.position < len(hands) or hands[entry.position].id != hand_id:
        raise ArchiveCorrupt(f"hand {hand_id} is not at {entry.object_key}[{entry.position}]")
    return hands[entry.position]


async def load_hands(
    tx: Transaction, store: ObjectStore, redis: Redis | None, hand_ids: Sequence[int]
) -> list[HandRecord]:
    """Many hands by id, hot or archived, in the order asked (unknown ids are left out).

    A fixed number of queries for the hot ones, and one object read per archive object.
    """
    found = {h.id: h for h in await load_hot_hands(tx, hand_ids)}
    missing = [i for i in hand_ids if i not in found]
    if missing:
        by_key: dict[str, list[ArchiveEntry]] = {}
        for entry in await tx.hand_records.archive_entries(missing):
            by_key.setdefault(entry.object_key, []).append(entry)
        for key, group in by_key.items():
            batch = decode_batch(await _read_object(store, redis, key), _format_of(key))
            for entry in group:
                if (
                    not 0 <= entry.position < len(batch)
                    or batch[entry.position].id != entry.hand_id
                ):
                    raise ArchiveCorrupt(f"hand {entry.hand_id} is not at {key}[{entry.position}]")
                found[entry.hand_id] = batch[entry.position]
    return [found[i] for i in hand_ids if i in found]


async def list_player_hands(
    tx: Transaction,
    user_id: int,
    since: datetime,
    until: datetime,
    limit: int = 1000,
) -> list[PlayerHandRef]:
    """The player's hands started in ``[since, until)``, newest first, hot and archived."""
    return await tx.hand_records.player_hands(user_id, since, until, limit)


@dataclass
class ArchiveReport:
    """What one archiver run did."""

    batches: int = 0
    hands: int = 0
    bytes_written: int = 0
    keys: list[str] = field(default_factory=list)


def _hour_floor(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def _archive_one_batch(
    tx: Transaction, store: ObjectStore, cutoff: datetime, fmt: str
) -> tuple[str, int, int] | None:
    hands_repo = tx.hand_records
    oldest = await hands_repo.lock_oldest_due(cutoff)
    if oldest is None:
        return None
    table_id, started_at = oldest
    hour = _hour_floor(started_at)
    ids = await hands_repo.lock_table_hands(table_id, hour, min(hour + timedelta(hours=1), cutoff))
    hands = await load_hot_hands(tx, ids)
    key = object_key(table_id, hour, hands[0].id, fmt)
    body = encode_batch(hands, fmt)
    await store.put(key, body, {"hands": str(len(hands)), "format-version": str(FORMAT_VERSION)})
    # Only now, with the object confirmed by the store, does the hot copy go.
    await hands_repo.move_to_archive(key, hands)
    return key, len(hands), len(body)


async def archive_due_hands(
    transactions: Transactions,
    store: ObjectStore,
    now: datetime,
    *,
    older_than: timedelta = HOT_RETENTION,
    max_batches: int = 500,
    fmt: str = ARCHIVE_FORMAT,
) -> ArchiveReport:
    """Move every whole table-hour of hands started before ``now - older_than`` to S3.

    Each batch is its own transaction, begun by ``transactions`` and committed when its block
    ends (see the module docstring for why a crash at any point is safe). ``max_batches``
    bounds one run; the next hourly run continues.
    """
    cutoff = _hour_floor(now - older_than)
    report = ArchiveReport()
    while report.batches < max_batches:
        async with transactions() as tx:
            done = await _archive_one_batch(tx, store, cutoff, fmt)
        if done is None:
            break
        key, count, size = done
        report.batches += 1
        report.hands += count
        report.bytes_written += size
        report.keys.append(key)
    return report
