"""Serialising a whole table, mid-hand included, for checkpoints and failover.

The state is a compact, versioned, positional structure made only of ``list``, ``int``,
``str``, ``bytes``, ``bool`` and ``None`` (ready for msgpack). It is built for speed:
flat lists copied wholesale, no per-field dictionaries. Layout of version 2::

    [2, config, table, hand | None]
    config = [seats, small_blind, big_blind, min_buy_in, max_buy_in,
              rake_numerator, rake_denominator, rake_cap]
    table  = [players, stacks, status, owes_big, owes_small, posted_big,
              hand_count, last_small, last_big]
    hand   = [number, button, small_blind_seat, big_blind_seat, street, to_act,
              current_bet, min_raise, aggressor, live_count, actor_count, seq,
              dealt, folded, all_in, bets, committed, acted, start_stacks,
              cards, board, pots, uncalled, shown, commitment, seed, result | None]
    result = [hand_number, button, seats, players, board, pots, uncalled, net, stacks,
              rake, rake_by_seat, shown, mucked, commitment]

The state holds the undealt cards and the seed: it is server-side only, never sent to
players. Events not yet drained are not part of it: drain, then checkpoint. The per-card
nonces and Merkle tree are not stored: a restored hand rebuilds them from the seed when it
next opens a card (:meth:`~holdem.engine.hand.Hand.committed_deal`).

Version 1 (before per-card commitments) is still read, for a checkpoint written by an older
server during a rolling deploy: its result also ends with the seed, which is dropped, and a
hand it holds in progress had published ``sha256(seed)`` as its commitment, which no opening
matches, so that hand finishes without openings (its seed stays server side as always) and
the next hand is committed card by card. Any other version is refused.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, TypeVar

from holdem.engine.dealing import Street
from holdem.engine.errors import StateError, UnknownStateVersionError
from holdem.engine.hand import Hand
from holdem.engine.pots import Pot
from holdem.engine.rake import RakeRule
from holdem.engine.results import HandResult, PotResult
from holdem.engine.table_state import TableConfig, TableState

__all__ = ["STATE_VERSION", "dump_table", "load_table"]

STATE_VERSION = 2
_READABLE = frozenset([1, STATE_VERSION])
_STREETS = tuple(Street)
_Table = TypeVar("_Table", bound=TableState)


def dump_table(table: TableState) -> list[Any]:
    """Serialise ``table`` (see the module docstring for the layout)."""
    config = table.config
    rate = config.rake.rate
    hand = table.hand
    return [
        STATE_VERSION,
        [
            config.seats,
            config.small_blind,
            config.big_blind,
            config.min_buy_in,
            config.max_buy_in,
            rate.numerator,
            rate.denominator,
            config.rake.cap,
        ],
        [
            table.players[:],
            table.stacks[:],
            [int(s) for s in table.status],
            table.owes_big[:],
            table.owes_small[:],
            table.posted_big[:],
            table.hand_count,
            table.last_small,
            table.last_big,
        ],
        None if hand is None else _dump_hand(hand),
    ]


def _dump_hand(hand: Hand) -> list[Any]:
    result = hand.result
    return [
        hand.number,
        hand.button,
        hand.small_blind_seat,
        hand.big_blind_seat,
        int(hand.street),
        hand.to_act,
        hand.current_bet,
        hand.min_raise,
        hand.aggressor,
        hand.live_count,
        hand.actor_count,
        hand.seq,
        hand.dealt[:],
        hand.folded[:],
        hand.is_all_in[:],
        hand.bets[:],
        hand.committed[:],
        hand.acted[:],
        hand.start_stacks[:],
        hand.cards[:],
        hand.board[:],
        [[pot.amount, list(pot.eligible)] for pot in hand.pots],
        [[seat, chips] for seat, chips in hand.uncalled],
        hand.shown[:],
        hand.commitment,
        hand.seed,
        None if result is None else _dump_result(result),
    ]


def _dump_result(result: HandResult) -> list[Any]:
    return [
        result.hand_number,
        result.button,
        list(result.seats),
        list(result.players),
        list(result.board),
        [
            [pot.amount, pot.rake, list(pot.eligible), [[s, c] for s, c in pot.winners]]
            for pot in result.pots
        ],
        [[s, c] for s, c in result.uncalled],
        list(result.net),
        list(result.stacks),
        result.rake,
        list(result.rake_by_seat),
        [[s, list(cards)] for s, cards in result.shown],
        list(result.mucked),
        result.commitment,
    ]


def load_table(data: Any, table_class: type[_Table]) -> _Table:
    """Rebuild a table from :func:`dump_table` output.

    Args:
        data: The serialised state.
        table_class: The class to instantiate (:class:`~holdem.engine.table.Table`, which
            calls this: the snapshot format knows only the table's data).

    Raises:
        UnknownStateVersionError: The state has another version.
        StateError: The state is malformed.
    """
    try:
        version = data[0]
    except (TypeError, IndexError, KeyError) as exc:
        raise StateError("not a table state") from exc
    if type(version) is not int or version not in _READABLE:
        raise UnknownStateVersionError(
            f"table state version {version!r} is not supported (this engine reads "
            f"versions {sorted(_READABLE)})"
        )
    try:
        return _load(data, table_class)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        raise StateError(f"malformed table state: {exc}") from exc


def _load(data: Any, table_class: type[_Table]) -> _Table:
    version, config_data, table_data, hand_data = data
    seats, small, big, min_buy_in, max_buy_in, numerator, denominator, cap = config_data
    config = TableConfig(
        seats=seats,
        small_blind=small,
        big_blind=big,
        min_buy_in=min_buy_in,
        max_buy_in=max_buy_in,
        rake=RakeRule(Fraction(numerator, denominator), cap),
    )
    (
        players,
        stacks,
        status,
        owes_big,
        owes_small,
        posted_big,
        hand_count,
        last_small,
        last_big,
    ) = table_data
    if not len(players) == len(stacks) == len(status) == seats:
        raise ValueError("per-seat lists do not match the table size")
    table = table_class.__new__(table_class)
    table.config = config
    table.players = list(players)
    table.stacks = list(stacks)
    table.status = list(status)
    table.owes_big = list(owes_big)
    table.owes_small = list(owes_small)
    table.posted_big = list(posted_big)
    table.hand_count = hand_count
    table.last_small = last_small
    table.last_big = last_big
    table.events = []
    table.hand = None if hand_data is None else _load_hand(hand_data, table, version)
    return table


def _load_hand(data: Any, table: TableState, version: int) -> Hand:
    hand = Hand.__new__(Hand)
    (
        hand.number,
        hand.button,
        hand.small_blind_seat,
        hand.big_blind_seat,
        street,
        hand.to_act,
        hand.current_bet,
        hand.min_raise,
        hand.aggressor,
        hand.live_count,
        hand.actor_count,
        hand.seq,
        dealt,
        folded,
        all_in,
        bets,
        committed,
        acted,
        start_stacks,
        cards,
        board,
        pots,
        uncalled,
        shown,
        hand.commitment,
        hand.seed,
        result,
    ) = data
    config = table.config
    hand.size = config.seats
    hand.small_blind = config.small_blind
    hand.big_blind = config.big_blind
    hand.rake = config.rake
    hand.players = table.players
    hand.stacks = table.stacks
    hand.events = table.events
    hand.street = _STREETS[street]
    hand.dealt = list(dealt)
    hand.folded = list(folded)
    hand.is_all_in = list(all_in)
    hand.bets = list(bets)
    hand.committed = list(committed)
    hand.acted = list(acted)
    hand.start_stacks = list(start_stacks)
    hand.cards = list(cards)
    hand.board = list(board)
    hand.pots = [Pot(amount, tuple(eligible)) for amount, eligible in pots]
    hand.uncalled = [(seat, chips) for seat, chips in uncalled]
    hand.shown = list(shown)
    hand.deal = None
    hand.deal_checked = False  # rebuilt from the seed when a card is next opened
    hand.result = None if result is None else _load_result(result, version)
    return hand


def _load_result(data: Any, version: int) -> HandResult:
    if version == 1:
        data = data[:-1]  # version 1 kept the seed in the result too
    (
        hand_number,
        button,
        seats,
        players,
        board,
        pots,
        uncalled,
        net,
        stacks,
        rake,
        rake_by_seat,
        shown,
        mucked,
        commitment,
    ) = data
    return HandResult(
        hand_number=hand_number,
        button=button,
        seats=tuple(seats),
        players=tuple(players),
        board=tuple(board),
        pots=tuple(
            PotResult(amount, pot_rake, tuple(eligible), tuple((s, c) for s, c in winners))
            for amount, pot_rake, eligible, winners in pots
        ),
        uncalled=tuple((s, c) for s, c in uncalled),
        net=tuple(net),
        stacks=tuple(stacks),
        rake=rake,
        rake_by_seat=tuple(rake_by_seat),
        shown=tuple((s, tuple(cards)) for s, cards in shown),
        mucked=tuple(mucked),
        commitment=commitment,
    )
