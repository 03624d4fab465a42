"""The load-test driver: starts the local stack, runs stages of the bot swarm, measures.

    ./dev loadtest --players 500 [--pace human|full] [--duration 60]
    ./dev loadtest --staged [--stages 100,200,300,400,500,1000,2000,5000]

The stack is the one of `./dev up` (`devstack.stack.local_stack`, the template's functions
behind the local HTTP gateway, table servers from `devstack.edge_fleet`), with the limits a
load test from one address needs raised (see `LOAD_ENV`). Every stage runs on a freshly
started stack (`--staged` runs each stage in a process of its own; Redis is emptied, the
durable PostgreSQL keeps users and the ledger). The driver opens fresh tables (6-max and
9-max alternately), starts swarm worker processes, waits until every bot sat down, then
measures a window of `--duration` seconds:

- latencies and counts from the bots (`loadtest.swarm`);
- PostgreSQL ``xact_commit`` and completed ``hands`` rows (deltas over the window);
- Redis ``INFO commandstats`` calls (delta);
- CPU and memory of every process of the stack (psutil, by role) and the load average.

It writes ``results.json``, ``report.md``, PNG plots and ``stack.log`` to
``loadtest/results/<time>/``, and runs ``./dev ledger check`` on the database at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import redis

from devstack.paths import ROOT, STATE, VENV_BIN
from loadtest import profiling

PYTHON = str(VENV_BIN / "python")
RESULTS = ROOT / "loadtest" / "results"
STAGES = [100, 200, 300, 400, 500, 1000, 2000, 5000]
SMALL_BLIND, BIG_BLIND = 100, 200
BUY_IN = 100 * BIG_BLIND
PACES = {"human": "uniform:1,3", "full": "none"}
SETUP_CONCURRENCY = 100  # bots setting up at once, in all workers of a stage
SETUP_AUTH_CONCURRENCY = 12  # of which logging in or registering (password hashes) at once

# A load test comes from one address with thousands of players: the per-address limits
# (anonymous routes, registration and login) and the per-server connection cap (600 by
# default, the sizing of a small Fargate task) are raised. The bots of one stage sit again
# in the next one within minutes, at tables whose maximum buy-in is their buy-in: the rathole
# rule's minimum is capped at the table's maximum (an operator's setting), or a bot that
# left a winner could not sit again. Nothing else of the stack changes.
LOAD_ENV = {
    "RATE_LIMITS__DEFAULT_PER_MINUTE": "1000000",
    "RATE_LIMITS__REGISTER_PER_MINUTE": "1000000",
    "RATE_LIMITS__LOGIN_PER_MINUTE": "1000000",
    "WS__MAX_CONNECTIONS": "20000",
    "GAME__RATHOLE_CAPPED_AT_MAX_BUY_IN": "true",
    "LOG_LEVEL": "WARNING",
}


# ---------------------------------------------------------------------------- the stack


@dataclass
class RunningStack:
    api_url: str
    sim_url: str
    ws_urls: list[str]
    database_url: str
    redis_url: str


@contextlib.contextmanager
def load_stack(
    servers: int, extra_env: dict[str, str], api_environments: int = 2
) -> Iterator[RunningStack]:
    """`./dev up`'s stack (same code), with `LOAD_ENV` and `extra_env` applied and
    `api_environments` execution environments for the REST API."""
    from devstack.edge_fleet import start_edge_fleet
    from devstack.functions_host import start_functions
    from devstack.monitoring import MetricsPorts
    from devstack.services import free_port
    from devstack.stack import local_stack
    from devstack.supervisor import Supervisor

    supervisor = Supervisor()
    with local_stack(os.environ.get("LOADTEST_STACK", "loadtest")) as stack:
        running = None
        try:
            stack.env.update({**LOAD_ENV, **extra_env})
            flushed = redis.Redis.from_url(stack.redis_url)
            flushed.flushall()
            flushed.close()
            _verify_sender(stack.aws_endpoint_url)
            api_port = free_port()
            api_url = f"http://127.0.0.1:{api_port}"
            stack.env["MONEY__DEPOSIT_CALLBACK_URL"] = f"{api_url}/api/v1/wallet/webhook/deposit"
            running = start_functions(
                stack, supervisor, api_port, http_concurrency=api_environments
            )
            # Free metrics ports: a load test may run beside a `./dev up` on the fixed ones.
            lines = start_edge_fleet(stack, supervisor, servers, 0, MetricsPorts(0))
            ws_urls = [m.group(0) for line in lines if (m := re.search(r"ws://\S+/", line))]
            yield RunningStack(
                api_url,
                stack.env["MONEY__GATEWAY_BASE_URL"],
                ws_urls,
                stack.database_url,
                stack.redis_url,
            )
        finally:
            if running is not None:
                running.close()
            supervisor.stop_all()


def _verify_sender(endpoint_url: str) -> None:
    """moto's SES refuses unverified senders: verify the notifier's (as an operator does)."""
    import boto3

    from devstack.stack import REGION

    ses = boto3.client("ses", endpoint_url=endpoint_url, region_name=REGION)
    ses.verify_email_identity(EmailAddress="no-reply@holdem.example")


def _pg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def open_tables(database_url: str, players: int, run: str) -> list[tuple[int, int, int]]:
    """Fresh open tables for `players` (6-max and 9-max alternately); (bot, table, seat)."""
    sizes: list[int] = []
    while sum(sizes) < players:
        sizes.append(6 if len(sizes) % 2 == 0 else 9)
    # No table of one: the last table takes at least two players.
    if sum(sizes) - players > sizes[-1] - 2:
        sizes[-1] = max(2, players - sum(sizes[:-1]))
    layout = []
    with psycopg.connect(_pg_url(database_url), autocommit=True) as conn:
        bot = 0
        for n, size in enumerate(sizes):
            table_id = conn.execute(
                "INSERT INTO poker_tables (name, small_blind, big_blind, max_seats, min_buy_in,"
                " max_buy_in, rake_rate_bps, rake_cap, status) VALUES"
                " (%s, %s, %s, %s, %s, %s, 500, %s, 'open') RETURNING id",
                (
                    f"Load {run} #{n + 1} ({size}-max)",
                    SMALL_BLIND,
                    BIG_BLIND,
                    6 if size <= 6 else 9,
                    40 * BIG_BLIND,
                    100 * BIG_BLIND,
                    3 * BIG_BLIND,
                ),
            ).fetchone()[0]  # type: ignore[index]
            for seat in range(size):
                if bot < players:
                    layout.append((bot, int(table_id), seat))
                    bot += 1
    return layout


# ---------------------------------------------------------------------------- counters


def pg_counters(database_url: str) -> dict[str, int]:
    with psycopg.connect(_pg_url(database_url), autocommit=True) as conn:
        commits, rollbacks = conn.execute(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()  # type: ignore[misc]
        hands = conn.execute("SELECT count(*) FROM hands").fetchone()[0]  # type: ignore[index]
    return {"xact_commit": int(commits), "xact_rollback": int(rollbacks), "hands": int(hands)}


def redis_counters(redis_url: str) -> dict[str, int]:
    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


ROLES = [
    ("table servers", re.compile(r"-m edge\b")),
    ("API functions", re.compile(r"devstack\.lambda_runtime")),
    ("API gateway", re.compile(r"devstack\.http_routes")),
    ("bots", re.compile(r"loadtest\.swarm")),
    ("PostgreSQL", re.compile(r"^postgres")),
    ("Redis", re.compile(r"redis-server")),
    ("moto", re.compile(r"moto")),
]


def _role(process: psutil.Process) -> str | None:
    try:
        cmdline = " ".join(process.cmdline()) or process.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    for role, pattern in ROLES:
        if pattern.search(cmdline):
            return role
    return None


def process_sample() -> dict[int, tuple[str, float, int]]:
    """pid -> (role, CPU seconds so far, RSS bytes) for the driver and its descendants."""
    me = psutil.Process()
    found: dict[int, tuple[str, float, int]] = {}
    for process in [me, *me.children(recursive=True)]:
        role = "driver (+ gateway simulator)" if process.pid == me.pid else _role(process)
        if role is None:
            continue
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            times = process.cpu_times()
            found[process.pid] = (role, times.user + times.system, process.memory_info().rss)
    return found


class ProcessMonitor:
    """CPU (percent of one core) and peak memory by role, over a window; load average."""

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.start: dict[int, tuple[str, float, int]] = {}
        self.last: dict[int, tuple[str, float, int]] = {}
        self.peak_rss: dict[str, int] = {}
        self.load: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessMonitor:
        self.started = time.monotonic()
        self.start = process_sample()
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        sample = process_sample()
        for pid, entry in sample.items():
            self.last[pid] = entry
        rss: dict[str, int] = {}
        for role, _, size in sample.values():
            rss[role] = rss.get(role, 0) + size
        for role, size in rss.items():
            self.peak_rss[role] = max(self.peak_rss.get(role, 0), size)
        self.load.append(os.getloadavg())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.elapsed = time.monotonic() - self.started

    def summary(self) -> dict[str, Any]:
        cpu: dict[str, float] = {}
        for pid, (role, seconds, _) in self.last.items():
            before = self.start.get(pid, (role, 0.0, 0))[1]
            cpu[role] = cpu.get(role, 0.0) + max(0.0, seconds - before)
        return {
            "cpu_percent": {role: 100 * s / self.elapsed for role, s in sorted(cpu.items())},
            "peak_rss_mb": {role: b / 2**20 for role, b in sorted(self.peak_rss.items())},
            "load_avg_1m_max": max((x[0] for x in self.load), default=0.0),
            "load_avg_end": list(self.load[-1]) if self.load else [],
        }


# ---------------------------------------------------------------------------- one stage


def run_stage(
    stack: RunningStack,
    players: int,
    *,
    pace: str,
    think: str,
    duration: float,
    rest_gap: float,
    folder: Path,
    bots_per_worker: int = 600,
    profile: tuple[str, ...] = (),
    code: Path = ROOT,
) -> dict[str, Any]:
    """One stage of `players` bots; `profile` names the roles to py-spy (``table servers``,
    ``bots``), `code` the tree whose swarm (``loadtest`` and ``shared/src``) the bots run."""
    run = time.strftime("%H%M%S")
    layout = open_tables(stack.database_url, players, run)
    # Several bot processes (one event loop each): one loop for thousands of sockets lags, and
    # its lag is added to every latency the bots measure and makes them late to act.
    workers = max(1, math.ceil(players / bots_per_worker))
    # Whole tables per worker (the layout is in table order): an action's messages to a
    # table's players wake one process, not several, and the table's board openings are
    # verified once per process (the SDK remembers verified openings).
    share = math.ceil(len(layout) / workers)
    # Bots keep their refresh tokens between stages and runs, as an app does.
    tokens = _merged_tokens(STATE / os.environ.get("LOADTEST_STACK", "loadtest") / "bot-tokens")
    procs = []
    for w in range(workers):
        spec = {
            "api_url": stack.api_url,
            "sim_url": stack.sim_url,
            "ws_urls": stack.ws_urls,
            "buy_in": BUY_IN,
            "think": think,
            "rest_gap_s": rest_gap,
            "duration_s": duration,
            "bots": layout[w * share : (w + 1) * share],
            # The set-up's bounds are the stage's, shared by its workers: logins hash
            # passwords (argon2id, two at a time per API environment).
            "auth_concurrency": math.ceil(SETUP_AUTH_CONCURRENCY / workers),
            "setup_concurrency": math.ceil(SETUP_CONCURRENCY / workers),
            "result_path": str(folder / f"stage-{players}-{pace}-w{w}.json"),
            "token_files": [str(tokens / "kept.json")],
            "token_file": str(tokens / f"new-{time.time_ns()}-w{w}.json"),
        }
        path = folder / f"stage-{players}-{pace}-w{w}.spec.json"
        path.write_text(json.dumps(spec))
        env = {**os.environ}
        if code != ROOT:
            env["PYTHONPATH"] = f"{code / 'shared' / 'src'}:{code}:{ROOT / 'tools'}"
        procs.append(
            subprocess.Popen(
                [PYTHON, "-m", "loadtest.swarm", "--spec", str(path)],
                cwd=code,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    try:
        return _measure(stack, procs, players, pace, think, duration, folder, profile)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _measure(
    stack: RunningStack,
    procs: list[subprocess.Popen[str]],
    players: int,
    pace: str,
    think: str,
    duration: float,
    folder: Path,
    profile: tuple[str, ...],
) -> dict[str, Any]:
    ready = []
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"swarm worker failed during set-up: {line!r}")
        ready.append(json.loads(line[6:]))
    pg_before, redis_before = pg_counters(stack.database_url), redis_counters(stack.redis_url)
    with ProcessMonitor() as monitor:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("GO\n")
            proc.stdin.flush()
        profiles = None
        if profile:
            names = {"table servers": "edge", "bots": "bots"}
            pids = {
                pid: f"{names.get(role, role)}-{players}"
                for pid, (role, _, _) in monitor.start.items()
                if role in profile
            }
            profiles = profiling.record(pids, max(1.0, duration - 2), folder)
        time.sleep(duration)
        pg_after, redis_after = pg_counters(stack.database_url), redis_counters(stack.redis_url)
    profile_summaries = {}
    if profiles is not None:
        for path in profiling.finish(profiles):
            profile_summaries[path.name] = profiling.summarise(path)
    results = []
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        proc.wait(timeout=300)
        if not line.startswith("RESULT "):
            raise RuntimeError(f"swarm worker ended without a result: {line!r}")
        results.append(json.loads(Path(line[7:].strip()).read_text()))
    summary = summarise(
        players, pace, think, duration, ready, results, monitor, pg_before, pg_after,
        redis_before, redis_after,
    )  # fmt: skip
    if profile_summaries:
        summary["profiles"] = profile_summaries
    return summary


def _merged_tokens(folder: Path) -> Path:
    """Fold the refresh tokens the last stage's workers kept into ``kept.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    kept_path = folder / "kept.json"
    kept: dict[str, str] = json.loads(kept_path.read_text()) if kept_path.exists() else {}
    newer = sorted(folder.glob("new-*.json"))
    for path in newer:
        with contextlib.suppress(ValueError):
            kept.update(json.loads(path.read_text()))
    kept_path.write_text(json.dumps(kept))
    kept_path.chmod(0o600)
    for path in newer:
        path.unlink()
    return folder


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    top = ordered[-1]
    return {"n": len(ordered), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": top}


def summarise(
    players: int,
    pace: str,
    think: str,
    duration: float,
    ready: list[dict[str, Any]],
    results: list[dict[str, Any]],
    monitor: ProcessMonitor,
    pg_before: dict[str, int],
    pg_after: dict[str, int],
    redis_before: dict[str, int],
    redis_after: dict[str, int],
) -> dict[str, Any]:
    ack = [x for r in results for x in r["ack_ms"]]
    broadcast = [x for r in results for x in r["broadcast_ms"]]
    rest: dict[str, list[float]] = {}
    for r in results:
        for name, values in r["rest_ms"].items():
            rest.setdefault(name, []).extend(values)
    errors: dict[str, int] = {}
    setup_errors: dict[str, int] = {}
    for r in results:
        for code, n in r["errors"].items():
            errors[code] = errors.get(code, 0) + n
    for r in ready:
        for code, n in r["setup_errors"].items():
            setup_errors[code] = setup_errors.get(code, 0) + n
    size: dict[str, list[int]] = {}
    for r in results:
        for kind, (count, total) in r["bytes_by_kind"].items():
            slot = size.setdefault(kind, [0, 0])
            slot[0] += count
            slot[1] += total
    window = max(r["window_s"] for r in results)
    actions = sum(r["actions"] for r in results)
    hands = pg_after["hands"] - pg_before["hands"]
    commits = pg_after["xact_commit"] - pg_before["xact_commit"]
    redis_calls = sum(redis_after.values()) - sum(redis_before.values())
    by_command = {
        name: redis_after[name] - redis_before.get(name, 0)
        for name in redis_after
        if redis_after[name] - redis_before.get(name, 0) > 0
    }
    rest_calls = sum(len(v) for v in rest.values())
    return {
        "players": players,
        "pace": pace,
        "think": think,
        "duration_s": duration,
        "window_s": window,
        "seated": sum(r["seated"] for r in ready),
        "ramp_s": max(r["ramp_s"] for r in ready),
        "setup_errors": setup_errors,
        "ack_ms": percentiles(ack),
        "broadcast_ms": percentiles(broadcast),
        "rest_ms": {name: percentiles(v) for name, v in sorted(rest.items())},
        "rest_per_s": rest_calls / window,
        "rest_status": {k: v for r in results for k, v in r["rest_status"].items()},
        "actions": actions,
        "actions_per_s": actions / window,
        "hands": hands,
        "hands_per_s": hands / window,
        "errors": errors,
        "error_count": sum(errors.values()),
        "dropped": sum(r["dropped"] for r in results),
        "messages_received": sum(r["messages"] for r in results),
        "messages_per_s": sum(r["messages"] for r in results) / window,
        # The SDK's check of every card opening the bots were shown (the whole stage).
        "openings": {
            verdict: sum(r["openings"][verdict] for r in results if "openings" in r)
            for verdict in ("verified", "failed")
        },
        "bytes_by_kind": {
            k: {"count": c, "mean_bytes": t / c} for k, (c, t) in sorted(size.items())
        },
        "pg_commits": commits,
        "pg_commits_per_hand": commits / hands if hands else None,
        "pg_rollbacks": pg_after["xact_rollback"] - pg_before["xact_rollback"],
        "redis_calls": redis_calls,
        "redis_calls_per_action": redis_calls / actions if actions else None,
        "redis_top_commands": dict(sorted(by_command.items(), key=lambda kv: -kv[1])[:12]),
        **monitor.summary(),
    }


# ---------------------------------------------------------------------------- the run


def ledger_check(database_url: str) -> dict[str, Any]:
    """`./dev ledger check` on the stack's database after the stages (conservation)."""
    done = subprocess.run(
        [PYTHON, "-m", "devstack", "ledger", "check"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    return {"ok": done.returncode == 0, "output": (done.stdout + done.stderr).strip()}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_avg_at_start": list(os.getloadavg()),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def quiet_stack(log: Path) -> Any:
    """Send this process's and its children's output to `log`; returns the console."""
    console = os.fdopen(os.dup(1), "w")
    handle = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)
    return console


def api_environments(players: int) -> int:
    """REST API execution environments for a stage. Lambda serves one request at a time per
    environment and scales out with concurrent requests; two (`./dev up`'s) queue the REST
    mix of 2,000 players (a call per 20 s each). One per 750 players: 2 up to 1,500, 3 at
    2,000, at most 6 (5,000)."""
    return max(2, min(6, math.ceil(players / 750)))


def stage_env(pace: str, between: float) -> dict[str, str]:
    """Settings of a stage: the pause between hands; at full speed, no per-socket message
    rate limit (a bot with no think time sends faster than the 20/s a human never reaches)."""
    env = {"GAME__BETWEEN_HANDS_S": str(between)}
    if pace == "full":
        env.update({"WS__MESSAGES_PER_SECOND": "100000", "WS__MESSAGE_BURST": "100000"})
    return env


def _one_stage(
    args: argparse.Namespace, players: int, think: str, between: float, folder: Path
) -> dict[str, Any]:
    """Start a stack, run one stage on it, optionally check the ledger; stop the stack."""
    environments = api_environments(players)
    with load_stack(args.servers, stage_env(args.pace, between), environments) as stack:
        try:
            stage = run_stage(
                stack,
                players,
                pace=args.pace,
                think=think,
                duration=args.duration,
                rest_gap=args.rest_gap,
                folder=folder,
                profile=("table servers",) if args.profile else (),
            )
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            stage = {"players": players, "pace": args.pace, "failed": str(exc)}
        if args.ledger_check:
            time.sleep(3)  # the last cash-outs settle
            stage["ledger_check"] = ledger_check(stack.database_url)
    return stage


def _stage_in_child(
    args: argparse.Namespace, players: int, folder: Path, last: bool, console: Any
) -> dict[str, Any]:
    """One stage in a process of its own: a fresh stack (moto's state lives in-process)."""
    argv = [PYTHON, "-m", "loadtest.stages", "--players", str(players), "--stage-only"]
    argv += ["--out", str(folder), "--log", str(folder / "stack.log"), "--pace", args.pace]
    argv += ["--duration", str(args.duration), "--rest-gap", str(args.rest_gap)]
    argv += ["--servers", str(args.servers)]
    if args.think:
        argv += ["--think", args.think]
    if args.between_hands is not None:
        argv += ["--between-hands", str(args.between_hands)]
    if args.profile:
        argv.append("--profile")
    if last or args.stop_when_broken:
        argv.append("--ledger-check")
    subprocess.run(argv, cwd=ROOT, stdout=console, stderr=console, check=False)
    path = folder / f"stage-{players}.summary.json"
    if not path.exists():
        return {"players": players, "pace": args.pace, "failed": "the stage's process failed"}
    stage: dict[str, Any] = json.loads(path.read_text())
    return stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev loadtest", description=__doc__)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--players", type=int, help="run one stage with N players")
    what.add_argument("--staged", action="store_true", help="run the stages one after another")
    parser.add_argument("--stages", default=",".join(map(str, STAGES)), help="for --staged")
    parser.add_argument("--pace", choices=sorted(PACES), default="human")
    parser.add_argument("--think", help="think time: uniform:A,B | lognormal:MEDIAN,SIGMA | none")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds a stage")
    parser.add_argument("--rest-gap", type=float, default=20.0, help="mean s between REST calls")
    parser.add_argument("--servers", type=int, default=2, help="table-server processes")
    parser.add_argument(
        "--between-hands", type=float, help="GAME__BETWEEN_HANDS_S (default: 2 human, 0 full)"
    )
    parser.add_argument("--echo-clients", type=int, default=200, help="echo reference clients")
    parser.add_argument("--echo-seconds", type=float, default=5.0, help="echo reference length")
    parser.add_argument("--log", help="the stack's output (default <results>/stack.log)")
    parser.add_argument("--stop-when-broken", action="store_true", help="stop after a failed stage")
    parser.add_argument("--profile", action="store_true", help="py-spy the table servers")
    parser.add_argument("--out", help="results folder (default loadtest/results/<time>)")
    parser.add_argument("--stage-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ledger-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    stages = [args.players] if args.players else [int(x) for x in args.stages.split(",")]
    think = args.think or PACES[args.pace]
    between = args.between_hands
    if between is None:
        between = 0.0 if args.pace == "full" else 2.0
    folder = Path(args.out) if args.out else RESULTS / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    # This working tree's package first, for the driver and every process of the stack (the
    # virtualenv's editable install may point at another clone of the repository).
    shared_src = str(ROOT / "shared" / "src")
    sys.path.insert(0, shared_src)
    os.environ["PYTHONPATH"] = f"{shared_src}:{ROOT}:{ROOT / 'tools'}"
    # SIGTERM unwinds like Ctrl-C: the stack's processes are stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    console = quiet_stack(Path(args.log) if args.log else folder / "stack.log")
    if args.stage_only:
        stage = _one_stage(args, args.players, think, between, folder)
        (folder / f"stage-{args.players}.summary.json").write_text(json.dumps(stage))
        return 0

    command = "./dev loadtest " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    from loadtest import echo_reference, report

    run: dict[str, Any] = {
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "settings": {
            **LOAD_ENV,
            **stage_env(args.pace, between),
            "servers": args.servers,
            "api_environments": ", ".join(f"{n}: {api_environments(n)}" for n in stages),
            "think": think,
            "rest_gap_s": args.rest_gap,
            "buy_in": BUY_IN,
            "blinds": f"{SMALL_BLIND}/{BIG_BLIND}",
        },
        "stages": [],
    }
    print(f"loadtest: results in {folder}", file=console, flush=True)
    run["echo"] = echo_reference.measure(clients=args.echo_clients, seconds=args.echo_seconds)
    print(
        f"loadtest: echo reference {run['echo']['messages_per_s']:.0f} messages/s",
        file=console,
        flush=True,
    )
    # Each stage gets a stack of its own (processes restarted, Redis emptied): tables of an
    # earlier stage keep a task on their owner, which would load the next stage. PostgreSQL
    # (users, ledger, hands) carries over, so returning bots keep their accounts.
    for n, players in enumerate(stages):
        print(f"loadtest: stage {players} players ({args.pace}) ...", file=console, flush=True)
        if args.staged:
            stage = _stage_in_child(args, players, folder, n == len(stages) - 1, console)
        else:
            args.ledger_check = True
            stage = _one_stage(args, players, think, between, folder)
        if "ledger_check" in stage:
            run["ledger_check"] = stage.pop("ledger_check")
            ok = run["ledger_check"]["ok"]
            print(f"loadtest: ledger check ok={ok}", file=console, flush=True)
        run["stages"].append(stage)
        (folder / "results.json").write_text(json.dumps(run, indent=2))
        print(report.stage_line(stage), file=console, flush=True)
        if args.stop_when_broken and not report.meets(stage):
            break
    run["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    (folder / "results.json").write_text(json.dumps(run, indent=2))
    report.write(run, folder)
    print(f"loadtest: report {folder / 'report.md'}", file=console, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
