"""Benchmark of the table-server fleet: bots at many tables over two real servers.

``./dev bench edge [--tables 50] [--seats 6] [--seconds 30] [--think 0.1] [--servers 2]``
starts private PostgreSQL and Redis, two (or ``--servers 1``: one) ``python -m edge``
processes, seats bots (half JSON, half MessagePack, spread over the servers) and prints:

- hands/s and actions/s, and the table servers' CPU (% of one core) over the window;
- the messages the clients received per hand and per action (what the table servers wrote);
- action → broadcast latency p50 / p99: from a bot sending ``act`` to the same bot receiving
  the ``action`` event the owner broadcast for it (through the relay stream, the table task,
  the checkpoint and pub/sub);
- bytes per message, JSON vs MessagePack, for a snapshot, an update (event) and an action
  result, re-encoding messages actually received;
- PostgreSQL transactions per hand and per action (``pg_stat_database`` deltas over the
  steady window, against the hands and actions the bots saw);
- Redis commands per action (``INFO commandstats`` deltas over the window: every command of
  the table servers, those inside Lua scripts included);
- takeover time after SIGKILL of one server (until every table it owned has a new owner;
  two servers only);
- the reference: a bare ``websockets`` echo server's CPU per message on this machine, measured
  right after (`loadtest.echo_reference`).

``--against GIT_REF [--rounds 2]`` is the before/after of a change in one run: the table
servers of GIT_REF (its ``edge`` and ``shared/src``, extracted under ``.devstate``) and of
this tree, in alternating runs with the same bots, then each figure's median side by side.

``--think 0 --servers 1`` is the full-speed figure of one table-server process. The load
average is printed with the figures: on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
from redis.asyncio import Redis

from devstack import migrate
from devstack.paths import ROOT, STATE
from devstack.services import PostgresServer, RedisServer
from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User
from holdem.auth.tokens import issue_access_token
from holdem.bootstrap import bootstrap
from holdem.client import Bot, BotStrategy, TableClient
from holdem.config import Settings
from holdem.protocol.codec import JSON, MSGPACK
from holdem.services import ledger
from loadtest import echo_reference
from loadtest.git_ref import check_out
from loadtest.stages import redis_counters

BUY_IN = 200_000


class TimedBot(Bot):
    """A bot that measures the time from its act to the broadcast of its action."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent_at: float | None = None
        self.latencies: list[float] = []
        self.samples: dict[str, dict[str, Any]] = {}
        self.received = 0
        self.client._on_message = self._observe

    def _observe(self, message: dict[str, Any]) -> None:
        self.received += 1
        kind = message.get("type")
        if kind in ("snapshot", "result") or message.get("event") in ("action", "pots_updated"):
            self.samples.setdefault(str(message.get("event") or kind), message)
        if (
            message.get("event") == "action"
            and message.get("seat") == self.seat
            and self.sent_at is not None
        ):
            self.latencies.append(time.perf_counter() - self.sent_at)
            self.sent_at = None

    async def _act(self, hand: int, decision: int, legal: dict[str, Any]) -> None:
        if (hand, decision) not in self._decided:
            # Sent once the bot's thinking time is over.
            self.sent_at = time.perf_counter() + self.think_s
        await super()._act(hand, decision, legal)


def _start_edge(
    env: dict[str, str], name: str, state: Path, code: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    ready = state / f"{name}.ready"
    ready.unlink(missing_ok=True)
    log = (state / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge",
            "--port",
            "0",
            "--metrics-port",
            "-1",
            "--ready-file",
            str(ready),
        ],
        cwd=code,
        env={
            **os.environ,
            **env,
            "PYTHONPATH": f"{code / 'shared' / 'src'}:{code}:{ROOT / 'tools'}",
            "EDGE_WORKER_ID": name,
            "LOG_LEVEL": "WARNING",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, ready


def _read_port(ready: Path) -> int:
    deadline = time.monotonic() + 60
    while not ready.exists() or not ready.read_text().strip():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ready} never appeared")
        time.sleep(0.05)
    return int(ready.read_text().split()[0])


def _xacts(admin_url: str, database: str) -> tuple[int, int]:
    """Committed and rolled-back transactions of `database` so far."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        row = conn.execute(
            "select xact_commit, xact_rollback from pg_stat_database where datname = %s",
            (database,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _takeover(
    a: subprocess.Popen[bytes], redis_url: str, table_ids: list[int], settings: Settings
) -> None:
    """SIGKILL server a; print the time until every table it owned has a new owner."""
    redis = Redis.from_url(redis_url)
    owned_by_a = [
        t for t in table_ids if (await redis.get(f"ws:table:{t}:lease") or b"").startswith(b"a:")
    ]
    a.send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    pending = set(owned_by_a)
    while pending and time.perf_counter() - killed < 30:
        for t in list(pending):
            if (await redis.get(f"ws:table:{t}:lease") or b"").startswith(b"b:"):
                pending.discard(t)
        await asyncio.sleep(0.01)
    took = time.perf_counter() - killed
    print(
        f"takeover after SIGKILL: {len(owned_by_a) - len(pending)}/{len(owned_by_a)} "
        f"tables re-owned within {took:.2f} s (lease bound {settings.ws.table_lease_ttl_s} s)"
    )
    await redis.aclose()


async def run(args: argparse.Namespace, code: Path = ROOT) -> dict[str, float]:
    """One run with the table servers' code from `code`; prints and returns its figures."""
    state = STATE / "bench" / "edge"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    postgres = PostgresServer(state, durable=False)
    redis_server = RedisServer(state, persistent=False)
    postgres.start()
    redis_server.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        database_url = postgres.create_database("bench_edge")
        migrate.upgrade(database_url)
        secret = secrets.token_urlsafe(48)
        settings = Settings(
            database_url=database_url,
            redis_url=redis_server.url(),
            auth={"jwt_secret": secret},
            game={"between_hands_s": 0.2},
        )
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url(),
            "AUTH__JWT_SECRET": secret,
            "GAME__BETWEEN_HANDS_S": "0.2",
        }
        started = [_start_edge(env, name, state, code) for name in "ab"[: args.servers]]
        procs += [proc for proc, _ in started]
        urls = [
            f"ws://127.0.0.1:{await asyncio.to_thread(_read_port, ready)}/" for _, ready in started
        ]
        container = bootstrap(settings)
        bots: list[TimedBot] = []
        tokens: list[tuple[int, str]] = []
        table_ids: list[int] = []
        async with container.sessions() as session, session.begin():
            for t in range(args.tables):
                table = PokerTable(
                    name=f"bench{t}",
                    small_blind=1_000,
                    big_blind=2_000,
                    max_seats=args.seats,
                    min_buy_in=80_000,
                    max_buy_in=200_000,
                    rake_rate_bps=500,
                    rake_cap=6_000,
                )
                session.add(table)
                await session.flush()
                table_ids.append(table.id)
                for s in range(args.seats):
                    user = User(email=f"b{t}.{s}@bench", nickname=f"b{t}_{s}", password_hash="x")
                    session.add(user)
                    await session.flush()
                    await ledger.adjust(
                        session,
                        key=f"bench:{user.id}",
                        user_id=user.id,
                        amount=10_000_000,
                        reason="bench",
                        operator_id=user.id,
                    )
                    tokens.append(
                        (user.id, issue_access_token(user.id, "player", settings.auth)[0])
                    )
        for index, (_user, token) in enumerate(tokens):
            t, s = divmod(index, args.seats)
            # Tables alternate their first joiner (and so their owner) between the servers.
            client = TableClient(
                urls[(t + s) % len(urls)], token, encoding="msgpack" if index % 2 else "json"
            )
            await client.connect()
            bot = TimedBot(
                client,
                table_ids[t],
                seat=s,
                buy_in=BUY_IN,
                strategy=BotStrategy(seed=index),
                think_s=args.think,
            )
            await bot.sit_down()
            bots.append(bot)
        print(
            f"bench edge: {args.tables} tables x {args.seats} bots on {args.servers} server(s), "
            f"think {args.think} s, {args.seconds} s",
            flush=True,
        )
        tasks = [asyncio.create_task(bot.play()) for bot in bots]
        await asyncio.sleep(3)  # warm-up
        for bot in bots:
            bot.latencies.clear()
        hands0 = sum(len(bot.hands_seen) for bot in bots[:: args.seats])
        actions0 = sum(bot.actions for bot in bots)
        received0 = sum(bot.received for bot in bots)
        xacts0 = _xacts(postgres.url(driver="postgresql"), "bench_edge")
        redis0 = redis_counters(redis_server.url())
        servers = [psutil.Process(proc.pid) for proc in procs]
        cpu0 = [sum(p.cpu_times()[:2]) for p in servers]
        await asyncio.sleep(args.seconds)
        cpu1 = [sum(p.cpu_times()[:2]) for p in servers]
        redis1 = redis_counters(redis_server.url())
        await asyncio.sleep(0.5)  # let the last hands' settlements land
        xacts1 = _xacts(postgres.url(driver="postgresql"), "bench_edge")
        hands = sum(len(bot.hands_seen) for bot in bots[:: args.seats]) - hands0
        actions = sum(bot.actions for bot in bots) - actions0
        received = sum(bot.received for bot in bots) - received0
        latencies = [v for bot in bots for v in bot.latencies]
        load = os.getloadavg()
        print(
            f"hands completed: {hands} ({hands / args.seconds:.1f}/s), "
            f"actions: {actions} ({actions / args.seconds:.1f}/s); table server CPU "
            + ", ".join(
                f"{(c1 - c0) / args.seconds * 100:.0f}%" for c0, c1 in zip(cpu0, cpu1, strict=True)
            )
            + f" of a core; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
        )
        cpu_ms = sum(cpu1) - sum(cpu0)
        print(
            f"table server CPU per action {cpu_ms * 1000 / max(1, actions):.2f} ms, per hand "
            f"{cpu_ms * 1000 / max(1, hands):.1f} ms (-> {hands / max(cpu_ms, 1e-9):.0f} hands/s "
            "per busy core at this mix)"
        )
        print(
            f"messages to the clients: {received / max(1, hands):.0f} per hand, "
            f"{received / max(1, actions):.1f} per action (each connection gets an action's "
            "messages in one socket write)"
        )
        if latencies:
            print(
                f"action -> broadcast latency: p50 {_pct(latencies, 0.50):.1f} ms, "
                f"p95 {_pct(latencies, 0.95):.1f} ms, p99 {_pct(latencies, 0.99):.1f} ms, "
                f"mean {statistics.mean(latencies) * 1000:.1f} ms (n={len(latencies)})"
            )
        commits = xacts1[0] - xacts0[0]
        rollbacks = xacts1[1] - xacts0[1]
        print(
            f"PostgreSQL in the window: {commits} commits -> {commits / max(1, hands):.2f} per "
            f"hand, {max(0, commits - hands) / max(1, actions):.3f} per action beyond the hands'"
            f"; {rollbacks} rollbacks (pool pre-pings and read-only checks)"
        )
        calls = {name: redis1[name] - redis0.get(name, 0) for name in redis1}
        calls = {name: n for name, n in calls.items() if n > 0 and name != "info"}
        top = sorted(calls.items(), key=lambda item: -item[1])[:8]
        print(
            f"Redis in the window: {sum(calls.values())} commands -> "
            f"{sum(calls.values()) / max(1, actions):.2f} per action ("
            + ", ".join(f"{name} {n / max(1, actions):.2f}" for name, n in top)
            + ")"
        )
        samples: dict[str, dict[str, Any]] = {}
        for bot in bots:
            for name, message in bot.samples.items():
                samples.setdefault(name, message)
        print("bytes per message (JSON vs MessagePack):")
        for name in ("snapshot", "action", "pots_updated", "result"):
            if name in samples:
                js = len(JSON.encode(samples[name]).encode())
                mp = len(MSGPACK.encode(samples[name]))
                label = {
                    "action": "update (action event)",
                    "pots_updated": "update (pots)",
                    "result": "action result",
                }.get(name, name)
                print(
                    f"  {label:24s} JSON {js:5d} B   MessagePack {mp:5d} B   "
                    f"({(1 - mp / js) * 100:.0f}% smaller)"
                )
        # Takeover: SIGKILL server a; time until all its tables have a new owner.
        if args.servers == 2:
            await _takeover(procs[0], redis_server.url(), table_ids, settings)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(bot.client.close() for bot in bots), return_exceptions=True)
        await container.aclose()
        return {
            "hands/s": hands / args.seconds,
            "CPU ms/hand": cpu_ms * 1000 / max(1, hands),
            "CPU ms/action": cpu_ms * 1000 / max(1, actions),
            "server CPU %": cpu_ms / args.seconds * 100,
            "messages/hand": received / max(1, hands),
            "p50 ms": _pct(latencies, 0.50) if latencies else float("nan"),
            "p99 ms": _pct(latencies, 0.99) if latencies else float("nan"),
        }
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        redis_server.stop()
        postgres.remove()


def _against(args: argparse.Namespace) -> None:
    """This tree's table server and `args.against`'s, in alternating runs (same bots, same
    machine, same minutes), then each figure's median side by side."""
    other = check_out(args.against, ["edge", "shared/src"], "bench-edge")
    runs: dict[str, list[dict[str, float]]] = {"this tree": [], args.against: []}
    sides = [("this tree", ROOT), (args.against, other)]
    for round_no in range(1, args.rounds + 1):
        # Each side goes first every other round: a process's first run is the slowest.
        for name, code in sides if round_no % 2 else sides[::-1]:
            print(f"\n--- round {round_no}: table server of {name}")
            runs[name].append(asyncio.run(run(args, code)))
    print(
        f"\nA/B, medians of {args.rounds} runs each ({args.servers} server(s), think "
        f"{args.think} s, {args.seconds:.0f} s windows):"
    )
    names = list(runs)
    print(f"  {'':16s}" + "".join(f"{n[:18]:>20s}" for n in names) + f"{'ratio':>10s}")
    for figure in runs["this tree"][0]:
        medians = [statistics.median(r[figure] for r in runs[n]) for n in names]
        ratio = medians[0] / medians[1] if medians[1] else float("nan")
        print(f"  {figure:16s}" + "".join(f"{m:20.1f}" for m in medians) + f"{ratio:10.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench edge", description=__doc__)
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--seats", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--think", type=float, default=0.1, help="bot thinking time (s)")
    parser.add_argument("--servers", type=int, choices=(1, 2), default=2)
    parser.add_argument(
        "--against",
        metavar="GIT_REF",
        help="also run the table servers of GIT_REF, alternating runs with this tree's",
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs per side with --against")
    args = parser.parse_args(argv)
    if args.against is None:
        asyncio.run(run(args))
    else:
        _against(args)
    echo = echo_reference.measure(clients=200, seconds=5.0)
    cpu_us = echo["server_cpu_percent"] / 100 / echo["messages_per_s"] * 1e6
    print(
        f"reference, bare websockets echo server on this machine: {echo['messages_per_s']:.0f} "
        f"messages/s at {echo['server_cpu_percent']:.0f}% of a core -> {cpu_us:.0f} us of CPU "
        "per message (one frame read or written)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
