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

from collections.abc import Callable

from holdem.engine.actions import ActionKind, LegalActions
from holdem.engine.blinds import BlindPlan
from holdem.engine.cards import Card
from holdem.engine.dealing import Street
from holdem.engine.errors import (
    AmountExceedsStackError,
    BettingNotReopenedError,
    BetTooSmallError,
    CannotBetError,
    CannotCheckError,
    EngineError,
    HandNotRunningError,
    InvalidAmountError,
    InvalidSeatError,
    NoOpponentToRaiseError,
    NothingToCallError,
    NothingToRaiseError,
    NotYourTurnError,
    RaiseTooSmallError,
)
from holdem.engine.evaluator import evaluate
from holdem.engine.events import (
    ActionTaken,
    BlindKind,
    BlindPosted,
    Event,
    HandEnded,
    HandMucked,
    HandShown,
    HandStarted,
    HoleCardsDealt,
    PotAwarded,
    PotsUpdated,
    RakeTaken,
    StreetDealt,
    UncalledBetReturned,
)
from holdem.engine.pots import Pot, build_pots, odd_chip_order, split_pot
from holdem.engine.rake import RakeRule, take_rake
from holdem.engine.results import HandResult, PotResult
from holdem.engine.showdown import reveal, showdown_order
from holdem.engine.shuffle import Deal, Opening, commit_deck

__all__ = ["Hand"]

_FOLD, _CHECK, _CALL = ActionKind.FOLD, ActionKind.CHECK, ActionKind.CALL
_BET, _RAISE = ActionKind.BET, ActionKind.RAISE
_PREFLOP, _RIVER = Street.PREFLOP, Street.RIVER
_STREETS = tuple(Street)
_NEW_CARDS = ((0, 0), (0, 3), (3, 4), (4, 5))  # board slice dealt on each street


class Hand:
    """The state machine of one hand. Chips are ``int`` won; seats are table indices.

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

    def legal_actions(self, seat: int) -> LegalActions:
        """What ``seat`` may do now; everything false/``None`` when it is not their turn."""
        if seat != self.to_act or seat < 0:
            return LegalActions(seat, False, False, 0, None, None, False, False)
        bet = self.bets[seat]
        stack = self.stacks[seat]
        current = self.current_bet
        to_call = current - bet
        call_amount = (to_call if to_call < stack else stack) if to_call > 0 else 0
        most = bet + stack
        acted = self.acted[seat]
        if (
            most > current
            and (acted < 0 or current - acted >= self.min_raise)
            and self._raise_can_be_called(seat)
        ):
            least = current + self.min_raise
            return LegalActions(
                seat,
                True,
                to_call <= 0,
                call_amount,
                min(least, most),
                most,
                current == 0,
                current > 0,
            )
        return LegalActions(seat, True, to_call <= 0, call_amount, None, None, False, False)

    # ------------------------------------------------------------------ verify_*

    def _check_turn(self, seat: int) -> None:
        if seat != self.to_act or seat < 0 or type(seat) is not int:
            if self.result is not None:
                raise HandNotRunningError(f"hand {self.number} is over")
            if type(seat) is not int or not 0 <= seat < self.size:
                raise InvalidSeatError(f"no seat {seat!r} at a {self.size}-seat table")
            raise NotYourTurnError(f"seat {seat} may not act; seat {self.to_act} is to act")

    def verify_fold(self, seat: int) -> None:
        """Raise unless ``seat`` may fold (it is their turn)."""
        self._check_turn(seat)

    def verify_check(self, seat: int) -> None:
        """Raise unless ``seat`` may check (their turn, no bet to call)."""
        self._check_turn(seat)
        if self.bets[seat] < self.current_bet:
            raise CannotCheckError(
                f"seat {seat} faces a bet of {self.current_bet}: call, raise or fold"
            )

    def verify_call(self, seat: int) -> None:
        """Raise unless ``seat`` may call (their turn, a bet to call)."""
        self._check_turn(seat)
        if self.bets[seat] >= self.current_bet:
            raise NothingToCallError(f"seat {seat} has nothing to call: check or bet")

    def _check_may_raise(self, seat: int) -> None:
        acted = self.acted[seat]
        if acted >= 0 and self.current_bet - acted < self.min_raise:
            raise BettingNotReopenedError(
                f"seat {seat} already acted and faces no full raise since: call or fold"
            )
        if not self._raise_can_be_called(seat):
            raise NoOpponentToRaiseError(
                "no opponent could put in more than the current bet: call or fold"
            )

    def _raise_can_be_called(self, seat: int) -> bool:
        """Whether an opponent still in the hand could put in more than the current bet.

        When every opponent has folded, is all-in, or is covered by the current bet, a raise
        could never be called (it would all come back as an uncalled bet): only call or fold.
        """
        current, bets, stacks = self.current_bet, self.bets, self.stacks
        folded, is_all_in = self.folded, self.is_all_in
        return any(
            s != seat and not folded[s] and not is_all_in[s] and bets[s] + stacks[s] > current
            for s in range(self.size)
        )

    def verify_raise_to(self, seat: int, amount: int) -> None:
        """Raise unless ``seat`` may bet or raise to a street total of ``amount``."""
        self._check_turn(seat)
        if type(amount) is not int:
            raise InvalidAmountError(f"amount must be an int of won: {amount!r}")
        self._check_may_raise(seat)
        bet = self.bets[seat]
        most = bet + self.stacks[seat]
        if amount > most:
            raise AmountExceedsStackError(f"seat {seat} can bet at most {most} this street")
        current = self.current_bet
        least = current + self.min_raise
        if amount < least and (amount != most or amount <= current):
            if current == 0:
                raise BetTooSmallError(f"the minimum bet is {least} (or all-in)")
            raise RaiseTooSmallError(f"the minimum raise is to {least} (or all-in)")

    def verify_bet(self, seat: int, amount: int) -> None:
        """Raise unless ``seat`` may open the betting of the street with a bet of ``amount``.

        A bet when somebody bet already (preflop: the blinds) is refused, never taken as a
        raise: the player meant something else.
        """
        self._check_turn(seat)
        if self.current_bet > 0:
            raise CannotBetError(
                f"seat {seat} faces a bet of {self.current_bet}: raise, call or fold"
            )
        self.verify_raise_to(seat, amount)

    def verify_raise(self, seat: int, amount: int) -> None:
        """Raise unless ``seat`` may raise a bet already made on the street to ``amount``.

        A raise when nobody bet yet is refused, never taken as a bet.
        """
        self._check_turn(seat)
        if self.current_bet == 0:
            raise NothingToRaiseError(f"nobody bet yet: seat {seat} may bet or check")
        self.verify_raise_to(seat, amount)

    def verify_all_in(self, seat: int) -> None:
        """Raise unless ``seat`` may put their whole stack in."""
        self._check_turn(seat)
        if self.bets[seat] + self.stacks[seat] > self.current_bet:
            self._check_may_raise(seat)

    # ------------------------------------------------------------------ can_*

    @staticmethod
    def _passes(check: Callable[[], None]) -> bool:
        try:
            check()
        except EngineError:
            return False
        return True

    def can_fold(self, seat: int) -> bool:
        """Whether ``seat`` may fold now."""
        return self._passes(lambda: self.verify_fold(seat))

    def can_check(self, seat: int) -> bool:
        """Whether ``seat`` may check now."""
        return self._passes(lambda: self.verify_check(seat))

    def can_call(self, seat: int) -> bool:
        """Whether ``seat`` may call now."""
        return self._passes(lambda: self.verify_call(seat))

    def can_raise_to(self, seat: int, amount: int) -> bool:
        """Whether ``seat`` may bet or raise to ``amount`` now."""
        return self._passes(lambda: self.verify_raise_to(seat, amount))

    def can_bet(self, seat: int, amount: int) -> bool:
        """Whether ``seat`` may open the street's betting with ``amount`` now."""
        return self._passes(lambda: self.verify_bet(seat, amount))

    def can_raise(self, seat: int, amount: int) -> bool:
        """Whether ``seat`` may raise the street's bet to ``amount`` now."""
        return self._passes(lambda: self.verify_raise(seat, amount))

    def can_all_in(self, seat: int) -> bool:
        """Whether ``seat`` may go all-in now."""
        return self._passes(lambda: self.verify_all_in(seat))

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

    # ------------------------------------------------------------------ flow

    def _post(self, seat: int, blind: BlindKind) -> None:
        small = blind is BlindKind.SMALL or blind is BlindKind.DEAD_SMALL
        amount = self.small_blind if small else self.big_blind
        stack = self.stacks[seat]
        paid = amount if amount < stack else stack
        self.stacks[seat] = stack - paid
        self.committed[seat] += paid
        if blind is not BlindKind.DEAD_SMALL:
            self.bets[seat] += paid
        all_in = paid == stack
        if all_in and not self.is_all_in[seat]:
            self.is_all_in[seat] = True
            self.actor_count -= 1
        self.events.append(BlindPosted(self.seq, seat, blind, paid, all_in))
        self.seq += 1

    def _advance(self, seat: int) -> None:
        """Give the turn to the next player who must act, or close the betting round."""
        if self.live_count > 1:
            size = self.size
            folded = self.folded
            is_all_in = self.is_all_in
            acted = self.acted
            bets = self.bets
            current = self.current_bet
            nxt = seat
            for _ in range(size):
                nxt += 1
                if nxt == size:
                    nxt = 0
                if (
                    not folded[nxt]
                    and not is_all_in[nxt]
                    and (acted[nxt] < 0 or bets[nxt] < current)
                ):
                    break
            else:
                nxt = -1
            if nxt >= 0:
                if self.actor_count > 1:
                    self.to_act = nxt
                    return
                # The only player who can still act need not act if nobody can answer
                # and they already match every live bet.
                mine = bets[nxt]
                for other in range(size):
                    if other != nxt and not folded[other] and bets[other] > mine:
                        self.to_act = nxt
                        return
        self._end_round()

    def _end_round(self) -> None:
        self.to_act = -1
        bets = self.bets
        top = second = 0
        top_seat = -1
        for seat, bet in enumerate(bets):
            if bet > top:
                second = top
                top = bet
                top_seat = seat
            elif bet > second:
                second = bet
        if top > second:
            self._return_uncalled(top_seat, top - second)
        live = [not f for f in self.folded]
        self.pots = build_pots(self.committed, live)
        self.events.append(PotsUpdated(self.seq, tuple(self.pots)))
        self.seq += 1
        self.bets = [0] * self.size
        if self.live_count == 1:
            self._settle(None)
        elif self.street == _RIVER:
            self._showdown()
        elif self.actor_count < 2:
            while self.street < _RIVER:
                self._deal_street()
            self._showdown()
        else:
            self._deal_street()
            self.current_bet = 0
            self.min_raise = self.big_blind
            self.aggressor = -1
            self.acted = [-1] * self.size
            self._advance(self.button)

    def _return_uncalled(self, seat: int, amount: int) -> None:
        self.stacks[seat] += amount
        self.committed[seat] -= amount
        self.bets[seat] -= amount
        if self.is_all_in[seat] and not self.folded[seat]:
            self.is_all_in[seat] = False
            self.actor_count += 1
        self.uncalled.append((seat, amount))
        self.events.append(UncalledBetReturned(self.seq, seat, amount))
        self.seq += 1

    def _deal_street(self) -> None:
        street = _STREETS[self.street + 1]
        self.street = street
        first, last = _NEW_CARDS[street.value]
        start = 2 * self.size
        new = self.cards[start + first : start + last]
        self.board.extend(new)
        opened = self.openings(*range(start + first, start + last))
        self.events.append(StreetDealt(self.seq, street, tuple(new), tuple(self.board), opened))
        self.seq += 1

    def _showdown(self) -> None:
        cards = self.cards
        board = self.board
        folded = self.folded
        size = self.size
        live = [s for s in range(size) if not folded[s]]
        values = {s: evaluate([cards[2 * s], cards[2 * s + 1], *board]) for s in live}
        order = showdown_order(
            live, self.button, size, self.aggressor if self.aggressor >= 0 else None
        )
        is_all_in = self.is_all_in
        everyone = any(is_all_in[s] for s in live)
        shown, mucked = reveal(order, values, everyone_shows=everyone)
        self.shown = shown
        events = self.events
        seq = self.seq
        for seat in order:
            if seat in shown:
                events.append(
                    HandShown(
                        seq,
                        seat,
                        (cards[2 * seat], cards[2 * seat + 1]),
                        self.openings(2 * seat, 2 * seat + 1),
                    )
                )
            else:
                events.append(HandMucked(seq, seat))
            seq += 1
        self.seq = seq
        self._settle(values, tuple(mucked))

    def _settle(self, values: dict[int, int] | None, mucked: tuple[int, ...] = ()) -> None:
        """Rake and award every pot, then record the result."""
        size = self.size
        button = self.button
        stacks = self.stacks
        pots = self.pots
        events = self.events
        split = take_rake(
            self.rake,
            [pot.amount for pot in pots],
            self.committed,
            [*range(button + 1, size), *range(button + 1)],
            flop_dealt=len(self.board) >= 3,
        )
        seq = self.seq
        if split.total:
            events.append(RakeTaken(seq, split.total, split.by_pot, split.by_seat))
            seq += 1
        results = []
        for index, (amount, eligible) in enumerate(pots):
            rake = split.by_pot[index]
            if values is None or len(eligible) == 1:
                shares: tuple[tuple[int, int], ...] = ((eligible[0], amount - rake),)
            else:
                best = max([values[s] for s in eligible])
                winners = [s for s in eligible if values[s] == best]
                if len(winners) > 1:
                    winners = odd_chip_order(winners, button, size)
                shares = tuple(split_pot(amount - rake, winners))
            for seat, chips in shares:
                stacks[seat] += chips
            results.append(PotResult(amount, rake, eligible, shares))
            events.append(PotAwarded(seq, index, amount - rake, rake, shares))
            seq += 1
        cards = self.cards
        start = self.start_stacks
        dealt = self.dealt
        result = HandResult(
            hand_number=self.number,
            button=button,
            seats=tuple([s for s in range(size) if dealt[s]]),
            players=tuple(self.players),
            board=tuple(self.board),
            pots=tuple(results),
            uncalled=tuple(self.uncalled),
            net=tuple([stacks[s] - start[s] if dealt[s] else 0 for s in range(size)]),
            stacks=tuple(stacks),
            rake=split.total,
            rake_by_seat=split.by_seat,
            shown=tuple([(s, (cards[2 * s], cards[2 * s + 1])) for s in self.shown]),
            mucked=mucked,
            commitment=self.commitment,
        )
        self.result = result
        events.append(HandEnded(seq, result))
        self.seq = seq + 1
