"""Main and side pots, and splitting a pot between tied winners.

Pots are layered by the distinct contribution levels of the hand (after uncalled bets
were returned). Each layer takes from every contributor what they put in between the
previous level and this one, so a folded player's chips are dead money in every layer
they reached; only players still in the hand are eligible. Adjacent layers with the
same eligible players are merged.

>>> build_pots([300, 1000, 1000, 600], [True, True, True, False])
[Pot(amount=1200, eligible=(0, 1, 2)), Pot(amount=1700, eligible=(1, 2))]
>>> split_pot(35, [4, 0, 2])
[(4, 12), (0, 12), (2, 11)]
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, NamedTuple

__all__ = ["Pot", "build_pots", "odd_chip_order", "split_pot"]


class Pot(NamedTuple):
    """One pot: its chips and the seats that can win it, in seat order."""

    amount: int
    eligible: tuple[int, ...]

    def to_wire(self) -> dict[str, Any]:
        """Plain data, the one shape of a pot everywhere: ``{"amount", "eligible"}`` (a
        settled pot adds ``rake`` and ``winners``: :meth:`PotResult.to_wire`).

        >>> Pot(3000, (0, 2)).to_wire()
        {'amount': 3000, 'eligible': [0, 2]}
        """
        return {"amount": self.amount, "eligible": list(self.eligible)}


def build_pots(contributions: Sequence[int], live: Sequence[bool]) -> list[Pot]:
    """Layer the chips of a hand into a main pot and side pots.

    Args:
        contributions: Chips each seat put in this hand (index = seat), dead blinds
            included and uncalled bets already returned.
        live: Whether each seat is still in the hand (dealt in and not folded).

    Returns:
        The pots from the main pot up. Chips above the highest level any live player
        reached (which can only be dead money) join the pot below them.
    """
    seats = [s for s, flag in enumerate(live) if flag]
    total = sum(contributions)
    if not total or not seats:
        return []
    first = contributions[seats[0]]
    if all(contributions[s] == first for s in seats):
        # The common case (no live player all-in for less): one pot, every live player
        # eligible; folded chips above the live level could only be dead money anyway.
        return [Pot(total, tuple(seats))]
    # Layering at every contribution level and merging adjacent layers with the same
    # eligible players comes to layering at the live players' levels only: eligibility
    # changes nowhere else. Folded chips below a level are dead money in its layer.
    ordered = sorted(contributions)
    running = [0, *accumulate(ordered)]
    count = len(ordered)
    pots: list[Pot] = []
    below = 0  # chips in the pots so far: every contribution capped at the last level
    for level in sorted({contributions[s] for s in seats}):
        if not level:
            continue
        under = bisect_left(ordered, level)
        capped = running[under] + level * (count - under)
        pots.append(Pot(capped - below, tuple([s for s in seats if contributions[s] >= level])))
        below = capped
    if total > below:
        # Folded chips above every live player's level: dead money for the top pot.
        pots[-1] = Pot(pots[-1].amount + total - below, pots[-1].eligible)
    return pots


def odd_chip_order(seats: Sequence[int], button: int, table_size: int) -> list[int]:
    """Seats in the order that receives odd chips: clockwise from the left of the button.

    >>> odd_chip_order([0, 2, 5], button=2, table_size=6)
    [5, 0, 2]
    """
    return sorted(seats, key=lambda seat: (seat - button - 1) % table_size)


def split_pot(amount: int, winners: Sequence[int]) -> list[tuple[int, int]]:
    """Split a pot between tied winners, one odd chip each (TDA 20, Robert's Rules).

    Args:
        amount: The chips to split (after rake).
        winners: The tied winners already in odd-chip order (see :func:`odd_chip_order`).

    Returns:
        ``(seat, chips)`` pairs in the order given; no seat gets more than one odd chip.
    """
    count = len(winners)
    share, odd = divmod(amount, count)
    return [(seat, share + 1 if i < odd else share) for i, seat in enumerate(winners)]
