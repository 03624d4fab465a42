"""The record of a finished hand (immutable named tuples, cheap to build and to pack)."""

from __future__ import annotations

from typing import Any, NamedTuple

from holdem.engine.cards import Card

__all__ = ["HandResult", "PotResult"]


class PotResult(NamedTuple):
    """How one pot was settled.

    Attributes:
        amount: Chips in the pot before rake.
        rake: Chips the house took from this pot.
        eligible: Seats that could win it.
        winners: ``(seat, chips won)`` in odd-chip order; the chips add up to
            ``amount - rake``.
    """

    amount: int
    rake: int
    eligible: tuple[int, ...]
    winners: tuple[tuple[int, int], ...]

    def to_wire(self) -> dict[str, Any]:
        """Plain data: a pot's shape (``amount``, ``eligible``) with ``rake`` and
        ``winners`` ``[{"seat", "amount"}]`` (chips won after rake).

        >>> PotResult(4000, 200, (0, 1), ((1, 3800),)).to_wire()
        {'amount': 4000, 'eligible': [0, 1], 'rake': 200, 'winners': [{'seat': 1, 'amount': 3800}]}
        """
        return {
            "amount": self.amount,
            "eligible": list(self.eligible),
            "rake": self.rake,
            "winners": [{"seat": seat, "amount": chips} for seat, chips in self.winners],
        }


class HandResult(NamedTuple):
    """Everything a hand history, the ledger and rakeback need about a finished hand.

    Per-seat tuples are indexed by seat and cover every seat of the table (zero for
    seats not dealt in). For every hand ``sum(net) + rake == 0`` and
    ``sum(rake_by_seat) == rake``.

    Attributes:
        hand_number: The table's hand counter.
        button: The button seat (it may be an empty seat).
        seats: The seats dealt in.
        players: The player id in each seat when the hand ended.
        board: The community cards dealt.
        pots: Each pot, main pot first.
        uncalled: ``(seat, chips)`` returned as uncalled bets; never part of a pot.
        net: Chips won (positive) or lost (negative) by each seat, after rake.
        stacks: Each seat's stack after the hand.
        rake: The house's total.
        rake_by_seat: The rake attributed to each seat, in proportion to its chips in
            the raked pots.
        shown: ``(seat, hole cards)`` shown at showdown, in showing order.
        mucked: Seats that reached showdown and mucked, in showing order.
        commitment: The deck commitment published when the hand started, if seeded. (The
            seed stays with :class:`~holdem.engine.hand.Hand`, server side.)
    """

    hand_number: int
    button: int
    seats: tuple[int, ...]
    players: tuple[str | None, ...]
    board: tuple[Card, ...]
    pots: tuple[PotResult, ...]
    uncalled: tuple[tuple[int, int], ...]
    net: tuple[int, ...]
    stacks: tuple[int, ...]
    rake: int
    rake_by_seat: tuple[int, ...]
    shown: tuple[tuple[int, tuple[Card, ...]], ...]
    mucked: tuple[int, ...]
    commitment: str | None
