"""``./dev chaos``: a bounded soak of the table-server fleet under faults, on loopback.

It starts its own stack (private PostgreSQL, Redis with AOF as `./dev up` runs it, `--servers`
table servers under the `Supervisor`, which restarts a killed one), seats SDK bots
(`holdem.client.Bot`, 4 per table, answering each turn within 0.1 s and reconnecting to
another server when theirs dies), then for `--duration` seconds SIGKILLs table servers that
own tables, at random moments (and restarts Redis and PostgreSQL once each when asked). It
stops by itself and prints, one per line::

    takeovers: N                               tables whose owner was killed
    resume after takeover: p50 X s, max Y s    from the SIGKILL to the new owner's first message
    seats timed out by a fault: N              turns that ran out (bots never let one run out)
    hands started/completed/stored: A/B/C      C: completed hands found in PostgreSQL
    voided hands: N                            started, never stored, not running at the end
    ledger check: OK|FAILED
    audit verify: OK|FAILED

and, with ``--redis-restart``, how long after Redis was back every table played again. It
exits 1 when a target is missed: resume max ≤ 3 s and p50 ≤ 1 s, no seat timed out, no
completed hand missing from PostgreSQL, every table playing within 5 s of Redis being back,
the ledger and the audit chain clean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack import migrate
from devstack.paths import STATE, VENV_BIN
from devstack.services import PostgresServer, RedisServer, free_port
from devstack.supervisor import Child, Supervisor

PYTHON = str(VENV_BIN / "python")
LOGS = STATE / "chaos-logs"
"""The table servers' logs of the last run, copied there at its end (a missed target is read
there); during a run they are in the run's own folder, so runs side by side do not mix."""
SEATS = 4
BUY_IN = 200_000
THINK_S = 0.1
MAX_RESUME_S = 3.0
P50_RESUME_S = 1.0
REDIS_DEAL_S = 5.0
SETTLE_WAIT_S = 30.0


@dataclass
class Takeover:
    table_id: int
    worker: str
    killed_at: float
    taken_at: float | None = None
    resumed_at: float | None = None


@dataclass
class BotTrace:
    """One bot's connections and the turns it was given (wall-clock times, as in the logs)."""

    servers: list[tuple[float, str]] = field(default_factory=list)
    turns: list[float] = field(default_factory=list)
    troubles: list[tuple[float, str]] = field(default_factory=list)
    """What ended the bot's play or failed its reconnects (a bot that stops playing)."""

    def server_at(self, at: float) -> str:
        """The server the bot was connected to at `at` (its last connection before)."""
        return next((server for ts, server in reversed(self.servers) if ts <= at), "?")


@dataclass
class Observed:
    """What the bots saw, by table (each message is seen by several bots: sets dedupe)."""

    started: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    completed: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    last_play: dict[int, float] = field(default_factory=dict)
    """When each table last showed play (a hand started, an action, a turn)."""
    takeovers: list[Takeover] = field(default_factory=list)
    pending: dict[int, Takeover] = field(default_factory=dict)
    """Takeovers not resumed yet, by table."""
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while no takeover is pending."""
    bots: dict[tuple[int, int], BotTrace] = field(default_factory=dict)
    """What each bot (table, seat) connected to and when it was told to act."""

    def __post_init__(self) -> None:
        self.idle.set()

    def killed(self, takeover: Takeover) -> None:
        self.takeovers.append(takeover)
        self.pending[takeover.table_id] = takeover
        self.idle.clear()

    async def settled(self, wait_s: float = 10.0) -> None:
        """Wait (up to `wait_s`) until every takeover resumed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                await self.idle.wait()

    def message(self, table_id: int, message: dict[str, Any]) -> None:
        now = time.monotonic()
        kind = message.get("type")
        if kind == "event":
            event = message.get("event")
            if event == "hand_started":
                self.started[table_id].add(int(message["hand_number"]))
            if event in ("hand_started", "action", "turn"):
                self.last_play[table_id] = now
        elif kind == "hand_result":
            self.completed[table_id].add(int(message["hand"]))
        if kind in ("event", "snapshot", "hand_result", "hole_cards", "notice"):
            takeover = self.pending.get(table_id)
            if takeover is not None and takeover.taken_at is not None:
                takeover.resumed_at = now
                del self.pending[table_id]
                if not self.pending:
                    self.idle.set()


@dataclass
class Chaos:
    options: argparse.Namespace
    state: Path
    postgres: PostgresServer
    redis: RedisServer
    supervisor: Supervisor = field(default_factory=Supervisor)
    edges: dict[str, Child] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)
    observed: Observed = field(default_factory=Observed)
    redis_deal_s: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)


def cmd_chaos(args: argparse.Namespace) -> int:
    """A bounded soak: bots play while table servers are killed (and Redis, PostgreSQL restart)."""
    if args.servers < 2:
        print("dev chaos: --servers must be at least 2 (a takeover needs another server)")
        return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)
    state = STATE / f"chaos-{os.getpid()}"
    state.mkdir(parents=True, exist_ok=True)
    chaos = Chaos(
        args,
        state,
        PostgresServer(state, durable=False),
        RedisServer(state, persistent=True),
        rng=random.Random(args.seed),
    )
    try:
        return asyncio.run(_run(chaos))
    finally:
        chaos.supervisor.stop_all()
        chaos.redis.stop()
        chaos.postgres.remove()
        shutil.rmtree(LOGS, ignore_errors=True)
        LOGS.mkdir(parents=True)
        for log in state.glob("chaos*.log"):
            shutil.copy(log, LOGS / log.name)
        shutil.rmtree(state, ignore_errors=True)


async def _run(chaos: Chaos) -> int:
    from holdem.bootstrap import bootstrap
    from holdem.config import Settings

    options = chaos.options
    await asyncio.to_thread(chaos.postgres.start)
    await asyncio.to_thread(chaos.redis.start)
    database_url = chaos.postgres.create_database("holdem")
    await asyncio.to_thread(migrate.upgrade, database_url)
    secret = secrets.token_urlsafe(32)
    chaos.env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": chaos.redis.url(),
        "AUTH__JWT_SECRET": secret,
        "LOG_LEVEL": "INFO",
    }
    settings = Settings(
        database_url=database_url,
        redis_url=chaos.redis.url(),
        auth={"jwt_secret": secret},
        db={"pool_size": 5, "max_overflow": 5},
    )
    container = bootstrap(settings)
    try:
        _start_edges(chaos)
        tables, tokens = await _seed(container, options.tables)
        await _wait_listening(chaos.urls)
        bots = await _seat_bots(chaos, tables, tokens)
        print(
            f"dev chaos: {options.servers} table servers, {len(tables)} tables, "
            f"{len(bots)} bots, {options.duration:.0f} s, {options.kills} kills"
            + (", a Redis restart" if options.redis_restart else "")
            + (", a PostgreSQL restart" if options.pg_restart else ""),
            flush=True,
        )
        watcher = asyncio.create_task(_supervise(chaos))
        try:
            await _faults(chaos, container, tables)
        finally:
            for task in bots:
                task.cancel()
            await asyncio.gather(*bots, return_exceptions=True)
        stored = await _wait_stored(container, chaos.observed)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await asyncio.to_thread(chaos.supervisor.stop_all)
        ledger_ok, audit_ok = await _checks(container)
    finally:
        await container.aclose()
    return _report(chaos, stored, ledger_ok, audit_ok)


# ---------------------------------------------------------------------------- the stack


def _start_edges(chaos: Chaos) -> None:
    for n in range(1, chaos.options.servers + 1):
        worker = f"chaos{n}"
        port = free_port()
        argv = [PYTHON, "-m", "edge", "--port", str(port), "--metrics-port", "-1"]
        log = (chaos.state / f"{worker}.log").open("ab")
        chaos.edges[worker] = chaos.supervisor.spawn(
            worker,
            argv,
            {**chaos.env, "EDGE_WORKER_ID": worker},
            stop_signal=signal.SIGINT,
            output=log,
        )
        chaos.urls.append(f"ws://127.0.0.1:{port}/")


async def _wait_listening(urls: list[str], wait_s: float = 60.0) -> None:
    deadline = time.monotonic() + wait_s
    for url in urls:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no table server on {url}") from None
                await asyncio.sleep(0.1)


async def _seed(container: Any, count: int) -> tuple[list[int], list[list[str]]]:
    """`count` tables with `SEATS` funded bot users each; their ids and access tokens."""
    from holdem.adapters.orm.tables import PokerTable
    from holdem.adapters.orm.users import User
    from holdem.auth.tokens import issue_access_token
    from holdem.services import ledger

    tables, tokens = [], []
    async with container.sessions() as session, session.begin():
        for t in range(1, count + 1):
            row = PokerTable(
                name=f"Chaos {t}",
                small_blind=1_000,
                big_blind=2_000,
                max_seats=SEATS,
                min_buy_in=80_000,
                max_buy_in=200_000,
                rake_rate_bps=500,
                rake_cap=6_000,
            )
            session.add(row)
            users = [
                User(email=f"chaos{t}-{s}@chaos.local", nickname=f"c{t}s{s}", password_hash="!")
                for s in range(SEATS)
            ]
            session.add_all(users)
            await session.flush()
            tables.append(int(row.id))
            seat_tokens = []
            for user in users:
                await ledger.adjust(
                    session,
                    key=f"chaos-funds:{user.id}",
                    user_id=user.id,
                    amount=100 * BUY_IN,
                    reason="chaos bot play money (local only)",
                    operator_id=user.id,
                )
                token, _ = issue_access_token(user.id, "player", container.settings.auth)
                seat_tokens.append(token)
            tokens.append(seat_tokens)
    return tables, tokens


async def _seat_bots(
    chaos: Chaos, tables: list[int], tokens: list[list[str]]
) -> list[asyncio.Task[None]]:
    from holdem.client import Bot, BotStrategy, TableClient

    tasks = []
    for t, table_id in enumerate(tables):
        for seat, token in enumerate(tokens[t]):
            url = chaos.urls[(t + seat) % len(chaos.urls)]
            client = TableClient(
                url,
                token,
                encoding="msgpack" if seat % 2 else "json",
                on_message=_observer(chaos.observed, table_id, seat),
            )
            await client.connect()
            chaos.observed.bots[table_id, seat].servers.append((time.time(), client.server))
            bot = Bot(
                client, table_id, seat, BUY_IN, BotStrategy(seed=t * 10 + seat), think_s=THINK_S
            )
            await bot.sit_down()
            tasks.append(asyncio.create_task(_keep_playing(chaos, bot)))
    return tasks


def _observer(observed: Observed, table_id: int, seat: int) -> Callable[[dict[str, Any]], None]:
    trace = observed.bots.setdefault((table_id, seat), BotTrace())

    def observe(message: dict[str, Any]) -> None:
        if message.get("table_id") == table_id:
            observed.message(table_id, message)
            if message.get("event") == "turn" and message.get("seat") == seat:
                trace.turns.append(time.time())

    return observe


async def _keep_playing(chaos: Chaos, bot: Any) -> None:
    """Play; when the connection drops, reconnect to a server at random, with backoff.

    Whatever ends the play or fails a reconnect (a refused handshake included) is noted in
    the bot's trace and retried: a bot that stopped playing would pass for a lost turn."""
    trace = chaos.observed.bots[bot.table_id, bot.seat]
    while True:
        try:
            await bot.play()
        except Exception as exc:
            trace.troubles.append((time.time(), f"play: {exc!r}"))
        wait = 0.05
        while True:
            try:
                await bot.client.reconnect(chaos.rng.choice(chaos.urls))
                trace.servers.append((time.time(), bot.client.server))
                await bot.sit_down()
                break
            except Exception as exc:
                trace.troubles.append((time.time(), f"reconnect: {exc!r}"))
                await asyncio.sleep(wait)
                wait = min(1.0, wait * 2)


async def _supervise(chaos: Chaos) -> None:
    """Restart killed table servers (the supervisor's backoff) and time the takeovers."""
    from holdem.adapters.leases import LeaseStore

    redis_client = _redis(chaos)
    leases = LeaseStore(redis_client, "chaos-observer", 1)
    try:
        while True:
            chaos.supervisor.check()
            pending = [t for t in chaos.observed.pending.values() if t.taken_at is None]
            if pending:
                with contextlib.suppress(Exception):
                    held = await leases.holders([t.table_id for t in pending])
                    for takeover in pending:
                        lease = held.get(takeover.table_id)
                        if lease is not None and lease.worker_id != takeover.worker:
                            takeover.taken_at = time.monotonic()
            await asyncio.sleep(0.02)
    finally:
        await redis_client.aclose()


def _redis(chaos: Chaos) -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(chaos.redis.url(), socket_timeout=2, socket_connect_timeout=2)


# ---------------------------------------------------------------------------- faults


async def _faults(chaos: Chaos, container: Any, tables: list[int]) -> None:
    """Kill owners at random moments (and restart Redis / PostgreSQL) until the end."""
    options = chaos.options
    started = time.monotonic()
    duration = float(options.duration)
    plan: list[tuple[float, str]] = []
    for i in range(options.kills):
        slot = duration / (options.kills + 1)
        plan.append((slot * (i + 1) + chaos.rng.uniform(-slot / 4, slot / 4), "kill"))
    if options.redis_restart:
        plan.append((duration * 0.4, "redis"))
    if options.pg_restart:
        plan.append((duration * 0.7, "postgres"))
    for at, what in sorted(plan):
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        if what == "kill":
            await _kill_an_owner(chaos, tables)
            # One fault at a time: a takeover measured during a Redis or PostgreSQL outage
            # would measure the outage.
            await chaos.observed.settled()
        elif what == "redis":
            await _restart_redis(chaos, tables)
        else:
            await asyncio.to_thread(chaos.postgres.stop)
            await asyncio.sleep(1.0)  # an outage, not a blip
            await asyncio.to_thread(chaos.postgres.start)
            print("dev chaos: PostgreSQL restarted", flush=True)
    await asyncio.sleep(max(0.0, started + duration - time.monotonic()))
    # Takeovers still unresolved at the end are waited for (they count against the target).
    await chaos.observed.settled()


async def _kill_an_owner(chaos: Chaos, tables: list[int]) -> None:
    from holdem.adapters.leases import LeaseStore

    # A clean measurement: the previous takeovers are over before the next kill.
    await chaos.observed.settled()
    redis_client = _redis(chaos)
    try:
        held = await LeaseStore(redis_client, "chaos-observer", 1).holders(tables)
    finally:
        await redis_client.aclose()
    owners: dict[str, list[int]] = defaultdict(list)
    for table_id, lease in held.items():
        child = chaos.edges.get(lease.worker_id) if lease is not None else None
        if lease is not None and child is not None and child.process.poll() is None:
            owners[lease.worker_id].append(table_id)
    alive = [w for w, child in chaos.edges.items() if child.process.poll() is None]
    if not owners or len(alive) < 2:
        # Killing the last server standing measures the supervisor's backoff, not a takeover.
        print("dev chaos: no owner to kill right now (no other server up)", flush=True)
        return
    worker = chaos.rng.choice(sorted(owners))
    chaos.edges[worker].process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    for table_id in owners[worker]:
        chaos.observed.killed(Takeover(table_id, worker, killed_at))
    print(f"dev chaos: SIGKILL {worker} (owner of tables {owners[worker]})", flush=True)


async def _restart_redis(chaos: Chaos, tables: list[int]) -> None:
    await asyncio.to_thread(chaos.redis.stop)
    await asyncio.sleep(1.0)  # an outage, not a blip
    await asyncio.to_thread(chaos.redis.start)
    back = time.monotonic()
    observed = chaos.observed
    while time.monotonic() - back < 30:
        if all(observed.last_play.get(t, 0.0) > back for t in tables):
            break
        await asyncio.sleep(0.05)
    played = [observed.last_play.get(t, 0.0) for t in tables]
    chaos.redis_deal_s = max(p - back for p in played) if min(played) > back else None
    idle = [t for t, p in zip(tables, played, strict=True) if p <= back]
    print(
        "dev chaos: Redis restarted" + (f"; tables idle 30 s after: {idle}" if idle else ""),
        flush=True,
    )


# ---------------------------------------------------------------------------- results


async def _wait_stored(container: Any, observed: Observed) -> set[tuple[int, int]]:
    """Wait until every completed hand is in PostgreSQL (or give up); the stored hands, as
    (table, hand number)."""
    from sqlalchemy import select

    from holdem.adapters.orm.hands import Hand

    completed = {(t, n) for t, hands in observed.completed.items() for n in hands}
    deadline = time.monotonic() + SETTLE_WAIT_S
    stored: set[tuple[int, int]] = set()
    while True:
        with contextlib.suppress(Exception):
            async with container.sessions() as session:
                rows = await session.execute(select(Hand.table_id, Hand.hand_no))
                stored = {(int(t), int(n)) for t, n in rows}
        if completed <= stored or time.monotonic() > deadline:
            return stored
        await asyncio.sleep(0.5)


async def _checks(container: Any) -> tuple[bool, bool]:

    service = container.ledger
    report = await service.conservation_report()
    chain = await service.verify_audit_chain()
    return report.ok, not chain.problems


@dataclass
class TimedOut:
    """A turn that ran out, as a table server logged it."""

    at: float
    worker: str
    table_id: int
    seat: int
    hand: int | None


def _timeouts(logs: Path) -> list[TimedOut]:
    """Turns that ran out, from the table servers' logs (every one of them is a fault's)."""
    found = []
    for log in logs.glob("chaos*.log"):
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("msg") == "turn timed out":
                    found.append(
                        TimedOut(
                            entry["ts"],
                            entry["worker"],
                            entry["table"],
                            entry["seat"],
                            entry.get("hand"),
                        )
                    )
    return sorted(found, key=lambda t: t.at)


def _explain(timeout: TimedOut, trace: BotTrace | None, clock_s: float = 60.0) -> str:
    """One line on a timed-out seat: where its bot was, and whether it was told to act."""
    if trace is None:
        return f"  table {timeout.table_id} seat {timeout.seat}: no bot"
    told = any(timeout.at - clock_s <= t <= timeout.at for t in trace.turns)
    troubles = [what for at, what in trace.troubles if timeout.at - clock_s <= at <= timeout.at]
    return (
        f"  table {timeout.table_id} seat {timeout.seat} hand {timeout.hand} "
        f"(owner {timeout.worker}): bot on {trace.server_at(timeout.at)}, "
        + ("was sent its turn" if told else "never received its turn")
        + (f"; {troubles[-1]}" if troubles else "")
    )


def _report(chaos: Chaos, stored: set[tuple[int, int]], ledger_ok: bool, audit_ok: bool) -> int:
    observed = chaos.observed
    takeovers = observed.takeovers
    resumes = [t.resumed_at - t.killed_at for t in takeovers if t.resumed_at is not None]
    unresumed = len(takeovers) - len(resumes)
    # Started: seen starting or ending (a bot reconnecting at a hand's start misses it).
    started = sum(len(h | observed.completed[t]) for t, h in observed.started.items())
    completed = sum(len(h) for h in observed.completed.values())
    # Voided: started, never stored (a bot may miss a hand's result while it reconnects; the
    # ledger's archive does not), except each table's last hand, which may still be running.
    voided = 0
    for table_id, hands in observed.started.items():
        kept = {n for t, n in stored if t == table_id}
        voided += len(hands - kept - {max(hands)})
    timeouts = _timeouts(chaos.state)
    p50 = statistics.median(resumes) if resumes else 0.0
    worst = max(resumes) if resumes else 0.0
    print(f"takeovers: {len(takeovers)}")
    print(f"resume after takeover: p50 {p50:.2f} s, max {worst:.2f} s")
    print(f"seats timed out by a fault: {len(timeouts)}")
    for timeout in timeouts[:20]:
        print(_explain(timeout, observed.bots.get((timeout.table_id, timeout.seat))))
    completed_stored = sum(
        1 for t, hands in observed.completed.items() for n in hands if (t, n) in stored
    )
    print(f"hands started/completed/stored: {started}/{completed}/{completed_stored}")
    print(f"voided hands: {voided}")
    print(f"ledger check: {'OK' if ledger_ok else 'FAILED'}")
    print(f"audit verify: {'OK' if audit_ok else 'FAILED'}")
    print(f"table servers' logs: {LOGS}")
    missed = []
    if chaos.options.redis_restart:
        if chaos.redis_deal_s is None:
            print("tables playing after the Redis restart: not all within 30 s")
            missed.append("play after the Redis restart")
        else:
            print(f"tables playing after the Redis restart: all within {chaos.redis_deal_s:.2f} s")
            if chaos.redis_deal_s > REDIS_DEAL_S:
                missed.append(f"play within {REDIS_DEAL_S:.0f} s of Redis")
    if unresumed:
        missed.append(f"{unresumed} takeover(s) never resumed")
    if worst > MAX_RESUME_S or p50 > P50_RESUME_S:
        missed.append(f"resume p50 ≤ {P50_RESUME_S:.0f} s and max ≤ {MAX_RESUME_S:.0f} s")
    if timeouts:
        missed.append("no seat timed out")
    if completed_stored < completed:
        missed.append("every completed hand stored")
    if not ledger_ok:
        missed.append("ledger check")
    if not audit_ok:
        missed.append("audit verify")
    if chaos.options.kills and not takeovers:
        missed.append("at least one takeover")
    if missed:
        print("targets missed: " + "; ".join(missed))
        return 1
    print("targets: all met")
    return 0


def add_parser(sub: Any) -> None:
    chaos = sub.add_parser("chaos", help=cmd_chaos.__doc__)
    chaos.add_argument("--duration", type=float, default=120.0, help="seconds (default 120)")
    chaos.add_argument("--servers", type=int, default=3, help="table servers (default 3)")
    chaos.add_argument("--tables", type=int, default=6, help=f"tables of {SEATS} bots (default 6)")
    chaos.add_argument("--kills", type=int, default=3, help="SIGKILLs of owners (default 3)")
    chaos.add_argument("--redis-restart", action="store_true", help="restart Redis once")
    chaos.add_argument("--pg-restart", action="store_true", help="restart PostgreSQL once")
    chaos.add_argument("--seed", type=int, default=None, help="repeat a run's random choices")
    chaos.set_defaults(func=cmd_chaos)
