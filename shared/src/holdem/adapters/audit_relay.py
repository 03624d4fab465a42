"""The audit outbox relay: copies committed audit records to a Redis Stream and to S3.

The audit table is its own outbox. Per destination and lane, `audit_relay_cursors` records
how far the copy has gone; records of a lane commit in sequence order (the lane's head row
is locked until commit), so "every record after the cursor" never skips one.

Exactly once, whatever crashes:

* **Redis** (stream ``holdem:audit``): a Lua script appends a lane's records and raises the
  lane's high-water mark (hash ``holdem:audit:hwm``) atomically, skipping records at or below
  it. A relay that crashed after publishing but before moving its cursor re-sends the same
  records, and the script drops them.
* **S3**: records go in batched objects named by their range,
  ``audit/lane=<lane>/<first seq>-<last seq>.jsonl``. The batch is planned (its last seq
  committed in PostgreSQL) before the object is written; after a crash the same batch, with
  the same key and bytes, is written again, never a differently cut one.

`AuditRelayFunction` (template.yaml) runs `AuditRelay.run_once` every minute; `./dev audit
relay` runs it by hand. `compare_copy` checks both copies against the database (`./dev audit
verify`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from holdem.adapters.orm.ledger import AuditLane, AuditRecord, AuditRelayCursor
from holdem.ledger.audit import StoredRecord

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STREAM = "holdem:audit"
"""Redis Stream of audit records for live consumers; no TTL, trimmed to about
`STREAM_MAX_LEN` entries (S3 keeps every record)."""
STREAM_MAX_LEN = 100_000
HIGH_WATER = "holdem:audit:hwm"
"""Redis hash lane → highest sequence appended to the stream; no TTL (it must outlive
every relay)."""
S3_PREFIX = "audit/"

_PUBLISH = """
local hw = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local added = 0
for i = 3, #ARGV, 2 do
    local seq = tonumber(ARGV[i])
    if seq > hw then
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'lane', ARGV[1], 'seq', ARGV[i],
                   'record', ARGV[i + 1])
        hw = seq
        added = added + 1
    end
end
redis.call('HSET', KEYS[2], ARGV[1], hw)
return added
"""


def record_json(record: StoredRecord) -> str:
    """The copy of a record, as stored in Redis and S3."""
    return json.dumps(
        {
            "lane": record.lane,
            "seq": record.seq,
            "transaction_id": record.transaction_id,
            "prev_hash": record.prev_hash,
            "hash": record.hash,
            "content": record.content,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def parse_record(raw: str | bytes) -> StoredRecord:
    data = json.loads(raw)
    return StoredRecord(
        int(data["lane"]),
        int(data["seq"]),
        int(data["transaction_id"]),
        str(data["prev_hash"]),
        str(data["hash"]),
        str(data["content"]),
    )


def object_key(lane: int, first: int, last: int) -> str:
    return f"{S3_PREFIX}lane={lane}/{first:012d}-{last:012d}.jsonl"


@dataclass
class RelayStats:
    redis: int = 0
    s3_records: int = 0
    s3_objects: int = 0


class AuditRelay:
    """Copies new audit records to Redis and S3. Safe to run in several processes at once."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        redis: Redis | None,
        s3: S3Client | None,
        bucket: str | None,
        *,
        batch_size: int = 500,
        stream_max_len: int = STREAM_MAX_LEN,
    ) -> None:
        self._sessions = sessions
        self._redis = redis
        self._s3 = s3
        self._bucket = bucket
        self._batch = batch_size
        self._stream_max = stream_max_len

    async def run_once(self) -> RelayStats:
        """Copy every record committed so far (in batches), then return what was copied."""
        stats = RelayStats()
        lanes = await self._lanes()
        for lane in lanes:
            if self._redis is not None:
                while added := await self._redis_batch(lane):
                    stats.redis += added
            if self._s3 is not None:
                while copied := await self._s3_batch(lane):
                    stats.s3_records += copied
                    stats.s3_objects += 1
        return stats

    async def _lanes(self) -> list[int]:
        async with self._sessions() as session:
            return list(await session.scalars(select(AuditLane.lane).order_by(AuditLane.lane)))

    async def _cursor(
        self, session: AsyncSession, destination: str, lane: int
    ) -> AuditRelayCursor | None:
        await session.execute(
            insert(AuditRelayCursor)
            .values(destination=destination, lane=lane, published_seq=0, planned_seq=0)
            .on_conflict_do_nothing()
        )
        cursor: AuditRelayCursor | None = await session.scalar(
            select(AuditRelayCursor)
            .where(AuditRelayCursor.destination == destination, AuditRelayCursor.lane == lane)
            .with_for_update(skip_locked=True)
        )
        return cursor

    async def _records(
        self, session: AsyncSession, lane: int, after: int, upto: int | None = None
    ) -> list[StoredRecord]:
        query = (
            select(AuditRecord)
            .where(AuditRecord.lane == lane, AuditRecord.seq > after)
            .order_by(AuditRecord.seq)
            .limit(self._batch)
        )
        if upto is not None:
            query = query.where(AuditRecord.seq <= upto)
        return [
            StoredRecord(r.lane, r.seq, r.transaction_id, r.prev_hash, r.hash, r.content)
            for r in await session.scalars(query)
        ]

    async def _redis_batch(self, lane: int) -> int:
        assert self._redis is not None
        async with self._sessions() as session, session.begin():
            cursor = await self._cursor(session, "redis", lane)
            if cursor is None:  # another relay is copying this lane right now
                return 0
            records = await self._records(session, lane, cursor.published_seq)
            if not records:
                return 0
            args: list[str | int] = [lane, self._stream_max]
            for record in records:
                args += [record.seq, record_json(record)]
            await self._redis.eval(_PUBLISH, 2, STREAM, HIGH_WATER, *args)
            cursor.published_seq = records[-1].seq
            cursor.planned_seq = records[-1].seq
            return len(records)

    async def _s3_batch(self, lane: int) -> int:
        assert self._s3 is not None
        assert self._bucket
        async with self._sessions() as session, session.begin():
            cursor = await self._cursor(session, "s3", lane)
            if cursor is None:
                return 0
            first = cursor.published_seq
            if cursor.planned_seq > cursor.published_seq:
                records = await self._records(session, lane, first, cursor.planned_seq)
            else:
                records = await self._records(session, lane, first)
                if not records:
                    return 0
                cursor.planned_seq = records[-1].seq
        # The plan is committed: a crash from here on repeats exactly this batch.
        key = object_key(lane, records[0].seq, records[-1].seq)
        body = "".join(record_json(r) + "\n" for r in records).encode()
        if not await asyncio.to_thread(self._exists, key):
            await asyncio.to_thread(
                self._s3.put_object,
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType="application/x-ndjson",
            )
        async with self._sessions() as session, session.begin():
            cursor = await self._cursor(session, "s3", lane)
            if cursor is not None and cursor.published_seq < records[-1].seq:
                cursor.published_seq = records[-1].seq
        return len(records)

    def _exists(self, key: str) -> bool:
        assert self._s3 is not None
        assert self._bucket
        found = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=key, MaxKeys=1)
        return any(item.get("Key") == key for item in found.get("Contents", []))


# --- cross-check ----------------------------------------------------------------------------


@dataclass
class CopyReport:
    """How a copy (Redis or S3) compares with the database's audit records."""

    destination: str
    records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def compare_copy(
    destination: str,
    copies: Iterable[StoredRecord],
    database: Mapping[tuple[int, int], StoredRecord],
    published: Mapping[int, int],
    *,
    trimmed: bool = False,
) -> CopyReport:
    """Every record published (up to each lane's cursor) is copied once and unchanged.

    With `trimmed` (the Redis Stream, capped in length), a lane's records older than its
    oldest copy are taken as trimmed away rather than missing.
    """
    report = CopyReport(destination)
    seen: set[tuple[int, int]] = set()
    for copy in copies:
        report.records += 1
        where = (copy.lane, copy.seq)
        if where in seen:
            report.problems.append(
                f"{destination}: lane {copy.lane} seq {copy.seq} is copied twice"
            )
        seen.add(where)
        original = database.get(where)
        if original is None:
            report.problems.append(
                f"{destination}: lane {copy.lane} seq {copy.seq} is not in the database"
            )
        elif original != copy:
            report.problems.append(
                f"{destination}: lane {copy.lane} seq {copy.seq} differs from the database"
            )
    for lane, upto in published.items():
        start = 1
        if trimmed:
            start = min((seq for copied_lane, seq in seen if copied_lane == lane), default=1)
        missing = [seq for seq in range(start, upto + 1) if (lane, seq) not in seen]
        if missing:
            report.problems.append(
                f"{destination}: lane {lane} is missing {len(missing)} published record(s), "
                f"first seq {missing[0]}"
            )
    return report


async def database_records(session: AsyncSession) -> dict[tuple[int, int], StoredRecord]:
    """Every audit record in the database, by (lane, seq)."""
    return {
        (r.lane, r.seq): StoredRecord(
            r.lane, r.seq, r.transaction_id, r.prev_hash, r.hash, r.content
        )
        for r in await session.scalars(select(AuditRecord))
    }


async def published_cursors(session: AsyncSession, destination: str) -> dict[int, int]:
    rows = await session.execute(
        select(AuditRelayCursor.lane, AuditRelayCursor.published_seq).where(
            AuditRelayCursor.destination == destination
        )
    )
    return {int(lane): int(seq) for lane, seq in rows}


async def redis_copies(redis: Redis, count: int = 1000) -> list[StoredRecord]:
    """Every record in the Redis Stream, oldest first."""
    found: list[StoredRecord] = []
    start = "-"
    while True:
        batch = await redis.xrange(STREAM, min=start, max="+", count=count)
        if not batch:
            return found
        for _, fields in batch:
            assert fields is not None
            raw = fields.get(b"record", fields.get("record"))
            assert raw is not None
            found.append(parse_record(raw))
        last_id = batch[-1][0]
        start = "(" + (last_id.decode() if isinstance(last_id, bytes) else str(last_id))


def s3_copies(s3: S3Client, bucket: str) -> list[StoredRecord]:
    """Every record in the S3 batch objects (blocking; run it in a thread)."""
    found: list[StoredRecord] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=S3_PREFIX):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found += [parse_record(line) for line in body.decode().splitlines() if line]
    return found
