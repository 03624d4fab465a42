"""Benchmark of the ledger's hand settlement against pgbench, on one durable PostgreSQL.

``./dev bench ledger [--seconds N] [--rounds R]`` prints settle-hand transactions per second
(6 players plus rake, durable commits: fsync and synchronous_commit on) at 1 and 4
connections, and in the same run ``pgbench -N`` (the simple-update TPC-B-like script) at 1 and
4 clients on the same server, as the physical reference; the 4-connection / 4-client pair is
measured R times (3), alternating, and the median ratio is the verdict. Target: settle-hand
at 4 connections ≥ 50% of ``pgbench -N`` at 4 clients.

Each connection settles hands of its own table through the public API,
``LedgerService.settle_hand`` (one prepared ``ledger_post`` call on a connection of the
process's `StatementPool`), with the production settings; the connections are spread
over one worker process per CPU, each a uvloop event loop (as table servers run).
With ``DATABASE_URL`` unset it starts a private durable server under ``.devstate/bench-ledger``;
with it set, it uses that server (creating the databases ``bench_ledger`` and ``bench_pgbench``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import subprocess
import time
from contextlib import ExitStack
from decimal import Decimal
from multiprocessing.synchronize import Event
from typing import Any

import psycopg
import uvloop
from sqlalchemy import text
from sqlalchemy.engine import make_url

from devstack import migrate
from devstack.paths import STATE
from devstack.services import PostgresServer
from devstack.system import postgres_binaries
from holdem.bootstrap import Container, bootstrap
from holdem.config import Settings
from holdem.ledger.transactions import settlement_legs
from holdem.services.ledger import LedgerService
from holdem.services.ledger.posting import legs_json

PLAYERS = 6
BUY_IN = 10**12


def _settings(url: str, connections: int = 1) -> Settings:
    return Settings(database_url=url, db={"pool_size": connections, "max_overflow": 0})


async def seat_bench_table(
    container: Container, service: LedgerService, label: str, stack: int
) -> tuple[int, list[int]]:
    """A new table and six new players, each funded with `stack` won and bought in with it
    (`label` keeps their names apart from other runs')."""
    async with container.sessions.begin() as session:
        table = (
            await session.execute(
                text(
                    "insert into poker_tables (name, small_blind, big_blind, max_seats,"
                    " min_buy_in, max_buy_in, rake_rate_bps, rake_cap) values"
                    " ('bench', 1000, 2000, 6, 80000, 200000, 500, 6000) returning id"
                )
            )
        ).scalar_one()
        users = [
            (
                await session.execute(
                    text(
                        "insert into users (email, nickname, password_hash)"
                        " values (:e, :n, 'x') returning id"
                    ),
                    {"e": f"{label}-{p}@bench", "n": f"{label}-{p}"},
                )
            ).scalar_one()
            for p in range(PLAYERS)
        ]
    for user in users:
        await service.credit_deposit(
            key=f"bench:{label}:{user}",
            user_id=user,
            amount=stack,
            coin="USDT",
            crypto_amount=Decimal(stack) / 1500,
            rate_krw=Decimal(1500),
            tx_hash=f"bench{label}{user}",
            address="0xbench",
        )
        await service.buy_in(
            key=f"bench:{label}:{user}:in", user_id=user, table_id=table, amount=stack
        )
    return table, users


async def _prepare(url: str, tables: int) -> list[tuple[int, list[int]]]:
    """Tables of six funded, seated players: one table per connection."""
    container = bootstrap(_settings(url))
    stamp = time.time_ns()
    try:
        return [
            await seat_bench_table(container, container.ledger, f"b{stamp}-{t}", BUY_IN)
            for t in range(tables)
        ]
    finally:
        await container.aclose()


def _nets(users: list[int], hand: int) -> tuple[dict[int, int], int]:
    """Everyone loses 2,000 but the winner, who takes the pot minus a 500 rake."""
    winner = users[hand % len(users)]
    nets = {user: -2_000 for user in users if user != winner}
    rake = 500
    nets[winner] = 2_000 * (len(users) - 1) - rake
    return nets, rake


async def _table_loop(
    service: LedgerService, table: int, users: list[int], began: float, seconds: float, hand: int
) -> tuple[int, list[float]]:
    done, latencies = 0, []
    deadline = began + seconds
    while (now := time.perf_counter()) < deadline:
        hand += 1
        nets, rake = _nets(users, hand)
        posted = await service.settle_hand(
            table_id=table, hand_id=hand, fencing_token=1, nets=nets, rake=rake
        )
        latencies.append(time.perf_counter() - now)
        assert not posted.replayed, "a benchmark hand must be settled, not replayed"
        done += 1
    return done, latencies


async def _settle_tables(
    url: str, tables: list[tuple[int, list[int]]], seconds: float, start: Event
) -> tuple[int, float, list[float]]:
    """One process, one asyncio task and one pooled connection per table."""
    container = bootstrap(_settings(url, len(tables)))
    service = container.ledger
    base = time.time_ns() // 1000  # hand ids never seen before at these tables: no replays
    try:
        for hand in range(base, base + 20):  # warm up: connections, plans
            for table, users in tables:
                nets, rake = _nets(users, hand)
                await service.settle_hand(
                    table_id=table, hand_id=hand, fencing_token=1, nets=nets, rake=rake
                )
        await asyncio.to_thread(start.wait)
        began = time.perf_counter()
        results = await asyncio.gather(
            *(
                _table_loop(service, table, users, began, seconds, base + 1_000)
                for table, users in tables
            )
        )
        spent = time.perf_counter() - began
    finally:
        await container.aclose()
    return sum(d for d, _ in results), spent, [x for _, lat in results for x in lat]


def _worker(
    url: str, tables: list[tuple[int, list[int]]], seconds: float, start: Event, out: Any
) -> None:
    # uvloop, as the table servers that settle hands run (edge/__main__.py): the default
    # loop costs the client ~15% more CPU per settlement, taken from PostgreSQL on 2 cores.
    out.put(uvloop.run(_settle_tables(url, tables, seconds, start)))


def settle_rate(url: str, seated: list[tuple[int, list[int]]], seconds: float) -> dict[str, float]:
    """Hands settled per second, one connection per table, all started together.

    The tables are spread over one worker process per CPU (as table servers would run),
    each settling its tables concurrently on its own uvloop event loop.
    """
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    workers = max(1, min(len(seated), os.cpu_count() or 1))
    shares = [seated[n::workers] for n in range(workers)]
    procs = [
        ctx.Process(target=_worker, args=(url, share, seconds, start, out)) for share in shares
    ]
    for proc in procs:
        proc.start()
    time.sleep(3.0)  # let every worker connect and warm up before the clock starts
    start.set()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    total = sum(done for done, _, _ in results)
    elapsed = max(spent for _, spent, _ in results)
    latencies = sorted(x for _, _, lat in results for x in lat)
    return {
        "tps": total / elapsed,
        "processes": workers,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def pgbench_tps(pgbench: str, url: str, clients: int, seconds: float) -> float:
    argv = [pgbench, "-N", "-n", "-c", str(clients), "-j", str(min(clients, 2))]
    argv += ["-T", str(max(1, round(seconds))), url]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    found = re.search(r"tps = ([\d.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


def pgbench_ledger_post(
    pgbench: str, url: str, seated: list[tuple[int, list[int]]], seconds: float
) -> float:
    """The database's own capacity: the same settlements sent by pgbench, no Python client.

    Client n settles hands at the n-th table, as the worker processes do, with the legs
    built by the same code as `LedgerService.settle_hand`.
    """
    tables, legs = [], []
    for client, (table, users) in enumerate(seated):
        nets, rake = _nets(users, 1)
        encoded = legs_json(settlement_legs(table, nets, rake)).replace("'", "''")
        tables.append(f"when {client} then {table}")
        legs.append(f"when {client} then '{encoded}'")
    table_of = f"(case :client_id {' '.join(tables)} end)"
    script = (
        "\\set n random(1, 1000000000)\n"
        "select ledger_post('hand_settlement', "
        "'pgbench:' || :client_id || ':' || :n || ':' || random(), repeat('0', 64), "
        f"'{{\"rake\":500}}', null, {table_of}, :n, null, {table_of}, 1, "
        f"(case :client_id {' '.join(legs)} end)::jsonb);\n"
    )
    path = STATE / "bench-ledger" / "ledger_post.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    argv = [pgbench, "-n", "-c", str(len(seated)), "-j", str(min(len(seated), 2))]
    argv += ["-T", str(max(1, round(seconds))), "-f", str(path), _plain(url)]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    found = re.search(r"tps = ([\d.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def _recreate(admin_url: str, name: str) -> str:
    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(False)


def _durability(url: str) -> str:
    with psycopg.connect(_plain(url)) as conn:
        values = [
            conn.execute(f"show {name}").fetchone()
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        ]
    return ", ".join(
        f"{n}={v[0] if v else '?'}"
        for n, v in zip(("fsync", "synchronous_commit", "full_page_writes"), values, strict=True)
    )


def _settle_line(label: str, f: dict[str, float]) -> str:
    return (
        f"{label} {f['tps']:>9,.0f} tx/s   ({f['processes']:.0f} process(es))"
        f"   p50 {f['p50_ms']:.2f} ms  p99 {f['p99_ms']:.2f} ms"
    )


def run(seconds: float = 10.0, rounds: int = 3) -> None:
    """Print the figures.

    The ratio the target is about (settle_hand at 4 connections / pgbench -N at 4 clients) is
    measured in `rounds` alternating pairs and its median is the verdict: on a shared virtual
    machine the speed of the same code drifts by ±15% from one minute to the next, and two
    figures taken once, apart, moved the ratio by as much.
    """
    binaries = postgres_binaries()
    if binaries.pgbench is None:
        raise SystemExit("pgbench is not installed (it comes with the PostgreSQL server)")
    pgbench = str(binaries.pgbench)
    with ExitStack() as stack:
        admin = os.environ.get("DATABASE_URL")
        if not admin:
            server = PostgresServer(STATE / "bench-ledger", durable=True)
            server.start()
            stack.callback(server.remove)
            admin = server.url("postgres")
        ledger_url = _recreate(admin, "bench_ledger")
        migrate.upgrade(ledger_url)
        pgbench_url = _plain(_recreate(admin, "bench_pgbench"))
        subprocess.run(
            [pgbench, "-i", "-q", "-s", "4", pgbench_url], capture_output=True, check=True
        )
        print(f"ledger benchmark: {_durability(ledger_url)}; {os.cpu_count()} CPU(s)")
        print(f"  load average at the start: {_load()}")
        print(f"  each figure: {seconds:.0f} s; settle = 6 seats + rake, one transaction each")
        seated = asyncio.run(_prepare(ledger_url, 4))
        single = settle_rate(ledger_url, seated[:1], seconds)
        print(_settle_line("  settle_hand, 1 connection ", single))
        one_client = pgbench_tps(pgbench, pgbench_url, 1, seconds)
        print(f"  pgbench -N, 1 client        {one_client:>9,.0f} tps")
        print(f"  4 connections / 4 clients, {rounds} alternating rounds:")
        ratios, references = [], []
        for n in range(1, rounds + 1):
            settled = settle_rate(ledger_url, seated, seconds)
            reference = pgbench_tps(pgbench, pgbench_url, 4, seconds)
            ratios.append(settled["tps"] / reference)
            references.append(reference)
            print(
                _settle_line(f"    round {n}: settle_hand", settled)
                + f"   pgbench -N {reference:,.0f} tps   ratio {ratios[-1]:.0%}"
            )
        database_only = pgbench_ledger_post(pgbench, ledger_url, seated, seconds)
        print(
            f"  ledger_post via pgbench, 4 clients     {database_only:>9,.0f} tx/s"
            f"   (the database alone: {database_only / statistics.median(references):.0%}"
            " of the median pgbench -N)"
        )
        ratio = statistics.median(ratios)
        verdict = "met" if ratio >= 0.5 else "NOT met"
        print(
            f"  settle_hand at 4 / pgbench -N at 4     {ratio:>9.0%}  median of"
            f" {', '.join(f'{r:.0%}' for r in ratios)}  (target ≥ 50%: {verdict})"
        )
        report = asyncio.run(_check(ledger_url))
        print(f"  ledger check after the run: {'OK' if report else 'VIOLATIONS'}")
        print(f"  load average at the end: {_load()}")


def _load() -> str:
    """The machine's 1/5/15-minute load averages: figures measured under load are noisy."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _check(url: str) -> bool:
    container = bootstrap(_settings(url))
    try:
        return (await container.ledger.conservation_report()).ok
    finally:
        await container.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each figure")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating 4-connection / pgbench pairs"
    )
    args = parser.parse_args()
    run(args.seconds, max(1, args.rounds))


if __name__ == "__main__":
    main()
