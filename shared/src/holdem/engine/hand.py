"""One hand of No-Limit Hold'em: blinds, betting rounds, runouts, showdown and payout.

A :class:`Hand` is created by :meth:`holdem.engine.table.Table.start_hand`. Players act
through three faces per action (pokerkit style): ``verify_x(seat, ...)`` raises an
:class:`~holdem.engine.errors.ActionError` with a stable code, ``can_x(seat, ...)``
answers yes or no, and ``x(seat, ...)`` acts and returns an
:class:`~holdem.engine.events.ActionTaken` record (the same one appended to the
events). Amounts use raise-to semantics.

Betting rules (POKER_RULES.md, "Betting"):

* The minimum bet is the big blind; a raise must raise by at least the largest full bet
  or raise of the round (pre-flop the big blind is the opening bet, and players entering
  must call the full big blind even if the big blind was posted all-in for less). An
  all-in for less is always allowed. There is no cap on raises (TDA 43-A, 51-B).
* An all-in raise smaller than a full raise does not change the minimum raise and does
  not reopen the betting: a player who already acted may raise again only when the bet
  they now face exceeds the bet after their last action by at least a full raise, which
  also covers several short all-ins adding up to a full raise (TDA 47-A).
* Nobody may bet or raise when no opponent could put in more than the current bet
  (each has folded, is all-in, or is covered by it): the raise could never be called.
* When betting closes, the part of the largest bet nobody matched goes back to its
  owner before the pots are built; it is never in a pot or raked (TDA 15-B).
* When at most one player can still bet, the remaining board is dealt out (runout).
* ``bet`` opens a street's betting and ``raise_bet`` raises a bet made (pre-flop: the
  blinds); each refuses the other's situation (``cannot_bet``, ``nothing_to_raise``)
  instead of taking one for the other. ``legal_actions`` says which applies.
"""

from __future__ import annotations

from holdem.engine.actions import ActionKind
from holdem.engine.blinds import BlindPlan
from holdem.engine.cards import Card
from holdem.engine.dealing import Street
from holdem.engine.events import (
    ActionTaken,
    Event,
    HandStarted,
    HoleCardsDealt,
)
from holdem.engine.hand_flow import HandFlow
from holdem.engine.hand_rules import HandRules
from holdem.engine.rake import RakeRule
from holdem.engine.shuffle import Deal

__all__ = ["Hand"]

_FOLD, _CHECK, _CALL = ActionKind.FOLD, ActionKind.CHECK, ActionKind.CALL
_BET, _RAISE = ActionKind.BET, ActionKind.RAISE
_PREFLOP = Street.PREFLOP


class Hand(HandRules, HandFlow):
    """The state machine of one hand. Chips are ``int`` won; seats are table indices.

    The attributes are :class:`~holdem.engine.hand_state.HandState`'s: read them, never write
    them; only the action methods change a hand.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        number: int,
        small_blind: int,
        big_blind: int,
        rake: RakeRule,
        plan: BlindPlan,
        players: list[str | None],
        stacks: list[int],
        cards: list[Card],
        deal: Deal | None,
        seed: bytes | None,
        events: list[Event],
    ) -> None:
        """Deal a new hand: post the blinds, deal hole cards, hand the turn to the first player.

        Args:
            number: The hand number.
            small_blind: The small blind.
            big_blind: The big blind.
            rake: The rake rule.
            plan: Positions, players and blinds from :func:`~holdem.engine.blinds.plan_hand`.
            players: The table's player ids (shared, read at the end for the result).
            stacks: The table's stacks (shared and updated in place).
            cards: The hand's cards in the layout of :mod:`holdem.engine.dealing`.
            deal: The committed deal, if the cards came from a seed: its commitment is
                published and the cards are opened to those who may see them.
            seed: The seed the deal came from, kept server side (never in an event).
            events: The list events are appended to (shared with the table).
        """
        size = len(stacks)
        self.number = number
        self.size = size
        self.small_blind = small_blind
        self.big_blind = big_blind
        self.rake = rake
        self.button = plan.button
        self.small_blind_seat = -1 if plan.small_blind_seat is None else plan.small_blind_seat
        self.big_blind_seat = plan.big_blind_seat
        self.players = players
        self.stacks = stacks
        dealt = [False] * size
        for seat in plan.dealt:
            dealt[seat] = True
        self.dealt = dealt
        self.start_stacks = [stacks[s] if dealt[s] else 0 for s in range(size)]
        self.folded = [not d for d in dealt]
        self.is_all_in = [False] * size
        self.bets = [0] * size
        self.committed = [0] * size
        self.acted = [-1] * size
        self.cards = cards
        self.board = []
        self.street = _PREFLOP
        self.to_act = -1
        self.current_bet = big_blind
        self.min_raise = big_blind
        self.aggressor = -1
        self.live_count = len(plan.dealt)
        self.actor_count = len(plan.dealt)
        self.events = events
        self.commitment = None if deal is None else deal.commitment
        self.seed = seed
        self.deal = deal
        self.deal_checked = True
        self.pots = []
        self.uncalled = []
        self.shown = []
        self.result = None
        events.append(
            HandStarted(
                0,
                number,
                plan.button,
                plan.small_blind_seat,
                plan.big_blind_seat,
                small_blind,
                big_blind,
                plan.dealt,
                tuple([stacks[s] for s in plan.dealt]),
                self.commitment,
            )
        )
        self.seq = 1
        for seat, blind in plan.posts:
            self._post(seat, blind)
        seq = self.seq
        after = plan.button + 1
        for seat in [*range(after, size), *range(after)]:  # from the left of the button
            if dealt[seat]:
                events.append(
                    HoleCardsDealt(
                        seq,
                        seat,
                        (cards[2 * seat], cards[2 * seat + 1]),
                        self.openings(2 * seat, 2 * seat + 1),
                    )
                )
                seq += 1
        self.seq = seq
        self._advance(plan.big_blind_seat)

    # ------------------------------------------------------------------ actions

    def fold(self, seat: int) -> ActionTaken:
        """Fold. Allowed on the player's turn even when a check is possible."""
        self._check_turn(seat)
        self.folded[seat] = True
        self.live_count -= 1
        self.actor_count -= 1
        action = ActionTaken(self.seq, seat, _FOLD, self.bets[seat], 0, False)
        self.events.append(action)
        self.seq += 1
        self._advance(seat)
        return action

    def check(self, seat: int) -> ActionTaken:
        """Check."""
        self.verify_check(seat)
        self.acted[seat] = self.current_bet
        action = ActionTaken(self.seq, seat, _CHECK, self.bets[seat], 0, False)
        self.events.append(action)
        self.seq += 1
        self._advance(seat)
        return action

    def call(self, seat: int) -> ActionTaken:
        """Call the current bet, or all-in for less when the stack is short."""
        self.verify_call(seat)
        return self._put(seat, self.current_bet)

    def raise_to(self, seat: int, amount: int) -> ActionTaken:
        """Bet (no bet yet on the street) or raise to a street total of ``amount``, whichever
        applies (scripts and simulations; a player's message names the one it means: `bet`,
        `raise_bet`)."""
        self.verify_raise_to(seat, amount)
        return self._put(seat, amount)

    def bet(self, seat: int, amount: int) -> ActionTaken:
        """Bet ``amount`` where nobody bet on the street yet (`verify_bet`)."""
        self.verify_bet(seat, amount)
        return self._put(seat, amount)

    def raise_bet(self, seat: int, amount: int) -> ActionTaken:
        """Raise the street's bet to a total of ``amount`` (`verify_raise`)."""
        self.verify_raise(seat, amount)
        return self._put(seat, amount)

    def all_in(self, seat: int) -> ActionTaken:
        """Put the whole stack in: a call, bet or raise depending on the bet faced."""
        self.verify_all_in(seat)
        return self._put(seat, self.bets[seat] + self.stacks[seat])

    def timeout(self, seat: int) -> ActionTaken:
        """The clock ran out for ``seat``: check if possible, otherwise fold (TDA 29)."""
        self._check_turn(seat)
        if self.bets[seat] >= self.current_bet:
            return self.check(seat)
        return self.fold(seat)

    def _put(self, seat: int, target: int) -> ActionTaken:
        """Move chips so the seat's street bet becomes ``target`` (capped by the stack)."""
        bets = self.bets
        stacks = self.stacks
        bet = bets[seat]
        stack = stacks[seat]
        added = target - bet
        if added >= stack:
            added = stack
            all_in = True
            self.is_all_in[seat] = True
            self.actor_count -= 1
        else:
            all_in = False
        stacks[seat] = stack - added
        amount = bet + added
        bets[seat] = amount
        self.committed[seat] += added
        current = self.current_bet
        if amount > current:
            kind = _RAISE if current else _BET
            if amount - current >= self.min_raise:
                self.min_raise = amount - current
            self.current_bet = amount
            self.aggressor = seat
            self.acted[seat] = amount
        else:
            kind = _CALL
            self.acted[seat] = current
        action = ActionTaken(self.seq, seat, kind, amount, added, all_in)
        self.events.append(action)
        self.seq += 1
        self._advance(seat)
        return action
