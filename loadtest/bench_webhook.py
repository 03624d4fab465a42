"""Deposit webhook benchmark: throughput and latency at 50 concurrent deliveries, and a storm.

``./dev bench webhook [--outputs N] [--concurrency C]`` starts private PostgreSQL and Redis
(or uses ``DATABASE_URL`` / ``REDIS_URL``), the gateway simulator (addresses and KRW rates)
and the deposit webhook under uvicorn in its own process, exactly as ``./dev up`` serves it.
It then sends a webhook storm — every confirmation of each chain output, duplicates, forged,
unsigned, stale, malformed and invalid deliveries, shuffled — with C deliveries in flight,
and prints deliveries/s, latency percentiles, and the counts by outcome. Afterwards it checks
that every output was credited exactly once and runs the ledger's conservation check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from decimal import Decimal

import httpx
from gateway_sim import local as gateway_sim
from gateway_sim.storm import build_storm, percentile, send_storm
from sqlalchemy import func, select

from devstack.paths import ROOT, STATE, VENV_BIN
from devstack.services import free_port
from devstack.stack import start_stores
from holdem.adapters.gateway.wiring import PaymentsRuntime
from holdem.adapters.orm.payments import Deposit
from holdem.adapters.orm.users import User
from holdem.bootstrap import bootstrap
from holdem.config import Settings
from holdem.services import deposits, ledger

SECRET = "bench-webhook-secret"
COINS = ("BTC", "ETH", "USDT", "USDC")


async def _users(runtime: PaymentsRuntime, count: int) -> dict[int, dict[str, str]]:
    container = runtime.container
    addresses: dict[int, dict[str, str]] = {}
    for _ in range(count):
        tag = uuid.uuid4().hex[:10]
        async with container.sessions() as session, session.begin():
            user = User(email=f"{tag}@bench.example", nickname=f"b{tag}", password_hash="x")
            session.add(user)
            await session.flush()
            user_id = user.id
        addresses[user_id] = {
            coin: (await deposits.deposit_address(runtime.deposits(), user_id, coin)).address
            for coin in COINS
        }
    return addresses


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def _start_webhook(settings: Settings, sim_url: str) -> tuple[subprocess.Popen[bytes], int]:
    """The deposit webhook under uvicorn in its own process, as `./dev up` serves it."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "MONEY__WEBHOOK_SECRET": SECRET,
        "MONEY__GATEWAY_BASE_URL": sim_url,
        "MONEY__UPBIT_BASE_URL": sim_url,
        "MONEY__RATE_PROVIDERS": '["upbit"]',
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "DB__POOL_SIZE": "20",
        "DB__MAX_OVERFLOW": "10",
    }
    server = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-m",
            "uvicorn",
            "functions.deposit_webhook.handler:asgi_app",
            "--port",
            str(port),
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


async def _run(args: argparse.Namespace, settings: Settings, port: int) -> None:
    container = bootstrap(settings)
    runtime = PaymentsRuntime.build(container)
    try:
        addresses = await _users(runtime, args.users)
        prices = {"BTC": Decimal(100_000_000), "ETH": Decimal(5_000_000)}
        prices |= {"USDT": Decimal(1400), "USDC": Decimal(1400)}
        storm = build_storm(SECRET, addresses, prices, outputs=args.outputs, unknown=args.unknown)
        limits = httpx.Limits(max_connections=args.concurrency)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:
            result = await send_storm(client, storm, concurrency=args.concurrency)
        lat = result.latencies_s
        print(
            f"deposit webhook storm ({args.concurrency} concurrent deliveries, one uvicorn worker)"
        )
        print(f"  delivered      {result.delivered}")
        print(f"  elapsed        {result.elapsed_s:.2f} s")
        print(f"  throughput     {result.delivered / result.elapsed_s:.0f} deliveries/s")
        for q in (0.50, 0.95, 0.99):
            print(f"  p{int(q * 100):<2} latency    {percentile(lat, q) * 1000:.1f} ms")
        print(f"  max latency    {max(lat) * 1000:.1f} ms")
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
                select(func.count()).select_from(Deposit).where(Deposit.status == "credited")
            )
            unmatched = await session.scalar(
                select(func.count()).select_from(Deposit).where(Deposit.status == "unmatched")
            )
        async with container.sessions() as session, session.begin():
            report = await ledger.conservation_report(session)
        print(
            f"  outputs        {storm.known_outputs} to our users → {credited} credited once; "
            f"{storm.unknown_outputs} to unknown addresses → {unmatched} held for review"
        )
        print(f"  ledger check   {'clean' if report.ok else report.violations}")
    finally:
        await runtime.aclose()
        await container.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench webhook")
    parser.add_argument("--outputs", type=int, default=300, help="chain outputs to our users")
    parser.add_argument("--unknown", type=int, default=20, help="outputs to unknown addresses")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=50)
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
        server, port = _start_webhook(settings, simulator.url)
        try:
            asyncio.run(_run(args, settings, port))
        finally:
            server.terminate()
            server.wait(10)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
