"""The table session's small types and limits: its clocks (`TableTimes`), the running `Turn`,
a player's protection `Guard`, a refusal (`Refused`), the shape of a rule that needs money
steps (`Flow`), and its fixed limits (how old a command may be, how many answers are kept,
how soon a refused settlement or closing is tried again, how many hands the lobby sees).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from holdem.session.commands import Done, Failed, Outcome
from holdem.session.effects import MoneyStep

__all__ = [
    "ANSWERS_KEPT",
    "CLOSE_RETRY_S",
    "COMMAND_MAX_AGE_S",
    "OUTBOX_RETRY_S",
    "RECENT_HANDS_KEPT",
    "Finish",
    "Flow",
    "Guard",
    "Refused",
    "TableTimes",
    "Turn",
    "expect",
    "log",
]


log = logging.getLogger("edge.tables")

COMMAND_MAX_AGE_S = 30.0
"""Commands older than this when read are refused (``stale_action``; e.g. left in the stream of
a dead table), except a player's exclusion (``exclude``), applied however late."""
OUTBOX_RETRY_S = 1.0
"""How long a settlement PostgreSQL refused waits before it is tried again."""
ANSWERS_KEPT = 16
"""The results of a user's last state-changing commands kept in the checkpoint, to answer a
resend (after a reconnect or a takeover) with the original result instead of acting twice."""
CLOSE_RETRY_S = 0.5
"""How long a closing table waits to try again to finish when PostgreSQL refused."""
RECENT_HANDS_KEPT = 60
"""The latest hands' times and pots kept for the lobby's live figures."""


class Refused(Exception):  # noqa: N818  (named as a condition, as the protocol errors are)
    """A command the table refuses, with the stable ``code`` its answer carries."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TableTimes:
    """The table's clocks, in seconds, and its wait list's size (`holdem.config.GameSettings`)."""

    action_clock_s: float
    time_bank_s: float
    reconnect_grace_s: float
    timeouts_before_sit_out: int
    takeover_min_clock_s: float
    between_hands_s: float
    wait_list_offer_s: float = 30.0
    wait_list_max: int = 50


@dataclass
class Turn:
    """The running turn: whose, since when, until when, and what it is made of."""

    seat: int
    started: float
    deadline: float
    clock: float
    grace: float
    decision: int
    """The hand's decision number when the turn began (an act for another one is stale)."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "seat": self.seat,
            "started": self.started,
            "deadline": self.deadline,
            "clock": self.clock,
            "grace": self.grace,
            "street_seq": self.decision,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Turn:
        return cls(
            seat=int(data["seat"]),
            started=float(data["started"]),
            deadline=float(data["deadline"]),
            clock=float(data["clock"]),
            grace=float(data.get("grace") or 0.0),
            decision=int(data["street_seq"]),
        )


@dataclass
class Guard:
    """A player's session at this table (player protection)."""

    started: float
    ends: float | None
    """When the session limit ends the session (None: no limit)."""
    every: float
    next_check: float
    net: int = 0
    check_due: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "ends": self.ends,
            "every": self.every,
            "next_check": self.next_check,
            "net": self.net,
            "check_due": self.check_due,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Guard:
        ends = data.get("ends")
        return cls(
            started=float(data["started"]),
            ends=None if ends is None else float(ends),
            every=float(data["every"]),
            next_check=float(data["next_check"]),
            net=int(data.get("net", 0)),
            check_due=bool(data.get("check_due", False)),
        )


Flow = Generator[MoneyStep, Outcome, dict[str, Any] | None]
"""A rule that needs money steps: it yields each step and is sent the step's outcome."""
Finish = Callable[[dict[str, Any] | None, BaseException | None], None]


def expect(outcome: Outcome) -> Done:
    """The step's `Done`, or its failure raised as `Refused` (``internal_error`` when the
    failure had no code of its own)."""
    if isinstance(outcome, Failed):
        raise Refused(outcome.code or "internal_error", outcome.message)
    return outcome
