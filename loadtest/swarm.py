"""The bot swarm: players that go through the whole product, measured.

Each bot, like a real player:

1. logs in through the REST API (registers first when its account does not exist yet);
2. deposits through the gateway simulator when its wallet cannot cover the buy-in (the
   simulator sends the signed IPNs to the deposit webhook; the API credits the wallet);
3. opens a WebSocket to a table server (bots alternate servers and encodings), joins its
   table and buys in (the ledger moves the buy-in wallet -> seat);
4. plays every turn it is given from the moment it sits, after a think time drawn from the
   pace's distribution (``human``: uniform 1-3 s by default; ``full``: none; a turn whose
   clock ran out meanwhile is left to the table), and makes REST calls in a realistic mix
   (lobby, balance, transactions, hand history, one hand) once the swarm is set up.

The measured window starts when the driver says ``go`` (after every bot sat down) and ends
after the stage's duration: only what happens inside it is counted. A worker process runs
many bots (one asyncio task each) and speaks a line protocol with the driver
(`loadtest.stages`): it prints ``READY <json>`` once its bots are seated, reads ``GO``,
measures, then prints ``RESULT <json>``.

    python -m loadtest.swarm --spec spec.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvloop

from holdem import heap
from holdem.client import ClientError, ClosedError, TableClient
from holdem.client.bot import BotStrategy
from loadtest.rest_client import HttpClient

PASSWORD = "load-test-password-1"
DEPOSIT_BTC = "0.001"  # ₩100,000 at the simulator's BTC price


# ---------------------------------------------------------------------------- think time


def think_sampler(spec: str, rng: random.Random) -> Any:
    """``none`` | ``uniform:A,B`` | ``lognormal:MEDIAN,SIGMA`` | ``exp:MEAN`` (seconds)."""
    kind, _, params = spec.partition(":")
    values = [float(v) for v in params.split(",")] if params else []
    if kind in ("none", "full", ""):
        return lambda: 0.0
    if kind == "uniform":
        low, high = values
        return lambda: rng.uniform(low, high)
    if kind == "lognormal":
        import math

        median, sigma = values
        return lambda: rng.lognormvariate(math.log(median), sigma)
    if kind == "exp":
        (mean,) = values
        return lambda: rng.expovariate(1 / mean)
    raise ValueError(f"unknown think-time distribution {spec!r}")


# ---------------------------------------------------------------------------- measurements


@dataclass
class Stats:
    """Everything a worker measured in the window (merged by the driver)."""

    ack_ms: list[float] = field(default_factory=list)
    broadcast_ms: list[float] = field(default_factory=list)
    rest_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rest_status: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    actions: int = 0
    hand_results: int = 0  # hand_result messages received (one per seated bot per hand)
    messages: int = 0
    bytes_by_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def as_json(self) -> dict[str, Any]:
        return {
            "ack_ms": self.ack_ms,
            "broadcast_ms": self.broadcast_ms,
            "rest_ms": dict(self.rest_ms),
            "rest_status": dict(self.rest_status),
            "errors": dict(self.errors),
            "dropped": self.dropped,
            "actions": self.actions,
            "hand_results": self.hand_results,
            "messages": self.messages,
            "bytes_by_kind": dict(self.bytes_by_kind),
        }


@dataclass
class Answer:
    """A REST answer, read whole (the bots' lean client keeps no response objects)."""

    status_code: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class Swarm:
    """Shared state of the bots of one worker process."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.api = spec["api_url"].rstrip("/")
        self.sim = spec["sim_url"].rstrip("/")
        self.ws_urls: list[str] = spec["ws_urls"]
        self.buy_in = int(spec["buy_in"])
        self.stats = Stats()
        self.measuring = False
        self.stopping = asyncio.Event()
        self.setup_errors: Counter[str] = Counter()
        # Keep-alive connections, the idle ones dropped before the gateway (uvicorn: 5 s)
        # drops them: a call on a connection the server is closing fails with a reset. The
        # connect bound is the socket's own; a wait for a free connection is bounded only by
        # `total_s`, as a busy app's queued calls are not failed calls.
        self.http = HttpClient(
            limit=int(spec.get("http_connections", 64)), idle_s=4.0, connect_s=10.0, total_s=60.0
        )
        self.refresh_tokens: dict[str, str] = {}
        for path in spec.get("token_files", []):
            with contextlib.suppress(OSError, ValueError), open(path) as handle:
                self.refresh_tokens.update(json.load(handle))
        # Logins and registrations hash passwords (argon2id): a bounded number at once.
        self.auth_gate = asyncio.Semaphore(int(spec.get("auth_concurrency", 8)))

    def error(self, code: str) -> None:
        if self.measuring:
            self.stats.errors[code] += 1
        else:
            self.setup_errors[code] += 1

    async def call(
        self, method: str, url: str, token: str | None = None, body: Any = None
    ) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(body)
        status, payload = await self.http.request(method, url, headers, data)
        return Answer(status, payload)

    async def rest(
        self, name: str, method: str, path: str, token: str | None = None, json: Any = None
    ) -> Answer:
        started = time.perf_counter()
        response = await self.call(method, self.api + path, token, json)
        elapsed = (time.perf_counter() - started) * 1000
        if self.measuring:
            self.stats.rest_ms[name].append(elapsed)
            self.stats.rest_status[f"{name} {response.status_code}"] += 1
        return response


class CountingCodec:
    """Wraps the client's codec to count bytes per received message kind."""

    def __init__(self, inner: Any, swarm: Swarm) -> None:
        self.inner = inner
        self.name = inner.name
        self.swarm = swarm
        self.slots: dict[Any, list[int]] = {}  # kind -> its counters in the swarm's stats
        self.encode = inner.encode  # sent frames are not counted: no call in between

    def decode(self, frame: bytes | str) -> dict[str, Any]:
        message: dict[str, Any] = self.inner.decode(frame)
        if self.swarm.measuring:
            kind = message.get("event") or message.get("type")
            slot = self.slots.get(kind)
            if slot is None:
                slot = self.slots[kind] = self.swarm.stats.bytes_by_kind[f"{self.name}:{kind}"]
            # The size on the wire: a JSON frame's UTF-8 bytes (its text when it is ASCII).
            size = len(frame) if type(frame) is bytes or frame.isascii() else len(frame.encode())
            slot[0] += 1
            slot[1] += size
            self.swarm.stats.messages += 1
        return message


# ---------------------------------------------------------------------------- one bot


class LoadBot:
    def __init__(self, swarm: Swarm, index: int, table_id: int, seat: int) -> None:
        self.swarm = swarm
        self.index = index
        self.table_id = table_id
        self.seat = seat
        self.rng = random.Random(index)
        self.think = think_sampler(swarm.spec["think"], self.rng)
        self.strategy = BotStrategy(seed=index)
        self.email = f"lt{index}@load.test"
        self.token = ""
        self.client: TableClient | None = None
        self.pending: dict[str, tuple[float, int]] = {}  # request id -> (sent, hand)
        self.waiting_broadcast: tuple[float, int] | None = None
        self.decided: dict[tuple[int, int], str] = {}  # (hand, decision) answered -> act id

    # ---- setup through the REST API and the simulator

    async def login(self) -> None:
        """Refresh a kept login (an app remembers its refresh token), else log in."""
        swarm = self.swarm
        kept = swarm.refresh_tokens.get(self.email)
        if kept:
            answer = await swarm.rest(
                "POST /auth/refresh", "POST", "/api/v1/auth/refresh", json={"refresh_token": kept}
            )
            if answer.status_code == 200:
                self.keep(answer.json())
                return
        async with swarm.auth_gate:
            body = {"email": self.email, "password": PASSWORD}
            answer = await swarm.rest("POST /auth/login", "POST", "/api/v1/auth/login", json=body)
            if answer.status_code == 401:
                reg = {
                    "email": self.email,
                    "nickname": f"lt{self.index}",
                    "password": PASSWORD,
                    "date_of_birth": "1990-01-01",
                }
                created = await swarm.rest(
                    "POST /auth/register", "POST", "/api/v1/auth/register", json=reg
                )
                if created.status_code not in (201, 409):
                    raise SetupError(f"register {created.status_code} {created.text[:200]}")
                answer = await swarm.rest(
                    "POST /auth/login", "POST", "/api/v1/auth/login", json=body
                )
        if answer.status_code != 200:
            raise SetupError(f"login {answer.status_code} {answer.text[:200]}")
        self.keep(answer.json())

    def keep(self, tokens: dict[str, Any]) -> None:
        self.token = tokens["access_token"]
        self.swarm.refresh_tokens[self.email] = tokens["refresh_token"]

    async def wallet(self) -> int:
        answer = await self.swarm.rest(
            "GET /wallet/balance", "GET", "/api/v1/wallet/balance", self.token
        )
        if answer.status_code != 200:
            raise SetupError(f"balance {answer.status_code} {answer.text[:200]}")
        return int(answer.json()["wallet"])

    async def deposit(self) -> None:
        swarm = self.swarm
        address = await swarm.rest(
            "GET /wallet/deposit-address", "GET", "/api/v1/wallet/deposit-address/BTC", self.token
        )
        if address.status_code != 200:
            raise SetupError(f"deposit address {address.status_code} {address.text[:200]}")
        body = {
            "address": address.json()["address"],
            "coin": "BTC",
            "amount": DEPOSIT_BTC,
            "callback_url": f"{swarm.api}/api/v1/wallet/webhook/deposit",
        }
        sent = await swarm.call("POST", f"{swarm.sim}/sim/deposits", body=body)
        if sent.status_code != 200:
            raise SetupError(f"simulator {sent.status_code} {sent.text[:200]}")
        final = sent.json()["deliveries"][-1]  # the IPN that completes the deposit
        if final.get("status") != 200:
            reason = final.get("error", "").split("(")[0] or f"status {final.get('status')}"
            raise SetupError(f"deposit IPN not accepted: {reason}")

    async def set_up(self) -> None:
        await self.login()
        if await self.wallet() < self.swarm.buy_in:
            await self.deposit()
            if await self.wallet() < self.swarm.buy_in:
                raise SetupError("deposit not credited")
        url = self.swarm.ws_urls[self.index % len(self.swarm.ws_urls)]
        encoding = "msgpack" if self.index % 2 else "json"
        self.client = TableClient(
            url, self.token, encoding=encoding, on_message=self.observe, keep=self.wants
        )
        await self.client.connect()
        self.client.codec = CountingCodec(self.client.codec, self.swarm)  # type: ignore[assignment]
        snapshot = await self.client.join(self.table_id, as_="player")
        mine = snapshot["seats"][self.seat]
        if mine["player_id"] != str(self.client.user_id):
            await self.client.sit(self.table_id, self.seat, self.swarm.buy_in)

    # ---- measurements (called by the client's reader for every message, in order)

    def observe(self, message: dict[str, Any]) -> None:
        swarm = self.swarm
        kind = message.get("type")
        request_id = message.get("id")
        if isinstance(request_id, str) and request_id in self.pending:
            sent, _ = self.pending.pop(request_id)
            if kind == "error":
                swarm.error(f"ws:{message.get('code')}")
            elif swarm.measuring:
                swarm.stats.ack_ms.append((time.perf_counter() - sent) * 1000)
        elif kind == "error":
            swarm.error(f"ws:{message.get('code')}")
        if (
            self.waiting_broadcast is not None
            and kind == "event"
            and message.get("event") == "action"
            and message.get("seat") == self.seat
            and message.get("table_id") == self.table_id
        ):
            sent, _ = self.waiting_broadcast
            self.waiting_broadcast = None
            if swarm.measuring:
                swarm.stats.broadcast_ms.append((time.perf_counter() - sent) * 1000)
        elif kind == "hand_result" and message.get("table_id") == self.table_id and swarm.measuring:
            swarm.stats.hand_results += 1

    # ---- playing

    def wants(self, message: dict[str, Any]) -> bool:
        """The messages `play` reads: the others (most of a table's) never wake its task."""
        kind = message.get("type")
        if kind == "event":
            return (
                message.get("event") == "turn"
                and message.get("seat") == self.seat
                and message.get("table_id") == self.table_id
            )
        if kind == "snapshot":
            return message.get("table_id") == self.table_id
        return kind == "error" or (kind == "notice" and message.get("code") == "sat_out")

    async def play(self) -> None:
        assert self.client is not None
        async for message in self.client.messages():
            if self.swarm.stopping.is_set():
                return
            kind = message.get("type")
            if kind == "error":  # refused: the decision may be answered again if shown again
                refused = str(message.get("id"))
                self.decided = {k: i for k, i in self.decided.items() if i != refused}
            if kind == "event" and message.get("event") == "turn":
                if message.get("seat") == self.seat and message.get("table_id") == self.table_id:
                    turn = (int(message["hand"]), int(message["decision"]))
                    await self.act(turn, message["legal"], message.get("deadline"))
            elif kind == "snapshot" and message.get("table_id") == self.table_id:
                # Snapshots follow seating changes too: `act` skips a decision answered.
                legal = message.get("legal_actions")
                clock = message.get("clock") or {}
                if message.get("running") and legal and clock.get("seat") == self.seat:
                    turn = (int(message["hand_number"]), int(clock["decision"]))
                    await self.act(turn, legal, clock.get("deadline"))
            elif kind == "notice" and message.get("code") == "sat_out":
                with contextlib.suppress(ClientError, ClosedError, TimeoutError):
                    await self.client.sit_in(self.table_id)
        if not self.swarm.stopping.is_set():
            if self.swarm.measuring:
                self.swarm.stats.dropped += 1
            raise ClosedError(self.client.closed.code if self.client.closed else None, "dropped")

    async def act(self, turn: tuple[int, int], legal: dict[str, Any], deadline: Any) -> None:
        assert self.client is not None
        # Each decision (hand, decision number) is answered once: announced again (the turn
        # given back after a takeover, a snapshot after seating changes), the client's resend
        # of the unanswered act covers it.
        if turn in self.decided:
            return
        hand, decision = turn
        delay = self.think()
        if delay:
            await asyncio.sleep(delay)
        if deadline is not None and time.time() >= float(deadline):
            return  # the clock ran out meanwhile: the table acted for us, as for a person
        action, amount = self.strategy.choose(legal)
        request_id = self.client.new_id()
        message = {
            "type": "act",
            "id": request_id,
            "table_id": self.table_id,
            "hand": hand,
            "decision": decision,
            "action": action,
            "seq": self.client.next_seq(self.table_id),
            **({"amount": amount} if amount is not None else {}),
        }
        sent = time.perf_counter()
        self.decided = {k: i for k, i in self.decided.items() if k[0] >= hand}
        self.decided[turn] = request_id
        self.pending[request_id] = (sent, hand)
        self.waiting_broadcast = (sent, hand)
        await self.client.send_command(message)
        if self.swarm.measuring:
            self.swarm.stats.actions += 1

    async def rest_mix(self) -> None:
        """Lobby, balance, statement and hand history, at random, as a player's app does."""
        swarm = self.swarm
        mean_gap = float(swarm.spec["rest_gap_s"])
        if mean_gap <= 0:
            return
        routes = [
            (40, "GET /lobby/tables", "/api/v1/lobby/tables?limit=20"),
            (10, "GET /lobby/tables/{id}", f"/api/v1/lobby/tables/{self.table_id}"),
            (20, "GET /wallet/balance", "/api/v1/wallet/balance"),
            (10, "GET /wallet/transactions", "/api/v1/wallet/transactions?limit=20"),
            (15, "GET /hands", "/api/v1/hands?limit=20"),
            (5, "GET /me", "/api/v1/me"),
        ]
        # Cumulative weights once: `choices` computes them on every call otherwise (same draws).
        cum_weights = list(itertools.accumulate(w for w, _, _ in routes))
        last_hand: int | None = None
        while not swarm.stopping.is_set():
            await asyncio.sleep(self.rng.expovariate(1 / mean_gap))
            if swarm.stopping.is_set():
                return
            _, name, path = self.rng.choices(routes, cum_weights=cum_weights)[0]
            if name == "GET /hands" and last_hand is not None and self.rng.random() < 0.5:
                name, path = "GET /hands/{id}", f"/api/v1/hands/{last_hand}"
            try:
                answer = await swarm.rest(name, "GET", path, self.token)
            except (OSError, TimeoutError) as exc:
                swarm.error(f"rest:{name}:{type(exc).__name__}")
                continue
            if answer.status_code >= 400:
                swarm.error(f"rest:{name}:{answer.status_code}")
            elif name == "GET /hands":
                items = answer.json().get("items") or []
                if items:
                    last_hand = int(items[0]["hand_id"])

    async def leave(self) -> None:
        if self.client is None:
            return
        with contextlib.suppress(ClientError, ClosedError, TimeoutError, OSError):
            await self.client.request({"type": "leave", "table_id": self.table_id}, wait_s=5)
        await self.client.close()


class SetupError(Exception):
    pass


# ---------------------------------------------------------------------------- worker


async def run_worker(spec: dict[str, Any], go: asyncio.Event | None = None) -> dict[str, Any]:
    """Set the bots up, wait for `go` (stdin ``GO`` when None), measure, return the stats."""
    swarm = Swarm(spec)
    bots = [LoadBot(swarm, i, t, s) for i, t, s in spec["bots"]]
    ramp_started = time.monotonic()
    setup_gate = asyncio.Semaphore(int(spec.get("setup_concurrency", 50)))

    tasks: list[asyncio.Task[None]] = []

    async def set_up(bot: LoadBot) -> bool:
        async with setup_gate:
            try:
                await bot.set_up()
            except (SetupError, ClientError, ClosedError, OSError) as exc:
                swarm.setup_errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                return False
            except TimeoutError:
                swarm.setup_errors["TimeoutError"] += 1
                return False
        # A bot plays from the moment it sits, as a person does: its table deals as soon as
        # two players sit, long before the rest of the swarm is set up.
        tasks.append(asyncio.create_task(bot.play()))
        return True

    seated = await asyncio.gather(*(set_up(bot) for bot in bots))
    ready = [bot for bot, ok in zip(bots, seated, strict=True) if ok]
    ramp_s = time.monotonic() - ramp_started
    tasks += [asyncio.create_task(bot.rest_mix()) for bot in ready]
    report = {"seated": len(ready), "ramp_s": ramp_s, "setup_errors": dict(swarm.setup_errors)}
    # Refresh tokens rotate when used: keep the new ones now, so a stage stopped before its
    # end (Ctrl-C, a failed stage) costs the next one no logins.
    keep_tokens(spec, swarm, ready)
    if go is None:  # a worker process of its own: its collector is the swarm's to tune
        settle_heap()
        print("READY " + json.dumps(report), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.readline)
    else:
        await go.wait()
    swarm.measuring = True
    started = time.monotonic()
    done, _ = await asyncio.wait(tasks, timeout=float(spec["duration_s"]))
    swarm.measuring = False
    window = time.monotonic() - started
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            swarm.stats.errors[f"task:{type(task.exception()).__name__}"] += 1
    swarm.stopping.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if spec.get("leave", True):
        gate = asyncio.Semaphore(200)

        async def leave(bot: LoadBot) -> None:
            async with gate:
                await bot.leave()

        await asyncio.gather(*(leave(bot) for bot in ready))
    else:
        await asyncio.gather(*(bot.client.close() for bot in ready if bot.client is not None))
    await swarm.http.close()
    openings = {
        "verified": sum(bot.client.openings.verified for bot in ready if bot.client is not None),
        "failed": sum(bot.client.openings.failed for bot in ready if bot.client is not None),
    }
    return {**report, "window_s": window, **swarm.stats.as_json(), "openings": openings}


YOUNG_COLLECTION_THRESHOLD = 10_000
"""Net allocations between two collections of the youngest generation (Python's: 700)."""


def settle_heap() -> None:
    """Make the collector cheap for the measured window (the bots' behaviour is the same).

    The set-up's objects (clients, sockets, parsers: most of the heap) live to the end: they
    are frozen out of every collection. And the youngest generation is collected less often:
    with hundreds of bots waiting, every wait replaces a few objects (the awaited future, its
    coroutine), whose predecessors' deaths count against the threshold as well, so at
    Python's 700 each collection went through ~9,000 live waiting objects (≈ 9 ms of CPU,
    every few seconds: 4 % of the bots' CPU at human pace). At 10,000 it runs ≈ 14 times
    less often (not once in a 30 s window of 600 bots at human pace).
    """
    heap.settle(YOUNG_COLLECTION_THRESHOLD)


def keep_tokens(spec: dict[str, Any], swarm: Swarm, bots: list[LoadBot]) -> None:
    """Write the bots' refresh tokens to the spec's ``token_file`` (merged by the driver)."""
    if spec.get("token_file"):
        kept = {bot.email: swarm.refresh_tokens[bot.email] for bot in bots}
        with open(spec["token_file"], "w") as handle:
            json.dump(kept, handle)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.swarm", description=__doc__)
    parser.add_argument("--spec", required=True, help="JSON file written by loadtest.stages")
    args = parser.parse_args()
    with open(args.spec) as handle:
        spec = json.load(handle)
    result = uvloop.run(run_worker(spec))  # uvloop: a cheaper event loop for many sockets
    with open(spec["result_path"], "w") as handle:
        json.dump(result, handle)
    print("RESULT " + spec["result_path"], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
