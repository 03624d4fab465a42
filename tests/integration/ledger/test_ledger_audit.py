"""Append-only enforcement, tamper detection, and the audit relay's exactly-once copies."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from holdem.adapters import audit_relay
from holdem.adapters.audit_relay import AuditRelay
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.services.ledger import verify_audit_chain

BUCKET = "holdem-audit-test"


async def _some_money(world) -> tuple[int, int, int]:
    a, b = await world.user(), await world.user()
    table = await world.table()
    for user in (a, b):
        await world.deposit(user, 100_000)
        await world.service.buy_in(key=f"in:{user}", user_id=user, table_id=table, amount=50_000)
    for hand in range(1, 4):
        await world.service.settle_hand(
            table_id=table, hand_id=hand, fencing_token=1, nets={a: 950, b: -1_000}, rake=50
        )
    return a, b, table


def _admin(database_url: str) -> psycopg.Connection:
    plain = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    return psycopg.connect(plain, autocommit=True)


@pytest.mark.parametrize(
    "statement",
    [
        "update ledger_entries set amount = amount + 1",
        "delete from ledger_entries",
        "truncate ledger_entries cascade",
        "update ledger_transactions set metadata = '{}'",
        "delete from ledger_transactions",
        "update audit_log set hash = repeat('0', 64)",
        "delete from audit_log",
        "truncate audit_log",
        "update ledger_accounts set user_id = null",
        "delete from ledger_accounts",
        "delete from audit_lanes",
    ],
)
async def test_the_database_refuses_to_rewrite_history(world, database_url, statement):
    await _some_money(world)
    with _admin(database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


async def test_entries_that_do_not_balance_are_refused_by_the_database(world, database_url):
    await _some_money(world)
    with _admin(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "insert into ledger_entries (transaction_id, account_id, amount, balance_after) "
            "select 1, id, 5, balance + 5 from ledger_accounts where id not in "
            "(select account_id from ledger_entries where transaction_id = 1) limit 1"
        )


@pytest.mark.parametrize("missing", ["transaction", "account"])
async def test_entries_naming_a_missing_row_are_refused_by_the_database(
    world, database_url, missing
):
    await _some_money(world)
    # Two balanced entries (+5, -5) on two accounts: only the named row is missing.
    transaction, accounts = (-1, (1, 2)) if missing == "transaction" else (1, (-1, -2))
    with _admin(database_url) as conn, pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "insert into ledger_entries (transaction_id, account_id, amount, balance_after) "
            "values (%s, %s, 5, 0), (%s, %s, -5, 0)",
            (transaction, accounts[0], transaction, accounts[1]),
        )


TAMPERING = {
    "entry": "update ledger_entries set amount = amount + 100, balance_after = balance_after + 100 "
    "where id = (select max(id) from ledger_entries where amount > 0)",
    "transaction": "update ledger_transactions set metadata = metadata || '{\"rake\": 0}' "
    "where kind = 'hand_settlement' and hand_id = 2",
    "audit_hash": "update audit_log set hash = repeat('a', 64) where seq = 2",
    "audit_content": "update audit_log set content = replace(content, '|950|', '|951|') "
    "where content like '%|950|%'",
    "audit_deleted": "delete from audit_log where (lane, seq) = (select lane, max(seq) "
    "from audit_log group by lane order by lane limit 1)",
}


@pytest.mark.parametrize("what", sorted(TAMPERING))
async def test_tampering_in_sql_is_reported_by_audit_verify(world, database_url, what):
    await _some_money(world)
    assert (await world.service.verify_audit_chain()).ok
    with _admin(database_url) as conn:
        conn.execute("set session_replication_role = replica")  # triggers off, as an attacker
        assert conn.execute(TAMPERING[what]).rowcount >= 1
    report = await world.service.verify_audit_chain()
    assert not report.ok
    assert report.problems


async def test_an_edited_cached_balance_is_reported_by_ledger_check(world, database_url):
    a, _, _ = await _some_money(world)
    with _admin(database_url) as conn:
        conn.execute(
            "update ledger_accounts set balance = balance + 1 where key = %s", (f"wallet:{a}",)
        )
    codes = {v.code for v in (await world.service.conservation_report()).violations}
    assert {"cached_balance_mismatch", "sum_not_zero", "player_funds_mismatch"} <= codes


def _dev(command: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "devstack", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_the_operator_commands_pass_a_sound_ledger_and_fail_a_tampered_one(
    world, database_url
):
    await _some_money(world)
    check = _dev(["ledger", "check"], database_url)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK" in check.stdout
    verify = _dev(["audit", "verify", "--no-redis", "--no-s3"], database_url)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with _admin(database_url) as conn:
        conn.execute("set session_replication_role = replica")
        conn.execute(TAMPERING["entry"])
    check = _dev(["ledger", "check"], database_url)
    assert check.returncode == 1
    assert "VIOLATION" in check.stdout
    verify = _dev(["audit", "verify", "--no-redis", "--no-s3"], database_url)
    assert verify.returncode == 1
    assert "differ from what was audited" in verify.stdout


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name="ap-northeast-2")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    return client


async def _cross_check(world, s3):
    async with world.container.sessions() as session:
        database = await audit_relay.database_records(session)
        redis_cursor = await audit_relay.published_cursors(session, "redis")
        s3_cursor = await audit_relay.published_cursors(session, "s3")
    in_redis = await audit_relay.redis_copies(world.container.redis)
    in_s3 = audit_relay.s3_copies(s3, BUCKET)
    return (
        audit_relay.compare_copy("redis", in_redis, database, redis_cursor, trimmed=True),
        audit_relay.compare_copy("s3", in_s3, database, s3_cursor),
        len(database),
    )


async def test_the_relay_copies_every_record_once_to_redis_and_s3(world, s3):
    await _some_money(world)
    relay = AuditRelay(world.container.sessions, world.container.redis, s3, BUCKET, batch_size=4)
    first = await relay.run_once()
    redis_report, s3_report, total = await _cross_check(world, s3)
    assert first.redis == first.s3_records == total
    assert redis_report.problems == s3_report.problems == []
    assert redis_report.records == s3_report.records == total
    assert (await relay.run_once()).redis == 0  # nothing new: nothing copied again
    await world.service.adjust(key="late", user_id=1, amount=5, reason="r", operator_id=1)
    later = await relay.run_once()
    assert (later.redis, later.s3_records) == (1, 1)
    redis_report, s3_report, total = await _cross_check(world, s3)
    assert redis_report.problems == s3_report.problems == []
    assert redis_report.records == s3_report.records == total


class _CrashAfter:
    """Delegates to a client, then fails after the call went through (a crash after publish)."""

    def __init__(self, inner, method: str) -> None:
        self._inner, self._method = inner, method

    def __getattr__(self, name):
        real = getattr(self._inner, name)
        if name != self._method:
            return real
        if name == "eval":

            async def crash_after_eval(*args, **kwargs):
                await real(*args, **kwargs)
                raise ConnectionError("relay died after publishing")

            return crash_after_eval

        def crash_after(*args, **kwargs):
            real(*args, **kwargs)
            raise ConnectionError("relay died after publishing")

        return crash_after


async def test_a_relay_that_dies_after_publishing_publishes_nothing_twice(world, s3):
    await _some_money(world)
    sessions, redis = world.container.sessions, world.container.redis
    with pytest.raises(ConnectionError):
        await AuditRelay(sessions, _CrashAfter(redis, "eval"), None, None).run_once()
    with pytest.raises(ConnectionError):
        await AuditRelay(sessions, None, _CrashAfter(s3, "put_object"), BUCKET).run_once()
    await AuditRelay(sessions, redis, s3, BUCKET).run_once()
    redis_report, s3_report, total = await _cross_check(world, s3)
    assert redis_report.problems == s3_report.problems == []
    assert redis_report.records == s3_report.records == total


async def test_a_doctored_or_duplicated_copy_is_reported(world, s3):
    await _some_money(world)
    await AuditRelay(world.container.sessions, world.container.redis, s3, BUCKET).run_once()
    first = (await audit_relay.redis_copies(world.container.redis))[0]
    await world.container.redis.xadd(
        audit_relay.STREAM, {"record": audit_relay.record_json(first)}
    )  # a second copy of the first record
    key = s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["Key"]
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().replace(b"|950|", b"|951|")
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    redis_report, s3_report, _ = await _cross_check(world, s3)
    assert any("copied twice" in p for p in redis_report.problems)
    assert any("differs from the database" in p for p in s3_report.problems)


async def test_verify_reads_the_chain_in_batches(world):
    await _some_money(world)
    async with world.container.sessions() as session, session.begin():
        report = await verify_audit_chain(SqlTransaction(session), batch=2)
    assert report.ok
    assert report.records == 7
    async with world.container.sessions() as session:
        lanes = (await session.execute(text("select count(*) from audit_lanes"))).scalar_one()
    assert lanes == 8


async def test_a_trimmed_stream_is_not_missing_records_but_a_gap_is(world):
    await _some_money(world)
    await AuditRelay(world.container.sessions, world.container.redis, None, None).run_once()
    async with world.container.sessions() as session:
        database = await audit_relay.database_records(session)
        cursor = await audit_relay.published_cursors(session, "redis")
    everything = await audit_relay.redis_copies(world.container.redis)
    with_a_gap = [c for c in everything if (c.lane, c.seq) != (0, 4)]
    report = audit_relay.compare_copy("redis", with_a_gap, database, cursor, trimmed=True)
    assert any("missing 1 published record(s), first seq 4" in p for p in report.problems)
    await world.container.redis.xtrim(audit_relay.STREAM, maxlen=2, approximate=False)
    trimmed = await audit_relay.redis_copies(world.container.redis)
    assert len(trimmed) == 2
    assert audit_relay.compare_copy("redis", trimmed, database, cursor, trimmed=True).ok
    assert audit_relay.compare_copy("redis", trimmed, database, cursor).problems
