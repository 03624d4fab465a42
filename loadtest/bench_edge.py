"""Benchmark of the table-server fleet: bots at many tables over two real servers.

``./dev bench edge [--tables 50] [--seats 6] [--seconds 30] [--think 0.1] [--servers 2]``
starts private PostgreSQL and Redis, two (or ``--servers 1``: one) ``python -m edge``
processes, seats bots (half JSON, half MessagePack, spread over the servers) in processes of
their own (`loadtest.edge_bots`, ``--bot-processes``, default 2: in the benchmark's own
process they set the pace of one server) and prints:

- the idle table servers' CPU before the bots sit down (``--idle-seconds`` each): with no
  client; with every bot connected at no table (per 100 connections, beyond that); then
  joined to its table with no seat taken, so every table has an owner and no hand is dealt
  (per 100 tables, beyond the connections);
- hands/s and actions/s, and the table servers' CPU (% of one core, and how much of it in the
  kernel) over the window; CPU per action and per hand, and per action net of the idle cost
  (the window's CPU less the joined idle rate: what the actions themselves cost, the figure
  to read at human pace, ``--think 2``);
- the messages the clients received per hand and per action (what the table servers wrote);
- the bots' CPU (% of a core, all their processes) and per message received: what the load
  generator costs (the SDK, `holdem.client`, reading the table's messages and acting);
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
``--bots-against GIT_REF`` is the same for the bots: this tree's table servers, played by
bots with the SDK of GIT_REF (its ``shared/src``) and of this tree.

``--think 0 --servers 1`` is the full-speed figure of one table-server process; ``--think 2``
(about a person's pace) shows what costs per second regardless of the actions. ``--profile``
samples the table servers with py-spy over the window (it takes CPU of its own) and prints
where their time goes. The load average is printed with the figures: on a shared machine they
are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from holdem.config import Settings
from holdem.protocol.codec import JSON, MSGPACK
from holdem.services import ledger
from loadtest import echo_reference, profiling
from loadtest.git_ref import check_out
from loadtest.stages import redis_counters

MAX_CONNECTIONS = 20_000
"""The table servers' connection limit here (the default, 600, is one server's share of a
production fleet; the benchmark puts every bot on one or two)."""


_PROFILES = STATE / "bench" / "edge-profiles"
"""Where ``--profile`` keeps the raw py-spy samples (not cleared between runs)."""


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
    redis = Redis.from_url(redis_url, decode_responses=True)
    owned_by_a = [
        t for t in table_ids if str(await redis.get(f"ws:table:{t}:lease") or "").startswith("a:")
    ]
    a.send_signal(signal.SIGKILL)
    killed = time.perf_counter()
    pending = set(owned_by_a)
    while pending and time.perf_counter() - killed < 30:
        for t in list(pending):
            if str(await redis.get(f"ws:table:{t}:lease") or "").startswith("b:"):
                pending.discard(t)
        await asyncio.sleep(0.01)
    took = time.perf_counter() - killed
    print(
        f"takeover after SIGKILL: {len(owned_by_a) - len(pending)}/{len(owned_by_a)} "
        f"tables re-owned within {took:.2f} s (lease bound {settings.ws.table_lease_ttl_s} s)"
    )
    await redis.aclose()


async def _start_bots(
    args: argparse.Namespace,
    urls: list[str],
    tokens: list[tuple[int, str]],
    table_ids: list[int],
    code: Path,
    workers: list[asyncio.subprocess.Process],
) -> None:
    """Start `args.bot_processes` `loadtest.edge_bots` workers (whole tables each, the SDK
    of `code`) and wait until every bot is connected (at no table yet)."""
    shares: list[list[Any]] = [[] for _ in range(min(args.bot_processes, args.tables))]
    for index, (_user, token) in enumerate(tokens):
        t, s = divmod(index, args.seats)
        # Tables alternate their first joiner (and so their owner) between the servers.
        server = (t + s) % len(urls)
        encoding = "msgpack" if index % 2 else "json"
        shares[t % len(shares)].append([token, table_ids[t], s, server, encoding])
    for number, bots in enumerate(shares):
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "loadtest.edge_bots",
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": f"{code / 'shared' / 'src'}:{ROOT}:{ROOT / 'tools'}"},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,  # a MARK's line carries every latency of the window
        )
        workers.append(worker)
        spec = {"urls": urls, "think_s": args.think, "seed": number * 100_000, "bots": bots}
        assert worker.stdin is not None
        worker.stdin.write(json.dumps(spec).encode() + b"\n")
    await _expect(workers, "CONNECTED")


async def _expect(workers: list[asyncio.subprocess.Process], word: str) -> None:
    """Wait for every bot worker's line saying `word` (it reached that step)."""
    for worker in workers:
        assert worker.stdout is not None
        line = await worker.stdout.readline()
        if line.strip() != word.encode():
            raise RuntimeError(f"a bot worker did not say {word}: {line!r}")


def _tell(workers: list[asyncio.subprocess.Process], line: str) -> None:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(line.encode() + b"\n")


def _cpu_s(procs: list[psutil.Process]) -> tuple[float, float]:
    """CPU seconds the processes used so far: (user + system, system)."""
    times = [p.cpu_times() for p in procs]
    return sum(t.user + t.system for t in times), sum(t.system for t in times)


async def _idle_cpu(servers: list[psutil.Process], seconds: float) -> float:
    """The table servers' CPU (% of a core, all of them) over `seconds`, after a settling
    second."""
    await asyncio.sleep(1.0)
    before, _ = _cpu_s(servers)
    await asyncio.sleep(seconds)
    after, _ = _cpu_s(servers)
    return (after - before) / seconds * 100


async def _ask(workers: list[asyncio.subprocess.Process], line: str) -> list[dict[str, Any]]:
    """Send `line` to every bot worker; their one-line JSON answers."""
    _tell(workers, line)
    answers = []
    for worker in workers:
        assert worker.stdout is not None
        answers.append(json.loads(await worker.stdout.readline()))
    return answers


async def _mark(workers: list[asyncio.subprocess.Process]) -> dict[str, Any]:
    """The bots' counters so far, summed, and their latencies since the last mark."""
    answers = await _ask(workers, "MARK")
    total: dict[str, Any] = {
        name: sum(a[name] for a in answers) for name in ("hands", "actions", "received")
    }
    total["latencies"] = [v for a in answers for v in a["latencies"]]
    return total


async def _stop(workers: list[asyncio.subprocess.Process]) -> None:
    _tell(workers, "STOP")
    for worker in workers:
        try:
            async with asyncio.timeout(10):
                await worker.wait()
        except TimeoutError:
            worker.kill()
            await worker.wait()


async def run(
    args: argparse.Namespace, code: Path = ROOT, bots_code: Path = ROOT
) -> dict[str, float]:
    """One run with the table servers' code from `code` and the bots' SDK from `bots_code`;
    prints and returns its figures."""
    state = STATE / "bench" / "edge"
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    postgres = PostgresServer(state, durable=False)
    redis_server = RedisServer(state, persistent=False)
    postgres.start()
    redis_server.start()
    procs: list[subprocess.Popen[bytes]] = []
    workers: list[asyncio.subprocess.Process] = []
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
            "WS__MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        }
        started = [_start_edge(env, name, state, code) for name in "ab"[: args.servers]]
        procs += [proc for proc, _ in started]
        urls = [
            f"ws://127.0.0.1:{await asyncio.to_thread(_read_port, ready)}/" for _, ready in started
        ]
        container = bootstrap(settings)
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
        servers = [psutil.Process(proc.pid) for proc in procs[: args.servers]]
        idle_none = idle_conns = idle_tables = float("nan")
        if args.idle_seconds > 0:
            idle_none = await _idle_cpu(servers, args.idle_seconds)
        await _start_bots(args, urls, tokens, table_ids, bots_code, workers)
        print(
            f"bench edge: {args.tables} tables x {args.seats} bots on {args.servers} server(s), "
            f"think {args.think} s, {args.seconds} s; the bots in {len(workers)} processes of "
            f"their own{'' if bots_code == ROOT else f' (SDK of {bots_code.name})'}",
            flush=True,
        )
        if args.idle_seconds > 0:
            idle_conns = await _idle_cpu(servers, args.idle_seconds)
        _tell(workers, "JOIN")
        await _expect(workers, "JOINED")
        if args.idle_seconds > 0:
            idle_tables = await _idle_cpu(servers, args.idle_seconds)
            bots = len(tokens)
            print(
                f"idle table servers: no client {idle_none:.1f}% of a core; {bots} connections "
                f"at no table {idle_conns:.1f}% ({(idle_conns - idle_none) * 100 / bots:.2f}% "
                f"per 100 connections); joined to {args.tables} tables, no hand dealt, "
                f"{idle_tables:.1f}% ({(idle_tables - idle_conns) * 100 / args.tables:.2f}% "
                "per 100 tables beyond the connections)"
            )
        _tell(workers, "SIT")
        await _expect(workers, "READY")
        await asyncio.sleep(3)  # warm-up
        mark0 = await _mark(workers)
        xacts0 = _xacts(postgres.url(driver="postgresql"), "bench_edge")
        redis0 = redis_counters(redis_server.url())
        bot_procs = [psutil.Process(worker.pid) for worker in workers]
        cpu0 = [_cpu_s([p]) for p in servers]
        bots_cpu0, _ = _cpu_s(bot_procs)
        if args.profile:
            _PROFILES.mkdir(parents=True, exist_ok=True)
        profiles = (
            profiling.record(
                {p.pid: f"{code.name}-{name}" for p, name in zip(servers, "ab", strict=False)},
                args.seconds,
                _PROFILES,
            )
            if args.profile
            else []
        )
        await asyncio.sleep(args.seconds)
        cpu1 = [_cpu_s([p]) for p in servers]
        bots_cpu1, _ = _cpu_s(bot_procs)
        redis1 = redis_counters(redis_server.url())
        mark1 = await _mark(workers)
        await asyncio.sleep(0.5)  # let the last hands' settlements land
        xacts1 = _xacts(postgres.url(driver="postgresql"), "bench_edge")
        hands = mark1["hands"] - mark0["hands"]
        actions = mark1["actions"] - mark0["actions"]
        received = mark1["received"] - mark0["received"]
        latencies = mark1["latencies"]
        load = os.getloadavg()
        cpu_ms = sum(c1[0] - c0[0] for c0, c1 in zip(cpu0, cpu1, strict=True))
        system = sum(c1[1] - c0[1] for c0, c1 in zip(cpu0, cpu1, strict=True))
        print(
            f"hands completed: {hands} ({hands / args.seconds:.1f}/s), "
            f"actions: {actions} ({actions / args.seconds:.1f}/s); table server CPU "
            + ", ".join(
                f"{(c1[0] - c0[0]) / args.seconds * 100:.0f}%"
                for c0, c1 in zip(cpu0, cpu1, strict=True)
            )
            + f" of a core ({system / max(cpu_ms, 1e-9) * 100:.0f}% of it in the kernel); "
            f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
        )
        net_ms = (cpu_ms - idle_tables / 100 * args.seconds) * 1000 / max(1, actions)
        print(
            f"table server CPU per action {cpu_ms * 1000 / max(1, actions):.2f} ms, per hand "
            f"{cpu_ms * 1000 / max(1, hands):.1f} ms (-> {hands / max(cpu_ms, 1e-9):.0f} hands/s "
            f"per busy core at this mix); per action net of the idle cost {net_ms:.2f} ms"
        )
        for path in profiling.finish(profiles):
            summary = profiling.summarise(path)
            print(f"profile {path} ({summary['samples']} samples), self / inclusive:")
            for (own, share), (name, inclusive) in zip(
                summary["self"], summary["inclusive"], strict=True
            ):
                print(f"  {share * 100:5.1f}% {own[:60]:60s} {inclusive * 100:5.1f}% {name[:60]}")
        print(
            f"messages to the clients: {received / max(1, hands):.0f} per hand, "
            f"{received / max(1, actions):.1f} per action (each connection gets an action's "
            "messages in one socket write)"
        )
        bots_cpu = bots_cpu1 - bots_cpu0
        print(
            f"bots: {bots_cpu / args.seconds * 100:.0f}% of a core in {len(workers)} processes "
            f"-> {bots_cpu * 1e6 / max(1, received):.1f} us of CPU per message received, "
            f"{bots_cpu * 1000 / max(1, actions):.2f} ms per action"
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
        samples = await _ask(workers, "SAMPLES")
        for answer in samples[1:]:
            for name, message in answer.items():
                samples[0].setdefault(name, message)
        print("bytes per message (JSON vs MessagePack):")
        for name in ("snapshot", "action", "pots_updated", "result"):
            if name in samples[0]:
                text = JSON.encode(samples[0][name])
                js = len(text.encode() if isinstance(text, str) else text)
                mp = len(MSGPACK.encode(samples[0][name]))
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
        await _stop(workers)
        await container.aclose()
        return {
            "hands/s": hands / args.seconds,
            "CPU ms/hand": cpu_ms * 1000 / max(1, hands),
            "CPU ms/action": cpu_ms * 1000 / max(1, actions),
            "net ms/action": net_ms,
            "idle % no client": idle_none,
            "idle %/100 conns": (idle_conns - idle_none) * 100 / len(tokens),
            "idle %/100 tables": (idle_tables - idle_conns) * 100 / args.tables,
            "server CPU %": cpu_ms / args.seconds * 100,
            "messages/hand": received / max(1, hands),
            "p50 ms": _pct(latencies, 0.50) if latencies else float("nan"),
            "p99 ms": _pct(latencies, 0.99) if latencies else float("nan"),
            "bots CPU %": bots_cpu / args.seconds * 100,
            "bots us/message": bots_cpu * 1e6 / max(1, received),
        }
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        redis_server.stop()
        postgres.remove()


def _against(args: argparse.Namespace) -> None:
    """This tree's table server and `args.against`'s (or this tree's bots and the bots of
    `args.bots_against`: its SDK, `holdem.client`), in alternating runs (same machine, same
    minutes), then each figure's median side by side."""
    if args.against is not None:
        ref, what = args.against, "table server"
        other = check_out(ref, ["edge", "shared/src"], "bench-edge")
        sides = [("this tree", ROOT, ROOT), (ref, other, ROOT)]
    else:
        ref, what = args.bots_against, "bots"
        other = check_out(ref, ["shared/src"], "bench-edge-bots")
        sides = [("this tree", ROOT, ROOT), (ref, ROOT, other)]
    runs: dict[str, list[dict[str, float]]] = {"this tree": [], ref: []}
    for round_no in range(1, args.rounds + 1):
        # Each side goes first every other round: a process's first run is the slowest.
        for name, code, bots_code in sides if round_no % 2 else sides[::-1]:
            print(f"\n--- round {round_no}: {what} of {name}")
            runs[name].append(asyncio.run(run(args, code, bots_code)))
    print(
        f"\nA/B of the {what}, medians of {args.rounds} runs each ({args.servers} server(s), "
        f"think {args.think} s, {args.seconds:.0f} s windows):"
    )
    names = list(runs)
    print(f"  {'':16s}" + "".join(f"{n[:18]:>20s}" for n in names) + f"{'ratio':>10s}")
    for figure in runs["this tree"][0]:
        medians = [statistics.median(r[figure] for r in runs[n]) for n in names]
        ratio = medians[0] / medians[1] if medians[1] else float("nan")
        print(f"  {figure:16s}" + "".join(f"{m:20.2f}" for m in medians) + f"{ratio:10.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev bench edge", description=__doc__)
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--seats", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--think", type=float, default=0.1, help="bot thinking time (s)")
    parser.add_argument("--servers", type=int, choices=(1, 2), default=2)
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=10.0,
        help="each idle window before the bots sit down (connected; joined); 0: none",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the table servers over the window"
    )
    parser.add_argument(
        "--against",
        metavar="GIT_REF",
        help="also run the table servers of GIT_REF, alternating runs with this tree's",
    )
    parser.add_argument(
        "--bots-against",
        metavar="GIT_REF",
        help="also run the bots with the SDK (holdem.client) of GIT_REF, alternating runs with "
        "this tree's (the table servers are this tree's)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs per side with --against / --bots-against"
    )
    parser.add_argument(
        "--bot-processes",
        type=int,
        default=2,
        help="processes the bots run in (whole tables each), none of them the benchmark's",
    )
    args = parser.parse_args(argv)
    if args.against is not None and args.bots_against is not None:
        parser.error("--against and --bots-against compare one thing at a time")
    if args.against is None and args.bots_against is None:
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
