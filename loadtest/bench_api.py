"""REST API benchmark: 200 paced clients against uvicorn with PostgreSQL and Redis.

``./dev bench api [--clients N] [--seconds S] [--rate R]`` starts private PostgreSQL and Redis
(or uses ``DATABASE_URL`` / ``REDIS_URL``), seeds players with hands and ledger movements, and
serves the API under uvicorn in its own process (one worker, as ``./dev up`` does). N clients,
each on its own keep-alive connection, log in and then send a mix of requests, paced: R
requests/s in all (default 250: 5,000 players each making a REST call every 20 s), each
client at Poisson arrivals that do not wait for the answers (open loop; a request's latency
counts from its scheduled time). ``--rate 0`` sends back to back instead (closed loop: the
latency is then the clients' queue, clients / throughput). The mix:

    login 0.5% · refresh 1% · balance 23.5% · transactions 23.5% · lobby 25% ·
    hand list 15% · one hand 11.5%

The shares of login and refresh follow the product: an access token lives 15 minutes and a
refresh token 30 days (SPEC §6, ``AUTH__*``), so a client logs in once per session (or not
at all: a kept refresh token opens the next one) and refreshes every 15 minutes after. Most
of a player's traffic is on the WebSocket; a client in the lobby or at a table makes about
one REST request every 10 s (balance, lobby, history), so ~90 REST requests per refresh
(1.1%) and a few hundred per login (a 1-hour session: 360, 0.3%). Login is rounded up to
0.5%, refresh down to 1%. Login weighs far more than its share: one argon2id verification
(SPEC/OWASP parameters, m = 19 MiB, t = 2) costs ~20 ms of CPU, 100-200 ordinary reads.

It prints p50/p95/p99 per route and the mix's requests/s, then each route alone on the same
server for a few seconds with 20 of the clients, login with 4 at 10/s (requests/s, latency,
and the CPU per request of the API server, PostgreSQL and Redis: what each route costs,
login's argon2id apart from the reads), then serves a bare FastAPI "hello" app the same way
on the same machine with the same clients and pacing, as the reference. The headline is the
API server's CPU per mix request beside the hello app's, from the same run (target: <= 0.7 ms
per mix request; p95 < 50 ms and p99 < 100 ms per route).

``--against GIT_REF`` is the A/B for one change on a shared machine: it serves the API of
that ref (its ``functions/`` and ``shared/src``, from ``git archive``) beside this tree's, on
the same stores, and runs the mix on each in alternating windows (``--rounds`` of
``--seconds`` each), printing each one's CPU per request: both see the same load from other
processes, which a comparison of two runs minutes apart does not. The bare hello app gets a
window of its own in each round, so the headline (this tree's CPU per mix request beside the
hello app's) comes from the same run.

``--lambda`` also runs the mix through the deployed shape, as ``./dev up`` serves the API: the
local API Gateway (``devstack.http_routes``) in front of ``--lambda-environments`` execution
environments of the API function (``devstack.lambda_runtime``), the same processes and code
on the same stores, and prints the CPU per mix request of the function and of the gateway
beside uvicorn's. With ``--against``, that shape of both trees and this tree's uvicorn run in
alternating windows.

The client is the swarm's lean HTTP/1.1 keep-alive client (`loadtest.rest_client`), so that the load
generator (sharing this machine's cores) costs as little as possible. Rate limits are raised
for the run: every client shares one address, 127.0.0.1. They are still checked in Redis on
every request, so their cost is in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import psycopg
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from devstack.lambda_runtime import load_functions
from devstack.paths import ROOT, STATE, VENV_BIN
from devstack.services import free_port
from devstack.stack import start_stores
from holdem.auth.passwords import PasswordService
from holdem.bootstrap import bootstrap
from holdem.config import AuthSettings, Settings
from loadtest import profiling
from loadtest.git_ref import check_out
from loadtest.rest_client import HttpClient

PASSWORD = "bench-password-123"
JWT_SECRET = "bench-only-signing-key-0123456789abcdef"
HANDS_PER_PLAYER = 60
DEPOSITS_PER_PLAYER = 30
TABLES = 300
ALONE_CLIENTS = 20
"""Clients of each route's run alone..."""
ALONE_LOGINS = 4
"""...but login's: the server verifies 2 passwords at once (``AUTH__ARGON2_MAX_CONCURRENCY``),
and 20 clients would queue for longer than the warm-up."""
ALONE_LOGIN_RATE = 10.0
"""Logins per second when login runs alone and paced (each is ~30 ms of CPU)."""
DEFAULT_RATE = 250.0
"""Requests/s of the paced mix: 5,000 players (SPEC's target) making a REST call each 20 s."""

MIX = [  # per mille; see the module docstring for login's and refresh's shares
    ("login", 5),
    ("refresh", 10),
    ("balance", 235),
    ("transactions", 235),
    ("lobby", 250),
    ("hands", 150),
    ("hand", 115),
]

HELLO_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
"""
HELLO_ROLE = "hello server"


# --- the clients' connections ---------------------------------------------------------------


class Connection:
    """One player's keep-alive connection to the server on `port` (the swarm's HTTP client
    with a pool of one): its requests go one after the other."""

    def __init__(self, port: int) -> None:
        self._origin = f"http://127.0.0.1:{port}"
        self._http = HttpClient(limit=1)

    async def request(
        self, method: str, path: str, token: str | None = None, body: bytes | None = None
    ) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self._http.request(method, self._origin + path, headers, body)

    async def close(self) -> None:
        await self._http.close()


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    count: int = 0
    cpu: list[CpuSample] = field(default_factory=list)
    """At the start and the end of the measured window."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


# --- seeding ---------------------------------------------------------------------------------


async def _seed(settings: Settings, players: int) -> list[dict[str, int | str]]:
    """Players (one argon2id hash shared by all), tables, hands and ledger deposits."""
    password_hash = await PasswordService(settings.auth).hash(PASSWORD)
    url = make_url(settings.database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into users (email, nickname, password_hash) "
            "select 'p' || n || '@bench.example', 'p' || n, %s from generate_series(1, %s) n",
            (password_hash, players * 10),  # more accounts than clients: realistic lookups
        )
        conn.execute(
            "insert into poker_tables (name, small_blind, big_blind, max_seats, min_buy_in, "
            "max_buy_in, rake_rate_bps, rake_cap, status, created_at) "
            "select 't' || n, sb, sb * 2, 6, sb * 80, sb * 200, 500, sb * 6, "
            "case when n %% 3 = 0 then 'closed' else 'open' end, now() - make_interval(mins => n) "
            "from generate_series(1, %s) n, "
            "lateral (select (array[1000, 5000, 25000])[1 + n %% 3] as sb) s",
            (TABLES,),
        )
        conn.execute(
            "insert into hands (table_id, hand_no, started_at, ended_at, small_blind, big_blind, "
            "button_seat, board, total_pot, rake, deck_commitment, deck_seed, result) "
            "select 1 + n %% %s, n, now() - make_interval(secs => n * 7), "
            "now() - make_interval(secs => n * 7 - 5), 1000, 2000, 0, 'AhKh2c7d9s', 20000, 1000, "
            "repeat('c', 64), repeat('s', 64), "
            '\'{"pots": [{"amount": 20000, "eligible": [0, 1], "rake": 1000, '
            '"winners": [{"seat": 0, "amount": 19000}]}]}\'::jsonb '
            "from generate_series(1, %s) n",
            (TABLES, players * HANDS_PER_PLAYER),
        )
        conn.execute(
            "insert into hand_players (hand_id, seat_no, user_id, started_at, hole_cards, shown, "
            "net, rake_share) "
            "select h.id, s, 1 + (h.id * 6 + s) %% %s, h.started_at, 'AsAd', s = 1, 0, 100 "
            "from hands h, generate_series(0, 5) s",
            (players * 10,),
        )
        conn.execute(
            "insert into hand_events (hand_id, seq_no, type, seat_no, payload) "
            "select h.id, e, case when e <= 6 then 'hole_cards' else 'bet' end, (e - 1) % 6, "
            'case when e <= 6 then \'{"cards": "AsAd"}\'::jsonb '
            "else '{\"amount\": 2000}'::jsonb end "
            "from hands h, generate_series(1, 14) e"
        )
        rows = conn.execute(
            "select u.id, u.email, (select hand_id from hand_players p where p.user_id = u.id "
            "order by started_at desc limit 1) from users u order by u.id limit %s",
            (players,),
        ).fetchall()
        conn.execute("analyze")
    container = bootstrap(settings)
    try:
        service = container.ledger
        for user_id, _, _ in rows:
            for n in range(DEPOSITS_PER_PLAYER):
                await service.credit_deposit(
                    key=f"bench:{user_id}:{n}",
                    user_id=user_id,
                    amount=10_000 + n,
                    coin="BTC",
                    crypto_amount=Decimal("0.0001"),
                    rate_krw=Decimal("100000000"),
                    tx_hash=f"{user_id:08x}{n:056x}",
                    address="bc1qbenchaddress",
                )
    finally:
        await container.aclose()
    return [{"user_id": r[0], "email": r[1], "hand_id": r[2]} for r in rows]


# --- the load --------------------------------------------------------------------------------


@dataclass
class Client:
    """One player's keep-alive connection and current tokens."""

    conn: Connection
    player: dict[str, int | str]
    access: str = ""
    refresh: str = ""

    def keep_tokens(self, status: int, body: bytes) -> None:
        """The tokens of a login or refresh answer."""
        if status == 200:
            answer = json.loads(body)
            self.access, self.refresh = answer["access_token"], answer["refresh_token"]


def _login_body(email: str) -> bytes:
    return json.dumps({"email": email, "password": PASSWORD}).encode()


async def _log_in(client: Client) -> None:
    status, body = await client.conn.request(
        "POST", "/api/v1/auth/login", body=_login_body(str(client.player["email"]))
    )
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body[:200]!r}")
    client.keep_tokens(status, body)


class Pacer:
    """When a client sends: back to back (``gap`` 0, closed loop), or at Poisson arrivals with
    ``gap`` seconds between them on average (open loop: the schedule does not wait for the
    answers, and a request's latency counts from its scheduled time, so a server that falls
    behind shows its queue instead of slowing the clients down)."""

    def __init__(self, gap: float, rng: random.Random) -> None:
        self.gap = gap
        self.rng = rng
        self.next_at = time.perf_counter() + (rng.uniform(0, gap) if gap else 0.0)

    async def wait(self) -> float:
        """Wait for the next request's time; returns it (the latency's start)."""
        if not self.gap:
            return time.perf_counter()
        scheduled = self.next_at
        self.next_at += self.rng.expovariate(1 / self.gap)
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        return scheduled


async def _client(
    client: Client,
    mix: list[tuple[str, int]],
    until: float,
    measure_from: float,
    results: Results,
    rng: random.Random,
    gap: float,
) -> None:
    routes, weights = zip(*mix, strict=True)
    conn, player = client.conn, client.player
    pacer = Pacer(gap, rng)
    while (now := await pacer.wait()) < until:
        route = rng.choices(routes, weights)[0]
        token = client.access
        req: tuple[str, str, str | None, bytes | None]
        if route == "login":
            req = ("POST", "/api/v1/auth/login", None, _login_body(str(player["email"])))
        elif route == "refresh":
            body = json.dumps({"refresh_token": client.refresh}).encode()
            req = ("POST", "/api/v1/auth/refresh", None, body)
        elif route == "balance":
            req = ("GET", "/api/v1/wallet/balance", token, None)
        elif route == "transactions":
            req = ("GET", "/api/v1/wallet/transactions?limit=20", token, None)
        elif route == "lobby":
            bb = rng.choice(["", "&big_blind=2000", "&min_free_seats=1"])
            req = ("GET", f"/api/v1/lobby/tables?limit=20{bb}", None, None)
        elif route == "hands":
            req = ("GET", "/api/v1/hands?limit=20", token, None)
        else:
            req = ("GET", f"/api/v1/hands/{player['hand_id']}", token, None)
        status, answer = await conn.request(*req)
        elapsed = (time.perf_counter() - now) * 1000
        if route in ("login", "refresh"):
            client.keep_tokens(status, answer)
        if now >= measure_from:
            results.latencies[route].append(elapsed)
            results.count += 1
            if status >= 400:
                results.errors[route] += 1


async def _hello_client(
    port: int, until: float, measure_from: float, results: Results, pacer: Pacer
) -> None:
    conn = Connection(port)
    try:
        while (now := await pacer.wait()) < until:
            status, _ = await conn.request("GET", "/")
            if now >= measure_from:
                results.latencies["hello"].append((time.perf_counter() - now) * 1000)
                results.count += 1
                if status != 200:
                    results.errors["hello"] += 1
    finally:
        await conn.close()


async def _run_mix(
    clients: list[Client],
    mix: list[tuple[str, int]],
    seconds: float,
    warmup: float,
    profile_pid: int | None,
    rate: float,
) -> tuple[Results, dict[str, Any] | None]:
    """The clients over the mix for warm-up + seconds, ``rate`` requests/s in all (paced;
    0 = back to back)."""
    results = Results()
    start = time.perf_counter()
    measure_from, until = start + warmup, start + warmup + seconds
    rng = random.Random(7)
    gap = len(clients) / rate if rate else 0.0
    running = asyncio.gather(
        *(
            _client(client, mix, until, measure_from, results, random.Random(rng.random()), gap)
            for client in clients
        )
    )
    profile = await _measure(running, warmup, seconds, results, profile_pid)
    return results, profile


async def _run_api(
    port: int,
    players: list[dict[str, int | str]],
    mix: list[tuple[str, int]],
    args: argparse.Namespace,
    profile_pid: int | None,
) -> tuple[Results, dict[str, Any] | None, dict[str, Results]]:
    """The mix, then (unless one route was asked for) each route alone, same clients."""
    clients = [Client(Connection(port), player) for player in players]
    try:
        # Every client logs in first (argon2id is slow on purpose); then the clock starts.
        await asyncio.gather(*(_log_in(client) for client in clients))
        results, profile = await _run_mix(
            clients, mix, args.seconds, args.warmup, profile_pid, args.rate
        )
        alone: dict[str, Results] = {}
        if len(mix) > 1:
            # Fewer clients: a window of a few seconds must be much longer than a request's
            # time in the queue for the CPU per request to be that of steady state.
            for route, _ in mix:
                few = clients[: ALONE_LOGINS if route == "login" else ALONE_CLIENTS]
                rate = min(args.rate, ALONE_LOGIN_RATE) if route == "login" else args.rate
                alone[route], _ = await _run_mix(
                    few, [(route, 1)], args.route_seconds, 1.0, None, rate
                )
        return results, profile, alone
    finally:
        await asyncio.gather(*(client.conn.close() for client in clients))


async def _run_against(
    ports: dict[str, int],
    hello_port: int,
    players: list[dict[str, int | str]],
    args: argparse.Namespace,
) -> dict[str, list[tuple[int, float]]]:
    """The mix on two servers in turn and the hello app's requests on its own, ``--rounds``
    windows each (the order alternating): what each window served and what it cost the
    server's process, by role."""
    clients = {
        role: [Client(Connection(port), player) for player in players]
        for role, port in ports.items()
    }
    windows: dict[str, list[tuple[int, float]]] = {role: [] for role in [*ports, HELLO_ROLE]}
    try:
        for group in clients.values():
            await asyncio.gather(*(_log_in(client) for client in group))
        roles = list(windows)
        for n in range(args.rounds):
            for role in roles if n % 2 == 0 else roles[::-1]:
                if role == HELLO_ROLE:
                    results, _ = await _run_hello(
                        hello_port, len(players), args.seconds, args.warmup, args.rate
                    )
                else:
                    results, _ = await _run_mix(
                        clients[role], MIX, args.seconds, args.warmup, None, args.rate
                    )
                before, after = results.cpu
                spent = after.by_role.get(role, 0.0) - before.by_role.get(role, 0.0)
                windows[role].append((results.count, spent))
                print(
                    f"  round {n + 1} {role:<22} {results.count:>6} requests "
                    f"({sum(results.errors.values())} errors), "
                    f"{1000 * spent / max(1, results.count):.2f} ms of CPU each",
                    flush=True,
                )
        return windows
    finally:
        for group in clients.values():
            await asyncio.gather(*(client.conn.close() for client in group))


def _against_report(ref: str, windows: dict[str, list[tuple[int, float]]]) -> None:
    print(
        f"\nA/B: this tree against {ref}, the mix in alternating windows on both servers "
        "(and the bare hello app's requests in windows of their own)"
    )
    totals = {}
    for role, served in windows.items():
        count, spent = sum(c for c, _ in served), sum(t for _, t in served)
        per_window = ", ".join(f"{1000 * t / max(1, c):.2f}" for c, t in served)
        totals[role] = 1000 * spent / max(1, count)
        print(f"  {role:<22} {totals[role]:.2f} ms per request (windows: {per_window})")
    this, other = totals["API server"], totals["API server (against)"]
    print(f"  saving: {other - this:.2f} ms per request ({(other - this) / other:.0%})")
    print(
        f"\nAPI CPU per mix request: {this:.2f} ms (target <= 0.7 ms); "
        f"the bare hello app in the same run: {totals[HELLO_ROLE]:.2f} ms"
    )


async def _run_hello(
    port: int, clients: int, seconds: float, warmup: float, rate: float
) -> tuple[Results, float]:
    results = Results()
    start = time.perf_counter()
    measure_from, until = start + warmup, start + warmup + seconds
    rng = random.Random(11)
    gap = clients / rate if rate else 0.0
    running = asyncio.gather(
        *(
            _hello_client(
                port, until, measure_from, results, Pacer(gap, random.Random(rng.random()))
            )
            for _ in range(clients)
        )
    )
    await _measure(running, warmup, seconds, results, None)
    return results, seconds


async def _measure(
    clients: asyncio.Future[list[None]],
    warmup: float,
    seconds: float,
    results: Results,
    profile_pid: int | None,
) -> dict[str, Any] | None:
    """Sample CPU (and py-spy the server) over the measured window while the clients run."""
    await asyncio.sleep(warmup)
    results.cpu.append(await asyncio.to_thread(CpuSample.take))
    started = (
        profiling.record({profile_pid: "api"}, seconds, STATE / "bench-api") if profile_pid else []
    )
    await clients
    results.cpu.append(await asyncio.to_thread(CpuSample.take))
    done = await asyncio.to_thread(profiling.finish, started)
    return profiling.summarise(done[0], top=25) if done else None


# --- where the CPU goes ----------------------------------------------------------------------

ROLES = [
    # The deployed shape (`_serve_deployed`): an --against tree's processes carry a marker.
    ("API function (against)", re.compile(r"-X bench-against -m devstack\.lambda_runtime")),
    ("local gateway (against)", re.compile(r"-X bench-against -m devstack\.http_routes")),
    ("API function", re.compile(r"-m devstack\.lambda_runtime")),
    ("local gateway", re.compile(r"-m devstack\.http_routes")),
    ("API server (against)", re.compile(r"uvicorn functions\.api.*--app-dir \S*against-")),
    ("API server", re.compile(r"uvicorn functions\.api")),
    (HELLO_ROLE, re.compile(r"uvicorn bench_hello_app")),
    ("PostgreSQL", re.compile(r"^postgres")),
    ("Redis", re.compile(r"redis-server")),
]


@dataclass
class CpuSample:
    """CPU seconds so far of this run's processes by role, and of the whole machine."""

    wall: float
    by_role: dict[str, float]
    machine_busy: float

    @classmethod
    def take(cls) -> CpuSample:
        me = psutil.Process()
        by_role: dict[str, float] = defaultdict(float)
        for process in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                cmdline = " ".join(process.cmdline()) or process.name()
                role = "load generator" if process.pid == me.pid else None
                role = role or next((r for r, rx in ROLES if rx.search(cmdline)), None)
                if role is not None:
                    times = process.cpu_times()
                    by_role[role] += times.user + times.system
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return cls(time.perf_counter(), dict(by_role), busy)


def _cpu_ms(results: Results, role: str) -> float:
    """CPU ms per request of one role's processes over the measured window."""
    before, after = results.cpu
    spent = after.by_role.get(role, 0.0) - before.by_role.get(role, 0.0)
    return 1000 * spent / max(1, results.count)


def _cpu_report(before: CpuSample, after: CpuSample, requests: int) -> None:
    """CPU per request by role, and how busy the machine was (others' processes included)."""
    wall = after.wall - before.wall
    parts = [
        f"{role} {1000 * (after.by_role[role] - before.by_role.get(role, 0.0)) / requests:.2f}"
        for role in after.by_role
    ]
    ours = sum(after.by_role.values()) - sum(before.by_role.values())
    machine = after.machine_busy - before.machine_busy
    print(f"  CPU ms per request: {', '.join(parts)}")
    print(
        f"  CPU busy: this run's processes {ours / wall:.2f} cores, the whole machine "
        f"{machine / wall:.2f} of {os.cpu_count()} cores"
    )


# --- servers ---------------------------------------------------------------------------------


def _serve(
    app: str, env: dict[str, str], app_dir: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [
        str(VENV_BIN / "python"),
        "-m",
        "uvicorn",
        app,
        *(["--app-dir", str(app_dir)] if app_dir else []),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--backlog",
        "2048",
    ]
    log = STATE / "bench-api" / f"{app.split(':')[0]}{'-against' if app_dir else ''}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:  # the server's JSON log lines (warnings and errors only)
        server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out)
    _wait_port(port, server)
    return server, port


def _wait_port(port: int, server: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited at start-up")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _report(
    title: str, results: Results, seconds: float, load: tuple[float, float, float]
) -> float:
    rate = results.count / seconds
    print(f"\n{title}")
    print(f"  {'route':<14}{'requests':>10}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for route, values in sorted(results.latencies.items()):
        print(
            f"  {route:<14}{len(values):>10}{results.errors[route]:>8}"
            f"{percentile(values, 50):>10.1f}{percentile(values, 95):>10.1f}"
            f"{percentile(values, 99):>10.1f}"
        )
    print(f"  total: {results.count} requests in {seconds:.0f} s = {rate:,.0f} requests/s")
    print("  load average at the end (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in load))
    _cpu_report(results.cpu[0], results.cpu[1], results.count)
    return rate


def _routes_report(alone: dict[str, Results], seconds: float) -> None:
    """Each route alone: its rate, latency and CPU per request by process."""
    if not alone:
        return
    roles = ["API server", "PostgreSQL", "Redis"]
    print(
        f"\neach route alone ({ALONE_CLIENTS} of the clients, login {ALONE_LOGINS}; "
        f"{seconds:.0f} s each, same server)"
    )
    header = f"  {'route':<14}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}"
    print(header + "".join(f"{'CPU ms ' + role:>18}" for role in roles))
    for route, results in alone.items():
        values = results.latencies[route]
        before, after = results.cpu
        count = max(1, results.count)
        cpu = "".join(
            f"{1000 * (after.by_role.get(r, 0.0) - before.by_role.get(r, 0.0)) / count:>18.2f}"
            for r in roles
        )
        print(
            f"  {route:<14}{results.count / seconds:>8,.0f}{percentile(values, 50):>9.1f}"
            f"{percentile(values, 95):>9.1f}{results.errors[route]:>8}{cpu}"
        )


def _login_share(settings: Settings, results: Results) -> None:
    """What the logins' argon2id verifications cost of the API server's CPU in the window."""
    logins = len(results.latencies.get("login", ()))
    api_cpu = results.cpu[1].by_role["API server"] - results.cpu[0].by_role["API server"]
    if not logins or api_cpu <= 0:
        return
    hasher = PasswordHasher(
        time_cost=settings.auth.argon2_time_cost,
        memory_cost=settings.auth.argon2_memory_kib,
        parallelism=settings.auth.argon2_parallelism,
    )
    encoded = hasher.hash(PASSWORD)
    started = time.process_time()
    for _ in range(5):
        hasher.verify(encoded, PASSWORD)
    each = (time.process_time() - started) / 5
    print(
        f"login: one argon2id verification costs {each * 1000:.1f} ms of CPU here; the "
        f"{logins} logins of the window ~ {logins * each / api_cpu:.0%} of the API server's CPU"
    )


def _print_profile(profile: dict[str, Any]) -> None:
    print(f"\npy-spy of the API server, measured window ({profile['samples']} samples)")
    for kind in ("self", "inclusive"):
        print(f"  {kind}:")
        for name, share in profile[kind]:
            print(f"    {share:6.1%}  {name}")


# --- the deployed shape: the local API Gateway and a Lambda execution environment -----------

DEPLOYED_FUNCTION = "ApiFunction"
AGAINST_MARK = "bench-against"
"""A ``-X`` option on an --against tree's processes: their command lines tell them apart."""


@dataclass(frozen=True)
class Deployed:
    """One served copy of the API in the deployed shape: where clients connect, and the CPU
    roles (`ROLES`) of its processes."""

    name: str
    port: int
    roles: tuple[str, ...]


def _serve_deployed(
    env: dict[str, str], environments: int, tree: Path | None = None
) -> tuple[list[subprocess.Popen[bytes]], Deployed]:
    """The API as `./dev up` serves it, from this checkout or `tree` (an --against one): the
    API function's execution environments (`devstack.lambda_runtime`, forked from a preloaded
    parent) behind the local HTTP API (`devstack.http_routes`), each process started with the
    code and the arguments `./dev up` gives it, on the bench's stores and settings."""
    root = tree or ROOT
    python = [str(VENV_BIN / "python"), *(["-X", AGAINST_MARK] if tree else [])]
    path = os.pathsep.join(str(folder) for folder in (root, root / "tools", root / "shared/src"))
    ports = [free_port() for _ in range(environments)]
    serve = [f"--serve={DEPLOYED_FUNCTION}={port}" for port in ports]  # `Environment.argument`
    # The function's template environment, with the bench's values over it (as `./dev up`
    # puts the local stack's over it); no X-Ray daemon here either. The secrets the bench does
    # not set (the payment and KYC providers' keys: no request of the mix uses them) are
    # empty rather than fetched from a Secrets Manager at cold start.
    template_env = load_functions()[DEPLOYED_FUNCTION].environment
    unset = {name: "" for name, value in template_env.items() if "{{secret:" in value}
    function_env = {**unset, **env, "POWERTOOLS_TRACE_DISABLED": "true"}
    function_env.pop("PYTHONPATH", None)  # this checkout's: the process has its own
    log_dir = STATE / "bench-api"
    log_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-against" if tree else ""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv, extra in (
            (
                "functions",
                [*python, "-m", "devstack.lambda_runtime", *serve],
                {"DEVSTACK_ENVS": json.dumps({DEPLOYED_FUNCTION: function_env})},
            ),
            (
                "gateway",
                [*python, "-m", "devstack.http_routes", "--port", str(gateway_port := free_port())],
                {"DEVSTACK_FUNCTION_PORTS": json.dumps({DEPLOYED_FUNCTION: ports})},
            ),
        ):
            with (log_dir / f"deployed-{name}{suffix}.log").open("wb") as out:
                started.append(
                    subprocess.Popen(
                        argv,
                        cwd=root,
                        env={**env, "PYTHONPATH": path, **extra},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for port in ports:
            _wait_port(port, started[0])
        _wait_port(gateway_port, started[1])
    except BaseException:
        _stop(started)
        raise
    mark = " (against)" if tree else ""
    roles = (f"API function{mark}", f"local gateway{mark}")
    return started, Deployed(f"deployed{mark}", gateway_port, roles)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(10)


def _run_deployed(
    env: dict[str, str], players: list[dict[str, int | str]], args: argparse.Namespace
) -> tuple[Results, tuple[float, float, float]]:
    """The mix through the deployed shape, with the clients, pacing and window of uvicorn's
    mix; and the load average at its end."""
    processes, target = _serve_deployed(env, args.lambda_environments)
    try:
        return asyncio.run(_deployed_mix(target.port, players, args)), os.getloadavg()
    finally:
        _stop(processes)


async def _deployed_mix(
    port: int, players: list[dict[str, int | str]], args: argparse.Namespace
) -> Results:
    clients = [Client(Connection(port), player) for player in players]
    try:
        await asyncio.gather(*(_log_in(client) for client in clients))
        results, _ = await _run_mix(clients, MIX, args.seconds, args.warmup, None, args.rate)
        return results
    finally:
        await asyncio.gather(*(client.conn.close() for client in clients))


def _deployed_report(
    deployed: tuple[Results, tuple[float, float, float]], seconds: float, uvicorn_ms: float
) -> None:
    results, load = deployed
    _report(
        "the mix through the local API Gateway and Lambda (`./dev up`'s shape)",
        results,
        seconds,
        load,
    )
    function_ms = _cpu_ms(results, "API function")
    gateway_ms = _cpu_ms(results, "local gateway")
    print(
        f"\ndeployed shape, CPU per mix request: API function {function_ms:.2f} ms + local "
        f"gateway {gateway_ms:.2f} ms = {function_ms + gateway_ms:.2f} ms; "
        f"the app under uvicorn in the same run: {uvicorn_ms:.2f} ms"
    )


async def _run_deployed_against(
    served: list[Deployed], players: list[dict[str, int | str]], args: argparse.Namespace
) -> dict[str, list[tuple[int, dict[str, float]]]]:
    """The mix on each served copy in turn, ``--rounds`` windows each (the order reversed
    every other round): per window, the requests served and the CPU seconds of each role."""
    clients = {
        target.name: [Client(Connection(target.port), player) for player in players]
        for target in served
    }
    windows: dict[str, list[tuple[int, dict[str, float]]]] = {t.name: [] for t in served}
    try:
        for group in clients.values():
            await asyncio.gather(*(_log_in(client) for client in group))
        for n in range(args.rounds):
            for target in served if n % 2 == 0 else served[::-1]:
                results, _ = await _run_mix(
                    clients[target.name], MIX, args.seconds, args.warmup, None, args.rate
                )
                before, after = results.cpu
                spent = {
                    role: after.by_role.get(role, 0.0) - before.by_role.get(role, 0.0)
                    for role in target.roles
                }
                windows[target.name].append((results.count, spent))
                per_request = ", ".join(
                    f"{role} {1000 * cpu / max(1, results.count):.2f}"
                    for role, cpu in spent.items()
                )
                print(
                    f"  round {n + 1} {target.name:<20} {results.count:>6} requests "
                    f"({sum(results.errors.values())} errors), CPU ms each: {per_request}",
                    flush=True,
                )
        return windows
    finally:
        for group in clients.values():
            await asyncio.gather(*(client.conn.close() for client in group))


def _deployed_against_report(
    ref: str, served: list[Deployed], windows: dict[str, list[tuple[int, dict[str, float]]]]
) -> None:
    print(f"\nA/B: this tree against {ref}, the mix in alternating windows on each")
    totals: dict[str, float] = {}
    for target in served:
        count = max(1, sum(c for c, _ in windows[target.name]))
        parts = {
            role: 1000 * sum(spent[role] for _, spent in windows[target.name]) / count
            for role in target.roles
        }
        totals[target.name] = sum(parts.values())
        shown = " + ".join(f"{role} {ms:.2f}" for role, ms in parts.items())
        print(f"  {target.name:<20} {totals[target.name]:.2f} ms per request ({shown})")
    this, other = totals["deployed"], totals["deployed (against)"]
    saving = other - this
    print(f"  deployed shape, saving: {saving:.2f} ms per request ({saving / other:.0%})")


def _deployed_main(
    env: dict[str, str], players: list[dict[str, int | str]], args: argparse.Namespace
) -> None:
    """``--lambda --against REF``: the deployed shape of this tree and of REF, and this tree's
    app under uvicorn, in alternating windows."""
    with ExitStack() as stop:
        uvicorn, uvicorn_port = _serve("functions.api.app:app", env)
        stop.callback(_stop, [uvicorn])
        mine, this_tree = _serve_deployed(env, args.lambda_environments)
        stop.callback(_stop, mine)
        folder = check_out(
            args.against, ["functions", "shared/src", "tools", "template.yaml"], "bench-api-lambda"
        )
        theirs, against = _serve_deployed(env, args.lambda_environments, folder)
        stop.callback(_stop, theirs)
        served = [this_tree, against, Deployed("uvicorn", uvicorn_port, ("API server",))]
        windows = asyncio.run(_run_deployed_against(served, players, args))
    _deployed_against_report(args.against, served, windows)


def _hello_env(env: dict[str, str]) -> dict[str, str]:
    """The environment that serves `HELLO_APP` (written to the bench's state folder)."""
    hello_dir = STATE / "bench-api-hello"
    hello_dir.mkdir(parents=True, exist_ok=True)
    (hello_dir / "bench_hello_app.py").write_text(HELLO_APP)
    return {**env, "PYTHONPATH": str(hello_dir)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev bench api")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="requests/s of all clients together, paced (open loop); 0 = back to back",
    )
    parser.add_argument(
        "--route-seconds", type=float, default=3.0, help="how long each route runs alone"
    )
    parser.add_argument(
        "--route",
        choices=[name for name, _ in MIX],
        help="request only this route (e.g. with --clients 1 for its single-client latency)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the API server during the measured window"
    )
    parser.add_argument(
        "--against",
        metavar="GIT_REF",
        help="A/B: serve the API of this git ref beside this tree's and run the mix on each "
        "in alternating windows (--seconds each, --rounds times); prints both CPU figures",
    )
    parser.add_argument("--rounds", type=int, default=4, help="windows per server with --against")
    parser.add_argument(
        "--lambda",
        dest="lambda_shape",
        action="store_true",
        help="also run the mix through the deployed shape, as `./dev up` serves the API (the "
        "local API Gateway, the API function's execution environments): CPU per "
        "request of the function and of the gateway beside uvicorn's; with --against, the "
        "deployed shape of both trees and this tree's uvicorn in alternating windows",
    )
    parser.add_argument(
        "--lambda-environments",
        type=int,
        default=1,
        help="execution environments of the API function with --lambda",
    )
    args = parser.parse_args()
    mix = [(args.route, 1)] if args.route else MIX
    with ExitStack() as stop:
        database_url, redis_url = start_stores(
            stop,
            STATE / "bench-api",
            database=f"bench_{uuid.uuid4().hex[:8]}",
            durable=False,
            keep_data=False,
        )
        settings = Settings(
            database_url=database_url,
            redis_url=redis_url,
            auth=AuthSettings(jwt_secret=SecretStr(JWT_SECRET)),
        )
        print(f"seeding {args.clients} players ...", flush=True)
        seeding = time.perf_counter()
        players = asyncio.run(_seed(settings, args.clients))
        print(f"seeded in {time.perf_counter() - seeding:.0f} s", flush=True)
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tools'}",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "AUTH__JWT_SECRET": JWT_SECRET,
            "LOG_LEVEL": "WARNING",
            # All clients share 127.0.0.1: lift the per-client budgets (still checked).
            "RATE_LIMITS__DEFAULT_PER_MINUTE": "100000000",
            "RATE_LIMITS__LOGIN_PER_MINUTE": "100000000",
            # One server process with 200 clients: a fixed pool of 80 connections (no overflow
            # churn: an overflow connection is closed on return and reopened at the next peak).
            "DB__POOL_SIZE": os.environ.get("DB__POOL_SIZE", "80"),
            "DB__MAX_OVERFLOW": os.environ.get("DB__MAX_OVERFLOW", "0"),
        }
        if args.against and args.lambda_shape:
            _deployed_main(env, players, args)
            return
        if args.against:
            folder = check_out(args.against, ["functions", "shared/src"], "bench-api")
            against_env = {
                **env,
                "PYTHONPATH": f"{folder}{os.pathsep}{folder / 'shared' / 'src'}",
            }
            servers = [
                _serve("functions.api.app:app", env),
                _serve("functions.api.app:app", against_env, app_dir=folder),
                _serve("bench_hello_app:app", _hello_env(env)),
            ]
            try:
                ports = {"API server": servers[0][1], "API server (against)": servers[1][1]}
                windows = asyncio.run(_run_against(ports, servers[2][1], players, args))
            finally:
                for server, _ in servers:
                    server.terminate()
                    server.wait(10)
            _against_report(args.against, windows)
            return
        server, port = _serve("functions.api.app:app", env)
        try:
            results, profile, alone = asyncio.run(
                _run_api(port, players, mix, args, server.pid if args.profile else None)
            )
            mix_load = os.getloadavg()
        finally:
            server.terminate()
            server.wait(10)
        deployed = _run_deployed(env, players, args) if args.lambda_shape else None
        server, hello_port = _serve("bench_hello_app:app", _hello_env(env))
        try:
            hello, hello_seconds = asyncio.run(
                _run_hello(hello_port, args.clients, args.seconds, args.warmup, args.rate)
            )
            hello_load = os.getloadavg()
        finally:
            server.terminate()
            server.wait(10)
        pacing = (
            f"paced at {args.rate:g} requests/s in all (open loop)"
            if args.rate
            else "sending back to back (closed loop)"
        )
        print(
            f"\nREST API benchmark: {args.clients} keep-alive clients {pacing}, one uvicorn "
            f"worker, PostgreSQL + Redis on this machine ({os.cpu_count()} CPUs), "
            f"{args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up"
        )
        shares = ", ".join(
            f"{name} {weight * 100 / sum(w for _, w in mix):g}%" for name, weight in mix
        )
        mix_rate = _report(f"mix ({shares})", results, args.seconds, mix_load)
        _routes_report(alone, args.route_seconds)
        hello_rate = _report(
            "bare FastAPI hello app (same server settings, same clients)",
            hello,
            hello_seconds,
            hello_load,
        )
        api_ms, hello_ms = _cpu_ms(results, "API server"), _cpu_ms(hello, HELLO_ROLE)
        print(
            f"\nAPI CPU per mix request: {api_ms:.2f} ms (target <= 0.7 ms); "
            f"the bare hello app in the same run: {hello_ms:.2f} ms"
        )
        if not args.rate:
            print(f"mix / bare app, requests/s: {mix_rate / hello_rate:.0%}")
        if deployed is not None:
            _deployed_report(deployed, args.seconds, api_ms)
        print("targets per route: p95 < 50 ms, p99 < 100 ms")
        _login_share(settings, results)
        if profile is not None:
            _print_profile(profile)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
