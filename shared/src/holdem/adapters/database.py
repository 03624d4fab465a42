"""PostgreSQL through psycopg 3: SQLAlchemy engines, and private pools of raw connections for
one-statement paths and hot column reads.

Servers get a sized pool (SPEC §7). Lambdas reach PostgreSQL through RDS Proxy: an execution
environment serves one invocation at a time, so it keeps ONE connection to the proxy between
invocations (a warm invocation does not pay a connect) and opens short-lived overflow
connections only if one invocation needs more at once; psycopg's prepared statements are off,
since they would pin proxy connections. A kept connection the proxy closed while the
environment was frozen is found by the idle pre-ping below and replaced.

An engine's pooled connection is pre-pinged when it comes out of the pool after sitting idle
for ``db.pool_pre_ping_idle_s`` or longer (0: on every checkout, SQLAlchemy's own pre-ping).
A failed ping invalidates the whole pool, as SQLAlchemy's pre-ping does; a connection that
dies while in use fails its statement (a 503 at the API) and invalidates the pool too.

New connections log in with `DatabaseLogin`: after a scheduled rotation of the component's
password, the first refused connection reads the secret again and the process goes on without
a restart.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from typing import Any, cast

import orjson
import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import set_json_loads
from sqlalchemy import Engine, event, exc
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_

from holdem.adapters.secret_refs import SecretValue
from holdem.config import Settings

_IDLE_SINCE = "idle_since"

log = logging.getLogger(__name__)


class Rows:
    """The rows of one `RowReader` read, used as a read uses a SQLAlchemy result: iterated,
    or all at once; each row unpacks as a tuple and names its columns (``row.user_id``)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def all(self) -> list[Any]:
        """Every row."""
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


_POSTGRESQL = PGDialect_psycopg()  # type: ignore[no-untyped-call]


@functools.lru_cache(maxsize=256)
def _sql(statement: ClauseElement, names: frozenset[str]) -> tuple[str, dict[str, Any]]:
    """A statement's SQL for PostgreSQL and the values of its own parameters (the literals
    it holds, its IN lists expanded), for a call that supplies the parameters ``names``.

    Module-level statements are built once, so each is compiled once. A statement built per
    call (the statement's kind filter, an archived hand's players: rare reads) is compiled on
    each call, where SQLAlchemy's cache would find it by its structure.
    """
    compiled = cast(SQLCompiler, statement.compile(dialect=_POSTGRESQL))  # a select's
    if names & {bind.key for bind in compiled.post_compile_params}:
        raise ValueError("a list parameter is expanded once: put its values in the statement")
    expanded = compiled.construct_expanded_state(dict.fromkeys(names))
    own = {key: value for key, value in expanded.parameters.items() if key not in names}
    return expanded.statement, own


_LONG_NUMBER = re.compile(rb"[0-9]{20}")
"""A run of digits that may be a number beyond 64 bits, which orjson reads as a float."""


def json_loads(document: str | bytes) -> Any:
    """A JSON column's value as ``json.loads`` gives it, parsed by orjson (a statement's 20
    rows of metadata took ~5% of its request through the standard library's parser). orjson
    reads an integer beyond 64 bits as a float and refuses what only the standard library
    accepts: a document with a run of 20 digits (PostgreSQL writes every JSON number out in
    digits), or that orjson refuses, is parsed by the standard library."""
    raw = document.encode() if isinstance(document, str) else document  # psycopg's: bytes
    if _LONG_NUMBER.search(raw) is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(document)


class RowReader:
    """Column reads (SQLAlchemy Core selects) on one raw psycopg connection.

    A statement is compiled once for PostgreSQL and sent as SQLAlchemy would send it (same
    SQL, same parameters, same driver), so the rows hold the same values; what is spared is
    SQLAlchemy's per-query work (pool checkout and reset, execution context, result
    processing, the greenlet hop of its asyncio layer). For the read-only routes' hot
    queries; anything that maps ORM objects or writes goes through a session.
    """

    def __init__(self, pool: StatementPool, connection: psycopg.AsyncConnection[Any]) -> None:
        self._pool = pool
        self.connection = connection

    async def execute(
        self, statement: ClauseElement, parameters: Mapping[str, Any] | None = None
    ) -> Rows:
        """Run one select with its bound parameters; all its rows."""
        given = parameters or {}
        query, own = _sql(statement, frozenset(given))
        params = {**own, **given}
        try:
            return await self._fetch(query, params)
        except psycopg.OperationalError:
            # A kept connection that died while idle (no pre-ping): a read may run again.
            if not self.connection.broken:
                raise
            dead, self.connection = self.connection, await self._pool.connect()
            await dead.close()
            return await self._fetch(query, params)

    async def _fetch(self, query: str, params: dict[str, Any]) -> Rows:
        cursor = self.connection.cursor(row_factory=namedtuple_row)
        await cursor.execute(query, params, prepare=self._pool.prepare)
        return Rows(await cursor.fetchall())


class RawTransaction:
    """Statements in one transaction on a raw psycopg connection (`StatementPool.transaction`).

    A SQLAlchemy statement is compiled once and sent as `RowReader` sends it. Unlike a
    reader's, a statement here is never sent again on another connection: a connection lost
    inside the transaction loses the transaction, and the caller's `transaction` block raises.
    """

    __slots__ = ("_connection", "_prepare")

    def __init__(self, connection: psycopg.AsyncConnection[Any], prepare: bool) -> None:
        self._connection = connection
        self._prepare = prepare

    async def execute(
        self, statement: ClauseElement, parameters: Mapping[str, Any] | None = None
    ) -> Rows:
        """Run one statement with its bound parameters; all its rows."""
        given = parameters or {}
        query, own = _sql(statement, frozenset(given))
        cursor = self._connection.cursor(row_factory=namedtuple_row)
        await cursor.execute(query, {**own, **given}, prepare=self._prepare)
        return Rows(await cursor.fetchall())

    async def first(self, query: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """Run one statement written for psycopg (``%s`` placeholders); its first row."""
        cursor = await self._connection.execute(query, params, prepare=self._prepare)
        return await cursor.fetchone()


def violated_constraint(error: exc.IntegrityError) -> str:
    """The name of the constraint or unique index PostgreSQL reports ('' when it names none)."""
    diag = getattr(error.orig, "diag", None)
    return str(getattr(diag, "constraint_name", None) or "")


class DatabaseLogin:
    """The URL a process's new PostgreSQL connections log in with.

    Secrets Manager rotates each component's password (template.yaml, every
    ``DatabaseRotationDays``): PostgreSQL and the secret change together, while the process
    resolved ``DATABASE_URL`` when it started. When the server asks for the password and still
    refuses the connection, the URL is read again from its secrets (`SecretValue`: at most once
    per ``db.login_reread_s`` in a process, however many connections are refused at once) and
    the connection is tried once more with it. Connections already open are not affected by a
    rotation. Without a secret reference (local runs, tests) the URL is fixed.

    Args:
        url: The URL as resolved at start (``Settings.database_url``).
        secret: Where to read it again; None when it names no secret.
    """

    def __init__(self, url: str, secret: SecretValue | None = None) -> None:
        self._url = url
        self._secret = secret

    @classmethod
    def of(cls, settings: Settings) -> DatabaseLogin:
        """The login of ``DATABASE_URL``, read again from the secrets it referenced."""
        template = settings.secret_references.get("DATABASE_URL")
        if template is None:
            return cls(settings.database_url)
        reread = SecretValue(
            template, settings.database_url, min_interval_s=settings.db.login_reread_s
        )
        return cls(settings.database_url, reread)

    @property
    def rereads(self) -> bool:
        """Whether a refused login is read again (the URL names a secret)."""
        return self._secret is not None

    @property
    def url(self) -> str:
        """The URL new connections use now."""
        return self._url if self._secret is None else self._secret.value

    def replacement_for(self, refused: str, error: psycopg.OperationalError) -> str | None:
        """The URL to try after `error` refused a connection to `refused`, or None: the error
        is not a refused password, or the secrets hold the same login.

        Blocking (it may call Secrets Manager): async callers run it in a thread.
        """
        if self._secret is None or not _password_refused(error):
            return None
        fresh = self._secret.replacement_for(refused)
        if fresh is None:
            self._explain(error)
        else:
            log.warning("database password refused; trying the login its secret holds now")
        return fresh

    @contextmanager
    def retrying(self) -> Iterator[None]:
        """Around the second try: a refusal says where the login came from."""
        try:
            yield
        except psycopg.OperationalError as error:
            if _password_refused(error):
                self._explain(error)
            raise

    def _explain(self, error: psycopg.OperationalError) -> None:
        assert self._secret is not None
        error.add_note(
            "PostgreSQL refused DATABASE_URL's login as its secret holds it now "
            f"({', '.join(self._secret.secrets)}, read again at most every "
            f"{self._secret.min_interval_s:g} s)"
        )


def _password_refused(error: psycopg.OperationalError) -> bool:
    """The server asked for the password, and the connection failed (libpq's own account:
    no message text is read; RDS Proxy refuses a stale password the same way)."""
    return error.pgconn is not None and bool(error.pgconn.used_password)


def _credentials(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {"user": parsed.username, "password": parsed.password}


@lru_cache(maxsize=4)  # a Lambda's statement pool opens a connection per statement
def _libpq_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _log_in_with_current_password(engine: Engine, login: DatabaseLogin) -> Engine:
    """Open the engine's connections with `login`'s current password, and once more with a
    re-read one when PostgreSQL refuses it."""
    if not login.rereads:
        return engine

    @event.listens_for(engine, "do_connect")
    def _connect(
        dialect: Dialect, _: ConnectionPoolEntry, cargs: list[Any], cparams: dict[str, Any]
    ) -> Any:
        url = login.url
        cparams.update(_credentials(url))
        try:
            return dialect.connect(*cargs, **cparams)
        except psycopg.OperationalError as error:
            if dialect.is_async:  # Secrets Manager off the event loop
                fresh = await_(asyncio.to_thread(login.replacement_for, url, error))
            else:
                fresh = login.replacement_for(url, error)
            if fresh is None:
                raise
        cparams.update(_credentials(fresh))
        with login.retrying():
            return dialect.connect(*cargs, **cparams)

    return engine


def _connect_options(settings: Settings) -> str:
    return f"-c statement_timeout={settings.db.statement_timeout_ms}"


def _engine_options(settings: Settings) -> dict[str, Any]:
    connect_args: dict[str, Any] = {"options": _connect_options(settings)}
    pool = settings.db
    pool_size = pool.pool_size
    if settings.runtime == "lambda":
        connect_args["prepare_threshold"] = None
        pool_size = 1
    return {
        "pool_size": pool_size,
        "max_overflow": pool.max_overflow,
        "pool_timeout": pool.pool_timeout,
        "pool_recycle": pool.pool_recycle,
        "pool_pre_ping": pool.pool_pre_ping and pool.pool_pre_ping_idle_s <= 0,
        # Last in, first out: a busy server keeps reusing the connection it just returned,
        # which is never idle long enough to be pinged; in FIFO order every checkout took the
        # longest-idle connection (a table server settling 10 hands/s over a few pooled
        # connections pinged on ~half of them: 1.5 PostgreSQL transactions per hand).
        "pool_use_lifo": True,
        "connect_args": connect_args,
    }


def _ping_after_idle(engine: Engine, settings: Settings) -> Engine:
    """Pre-ping the pooled connections that were idle for `pool_pre_ping_idle_s` or more."""
    pool = settings.db
    if not pool.pool_pre_ping or pool.pool_pre_ping_idle_s <= 0:
        return engine
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_: object, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < pool.pool_pre_ping_idle_s:
            return
        # SQLAlchemy's pre-ping: False when the ping failed on a lost connection.
        if not dialect._do_ping_w_event(dbapi_connection):
            raise exc.InvalidatePoolError()

    return engine


def create_engine(settings: Settings, login: DatabaseLogin | None = None) -> AsyncEngine:
    """The asyncio engine used by the API, the functions and the table servers.

    `login` (default: ``DatabaseLogin.of(settings)``) supplies each new connection's password.
    """
    engine = create_async_engine(settings.database_url, **_engine_options(settings))
    _ping_after_idle(engine.sync_engine, settings)
    _log_in_with_current_password(engine.sync_engine, login or DatabaseLogin.of(settings))
    return engine


def create_blocking_engine(settings: Settings) -> Engine:
    """A synchronous engine, for migrations and operator commands."""
    engine = create_sync_engine(settings.database_url, **_engine_options(settings))
    _log_in_with_current_password(engine, DatabaseLogin.of(settings))
    return _ping_after_idle(engine, settings)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


class StatementPool:
    """Raw psycopg connections for hot paths that are one idempotent statement each
    (`run_idempotent`), a few column reads (`reader`), or one short transaction
    (`transaction`: the table servers' settlement of a finished hand).

    A statement run here is its own transaction (autocommit): one round trip, without the
    per-checkout work of a session and SQLAlchemy's pool (pre-ping, reset on return, events).
    On a server each connection prepares the statement once and up to ``keep`` connections
    stay open; in a Lambda nothing is prepared (RDS Proxy would pin a connection that prepared
    a statement) and ``keep`` is what `create_statement_pool` was told to keep there.

    There is no pre-ping: a kept connection found dead when used (a server restart, a
    failover) is closed and the statement sent once more on a new connection. Not knowing
    whether the first one committed is only harmless for a statement that may run twice with
    the same effect, hence the entry points: `run_idempotent`, `reader` (a read runs twice
    with the same effect), and `transaction`, which sends only its ``BEGIN`` again. Built
    without I/O: the first statement opens the first connection. Connections log in with
    `login` (a refused password is read again, as the engine's are).
    """

    def __init__(
        self, login: DatabaseLogin, *, size: int, keep: int, prepare: bool, options: str
    ) -> None:
        self._login = login
        self._keep = keep
        self.prepare = prepare
        self._options = options
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._closed = False

    async def run_idempotent(self, query: str, params: Sequence[Any]) -> tuple[Any, ...]:
        """Run one statement that is safe to repeat; return its first row."""
        async with self._slots:
            if self._idle:
                kept = self._idle.pop()
                try:
                    return await self._run(kept, query, params)
                except psycopg.OperationalError:
                    if not kept.broken:
                        raise
            return await self._run(await self.connect(), query, params)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[RowReader]:
        """A `RowReader` on one of the pool's connections for a few reads, then returned."""
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self.connect()
            reader = RowReader(self, connection)
            try:
                yield reader
            finally:
                await self._release(reader.connection)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[RawTransaction]:
        """A transaction on one of the pool's connections, committed when the block ends.

        When the block raises, the connection is closed, which rolls the transaction back. A
        kept connection found dead by the ``BEGIN`` is replaced (nothing was sent in it yet);
        a connection lost after that fails the block, which may run again only if its
        statements may (the settlement's are keyed by table and hand number).
        """
        async with self._slots:
            connection = await self._begin()
            try:
                yield RawTransaction(connection, self.prepare)
                await connection.execute("commit")
            finally:
                # After a refusal or a lost connection the transaction is not idle: closed.
                await self._release(connection)

    async def _begin(self) -> psycopg.AsyncConnection[Any]:
        if self._idle:
            kept = self._idle.pop()
            try:
                await kept.execute("begin")
                return kept
            except BaseException as error:
                await kept.close()
                if not isinstance(error, psycopg.OperationalError) or not kept.broken:
                    raise
        connection = await self.connect()
        try:
            await connection.execute("begin")
        except BaseException:
            await connection.close()
            raise
        return connection

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        """A new connection of this pool's kind (autocommit, its options), logged in with the
        current password (read again once if the server refuses it)."""
        url = self._login.url
        try:
            return await self._open(url)
        except psycopg.OperationalError as error:
            fresh = await asyncio.to_thread(self._login.replacement_for, url, error)
            if fresh is None:
                raise
        with self._login.retrying():
            return await self._open(fresh)

    async def _open(self, url: str) -> psycopg.AsyncConnection[Any]:
        connection = await psycopg.AsyncConnection.connect(
            _libpq_conninfo(url), autocommit=True, options=self._options
        )
        set_json_loads(json_loads, connection)
        return connection

    async def _run(
        self, connection: psycopg.AsyncConnection[Any], query: str, params: Sequence[Any]
    ) -> tuple[Any, ...]:
        try:
            cursor = await connection.execute(query, params, prepare=self.prepare)
            row: tuple[Any, ...] | None = await cursor.fetchone()
        finally:
            await self._release(connection)
        assert row is not None, "run_idempotent is for statements that return a row"
        return row

    async def _release(self, connection: psycopg.AsyncConnection[Any]) -> None:
        idle = connection.info.transaction_status is psycopg.pq.TransactionStatus.IDLE
        if idle and not connection.broken and not self._closed and len(self._idle) < self._keep:
            self._idle.append(connection)
        else:  # dead, left mid-statement, or not to be kept
            await connection.close()

    async def aclose(self) -> None:
        """Close the kept connections; statements still running close theirs when done."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()


def create_statement_pool(
    settings: Settings, login: DatabaseLogin | None = None, *, kept_in_lambda: int = 0
) -> StatementPool:
    """A `StatementPool` sized like the process's engine (SPEC §7), logging in with `login`
    (as the engine's); in a Lambda it keeps ``kept_in_lambda`` connections (a path used on
    most invocations keeps one, as the engine does, rather than connect on each)."""
    lambda_runtime = settings.runtime == "lambda"
    return StatementPool(
        login or DatabaseLogin.of(settings),
        size=settings.db.pool_size + settings.db.max_overflow,
        keep=kept_in_lambda if lambda_runtime else settings.db.pool_size,
        prepare=not lambda_runtime,
        options=_connect_options(settings),
    )
