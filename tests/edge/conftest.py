"""Fixtures for the table servers: real servers (in this process or as subprocesses) on free
ports, real clients, users with tokens, tables, all on this test's PostgreSQL and Redis.

Timings are short through settings (never by patching code): a 1.5 s action clock, no
time bank, 50 ms between hands, a 1.5 s takeover bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.paths import ROOT
from devstack.template import as_login, load_template, table_server_login
from edge.server import EdgeServer
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.auth.tokens import issue_access_token
from holdem.bootstrap import bootstrap
from holdem.client import TableClient
from holdem.config import Settings
from tests.protocol_models import problems

_numbers = itertools.count(1)

FAST = {
    "ws": {"table_lease_ttl_s": 1.5, "worker_heartbeat_interval_s": 0.5, "shutdown_drain_s": 20},
    "game": {"action_clock_s": 1.5, "time_bank_s": 0.0, "between_hands_s": 0.05},
}


def fast_settings(base: Settings, **overrides: dict) -> Settings:
    data = base.model_dump()
    for group, values in {**FAST, **overrides}.items():
        data[group] = {**data[group], **values}
    return Settings(**data)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess read the same settings."""
    env = {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "AUTH__JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": f"{ROOT / 'shared' / 'src'}:{ROOT}:{ROOT / 'tools'}",
    }
    for group in ("ws", "game"):
        for name, value in getattr(settings, group).model_dump().items():
            env[f"{group.upper()}__{name.upper()}"] = str(value)
    return env


@contextlib.asynccontextmanager
async def bounded(what: str, wait_s: float = 60.0) -> AsyncIterator[None]:
    """Fail a teardown that does not finish in `wait_s`, showing where every task waits
    (instead of the whole test's timeout with only the event loop's frame to show)."""
    try:
        async with asyncio.timeout(wait_s):
            yield
    except TimeoutError:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        pytest.fail(f"{what} took over {wait_s} s; the tasks:\n{stacks.getvalue()}")


TABLE_SERVER_LOGIN = table_server_login(load_template(ROOT / "template.yaml"))


@pytest.fixture
def table_server_database_url(database_url) -> str:
    """This test's database as the table servers reach it in production: logged in as their
    login of template.yaml (migration 0010, a member of holdem_table_server), so a grant the
    servers need and the role lacks fails here. Fixtures that seed data keep the owner's."""
    return as_login(database_url, TABLE_SERVER_LOGIN)


@pytest.fixture
def edge_settings(settings: Settings, table_server_database_url: str) -> Settings:
    return fast_settings(settings.model_copy(update={"database_url": table_server_database_url}))


@dataclass
class Player:
    user_id: int
    token: str


@pytest.fixture
def make_players(container, edge_settings) -> Callable[[int], asyncio.Future]:
    async def make(count: int) -> list[Player]:
        players = []
        async with container.sessions() as session, session.begin():
            rows = []
            for _ in range(count):
                n = next(_numbers)
                row = User(email=f"p{n}@example.com", nickname=f"p{n}", password_hash="x")
                session.add(row)
                rows.append(row)
            await session.flush()
            for row in rows:
                token, _ = issue_access_token(row.id, "player", edge_settings.auth)
                players.append(Player(row.id, token))
        return players

    return make


@pytest.fixture
def make_table(container) -> Callable[..., asyncio.Future]:
    async def make(seats: int = 6, small_blind: int = 1_000, big_blind: int = 2_000) -> int:
        async with container.sessions() as session, session.begin():
            row = PokerTable(
                name=f"t{next(_numbers)}",
                small_blind=small_blind,
                big_blind=big_blind,
                max_seats=seats,
                min_buy_in=40 * big_blind,
                max_buy_in=100 * big_blind,
                rake_rate_bps=500,
                rake_cap=3 * big_blind,
            )
            session.add(row)
            await session.flush()
            return row.id

    return make


@pytest.fixture
async def start_edge(edge_settings) -> AsyncIterator[Callable[..., asyncio.Future]]:
    """Start in-process table servers (each with its own adapters); all closed at the end."""
    started: list[tuple[EdgeServer, object]] = []

    async def start(settings: Settings | None = None) -> EdgeServer:
        container = bootstrap(settings or edge_settings)
        server = EdgeServer(container, host="127.0.0.1", port=0)
        await server.start()
        started.append((server, container))
        return server

    yield start
    async with bounded("closing the table servers"):
        for server, container in reversed(started):
            await server.close()
            await container.aclose()


def url_of(server: EdgeServer) -> str:
    return f"ws://127.0.0.1:{server.port}/"


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., TableClient]]:
    """Client factory; every client is closed at the end.

    Every message a client receives is checked against the protocol reference
    (`holdem.protocol.outgoing`, which docs/protocol.md and docs/asyncapi.yaml are checked
    against): a field the server sends that the reference lacks fails the test.
    """
    made: list[TableClient] = []
    wrong: list[str] = []

    def make(url: str, token: str, **kwargs) -> TableClient:
        observe = kwargs.pop("on_message", None)

        def check(message: dict) -> None:
            wrong.extend(problems(message)[:3])
            if observe is not None:
                observe(message)

        client = TableClient(url, token, on_message=check, **kwargs)
        made.append(client)
        return client

    yield make
    async with bounded("closing the clients"):
        for client in made:
            await client.close()
    assert not wrong, "messages that disagree with the protocol reference:\n" + "\n".join(
        wrong[:20]
    )


class EdgeProcess:
    """`python -m edge` as a subprocess, for SIGKILL / SIGTERM tests."""

    def __init__(self, settings: Settings, tmp: Path, name: str) -> None:
        self.ready = tmp / f"{name}.ready"
        self.log = tmp / f"{name}.log"
        env = {**os.environ, **settings_env(settings), "EDGE_WORKER_ID": name}
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "--port",
                "0",
                "--metrics-port",
                "0",
                "--ready-file",
                str(self.ready),
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.port = 0
        self.metrics_port = 0

    async def wait_ready(self, wait_s: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while not self.ready.exists() or not self.ready.read_text().strip():
            if self.proc.poll() is not None:
                raise RuntimeError(f"edge exited: {self.log.read_text()[-3000:]}")
            if loop.time() > deadline:
                raise TimeoutError(self.log.read_text()[-3000:])
            await asyncio.sleep(0.05)
        port, metrics = self.ready.read_text().split()
        self.port, self.metrics_port = int(port), int(metrics)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log_file.close()


@pytest.fixture
def edge_processes(edge_settings, tmp_path) -> Iterator[Callable[..., EdgeProcess]]:
    made: list[EdgeProcess] = []

    def start(name: str, settings: Settings | None = None) -> EdgeProcess:
        process = EdgeProcess(settings or edge_settings, tmp_path, name)
        made.append(process)
        return process

    yield start
    for process in made:
        process.stop()


@pytest.fixture
def fund(container) -> Callable[..., asyncio.Future]:
    """Credit wallets through the ledger (an operator adjustment)."""
    from holdem.services import ledger

    async def credit(user_ids: list[int], amount: int) -> None:
        async with container.sessions() as session, session.begin():
            for user_id in user_ids:
                await ledger.adjust(
                    session,
                    key=f"test-fund:{user_id}:{next(_numbers)}",
                    user_id=user_id,
                    amount=amount,
                    reason="test funds",
                    operator_id=user_id,
                )

    return credit


async def ledger_report(container):
    """The ledger's conservation check (what `./dev ledger check` runs) and player totals."""
    from holdem.services import ledger

    async with container.sessions() as session, session.begin():
        return await ledger.conservation_report(SqlTransaction(session))


async def assert_every_won_kept(container, user_ids: list[int], funds: int) -> None:
    """The ledger is clean, and the players' money plus the house's rake is what they were
    funded with (each `funds`): no won made or lost by play or by a fault."""
    from holdem.services import ledger

    # One snapshot: the table servers may still settle a hand (players timing out) between
    # two separate reads, moving its rake from the players to the house.
    async with container.sessions() as session, session.begin():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        report = await ledger.conservation_report(SqlTransaction(session))
        players = sum([(await ledger.balances(SqlLedgerReads(session), u)).total for u in user_ids])
    assert report.ok, report.violations
    assert players + report.totals.rake == len(user_ids) * funds
