"""Test helpers: tables from a few numbers, and hands replayed from compact scripts.

A script is a ``;``-separated list of steps ``p<seat> <verb> [amount]``, verbs being
``fold``, ``check``, ``call``, ``bet <to>``, ``raise <to>`` (both raise-to), ``allin``
and ``timeout``; e.g. ``"p3 raise 6000; p4 call; p0 allin; p1 fold"``. A step for a seat
that is not to act fails with the engine's own error, so scripts double as turn-order
checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from holdem.engine import (
    NO_RAKE,
    ActionTaken,
    Hand,
    RakeRule,
    Table,
    TableConfig,
    stacked_deck,
)

SB, BB = 1_000, 2_000


def make_table(
    stacks: Sequence[int | None],
    *,
    small_blind: int = SB,
    big_blind: int = BB,
    rake: RakeRule = NO_RAKE,
) -> Table:
    """A table with one seat per entry of ``stacks`` (``None``: empty), all ready to play."""
    table = Table(
        TableConfig(
            seats=len(stacks),
            small_blind=small_blind,
            big_blind=big_blind,
            min_buy_in=1,
            max_buy_in=10**12,
            rake=rake,
        )
    )
    for seat, stack in enumerate(stacks):
        if stack is not None:
            table.sit_down(seat, f"p{seat}", stack)
    return table


def deal(
    table: Table,
    hole: Mapping[int, str] | None = None,
    board: str = "",
    *,
    button: int | None = None,
) -> Hand:
    """Start the next hand with chosen hole cards and board (earlier events are dropped)."""
    table.drain_events()
    return table.start_hand(deck=stacked_deck(table.size, hole, board), button=button)


def play(hand: Hand, script: str) -> list[ActionTaken]:
    """Run a script (see the module docstring) and return the action records."""
    done = []
    for step in filter(None, (part.strip() for part in script.split(";"))):
        who, verb, *rest = step.split()
        assert who.startswith("p"), step
        seat = int(who[1:])
        if verb == "bet":
            (amount,) = rest
            done.append(hand.bet(seat, int(amount)))
        elif verb == "raise":
            (amount,) = rest
            done.append(hand.raise_bet(seat, int(amount)))
        elif verb == "allin":
            done.append(hand.all_in(seat))
        else:
            assert not rest, step
            done.append(getattr(hand, verb)(seat))
    return done
