"""The private pool of the ledger's posts: no pre-ping, a dead kept connection replaced once."""

from __future__ import annotations

import asyncio
import json
import time

import psycopg
import pytest
from sqlalchemy import BigInteger, Text, bindparam, cast, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB

from holdem.adapters.statement_pool import create_statement_pool
from holdem.config import Settings

_PID = "select pg_backend_pid()"


def _admin(database_url: str) -> psycopg.Connection:
    return psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)


def _wait_until_running(database_url: str, pid: int) -> None:
    """Until the server runs a statement on that backend (nothing to await but its state)."""
    with _admin(database_url) as admin:
        for _ in range(3000):
            if admin.execute(
                "select 1 from pg_stat_activity where pid = %s and state = 'active'", (pid,)
            ).fetchone():
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} never started its statement")


async def test_a_kept_connection_is_reused_and_its_statement_prepared(settings):
    pool = create_statement_pool(settings)
    try:
        first = await pool.run_idempotent(_PID, ())
        again = await pool.run_idempotent(_PID, ())
        assert first == again  # one connection, kept between statements, no ping in between
        (prepared,) = await pool.run_idempotent(
            "select count(*) from pg_prepared_statements where statement = %s", (_PID,)
        )
        assert prepared == 1
    finally:
        await pool.aclose()


async def test_a_kept_connection_that_died_is_replaced_and_the_statement_sent_again(settings):
    pool = create_statement_pool(settings)
    try:
        (before,) = await pool.run_idempotent(_PID, ())
        with _admin(settings.database_url) as admin:
            admin.execute("select pg_terminate_backend(%s)", (before,))
        (after,) = await pool.run_idempotent(_PID, ())
        assert after != before
    finally:
        await pool.aclose()


async def test_a_database_error_is_raised_and_the_connection_stays_usable(settings):
    pool = create_statement_pool(settings)
    try:
        (before,) = await pool.run_idempotent(_PID, ())
        with pytest.raises(psycopg.errors.DivisionByZero):
            await pool.run_idempotent("select 1 / %s", (0,))
        assert await pool.run_idempotent(_PID, ()) == (before,)
    finally:
        await pool.aclose()


async def test_a_cancelled_statement_stops_in_the_server_and_its_connection_is_kept(settings):
    pool = create_statement_pool(settings)
    try:
        (before,) = await pool.run_idempotent(_PID, ())
        sleeping = asyncio.create_task(pool.run_idempotent("select pg_sleep(30)", ()))
        await asyncio.to_thread(_wait_until_running, settings.database_url, before)
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        with _admin(settings.database_url) as admin:
            found = admin.execute(
                "select state from pg_stat_activity where pid = %s", (before,)
            ).fetchone()
        assert found == ("idle",)  # psycopg cancelled the statement in the server too
        assert await pool.run_idempotent(_PID, ()) == (before,)
    finally:
        await pool.aclose()


async def test_a_lambda_keeps_no_connection_and_prepares_nothing(database_url):
    pool = create_statement_pool(Settings(database_url=database_url, runtime="lambda"))
    try:
        (first,) = await pool.run_idempotent(_PID, ())
        second, prepared = await pool.run_idempotent(
            "select pg_backend_pid(), (select count(*) from pg_prepared_statements)", ()
        )
        assert second != first
        assert prepared == 0
    finally:
        await pool.aclose()


_BACKEND = select(literal_column("pg_backend_pid()").label("pid"), bindparam("n").label("n"))


async def test_a_reader_runs_core_selects_with_named_rows_on_a_kept_connection(settings):
    pool = create_statement_pool(settings)
    try:
        async with pool.reader() as reader:
            (first,) = (await reader.execute(_BACKEND, {"n": 7})).all()
        async with pool.reader() as reader:
            (again,) = list(await reader.execute(_BACKEND, {"n": 8}))
        assert (first.n, again.n) == (7, 8)
        assert first.pid == again.pid  # kept between readers
        pid, n = again
        assert (pid, n) == (again.pid, 8)
    finally:
        await pool.aclose()


async def test_a_reader_replaces_a_kept_connection_that_died(settings):
    pool = create_statement_pool(settings)
    try:
        async with pool.reader() as reader:
            (before,) = (await reader.execute(_BACKEND, {"n": 1})).all()
        with _admin(settings.database_url) as admin:
            admin.execute("select pg_terminate_backend(%s)", (before.pid,))
        async with pool.reader() as reader:
            (after,) = (await reader.execute(_BACKEND, {"n": 2})).all()
        assert after.pid != before.pid
    finally:
        await pool.aclose()


async def test_a_reader_block_that_fails_gives_its_slot_and_connection_back(database_url):
    settings = Settings(database_url=database_url, db={"pool_size": 1, "max_overflow": 0})
    pool = create_statement_pool(settings)
    seen: list[int] = []

    async def failing_read() -> None:
        async with pool.reader() as reader:
            (row,) = (await reader.execute(_BACKEND, {"n": 1})).all()
            seen.append(row.pid)
            raise LookupError

    try:
        with pytest.raises(LookupError):
            await failing_read()
        # The only slot is free again, and the connection was kept (idle when returned).
        async with asyncio.timeout(5), pool.reader() as reader:
            (after,) = (await reader.execute(_BACKEND, {"n": 2})).all()
        assert [after.pid] == seen
    finally:
        await pool.aclose()


async def test_a_lambda_reader_pool_keeps_one_connection_and_prepares_nothing(database_url):
    pool = create_statement_pool(
        Settings(database_url=database_url, runtime="lambda"), kept_in_lambda=1
    )
    try:
        async with pool.reader() as reader:
            (first,) = (await reader.execute(_BACKEND, {"n": 1})).all()
        async with pool.reader() as reader:
            (second,) = (await reader.execute(_BACKEND, {"n": 2})).all()
        (prepared,) = await pool.run_idempotent("select count(*) from pg_prepared_statements", ())
        assert second.pid == first.pid
        assert prepared == 0
    finally:
        await pool.aclose()


_DOCUMENTS = [
    '{"kind": "win", "hand_id": 9223372036854775807, "nested": [1, 2.5, null, true, "é"]}',
    '{"beyond_64_bits": 123456789012345678901234567890}',
    '{"beyond_a_float": 1e400, "tiny": -0.0}',
]


@pytest.mark.parametrize("document", _DOCUMENTS)
async def test_a_reader_decodes_json_columns_as_the_standard_library_does(settings, document):
    pool = create_statement_pool(settings)
    column = select(cast(bindparam("d", type_=Text), JSONB).label("d"))
    try:
        async with pool.reader() as reader:
            (row,) = (await reader.execute(column, {"d": document})).all()
        with _admin(settings.database_url) as admin:
            (text,) = admin.execute("select %s::jsonb::text", (document,)).fetchone()
        assert row.d == json.loads(text)
        assert repr(row.d) == repr(json.loads(text))  # same types (int, not float), same floats
    finally:
        await pool.aclose()


_TX = "select pg_backend_pid(), pg_current_xact_id()::text"


async def test_a_transaction_commits_when_its_block_ends_and_a_failed_one_writes_nothing(
    settings,
):
    pool = create_statement_pool(settings)
    mark = f"tx-{time.time_ns()}"
    with _admin(settings.database_url) as admin:
        admin.execute("create table if not exists statement_pool_probe (mark text)")
    try:
        async with pool.transaction() as tx:
            first = await tx.first(_TX, ())
            assert await tx.first(_TX, ()) == first  # one transaction, one connection
            await tx.first("insert into statement_pool_probe values (%s) returning 1", (mark,))
        assert first is not None

        async def insert_then_fail() -> None:
            async with pool.transaction() as tx:
                again = await tx.first(_TX, ())
                assert again is not None
                assert (again[0], again[1] != first[1]) == (first[0], True)  # kept, new xact
                await tx.first("insert into statement_pool_probe values (%s) returning 1", (mark,))
                await tx.first("select 1 / %s", (0,))

        with pytest.raises(psycopg.errors.DivisionByZero):
            await insert_then_fail()
        (kept,) = await pool.run_idempotent(_PID, ())
        assert kept != first[0]  # the failed transaction's connection was closed, not kept
        with _admin(settings.database_url) as admin:
            found = admin.execute(
                "select count(*) from statement_pool_probe where mark = %s", (mark,)
            ).fetchone()
        assert found == (1,)
    finally:
        await pool.aclose()


async def test_a_transaction_on_a_kept_connection_that_died_begins_on_a_new_one(settings):
    pool = create_statement_pool(settings)
    try:
        (before,) = await pool.run_idempotent(_PID, ())
        with _admin(settings.database_url) as admin:
            admin.execute("select pg_terminate_backend(%s)", (before,))
        async with pool.transaction() as tx:
            row = await tx.first(_PID, ())
        assert row is not None
        assert row[0] != before
    finally:
        await pool.aclose()


_RATIO = select((bindparam("a", type_=BigInteger) / bindparam("b", type_=BigInteger)).label("q"))


async def test_a_reader_refused_by_the_server_reads_again_on_the_same_connection(settings):
    """A connection's reads reuse one cursor: a refused query leaves it ready for the next."""
    pool = create_statement_pool(settings)
    try:
        async with pool.reader() as reader:
            (first,) = (await reader.execute(_BACKEND, {"n": 1})).all()
            with pytest.raises(psycopg.errors.DivisionByZero):
                await reader.execute(_RATIO, {"a": 6, "b": 0})
            (ratio,) = (await reader.execute(_RATIO, {"a": 6, "b": 3})).all()
            (second,) = (await reader.execute(_BACKEND, {"n": 2})).all()
        async with pool.reader() as reader:
            (third,) = (await reader.execute(_BACKEND, {"n": 3})).all()
        assert ratio.q == 2
        assert (second.n, third.n) == (2, 3)
        assert first.pid == second.pid == third.pid  # one connection throughout, kept
    finally:
        await pool.aclose()
