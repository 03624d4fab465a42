"""The bots of `./dev bench edge`, in processes of their own (`loadtest.bench_edge` starts them).

The benchmark measures the table servers: its bots must not set the pace. In the benchmark's
own process they did (one event loop for every bot, 100 % of a core, while the one table
server idled at 73 %). Now each worker runs a share of the tables' bots (whole tables, so a
table's first joiner, and with it its owner, stays as the driver chose) on its own uvloop.

The driver writes one line of JSON to the worker's stdin (the servers' URLs, think time and
the bots: ``[token, table_id, seat, server index, encoding]``). The worker connects every bot
(authenticated, at no table) and prints ``CONNECTED``; on ``JOIN`` it joins each to its table
(no seat taken: no hand is dealt) and prints ``JOINED``; on ``SIT`` it seats them in that
order and prints ``READY`` (the driver measures the idle table servers in between). Then it
answers each line the driver sends:

- ``MARK``: one line of JSON: its counters so far (``hands`` seen end at the tables, counted
  by each table's first bot; ``actions`` sent; ``received`` messages) and the action →
  broadcast latencies (s) measured since the previous ``MARK``;
- ``SAMPLES``: one line of JSON: the first message received of each kind the benchmark sizes;
- ``STOP``: stops the bots, closes their connections and exits.

The bots are the SDK's `holdem.client.Bot`, so the driver can run the bots of another git ref
(its ``shared/src`` first on ``PYTHONPATH``) to measure the SDK's own cost before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import uvloop

from holdem.client import Bot, BotStrategy, TableClient

BUY_IN = 200_000
SAMPLED = ("snapshot", "result", "action", "pots_updated")
"""Message kinds (``event`` or ``type``) the benchmark re-encodes to compare sizes."""


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
        kind = message.get("event") or message.get("type")
        if kind == "action" and message.get("seat") == self.seat and self.sent_at is not None:
            self.latencies.append(time.perf_counter() - self.sent_at)
            self.sent_at = None
        if kind in SAMPLED and kind not in self.samples:
            self.samples[str(kind)] = message

    async def _act(self, hand: int, decision: int, legal: dict[str, Any]) -> None:
        if (hand, decision) not in self._decided:
            # Sent once the bot's thinking time is over.
            self.sent_at = time.perf_counter() + self.think_s
        await super()._act(hand, decision, legal)


async def _next_line() -> str:
    line: str = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


async def serve(spec: dict[str, Any]) -> None:
    """Connect the spec's bots, join and seat them when told, then answer the driver's lines
    until ``STOP``."""
    bots: list[TimedBot] = []
    first_of_table: list[TimedBot] = []
    for index, (token, table_id, seat, server, encoding) in enumerate(spec["bots"]):
        client = TableClient(spec["urls"][server], token, encoding=encoding)
        await client.connect()
        bots.append(
            TimedBot(
                client,
                table_id,
                seat=seat,
                buy_in=BUY_IN,
                strategy=BotStrategy(seed=spec["seed"] + index),
                think_s=float(spec["think_s"]),
            )
        )
    try:
        print("CONNECTED", flush=True)
        if await _next_line() != "JOIN":
            return
        for bot in bots:
            await bot.client.join(bot.table_id, as_="player")
        print("JOINED", flush=True)
        if await _next_line() != "SIT":
            return
        for bot in bots:
            await bot.sit_down()
            if bot.seat == 0:
                first_of_table.append(bot)
        await _play(bots, first_of_table)
    finally:
        await asyncio.gather(*(bot.client.close() for bot in bots), return_exceptions=True)


async def _play(bots: list[TimedBot], first_of_table: list[TimedBot]) -> None:
    """Play, answering the driver's lines, until ``STOP``."""
    tasks = [asyncio.create_task(bot.play()) for bot in bots]
    print("READY", flush=True)
    while (line := await _next_line()) != "STOP":
        if line == "MARK":
            answer: dict[str, Any] = {
                "hands": sum(len(bot.hands_seen) for bot in first_of_table),
                "actions": sum(bot.actions for bot in bots),
                "received": sum(bot.received for bot in bots),
                "latencies": [v for bot in bots for v in bot.latencies],
            }
            for bot in bots:
                bot.latencies.clear()
        elif line == "SAMPLES":
            answer = {}
            for bot in bots:
                for kind, message in bot.samples.items():
                    answer.setdefault(kind, message)
        else:
            break  # the driver is gone (end of input) or confused: stop
        print(json.dumps(answer), flush=True)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(spec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
