"""The lobby's live figures of a table: average pot and hands per hour over its recent hands."""

from __future__ import annotations

import doctest

from holdem.services import lobby
from holdem.services.lobby import LIVE_MAX_HANDS, LIVE_WINDOW_S, live_figures


def test_the_docstring_example_runs():
    result = doctest.testmod(lobby)
    assert (result.attempted, result.failed) == (1, 0)


def test_a_table_that_played_no_hand_shows_zeros():
    assert live_figures(1, 0, [], now=1_000.0) == {
        "table_id": 1,
        "seated": 0,
        "avg_pot": 0,
        "hands_per_hour": 0,
        "waiting": 0,
    }


def test_the_average_pot_is_rounded_down_to_whole_won():
    figures = live_figures(1, 2, [[0, 10, 3_000], [10, 20, 3_001], [20, 30, 3_001]], now=40)
    assert figures["avg_pot"] == 3_000  # 9,002 / 3


def test_hands_older_than_the_window_no_longer_count():
    old = [[0, 60, 100_000]]
    recent = [[LIVE_WINDOW_S + 100, LIVE_WINDOW_S + 160, 4_000]]
    figures = live_figures(1, 2, old + recent, now=LIVE_WINDOW_S + 200)
    assert figures["avg_pot"] == 4_000
    assert figures["hands_per_hour"] == 60  # one hand in one minute


def test_only_the_newest_hands_count():
    hands = [[i * 60, i * 60 + 60, 1_000 if i < 10 else 5_000] for i in range(LIVE_MAX_HANDS + 10)]
    figures = live_figures(1, 6, hands, now=hands[-1][1])
    assert figures["avg_pot"] == 5_000
    assert figures["hands_per_hour"] == 60
