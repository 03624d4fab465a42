"""The verifiable shuffle: round trips, tampering, a pinned vector, uniformity."""

from __future__ import annotations

import doctest
import hashlib
import hmac
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdem.engine import shuffle
from holdem.engine.cards import cards_str
from holdem.engine.shuffle import SEED_BYTES, commitment, new_seed, shuffled_deck, verify

SEED = bytes(range(32))
seeds = st.binary(min_size=SEED_BYTES, max_size=64)
client_seed_lists = st.lists(st.binary(max_size=16), max_size=4)


def reimplemented_deck(seed: bytes, client_seeds: Sequence[bytes] = ()) -> list[int]:
    """The algorithm as written in the module docstring, coded independently."""
    message = b"holdem-shuffle-v1" + len(client_seeds).to_bytes(4, "big")
    for client_seed in client_seeds:
        message += len(client_seed).to_bytes(4, "big") + client_seed
    mix = hashlib.sha256(message).digest()
    stream = b"".join(
        hmac.new(seed, mix + i.to_bytes(8, "big"), hashlib.sha256).digest() for i in range(16)
    )
    deck, position = list(range(52)), 0
    for i in range(51, 0, -1):
        while stream[position] >= 256 - 256 % (i + 1):
            position += 1
        j = stream[position] % (i + 1)
        position += 1
        deck[i], deck[j] = deck[j], deck[i]
    return deck


def test_known_answer_pins_the_algorithm() -> None:
    # Third parties verify against this; changing it breaks every published hand.
    deck = shuffled_deck(SEED)
    assert cards_str(deck[:9]) == "9s 6d 9c 4d Jh Ts 4h Ah 5h"
    assert deck == [
        31, 17, 28, 9, 38, 35, 10, 50, 14, 42, 43, 3, 24, 4, 39, 11, 32, 26, 22, 5, 29, 45, 41,
        27, 12, 19, 47, 34, 51, 0, 15, 37, 6, 33, 36, 48, 8, 40, 18, 1, 44, 25, 30, 21, 20, 49,
        46, 16, 2, 13, 7, 23,
    ]  # fmt: skip
    assert deck == reimplemented_deck(SEED)


@given(seeds, client_seed_lists)
def test_matches_the_documented_algorithm(seed: bytes, client_seeds: list[bytes]) -> None:
    assert shuffled_deck(seed, client_seeds) == reimplemented_deck(seed, client_seeds)


@given(seeds, client_seed_lists)
def test_deck_is_a_permutation_and_verifies(seed: bytes, client_seeds: list[bytes]) -> None:
    deck = shuffled_deck(seed, client_seeds)
    assert sorted(deck) == list(range(52))
    assert shuffled_deck(seed, client_seeds) == deck
    assert verify(commitment(seed), seed, deck, client_seeds)
    assert verify(commitment(seed).upper(), seed, tuple(deck), tuple(client_seeds))


def test_tampering_is_detected() -> None:
    deck = shuffled_deck(SEED, [b"seat3"])
    swapped = [deck[1], deck[0], *deck[2:]]
    other_seed = bytes(31) + b"\x01"
    assert verify(commitment(SEED), SEED, deck, [b"seat3"])
    assert not verify(commitment(SEED), SEED, swapped, [b"seat3"])
    assert not verify(commitment(SEED), SEED, deck[:51], [b"seat3"])
    assert not verify(commitment(SEED), SEED, deck)  # client seed omitted
    assert not verify(commitment(SEED), SEED, deck, [b"seat4"])
    assert not verify(commitment(other_seed), other_seed, deck, [b"seat3"])
    assert not verify(commitment(other_seed), SEED, deck, [b"seat3"])
    assert not verify("not hex at all ✗", SEED, deck, [b"seat3"])
    assert not verify(commitment(SEED[:16]), SEED[:16], deck, [b"seat3"])


def test_client_seeds_change_the_deck() -> None:
    decks = {
        tuple(shuffled_deck(SEED, client_seeds))
        for client_seeds in ([], [b""], [b"a"], [b"b"], [b"a", b"b"], [b"b", b"a"], [b"ab"])
    }
    # Every list differs, including order and boundaries ("a","b" versus "ab").
    assert len(decks) == 7


def test_commitment_is_sha256_and_hides_the_seed() -> None:
    seed = new_seed()
    assert len(seed) == SEED_BYTES
    assert new_seed() != seed
    digest = commitment(seed)
    assert digest == hashlib.sha256(seed).hexdigest()
    assert len(digest) == 64
    assert seed.hex() not in digest


def test_short_seed_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        shuffled_deck(bytes(31))


def chi_square_bound(degrees: int, p_value: float) -> float:
    """Upper ``p_value`` quantile of chi-square (Wilson–Hilferty approximation)."""
    z = NormalDist().inv_cdf(1 - p_value)
    k = 2 / (9 * degrees)
    return float(degrees * (1 - k + z * k**0.5) ** 3)


def worst_chi_square(decks: Sequence[Sequence[int]]) -> tuple[float, float]:
    """Largest per-position and per-card chi-square statistics of a position×card table."""
    table = [[0] * 52 for _ in range(52)]
    for deck in decks:
        for position, card in enumerate(deck):
            table[position][card] += 1
    expected = len(decks) / 52

    def statistic(counts: Sequence[int]) -> float:
        return sum((observed - expected) ** 2 for observed in counts) / expected

    by_position = max(statistic(row) for row in table)
    by_card = max(statistic(column) for column in zip(*table, strict=True))
    return by_position, by_card


# 104 tests (each position over cards, each card over positions), 51 degrees of freedom
# each; Bonferroni keeps the chance of a false failure for a fair shuffle below 1e-6.
BOUND = chi_square_bound(51, 1e-6 / 104)
DECKS = 50_000


def seeded_decks(make: Callable[[bytes], list[int]]) -> list[list[int]]:
    return [make(hashlib.sha256(b"chi-square %d" % i).digest()) for i in range(DECKS)]


def test_every_card_lands_in_every_position_uniformly() -> None:
    by_position, by_card = worst_chi_square(seeded_decks(shuffled_deck))
    assert by_position < BOUND
    assert by_card < BOUND


def test_the_uniformity_test_catches_an_off_by_one_shuffle() -> None:
    def off_by_one(seed: bytes) -> list[int]:
        # Sattolo's algorithm: j never equals i, the classic off-by-one mistake.
        rng = random.Random(seed)
        deck = list(range(52))
        for i in range(51, 0, -1):
            j = rng.randrange(i)
            deck[i], deck[j] = deck[j], deck[i]
        return deck

    by_position, by_card = worst_chi_square(seeded_decks(off_by_one))
    assert max(by_position, by_card) > BOUND


def test_docstring_and_guide_examples() -> None:
    assert doctest.testmod(shuffle).failed == 0
    guide = Path(__file__).parents[3] / "docs" / "engine" / "evaluator-and-shuffle.md"
    assert doctest.testfile(str(guide), module_relative=False).failed == 0
