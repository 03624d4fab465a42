"""The state of one hand and the queries on it.

:class:`~holdem.engine.hand.Hand` is one class built from a module per idea: this state,
the betting rules (:mod:`.hand_rules`: what a seat may do now), the flow
(:mod:`.hand_flow`: blinds, the end of a betting round, streets, showdown and payout) and the
actions (:mod:`.hand`: dealing a hand and acting on it).
"""

from __future__ import annotations

from holdem.engine.cards import Card
from holdem.engine.events import (
    Event,
)
from holdem.engine.pots import Pot
from holdem.engine.rake import RakeRule
from holdem.engine.results import HandResult
from holdem.engine.shuffle import Deal, Opening, commit_deck

__all__ = ["HandState"]


class HandState:
    """The state of one hand. Chips are ``int`` won; seats are table indices.

    Per-seat lists are indexed by seat and cover the whole table. The table's ``stacks``
    list is shared, so stacks move as players act. Read the attributes, never write them:
    only the action methods change a hand.

    Attributes:
        number: The table's hand counter.
        button: The button seat (possibly empty).
        small_blind_seat: The seat that posted the small blind, ``-1`` if it was dead.
        big_blind_seat: The seat that posted the big blind.
        street: The current betting round.
        to_act: The seat whose turn it is, ``-1`` when nobody may act.
        current_bet: The street bet to match.
        min_raise: The smallest raise increment (the last full bet or raise).
        dealt: Whether each seat was dealt in.
        folded: Whether each seat is out of the hand (folded, or never dealt in).
        is_all_in: Whether each seat is all-in.
        bets: Each seat's bet on the current street.
        committed: Each seat's chips in the pot this hand, dead blinds included.
        board: The community cards dealt so far.
        pots: The pots as of the last completed betting round.
        shown: Seats whose cards were shown at showdown, in showing order.
        result: The result once the hand is over, else ``None``.
    """

    __slots__ = (
        "acted",
        "actor_count",
        "aggressor",
        "bets",
        "big_blind",
        "big_blind_seat",
        "board",
        "button",
        "cards",
        "commitment",
        "committed",
        "current_bet",
        "deal",
        "deal_checked",
        "dealt",
        "events",
        "folded",
        "is_all_in",
        "live_count",
        "min_raise",
        "number",
        "players",
        "pots",
        "rake",
        "result",
        "seed",
        "seq",
        "shown",
        "size",
        "small_blind",
        "small_blind_seat",
        "stacks",
        "start_stacks",
        "street",
        "to_act",
        "uncalled",
    )

    number: int
    size: int
    small_blind: int
    big_blind: int
    rake: RakeRule
    button: int
    small_blind_seat: int
    big_blind_seat: int
    players: list[str | None]
    stacks: list[int]
    start_stacks: list[int]
    dealt: list[bool]
    folded: list[bool]
    is_all_in: list[bool]
    bets: list[int]
    committed: list[int]
    acted: list[int]
    cards: list[Card]
    board: list[Card]
    street: int
    to_act: int
    current_bet: int
    min_raise: int
    aggressor: int
    live_count: int
    actor_count: int
    events: list[Event]
    seq: int
    commitment: str | None
    seed: bytes | None
    deal: Deal | None
    deal_checked: bool
    pots: list[Pot]
    uncalled: list[tuple[int, int]]
    shown: list[int]
    result: HandResult | None

    # ------------------------------------------------------------------ queries

    @property
    def is_running(self) -> bool:
        """Whether the hand is still being played."""
        return self.result is None

    def hole_cards(self, seat: int) -> tuple[Card, Card] | None:
        """A dealt seat's hole cards (engine-side; views decide who may see them)."""
        if not 0 <= seat < self.size or not self.dealt[seat]:
            return None
        return (self.cards[2 * seat], self.cards[2 * seat + 1])

    def committed_deal(self) -> Deal | None:
        """The deal behind the published commitment, if cards can be opened against it.

        A hand restored from a checkpoint rebuilds it from the seed on first use, and only
        when the rebuilt root is the commitment it published: a hand begun under the old
        ``sha256(seed)`` commitment finishes without openings rather than with false ones.
        """
        if not self.deal_checked:
            self.deal_checked = True
            seed, commitment = self.seed, self.commitment
            if seed is not None and commitment is not None:
                deal = commit_deck(seed, self.cards)
                self.deal = deal if deal.commitment == commitment else None
        return self.deal

    def openings(self, *positions: int) -> tuple[Opening, ...]:
        """The openings of some dealt positions (none when the hand has no commitment).

        The engine opens a position only in the events and views of those who may see it.
        """
        deal = self.committed_deal()
        if deal is None:
            return ()
        return tuple([deal.opening(p) for p in positions])
