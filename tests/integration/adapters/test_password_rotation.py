"""A rotated database password, against a PostgreSQL that checks passwords (scram-sha-256) and
moto's Secrets Manager: the process's next new connections log in with the secret's new value,
without a restart; a password wrong in both places still fails, and says where it looked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from aws_lambda_powertools.utilities import parameters
from sqlalchemy import exc, text

from devstack.services import PostgresServer
from holdem.adapters.database import DatabaseLogin
from holdem.adapters.secret_refs import resolve_secret_references
from holdem.bootstrap import Container, bootstrap
from holdem.config import Settings

LOGIN = "rotating_login"


@pytest.fixture(scope="module")
def checked_postgres(state_dir) -> Iterator[PostgresServer]:
    """A private PostgreSQL of the project's own scripts that refuses wrong passwords."""
    server = PostgresServer(Path(state_dir) / "scram", durable=False, password="superuser-pw")
    server.start()
    try:
        yield server
    finally:
        server.remove()


def _admin(server: PostgresServer) -> psycopg.Connection:
    return psycopg.connect(server.url(driver="postgresql"), autocommit=True)


def _set_password(server: PostgresServer, password: str) -> None:
    with _admin(server) as conn:
        conn.execute(f"alter role {LOGIN} password '{password}'")


@pytest.fixture
def secret(aws, checked_postgres) -> Iterator[tuple[object, str]]:
    """The login in PostgreSQL and in its secret, both with the password ``first``."""
    parameters.clear_caches()
    with _admin(checked_postgres) as conn:
        conn.execute(f"drop role if exists {LOGIN}")
        conn.execute(f"create role {LOGIN} login password 'first'")
    client = boto3.client("secretsmanager", region_name="ap-northeast-2")
    arn = client.create_secret(
        Name="holdem-test/database-api",
        SecretString=json.dumps({"username": LOGIN, "password": "first"}),
    )["ARN"]
    yield client, arn
    client.close()
    parameters.clear_caches()


def _rotate(server: PostgresServer, secret: tuple[object, str], password: str) -> None:
    """What the hosted single-user rotation does: the user's password, then the secret."""
    client, arn = secret
    _set_password(server, password)
    client.put_secret_value(  # type: ignore[attr-defined]
        SecretId=arn, SecretString=json.dumps({"username": LOGIN, "password": password})
    )


@pytest.fixture
async def process(secret, checked_postgres, redis_url, monkeypatch) -> AsyncIterator[Container]:
    """A process started as in AWS: references resolved at start, then bootstrap()."""
    _, arn = secret
    env = {
        "DATABASE_URL": f"postgresql+psycopg://{{{{secret:{arn}#username}}}}:"
        f"{{{{secret:{arn}#password}}}}@127.0.0.1:{checked_postgres.port}/postgres",
        "REDIS_URL": redis_url,
    }
    resolve_secret_references(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.secret_references["DATABASE_URL"].startswith("postgresql+psycopg://{{secret:")
    container = bootstrap(settings)
    try:
        yield container
    finally:
        await container.aclose()


async def _who(container: Container) -> str:
    async with container.engine.connect() as conn:
        return str((await conn.execute(text("select current_user"))).scalar_one())


async def test_after_a_rotation_new_connections_use_the_new_password_without_a_restart(
    process, secret, checked_postgres
):
    held = await process.engine.connect()  # a connection open across the rotation
    assert await _who(process) == LOGIN  # a second one, back in the pool after
    _rotate(checked_postgres, secret, "second")

    async with process.engine.connect() as pooled, process.engine.connect() as new:
        # The third connection is new: refused once, the secret read again, logged in.
        opened = text("select count(*) from pg_stat_activity where usename = :login")
        assert (await new.execute(opened, {"login": LOGIN})).scalar_one() == 3
        assert (await pooled.execute(text("select current_user"))).scalar_one() == LOGIN
    assert (await held.execute(text("select 1"))).scalar_one() == 1  # open ones are untouched
    await held.close()
    (user,) = await process.statements.run_idempotent("select current_user", ())
    assert user == LOGIN  # its first connection uses the login the engine read again


async def test_the_statement_pool_reads_the_rotated_password_itself(
    process, secret, checked_postgres
):
    _rotate(checked_postgres, secret, "second")
    (user,) = await process.statements.run_idempotent("select current_user", ())
    assert user == LOGIN
    assert await _who(process) == LOGIN


async def test_a_password_wrong_in_both_places_fails_with_a_clear_error(
    process, secret, checked_postgres
):
    _, arn = secret
    _rotate(checked_postgres, secret, "second")
    _set_password(checked_postgres, "third")  # PostgreSQL and the secret disagree

    with pytest.raises(exc.OperationalError) as refused:
        await _who(process)
    assert f'password authentication failed for user "{LOGIN}"' in str(refused.value)
    assert any(arn in note for note in refused.value.orig.__notes__)  # type: ignore[union-attr]

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        await process.statements.run_idempotent("select 1", ())


def test_a_server_that_cannot_be_reached_does_not_read_the_secret():
    from holdem.adapters.secret_refs import SecretValue

    reads: list[str] = []
    url = "postgresql://u:p@127.0.0.1:1/db"
    login = DatabaseLogin(
        url, SecretValue("{{secret:arn:x#p}}", url, min_interval_s=10, fetch=reads.append)
    )
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(url, connect_timeout=2)
    assert login.replacement_for(url, refused.value) is None
    assert reads == []
