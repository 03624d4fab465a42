"""Integrity signals as pure functions over stored hands (docs/integrity.md).

A hand is read from what the table servers store (`read_hand`: the ``hand_events`` payloads,
each seat's player, net and hole cards); the signals look at many hands at once and return
`Finding` records, each citing the hands behind it. `holdem.services.integrity` reads the
hands, asks, and files flags for the operators. A finding is a reason to look, never proof:
see docs/integrity.md, "What the signals prove".

Sixty heads-up decisions without a bet or raise, from two players who bet or raise 15% of
the time against everyone else, happen by chance about 6 times in 100,000:

>>> float(binomial_at_most(0, 60, Fraction(3, 20)))  # doctest: +ELLIPSIS
5.82...e-05
>>> variation_pct([1000, 1000, 1000, 1000])
0
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations
from math import comb, isqrt
from typing import Any

from holdem.engine.cards import parse_cards
from holdem.engine.equity import all_in_equity
from holdem.ledger.aml import AmlRule

__all__ = [
    "Decision",
    "Finding",
    "HandRecord",
    "Thresholds",
    "binomial_at_most",
    "bot_timing",
    "chip_dumping",
    "read_hand",
    "shared_identity",
    "soft_play",
    "transfers",
    "variation_pct",
]

_STREETS = {"preflop": 0, "flop": 1, "turn": 2, "river": 3}
_AGGRESSIVE = frozenset({"bet", "raise"})


@dataclass(frozen=True)
class Thresholds:
    """When each signal fires: the operator's settings (`holdem.config.IntegritySettings`,
    documented there and in docs/integrity.md)."""

    dump_min_transfer_bb: int
    dump_min_one_way_pct: int
    dump_min_suspect_hands: int
    dump_min_fold_ahead_pct: int
    soft_min_hands: int
    soft_min_heads_up: int
    soft_max_ratio_pct: int
    soft_min_other_rate_pct: int
    soft_max_p_value: Fraction
    timing_min_actions: int
    timing_max_cv_pct: int
    max_hands_cited: int


@dataclass(frozen=True)
class Decision:
    """One player's action, with what they faced.

    Attributes:
        user_id: Who acted.
        street: 0 pre-flop, 1 flop, 2 turn, 3 river.
        kind: ``fold``, ``check``, ``call``, ``bet`` or ``raise``.
        live: The players still in the hand (not folded) when they acted, them included.
        able: Of those, the ones not all-in (who could still put chips in).
        facing: The player whose bet or raise of the street they faced (``None``: no bet
            yet on the street; pre-flop the blinds do not count).
        think_ms: How long they took, when the table server recorded it.
        board: The community cards out when they acted.
    """

    user_id: int
    street: int
    kind: str
    live: frozenset[int]
    able: frozenset[int]
    facing: int | None
    think_ms: int | None
    board: str


@dataclass(frozen=True)
class HandRecord:
    """A stored hand as the signals read it (players by user id, chips in won)."""

    hand_id: int
    big_blind: int
    players: tuple[int, ...]
    net: Mapping[int, int]
    hole: Mapping[int, str]
    decisions: tuple[Decision, ...]


@dataclass(frozen=True)
class Finding:
    """A signal that fired for a player (and the other player of a pair), with the hands
    behind it (the first `Thresholds.max_hands_cited`; ``hand_count`` counts them all)."""

    signal: AmlRule
    user_id: int
    other_user_id: int | None
    hand_ids: tuple[int, ...]
    hand_count: int
    details: dict[str, Any] = field(default_factory=dict)


def read_hand(
    hand_id: int,
    big_blind: int,
    seats: Mapping[int, int],
    net: Mapping[int, int],
    hole: Mapping[int, str],
    events: Iterable[Mapping[str, Any]],
) -> HandRecord:
    """A hand from its stored events (``hand_events.payload``, in order).

    Args:
        hand_id: The hand's id (cited by findings).
        big_blind: The hand's big blind.
        seats: The player (user id) of each dealt seat.
        net: Each player's net result (by user id).
        hole: Each player's hole cards, ``"AsKd"`` (by user id; ``""`` if unknown).
        events: The hand's stored events.
    """
    live = set(seats.values())
    able = set(live)
    street = 0
    facing: int | None = None
    board = ""
    decisions = []
    for event in events:
        kind = event.get("event")
        if kind == "street_dealt":
            street = _STREETS.get(str(event.get("street")), street)
            board = "".join(event.get("board") or ())
            facing = None
        elif kind == "blind_posted" and event.get("all_in"):
            able.discard(seats.get(event["seat"], -1))
        elif kind == "action" and event.get("seat") in seats:
            user = seats[event["seat"]]
            action = str(event["kind"])
            think = event.get("think_ms")
            decisions.append(
                Decision(
                    user,
                    street,
                    action,
                    frozenset(live),
                    frozenset(able),
                    facing,
                    think if isinstance(think, int) else None,
                    board,
                )
            )
            if action == "fold":
                live.discard(user)
                able.discard(user)
            elif event.get("all_in"):
                able.discard(user)
            if action in _AGGRESSIVE:
                facing = user
    return HandRecord(
        hand_id, big_blind, tuple(seats.values()), dict(net), dict(hole), tuple(decisions)
    )


def transfers(hand: HandRecord) -> dict[tuple[int, int], int]:
    """Won passed from each loser to each winner: a loser's loss shared among the winners in
    proportion to their winnings (rake makes the losses a little larger than the wins).

    >>> transfers(HandRecord(1, 2, (7, 8, 9), {7: -300, 8: 200, 9: 100}, {}, ()))
    {(7, 8): 200, (7, 9): 100}
    """
    won = {u: n for u, n in hand.net.items() if n > 0}
    total = sum(won.values())
    found: dict[tuple[int, int], int] = {}
    for loser, n in hand.net.items():
        if n < 0 and total:
            for winner, w in won.items():
                found[(loser, winner)] = -n * w // total
    return found


def _ahead(hand: HandRecord, decision: Decision, opponent: int) -> bool:
    """Whether a folding player held at least half the equity against the opponent's cards
    (every runout of the board still to come; unknown cards: no)."""
    mine, theirs = hand.hole.get(decision.user_id, ""), hand.hole.get(opponent, "")
    if len(mine) != 4 or len(theirs) != 4:
        return False
    shares = all_in_equity([parse_cards(mine), parse_cards(theirs)], parse_cards(decision.board))
    return shares[0] >= Fraction(1, 2)


def _cited(hands: Iterable[int], limit: int) -> tuple[tuple[int, ...], int]:
    unique = sorted(set(hands))
    return tuple(unique[:limit]), len(unique)


def chip_dumping(hands: Iterable[HandRecord], limits: Thresholds) -> list[Finding]:
    """Large one-way transfers from one player to another, with hands that look given away.

    Fires for a pair (sender → receiver) when over the window the sender's net transfer to
    the receiver is at least `dump_min_transfer_bb` big blinds (each hand's transfer counted
    in its own big blinds), at least `dump_min_one_way_pct` percent of all that passed
    between them went that way, and at least `dump_min_suspect_hands` hands show a dump: the
    sender folded to the receiver's bet or raise holding the better hand against the
    receiver's cards, on the turn or river, or on any street after the flop with only the two
    of them left; and those folds are at least `dump_min_fold_ahead_pct` percent of the
    times the sender faced the receiver's bet there (a player who folds at random folds the
    better hand now and then; one who gives the pot away folds it every time). Both players
    get a finding.
    """
    flow: dict[tuple[int, int], Fraction] = defaultdict(Fraction)
    suspects: dict[tuple[int, int], list[int]] = defaultdict(list)
    paid: dict[tuple[int, int], list[int]] = defaultdict(list)
    faced: dict[tuple[int, int], int] = defaultdict(int)
    for hand in hands:
        for pair, won in transfers(hand).items():
            if won > 0:
                flow[pair] += Fraction(won, hand.big_blind)
                paid[pair].append(hand.hand_id)
        for d in hand.decisions:
            if d.facing is None or d.street == 0 or (d.street == 1 and len(d.live) != 2):
                continue
            pair = (d.user_id, d.facing)
            faced[pair] += 1
            if d.kind != "fold":
                continue
            if hand.net.get(d.facing, 0) <= 0 or hand.net.get(d.user_id, 0) >= 0:
                continue
            if _ahead(hand, d, d.facing):
                suspects[pair].append(hand.hand_id)
    found = []
    for (sender, receiver), amount in sorted(flow.items()):
        back = flow.get((receiver, sender), Fraction(0))
        net = amount - back
        if net < limits.dump_min_transfer_bb:
            continue
        if amount * 100 < limits.dump_min_one_way_pct * (amount + back):
            continue
        dumped = sorted(set(suspects.get((sender, receiver), [])))
        if len(dumped) < limits.dump_min_suspect_hands:
            continue
        if len(dumped) * 100 < limits.dump_min_fold_ahead_pct * faced[(sender, receiver)]:
            continue
        others = sorted(set(paid[(sender, receiver)]) - set(dumped))
        cited = tuple((dumped + others)[: limits.max_hands_cited])
        details = {
            "sender": sender,
            "receiver": receiver,
            "net_transfer_bb": round(float(net), 1),
            "one_way_pct": round(float(amount * 100 / (amount + back)), 1),
            "suspect_hands": len(dumped),
            "faced_bets": faced[(sender, receiver)],
            "suspect_hand_ids": dumped[: limits.max_hands_cited],
        }
        for user, other in ((sender, receiver), (receiver, sender)):
            found.append(
                Finding(
                    AmlRule.CHIP_DUMPING, user, other, cited, len(dumped) + len(others), details
                )
            )
    return found


def binomial_at_most(k: int, n: int, p: Fraction) -> Fraction:
    """P(X ≤ k) for X ~ Binomial(n, p), exactly.

    >>> binomial_at_most(1, 2, Fraction(1, 2))
    Fraction(3, 4)
    """
    return sum((comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)), Fraction(0))


def soft_play(hands: Iterable[HandRecord], limits: Thresholds) -> list[Finding]:
    """A pair often in hands together who rarely bet or raise against each other.

    Heads-up decisions are those taken with only two players left in the hand, both able to
    put chips in. A pair fires when they shared at least `soft_min_hands` hands and
    `soft_min_heads_up` heads-up decisions against each other, in which their bet-or-raise
    rate is at most `soft_max_ratio_pct` percent of their own rate in heads-up decisions
    against everyone else (itself at least `soft_min_other_rate_pct` percent), and seeing so
    few aggressive actions at their usual rate is unlikely (binomial tail at most
    `soft_max_p_value`): a few quiet hands of two cautious players do not fire.
    """
    together: dict[tuple[int, int], list[int]] = defaultdict(list)
    versus: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    hu_hands: dict[tuple[int, int], list[int]] = defaultdict(list)
    for hand in hands:
        for a, b in combinations(sorted(set(hand.players)), 2):
            together[(a, b)].append(hand.hand_id)
        for d in hand.decisions:
            if len(d.live) != 2 or len(d.able) != 2:
                continue
            (other,) = d.live - {d.user_id}
            counts = versus[(d.user_id, other)]
            counts[0] += 1
            counts[1] += d.kind in _AGGRESSIVE
            hu_hands[(min(d.user_id, other), max(d.user_id, other))].append(hand.hand_id)
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for (user, _), (n, k) in versus.items():
        totals[user][0] += n
        totals[user][1] += k
    found = []
    for (a, b), shared in sorted(together.items()):
        if len(shared) < limits.soft_min_hands:
            continue
        n = versus[(a, b)][0] + versus[(b, a)][0]
        k = versus[(a, b)][1] + versus[(b, a)][1]
        other_n = totals[a][0] + totals[b][0] - n
        other_k = totals[a][1] + totals[b][1] - k
        if n < limits.soft_min_heads_up or other_n < limits.soft_min_heads_up:
            continue
        rate = Fraction(other_k, other_n)
        if rate * 100 < limits.soft_min_other_rate_pct:
            continue
        if Fraction(k, n) * 100 > limits.soft_max_ratio_pct * rate:
            continue
        p_value = binomial_at_most(k, n, rate)
        if p_value > limits.soft_max_p_value:
            continue
        cited, count = _cited(hu_hands[(a, b)], limits.max_hands_cited)
        details = {
            "hands_together": len(set(shared)),
            "heads_up_decisions": n,
            "aggressive_vs_each_other": k,
            "heads_up_decisions_vs_others": other_n,
            "aggressive_vs_others": other_k,
            "p_value": f"{float(p_value):.2e}",
        }
        for user, other in ((a, b), (b, a)):
            found.append(Finding(AmlRule.SOFT_PLAY, user, other, cited, count, details))
    return found


def variation_pct(values: Sequence[int]) -> int:
    """The coefficient of variation (standard deviation / mean) in whole percent.

    >>> variation_pct([900, 1000, 1100])
    8
    """
    n = len(values)
    mean = Fraction(sum(values), n)
    if mean <= 0:
        return 0
    variance = sum((Fraction(v) - mean) ** 2 for v in values) / n
    return isqrt(int(variance * 10_000 / (mean * mean)))


def bot_timing(hands: Iterable[HandRecord], limits: Thresholds) -> list[Finding]:
    """Decision times with implausibly low variance.

    Fires for a player with at least `timing_min_actions` timed decisions (the table servers
    time each decision from the turn's start; a timeout is not a decision) whose coefficient
    of variation is at most `timing_max_cv_pct` percent. People take seconds over a hard
    decision and a moment over an easy one; a scripted delay does not.
    """
    times: dict[int, list[int]] = defaultdict(list)
    where: dict[int, list[int]] = defaultdict(list)
    for hand in hands:
        for d in hand.decisions:
            if d.think_ms is not None:
                times[d.user_id].append(d.think_ms)
                where[d.user_id].append(hand.hand_id)
    found = []
    for user, values in sorted(times.items()):
        if len(values) < limits.timing_min_actions:
            continue
        cv = variation_pct(values)
        if cv > limits.timing_max_cv_pct:
            continue
        cited, count = _cited(where[user], limits.max_hands_cited)
        details = {
            "decisions": len(values),
            "mean_ms": sum(values) // len(values),
            "cv_pct": cv,
            "min_ms": min(values),
            "max_ms": max(values),
        }
        found.append(Finding(AmlRule.BOT_TIMING, user, None, cited, count, details))
    return found


def shared_identity(
    hands: Iterable[HandRecord],
    identities: Mapping[int, Mapping[str, frozenset[str]]],
    limits: Thresholds,
) -> list[Finding]:
    """Two players in the same hands who logged in from one IP address or one device.

    Args:
        hands: The hands of the window.
        identities: Per user, ``{"ip": {...}, "device_id": {...}}`` from their logins.
        limits: Only `max_hands_cited` is used: this signal fires on any overlap.
    """
    together: dict[tuple[int, int], list[int]] = defaultdict(list)
    for hand in hands:
        for a, b in combinations(sorted(set(hand.players)), 2):
            together[(a, b)].append(hand.hand_id)
    found = []
    for (a, b), shared_hands in sorted(together.items()):
        mine, theirs = identities.get(a, {}), identities.get(b, {})
        shared = {
            kind: sorted(mine.get(kind, frozenset()) & theirs.get(kind, frozenset()))
            for kind in ("ip", "device_id")
        }
        if not any(shared.values()):
            continue
        cited, count = _cited(shared_hands, limits.max_hands_cited)
        details = {kind: values for kind, values in shared.items() if values}
        for user, other in ((a, b), (b, a)):
            found.append(Finding(AmlRule.SHARED_IDENTITY, user, other, cited, count, details))
    return found
