"""Fixtures for real PostgreSQL, real Redis and moto.

The servers are private to the test session (started by the project's own `devstack`
module, on free ports, with data under /dev/shm when it has room, else under `.devstate/`)
unless DATABASE_URL / REDIS_URL point at servers of your own. Each test that asks for
`database_url` gets a fresh database cloned from a migrated template; each test that asks for
`redis_url` gets an empty Redis.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis as redis_sync
from moto import mock_aws
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from devstack import migrate
from devstack.aws import FAKE_CREDENTIALS, MotoServer
from devstack.paths import STATE
from devstack.services import PostgresServer, RedisServer
from holdem.bootstrap import Container, bootstrap
from holdem.config import Settings
from tests.settings_support import TEST_AUTH

# Fake credentials before any AWS client can exist: no test ever reaches real AWS.
os.environ.update(FAKE_CREDENTIALS)
os.environ["AWS_DEFAULT_REGION"] = "ap-northeast-2"
for leaked in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(leaked, None)

TEMPLATE_DB = "holdem_test_template"


@dataclass
class PostgresForTests:
    """The session's PostgreSQL: an admin URL, and the server when we started it ourselves."""

    admin_url: str
    server: PostgresServer | None

    def url_for(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(False)

    def admin(self) -> psycopg.Connection:
        plain = make_url(self.admin_url).set(drivername="postgresql")
        return psycopg.connect(plain.render_as_string(False), autocommit=True)


RAM_DISK = Path("/dev/shm")
RAM_DISK_ROOM = 2 * 1024**3


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _session_state_dir() -> Path:
    """Where the session's servers keep their data: on the RAM disk when it has room.

    The servers are not durable (fsync off) and their data dies with the session either way;
    on disk, each test database cloned from the template costs a quarter of a second of file
    creation (ext4), in memory a hundredth. What a killed session left there is removed.
    """
    with contextlib.suppress(OSError):
        room = os.statvfs(RAM_DISK)
        if room.f_bavail * room.f_frsize >= RAM_DISK_ROOM and os.access(RAM_DISK, os.W_OK):
            for left in RAM_DISK.glob("holdem-test-*"):
                pid = left.name.removeprefix("holdem-test-")
                if left.stat().st_uid == os.getuid() and pid.isdigit() and not _pid_alive(int(pid)):
                    shutil.rmtree(left, ignore_errors=True)
            return RAM_DISK / f"holdem-test-{os.getpid()}"
    return STATE / f"test-{os.getpid()}"


@pytest.fixture(scope="session")
def state_dir() -> Iterator[os.PathLike[str]]:
    path = _session_state_dir()
    path.mkdir(parents=True, exist_ok=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(state_dir) -> Iterator[PostgresForTests]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield PostgresForTests(external, None)
        return
    server = PostgresServer(state_dir, durable=False)
    server.start()
    try:
        yield PostgresForTests(server.url("postgres"), server)
    finally:
        server.remove()


@pytest.fixture(scope="session")
def migrated_template(postgres: PostgresForTests) -> str:
    """A database with every migration applied, cloned by each test."""
    with postgres.admin() as conn:
        conn.execute(f'drop database if exists "{TEMPLATE_DB}" with (force)')
        conn.execute(f'create database "{TEMPLATE_DB}"')
    migrate.upgrade(postgres.url_for(TEMPLATE_DB))
    return TEMPLATE_DB


@pytest.fixture
def database_url(postgres: PostgresForTests, migrated_template: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with postgres.admin() as conn:
        conn.execute(f'create database "{name}" template "{migrated_template}"')
    try:
        yield postgres.url_for(name)
    finally:
        with postgres.admin() as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def redis_server(state_dir) -> Iterator[RedisServer | None]:
    if os.environ.get("REDIS_URL"):
        yield None
        return
    server = RedisServer(state_dir, persistent=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer | None) -> str:
    """An empty Redis database."""
    url = os.environ.get("REDIS_URL") or (redis_server.url() if redis_server else "")
    client = redis_sync.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """An asyncio client of this test's empty Redis database."""
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    """Settings of a process wired to this test's database and Redis."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        auth=TEST_AUTH,
        money={"webhook_secret": "test-only-webhook-secret"},
    )


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    """The adapters a process builds at start-up, closed after the test."""
    built = bootstrap(settings)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto for boto3 clients."""
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """moto's threaded server, for the processes started by tests (they reach AWS by URL)."""
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
