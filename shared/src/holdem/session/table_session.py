"""`TableSession`: one table's game-time rules as a state machine without I/O.

The engine (`holdem.engine.table.Table`) knows poker; the session knows the table's time and
people: the action clock, the time bank, the reconnect grace, sitting out after timeouts, who
is connected, the answers of applied commands (a resend is answered again, never applied
twice), player protection at the table (session limits, reality checks, breaks), the outbox
of finished hands waiting for PostgreSQL, and the snapshots players see.

Its owner (`edge.tables.TableActor`) feeds it the table's commands and the time, and carries
out what comes back (`holdem.session.effects`)::

    effects = session.apply(command, now)   # a command of the table's inbox
    effects = session.tick(now)             # time passed: clocks, settlement, the next hand
    wait = session.next_deadline(now) - now  # when `tick` has something to do

Nothing here reads a clock, a socket or a database: time is ``now`` (epoch seconds), shuffle
seeds come from the ``seeds`` callable it is given, and money moves only through the
`holdem.session.effects.MoneyStep` effects whose outcome the owner feeds back (see there).
Everything the session keeps round-trips through `to_checkpoint` / `from_checkpoint` in the
checkpoint format the table servers have always written (``{"engine": ..., "rt": ...}``), so
servers of the previous version and this one take each other's tables over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from holdem.engine.errors import EngineError, PlayerAlreadySeatedError
from holdem.engine.events import HandEnded, HandStarted, audience
from holdem.engine.table import Table
from holdem.engine.views import seat_status_name, view_for
from holdem.protocol.errors import (
    InvalidMessage,
    NotBetweenHands,
    NotSeated,
    ProtocolError,
    RealityCheckPending,
    SeatAvailable,
    SeatReserved,
    StaleAction,
    UnknownMessageType,
    WaitListFull,
)
from holdem.protocol.messages import ServerType
from holdem.protocol.views import event_to_wire, result_to_wire, view_to_wire
from holdem.session.chat import ChatRules, TableChat
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
    Say,
    Sit,
    SitIn,
    SitOut,
    TopUp,
    Unknown,
    WaitListDrop,
    WaitListJoin,
    WaitListLeave,
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
from holdem.session.settlement import HandSettlement, build_settlement, with_think_time
from holdem.session.wait_list import WaitList

__all__ = [
    "ANSWERS_KEPT",
    "COMMAND_MAX_AGE_S",
    "OUTBOX_RETRY_S",
    "RECENT_HANDS_KEPT",
    "Guard",
    "Refused",
    "TableSession",
    "TableTimes",
    "Turn",
]

log = logging.getLogger("edge.tables")

COMMAND_MAX_AGE_S = 30.0
"""Commands older than this when read are refused (``stale_action``; e.g. left in the stream of
a dead table), except a player's exclusion (``exclude``), applied however late."""
OUTBOX_RETRY_S = 1.0
"""How long a settlement PostgreSQL refused waits before it is tried again."""
ANSWERS_KEPT = 16
"""The results of a user's last state-changing commands kept in the checkpoint, to answer a
resend (after a reconnect or a takeover) with the original result instead of acting twice."""
CLOSE_RETRY_S = 0.5
"""How long a closing table waits to try again to finish when PostgreSQL refused."""
RECENT_HANDS_KEPT = 60
"""The latest hands' times and pots kept for the lobby's live figures."""


class Refused(Exception):  # noqa: N818  (named as a condition, as the protocol errors are)
    """A command the table refuses, with the stable ``code`` its answer carries."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TableTimes:
    """The table's clocks, in seconds, and its wait list's size (`holdem.config.GameSettings`)."""

    action_clock_s: float
    time_bank_s: float
    reconnect_grace_s: float
    timeouts_before_sit_out: int
    takeover_min_clock_s: float
    between_hands_s: float
    wait_list_offer_s: float = 30.0
    wait_list_max: int = 50


@dataclass
class Turn:
    """The running turn: whose, since when, until when, and what it is made of."""

    seat: int
    started: float
    deadline: float
    clock: float
    grace: float
    decision: int
    """The hand's decision number when the turn began (an act for another one is stale)."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "seat": self.seat,
            "started": self.started,
            "deadline": self.deadline,
            "clock": self.clock,
            "grace": self.grace,
            "street_seq": self.decision,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Turn:
        return cls(
            seat=int(data["seat"]),
            started=float(data["started"]),
            deadline=float(data["deadline"]),
            clock=float(data["clock"]),
            grace=float(data.get("grace") or 0.0),
            decision=int(data["street_seq"]),
        )


@dataclass
class Guard:
    """A player's session at this table (player protection)."""

    started: float
    ends: float | None
    """When the session limit ends the session (None: no limit)."""
    every: float
    next_check: float
    net: int = 0
    check_due: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "ends": self.ends,
            "every": self.every,
            "next_check": self.next_check,
            "net": self.net,
            "check_due": self.check_due,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Guard:
        ends = data.get("ends")
        return cls(
            started=float(data["started"]),
            ends=None if ends is None else float(ends),
            every=float(data["every"]),
            next_check=float(data["next_check"]),
            net=int(data.get("net", 0)),
            check_due=bool(data.get("check_due", False)),
        )


Flow = Generator[MoneyStep, Outcome, dict[str, Any] | None]
"""A rule that needs money steps: it yields each step and is sent the step's outcome."""
_Finish = Callable[[dict[str, Any] | None, BaseException | None], None]


class TableSession:
    """One table's rules over time; the only caller of its engine `Table`.

    Build it with `new` (a fresh table, or one rebuilt from the ledger) or `from_checkpoint`,
    then call `open` once before the first command.
    """

    def __init__(
        self,
        table_id: int,
        table: Table,
        *,
        times: TableTimes,
        fence: int,
        seeds: Callable[[], bytes],
        chat: ChatRules | None = None,
    ) -> None:
        self.table_id = table_id
        self.table = table
        self.times = times
        self.fence = fence
        """The owner's lease token: the ledger settles a hand only for the current owner."""
        self._seeds = seeds
        self.draining = False
        """The owner is handing the table over: no new hand (not kept in the checkpoint)."""
        self.now = 0.0
        """The latest time the session was given; never goes back."""
        self.guard_now = 0.0
        """The time player protection is measured in (the same clock, unless a test moves
        it)."""
        # What the checkpoint keeps (the names of its ``rt`` map in comments where they differ).
        self.cursor = "0-0"
        """The inbox id of the last command applied."""
        self.seqs: dict[int, int] = {}
        """Each seated user's last accepted act sequence number."""
        self.timeouts: dict[int, int] = {}
        """Timeouts in a row by seat."""
        self.banks: dict[int, float] = {}
        """Time bank left by seat (the full bank when absent)."""
        self.graces: dict[int, float] = {}
        """Reconnect grace left in this hand by seat (the full grace when absent)."""
        self.conns: dict[int, list[str]] = {}
        """The connections of each seated user joined to the table."""
        self.turn: Turn | None = None
        self.outbox: list[HandSettlement] = []
        """Finished hands not yet settled in PostgreSQL, oldest first."""
        self.leaving: list[int] = []
        """Seats cashed out once the hand running is over and settled."""
        self.hand_started_at: float | None = None
        self.hand_events: list[dict[str, Any]] = []
        self._decided: tuple[int, int] | None = None
        """The seat whose action spent its clock just now, and its think time (ms)."""
        """The running hand's events, as they are stored with it."""
        self.recent: list[list[float]] = []
        """``[started_at, ended_at, total_pot]`` of the latest hands (the lobby's figures)."""
        self.answers: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        """Each seated user's last answers by command key (see `_answer_key`)."""
        self.next_hand_at = 0.0
        self.guards: dict[int, Guard] = {}
        self.closing = False
        """An operator closed the table: no more hands; everybody is cashed out after this
        one."""
        self.wait_list = WaitList(
            offer_s=times.wait_list_offer_s,
            max_len=times.wait_list_max,
            away_s=times.reconnect_grace_s,
        )
        self._out: list[Effect] = []
        self._dirty = False
        self._flow: tuple[Flow, _Finish] | None = None
        self._caused_from = 0
        """Where in the effects the answer of the command being applied goes."""
        self._close_at = 0.0
        """When a closing table tries again to finish (after PostgreSQL refused)."""
        self.chat = TableChat(chat or ChatRules())
        """The table chat (`holdem.session.chat`); its lines go with the next hand's record."""

    # ------------------------------------------------------------------ building

    @classmethod
    def new(
        cls,
        table_id: int,
        table: Table,
        *,
        times: TableTimes,
        fence: int,
        seeds: Callable[[], bytes],
        now: float,
        chat: ChatRules | None = None,
    ) -> TableSession:
        """A session for a table without a checkpoint (new, or rebuilt from the ledger)."""
        session = cls(table_id, table, times=times, fence=fence, seeds=seeds, chat=chat)
        session.now = now
        session.next_hand_at = now + times.between_hands_s
        return session

    @classmethod
    def from_checkpoint(
        cls,
        table_id: int,
        saved: Mapping[str, Any],
        *,
        times: TableTimes,
        fence: int,
        seeds: Callable[[], bytes],
        chat: ChatRules | None = None,
    ) -> TableSession:
        """The session a checkpoint holds (`to_checkpoint`'s output, this version's or the
        previous one's: the format is the same)."""
        engine = Table.from_state(saved["engine"])
        session = cls(table_id, engine, times=times, fence=fence, seeds=seeds, chat=chat)
        rt: Mapping[str, Any] = saved["rt"]
        session.cursor = str(rt.get("cursor", "0-0"))
        session.seqs = {int(k): int(v) for k, v in rt.get("seqs", {}).items()}
        session.timeouts = {int(k): int(v) for k, v in rt.get("timeouts", {}).items()}
        session.banks = {int(k): float(v) for k, v in rt.get("banks", {}).items()}
        session.graces = {int(k): float(v) for k, v in rt.get("graces", {}).items()}
        session.conns = {int(k): [str(c) for c in v] for k, v in rt.get("conns", {}).items()}
        turn = rt.get("turn")
        session.turn = None if turn is None else Turn.from_wire(turn)
        session.outbox = list(rt.get("outbox", []))
        session.leaving = [int(s) for s in rt.get("leaving", [])]
        started = rt.get("hand_started_at")
        session.hand_started_at = None if started is None else float(started)
        session.hand_events = list(rt.get("hand_events", []))
        session.recent = [list(h) for h in rt.get("recent", [])]
        session.answers = {
            int(user): [(str(key), dict(answer)) for key, answer in kept]
            for user, kept in rt.get("answers", {}).items()
        }
        session.next_hand_at = float(rt.get("next_hand_at", 0.0))
        session.guards = {int(k): Guard.from_wire(v) for k, v in (rt.get("guards") or {}).items()}
        session.closing = bool(rt.get("closing", False))
        session.chat.restore(rt.get("chat") or [])
        session.wait_list.load(rt.get("wait") or [])
        return session

    def to_checkpoint(self) -> dict[str, Any]:
        """Everything the session keeps, msgpack-ready (``{"engine": ..., "rt": ...}``)."""
        assert self._flow is None, "never checkpointed while a money step is pending"
        rt: dict[str, Any] = {
            "cursor": self.cursor,
            "seqs": {str(k): v for k, v in self.seqs.items()},
            "timeouts": {str(k): v for k, v in self.timeouts.items()},
            "banks": {str(k): v for k, v in self.banks.items()},
            "graces": {str(k): v for k, v in self.graces.items()},
            "conns": {str(k): list(v) for k, v in self.conns.items()},
            "turn": None if self.turn is None else self.turn.to_wire(),
            "outbox": self.outbox,
            "leaving": self.leaving,
            "hand_started_at": self.hand_started_at,
            "hand_events": self.hand_events,
            "recent": self.recent,
            # (key, answer) tuples: MessagePack writes them as arrays, no copy needed.
            "answers": {str(k): v for k, v in self.answers.items()},
            "next_hand_at": self.next_hand_at,
            "guards": {str(k): g.to_wire() for k, g in self.guards.items()},
        }
        if self.closing:
            rt["closing"] = True
        if self.chat.lines:
            rt["chat"] = self.chat.to_wire()
        if self.wait_list:
            rt["wait"] = self.wait_list.to_wire()
        return {"engine": self.table.to_state(), "rt": rt}

    def open(
        self, now: float, *, resumed: bool, closing: bool, guard_now: float | None = None
    ) -> list[Effect]:
        """The owner starts running the table: a resumed hand's player to act hears it is
        their turn again (`_give_turn_back`); players of a table rebuilt from the ledger are
        told; everybody gets a snapshot."""
        self._set_time(now, guard_now)
        if resumed:
            self._give_turn_back()
        elif any(p is not None for p in self.table.players):
            self._notice_all("table_restored", "the table was restored from the ledger")
        if closing:
            self.closing = True
            # Not at once: the commands that woke the table up (a player's join) are answered
            # before it closes.
            self._close_at = self.now + CLOSE_RETRY_S
        self._broadcast_snapshots()
        self._dirty = True
        return self._drain()

    # ------------------------------------------------------------------ the interface

    @property
    def busy(self) -> bool:
        """A hand is running or a settlement waits: a draining owner waits for it."""
        return self.table.hand_running or bool(self.outbox)

    @property
    def seated(self) -> int:
        return sum(1 for p in self.table.players if p is not None)

    def apply(
        self, command: Command | Outcome, now: float, *, guard_now: float | None = None
    ) -> list[Effect]:
        """Apply one command of the inbox, or the outcome of the money step last asked for.

        Every player command (`holdem.session.commands.ANSWERED`) is answered exactly once
        to the connection it came from: a ``result`` (for a resend, the original one) or an
        ``error``. Ends with a `Checkpoint` unless a money step waits for its outcome.
        """
        self._set_time(now, guard_now)
        if isinstance(command, Done | Failed):
            assert self._flow is not None, "an outcome nobody waits for"
            self._caused_from = 0  # what the rule causes from here on comes in this list
            self._advance(command)
        else:
            assert self._flow is None, "a command while a money step waits for its outcome"
            self._dirty = True
            self._command(command)
        return self._drain()

    def abort(self) -> None:
        """The owner stops before feeding back a pending step's outcome: undo what the step
        was for (it is taken again when the command is applied again), answer nothing."""
        if self._flow is not None:
            flow, _ = self._flow
            self._flow = None
            flow.close()
        self._out.clear()

    def tick(self, now: float, *, guard_now: float | None = None) -> list[Effect]:
        """What time brings: a turn timed out, settlements (retried until PostgreSQL has
        them, then the players leaving cashed out), the next hand, the end of a closing
        table. Ends with a `Checkpoint` when anything changed."""
        self._set_time(now, guard_now)
        assert self._flow is None, "a tick while a money step waits for its outcome"
        self._tick()
        return self._drain()

    def next_deadline(self, now: float) -> float | None:
        """When `tick` next has something to do (None: only a command can change anything)."""
        due: list[float] = []
        turn = self.turn
        if turn is not None:
            due.append(turn.deadline)
        if self.outbox:
            due.append(now + OUTBOX_RETRY_S)
        elif self._may_deal() and self.table.can_start_hand():
            # Only a table that can deal waits for the next hand: an idle table (fewer than
            # two players ready) waits for a command instead.
            due.append(self.next_hand_at)
        elif self._may_close():
            due.append(max(now, self._close_at))
        waits = self.wait_list.next_deadline()
        if waits is not None:
            due.append(waits)
        return min(due) if due else None

    # ------------------------------------------------------------------ driving

    def _set_time(self, now: float, guard_now: float | None) -> None:
        self.now = max(self.now, now)
        self.guard_now = max(self.guard_now, now if guard_now is None else guard_now)

    def _drain(self) -> list[Effect]:
        if self._flow is None:
            self._settle_wait_list()
        if self._flow is None and self._dirty:
            self._out.append(Checkpoint())
            self._dirty = False
        out, self._out = self._out, []
        return out

    def _run(self, flow: Flow, finish: _Finish) -> None:
        """Start a rule that may need money steps; `finish` gets its answer or its error."""
        self._flow = (flow, finish)
        self._advance(None)

    def _advance(self, outcome: Outcome | None) -> None:
        assert self._flow is not None
        flow, finish = self._flow
        try:
            step = next(flow) if outcome is None else flow.send(outcome)
        except StopIteration as stop:
            self._flow = None
            self._dirty = True
            finish(stop.value, None)
        except Exception as exc:
            self._flow = None
            self._dirty = True
            finish(None, exc)
        else:
            self._out.append(step)

    # ------------------------------------------------------------------ commands

    def _command(self, command: Command) -> None:
        if command.entry_id:  # (an act taken from the owner's own socket is in no stream)
            self.cursor = command.entry_id
        never_stale = isinstance(command, Exclude | WaitListDrop)
        if not never_stale and self.now - command.at > COMMAND_MAX_AGE_S:
            # Answered, not dropped: the player decides again. (An exclusion, or a player
            # seated elsewhere leaving this table's wait list, is never stale: it reaches a
            # table nobody ran for a while.)
            if command.kind in ANSWERED:
                waited = f"the command waited over {COMMAND_MAX_AGE_S:.0f} s for the table"
                self._reply_error(command, "stale_action", waited)
            return
        if isinstance(command, Exclude):
            self._run(self._exclude(command.user), self._unanswered(command.kind))
        elif isinstance(command, Say):
            self._say(command)
        elif isinstance(command, WaitListDrop):
            self.wait_list.remove(command.user)
        elif isinstance(command, Join | Disconnected | Close):
            try:
                self._unanswered_command(command)
            except Exception as exc:
                self._fail(command, exc)
        else:
            self._answered(command)

    def _unanswered_command(self, command: Join | Disconnected | Close) -> None:
        """A join (answered with a snapshot, not a result), a disconnect, a close."""
        if isinstance(command, Join):
            self._connected(command.user, command.conn)
            self.wait_list.attach(command.user, command.conn)
            snapshot = {**self._snapshot_for(command.user), "id": command.rid}
            self._send(command.user, command.conn, snapshot)
        elif isinstance(command, Disconnected):
            self._disconnected(command.user, command.conn)
        else:
            self._begin_closing()

    def _say(self, command: Say) -> None:
        """A chat line: to every viewer of the table, or refused to its sender. Answered but
        not remembered (`_remember_answer`): a resent line is said again, and chat must not
        push the answers of money commands out of the resend memory."""
        seat = self.table.seat_of(str(command.user))
        hand = self.table.hand
        dealt_in = (
            seat is not None and hand is not None and hand.result is None and hand.dealt[seat]
        )
        try:
            line = self.chat.say(
                command.user, seat=seat, dealt_in=dealt_in, text=command.text, now=self.now
            )
        except ProtocolError as exc:
            self._reply_error(command, exc.code, str(exc))
            return
        result = {"type": ServerType.RESULT, "id": command.rid, "table_id": self.table_id}
        self._send(command.user, command.conn, {**result, "ok": True, "text": line["text"]})
        self._send(None, None, {"type": ServerType.CHAT, "table_id": self.table_id, **line})

    def _answered(self, command: Command) -> None:
        """A player's command: applied once, answered once (a resend with the original)."""
        # The result goes out before the messages the command caused (its `action` event,
        # the next `turn`, snapshots): a client hears its click was taken before it hears
        # what followed. A resend causes nothing and gets the original result.
        caused_from = len(self._out)
        done = self._answer_of(command)
        if done is not None:
            self._reply(command, done, caused_from)
            return

        self._caused_from = caused_from

        def finish(answer: dict[str, Any] | None, error: BaseException | None) -> None:
            if error is not None:
                self._fail(command, error)
                return
            self._remember_answer(command, answer or {})
            self._reply(command, answer or {}, self._caused_from)

        try:
            rule = self._rule_for(command)
        except Exception as exc:
            self._fail(command, exc)
            return
        if isinstance(rule, Generator):
            self._run(rule, finish)
        else:
            finish(rule, None)

    def _rule_for(self, command: Command) -> dict[str, Any] | Flow:
        if isinstance(command, Act):
            return self._act(command)
        if isinstance(command, Sit):
            return self._sit(command)
        if isinstance(command, TopUp):
            return self._top_up(command)
        if isinstance(command, SitOut):
            return self._sit_out(command)
        if isinstance(command, SitIn):
            return self._sit_in(command)
        if isinstance(command, Leave):
            return self._leave(command)
        if isinstance(command, RealityCheckAck):
            return self._reality_check_ack(command)
        if isinstance(command, WaitListJoin):
            return self._wait_list_join(command)
        if isinstance(command, WaitListLeave):
            return {"removed": self.wait_list.remove(command.user)}
        assert isinstance(command, Unknown)
        raise UnknownMessageType(f"unknown command {command.name!r}")

    @staticmethod
    def _unanswered(kind: str) -> _Finish:
        """The end of a rule nobody waits an answer for (an exclusion, a settlement)."""

        def finish(_answer: dict[str, Any] | None, error: BaseException | None) -> None:
            if error is not None:
                log.error("%s failed", kind, exc_info=error)

        return finish

    def _reply(self, command: Command, answer: dict[str, Any], at: int) -> None:
        result = {"type": "result", "id": command.rid, "table_id": self.table_id, "ok": True}
        self._out.insert(at, Publish(command.user, command.conn, {**result, **answer}))

    def _fail(self, command: Command, error: BaseException) -> None:
        if isinstance(error, ProtocolError | EngineError | Refused):
            self._reply_error(command, error.code, str(error))
        else:
            # A bug must not turn one command into a poison message that kills every owner.
            log.error("command failed", exc_info=error, extra={"kind": command.kind})
            self._reply_error(command, "internal_error", "the command failed")

    def _reply_error(self, command: Command, code: str, text: str) -> None:
        message = {
            "type": ServerType.ERROR,
            "id": command.rid,
            "table_id": self.table_id,
            "code": code,
            "message": text,
        }
        self._send(command.user, command.conn, message)

    @staticmethod
    def _answer_key(command: Command) -> str | None:
        """What makes a command the same command again: an act's sequence number (unique per
        user and table), another command's client id."""
        if isinstance(command, Act):
            return f"act:{command.seq}"
        if command.kind in ANSWERED and command.rid is not None:
            return f"{command.kind}:{command.rid}"
        return None

    def _answer_of(self, command: Command) -> dict[str, Any] | None:
        """The original result of a command applied already (a resend), else None."""
        key = self._answer_key(command)
        if key is None:
            return None
        for kept, answer in self.answers.get(command.user, []):
            if kept == key:
                return dict(answer)
        return None

    def _remember_answer(self, command: Command, answer: dict[str, Any]) -> None:
        """Keep the result of an applied command (in the checkpoint, with the state it made)."""
        key = self._answer_key(command)
        if key is None or self.table.seat_of(str(command.user)) is None:
            return  # a player who left has nothing left to resend to this table
        mine = self.answers.setdefault(command.user, [])
        mine.append((key, answer))
        del mine[:-ANSWERS_KEPT]

    def _seat_of(self, user: int) -> int:
        seat = self.table.seat_of(str(user))
        if seat is None:
            raise NotSeated(f"user {user} has no seat at table {self.table_id}")
        return seat

    def _act(self, command: Act) -> dict[str, Any]:
        table = self.table
        seat = self._seat_of(command.user)
        hand = table.hand
        if hand is None or hand.result is not None or command.hand != hand.number:
            current = hand.number if hand is not None and hand.result is None else None
            raise StaleAction(f"hand {command.hand} is not running (current: {current})")
        last = self.seqs.get(command.user, 0)
        if command.seq <= last:
            raise StaleAction(f"sequence number {command.seq} was already used (last {last})")
        if command.decision is not None and command.decision != hand.seq:
            # A click for a decision already made (a double click, or an act chosen before
            # the turn was given back after a takeover and answered meanwhile by a resend).
            raise StaleAction(f"decision {command.decision} was made already (now {hand.seq})")
        action, amount = command.action, command.amount
        if action == "fold":
            done = hand.fold(seat)
        elif action == "check":
            done = hand.check(seat)
        elif action == "call":
            done = hand.call(seat)
        elif amount is None:
            raise InvalidMessage(f"{action} needs an amount (the raise-to total)")
        elif action == "bet":
            done = hand.bet(seat, amount)
        else:
            done = hand.raise_bet(seat, amount)
        self.seqs[command.user] = command.seq
        self._spend_clock(seat)
        self.timeouts[seat] = 0
        self._after_engine()
        return {
            "hand": hand.number,
            "seq": command.seq,
            "action": done.kind.value,
            "amount": done.amount,
        }

    def _sit(self, command: Sit) -> Flow:
        if self.closing:
            raise Refused("table_not_open", "the table is closing")
        table, user, seat, amount = self.table, command.user, command.seat, command.buy_in
        holder = self.wait_list.reserved_for(seat, now=self.now)
        if holder is not None and holder != user:
            raise SeatReserved(f"seat {seat} is offered to a waiting player")
        # Seat in the engine first (its checks: seat free, not seated yet, buy-in range), so
        # no money moves for a request the table refuses; undo it if the ledger refuses.
        table.sit_down(seat, str(user), amount, post=command.post)
        return self._fund_seat(command)

    def _fund_seat(self, command: Sit) -> Flow:
        table, user, seat, amount = self.table, command.user, command.seat, command.buy_in
        try:
            key = f"sit:{self.table_id}:{command.entry_id}"
            outcome = yield BuyIn(seat=seat, user=user, amount=amount, key=key)
            rules = _expect(outcome).rules
        except BaseException:
            table.leave(seat)
            raise
        assert rules is not None
        self.wait_list.remove(user)  # seated: off the list (an offer taken, or void)
        self._out.append(SeatTaken(user))  # and off the other tables' lists
        self.seqs.setdefault(user, 0)
        self._start_session(user, rules)
        self._connected(user, command.conn)
        self._broadcast_snapshots()
        return {"seat": seat, "stack": amount, "status": seat_status_name(table.status[seat])}

    def _top_up(self, command: TopUp) -> Flow:
        table = self.table
        if self.closing:
            raise Refused("table_not_open", "the table is closing")
        seat = self._seat_of(command.user)
        hand = table.hand
        if hand is not None and hand.result is None and hand.dealt[seat]:
            raise NotBetweenHands("top up between hands: your hand is running")
        high = table.config.buy_in_range[1]
        if table.stacks[seat] + command.amount > high:
            raise InvalidMessage(f"a stack may not exceed {high} after a top-up")
        return self._add_chips(command, seat)

    def _add_chips(self, command: TopUp, seat: int) -> Flow:
        key = f"topup:{self.table_id}:{command.entry_id}"
        _expect((yield TopUpChips(user=command.user, amount=command.amount, key=key)))
        self.table.top_up(seat, command.amount)
        self._broadcast_snapshots()
        return {"seat": seat, "stack": self.table.stacks[seat]}

    def _sit_out(self, command: SitOut) -> dict[str, Any]:
        seat = self._seat_of(command.user)
        self.table.sit_out(seat)
        self._broadcast_snapshots()
        return {"seat": seat}

    def _sit_in(self, command: SitIn) -> dict[str, Any]:
        seat = self._seat_of(command.user)
        guard = self.guards.get(command.user)
        if guard is not None and guard.check_due:
            raise RealityCheckPending("acknowledge the reality check first")
        self.table.sit_in(seat, post=command.post)
        self.timeouts[seat] = 0
        self._broadcast_snapshots()
        return {"seat": seat, "status": seat_status_name(self.table.status[seat])}

    def _leave(self, command: Leave) -> dict[str, Any] | Flow:
        table = self.table
        seat = table.seat_of(str(command.user))
        if seat is None:
            self._disconnected(command.user, command.conn)
            self.wait_list.remove(command.user)  # a spectator who leaves stops waiting too
            return {"left": True}  # a spectator stops watching (handled by its server)
        hand = table.hand
        if hand is not None and hand.result is None and hand.dealt[seat]:
            table.sit_out(seat)
            if seat not in self.leaving:
                self.leaving.append(seat)
            if hand.to_act == seat:
                hand.fold(seat)
                self._after_engine()
            return {"seat": seat, "left": False, "after_hand": True}
        return self._leave_now(seat, f"leave:{self.table_id}:{command.entry_id}")

    def _leave_now(self, seat: int, key: str) -> Flow:
        yield from self._cash_out(seat, key)
        return {"seat": seat, "left": True}

    def _cash_out(self, seat: int, key: str) -> Generator[MoneyStep, Outcome, None]:
        table = self.table
        player = table.players[seat]
        assert player is not None
        user = int(player)
        _expect((yield CashOut(seat=seat, user=user, amount=table.stacks[seat], key=key)))
        table.leave(seat)
        self.seqs.pop(user, None)
        self.guards.pop(user, None)
        self.answers.pop(user, None)
        self.conns.pop(user, None)  # its servers part its connections
        self._send(user, None, {"type": "_parted", "table_id": self.table_id})
        self._broadcast_snapshots()

    # ------------------------------------------------------------------ the wait list

    def _wait_list_join(self, command: WaitListJoin) -> dict[str, Any]:
        """Wait for a seat: only at a full table (every free seat offered to somebody), once
        per player (a resend keeps the place), up to the list's size."""
        table, user, waits = self.table, command.user, self.wait_list
        if self.closing:
            raise Refused("table_not_open", "the table is closing")
        if table.seat_of(str(user)) is not None:
            raise PlayerAlreadySeatedError("you have a seat at this table")
        if waits.entry(user) is None:
            free = (s for s, p in enumerate(table.players) if p is None)
            if any(waits.reserved_for(s, now=self.now) is None for s in free):
                raise SeatAvailable("the table has a free seat: sit down")
            if waits.full:
                raise WaitListFull(f"the wait list holds {waits.max_len} players already")
        position = waits.join(user, command.conn, now=self.now)
        return {"position": position, "waiting": len(waits)}

    def _settle_wait_list(self) -> None:
        """After every command and tick: offers that ran out pass to the next player, and
        every seat free and not offered goes to the next player waiting (`seat_offered`, to
        them only)."""
        waits = self.wait_list
        if not waits:
            return
        free = [s for s, p in enumerate(self.table.players) if p is None]
        done = waits.settle(now=self.now, free_seats=free)
        if not done:
            return
        self._dirty = True
        for user in done.expired:
            notice = {"type": ServerType.NOTICE, "table_id": self.table_id}
            text = "the seat offered to you was not taken in time: you left the wait list"
            self._send(user, None, {**notice, "code": "seat_offer_expired", "message": text})
        for offer in done.offered:
            message = {
                "type": ServerType.SEAT_OFFERED,
                "table_id": self.table_id,
                "seat": offer.seat,
                "expires_at": offer.expires_at,
            }
            self._send(offer.user, None, message)

    # ------------------------------------------------------------------ presence

    def _connected(self, user: int, conn: str | None) -> None:
        """A connection of a seated user joined the table (a reconnect) or took the seat.
        Spectators are not tracked: the checkpoint stays small however many watch."""
        if self.table.seat_of(str(user)) is None:
            return
        mine = self.conns.setdefault(user, [])
        if conn is not None and conn not in mine:
            mine.append(conn)

    def _disconnected(self, user: int, conn: str | None) -> None:
        """A connection that had joined closed. When it was the user's last one, a seated
        player to act gets the reconnect grace on top of the clock; a waiting player keeps
        their place on the wait list for as long (`holdem.session.wait_list`)."""
        self.wait_list.detach(user, conn, now=self.now)
        mine = self.conns.get(user, [])
        if conn in mine:
            mine.remove(conn)
        if mine:
            return
        self.conns.pop(user, None)
        seat = self.table.seat_of(str(user))
        turn = self.turn
        if seat is None or turn is None or turn.seat != seat or turn.grace:
            return
        grace = self._grace_left(seat)
        if grace > 0:
            turn.grace = grace
            turn.deadline += grace
            self._turn_event("turn_extended", turn)

    def _away(self, seat: int) -> bool:
        """Whether the seat's player has no connection joined to the table."""
        player = self.table.players[seat]
        return player is not None and not self.conns.get(int(player))

    def _grace_left(self, seat: int) -> float:
        return self.graces.get(seat, self.times.reconnect_grace_s)

    # ------------------------------------------------------------------ closing, exclusion

    def _begin_closing(self) -> None:
        """The operator closed the table (REST): the hand running is the last one."""
        if not self.closing:
            self.closing = True
            self.wait_list.clear()  # (`_wait_list_join` refuses new entries)
            self._notice_all("table_closing", "the table is closing: no more hands")

    def _finish_closing(self) -> Flow:
        """The last hand is over and settled: cash everybody out and mark the table closed.
        Each cash-out is idempotent, so a failure (PostgreSQL unreachable) is tried again
        on a later tick."""
        for seat, player in enumerate(self.table.players):
            if player is not None:
                yield from self._cash_out(seat, f"close:{self.table_id}:{seat}")
        _expect((yield FinishClosing()))
        self._notice_all("table_closed", "the table is closed")
        # Every server parts the table's remaining connections (spectators), so none of
        # them asks for an owner of the closed table again.
        self._send(None, None, {"type": "_closed", "table_id": self.table_id})
        self._out.append(TableClosed())
        return None

    def _exclude(self, user: int) -> Flow:
        """The player began a break or self-exclusion (REST): they leave this table at the
        end of the hand running, or now if they are not in it."""
        table = self.table
        self.wait_list.remove(user)
        seat = table.seat_of(str(user))
        if seat is None:
            return None
        table.sit_out(seat)  # dealt no more hands, whatever happens next
        hand = table.hand
        if hand is None or hand.result is not None or not hand.dealt[seat]:
            try:
                yield from self._cash_out(
                    seat, f"exclude:{self.table_id}:{table.hand_count}:{seat}"
                )
                return None
            except Refused as exc:  # PostgreSQL unavailable: cashed out after the next hand
                log.warning("cash-out deferred (%s)", exc)
        if seat not in self.leaving:
            self.leaving.append(seat)
        if hand is not None and hand.result is None and hand.to_act == seat:
            hand.fold(seat)  # as a leave does: the table does not wait for a player now barred
            self._after_engine()
        return None

    # ------------------------------------------------------------------ player protection

    def _start_session(self, user: int, rules: PlayerRules) -> None:
        """A player sat down: their session here starts now, with their own session limit
        (counted from the start of their session at any table) and reality-check interval."""
        now = self.guard_now
        limit = rules.session_minutes
        every = rules.reality_check_minutes * 60
        self.guards[user] = Guard(
            started=now,
            ends=None if limit is None else now - rules.played_s + limit * 60,
            every=every,
            next_check=now + every,
        )

    def _guard_after_hand(self, settlement: HandSettlement) -> None:
        """A hand ended: count each player's result; a session past its length is ended
        (cashed out once the hand is settled), and a reality check that is due is sent and
        sits the player out until they acknowledge it."""
        table = self.table
        for part in settlement["players"]:
            guard = self.guards.get(int(part["user_id"]))
            if guard is not None:
                guard.net += part["net"]
        now = self.guard_now
        for seat, player in enumerate(table.players):
            if player is None or (guard := self.guards.get(int(player))) is None:
                continue
            if guard.ends is not None and now >= guard.ends:
                table.sit_out(seat)
                if seat not in self.leaving:
                    self.leaving.append(seat)
                self._notice_seat(seat, "session_limit_reached", "your session limit is reached")
            elif not guard.check_due and now >= guard.next_check:
                guard.check_due = True
                table.sit_out(seat)
                check = {
                    "type": ServerType.REALITY_CHECK,
                    "table_id": self.table_id,
                    "played_s": round(now - guard.started),
                    "net": guard.net,
                }
                self._send(int(player), None, check)

    def _reality_check_ack(self, command: RealityCheckAck) -> dict[str, Any]:
        seat = self._seat_of(command.user)
        guard = self.guards.get(command.user)
        if guard is None or not guard.check_due:
            return {"seat": seat, "acknowledged": False}
        guard.check_due = False
        guard.next_check = self.guard_now + guard.every
        if self.table.stacks[seat] > 0:
            self.table.sit_in(seat)
        self._broadcast_snapshots()
        return {"seat": seat, "acknowledged": True}

    # ------------------------------------------------------------------ time

    def _tick(self) -> None:
        table, now = self.table, self.now
        turn, hand = self.turn, table.hand
        if turn is not None and hand is not None and hand.result is None and now >= turn.deadline:
            seat = turn.seat
            log.info("turn timed out", extra={"seat": seat})
            self.banks[seat] = 0.0
            if turn.grace:
                self.graces[seat] = 0.0
            hand.timeout(seat)
            count = self.timeouts.get(seat, 0) + 1
            self.timeouts[seat] = count
            if count >= self.times.timeouts_before_sit_out:
                table.sit_out(seat)
                self._notice_seat(seat, "sat_out", "three timeouts in a row: sat out")
            self._after_engine()
            self._dirty = True
        if self.outbox:
            self._run(self._settle_pending(), self._unanswered("settlement"))
            return
        if (
            not table.hand_running
            and self._may_deal()
            and now >= self.next_hand_at
            and table.can_start_hand()
        ):
            table.start_hand(seed=self._seeds())
            self.hand_started_at = now
            self.graces = {}  # the reconnect grace is a per-hand allowance
            self.hand_events = []
            self._after_engine()
            self._dirty = True
            return
        if self._may_close() and now >= self._close_at:
            self._run(self._finish_closing(), self._closing_deferred)

    def _closing_deferred(
        self, _answer: dict[str, Any] | None, error: BaseException | None
    ) -> None:
        if error is not None:
            log.warning("closing deferred (%s)", error)
            self._close_at = self.now + CLOSE_RETRY_S

    def _may_close(self) -> bool:
        return self.closing and not self.draining and not self.busy

    def _may_deal(self) -> bool:
        return not self.draining and not self.closing

    def _settle_pending(self) -> Flow:
        """Settle the oldest finished hands in PostgreSQL; then cash out the players leaving.
        Stops at the first refusal (retried after `OUTBOX_RETRY_S`)."""
        table = self.table
        while self.outbox:
            outcome = yield Settle(self.outbox[0])
            if isinstance(outcome, Failed):
                self.next_hand_at = self.now + OUTBOX_RETRY_S
                return None
            self.outbox.pop(0)
        for seat in list(self.leaving):
            self.leaving.remove(seat)
            if table.players[seat] is not None:
                try:
                    yield from self._cash_out(
                        seat, f"leave-after:{self.table_id}:{table.hand_count}:{seat}"
                    )
                except Refused as exc:
                    log.warning("cash-out deferred (%s)", exc)
                    self.leaving.append(seat)
        self._broadcast_snapshots()
        return None

    # ------------------------------------------------------------------ after the engine moved

    def _after_engine(self) -> None:
        table = self.table
        events = table.drain_events()
        for event in events:
            self._publish_event(event)
        hand = table.hand
        if hand is None:
            return
        if hand.result is None:
            self._start_turn(hand.to_act)
            return
        self.turn = None
        ended = [e for e in events if isinstance(e, HandEnded)]
        if not ended:
            return
        result = ended[0].result
        started_at = self.hand_started_at if self.hand_started_at is not None else self.now
        settlement = build_settlement(
            table_id=self.table_id,
            fence=self.fence,
            hand=hand,
            result=result,
            started_at=started_at,
            ended_at=self.now,
            events=self.hand_events,
            chat=self.chat.take_lines(),
        )
        self.outbox.append(settlement)
        self.hand_events = []
        self.recent.append([settlement["started_at"], self.now, settlement["total_pot"]])
        del self.recent[:-RECENT_HANDS_KEPT]
        self._out.append(HandFinished(settlement, result.rake))
        self._guard_after_hand(settlement)
        message = {"type": ServerType.HAND_RESULT, "table_id": self.table_id}
        self._send(None, None, {**message, **result_to_wire(result)})
        self.next_hand_at = self.now + self.times.between_hands_s

    def _publish_event(self, event: Any) -> None:
        table = self.table
        wire = event_to_wire(event)
        hand_no = table.hand.number if table.hand is not None else None
        self.hand_events.append(with_think_time(wire, self._decided))
        if wire.get("event") == "action":
            self._decided = None
        if isinstance(event, HandStarted):
            log.info("hand started", extra={"hand": event.hand_number, "seats": list(event.seats)})
        if isinstance(event, HandEnded):
            return
        owner = audience(event)
        message = {"type": ServerType.EVENT, "table_id": self.table_id, "hand": hand_no, **wire}
        if owner is None:
            self._send(None, None, message)
            return
        player = table.players[owner]
        if player is not None:
            self._send(int(player), None, {**message, "type": ServerType.HOLE_CARDS})

    def _start_turn(self, seat: int) -> None:
        if seat < 0:
            self.turn = None
            return
        decision = self._decision()
        turn = self.turn
        if turn is not None and turn.seat == seat and turn.decision == decision:
            return
        clock = self.times.action_clock_s
        bank = self.banks.get(seat, self.times.time_bank_s)
        # A disconnected player gets the reconnect grace too, spent before the time bank.
        grace = self._grace_left(seat) if self._away(seat) else 0.0
        now = self.now
        self.turn = Turn(
            seat=seat,
            started=now,
            deadline=now + clock + bank + grace,
            clock=clock,
            grace=grace,
            decision=decision,
        )
        self._turn_event("turn", self.turn)

    def _give_turn_back(self) -> None:
        """After a takeover: the player to act hears it is their turn again, with at least
        `TableTimes.takeover_min_clock_s` left. The action they may have sent to the server
        that died is either in the inbox (applied next, once) or resent by their client after
        it reconnects; either way the fault costs them no decision. The added time is clock,
        not time bank."""
        turn, hand = self.turn, self.table.hand
        if turn is None or hand is None or hand.result is not None:
            return
        floor = self.now + self.times.takeover_min_clock_s
        if turn.deadline < floor:
            turn.clock += floor - turn.deadline
            turn.deadline = floor
        self._turn_event("turn", turn)

    def _turn_event(self, name: str, turn: Turn) -> None:
        """Publish whose turn it is and its clock (``turn``; ``turn_extended`` when the player
        disconnected during the turn and got the reconnect grace)."""
        hand = self.table.hand
        assert hand is not None
        bank = self.banks.get(turn.seat, self.times.time_bank_s)
        message = {
            "type": ServerType.EVENT,
            "event": name,
            "table_id": self.table_id,
            "hand": hand.number,
            "seat": turn.seat,
            "clock_s": turn.clock,
            "time_bank_s": bank,
            "grace_s": turn.grace,
            "deadline": turn.deadline,
            "decision": turn.decision,
            "legal": hand.legal_actions(turn.seat)._asdict(),
        }
        self._send(None, None, message)

    def _decision(self) -> int:
        hand = self.table.hand
        assert hand is not None
        return hand.seq

    def _spend_clock(self, seat: int) -> None:
        turn = self.turn
        if turn is None or turn.seat != seat:
            return
        used = self.now - turn.started
        over = max(0.0, used - turn.clock)
        # Time beyond the clock comes out of the reconnect grace first (when it was granted
        # this turn), then out of the time bank.
        if turn.grace:
            from_grace = min(over, turn.grace)
            self.graces[seat] = self._grace_left(seat) - from_grace
            over -= from_grace
        bank = self.banks.get(seat, self.times.time_bank_s)
        self.banks[seat] = max(0.0, bank - over)
        self.turn = None
        self._decided = (seat, max(0, round(used * 1000)))

    # ------------------------------------------------------------------ output

    def _send(self, user: int | None, conn: str | None, message: dict[str, Any]) -> None:
        self._out.append(Publish(user, conn, message))

    def _snapshot_for(self, user: int | None) -> dict[str, Any]:
        table = self.table
        seat = table.seat_of(str(user)) if user is not None else None
        view = view_to_wire(view_for(table, seat))
        turn = self.turn
        clock = None
        if turn is not None:
            clock = {
                "seat": turn.seat,
                "remaining_s": round(max(0.0, turn.deadline - self.now), 3),
                "deadline": turn.deadline,
                "grace_s": turn.grace,
                "decision": turn.decision,
            }
        return {
            "type": ServerType.SNAPSHOT,
            "table_id": self.table_id,
            "clock": clock,
            "last_seq": self.seqs.get(user, 0) if user is not None else 0,
            "settling": bool(self.outbox),
            "disconnected": [s for s in range(table.size) if self._away(s)],
            **view,
        }

    def _broadcast_snapshots(self) -> None:
        """Seating changed: everybody gets a fresh view (players their own, with cards)."""
        self._send(None, None, {**self._snapshot_for(None), "public": True})
        for player in self.table.players:
            if player is not None:
                self._send(int(player), None, self._snapshot_for(int(player)))

    def _notice_all(self, code: str, text: str) -> None:
        notice = {"type": ServerType.NOTICE, "table_id": self.table_id, "code": code}
        self._send(None, None, {**notice, "message": text})

    def _notice_seat(self, seat: int, code: str, text: str) -> None:
        player = self.table.players[seat]
        if player is not None:
            notice = {"type": ServerType.NOTICE, "table_id": self.table_id, "code": code}
            self._send(int(player), None, {**notice, "message": text})


def _expect(outcome: Outcome) -> Done:
    """The step's `Done`, or its failure raised as `Refused` (``internal_error`` when the
    failure had no code of its own)."""
    if isinstance(outcome, Failed):
        raise Refused(outcome.code or "internal_error", outcome.message)
    return outcome
