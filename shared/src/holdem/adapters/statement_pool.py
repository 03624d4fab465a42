"""Private pools of raw psycopg connections for one-statement paths, the table servers'
settlements and the REST API's hot column reads (`StatementPool`), and what runs on them.

A raw connection skips SQLAlchemy's session, pool and execution context: the ledger's posts
(`IdempotentStatements`), a settled hand (one statement, `StatementPool.run_idempotent_statement`;
a `RawTransaction` when the ledger refused it) and the hot reads (`RowReader`, statements built
with SQLAlchemy Core and compiled once). The connections log in like the
engines' (`holdem.adapters.database.DatabaseLogin`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

import orjson
import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import set_json_loads
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from holdem.adapters.database import DatabaseLogin, connect_options, libpq_conninfo
from holdem.config import Settings


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


def _holds_float(value: Any) -> bool:
    """Whether a parsed JSON value is or holds a float (walked without recursion: a deep
    document must not exhaust the interpreter's stack)."""
    kind = type(value)
    if kind is float:
        return True
    if kind is dict:
        pending = [value.values()]
    elif kind is list:
        pending = [value]
    else:
        return False
    while pending:
        for item in pending.pop():
            kind = type(item)
            if kind is float:
                return True
            if kind is dict:
                pending.append(item.values())
            elif kind is list:
                pending.append(item)
    return False


def json_loads(document: str | bytes) -> Any:
    """A JSON column's value as ``json.loads`` gives it, parsed by orjson (a statement's 20
    rows of metadata took ~5% of its request through the standard library's parser).

    The two parsers differ on numbers only: orjson reads an integer beyond 64 bits as a float,
    and may round a float differently at the edges (``1e400``). So a document whose orjson
    value holds a float is parsed again by the standard library (rare: amounts are strings),
    as is one that orjson refuses (what only the standard library accepts). Looking at the
    value, not the text: a pattern over the text was slower than orjson itself (~9 µs for a
    deposit's metadata), and a run of digits in a string (a transaction hash) matched it.
    """
    raw = document.encode() if isinstance(document, str) else document  # psycopg's: bytes
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(document)
    return json.loads(document) if _holds_float(value) else value


class PooledConnection(psycopg.AsyncConnection[Any]):
    """A `StatementPool` connection, with the cursor its `RowReader` reads reuse: a new cursor
    per read cost ~14 µs (a read is one query; executing again on a cursor starts afresh)."""

    _rows: psycopg.AsyncCursor[Any] | None = None

    def rows_cursor(self) -> psycopg.AsyncCursor[Any]:
        """The cursor for reads (named-tuple rows), made on first use."""
        if self._rows is None:
            self._rows = self.cursor(row_factory=namedtuple_row)
        return self._rows


class RowReader:
    """Column reads (SQLAlchemy Core selects) on one raw psycopg connection.

    A statement is compiled once for PostgreSQL and sent as SQLAlchemy would send it (same
    SQL, same parameters, same driver), so the rows hold the same values; what is spared is
    SQLAlchemy's per-query work (pool checkout and reset, execution context, result
    processing, the greenlet hop of its asyncio layer). For the read-only routes' hot
    queries; anything that maps ORM objects or writes goes through a session.
    """

    def __init__(self, pool: StatementPool, connection: PooledConnection) -> None:
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
        cursor = self.connection.rows_cursor()
        await cursor.execute(query, params, prepare=self._pool.prepare)
        return Rows(await cursor.fetchall())


class _Checkout:
    """`StatementPool.reader`'s block: a slot and a connection for a `RowReader`, both given
    back at the end (a class: an ``@asynccontextmanager`` generator cost ~2 µs more per read,
    and most API requests make one)."""

    __slots__ = ("_pool", "_reader")

    def __init__(self, pool: StatementPool) -> None:
        self._pool = pool

    async def __aenter__(self) -> RowReader:
        pool = self._pool
        await pool._slots.acquire()
        try:
            connection = pool._idle.pop() if pool._idle else await pool.connect()
        except BaseException:
            pool._slots.release()
            raise
        self._reader = RowReader(pool, connection)
        return self._reader

    async def __aexit__(self, *_: object) -> None:
        try:
            await self._pool._release(self._reader.connection)
        finally:
            self._pool._slots.release()


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


class StatementPool:
    """Raw psycopg connections for hot paths that are one idempotent statement each
    (`run_idempotent`: the ledger's posts, the table servers' settlement of a finished hand), a
    few column reads (`reader`), or one short transaction (`transaction`: a settlement whose
    post the ledger refused, run again to raise the refusal).

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
        self._idle: list[PooledConnection] = []
        self._closed = False

    async def run_idempotent(
        self, query: str, params: Sequence[Any] | Mapping[str, Any]
    ) -> tuple[Any, ...]:
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

    async def run_idempotent_statement(
        self, statement: ClauseElement, parameters: Mapping[str, Any]
    ) -> tuple[Any, ...]:
        """`run_idempotent` for a SQLAlchemy statement (compiled once, as `RowReader` sends
        one) that is safe to repeat and returns a row."""
        query, own = _sql(statement, frozenset(parameters))
        return await self.run_idempotent(query, {**own, **parameters})

    def reader(self) -> AbstractAsyncContextManager[RowReader]:
        """A `RowReader` on one of the pool's connections for a few reads, then returned."""
        return _Checkout(self)

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

    async def _begin(self) -> PooledConnection:
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

    async def connect(self) -> PooledConnection:
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

    async def _open(self, url: str) -> PooledConnection:
        connection = await PooledConnection.connect(
            libpq_conninfo(url), autocommit=True, options=self._options
        )
        set_json_loads(json_loads, connection)
        return connection

    async def _run(
        self,
        connection: PooledConnection,
        query: str,
        params: Sequence[Any] | Mapping[str, Any],
    ) -> tuple[Any, ...]:
        try:
            cursor = await connection.execute(query, params, prepare=self.prepare)
            row: tuple[Any, ...] | None = await cursor.fetchone()
        finally:
            await self._release(connection)
        assert row is not None, "run_idempotent is for statements that return a row"
        return row

    async def _release(self, connection: PooledConnection) -> None:
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
        options=connect_options(settings),
    )
