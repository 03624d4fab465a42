"""Events a hand records, in order, for the shell to drain and deliver.

Each event is an immutable named tuple whose first field is ``seq``, its position in
the hand (``0, 1, 2, ...``), and whose ``type`` property is a stable name for
the wire and the hand history. Only :class:`HoleCardsDealt` is private: it must reach
its own seat and nobody else; every other event is public.

Cards come with their *openings* (:class:`~holdem.engine.shuffle.Opening`) against the
commitment of :class:`HandStarted` when the hand was dealt from a seed (none for an explicit
deck): a seat's hole cards in its private :class:`HoleCardsDealt`, board cards in
:class:`StreetDealt`, shown cards in :class:`HandShown`. Nothing else opens a card, so a
folded or mucked hand stays closed to everyone but its owner.

Order within a hand: ``HandStarted``, ``BlindPosted`` (small, big, then any posted
blinds), ``HoleCardsDealt`` per seat, then ``ActionTaken`` events; at the end of each
betting round any ``UncalledBetReturned`` then ``PotsUpdated``; ``StreetDealt`` for the
flop, turn and river (all at once in an all-in runout); at showdown ``HandShown`` /
``HandMucked`` in showing order; then ``RakeTaken`` (if any), ``PotAwarded`` per pot
and finally ``HandEnded``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from holdem.engine.actions import ActionKind
from holdem.engine.cards import Card
from holdem.engine.dealing import Street
from holdem.engine.pots import Pot
from holdem.engine.results import HandResult
from holdem.engine.shuffle import Opening

__all__ = [
    "ActionTaken",
    "BlindKind",
    "BlindPosted",
    "Event",
    "HandEnded",
    "HandMucked",
    "HandShown",
    "HandStarted",
    "HoleCardsDealt",
    "PotAwarded",
    "PotsUpdated",
    "RakeTaken",
    "StreetDealt",
    "UncalledBetReturned",
    "audience",
    "visible_to",
]


class BlindKind(StrEnum):
    """Which forced bet a player posted."""

    SMALL = "small_blind"
    BIG = "big_blind"
    DEAD_SMALL = "dead_small_blind"
    """Owed after missing blinds: goes to the pot, does not count toward the bet."""
    POSTED_BIG = "posted_big_blind"
    """A live big blind posted out of position to enter at once (new or returning)."""


class HandStarted(NamedTuple):
    """A hand began. ``small_blind_seat`` is ``None`` when the small blind is dead."""

    seq: int
    hand_number: int
    button: int
    small_blind_seat: int | None
    big_blind_seat: int
    small_blind: int
    big_blind: int
    seats: tuple[int, ...]
    stacks: tuple[int, ...]
    commitment: str | None
    """The Merkle root over every position the hand can deal (see
    :mod:`holdem.engine.shuffle`); ``None`` for an explicit deck."""

    @property
    def type(self) -> str:
        """The stable event name."""
        return "hand_started"


class BlindPosted(NamedTuple):
    """A seat posted a blind (possibly all-in for less)."""

    seq: int
    seat: int
    blind: BlindKind
    amount: int
    all_in: bool

    @property
    def type(self) -> str:
        """The stable event name."""
        return "blind_posted"


class HoleCardsDealt(NamedTuple):
    """A seat's two hole cards and their openings. PRIVATE to ``seat``."""

    seq: int
    seat: int
    cards: tuple[Card, Card]
    openings: tuple[Opening, ...]

    @property
    def type(self) -> str:
        """The stable event name."""
        return "hole_cards"


class ActionTaken(NamedTuple):
    """A player acted; also the record the action methods of a hand return.

    Attributes:
        seq: Position in the hand's events.
        seat: Who acted.
        kind: What they did (an all-in is a call, bet or raise with ``all_in`` set).
        amount: Their total bet on this street after the action (raise-to).
        added: Chips moved from their stack by this action.
        all_in: Whether the action put them all-in.
    """

    seq: int
    seat: int
    kind: ActionKind
    amount: int
    added: int
    all_in: bool

    @property
    def type(self) -> str:
        """The stable event name."""
        return "action"


class StreetDealt(NamedTuple):
    """Board cards were dealt: ``cards`` the new ones (with their ``openings``), ``board``
    all of them."""

    seq: int
    street: Street
    cards: tuple[Card, ...]
    board: tuple[Card, ...]
    openings: tuple[Opening, ...]

    @property
    def type(self) -> str:
        """The stable event name."""
        return "street_dealt"


class UncalledBetReturned(NamedTuple):
    """The part of a bet nobody called went back to its owner (TDA 15-B)."""

    seq: int
    seat: int
    amount: int

    @property
    def type(self) -> str:
        """The stable event name."""
        return "uncalled_bet_returned"


class PotsUpdated(NamedTuple):
    """The pots after a betting round, main pot first."""

    seq: int
    pots: tuple[Pot, ...]

    @property
    def type(self) -> str:
        """The stable event name."""
        return "pots_updated"


class HandShown(NamedTuple):
    """A seat's hole cards were shown at showdown (now public, with their openings)."""

    seq: int
    seat: int
    cards: tuple[Card, ...]
    openings: tuple[Opening, ...]

    @property
    def type(self) -> str:
        """The stable event name."""
        return "hand_shown"


class HandMucked(NamedTuple):
    """A seat reached showdown and mucked; its cards stay hidden."""

    seq: int
    seat: int

    @property
    def type(self) -> str:
        """The stable event name."""
        return "hand_mucked"


class RakeTaken(NamedTuple):
    """The house's rake: per pot (main first) and attributed per seat."""

    seq: int
    amount: int
    by_pot: tuple[int, ...]
    by_seat: tuple[int, ...]

    @property
    def type(self) -> str:
        """The stable event name."""
        return "rake_taken"


class PotAwarded(NamedTuple):
    """A pot was paid out: ``winners`` holds ``(seat, chips)`` after rake."""

    seq: int
    pot: int
    amount: int
    rake: int
    winners: tuple[tuple[int, int], ...]

    @property
    def type(self) -> str:
        """The stable event name."""
        return "pot_awarded"


class HandEnded(NamedTuple):
    """The hand is over. The seed is not revealed: it would open every folded hand."""

    seq: int
    result: HandResult

    @property
    def type(self) -> str:
        """The stable event name."""
        return "hand_ended"


Event = (
    HandStarted
    | BlindPosted
    | HoleCardsDealt
    | ActionTaken
    | StreetDealt
    | UncalledBetReturned
    | PotsUpdated
    | HandShown
    | HandMucked
    | RakeTaken
    | PotAwarded
    | HandEnded
)


def audience(event: Event) -> int | None:
    """The only seat allowed to see ``event``, or ``None`` if it is public."""
    return event.seat if type(event) is HoleCardsDealt else None


def visible_to(events: Iterable[Event], seat: int | None) -> list[Event]:
    """The events a seat may see (``seat=None``: a spectator sees public events only)."""
    return [e for e in events if type(e) is not HoleCardsDealt or e.seat == seat]
