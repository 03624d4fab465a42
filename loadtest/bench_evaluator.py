"""Benchmark of the hand evaluator, the shuffle and all-in equity.

Run it directly (``python -m loadtest.bench_evaluator``) or through ``run()``. Each rate
is the best of several repeats over pre-generated random hands, so that it measures the
evaluator rather than the generation of hands.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from functools import partial
from math import comb

from holdem.engine import evaluator
from holdem.engine.cards import parse_cards
from holdem.engine.equity import all_in_equity
from holdem.engine.evaluator import evaluate, evaluate_many
from holdem.engine.shuffle import new_seed, shuffled_deck

HANDS = 200_000
REPEATS = 5


def _best_seconds(work: Callable[[], object], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _single_calls(hands: Sequence[Sequence[int]]) -> None:
    ev = evaluate
    for hand in hands:
        ev(hand)


def _line(label: str, figure: str) -> None:
    print(f"  {label:<44} {figure}")


def run() -> None:
    """Print the benchmark figures."""
    rng = random.Random(2024)
    sevens = [tuple(rng.sample(range(52), 7)) for _ in range(HANDS)]
    sixes = [hand[:6] for hand in sevens]
    fives = [hand[:5] for hand in sevens]

    print("hand evaluator (pure Python, one core)")
    build = _best_seconds(evaluator._build_tables, repeats=3)
    _line("table build", f"{build * 1000:.0f} ms")
    for label, batch in (("7 cards", sevens), ("6 cards", sixes), ("5 cards", fives)):
        seconds = _best_seconds(partial(_single_calls, batch))
        _line(f"evaluate(), {label}, single calls", f"{len(batch) / seconds:,.0f} evals/s")
    seconds = _best_seconds(lambda: evaluate_many(sevens))
    _line("evaluate_many(), 7 cards, batch", f"{HANDS / seconds:,.0f} evals/s")

    print("verifiable shuffle")
    seed = new_seed()
    seconds = _best_seconds(lambda: [shuffled_deck(seed, [b"client"]) for _ in range(10_000)])
    _line("shuffled_deck()", f"{10_000 / seconds:,.0f} decks/s")

    print("all-in equity (exact enumeration)")
    spots = [
        ("turn", ["AhKh", "7s7d"], "Qh7h2h3c"),
        ("flop", ["AhKh", "7s7d"], "Qh7h2h"),
        ("flop", ["AhKh", "7s7d", "JcTc", "As2s"], "Qh7h2h"),
        ("pre-flop", ["AcAd", "KhKs"], ""),
        ("pre-flop", ["AcAd", "KhKs", "7c6c"], ""),
    ]
    for street, hands, board in spots:
        cards = [parse_cards(hand) for hand in hands]
        dealt = parse_cards(board)
        runouts = comb(52 - 2 * len(hands) - len(dealt), 5 - len(dealt))
        start = time.perf_counter()
        shares = all_in_equity(cards, dealt)
        seconds = time.perf_counter() - start
        label = f"{street}, {len(hands)} players ({runouts:,} runouts)"
        split = " / ".join(f"{float(share):.1%}" for share in shares)
        _line(label, f"{seconds * 1000:,.1f} ms  ({split})")


if __name__ == "__main__":
    run()
