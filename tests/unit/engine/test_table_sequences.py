"""Whole-table property test: random sequences of seating events between hands.

Players sit (waiting for the big blind or posting), leave, sit out, sit in, top up and bust
between hands at 2–9 seats; every hand start is checked against invariants written from
POKER_RULES.md "Blinds and the button", with the history kept here by *player* (not by
seat flags, so a seat's stale history cannot hide a defect), and the table goes through a
checkpoint round trip (``to_state``/``from_state``) at random points, mid-hand included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.engine import (
    BlindKind,
    BlindPosted,
    RakeRule,
    SeatStatus,
    Table,
    TableConfig,
    stacked_deck,
)
from holdem.engine.blinds import READY

SB, BB = 50, 100
MIN_BUY_IN, MAX_BUY_IN = 1_000, 10_000
BIG_POSTS = (BlindKind.BIG, BlindKind.POSTED_BIG)


@dataclass
class LastHand:
    """What the previous hand did, by player."""

    big_seat: int
    dealt: dict[int, str]
    posted_big: set[str]
    blind_seats: list[int]


@dataclass
class Money:
    """Chips that entered and left the table, to check conservation."""

    bought: int = 0
    cashed: int = 0
    raked: int = 0


@dataclass
class Run:
    table: Table
    rng: random.Random
    money: Money = field(default_factory=Money)
    last: LastHand | None = None
    names: int = 0
    hands: int = 0
    round_trips: int = 0

    # ------------------------------------------------------------ between hands

    def new_player(self) -> str:
        self.names += 1
        return f"p{self.names}"

    def seats_where(self, kind: str) -> list[int]:
        """The seats an event of this kind applies to."""
        table = self.table
        seated = [s for s in range(table.size) if table.players[s] is not None]
        if kind == "sit":
            return [s for s in range(table.size) if table.players[s] is None]
        if kind == "sit_in":
            return [s for s in seated if table.status[s] != SeatStatus.ACTIVE and table.stacks[s]]
        if kind == "top_up":
            return [s for s in seated if table.stacks[s] < MAX_BUY_IN]
        if kind == "bust":
            return [s for s in seated if table.stacks[s] == 0]
        if kind in ("leave", "replace") and self.last is not None and self.rng.random() < 0.5:
            # Often a seat that just posted a blind, where a seat's history matters most.
            return [s for s in self.last.blind_seats if table.players[s] is not None] or seated
        return seated

    def seating_event(self, kind: str) -> None:
        """One event between hands on a seat it applies to (nothing if there is none)."""
        table, rng = self.table, self.rng
        seats = self.seats_where(kind)
        if not seats:
            return
        seat = rng.choice(seats)
        post = rng.random() < 0.5
        if kind == "sit":
            stack = rng.randrange(MIN_BUY_IN, MAX_BUY_IN + 1)
            table.sit_down(seat, self.new_player(), stack, post=post)
            self.money.bought += stack
        elif kind == "leave" or kind == "bust":
            self.money.cashed += table.leave(seat)
        elif kind == "replace":
            # A newcomer takes the seat at once: the seat's blind history must not carry over.
            self.money.cashed += table.leave(seat)
            stack = rng.randrange(MIN_BUY_IN, MAX_BUY_IN + 1)
            table.sit_down(seat, self.new_player(), stack, post=post)
            self.money.bought += stack
        elif kind == "sit_out":
            table.sit_out(seat)
        elif kind == "sit_in":
            table.sit_in(seat, post=post)
        elif kind == "top_up":
            amount = rng.randrange(1, MAX_BUY_IN - table.stacks[seat] + 1)
            table.top_up(seat, amount)
            self.money.bought += amount

    # ------------------------------------------------------------ hands

    def round_trip(self) -> None:
        state = self.table.to_state()
        restored = Table.from_state(state)
        assert restored.to_state() == state
        self.table = restored
        self.round_trips += 1

    def play_hand(self) -> None:
        table = self.table
        size = table.size
        before = {
            "status": list(table.status),
            "stacks": list(table.stacks),
            "owes_big": list(table.owes_big),
            "owes_small": list(table.owes_small),
            "players": list(table.players),
        }
        table.drain_events()
        hand = table.start_hand(deck=stacked_deck(size, {}))
        posts = [(e.seat, e.blind) for e in table.drain_events() if isinstance(e, BlindPosted)]
        self.check_hand_start(hand, before, posts)
        dealt = {s: table.players[s] for s in range(size) if hand.dealt[s]}
        posted = {table.players[s] for s, blind in posts if blind in BIG_POSTS}
        blind_seats = [s for s, _ in posts]
        self.last = LastHand(hand.big_blind_seat, dealt, posted, blind_seats)  # type: ignore[arg-type]
        while hand.result is None:
            if self.rng.random() < 0.02:
                self.round_trip()
                hand = self.table.hand
                assert hand is not None
            self.random_action(hand)
        self.money.raked += hand.result.rake
        self.hands += 1
        for seat in self.seats_where("bust"):
            # A busted player leaves or buys chips again and comes back.
            if self.rng.random() < 0.5:
                self.money.cashed += self.table.leave(seat)
            else:
                self.table.top_up(seat, MIN_BUY_IN)
                self.money.bought += MIN_BUY_IN
                self.table.sit_in(seat, post=self.rng.random() < 0.5)

    def random_action(self, hand) -> None:  # type: ignore[no-untyped-def]
        seat = hand.to_act
        legal = hand.legal_actions(seat)
        roll = self.rng.random()
        if legal.min_raise_to is not None and roll < 0.15:
            hand.raise_to(seat, self.rng.randint(legal.min_raise_to, legal.max_raise_to))
        elif legal.max_raise_to is not None and roll < 0.18:
            hand.all_in(seat)
        elif legal.can_check:
            hand.check(seat)
        elif roll < 0.6:
            hand.call(seat)
        else:
            hand.fold(seat)

    # ------------------------------------------------------------ invariants

    def check_hand_start(self, hand, before, posts) -> None:  # type: ignore[no-untyped-def]
        table = self.table
        size = table.size
        players = before["players"]
        ready = [
            before["status"][s] in READY and before["stacks"][s] > 0 and players[s] is not None
            for s in range(size)
        ]
        dealt = [s for s in range(size) if hand.dealt[s]]
        big, small, button = hand.big_blind_seat, hand.small_blind_seat, hand.button
        posts_by_seat: dict[int, list[BlindKind]] = {}
        for seat, blind in posts:
            posts_by_seat.setdefault(seat, []).append(blind)

        # Chips are conserved: what is on the table is what came in, less what left.
        assert sum(before["stacks"]) == self.money.bought - self.money.cashed - self.money.raked

        assert big in dealt
        assert all(ready[s] for s in dealt)
        assert posts_by_seat[big][0] is BlindKind.BIG
        if len(dealt) == 2:
            # Heads-up (TDA 34-B): the button posts the small blind.
            assert button == small
            assert button in dealt
            assert button != big
        else:
            # With three or more dealt in, the button is never on the big blind.
            assert button != big
            assert small != big
        if small >= 0:
            assert posts_by_seat[small][0] is BlindKind.SMALL

        last = self.last
        if last is not None:
            # The big blind moves to the first live seat after last hand's that did not post
            # a big blind last hand; only when every live player posted one does someone
            # post again, the first live seat after the anchor.
            def posted_last(seat: int) -> bool:
                return players[seat] in last.posted_big and last.dealt.get(seat) == players[seat]

            order = [(last.big_seat + step) % size for step in range(1, size)]
            fresh = [s for s in order if ready[s] and not posted_last(s)]
            if fresh:
                assert big == fresh[0], (big, fresh, last)
            else:
                assert big == next(s for s in [*order, last.big_seat] if ready[s])
            # Nobody posts the big blind twice running unless everyone live posted one.
            if posted_last(big):
                assert not fresh

            # A seat owes only blinds that actually passed it while it sat out: the big
            # blind on its way from last hand's seat to this one, the small blind where it
            # fell dead (never in a heads-up hand, whose small blind is the button's).
            passed = order[: order.index(big)] if big in order else order
            dead_small = len(dealt) > 2 and small == -1
            for seat in range(size):
                if seat in passed and players[seat] is not None and not ready[seat]:
                    assert table.owes_big[seat]
                    assert table.owes_small[seat]
                if table.owes_big[seat] and not before["owes_big"][seat]:
                    assert seat in passed
                if table.owes_small[seat] and not before["owes_small"][seat]:
                    assert seat in passed or (dead_small and seat == last.big_seat)

        # A restart (everyone ready dealt in, owed blinds waived) only when the rules would
        # deal fewer than two: the players who owe nothing plus the big blind.
        playing = {s for s in range(size) if ready[s] and before["status"][s] == SeatStatus.ACTIVE}
        restart = len(playing | {big}) < 2
        if restart:
            assert dealt == [s for s in range(size) if ready[s]]
        for seat in dealt:
            kinds = posts_by_seat.get(seat, [])
            # Owed blinds are posted exactly once: a player who owed a big blind enters
            # on the big blind or posts it now; nobody owing nothing posts an entry blind.
            if BlindKind.POSTED_BIG in kinds:
                assert before["owes_big"][seat]
                assert seat not in (big, small, button)
            if BlindKind.DEAD_SMALL in kinds:
                assert before["owes_small"][seat]
                assert seat not in (big, small, button)
            assert kinds.count(BlindKind.POSTED_BIG) <= 1
            assert kinds.count(BlindKind.BIG) <= 1
            assert not (BlindKind.POSTED_BIG in kinds and BlindKind.BIG in kinds)
            if before["owes_big"][seat] and seat != big and not restart:
                assert BlindKind.POSTED_BIG in kinds
            assert not table.owes_big[seat]
            assert not table.owes_small[seat]
            assert table.status[seat] == SeatStatus.ACTIVE


SEATING_EVENTS = ["sit", "sit", "leave", "replace", "replace", "sit_out", "sit_in", "top_up"]


def play_table(seats: int, seed: int, hands: int = 200) -> Run:
    """Play ``hands`` hand starts at a new table, seating events between most of them."""
    rng = random.Random(seed)
    table = Table(
        TableConfig(
            seats=seats,
            small_blind=SB,
            big_blind=BB,
            min_buy_in=MIN_BUY_IN,
            max_buy_in=MAX_BUY_IN,
            rake=RakeRule(500, 3 * BB),
        )
    )
    run = Run(table, rng)
    while run.hands < hands:
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            run.seating_event(rng.choice(SEATING_EVENTS))
        if rng.random() < 0.1:
            run.round_trip()
        if run.table.can_start_hand():
            run.play_hand()
        else:
            run.seating_event(rng.choice(("sit", "sit_in", "top_up")))
    return run


@settings(max_examples=150, deadline=None)
@given(seats=st.integers(min_value=2, max_value=9), seed=st.integers(min_value=0))
def test_random_table_lives_keep_the_blind_rules(seats, seed):
    run = play_table(seats, seed)
    assert run.round_trips > 0
