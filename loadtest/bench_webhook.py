"""Deposit webhook benchmark: one delivery phase by phase, the Lambda cold path, and a storm.

``./dev bench webhook [--outputs N] [--concurrency C] [--workers W]`` starts private
PostgreSQL and Redis (or uses ``DATABASE_URL`` / ``REDIS_URL``), the gateway simulator
(addresses and KRW rates) and the deposit webhook under uvicorn in its own process (W worker
processes, default 1), as ``./dev up`` serves it. It first times one delivery at a time,
phase by phase (signature, rates, each database path, notifier), and the Lambda entry point
in a fresh process (import, first delivery, warm deliveries). It then sends a webhook storm —
every confirmation of each chain output, duplicates, forged, unsigned, stale, malformed and
invalid deliveries, shuffled — with C deliveries in flight, and prints deliveries/s, latency
percentiles, the webhook's CPU time and PostgreSQL's commits and WAL syncs per delivery, the
load average, and the counts by outcome. Afterwards it checks that every output was credited
exactly once and runs the ledger's conservation check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from decimal import Decimal

import httpx
import psutil
from gateway_sim import local as gateway_sim
from gateway_sim.app import deliveries
from gateway_sim.storm import build_storm, percentile, send_storm
from sqlalchemy import func, select, text

from devstack.paths import ROOT, STATE, VENV_BIN
from devstack.services import free_port
from devstack.stack import start_stores
from holdem.adapters.orm.payments import Deposit
from holdem.adapters.orm.users import User
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import Container, bootstrap
from holdem.config import Settings
from holdem.services import deposits, ledger
from holdem.services.notifications import Notice, NoticeKind

SECRET = "bench-webhook-secret"
COINS = ("BTC", "ETH", "USDT", "USDC")


async def _users(container: Container, count: int) -> dict[int, dict[str, str]]:
    addresses: dict[int, dict[str, str]] = {}
    for _ in range(count):
        tag = uuid.uuid4().hex[:10]
        async with container.sessions() as session, session.begin():
            user = User(email=f"{tag}@bench.example", nickname=f"b{tag}", password_hash="x")
            session.add(user)
            await session.flush()
            user_id = user.id
        addresses[user_id] = {
            coin: (await deposits.deposit_address(container.deposits(), user_id, coin)).address
            for coin in COINS
        }
    return addresses


async def _timed(step: Callable[[int], Awaitable[object]], runs: int) -> float:
    """Median milliseconds of `runs` sequential calls of `step(i)`."""
    times = []
    for i in range(runs):
        started = time.perf_counter()
        await step(i)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _phases(container: Container, address: str) -> None:
    """One delivery, phase by phase (sequential, nothing else running in this process)."""
    deps = container.deposits()
    notices = [
        deliveries(SECRET, address=address, coin="BTC", amount="0.001", tx_hash=f"{i:064x}")
        for i in range(1, 41)
    ]
    first = notices[0][1]
    now = deps.clock()
    sig = first.headers["x-nowpayments-sig"]
    rows: list[tuple[str, float]] = []
    rows.append(
        (
            "signature + validation",
            await _timed(
                lambda i: _async(deposits.parse_notice, first.body, sig, deps.money, now), 500
            ),
        )
    )

    async def cold_rate(i: int) -> object:
        await container.redis.delete("rates:krw:BTC")
        return await container.rates.rate("BTC")

    rows.append(("rate, provider (cache empty)", await _timed(cold_rate, 20)))
    rows.append(("rate, Redis cache", await _timed(lambda i: container.rates.rate("BTC"), 200)))

    def deliver(n: int) -> Callable[[int], Awaitable[object]]:
        def step(i: int) -> Awaitable[object]:
            d = notices[i][n]
            return deposits.receive_notice(deps, d.body, d.headers["x-nowpayments-sig"])

        return step

    rows.append(("DB: first notice (insert, pending)", await _timed(deliver(1), 40)))
    rows.append(("DB: duplicate notice", await _timed(deliver(1), 40)))
    rows.append(("DB: confirming notice (pending)", await _timed(deliver(2), 40)))
    rows.append(("DB: final notice (ledger credit)", await _timed(deliver(3), 40)))
    credited = Notice(1, NoticeKind.DEPOSIT_CREDITED, {"amount_krw": 100_000})
    rows.append(
        ("notifier (live publish)", await _timed(lambda i: deps.notifier.notify(credited), 100))
    )
    print("one delivery, phase by phase (median ms, one at a time, this process)")
    for name, ms in rows:
        print(f"  {name:<36} {ms:8.3f} ms")


async def _async(fn: Callable[..., object], *args: object) -> object:
    return fn(*args)


def _webhook_env(settings: Settings, sim_url: str) -> dict[str, str]:
    """The environment of a webhook process: this run's stores, secret and simulator."""
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "MONEY__WEBHOOK_SECRET": SECRET,
        "MONEY__GATEWAY_BASE_URL": sim_url,
        "MONEY__UPBIT_BASE_URL": sim_url,
        "MONEY__RATE_PROVIDERS": '["upbit"]',
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def _cold_lambda(settings: Settings, sim_url: str, address: str) -> None:
    """The Lambda entry point in a fresh process: import, first delivery, warm deliveries."""
    batch = deliveries(SECRET, address=address, coin="BTC", amount="0.002", tx_hash="c0" * 32)
    events = [
        {"body": d.body.decode(), "headers": d.headers, "isBase64Encoded": False} for d in batch
    ]
    script = (
        "import json, sys, time\n"
        "t0 = time.perf_counter()\n"
        "from functions.deposit_webhook.handler import handler\n"
        "t1 = time.perf_counter()\n"
        "events = json.loads(sys.stdin.read())\n"
        "times = []\n"
        "for e in events:\n"
        "    s = time.perf_counter(); r = handler(e, None); times.append(time.perf_counter() - s)\n"
        "    assert r['statusCode'] < 300, r\n"
        "print(json.dumps([t1 - t0, *times]))\n"
    )
    env = {**_webhook_env(settings, sim_url), "RUNTIME": "lambda"}
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-c", script],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    imported, first, *warm = json.loads(done.stdout.strip().splitlines()[-1])
    print("Lambda entry point in a fresh process (RUNTIME=lambda: one kept connection)")
    print(f"  import of the handler module          {imported * 1000:8.1f} ms")
    print(f"  first delivery (bootstrap, connect)   {first * 1000:8.1f} ms")
    print(f"  warm deliveries, median               {statistics.median(warm) * 1000:8.1f} ms")


def _cpu_s(server: psutil.Process) -> float:
    """User + system CPU seconds of the webhook server and its worker processes."""
    processes = [server, *server.children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in processes)


async def _db_counters(container: Container) -> tuple[int, int]:
    """PostgreSQL's transaction commits (this database) and WAL syncs (the server) so far."""
    async with container.engine.connect() as conn:
        commits = await conn.scalar(
            text("select xact_commit from pg_stat_database where datname = current_database()")
        )
        syncs = await conn.scalar(text("select wal_sync from pg_stat_wal"))
    return int(commits or 0), int(syncs or 0)


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _start_webhook(
    settings: Settings, sim_url: str, workers: int
) -> tuple[subprocess.Popen[bytes], int]:
    """The deposit webhook under uvicorn in its own process, as `./dev up` serves it."""
    port = free_port()
    env = {**_webhook_env(settings, sim_url), "DB__POOL_SIZE": "20", "DB__MAX_OVERFLOW": "10"}
    server = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-m",
            "uvicorn",
            "functions.deposit_webhook.handler:asgi_app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--timeout-keep-alive",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    _wait_http(f"http://127.0.0.1:{port}/")
    return server, port


async def _run(
    args: argparse.Namespace, settings: Settings, port: int, sim_url: str, server_pid: int
) -> None:
    container = bootstrap(settings)
    try:
        addresses = await _users(container, args.users)
        spare = await _users(container, 1)
        address = next(iter(spare.values()))["BTC"]
        await _phases(container, address)
        _cold_lambda(settings, sim_url, address)
        prices = {"BTC": Decimal(100_000_000), "ETH": Decimal(5_000_000)}
        prices |= {"USDT": Decimal(1400), "USDC": Decimal(1400)}
        storm = build_storm(SECRET, addresses, prices, outputs=args.outputs, unknown=args.unknown)
        limits = httpx.Limits(max_connections=args.concurrency)
        server = psutil.Process(server_pid)
        cpu_before = _cpu_s(server)
        db_before = await _db_counters(container)
        load_before = os.getloadavg()
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:
            result = await send_storm(client, storm, concurrency=args.concurrency)
        load_after = os.getloadavg()
        cpu_s = _cpu_s(server) - cpu_before
        db_after = await _db_counters(container)
        lat = result.latencies_s
        print(
            f"deposit webhook storm ({args.concurrency} concurrent deliveries, "
            f"{args.workers} uvicorn worker{'s' if args.workers > 1 else ''})"
        )
        print(
            f"  load average   {load_before[0]:.2f} before, {load_after[0]:.2f} after "
            f"(1 min; {os.cpu_count()} cores)"
        )
        print(f"  delivered      {result.delivered}")
        print(f"  elapsed        {result.elapsed_s:.2f} s")
        print(f"  throughput     {result.delivered / result.elapsed_s:.0f} deliveries/s")
        for q in (0.50, 0.95, 0.99):
            print(f"  p{int(q * 100):<2} latency    {percentile(lat, q) * 1000:.1f} ms")
        print(f"  max latency    {max(lat) * 1000:.1f} ms")
        per = 1000 / result.delivered
        commits, syncs = (after - before for after, before in zip(db_after, db_before, strict=True))
        print(f"  webhook CPU    {cpu_s * per:.2f} ms per delivery (process CPU time, any load)")
        print(
            f"  PostgreSQL     {commits * per / 1000:.2f} commits, "
            f"{syncs * per / 1000:.2f} WAL syncs per delivery"
        )
        by_outcome: Counter[str] = Counter()
        for (_kind, status, code), n in result.by_kind_status.items():
            by_outcome[f"{status} {code}"] += n
        print("  by outcome (HTTP status, code):")
        for key, n in sorted(by_outcome.items()):
            print(f"    {key:<28} {n}")
        by_kind: Counter[str] = Counter()
        for (kind, _status, _code), n in result.by_kind_status.items():
            by_kind[kind] += n
        print(
            "  by delivery kind sent: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items()))
        )
        async with container.sessions() as session:
            credited = await session.scalar(
                select(func.count())
                .select_from(Deposit)
                .where(Deposit.status == "credited", Deposit.user_id.in_(list(addresses)))
            )
            unmatched = await session.scalar(
                select(func.count()).select_from(Deposit).where(Deposit.status == "unmatched")
            )
        async with container.sessions() as session, session.begin():
            report = await ledger.conservation_report(SqlTransaction(session))
        print(
            f"  outputs        {storm.known_outputs} to our users → {credited} credited once; "
            f"{storm.unknown_outputs} to unknown addresses → {unmatched} held for review"
        )
        print(f"  ledger check   {'clean' if report.ok else report.violations}")
    finally:
        await container.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench webhook")
    parser.add_argument("--outputs", type=int, default=300, help="chain outputs to our users")
    parser.add_argument("--unknown", type=int, default=20, help="outputs to unknown addresses")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    with ExitStack() as stop:
        database_url, redis_url = start_stores(
            stop,
            STATE / "bench-webhook",
            database=f"bench_{uuid.uuid4().hex[:8]}",
            durable=True,
            keep_data=False,
        )
        simulator = gateway_sim.start(SECRET)
        stop.callback(simulator.stop)
        settings = Settings(
            database_url=database_url,
            redis_url=redis_url,
            money={
                "webhook_secret": SECRET,
                "gateway_base_url": simulator.url,
                "upbit_base_url": simulator.url,
                "rate_providers": ["upbit"],
            },
        )
        server, port = _start_webhook(settings, simulator.url, args.workers)
        try:
            asyncio.run(_run(args, settings, port, simulator.url, server.pid))
        finally:
            server.terminate()
            server.wait(10)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
