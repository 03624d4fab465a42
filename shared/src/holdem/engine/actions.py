"""Kinds of player actions, and what a player may do.

The record of an action taken is :class:`holdem.engine.events.ActionTaken`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

__all__ = ["ActionKind", "LegalActions"]


class ActionKind(StrEnum):
    """What a player did. An all-in is a call, bet or raise with ``all_in`` set."""

    FOLD = "fold"
    CHECK = "check"
    CALL = "call"
    BET = "bet"
    RAISE = "raise"


class LegalActions(NamedTuple):
    """What a seat may do now, for a client UI.

    Attributes:
        seat: The seat asked about.
        can_fold: Whether folding is allowed (only on the seat's turn).
        can_check: Whether checking is allowed.
        call_amount: Chips a call would add (all-in for less included); 0 if no call.
        min_raise_to: The smallest legal bet/raise-to, or ``None`` if the seat may not
            bet or raise. When the stack is short of a full raise this is the all-in.
        max_raise_to: The largest legal bet/raise-to (the all-in), or ``None``.
        can_bet: Whether the seat may ``bet`` (nobody bet on the street yet).
        can_raise: Whether the seat may ``raise`` (a bet, or preflop the blinds, to raise).
            At most one of the two is true: a client sends the verb that is.
    """

    seat: int
    can_fold: bool
    can_check: bool
    call_amount: int
    min_raise_to: int | None
    max_raise_to: int | None
    can_bet: bool
    can_raise: bool
