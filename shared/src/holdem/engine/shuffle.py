"""A shuffle fixed before the hand starts, committed to card by card.

At the start of a hand the server draws a fresh seed (:func:`new_seed`). The deck is a pure
function of the seed and the optional client seeds (:func:`shuffled_deck`). Every position
a hand can deal (two hole cards for each seat of the table, then five board cards; see
:mod:`holdem.engine.dealing`) gets a secret per-card nonce derived from the seed, and the
hand publishes one commitment: the root of a Merkle tree over
``H(position, card, nonce)`` for all those positions (:func:`commit_deck`).

A player is sent the *openings* (:class:`Opening`: position, card, nonce, Merkle proof) of
exactly the cards they may see: their own hole cards, the board as it is dealt, and cards
shown at showdown. :func:`verify_opening` checks one against the commitment, so a player
knows every card they saw was fixed before the hand began. Folded and mucked cards are never
opened to anyone but their owner, and the seed never leaves the server: with it anyone could
compute every card. The operator verifies the whole deal from the stored seed with
:func:`verify_deal`.

The deck (version 1), precise enough to reimplement:

1. ``server_seed`` is at least 32 bytes. ``client_seeds`` is a list of byte strings whose
   order matters (the caller fixes it, e.g. seat order; it may be empty). They are inputs
   of the hand's start, so they are fixed before the commitment is published.
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

The commitment (version 1 of the card commitment):

1. ``positions = 2 * seats + 5`` (the table's size, not the players dealt in).
2. ``nonce(p) = HMAC-SHA256(key=server_seed, msg=b"holdem-card-nonce-v1" || u32(p))``:
   32 bytes, unpredictable without the seed and independent across positions.
3. ``leaf(p) = SHA-256(0x00 || b"holdem-card-leaf-v1" || u8(p) || u8(deck[p]) ||
   nonce(p))`` for ``p < positions``. The tree has ``width`` leaves, the smallest power of
   two ``>= positions``; leaves ``positions .. width - 1`` are 32 zero bytes (nothing opens
   them).
4. ``node(l, r) = SHA-256(0x01 || l || r)``; the prefixes keep leaves and inner nodes apart.
   Each level pairs neighbours (``0-1``, ``2-3``, ...) up to the root; the commitment is the
   root as 64 lowercase hex digits.
5. The proof of position ``p`` lists the sibling at each level from the leaf up: level ``k``
   gives ``node k`` of index ``(p >> k) ^ 1``. To verify, start from ``leaf(p)`` and at level
   ``k`` hash ``node(h, sibling)`` when bit ``k`` of ``p`` is 0, else ``node(sibling, h)``.

>>> seed = bytes(range(32))
>>> deal = deal_from_seed(seed, seats=2)
>>> deal.commitment[:16]
'109a03e5f893924f'
>>> opening = deal.opening(4)  # seat 0 and 1 hold positions 0..3; 4 is the first flop card
>>> verify_opening(deal.commitment, opening)
True
>>> verify_opening(deal.commitment, opening._replace(card=(opening.card + 1) % 52))
False
>>> verify_deal(deal.commitment, seed, seats=2).ok
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping, Sequence
from itertools import count
from typing import Any, NamedTuple

from holdem.engine.cards import Card, card_str, parse_card

__all__ = [
    "SEED_BYTES",
    "Deal",
    "DealCheck",
    "Opening",
    "card_nonce",
    "commit_deck",
    "deal_from_seed",
    "dealt_positions",
    "new_seed",
    "seed_commitment",
    "shuffled_deck",
    "verify_deal",
    "verify_opening",
]

SEED_BYTES = 32
"""Server seed length: 256 bits, more than the 225.6 bits of entropy in 52!."""

_DOMAIN = b"holdem-shuffle-v1"
_NONCE_DOMAIN = b"holdem-card-nonce-v1"
_LEAF_DOMAIN = b"holdem-card-leaf-v1"
_LEAF = b"\x00"
_NODE = b"\x01"
_EMPTY = bytes(32)
_MAX_DEPTH = 8
"""No table deals more than 2^8 positions: a longer proof is refused before any hashing."""


def new_seed() -> bytes:
    """A fresh 256-bit server seed from the operating system's CSPRNG."""
    return secrets.token_bytes(SEED_BYTES)


def seed_commitment(seed: bytes) -> str:
    """SHA-256 of a seed as lowercase hex: the commitment of hands dealt before per-card
    commitments (they published it and revealed the seed at the end). Only the operator's
    verification of those old hands uses it.

    >>> seed_commitment(bytes(32))[:16]
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


def dealt_positions(seats: int) -> int:
    """How many deck positions a hand at a table of ``seats`` seats can deal."""
    return 2 * seats + 5


def card_nonce(seed: bytes, position: int) -> bytes:
    """The secret nonce of one deck position (32 bytes; HMAC of the seed, domain-separated
    from the shuffle's byte stream)."""
    return hmac.digest(seed, _NONCE_DOMAIN + position.to_bytes(4, "big"), "sha256")


def _card_nonces(seed: bytes, count: int) -> list[bytes]:
    """``card_nonce(seed, p)`` for ``p < count``, keying the HMAC once (half the cost)."""
    keyed = hmac.new(seed, _NONCE_DOMAIN, "sha256")
    nonces = []
    for position in range(count):
        mac = keyed.copy()
        mac.update(position.to_bytes(4, "big"))
        nonces.append(mac.digest())
    return nonces


def _leaf(position: int, card: Card, nonce: bytes) -> bytes:
    return hashlib.sha256(_LEAF + _LEAF_DOMAIN + bytes((position, card)) + nonce).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


class Opening(NamedTuple):
    """One committed card, opened: what a player needs to check it against the commitment.

    Attributes:
        position: The card's position in the deck (see :mod:`holdem.engine.dealing`).
        card: The card.
        nonce: Its 32-byte secret nonce.
        proof: The sibling hashes from the leaf up to the root.
    """

    position: int
    card: Card
    nonce: bytes
    proof: tuple[bytes, ...]

    def to_wire(self) -> dict[str, Any]:
        """Plain data: ``{"position", "card": "As", "nonce": hex, "proof": [hex, ...]}``."""
        return {
            "position": self.position,
            "card": card_str(self.card),
            "nonce": self.nonce.hex(),
            "proof": [sibling.hex() for sibling in self.proof],
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Opening:
        """Parse :meth:`to_wire` output.

        Raises:
            ValueError: A field is missing or malformed.
        """
        try:
            position, card = data["position"], data["card"]
            nonce, proof = data["nonce"], data["proof"]
            if type(position) is not int or not isinstance(card, str):
                raise ValueError("position must be an int and card a string")
            if not isinstance(nonce, str) or not isinstance(proof, list):
                raise ValueError("nonce must be hex and proof a list of hex")
            return cls(
                position,
                parse_card(card),
                bytes.fromhex(nonce),
                tuple(bytes.fromhex(sibling) for sibling in proof),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an opening: {exc}") from exc


class Deal:
    """A hand's dealt positions with their nonces and Merkle tree (server side only).

    Attributes:
        cards: The card at each position a hand can deal (``2 * seats + 5`` of them).
        commitment: The Merkle root as 64 lowercase hex digits, published at the start.
    """

    __slots__ = ("_levels", "_nonces", "_opened", "cards", "commitment")

    cards: tuple[Card, ...]
    commitment: str
    _nonces: tuple[bytes, ...]
    _levels: list[list[bytes]]
    _opened: dict[int, Opening]

    def __init__(self, cards: Sequence[Card], nonces: Sequence[bytes]) -> None:
        """Build the tree over ``cards`` (one per position) and their ``nonces``."""
        level = [
            _leaf(p, card, nonce) for p, (card, nonce) in enumerate(zip(cards, nonces, strict=True))
        ]
        width = 1
        while width < len(level):
            width *= 2
        level += [_EMPTY] * (width - len(level))
        levels = [level]
        while len(level) > 1:
            level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
            levels.append(level)
        self.cards = tuple(cards)
        self._nonces = tuple(nonces)
        self._levels = levels
        self._opened = {}
        self.commitment = levels[-1][0].hex()

    def opening(self, position: int) -> Opening:
        """The opening of one dealt position (its card, nonce and proof)."""
        # Kept: every snapshot and event that shows a card opens it again.
        opening = self._opened.get(position)
        if opening is None:
            levels = self._levels[:-1]
            proof = tuple([level[(position >> k) ^ 1] for k, level in enumerate(levels)])
            opening = Opening(position, self.cards[position], self._nonces[position], proof)
            self._opened[position] = opening
        return opening


def commit_deck(seed: bytes, cards: Sequence[Card]) -> Deal:
    """Commit to the cards a hand can deal, one per position, with nonces from ``seed``."""
    return Deal(cards, _card_nonces(seed, len(cards)))


def deal_from_seed(seed: bytes, seats: int, client_seeds: Sequence[bytes] = ()) -> Deal:
    """Shuffle and commit: the :class:`Deal` of a hand at a table of ``seats`` seats.

    Raises:
        ValueError: The seed is shorter than :data:`SEED_BYTES` bytes.
    """
    deck = shuffled_deck(seed, client_seeds)
    return commit_deck(seed, deck[: dealt_positions(seats)])


def verify_opening(commitment: str, opening: Opening) -> bool:
    """Whether ``opening`` opens a position of the deck committed to by ``commitment``.

    Standard library only, so a player (or anyone) can run it: recompute the leaf from the
    position, card and nonce, fold the proof up to a root, and compare.

    Args:
        commitment: The hex Merkle root published when the hand started.
        opening: The opening received (see :meth:`Opening.from_wire`).

    Returns:
        True only when the card at that position is the one that was committed.
    """
    position, card, nonce, proof = opening
    if (
        type(position) is not int
        or type(card) is not int
        or not 0 <= card < 52
        or not isinstance(nonce, bytes)
        or len(nonce) != 32
        or not 0 < len(proof) <= _MAX_DEPTH
        or not 0 <= position < 1 << len(proof)
        or any(not isinstance(s, bytes) or len(s) != 32 for s in proof)
    ):
        return False
    try:
        root = bytes.fromhex(commitment)
    except (TypeError, ValueError):
        return False
    node = _leaf(position, card, nonce)
    for k, sibling in enumerate(proof):
        node = _node(sibling, node) if position >> k & 1 else _node(node, sibling)
    return hmac.compare_digest(node, root)


class DealCheck(NamedTuple):
    """The operator's verdict on a whole deal (:func:`verify_deal`).

    Attributes:
        ok: The seed explains the commitment and every recorded card.
        scheme: ``"cards"`` (a per-card Merkle commitment), ``"seed"`` (an old hand that
            published ``sha256(seed)``) or ``None`` when the seed explains neither.
        deal: The deal the seed produces.
        problems: What did not match, in words.
    """

    ok: bool
    scheme: str | None
    deal: Deal
    problems: tuple[str, ...]


def verify_deal(
    commitment: str,
    seed: bytes,
    seats: int,
    client_seeds: Sequence[bytes] = (),
    dealt: Mapping[int, Card] | None = None,
) -> DealCheck:
    """Recompute a hand's deal from its seed and check it (the operator's full check).

    Args:
        commitment: The commitment the hand published.
        seed: The server seed kept with the hand.
        seats: The table size.
        client_seeds: The client seeds that were mixed in, in order.
        dealt: Recorded cards by position (hole cards, board, shown cards) to compare.

    Returns:
        A :class:`DealCheck`.

    Raises:
        ValueError: The seed is shorter than :data:`SEED_BYTES` bytes.
    """
    deal = deal_from_seed(seed, seats, client_seeds)
    problems = []
    published = commitment.lower().encode()  # bytes: any text compares, none raises
    if hmac.compare_digest(deal.commitment.encode(), published):
        scheme: str | None = "cards"
    elif hmac.compare_digest(seed_commitment(seed).encode(), published):
        scheme = "seed"
    else:
        scheme = None
        problems.append("the seed does not produce the published commitment")
    for position, card in sorted((dealt or {}).items()):
        if not 0 <= position < len(deal.cards):
            problems.append(f"position {position} is outside a {seats}-seat deal")
        elif deal.cards[position] != card:
            # Positions, not cards: the verdict goes to tools and logs.
            problems.append(f"position {position} holds another card than the seed deals")
    return DealCheck(not problems, scheme, deal, tuple(problems))
