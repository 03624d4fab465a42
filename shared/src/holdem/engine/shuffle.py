"""A verifiable shuffle by commit–reveal.

At the start of a hand the server draws a fresh seed (:func:`new_seed`) and publishes its
:func:`commitment`. Players may contribute client seeds. The deck is a pure function of
the seeds (:func:`shuffled_deck`). When the hand ends the server reveals the seed and
anyone can check, with :func:`verify`, that the seed matches the commitment and produces
the deck that was dealt. This proves the deck was fixed before the first card was seen;
it does not stop an insider from reading hole cards.

The algorithm (version 1), precise enough to reimplement:

1. ``server_seed`` is at least 32 bytes. ``client_seeds`` is a list of byte strings whose
   order matters (the caller fixes it, e.g. seat order; it may be empty).
2. ``mix = SHA-256(b"holdem-shuffle-v1" || u32(len(client_seeds)) || u32(len(c1)) || c1 ||
   u32(len(c2)) || c2 || ...)`` where ``u32`` is a 4-byte big-endian unsigned integer.
3. A byte stream: ``HMAC-SHA256(key=server_seed, msg=mix || u64(i))`` for ``i = 0, 1, 2,
   ...`` concatenated, where ``u64`` is 8-byte big-endian.
4. Start from ``deck = [0, 1, ..., 51]`` (card = rank * 4 + suit, rank 0 = deuce ..
   12 = ace, suit 0..3 = clubs, diamonds, hearts, spades; so 0 is 2c and 51 is As).
5. Fisher–Yates: for ``i`` from 51 down to 1, let ``n = i + 1`` and
   ``limit = 256 - 256 % n`` (the largest multiple of ``n`` not above 256). Take the
   next byte ``b`` of the stream, discarding bytes ``>= limit``, and let ``j = b % n``;
   since ``limit`` is a multiple of ``n`` every ``j`` in ``0..i`` is equally likely.
   Swap ``deck[i]`` and ``deck[j]``.
6. The result is the deck in dealing order: ``deck[0]`` is the first card dealt.

The commitment is the lowercase hex SHA-256 of ``server_seed``.

>>> seed = bytes(range(32))
>>> deck = shuffled_deck(seed, [b"alice", b"bob"])
>>> verify(commitment(seed), seed, deck, [b"alice", b"bob"])
True
>>> verify(commitment(seed), seed, deck)
False
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Sequence
from itertools import count

from holdem.engine.cards import Card

__all__ = ["SEED_BYTES", "commitment", "new_seed", "shuffled_deck", "verify"]

SEED_BYTES = 32
"""Server seed length: 256 bits, more than the 225.6 bits of entropy in 52!."""

_DOMAIN = b"holdem-shuffle-v1"


def new_seed() -> bytes:
    """A fresh 256-bit server seed from the operating system's CSPRNG."""
    return secrets.token_bytes(SEED_BYTES)


def commitment(seed: bytes) -> str:
    """The public commitment to a seed: its SHA-256 as lowercase hex.

    >>> commitment(bytes(32))[:16]
    '66687aadf862bd77'
    """
    return hashlib.sha256(seed).hexdigest()


def _mix(client_seeds: Sequence[bytes]) -> bytes:
    parts = [_DOMAIN, len(client_seeds).to_bytes(4, "big")]
    for client_seed in client_seeds:
        parts += [len(client_seed).to_bytes(4, "big"), bytes(client_seed)]
    return hashlib.sha256(b"".join(parts)).digest()


def _byte_stream(seed: bytes, mix: bytes) -> Iterator[int]:
    for block in count():
        yield from hmac.digest(seed, mix + block.to_bytes(8, "big"), "sha256")


def shuffled_deck(seed: bytes, client_seeds: Sequence[bytes] = ()) -> list[Card]:
    """The deck, in dealing order, determined by the server seed and the client seeds.

    Args:
        seed: The server seed, at least :data:`SEED_BYTES` bytes.
        client_seeds: Optional player contributions; their order matters.

    Returns:
        A permutation of the 52 cards; element 0 is dealt first.

    Raises:
        ValueError: The seed is shorter than :data:`SEED_BYTES` bytes.
    """
    if len(seed) < SEED_BYTES:
        raise ValueError(f"the server seed must have at least {SEED_BYTES} bytes")
    stream = _byte_stream(seed, _mix(client_seeds))
    deck = list(range(52))
    for i in range(51, 0, -1):
        n = i + 1
        limit = 256 - 256 % n
        byte = next(stream)
        while byte >= limit:
            byte = next(stream)
        j = byte % n
        deck[i], deck[j] = deck[j], deck[i]
    return deck


def verify(
    commitment: str,
    seed: bytes,
    deck: Sequence[Card],
    client_seeds: Sequence[bytes] = (),
) -> bool:
    """Check a revealed seed against its commitment and the deck that was dealt.

    Args:
        commitment: The commitment published when the hand started.
        seed: The server seed revealed when the hand ended.
        deck: The full deck in dealing order.
        client_seeds: The client seeds that were mixed in, in the same order.

    Returns:
        True when the seed hashes to the commitment and produces exactly this deck.
    """
    if len(seed) < SEED_BYTES:
        return False
    expected = hashlib.sha256(seed).hexdigest().encode()
    if not hmac.compare_digest(expected, commitment.lower().encode()):
        return False
    return list(deck) == shuffled_deck(seed, client_seeds)
