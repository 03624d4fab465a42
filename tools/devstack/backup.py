"""`./dev backup` and `./dev restore`: the local stack's PostgreSQL and Redis, to and from a folder.

PostgreSQL: `pg_dump --format=custom` of the database, restored by recreating the database
(other sessions are disconnected) and `pg_restore` into it, so a restore is exact: rows written
after the backup are gone. Redis: every key of the database with `DUMP` and its remaining TTL,
restored with `FLUSHDB` and `RESTORE` (strings, hashes, sets, sorted sets, lists and streams
alike). The folder holds `postgres.dump`, `redis.jsonl` and `manifest.json`.

Production backups are not this: RDS keeps automated snapshots and point-in-time recovery, and
ElastiCache keeps daily snapshots (see template.yaml and docs/DEPLOY.md).
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

from devstack.system import postgres_binaries

POSTGRES_FILE = "postgres.dump"
REDIS_FILE = "redis.jsonl"
MANIFEST = "manifest.json"


class BackupError(RuntimeError):
    """A backup or restore step failed; the message says which and why."""


@dataclass(frozen=True)
class BackupSummary:
    folder: Path
    database: str
    redis_keys: int


def _libpq_url(database_url: str, database: str | None = None) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{what} failed ({result.returncode}): {result.stderr.strip()}")


def backup(database_url: str, redis_url: str, folder: Path) -> BackupSummary:
    """Write a consistent dump of the database and a copy of every Redis key to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    pg_dump = str(postgres_binaries().pg_dump)
    _run(
        [
            pg_dump,
            "--format=custom",
            "--no-owner",
            "--file",
            str(folder / POSTGRES_FILE),
            "--dbname",
            _libpq_url(database_url),
        ],
        "pg_dump",
    )
    count = 0
    client = redis.Redis.from_url(redis_url)
    with contextlib.closing(client), (folder / REDIS_FILE).open("w") as out:
        for key in client.scan_iter(count=1000):
            dumped = client.dump(key)
            if dumped is None:  # expired between SCAN and DUMP
                continue
            ttl_ms = client.pttl(key)
            record = {
                "key": base64.b64encode(key).decode(),
                "value": base64.b64encode(dumped).decode(),
                "ttl_ms": ttl_ms if ttl_ms > 0 else 0,  # -1: no expiry
            }
            out.write(json.dumps(record) + "\n")
            count += 1
    database = make_url(database_url).database or ""
    manifest = {
        "created_at": datetime.now(UTC).isoformat(),
        "database": database,
        "redis_keys": count,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return BackupSummary(folder, database, count)


def restore(database_url: str, redis_url: str, folder: Path) -> BackupSummary:
    """Replace the database and the Redis database with the backup in `folder`."""
    dump = folder / POSTGRES_FILE
    if not dump.exists() or not (folder / REDIS_FILE).exists():
        raise BackupError(f"{folder} is not a backup made by `./dev backup`")
    database = make_url(database_url).database
    if not database:
        raise BackupError("DATABASE_URL names no database")
    with psycopg.connect(_libpq_url(database_url, "postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
        )
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    pg_restore = str(postgres_binaries().pg_restore)
    _run(
        [
            pg_restore,
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            _libpq_url(database_url),
            str(dump),
        ],
        "pg_restore",
    )
    count = 0
    client = redis.Redis.from_url(redis_url)
    with contextlib.closing(client), (folder / REDIS_FILE).open() as lines:
        client.flushdb()
        pipe = client.pipeline(transaction=False)
        for line in lines:
            record = json.loads(line)
            pipe.restore(
                base64.b64decode(record["key"]),
                int(record["ttl_ms"]),
                base64.b64decode(record["value"]),
                replace=True,
            )
            count += 1
        pipe.execute()
    return BackupSummary(folder, database, count)
