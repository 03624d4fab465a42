"""The commands of the table's inbox to their rules: a stale command refused, a player's
command applied once and answered once (a resend with the original answer, kept in the
checkpoint), errors as the protocol's codes, and the act itself.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from holdem.engine.errors import EngineError
from holdem.protocol.errors import InvalidMessage, ProtocolError, StaleAction, UnknownMessageType
from holdem.protocol.messages import ServerType
from holdem.session.commands import (
    ANSWERED,
    Act,
    Close,
    Command,
    Disconnected,
    Exclude,
    Join,
    Leave,
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
from holdem.session.effects import Publish
from holdem.session.seating import Seating
from holdem.session.values import ANSWERS_KEPT, COMMAND_MAX_AGE_S, Flow, Refused, log

__all__ = ["CommandDispatch"]


class CommandDispatch(Seating):
    """Each command to its rule, and the answers: once, to its connection."""

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
            self._run(self._exclude(command), self._unanswered(command.kind))
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
