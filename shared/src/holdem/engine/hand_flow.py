"""How a hand moves on: blinds posted, a betting round closed (the uncalled part of a bet
returned, the pots built), streets and runouts dealt, the showdown and the payout.
"""

from __future__ import annotations

from holdem.engine.dealing import Street
from holdem.engine.evaluator import evaluate
from holdem.engine.events import (
    BlindKind,
    BlindPosted,
    HandEnded,
    HandMucked,
    HandShown,
    PotAwarded,
    PotsUpdated,
    RakeTaken,
    StreetDealt,
    UncalledBetReturned,
)
from holdem.engine.hand_state import HandState
from holdem.engine.pots import build_pots, odd_chip_order, split_pot
from holdem.engine.rake import take_rake
from holdem.engine.results import HandResult, PotResult
from holdem.engine.showdown import reveal, showdown_order

__all__ = ["HandFlow"]

_RIVER = Street.RIVER
_STREETS = tuple(Street)
_NEW_CARDS = ((0, 0), (0, 3), (3, 4), (4, 5))  # board slice dealt on each street


class HandFlow(HandState):
    """The steps between the players' actions; called by the actions, never by the shell."""

    __slots__ = ()

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
