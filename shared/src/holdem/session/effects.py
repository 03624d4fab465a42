"""What a table session asks of its owner: messages to publish, checkpoints, money steps.

A `MoneyStep` is the only kind of effect with an answer: the owner takes it at once (one
PostgreSQL transaction, idempotent by its ``key`` or by the hand's number) and feeds the
outcome (`holdem.session.commands.Done` / `Failed`) back to the session before anything else.
A step is always the last effect of a list. The session's state is never checkpointed while
it waits for an outcome, so a crash between a step and its outcome repeats the step (same
key: the ledger replays it) when the next owner applies the same command again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from holdem.session.settlement import HandSettlement

__all__ = [
    "BuyIn",
    "CashOut",
    "Checkpoint",
    "Effect",
    "FinishClosing",
    "HandFinished",
    "MoneyStep",
    "Publish",
    "SeatTaken",
    "Settle",
    "TableClosed",
    "TopUpChips",
]


@dataclass(frozen=True)
class Publish:
    """A message for the table's channel (``user`` None: every viewer), for one user's
    connections, or for one connection of that user (``conn``: a command's answer)."""

    user: int | None
    conn: str | None
    message: dict[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """The session changed: store it (with what was published since the last one)."""


@dataclass(frozen=True)
class BuyIn:
    """Move the buy-in from the player's wallet to their seat and record the seat; answer
    `Done` with the player's protection rules (read first: nothing moves if that fails)."""

    seat: int
    user: int
    amount: int
    key: str


@dataclass(frozen=True)
class TopUpChips:
    """Move more chips from the wallet to the player's seat."""

    user: int
    amount: int
    key: str


@dataclass(frozen=True)
class CashOut:
    """Move the stack back to the wallet and close the seat. A seat closed already (its
    cash-out committed before a takeover) is `Done`."""

    seat: int
    user: int
    amount: int
    key: str


@dataclass(frozen=True)
class Settle:
    """Write a finished hand to PostgreSQL (idempotent by table and hand number)."""

    settlement: HandSettlement


@dataclass(frozen=True)
class FinishClosing:
    """Mark the closing table closed (everybody is cashed out)."""


MoneyStep = BuyIn | TopUpChips | CashOut | Settle | FinishClosing


@dataclass(frozen=True)
class HandFinished:
    """A hand ended (for the owner's figures and log); its settlement is in the outbox."""

    settlement: HandSettlement
    rake: int


@dataclass(frozen=True)
class SeatTaken:
    """A player sat down here: the owner takes them off the wait lists of other tables
    (`holdem.adapters.relay.Relay.drop_waiting`)."""

    user: int


@dataclass(frozen=True)
class TableClosed:
    """The table is closed: the owner stores the last checkpoint and stops running it."""


Effect = Publish | Checkpoint | MoneyStep | HandFinished | SeatTaken | TableClosed
