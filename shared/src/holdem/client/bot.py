"""A simple bot: joins, sits, and plays every decision it is asked for.

The strategy is deliberately plain (mostly check/call, some minimum raises, some folds to
bets), seeded so a run can be repeated. It answers each decision once: a ``turn`` event
naming its seat, or a snapshot showing its turn (after a reconnect), is identified by its hand
and ``decision`` number. The same decision announced again (the turn given back after a
takeover, a snapshot that predates the bot's act) is not answered twice: the client resends
an unanswered act after a reconnect and the table applies it once; an act the table refused
may be chosen again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from typing import Any

from holdem.client.client import ClientError, ClosedError, TableClient

__all__ = ["Bot", "BotStrategy"]


@dataclass
class BotStrategy:
    """Probabilities of the bot's choices."""

    raise_rate: float = 0.15
    fold_to_bet_rate: float = 0.2
    seed: int | None = None
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def choose(self, legal: dict[str, Any]) -> tuple[str, int | None]:
        """An action allowed by `legal` (the server's ``legal_actions``)."""
        roll = self.rng.random()
        min_raise = legal.get("min_raise_to")
        if min_raise is not None and roll < self.raise_rate:
            # The server refuses a bet where there is a bet to raise, and a raise of nothing.
            return ("bet" if legal.get("can_bet") else "raise"), int(min_raise)
        if legal.get("can_check"):
            return "check", None
        if roll < self.raise_rate + self.fold_to_bet_rate:
            return "fold", None
        return "call", None


class Bot:
    """Plays one seat at one table through a `TableClient` until stopped."""

    def __init__(
        self,
        client: TableClient,
        table_id: int,
        seat: int,
        buy_in: int,
        strategy: BotStrategy | None = None,
        think_s: float = 0.0,
    ) -> None:
        self.client = client
        self.table_id = table_id
        self.seat = seat
        self.buy_in = buy_in
        self.strategy = strategy or BotStrategy()
        self.think_s = think_s
        self.hands_seen: set[int] = set()
        self.actions = 0
        self.errors: list[str] = []
        self._decided: dict[tuple[int, int], str] = {}
        """The decisions (hand, decision number) this bot answered, with its act's id."""

    async def sit_down(self) -> None:
        snapshot = await self.client.join(self.table_id, as_="player")
        mine = snapshot["seats"][self.seat]
        sitting = any(c["type"] == "sit" for c in self.client.unanswered(self.table_id))
        if mine["player_id"] != str(self.client.user_id) and not sitting:
            await self.client.sit(self.table_id, self.seat, self.buy_in)

    async def play(self, hands: int | None = None) -> None:
        """React to turns until `hands` hands were seen end (forever if None)."""
        async for message in self.client.messages():
            kind = message.get("type")
            if kind == "error":
                # Refused: the decision may be answered again when it is shown again.
                refused = str(message.get("id"))
                self._decided = {k: i for k, i in self._decided.items() if i != refused}
            if kind == "hand_result" and message.get("table_id") == self.table_id:
                self.hands_seen.add(int(message["hand"]))
                self._decided = {k: i for k, i in self._decided.items() if k[0] > message["hand"]}
                if hands is not None and len(self.hands_seen) >= hands:
                    return
            elif kind == "event" and message.get("event") == "turn":
                if message.get("seat") == self.seat and message.get("table_id") == self.table_id:
                    await self._act(int(message["hand"]), message["decision"], message["legal"])
            elif kind == "snapshot" and message.get("table_id") == self.table_id:
                legal = message.get("legal_actions")
                clock = message.get("clock") or {}
                if message.get("running") and legal and clock.get("seat") == self.seat:
                    await self._act(int(message["hand_number"]), clock["decision"], legal)
            elif kind == "notice" and message.get("code") == "sat_out":
                with contextlib.suppress(ClientError):
                    await self.client.sit_in(self.table_id)
            elif kind == "reality_check" and message.get("table_id") == self.table_id:
                # A bot has read it: acknowledged, it is dealt in again (a long load test).
                with contextlib.suppress(ClientError):
                    await self.client.reality_check_ack(self.table_id)

    async def _act(self, hand: int, decision: int, legal: dict[str, Any]) -> None:
        if (hand, decision) in self._decided:
            return  # answered: the client resends the act if its answer was lost
        if self.think_s:
            await asyncio.sleep(self.think_s)
        action, amount = self.strategy.choose(legal)
        command_id = self.client.new_id()
        self._decided[hand, decision] = command_id
        try:
            # Not awaited: the answer comes back through the reader while we keep reading.
            await self.client.send_command(
                {
                    "id": command_id,
                    "type": "act",
                    "table_id": self.table_id,
                    "hand": hand,
                    "decision": decision,
                    "action": action,
                    "seq": self.client.next_seq(self.table_id),
                    **({"amount": amount} if amount is not None else {}),
                }
            )
            self.actions += 1
        except (ClientError, ClosedError) as exc:
            self.errors.append(str(exc))
