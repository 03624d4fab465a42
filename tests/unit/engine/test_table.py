"""Table configuration, seating, card sources and the error tree."""

from __future__ import annotations

import inspect

import pytest
from engine_script import make_table

from holdem.engine import (
    BuyInOutOfRangeError,
    ConfigError,
    DeckError,
    EngineError,
    HandInProgressError,
    InvalidAmountError,
    InvalidSeatError,
    PlayerAlreadySeatedError,
    SeatEmptyError,
    SeatTakenError,
    Table,
    TableConfig,
    errors,
    parse_cards,
    stacked_deck,
)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seats": 1, "small_blind": 1, "big_blind": 2},
        {"seats": 10, "small_blind": 1, "big_blind": 2},
        {"seats": 6, "small_blind": 3, "big_blind": 2},
        {"seats": 6, "small_blind": 0, "big_blind": 2},
        {"seats": 6, "small_blind": 1.0, "big_blind": 2},
        {"seats": 6, "small_blind": 1, "big_blind": 2, "min_buy_in": 500, "max_buy_in": 100},
        {"seats": 6, "small_blind": 1, "big_blind": 2, "rake": 0.05},
    ],
)
def test_an_inconsistent_configuration_is_refused(kwargs):
    with pytest.raises(ConfigError) as caught:
        TableConfig(**kwargs)
    assert caught.value.code == "invalid_config"


def test_the_default_buy_in_range_is_40_to_100_big_blinds():
    assert TableConfig(seats=6, small_blind=1_000, big_blind=2_000).buy_in_range == (
        80_000,
        200_000,
    )


def test_seating_errors_are_precise():
    table = Table(TableConfig(seats=3, small_blind=1_000, big_blind=2_000))
    table.sit_down(0, "ann", 100_000)
    cases = [
        (lambda: table.sit_down(3, "bob", 100_000), InvalidSeatError, "invalid_seat"),
        (lambda: table.sit_down(0, "bob", 100_000), SeatTakenError, "seat_taken"),
        (
            lambda: table.sit_down(1, "ann", 100_000),
            PlayerAlreadySeatedError,
            "player_already_seated",
        ),
        (lambda: table.sit_down(1, "bob", 79_999), BuyInOutOfRangeError, "buy_in_out_of_range"),
        (lambda: table.sit_down(1, "bob", 200_001), BuyInOutOfRangeError, "buy_in_out_of_range"),
        (lambda: table.sit_down(1, "bob", 100_000.0), InvalidAmountError, "invalid_amount"),
        (lambda: table.leave(2), SeatEmptyError, "seat_empty"),
        (lambda: table.sit_out(2), SeatEmptyError, "seat_empty"),
        (lambda: table.top_up(0, 0), InvalidAmountError, "invalid_amount"),
        (lambda: table.top_up(0, 100_001), BuyInOutOfRangeError, "buy_in_out_of_range"),
    ]
    for attempt, error, code in cases:
        with pytest.raises(error) as caught:
            attempt()
        assert caught.value.code == code
    assert table.seat_of("ann") == 0
    assert table.seat_of("bob") is None


def test_a_hand_needs_exactly_one_valid_card_source():
    table = make_table([200_000, 200_000])
    bad_decks = [
        None,  # neither a deck nor a seed
        list(range(8)),  # too short for a 2-seat table (2 * 2 + 5 = 9 cards)
        [0] * 52,
        [*range(51), 52],
        [*range(51), 51.0],
    ]
    for deck in bad_decks:
        with pytest.raises(DeckError) as caught:
            table.start_hand(deck=deck)
        assert caught.value.code == "invalid_deck"
    with pytest.raises(DeckError):
        table.start_hand(deck=list(range(52)), seed=bytes(32))
    with pytest.raises(DeckError):
        table.start_hand(seed=b"too short")
    with pytest.raises(InvalidSeatError):
        table.start_hand(deck=list(range(52)), button=2)
    table.start_hand(deck=list(range(9)))
    with pytest.raises(HandInProgressError):
        table.start_hand(deck=list(range(52)))


def test_a_stacked_deck_puts_chosen_cards_in_the_documented_places():
    deck = stacked_deck(4, {1: "AsAd", 3: "Kh2c"}, board="QhJhTh")
    assert sorted(deck) == list(range(52))
    assert deck[2:4] == parse_cards("AsAd")
    assert deck[6:8] == parse_cards("Kh2c")
    assert deck[8:11] == parse_cards("QhJhTh")
    for bad in ({0: "AsAs"}, {4: "AsAd"}, {0: "As"}):
        with pytest.raises(DeckError):
            stacked_deck(4, bad)
    with pytest.raises(DeckError):
        stacked_deck(2, {0: "AsAd"}, board="As2c3c")


def test_every_engine_error_has_a_unique_stable_code():
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, EngineError)
    ]
    codes = [cls.code for cls in classes]
    assert len(classes) == 27
    assert len(set(codes)) == len(codes)
    assert all(code.islower() and " " not in code for code in codes)
