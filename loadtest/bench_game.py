"""Benchmark of the game state machine: ``./dev bench game`` (or ``python -m loadtest.bench_game``;
``./dev bench game session`` prints only the table session's figures).

Prints figures, asserts nothing:

* full hands per second at a 6-seat table, every decision a random legal action
  (fold, check/call, bet/raise of a random legal size, all-in), including showdowns,
  side pots and rake, in hands per CPU second: with explicit decks drawn beforehand by a
  seeded ``random.Random`` (the 17 cards a 6-seat hand uses), and with the production
  shuffle (each hand derives its deck from a 256-bit seed by HMAC and commits to every
  position it can deal: a nonce per position and a Merkle tree, openings as it deals);
* serialise + deserialise of a 9-seat table in the middle of a hand;
* a table server's pure CPU per action without I/O: a 6-seat `TableSession` playing random
  hands (every action an ``act`` command), each list of effects carried out as the owner
  does (`edge.table_actor.TableActor`), but for Redis and the sockets: the checkpoint packed
  (`TableSession.packed_checkpoint`) with the lobby's live figures, the messages packed for
  pub/sub (`pack_many`) and encoded for the clients in both encodings (`Codec.encode`), the
  settlement answered at once.
"""

from __future__ import annotations

import random
import sys
import time
import timeit

import msgpack

from holdem.adapters.relay import pack_many
from holdem.engine import SPEC_RAKE_SCHEDULE, Hand, Table, TableConfig
from holdem.protocol.codec import JSON, MSGPACK
from holdem.services.lobby import live_figures
from holdem.session import TableSession, TableTimes
from holdem.session.commands import Act, Command, Done, Outcome, PlayerRules, Sit
from holdem.session.effects import BuyIn, Checkpoint, Effect, Publish, Settle

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


TIMES = TableTimes(
    action_clock_s=15.0,
    time_bank_s=30.0,
    reconnect_grace_s=20.0,
    timeouts_before_sit_out=3,
    takeover_min_clock_s=10.0,
    between_hands_s=2.0,
)


class _Owner:
    """A table owner without I/O: carries out a session's effects, timing each part."""

    def __init__(self, seats: int, rng: random.Random) -> None:
        self.rng = rng
        self.now = 1_800_000_000.0
        config = _table(seats).config
        self.session = TableSession.new(
            1, Table(config), times=TIMES, fence=1, seeds=lambda: rng.randbytes(32), now=self.now
        )
        self.session.open(self.now, resumed=False, closing=False)
        self.times = {"session": 0.0, "checkpoint": 0.0, "wire": 0.0}
        self.seqs = dict.fromkeys(range(100, 100 + seats), 0)
        for seat, user in enumerate(self.seqs):
            conn = f"conn-{user}"  # every player connected, as in `./dev bench edge`
            self.feed(
                Sit(
                    entry_id=f"1-{seat}",
                    at=self.now,
                    user=user,
                    conn=conn,
                    seat=seat,
                    buy_in=BUY_IN,
                )
            )

    def feed(self, command: Command | None) -> None:
        """Apply `command` (None: a tick) and carry out what it causes."""
        clock = time.process_time
        started = clock()
        session = self.session
        effects = session.tick(self.now) if command is None else session.apply(command, self.now)
        times = self.times
        while effects:
            times["session"] += clock() - started
            outcome = self._carry_out(effects)
            started = clock()
            effects = [] if outcome is None else session.apply(outcome, self.now)
        times["session"] += clock() - started

    def _carry_out(self, effects: list[Effect]) -> Outcome | None:
        clock, times = time.process_time, self.times
        started = clock()
        batch = [(1, e.user, e.conn, e.message) for e in effects if isinstance(e, Publish)]
        pack_many(batch, source="bench")
        for _, _, _, message in batch:
            MSGPACK.encode(message)
            JSON.encode(message)
        times["wire"] += clock() - started
        if any(isinstance(e, Checkpoint) for e in effects):
            started = clock()
            session = self.session
            self.session.packed_checkpoint()
            live_figures(1, session.seated, session.recent, self.now, waiting=0)
            times["checkpoint"] += clock() - started
        step = effects[-1]
        if isinstance(step, BuyIn):
            return Done(PlayerRules(None, 60))
        return Done() if isinstance(step, Settle) else None

    def act(self) -> None:
        """The player to act sends a random legal action."""
        session, rng = self.session, self.rng
        hand = session.table.hand
        assert hand is not None
        seat = hand.to_act
        user = int(session.table.players[seat] or 0)
        legal = hand.legal_actions(seat)
        roll, amount = rng.random(), None
        least, most = legal.min_raise_to, legal.max_raise_to
        if least is not None and most is not None and roll < 0.25:
            action = "bet" if legal.can_bet else "raise"
            amount = most if roll < 0.03 else least + int(rng.random() * (most - least + 1))
        elif roll < 0.40 and legal.call_amount:
            action = "fold"
        else:
            action = "check" if legal.can_check else "call"
        self.seqs[user] += 1
        self.now += 0.5
        command = Act(
            entry_id="",
            at=self.now,
            user=user,
            conn=f"conn-{user}",
            rid=str(self.seqs[user]),
            hand=hand.number,
            seq=self.seqs[user],
            action=action,
            amount=amount,
            decision=hand.seq,
        )
        self.feed(command)

    def refill(self) -> None:
        """Busted players buy in again (a top-up is a money step like the buy-in)."""
        table = self.session.table
        for seat, stack in enumerate(table.stacks):
            if stack < BUY_IN // 2:
                table.top_up(seat, BUY_IN - stack)
                table.sit_in(seat)


def simulate_session(hands: int, rng_seed: int = 7) -> tuple[float, int, dict[str, float]]:
    """Play ``hands`` random hands through a `TableSession` at a 6-seat table.

    Returns:
        The CPU seconds spent, the actions taken, and the seconds spent in each part
        (``session``: `apply` / `tick`; ``checkpoint``; ``wire``) (CPU time).
    """
    owner = _Owner(6, random.Random(rng_seed))
    session = owner.session
    actions = 0
    started = time.process_time()
    for _ in range(hands):
        owner.now = max(owner.now, session.next_hand_at)
        owner.feed(None)  # deals
        while (hand := session.table.hand) is not None and hand.result is None:
            owner.act()
            actions += 1
        owner.feed(None)  # settles
        owner.refill()
    return time.process_time() - started, actions, owner.times


def session_figures(hands: int, rounds: int) -> None:
    """The same hands played `rounds` times: the least CPU time of each figure."""
    runs = [simulate_session(hands) for _ in range(rounds)]
    actions = runs[0][1]
    per_action = min(run[0] for run in runs) / actions
    print(
        f"table session, 6 seats, without I/O: {per_action * 1e6:.0f} µs per action, "
        f"{per_action * actions / hands * 1e3:.2f} ms per hand ({actions / hands:.1f} actions "
        f"per hand; least of {rounds} x the same {hands:,} hands)"
    )
    parts = {name: min(run[2][name] for run in runs) / actions for name in runs[0][2]}
    print("  " + ", ".join(f"{k} {v * 1e6:.0f} µs" for k, v in parts.items()))


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
    print(f"  msgpack size: {len(msgpack.packb(state))} bytes")
    session_figures(500, 5)


if __name__ == "__main__":
    if sys.argv[1:] == ["session"]:  # ./dev bench game session: only the session's figures
        session_figures(400, 7)
    else:
        run()
