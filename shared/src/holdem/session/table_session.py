"""`TableSession`: one table's game-time rules as a state machine without I/O.

The engine (`holdem.engine.table.Table`) knows poker; the session knows the table's time and
people: the action clock, the time bank, the reconnect grace, sitting out after timeouts, who
is connected, the answers of applied commands (a resend is answered again, never applied
twice), player protection at the table (session limits, reality checks, breaks), the outbox
of finished hands waiting for PostgreSQL, and the snapshots players see.

Its owner (`edge.table_actor.TableActor`) feeds it the table's commands and the time, and carries
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

The rules are built in layers on `holdem.session.session_state.SessionState`: player
protection (`holdem.session.protection`), the action clock (`holdem.session.clock`), seats
and money (`holdem.session.seating`), the commands and their answers
(`holdem.session.dispatch`); the small types and limits are in `holdem.session.values`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from holdem.engine.table import Table
from holdem.session.chat import ChatRules
from holdem.session.commands import Command, Done, Failed, Outcome
from holdem.session.dispatch import CommandDispatch
from holdem.session.effects import Checkpoint, Effect
from holdem.session.values import (
    ANSWERS_KEPT,
    CLOSE_RETRY_S,
    COMMAND_MAX_AGE_S,
    OUTBOX_RETRY_S,
    RECENT_HANDS_KEPT,
    Guard,
    Refused,
    TableTimes,
    Turn,
    log,
)

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


class TableSession(CommandDispatch):
    """One table's rules over time; the only caller of its engine `Table`.

    Build it with `new` (a fresh table, or one rebuilt from the ledger) or `from_checkpoint`,
    then call `open` once before the first command.
    """

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
        rt = self._changing_part()
        rt["hand_events"] = self.hand_events
        rt["recent"] = self.recent
        # (key, answer) tuples: MessagePack writes them as arrays, no copy needed.
        rt["answers"] = {str(k): v for k, v in self.answers.items()}
        return {"engine": self.table.to_state(), "rt": rt}

    def packed_checkpoint(self) -> bytes:
        """`to_checkpoint` without ``hand_events`` (the checkpoint store keeps the hand's
        events apart, appending the new ones), as the bytes ``msgpack.packb(...,
        use_bin_type=True)`` makes of it. Each user's answers and the latest hands are
        packed again only when they changed (`holdem.session.packing`)."""
        return self._packer.pack(
            self.table.to_state(), self._changing_part(), self.recent, self.answers
        )

    def _changing_part(self) -> dict[str, Any]:
        """The checkpoint's ``rt`` map but for the hand's events, the latest hands and the
        answers (which come last, in that order)."""
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
            "next_hand_at": self.next_hand_at,
            "guards": {str(k): g.to_wire() for k, g in self.guards.items()},
        }
        if self.closing:
            rt["closing"] = True
        if self.chat.lines:
            rt["chat"] = self.chat.to_wire()
        if self.wait_list:
            rt["wait"] = self.wait_list.to_wire()
        return rt

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
