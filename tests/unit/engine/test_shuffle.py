"""The shuffle and its per-card commitment: the documented scheme, pinned vectors, openings
that verify, tampering that does not, uniformity."""

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
from holdem.engine.shuffle import (
    SEED_BYTES,
    Opening,
    card_nonce,
    deal_from_seed,
    dealt_positions,
    new_seed,
    seed_commitment,
    shuffled_deck,
    verify_deal,
    verify_opening,
)

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
def test_deck_is_a_permutation(seed: bytes, client_seeds: list[bytes]) -> None:
    deck = shuffled_deck(seed, client_seeds)
    assert sorted(deck) == list(range(52))
    assert shuffled_deck(seed, client_seeds) == deck


def test_client_seeds_change_the_deck() -> None:
    decks = {
        tuple(shuffled_deck(SEED, client_seeds))
        for client_seeds in ([], [b""], [b"a"], [b"b"], [b"a", b"b"], [b"b", b"a"], [b"ab"])
    }
    # Every list differs, including order and boundaries ("a","b" versus "ab").
    assert len(decks) == 7


def test_new_seeds_are_fresh_256_bit_values() -> None:
    seed = new_seed()
    assert len(seed) == SEED_BYTES
    assert new_seed() != seed


# --- the per-card commitment ------------------------------------------------------------


def reimplemented_root(seed: bytes, seats: int, client_seeds: Sequence[bytes] = ()) -> str:
    """The commitment as written in the module docstring, coded independently."""
    deck = reimplemented_deck(seed, client_seeds)
    count = 2 * seats + 5
    level = []
    for p in range(count):
        nonce = hmac.new(seed, b"holdem-card-nonce-v1" + p.to_bytes(4, "big"), "sha256").digest()
        level.append(
            hashlib.sha256(b"\x00holdem-card-leaf-v1" + bytes([p, deck[p]]) + nonce).digest()
        )
    while len(level) & (len(level) - 1):
        level.append(bytes(32))
    while len(level) > 1:
        level = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level), 2)
        ]
    return level[0].hex()


@given(seeds, client_seed_lists, st.integers(2, 9))
def test_the_commitment_matches_the_documented_scheme(seed, client_seeds, seats) -> None:
    deal = deal_from_seed(seed, seats, client_seeds)
    assert deal.commitment == reimplemented_root(seed, seats, client_seeds)
    assert list(deal.cards) == shuffled_deck(seed, client_seeds)[: 2 * seats + 5]


def test_known_answer_pins_the_commitment() -> None:
    # Players' verifiers check against this; changing it breaks every published hand.
    assert deal_from_seed(SEED, 2).commitment == (
        "109a03e5f893924fb5a65bfdfc8a0bc818ef477f0856ba50cc2e267724cbeb1f"
    )
    assert deal_from_seed(SEED, 6).commitment == reimplemented_root(SEED, 6)


@given(seeds, st.integers(2, 9))
def test_every_position_of_a_deal_opens_and_verifies(seed: bytes, seats: int) -> None:
    deal = deal_from_seed(seed, seats)
    for position in range(dealt_positions(seats)):
        opening = deal.opening(position)
        assert (opening.position, opening.card) == (position, deal.cards[position])
        assert verify_opening(deal.commitment, opening)
        assert verify_opening(deal.commitment.upper(), opening)
        assert Opening.from_wire(opening.to_wire()) == opening


def test_a_tampered_card_nonce_position_or_proof_is_rejected() -> None:
    deal = deal_from_seed(SEED, 6)
    opening = deal.opening(7)
    assert verify_opening(deal.commitment, opening)
    other = deal_from_seed(bytes(31) + b"\x01", 6)
    flipped = bytes([opening.nonce[0] ^ 1]) + opening.nonce[1:]
    proof = list(opening.proof)
    for card in range(52):
        if card != opening.card:
            assert not verify_opening(deal.commitment, opening._replace(card=card))
    assert not verify_opening(deal.commitment, opening._replace(nonce=flipped))
    assert not verify_opening(deal.commitment, opening._replace(nonce=deal.opening(6).nonce))
    for position in [6, 8, 23, 31, 32, -1]:
        assert not verify_opening(deal.commitment, opening._replace(position=position))
    for level in range(len(proof)):
        bad = [*proof]
        bad[level] = bytes(32)
        assert not verify_opening(deal.commitment, opening._replace(proof=tuple(bad)))
    assert not verify_opening(deal.commitment, opening._replace(proof=tuple(proof[:-1])))
    assert not verify_opening(deal.commitment, opening._replace(proof=(*proof, bytes(32))))
    assert not verify_opening(deal.commitment, opening._replace(proof=()))
    assert not verify_opening(other.commitment, opening)  # another hand's commitment
    assert not verify_opening(deal.commitment, other.opening(7))
    assert not verify_opening("not hex ✗", opening)
    # The other position's opening does not stand in for this one.
    assert not verify_opening(deal.commitment, deal.opening(8)._replace(position=7))


def test_an_inner_node_cannot_be_passed_off_as_a_leaf() -> None:
    # With a bare hash for leaves, the two children of an inner node would "open" it.
    deal = deal_from_seed(SEED, 2)
    opening = deal.opening(0)
    shorter = opening._replace(proof=opening.proof[1:], position=0)
    assert not verify_opening(deal.commitment, shorter)


@pytest.mark.parametrize(
    "wire",
    [
        {},
        {"position": "1", "card": "As", "nonce": "00" * 32, "proof": []},
        {"position": 1, "card": "Xx", "nonce": "00" * 32, "proof": []},
        {"position": 1, "card": "As", "nonce": "zz", "proof": []},
        {"position": 1, "card": "As", "nonce": "00" * 32, "proof": "00"},
        {"position": 1, "card": "As", "nonce": "00" * 32, "proof": [1]},
    ],
)
def test_a_malformed_opening_is_refused_as_such(wire) -> None:
    with pytest.raises(ValueError, match="not an opening"):
        Opening.from_wire(wire)


def test_nonces_differ_per_position_and_per_hand_and_hide_the_seed() -> None:
    nonces = {card_nonce(SEED, p) for p in range(23)}
    other = {card_nonce(bytes(31) + b"\x01", p) for p in range(23)}
    assert len(nonces) == 23
    assert not nonces & other
    everything = b"".join(nonces)
    assert SEED not in everything
    # A nonce is not part of the shuffle's byte stream either.
    mix = hashlib.sha256(b"holdem-shuffle-v1" + bytes(4)).digest()
    stream = b"".join(hmac.digest(SEED, mix + i.to_bytes(8, "big"), "sha256") for i in range(8))
    assert not any(n in stream for n in nonces)


def test_the_operator_check_recomputes_the_deal_and_finds_a_wrong_card() -> None:
    deal = deal_from_seed(SEED, 3, [b"seat0"])
    recorded = {p: deal.cards[p] for p in (0, 1, 6, 7, 8)}
    check = verify_deal(deal.commitment, SEED, 3, [b"seat0"], recorded)
    assert check == (True, "cards", check.deal, ())
    wrong = {**recorded, 6: (deal.cards[6] + 1) % 52}
    assert verify_deal(deal.commitment, SEED, 3, [b"seat0"], wrong).problems
    assert verify_deal(deal.commitment, SEED, 3).scheme is None  # client seed omitted
    assert not verify_deal(deal.commitment, bytes(32), 3, [b"seat0"]).ok
    # A hand from before per-card commitments published sha256(seed).
    legacy = verify_deal(seed_commitment(SEED), SEED, 3, (), {0: shuffled_deck(SEED)[0]})
    assert (legacy.ok, legacy.scheme) == (True, "seed")
    assert seed_commitment(SEED) == hashlib.sha256(SEED).hexdigest()


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
