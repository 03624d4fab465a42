"""PostgreSQL through psycopg 3: SQLAlchemy engines and the logins every connection makes (the
private pools of raw connections are `holdem.adapters.statement_pool`).

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
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import Engine, event, exc
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.util import await_

from holdem.adapters.secret_refs import SecretValue
from holdem.config import Settings

_IDLE_SINCE = "idle_since"

log = logging.getLogger(__name__)


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
def libpq_conninfo(url: str) -> str:
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


def connect_options(settings: Settings) -> str:
    return f"-c statement_timeout={settings.db.statement_timeout_ms}"


def _engine_options(settings: Settings) -> dict[str, Any]:
    connect_args: dict[str, Any] = {"options": connect_options(settings)}
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
