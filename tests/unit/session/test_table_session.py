"""`holdem.session.TableSession` driven with a fake clock, a fake ledger and random commands.

The property test plays random sequences of sits, acts (legal and not), leaves, disconnects
and reconnects, sit-outs and sit-ins, top-ups, exclusions, resends, takeovers (the session
rebuilt from its msgpack checkpoint), ledger failures, wait-list joins and leaves, and time
passing, and checks after every step: chips are conserved, a player has one seat, clocks
never go back, every command is answered exactly once (a resend gets the original answer
and moves nothing), no hole card reaches anybody but its owner before it is shown, nobody is
both seated and waiting, and a seat offered to a waiting player goes to nobody else before
the offer runs out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from holdem.engine.cards import card_str
from holdem.engine.rake import SPEC_RAKE_SCHEDULE
from holdem.engine.table import Table, TableConfig
from holdem.session import TableSession, TableTimes
from holdem.session.commands import (
    ANSWERED,
    Act,
    Close,
    Command,
    Disconnected,
    Done,
    Exclude,
    Failed,
    Join,
    Leave,
    Outcome,
    PlayerRules,
    RealityCheckAck,
    Sit,
    SitIn,
    SitOut,
    TopUp,
    WaitListJoin,
    WaitListLeave,
    command_from_stream,
)
from holdem.session.effects import (
    BuyIn,
    CashOut,
    Checkpoint,
    Effect,
    FinishClosing,
    HandFinished,
    MoneyStep,
    Publish,
    SeatTaken,
    Settle,
    TableClosed,
    TopUpChips,
)
from holdem.session.table_session import ANSWERS_KEPT, COMMAND_MAX_AGE_S, OUTBOX_RETRY_S

T0 = 1_800_000_000.0
TIMES = TableTimes(
    action_clock_s=5.0,
    time_bank_s=10.0,
    reconnect_grace_s=8.0,
    timeouts_before_sit_out=3,
    takeover_min_clock_s=10.0,
    between_hands_s=1.0,
    wait_list_offer_s=6.0,
    wait_list_max=3,
)
CONFIG = TableConfig(
    seats=4,
    small_blind=1_000,
    big_blind=2_000,
    rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000),
)
LOW, HIGH = CONFIG.buy_in_range
USERS = [11, 12, 13, 14, 15]


@dataclass
class FakeLedger:
    """The money steps as PostgreSQL takes them: idempotent by key (a replay moves nothing),
    refused on demand."""

    failing: bool = False
    refusing: bool = False
    keys: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    """The request each key was taken for: (step, user, amount)."""
    bought_in: int = 0
    cashed_out: int = 0
    settled: dict[int, int] = field(default_factory=dict)
    """Rake by settled hand number."""
    closed: bool = False

    def take(self, step: MoneyStep) -> Outcome:
        if self.failing:
            return Failed(None, "PostgreSQL is unreachable")
        if self.refusing and isinstance(step, BuyIn | TopUpChips):
            return Failed("loss_limit_reached", "over the loss limit")
        if isinstance(step, Settle):
            number = step.settlement["hand_no"]
            self.settled.setdefault(number, step.settlement["rake"])
            return Done()
        if isinstance(step, FinishClosing):
            self.closed = True
            return Done()
        # PostgreSQL replays a key taken again for the same request and refuses it for another
        # (`IdempotencyKeyReused`): the session must never reuse a key for another request.
        request = (type(step).__name__, step.user, step.amount)
        first = step.key not in self.keys
        taken = self.keys.setdefault(step.key, request)
        assert taken == request, f"key {step.key!r} of {taken} reused for {request}"
        if isinstance(step, BuyIn | TopUpChips):
            self.bought_in += step.amount if first else 0
            rules = PlayerRules(None, 60) if isinstance(step, BuyIn) else None
            return Done(rules)
        assert isinstance(step, CashOut)
        self.cashed_out += step.amount if first else 0
        return Done()


def new_session(seed: int = 0) -> TableSession:
    seeds = random.Random(seed)
    return TableSession.new(
        1,
        Table(CONFIG),
        times=TIMES,
        fence=7,
        seeds=lambda: seeds.randbytes(32),
        now=T0,
    )


class Harness:
    """Drives a session as its owner does and checks every list of effects it returns."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.session = new_session(seed)
        self.ledger = FakeLedger()
        self.now = T0
        self.guard_now = T0
        self.entries = 0
        self.rids = 0
        self.seqs: dict[int, int] = {}
        self.rake = 0
        """The rake of every hand that ended (it left the stacks)."""
        self.answered: dict[int, list[tuple[Command, dict[str, Any]]]] = {}
        """Each user's commands answered with a result, and the result."""
        self.secret: dict[str, int] = {}
        self.shown: set[str] = set()
        """Hole cards of the running hand shown at showdown (public from then on)."""
        """The running hand's hole cards not shown yet, by card → owner."""
        self.hand_no: int | None = None
        self.banks: dict[int, float] = {}
        self.turn_key: tuple[int, int, int] | None = None
        self.turn_deadline = 0.0
        self.published: list[Publish] = []
        self.finished: list[int] = []
        self.closed = False
        self.seated_here: list[int] = []
        """The users whose sit here succeeded (`SeatTaken`), in order."""
        self.offers: dict[int, tuple[int, float]] = {}
        """The seats offered after the last step: seat → (user, until)."""
        self.carry_out(self.session.open(self.now, resumed=False, closing=False))

    # ------------------------------------------------------------------ driving

    def command(self, cls: type[Command], user: int = 0, **fields: Any) -> Command:
        self.entries += 1
        self.rids += 1
        rid = None if cls in (Join, Disconnected, Close, Exclude) else f"r{self.rids}"
        return cls(
            entry_id=f"{self.entries}-0",
            at=fields.pop("at", self.now),
            user=user,
            conn=f"c{user}",
            rid=rid,
            **fields,
        )

    def apply(self, command: Command) -> list[Publish]:
        """Apply and check; returns what was published."""
        self.observe_hand()
        effects = self.session.apply(command, self.now, guard_now=self.guard_now)
        published = self.carry_out(effects)
        if command.kind in ANSWERED:
            answers = [
                p
                for p in published
                if p.conn == command.conn and p.message.get("id") == command.rid
            ]
            assert len(answers) == 1, f"{command} answered {len(answers)} times"
            assert answers[0].user == command.user
            message = answers[0].message
            assert message["type"] in ("result", "error")
            if message["type"] == "result":
                self.answered.setdefault(command.user, []).append((command, message))
            if self.session.table.seat_of(str(command.user)) is None:
                self.answered.pop(command.user, None)  # (see check_invariants)
        return published

    def tick(self, seconds: float) -> None:
        self.now += seconds
        self.guard_now += seconds
        self.observe_hand()
        self.carry_out(self.session.tick(self.now, guard_now=self.guard_now))

    def carry_out(self, effects: list[Effect]) -> list[Publish]:
        published: list[Publish] = []
        while effects:
            more: list[Effect] = []
            for number, effect in enumerate(effects):
                if isinstance(effect, Publish):
                    published.append(effect)
                elif isinstance(effect, HandFinished):
                    self.rake += effect.rake
                    self.finished.append(effect.settlement["hand_no"])
                elif isinstance(effect, TableClosed):
                    self.closed = True
                elif isinstance(effect, SeatTaken):
                    self.seated_here.append(effect.user)
                elif not isinstance(effect, Checkpoint):
                    assert number == len(effects) - 1, "a money step is the last effect"
                    more = self.session.apply(
                        self.ledger.take(effect), self.now, guard_now=self.guard_now
                    )
            effects = more
        self.observe_hand()
        self.check_privacy(published)
        self.check_invariants()
        self.check_packed_checkpoint()
        self.published += published
        return published

    # ------------------------------------------------------------------ invariants

    def observe_hand(self) -> None:
        """Learn the running hand's hole cards from the engine (the test may look)."""
        hand = self.session.table.hand
        if hand is None:
            return
        if hand.number != self.hand_no:
            self.hand_no, self.secret, self.shown = hand.number, {}, set()
        for seat in range(hand.size):
            cards = hand.hole_cards(seat)
            player = hand.players[seat]
            if cards is None or player is None:
                continue
            if seat in hand.shown:
                self.shown.update(card_str(card) for card in cards)
            elif hand.result is None:
                for card in cards:
                    self.secret.setdefault(card_str(card), int(player))

    def check_privacy(self, published: list[Publish]) -> None:
        shown = self.shown
        for effect in published:
            message = effect.message
            if message.get("event") == "hand_shown":
                shown.update(message["cards"])
            for text in _strings(message):
                owner = self.secret.get(text)
                if owner is not None and text not in shown:
                    assert effect.user == owner, f"{text} (of {owner}) sent to {effect.user}"

    def check_invariants(self) -> None:
        session, table = self.session, self.session.table
        # Chips are conserved: stacks + pots + cashed out + rake = bought in.
        hand = table.hand
        in_pot = sum(hand.committed) if hand is not None and hand.result is None else 0
        total = sum(table.stacks) + in_pot + self.ledger.cashed_out + self.rake
        assert total == self.ledger.bought_in
        # Every finished hand is settled, or waits in the outbox; the rake is what was taken.
        pending = {s["hand_no"]: s["rake"] for s in session.outbox}
        assert len(self.finished) == len(set(self.finished))
        assert set(self.finished) == set(pending) | set(self.ledger.settled)
        assert not set(pending) & set(self.ledger.settled)
        assert sum(pending.values()) + sum(self.ledger.settled.values()) == self.rake
        # One seat per player; only seated players' connections are tracked.
        players = [int(p) for p in table.players if p is not None]
        assert len(players) == len(set(players))
        assert set(session.conns) <= set(players)
        assert set(session.seqs) <= set(players)
        for gone in set(self.answered) - set(players):
            del self.answered[gone]  # a player who left has nothing left to resend here
        # Clocks never go back.
        assert session.now == self.now
        for seat, bank in session.banks.items():
            assert 0.0 <= bank <= self.banks.get(seat, TIMES.time_bank_s)
        self.banks = dict(session.banks)
        turn = session.turn
        if turn is not None:
            assert turn.started <= session.now <= turn.deadline or session.now >= turn.deadline
            key = (hand.number if hand else 0, turn.seat, turn.decision)
            if key == self.turn_key:
                assert turn.deadline >= self.turn_deadline
            self.turn_key, self.turn_deadline = key, turn.deadline
        for seat, grace in session.graces.items():
            assert 0.0 <= grace <= TIMES.reconnect_grace_s, seat
        # The wait list: nobody seated waits; one entry per user; an offered seat goes to
        # nobody else before its offer runs out.
        waiting = [e.user for e in session.wait_list.entries]
        assert len(waiting) == len(set(waiting))
        assert not set(waiting) & set(players)
        assert len(waiting) <= TIMES.wait_list_max
        for seat, (offered_to, until) in self.offers.items():
            taker = table.players[seat]
            if taker is not None and self.now < until:
                assert int(taker) == offered_to, f"seat {seat} offered to {offered_to}"
        self.offers = {o.seat: (o.user, o.expires_at) for o in session.wait_list.offers()}
        for seat in self.offers:
            assert table.players[seat] is None

    def check_packed_checkpoint(self) -> None:
        """The checkpoint the owner stores, built incrementally (only the parts that changed
        packed again), is byte for byte the whole form rebuilt and packed."""
        if self.session._flow is not None:
            return  # (never checkpointed while a money step waits)
        whole = self.session.to_checkpoint()
        del whole["rt"]["hand_events"]  # (stored apart)
        assert self.session.packed_checkpoint() == msgpack.packb(whole, use_bin_type=True)

    def takeover(self) -> None:
        """A new owner: the session rebuilt from its checkpoint, as the owner stores it (the
        incrementally packed form, the hand's events apart) and the next one loads it."""
        saved = msgpack.unpackb(self.session.packed_checkpoint(), raw=False, strict_map_key=False)
        saved["rt"]["hand_events"] = [
            msgpack.unpackb(msgpack.packb(e, use_bin_type=True), raw=False)
            for e in self.session.hand_events
        ]
        seeds = random.Random(self.seed + 1)
        self.session = TableSession.from_checkpoint(
            1, saved, times=TIMES, fence=8, seeds=lambda: seeds.randbytes(32)
        )
        again = msgpack.unpackb(
            msgpack.packb(self.session.to_checkpoint(), use_bin_type=True),
            raw=False,
            strict_map_key=False,
        )
        assert again == saved
        self.carry_out(self.session.open(self.now, resumed=True, closing=False))


def _bucket(count: int) -> str:
    return "0" if count == 0 else "1-4" if count < 5 else "5-19" if count < 20 else "20+"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


# ---------------------------------------------------------------------- the property test

user = st.sampled_from(USERS)
act = st.tuples(st.just("act"), st.integers(0, 9), st.integers(0, 10**6))
wait = st.tuples(st.just("wait"), st.sampled_from([0.5, 1.5, 1.5, 4.0, 6.0, 12.0, 31.0]))
step = st.one_of(
    *[act] * 12,
    *[wait] * 4,
    st.tuples(
        st.just("sit"), user, st.integers(0, 4), st.integers(LOW - 1, HIGH + 1), st.booleans()
    ),
    st.tuples(st.just("sit"), user, st.integers(0, 3), st.just(LOW), st.booleans()),
    *[st.tuples(st.just("leave"), user)] * 2,
    st.tuples(st.just("disconnect"), user),
    st.tuples(st.just("join"), user),
    st.tuples(st.just("sit_out"), user),
    st.tuples(st.just("sit_in"), user, st.booleans()),
    st.tuples(st.just("top_up"), user, st.integers(1, HIGH)),
    st.tuples(st.just("ack"), user),
    st.tuples(st.just("resend"), user, st.integers(1, ANSWERS_KEPT)),
    st.tuples(st.just("resend"), user, st.integers(1, 3)),
    st.tuples(st.just("stale"), user),
    st.tuples(st.just("ledger"), st.sampled_from(["up", "up", "down", "refusing"])),
    st.tuples(st.just("takeover")),
    st.tuples(st.just("wait_list_join"), user),
    st.tuples(st.just("wait_list_join"), user),
    st.tuples(st.just("wait_list_leave"), user),
    *[st.tuples(st.just("fill"), st.permutations(USERS))] * 2,
    st.tuples(st.just("rare"), st.sampled_from(["exclude", "close"]), user, st.integers(0, 9)),
)


def play(harness: Harness, op: tuple[Any, ...]) -> None:
    session, name = harness.session, op[0]
    if name == "sit":
        _, who, seat, buy_in, post = op
        harness.apply(harness.command(Sit, who, seat=seat, buy_in=buy_in, post=post))
    elif name == "act":
        play_act(harness, op[1], op[2])
    elif name == "wait":
        harness.tick(op[1])
    elif name == "leave":
        harness.apply(harness.command(Leave, op[1]))
    elif name == "disconnect":
        harness.apply(harness.command(Disconnected, op[1]))
    elif name == "join":
        harness.apply(harness.command(Join, op[1]))
    elif name == "sit_out":
        harness.apply(harness.command(SitOut, op[1]))
    elif name == "sit_in":
        harness.apply(harness.command(SitIn, op[1], post=op[2]))
    elif name == "top_up":
        harness.apply(harness.command(TopUp, op[1], amount=op[2]))
    elif name == "ack":
        harness.apply(harness.command(RealityCheckAck, op[1]))
    elif name == "rare" and op[3] == 0 and op[1] == "exclude":
        # Never stale: applied however late it arrives.
        harness.apply(harness.command(Exclude, op[2], at=harness.now - 2 * COMMAND_MAX_AGE_S))
    elif name == "resend":
        resend(harness, op[1], op[2])
    elif name == "stale":
        command = harness.command(SitOut, op[1], at=harness.now - COMMAND_MAX_AGE_S - 1)
        [answer] = harness.apply(command)
        assert answer.message["code"] == "stale_action"
    elif name == "ledger":
        harness.ledger.failing = op[1] == "down"
        harness.ledger.refusing = op[1] == "refusing"
    elif name == "takeover":
        harness.takeover()
    elif name == "wait_list_join":
        harness.apply(harness.command(WaitListJoin, op[1]))
    elif name == "wait_list_leave":
        harness.apply(harness.command(WaitListLeave, op[1]))
    elif name == "fill":
        # Players sit down in every free seat (one seat offered to another is refused) and
        # the others join the wait list, so that seats that open are offered.
        table = harness.session.table
        free = [s for s, p in enumerate(table.players) if p is None]
        standing = [u for u in op[1] if table.seat_of(str(u)) is None]
        for seat, who in zip(free, standing, strict=False):
            harness.apply(harness.command(Sit, who, seat=seat, buy_in=LOW))
        for who in standing[len(free) :]:
            harness.apply(harness.command(WaitListJoin, who))
    elif name == "rare" and op[3] == 0 and not session.closing:
        harness.apply(harness.command(Close))


def play_act(harness: Harness, pick: int, amount: int) -> None:
    """The player to act acts (mostly legally), or somebody clicks out of turn / too late."""
    table = harness.session.table
    hand = table.hand
    if hand is None or hand.result is not None or hand.to_act < 0:
        who = USERS[pick % len(USERS)]
        number = hand.number if hand is not None else 1
        harness.apply(harness.command(Act, who, hand=number, seq=10**9, action="fold"))
        return
    seat = hand.to_act if pick < 8 else (hand.to_act + 1) % hand.size
    player = table.players[seat]
    who = int(player) if player is not None else USERS[0]
    legal = hand.legal_actions(seat)
    options: list[tuple[str, int | None]] = [("fold", None), ("check", None), ("call", None)]
    if legal.min_raise_to is not None and legal.max_raise_to is not None:
        low, high = legal.min_raise_to, legal.max_raise_to
        verb = "bet" if legal.can_bet else "raise"
        options += [(verb, low), (verb, low + amount % (high - low + 1)), (verb, high)]
    options.append(("raise", amount))  # often illegal
    action, chips = options[pick % len(options)]
    harness.seqs[who] = harness.seqs.get(who, 0) + 1
    decision = hand.seq if pick != 7 else hand.seq - 1  # 7: a click for an old decision
    command = harness.command(
        Act,
        who,
        hand=hand.number,
        seq=harness.seqs[who],
        action=action,
        amount=chips,
        decision=decision,
    )
    harness.apply(command)


def resend(harness: Harness, who: int, back: int) -> None:
    """A client resends a command it was answered (it did not see the answer): the same
    answer again, and nothing moves."""
    kept = harness.answered.get(who, [])
    table = harness.session.table
    if len(kept) < back or table.seat_of(str(who)) is None:
        return
    command, answer = kept[-back]
    if any(c is command for c, _ in kept[:-ANSWERS_KEPT]):
        return
    money = (harness.ledger.bought_in, harness.ledger.cashed_out, list(table.stacks))
    harness.entries += 1
    published = harness.apply(replace(command, entry_id=f"{harness.entries}-0", at=harness.now))
    [reply] = [p for p in published if p.message.get("id") == command.rid]
    assert reply.message == answer
    assert published == [reply]
    assert (harness.ledger.bought_in, harness.ledger.cashed_out, list(table.stacks)) == money


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**16), ops=st.lists(step, min_size=30, max_size=80))
def test_random_play_keeps_every_invariant(seed: int, ops: list[tuple[Any, ...]]):
    harness = Harness(seed)
    # Two players seated first, so that most runs deal hands.
    harness.apply(harness.command(Sit, USERS[0], seat=0, buy_in=LOW))
    harness.apply(harness.command(Sit, USERS[1], seat=1, buy_in=HIGH))
    harness.tick(TIMES.between_hands_s)  # the first hand is dealt
    for op in ops:
        if harness.closed:
            break
        play(harness, op)
    harness.ledger.failing = harness.ledger.refusing = False
    for _ in range(40):  # time passes: every hand ends and is settled
        if harness.closed or (not harness.session.busy and harness.session.turn is None):
            break
        harness.tick(31.0)
    assert harness.closed or not harness.session.outbox
    event(f"hands finished: {_bucket(len(harness.finished))}")
    event(f"commands answered with a result: {_bucket(sum(map(len, harness.answered.values())))}")
    offered = sum(1 for p in harness.published if p.message["type"] == "seat_offered")
    event(f"seats offered from a wait list: {_bucket(offered)}")


# ---------------------------------------------------------------------- examples


def heads_up(seed: int = 0) -> Harness:
    """Two players seated and the first hand dealt."""
    harness = Harness(seed)
    harness.apply(harness.command(Sit, USERS[0], seat=0, buy_in=LOW))
    harness.apply(harness.command(Sit, USERS[1], seat=1, buy_in=LOW))
    harness.tick(TIMES.between_hands_s)
    assert harness.session.table.hand_running
    return harness


def test_the_server_dispatchs_stream_entry_becomes_a_typed_command():
    fields = {
        "hand": 3,
        "seq": 9,
        "decision": 4,
        "action": "raise",
        "amount": 6_000,
        "kind": "act",
        "user": 11,
        "conn": "c1",
        "rid": "r1",
        "at": T0,
    }
    assert command_from_stream("7-0", fields) == Act(
        entry_id="7-0",
        at=T0,
        user=11,
        conn="c1",
        rid="r1",
        hand=3,
        seq=9,
        action="raise",
        amount=6_000,
        decision=4,
    )
    unknown = command_from_stream("8-0", {"kind": "dance", "user": 11, "rid": "r2", "at": T0})
    harness = Harness()
    [error] = harness.carry_out(harness.session.apply(unknown, harness.now))
    assert error.message["code"] == "unknown_message_type"


def test_a_command_that_waited_too_long_is_answered_stale_but_an_exclusion_is_applied():
    harness = heads_up()
    late = harness.now - COMMAND_MAX_AGE_S - 1
    [answer] = harness.apply(harness.command(SitOut, USERS[1], at=late))
    assert answer.message["code"] == "stale_action"
    harness.apply(harness.command(Exclude, USERS[1], at=late))
    seat = harness.session.table.seat_of(str(USERS[1]))
    assert seat is None or seat in harness.session.leaving


@pytest.mark.parametrize("second", [USERS[1], USERS[0]], ids=["another player", "the same"])
def test_players_excluded_in_turn_from_one_seat_are_each_cashed_out(second: int):
    """No hand dealt between them, so one hand count and seat: each cash-out has its own key
    (it was ``exclude:<table>:<hand count>:<seat>``, and the second one replayed the first:
    the player left the table unpaid)."""
    harness = Harness()
    for who in (USERS[0], second):
        harness.apply(harness.command(Sit, who, seat=0, buy_in=LOW))
        harness.apply(harness.command(Exclude, who))
        assert harness.session.table.players[0] is None
    assert harness.session.table.hand_count == 0
    assert harness.ledger.cashed_out == harness.ledger.bought_in == 2 * LOW


def test_an_exclusion_applied_again_by_a_new_owner_is_replayed_by_the_ledger():
    harness = Harness()
    harness.apply(harness.command(Sit, USERS[0], seat=0, buy_in=LOW))
    saved = msgpack.unpackb(
        msgpack.packb(harness.session.to_checkpoint(), use_bin_type=True),
        raw=False,
        strict_map_key=False,
    )
    exclude = harness.command(Exclude, USERS[0])
    harness.apply(exclude)  # the cash-out committed; the owner died before its checkpoint
    assert harness.ledger.cashed_out == LOW
    harness.session = TableSession.from_checkpoint(1, saved, times=TIMES, fence=8, seeds=bytes)
    # Its effects are not carried out: the harness would check the chips while the checkpoint
    # is behind the ledger (the stack back in the seat, and cashed out too).
    opened = harness.session.open(harness.now, resumed=True, closing=False)
    assert not [e for e in opened if isinstance(e, MoneyStep)]
    assert harness.session.table.seat_of(str(USERS[0])) == 0
    harness.apply(exclude)  # the next owner reads the same command again: the same key
    assert harness.session.table.players[0] is None
    assert harness.ledger.cashed_out == LOW


def test_an_act_resent_after_its_answer_gets_the_same_answer_and_acts_once():
    harness = heads_up()
    hand = harness.session.table.hand
    assert hand is not None
    who = int(harness.session.table.players[hand.to_act] or 0)
    act = harness.command(Act, who, hand=hand.number, seq=1, action="call", decision=hand.seq)
    [first, *_] = harness.apply(act)
    assert first.message["type"] == "result"
    again = replace(act, entry_id="99-0", rid="other-id")  # an act is known by its seq
    assert harness.apply(again) == [replace(first, message={**first.message, "id": "other-id"})]


def test_a_double_click_for_a_decision_already_made_is_stale():
    harness = heads_up()
    hand = harness.session.table.hand
    assert hand is not None
    who = int(harness.session.table.players[hand.to_act] or 0)
    decision = hand.seq
    harness.apply(
        harness.command(Act, who, hand=hand.number, seq=1, action="call", decision=decision)
    )
    other = int(harness.session.table.players[hand.to_act] or 0)
    [answer] = harness.apply(
        harness.command(Act, other, hand=hand.number, seq=1, action="check", decision=decision)
    )
    assert answer.message["code"] == "stale_action"


def test_an_owner_stopped_during_a_buy_in_undoes_the_seat_and_answers_nothing():
    harness = Harness()
    sit = harness.command(Sit, USERS[0], seat=0, buy_in=LOW)
    [step] = harness.session.apply(sit, harness.now)
    assert isinstance(step, BuyIn)
    assert step.key == f"sit:1:{sit.entry_id}"
    harness.ledger.take(step)  # it committed; the owner died before its checkpoint
    harness.session.abort()
    assert harness.session.table.players[0] is None
    # The next owner reads the same command again: the same key, so the ledger replays it.
    fresh = Harness()
    fresh.ledger = harness.ledger
    [answer, *_] = fresh.apply(sit)
    assert answer.message["type"] == "result"
    assert fresh.ledger.bought_in == LOW
    assert fresh.session.table.stacks[0] == LOW


def test_a_refused_buy_in_leaves_the_seat_free_and_is_answered_with_the_ledgers_code():
    harness = Harness()
    harness.ledger.refusing = True
    [answer] = harness.apply(harness.command(Sit, USERS[0], seat=0, buy_in=LOW))
    assert answer.message["code"] == "loss_limit_reached"
    assert harness.session.table.players == [None] * 4


def test_a_settlement_postgresql_refuses_is_retried_and_no_hand_is_dealt_meanwhile():
    harness = heads_up()
    harness.ledger.failing = True
    hand = harness.session.table.hand
    assert hand is not None
    who = int(harness.session.table.players[hand.to_act] or 0)
    harness.apply(harness.command(Act, who, hand=hand.number, seq=1, action="fold"))
    assert len(harness.session.outbox) == 1
    harness.tick(TIMES.between_hands_s)
    assert harness.session.outbox
    assert not harness.session.table.hand_running
    assert harness.session.next_deadline(harness.now) == harness.now + OUTBOX_RETRY_S
    harness.ledger.failing = False
    harness.tick(OUTBOX_RETRY_S)
    assert not harness.session.outbox
    assert set(harness.ledger.settled) == {hand.number}


def test_a_checkpoint_written_by_the_previous_version_is_resumed():
    """The previous TableActor's ``rt`` map, as it wrote it (string keys, no ``guards``)."""
    harness = heads_up()
    engine = harness.session.table.to_state()
    hand = harness.session.table.hand
    assert hand is not None
    turn = harness.session.turn
    assert turn is not None
    saved = {
        "engine": engine,
        "rt": {
            "cursor": "5-0",
            "seqs": {str(USERS[0]): 0, str(USERS[1]): 0},
            "timeouts": {"0": 1},
            "banks": {"0": 4.5},
            "graces": {},
            "conns": {str(USERS[0]): ["c11"]},
            "turn": {
                "seat": turn.seat,
                "started": turn.started,
                "deadline": turn.deadline,
                "clock": turn.clock,
                "grace": 0.0,
                "street_seq": turn.decision,
            },
            "outbox": [],
            "leaving": [],
            "hand_started_at": harness.now,
            "hand_events": [],
            "recent": [],
            "answers": {str(USERS[0]): [["sit:r1", {"seat": 0, "stack": LOW}]]},
            "next_hand_at": harness.now,
        },
    }
    session = TableSession.from_checkpoint(1, saved, times=TIMES, fence=9, seeds=bytes)
    assert session.cursor == "5-0"
    assert session.banks == {0: 4.5}
    assert session.conns == {USERS[0]: ["c11"]}
    assert session.answers[USERS[0]] == [("sit:r1", {"seat": 0, "stack": LOW})]
    later = harness.now + 60
    effects = session.open(later, resumed=True, closing=False)
    [turn_again] = [
        e for e in effects if isinstance(e, Publish) and e.message.get("event") == "turn"
    ]
    assert turn_again.message["deadline"] == later + TIMES.takeover_min_clock_s
    assert session.to_checkpoint()["rt"]["turn"]["street_seq"] == turn.decision
