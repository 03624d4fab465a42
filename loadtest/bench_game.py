"""Benchmark of the game state machine: ``./dev bench game`` (or ``python -m loadtest.bench_game``).

Prints figures, asserts nothing:

* full hands per second at a 6-seat table, every decision a random legal action
  (fold, check/call, bet/raise of a random legal size, all-in), including showdowns,
  side pots and rake, in hands per CPU second: with explicit decks drawn beforehand by a
  seeded ``random.Random`` (the 17 cards a 6-seat hand uses), and with the production
  shuffle (each hand derives its deck from a 256-bit seed by HMAC and commits to every
  position it can deal: a nonce per position and a Merkle tree, openings as it deals);
* serialise + deserialise of a 9-seat table in the middle of a hand.
"""

from __future__ import annotations

import random
import time
import timeit

from holdem.engine import SPEC_RAKE_SCHEDULE, Hand, Table, TableConfig

SMALL_BLIND, BIG_BLIND = 1_000, 2_000
BUY_IN = 100 * BIG_BLIND


def _table(seats: int) -> Table:
    config = TableConfig(
        seats=seats,
        small_blind=SMALL_BLIND,
        big_blind=BIG_BLIND,
        rake=SPEC_RAKE_SCHEDULE.rule_for(SMALL_BLIND, BIG_BLIND),
    )
    table = Table(config)
    for seat in range(seats):
        table.sit_down(seat, f"player-{seat}", BUY_IN)
    return table


def _act(hand: Hand, rng: random.Random) -> None:
    seat = hand.to_act
    legal = hand.legal_actions(seat)
    roll = rng.random()
    least, most = legal.min_raise_to, legal.max_raise_to
    if least is not None and most is not None and roll < 0.25:
        if roll < 0.03:
            hand.all_in(seat)
        else:
            hand.raise_to(seat, least + int(rng.random() * (most - least + 1)))
    elif roll < 0.40 and legal.call_amount:
        hand.fold(seat)
    elif legal.can_check:
        hand.check(seat)
    else:
        hand.call(seat)


def _refill(table: Table) -> None:
    for seat, stack in enumerate(table.stacks):
        if stack < BUY_IN // 2:
            table.top_up(seat, BUY_IN - stack)
            table.sit_in(seat)


def simulate(hands: int, *, seeded: bool, rng_seed: int = 7) -> tuple[float, dict[str, float]]:
    """Play ``hands`` random hands at a 6-seat table.

    Returns:
        The CPU seconds spent (``time.process_time``, so other processes on a shared
        machine do not count) and statistics about the hands.
    """
    rng = random.Random(rng_seed)
    table = _table(6)
    # Card sources are drawn before the clock starts, like a server's seeds would be.
    if seeded:
        seeds = [rng.randbytes(32) for _ in range(hands)]
    else:
        decks = [rng.sample(range(52), 2 * 6 + 5) for _ in range(hands)]
    actions = showdowns = raked = 0
    started = time.process_time()
    for number in range(hands):
        if seeded:
            hand = table.start_hand(seed=seeds[number])
        else:
            hand = table.start_hand(deck=decks[number])
        while hand.to_act >= 0:
            _act(hand, rng)
            actions += 1
        result = hand.result
        assert result is not None
        showdowns += bool(result.shown)
        raked += bool(result.rake)
        table.events.clear()
        _refill(table)
    elapsed = time.process_time() - started
    stats = {
        "actions/hand": actions / hands,
        "showdown %": 100 * showdowns / hands,
        "raked %": 100 * raked / hands,
    }
    return elapsed, stats


def _best_rate(hands: int, rounds: int, *, seeded: bool) -> tuple[float, dict[str, float]]:
    """The best of several runs (with different random hands), in hands per CPU second."""
    runs = [simulate(hands, seeded=seeded, rng_seed=seed) for seed in range(rounds)]
    return max(hands / elapsed for elapsed, _ in runs), runs[0][1]


def _mid_hand_table() -> Table:
    """A 9-seat table on the turn with bets out, an all-in and a side pot."""
    table = _table(9)
    hand = table.start_hand(deck=list(range(52)), button=0)
    hand.raise_to(3, 6_000)
    for seat in (4, 5, 6, 7, 8, 0, 1, 2):
        hand.call(seat)
    while hand.street < 2:
        hand.check(hand.to_act)
    hand.raise_to(hand.to_act, 20_000)
    hand.all_in(hand.to_act)
    hand.call(hand.to_act)
    table.events.clear()
    return table


def run() -> None:
    """Print the figures."""
    rate, stats = _best_rate(5_000, 5, seeded=False)
    print(f"random hands, 6 seats, explicit decks: {rate:,.0f} hands/s (best of 5 x 5,000)")
    print("  " + ", ".join(f"{k} {v:.1f}" for k, v in stats.items()))
    rate, _ = _best_rate(2_000, 3, seeded=True)
    print(f"random hands, 6 seats, seeded shuffle:  {rate:,.0f} hands/s (best of 3 x 2,000)")

    table = _mid_hand_table()
    state = table.to_state()
    assert Table.from_state(state).to_state() == state
    loops = 10_000
    dump = min(timeit.repeat(table.to_state, number=loops, repeat=5)) / loops
    load = min(timeit.repeat(lambda: Table.from_state(state), number=loops, repeat=5)) / loops
    both = (
        min(timeit.repeat(lambda: Table.from_state(table.to_state()), number=loops, repeat=5))
        / loops
    )
    print(
        f"9-seat mid-hand state: serialise {dump * 1e6:.1f} µs + deserialise "
        f"{load * 1e6:.1f} µs = round trip {both * 1e6:.1f} µs"
    )
    try:
        import msgpack  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return
    print(f"  msgpack size: {len(msgpack.packb(state))} bytes")


if __name__ == "__main__":
    run()
