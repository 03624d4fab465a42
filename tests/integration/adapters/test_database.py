"""The server pool's pre-ping: only connections that sat idle are pinged (real PostgreSQL)."""

from __future__ import annotations

import types

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from holdem.adapters import database
from holdem.config import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(database, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def _pool_settings(settings: Settings, **db: object) -> Settings:
    return settings.model_copy(
        update={"db": settings.db.model_copy(update={"pool_size": 1, "max_overflow": 0, **db})}
    )


def _terminate(settings: Settings, backend_pid: int) -> None:
    url = make_url(settings.database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (backend_pid,))


async def _backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("select pg_backend_pid()"))).scalar_one())


async def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(
    settings, clock
):
    engine = database.create_engine(_pool_settings(settings, pool_pre_ping_idle_s=5.0))
    try:
        first = await _backend_pid(engine)
        _terminate(settings, first)
        clock.now += 5.0  # idle long enough: the checkout pings, sees it dead, reconnects
        second = await _backend_pid(engine)
        assert second != first
    finally:
        await engine.dispose()


async def test_a_connection_back_within_the_threshold_is_not_pinged(settings, clock):
    engine = database.create_engine(_pool_settings(settings, pool_pre_ping_idle_s=5.0))
    failed: list[str] = []

    @event.listens_for(engine.sync_engine, "handle_error")
    def _seen(context) -> None:
        failed.append(context.statement or "")

    try:
        first = await _backend_pid(engine)
        _terminate(settings, first)
        clock.now += 4.9  # reused at once: no round trip before the statement, which fails
        with pytest.raises(OperationalError):
            await _backend_pid(engine)
        assert failed == ["select pg_backend_pid()"]  # the statement met it, not a ping
        # The failure invalidated the pool: the next checkout connects afresh.
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


async def test_zero_threshold_is_sqlalchemys_pre_ping_on_every_checkout(settings, clock):
    engine = database.create_engine(_pool_settings(settings, pool_pre_ping_idle_s=0.0))
    try:
        assert engine.sync_engine.pool._pre_ping
        first = await _backend_pid(engine)
        _terminate(settings, first)
        assert await _backend_pid(engine) != first  # no time passed, still pinged
    finally:
        await engine.dispose()


async def test_a_lambda_keeps_one_connection_between_invocations_and_replaces_a_closed_one(
    settings, clock
):
    lambda_settings = settings.model_copy(update={"runtime": "lambda"})
    engine = database.create_engine(lambda_settings)
    try:
        first = await _backend_pid(engine)
        assert await _backend_pid(engine) == first  # a warm invocation pays no connect
        # Two sessions at once in one invocation: the second is an overflow connection.
        async with engine.connect() as held:
            await held.execute(text("select 1"))
            assert await _backend_pid(engine) != first
        assert engine.pool.size() == 1
        # The proxy closed the kept connection while the environment was frozen.
        _terminate(settings, first)
        clock.now += lambda_settings.db.pool_pre_ping_idle_s
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


async def test_the_connection_returned_last_is_checked_out_first(settings):
    engine = database.create_engine(_pool_settings(settings, pool_size=2))
    try:
        async with engine.connect() as a, engine.connect() as b:
            pid_a = (await a.execute(text("select pg_backend_pid()"))).scalar_one()
            pid_b = (await b.execute(text("select pg_backend_pid()"))).scalar_one()
        # a is returned last (the context managers exit in reverse): the warm one, reused.
        assert pid_a != pid_b
        assert await _backend_pid(engine) == pid_a
    finally:
        await engine.dispose()
