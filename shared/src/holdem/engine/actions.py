"""Records of player actions and of what a player may do.

Amounts use raise-to semantics: ``amount`` is the player's whole bet on the street after
the action, ``added`` the chips that left their stack for it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

__all__ = ["Action", "ActionKind", "LegalActions"]


class ActionKind(StrEnum):
    """What a player did. An all-in is a call, bet or raise with ``all_in`` set."""

    FOLD = "fold"
    CHECK = "check"
    CALL = "call"
    BET = "bet"
    RAISE = "raise"


class Action(NamedTuple):
    """One action taken, as returned by the action methods of a hand.

    Attributes:
        seat: Who acted.
        kind: What they did.
        amount: Their total bet on this street after the action (raise-to).
        added: Chips moved from their stack by this action.
        all_in: Whether the action put them all-in.
    """

    seat: int
    kind: ActionKind
    amount: int
    added: int
    all_in: bool


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
    """

    seat: int
    can_fold: bool
    can_check: bool
    call_amount: int
    min_raise_to: int | None
    max_raise_to: int | None
