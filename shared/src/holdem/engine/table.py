"""A cash table: seats, players, stacks, and the hands played at it.

The shell (one writer per table) calls the seating methods between hands or for seats
not in the running hand, starts hands with :meth:`Table.start_hand`, forwards player
actions to :attr:`Table.hand`, and drains :meth:`Table.drain_events` after each call.

>>> from holdem.engine.dealing import stacked_deck
>>> table = Table(TableConfig(seats=3, small_blind=1_000, big_blind=2_000))
>>> for seat, name in enumerate(["ann", "bob", "cho"]):
...     table.sit_down(seat, name, 200_000)
>>> hand = table.start_hand(deck=stacked_deck(3, {0: "AsAd", 1: "KsKd"}), button=0)
>>> (hand.button, hand.small_blind_seat, hand.big_blind_seat, hand.to_act)
(0, 1, 2, 0)
>>> [action.kind.value for action in (hand.fold(0), hand.fold(1))]
['fold', 'fold']
>>> hand.result.net
(0, -1000, 1000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from holdem.engine import shuffle
from holdem.engine.blinds import READY, SeatStatus, plan_hand
from holdem.engine.cards import Card
from holdem.engine.dealing import check_deck
from holdem.engine.errors import (
    BuyInOutOfRangeError,
    DeckError,
    HandInProgressError,
    InvalidAmountError,
    InvalidSeatError,
    PlayerAlreadySeatedError,
    SeatEmptyError,
    SeatTakenError,
)
from holdem.engine.events import BlindKind, Event
from holdem.engine.hand import Hand
from holdem.engine.state import dump_table, load_table
from holdem.engine.table_state import TableConfig, TableState
from holdem.engine.views import view_for

__all__ = ["Table", "TableConfig"]


class Table(TableState):
    """The state of one table across hands and the rules that change it.

    Attributes: see :class:`~holdem.engine.table_state.TableState`.
    """

    __slots__ = ()

    # ------------------------------------------------------------------ queries

    @property
    def hand_running(self) -> bool:
        """Whether a hand is in progress."""
        return self.hand is not None and self.hand.result is None

    def seat_of(self, player_id: str) -> int | None:
        """The seat of a player, or ``None``."""
        try:
            return self.players.index(player_id)
        except ValueError:
            return None

    def can_start_hand(self) -> bool:
        """Whether :meth:`start_hand` would deal a hand (no hand running, two players ready)."""
        ready = sum(1 for s in range(self.size) if self.status[s] in READY and self.stacks[s] > 0)
        return not self.hand_running and ready >= 2

    def view_for(self, seat: int | None) -> dict[str, Any]:
        """The table as ``seat`` may see it; see :func:`holdem.engine.views.view_for`."""
        return view_for(self, seat)

    def spectator_view(self) -> dict[str, Any]:
        """The table as a spectator may see it: no hole cards until shown at showdown."""
        return view_for(self, None)

    def to_state(self) -> list[Any]:
        """The whole table, mid-hand included, as msgpack-ready data (see :mod:`.state`).

        Events not yet drained are not included: drain them first.
        """
        return dump_table(self)

    @classmethod
    def from_state(cls, data: Any) -> Table:
        """Rebuild a table from :meth:`to_state` output.

        Raises:
            UnknownStateVersionError: The state was written by another format version.
            StateError: The state is malformed.
        """
        return load_table(data, cls)

    def drain_events(self) -> list[Event]:
        """Take the events recorded since the last drain, in order."""
        drained = list(self.events)
        self.events.clear()
        return drained

    # ------------------------------------------------------------------ seating

    def _seat(self, seat: int) -> int:
        if type(seat) is not int or not 0 <= seat < self.size:
            raise InvalidSeatError(f"no seat {seat!r} at a {self.size}-seat table")
        return seat

    def _occupied(self, seat: int) -> int:
        if self.players[self._seat(seat)] is None:
            raise SeatEmptyError(f"seat {seat} is empty")
        return seat

    def _not_in_hand(self, seat: int) -> None:
        hand = self.hand
        if hand is not None and hand.result is None and hand.dealt[seat]:
            raise HandInProgressError(f"seat {seat} is in hand {hand.number}; wait for it to end")

    def sit_down(self, seat: int, player_id: str, stack: int, *, post: bool = False) -> None:
        """Seat a new player. Allowed during a hand (they join a later one).

        Args:
            seat: An empty seat.
            player_id: The player's id; a player has at most one seat per table.
            stack: The buy-in, within the table's buy-in range.
            post: ``True`` to post a big blind and play at once (when allowed), ``False``
                to wait for the big blind.

        Raises:
            InvalidSeatError: No such seat.
            SeatTakenError: Someone sits there.
            PlayerAlreadySeatedError: The player has another seat here.
            InvalidAmountError: The stack is not a positive int.
            BuyInOutOfRangeError: The stack is outside the buy-in range.
        """
        self._seat(seat)
        if self.players[seat] is not None:
            raise SeatTakenError(f"seat {seat} is taken")
        if player_id in self.players:
            raise PlayerAlreadySeatedError(f"{player_id} already sits at this table")
        if type(stack) is not int or stack <= 0:
            raise InvalidAmountError(f"buy-in must be a positive int of won: {stack!r}")
        low, high = self.config.buy_in_range
        if not low <= stack <= high:
            raise BuyInOutOfRangeError(f"buy-in must be between {low} and {high}")
        self.players[seat] = player_id
        self.stacks[seat] = stack
        self.status[seat] = SeatStatus.POSTING if post else SeatStatus.WAITING
        self.owes_big[seat] = True
        self.owes_small[seat] = False
        self.posted_big[seat] = False

    def leave(self, seat: int) -> int:
        """Free a seat and return the chips to cash out.

        The seat's blind history leaves with its player: a newcomer there has posted
        nothing and owes a big blind to enter.

        Raises:
            SeatEmptyError: Nobody sits there.
            HandInProgressError: The seat is in the running hand (fold first, leave after it).
        """
        self._occupied(seat)
        self._not_in_hand(seat)
        chips = self.stacks[seat]
        self.players[seat] = None
        self.stacks[seat] = 0
        self.status[seat] = SeatStatus.EMPTY
        self.owes_big[seat] = False
        self.owes_small[seat] = False
        self.posted_big[seat] = False
        return chips

    def sit_out(self, seat: int) -> None:
        """Stop being dealt in from the next hand on; blinds that pass are owed.

        Raises:
            SeatEmptyError: Nobody sits there.
        """
        self._occupied(seat)
        self.status[seat] = SeatStatus.SITTING_OUT

    def sit_in(self, seat: int, *, post: bool = False) -> None:
        """Come back from sitting out (or change how a waiting player enters).

        A player who owes no blinds plays the next hand. One who missed blinds either
        posts them (``post=True``: big blind live, small blind dead) or waits for the big
        blind (``post=False``).

        Raises:
            SeatEmptyError: Nobody sits there.
            BuyInOutOfRangeError: The player has no chips (top up first).
        """
        self._occupied(seat)
        if self.stacks[seat] == 0:
            raise BuyInOutOfRangeError(f"seat {seat} has no chips: top up first")
        if self.status[seat] == SeatStatus.ACTIVE:
            return
        if self.owes_big[seat] or self.owes_small[seat]:
            self.status[seat] = SeatStatus.POSTING if post else SeatStatus.WAITING
        else:
            self.status[seat] = SeatStatus.ACTIVE

    def top_up(self, seat: int, amount: int) -> None:
        """Add chips to a stack, up to the maximum buy-in. Never during the seat's hand.

        Raises:
            SeatEmptyError, InvalidAmountError, HandInProgressError, BuyInOutOfRangeError.
        """
        self._occupied(seat)
        if type(amount) is not int or amount <= 0:
            raise InvalidAmountError(f"top-up must be a positive int of won: {amount!r}")
        self._not_in_hand(seat)
        high = self.config.buy_in_range[1]
        if self.stacks[seat] + amount > high:
            raise BuyInOutOfRangeError(f"a stack may not exceed {high} after a top-up")
        self.stacks[seat] += amount

    # ------------------------------------------------------------------ hands

    def start_hand(
        self,
        *,
        deck: Sequence[Card] | None = None,
        seed: bytes | None = None,
        client_seeds: Sequence[bytes] = (),
        button: int | None = None,
    ) -> Hand:
        """Plan the blinds and deal the next hand.

        Pass exactly one source of cards: ``seed`` (production: a fresh
        :func:`holdem.engine.shuffle.new_seed`; the hand publishes a per-card commitment and
        opens each card only to those who may see it; the seed stays server side) or an
        explicit ``deck`` (tests, replays; see
        :func:`holdem.engine.dealing.stacked_deck` for the layout). Players with no chips
        are sat out first.

        Args:
            deck: An explicit deck.
            seed: The server seed for :func:`holdem.engine.shuffle.shuffled_deck`.
            client_seeds: Optional player seeds mixed into the shuffle (fixed before the
                commitment is published).
            button: The button of the table's first hand (default: the lowest ready seat);
                ignored afterwards, when the big blind is anchored.

        Returns:
            The new hand (also :attr:`hand`).

        Raises:
            HandInProgressError: A hand is running.
            InvalidSeatError: ``button`` is not a seat of this table.
            DeckError: Not exactly one card source, or a bad deck.
            NotEnoughPlayersError: Fewer than two players are ready.
        """
        if self.hand_running:
            raise HandInProgressError("finish the running hand first")
        if (deck is None) == (seed is None):
            raise DeckError("pass exactly one of deck= or seed=")
        if button is not None:
            self._seat(button)
        size = self.size
        deal: shuffle.Deal | None = None
        if seed is not None:
            try:
                deal = shuffle.deal_from_seed(seed, size, client_seeds)
            except ValueError as exc:
                raise DeckError(str(exc)) from exc
            # A permutation by construction: no need to validate it card by card.
            cards = list(deal.cards)
        else:
            assert deck is not None
            cards = check_deck(deck, size)
        status = self.status
        for s in range(size):
            if status[s] in READY and self.stacks[s] == 0:
                status[s] = SeatStatus.SITTING_OUT
        plan = plan_hand(
            status,
            self.stacks,
            self.owes_big,
            self.owes_small,
            self.posted_big,
            last_small=self.last_small,
            last_big=self.last_big,
            button=button,
        )
        for s in plan.missed_big:
            self.owes_big[s] = True
            self.owes_small[s] = True
        for s in plan.missed_small:
            self.owes_small[s] = True
        for s in plan.entered:
            status[s] = SeatStatus.ACTIVE
            self.owes_big[s] = False
            self.owes_small[s] = False
        posted_big = [False] * size
        for s, blind in plan.posts:
            if blind is BlindKind.BIG or blind is BlindKind.POSTED_BIG:
                posted_big[s] = True
        self.posted_big = posted_big
        self.last_small = plan.small_blind_position
        self.last_big = plan.big_blind_seat
        self.hand_count += 1
        self.hand = Hand(
            number=self.hand_count,
            small_blind=self.config.small_blind,
            big_blind=self.config.big_blind,
            rake=self.config.rake,
            plan=plan,
            players=self.players,
            stacks=self.stacks,
            cards=cards,
            deal=deal,
            seed=seed,
            events=self.events,
        )
        return self.hand
