"""`SessionState`: what a table session keeps (its checkpoint's ``rt`` map, and the running
state that is not kept), and the few helpers every part of its rules uses: messages and
snapshots out, a player's seat and presence, running a rule that needs money steps.

The parts build on it in layers, each adding one concern (`holdem.session.protection`,
`holdem.session.clock`, `holdem.session.seating`, `holdem.session.dispatch`), and
`holdem.session.table_session.TableSession` is the whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from holdem.engine.table import Table
from holdem.engine.views import view_for
from holdem.protocol.errors import NotSeated
from holdem.protocol.messages import ServerType
from holdem.protocol.views import view_to_wire
from holdem.session.chat import ChatRules, TableChat
from holdem.session.commands import Outcome
from holdem.session.effects import Effect, Publish
from holdem.session.packing import CheckpointPacker
from holdem.session.settlement import HandSettlement
from holdem.session.values import Finish, Flow, Guard, TableTimes, Turn, log
from holdem.session.wait_list import WaitList

__all__ = ["SessionState"]


class SessionState:
    """What a table session keeps, and what every part of its rules shares: the messages out,
    the player's seat and presence, and running a rule that needs money steps."""

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
        """The running hand's events, as they are stored with it."""
        self._decided: tuple[int, int] | None = None
        """The seat whose action spent its clock just now, and its think time (ms)."""
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
        self._packer = CheckpointPacker()
        """The checkpoint's packed bytes that did not change since the last one."""
        self._dirty = False
        self._flow: tuple[Flow, Finish] | None = None
        self._caused_from = 0
        """Where in the effects the answer of the command being applied goes."""
        self._close_at = 0.0
        """When a closing table tries again to finish (after PostgreSQL refused)."""
        self.chat = TableChat(chat or ChatRules())
        """The table chat (`holdem.session.chat`); its lines go with the next hand's record."""

    # ------------------------------------------------------------------ money steps

    def _run(self, flow: Flow, finish: Finish) -> None:
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

    @staticmethod
    def _unanswered(kind: str) -> Finish:
        """The end of a rule nobody waits an answer for (an exclusion, a settlement)."""

        def finish(_answer: dict[str, Any] | None, error: BaseException | None) -> None:
            if error is not None:
                log.error("%s failed", kind, exc_info=error)

        return finish

    # ------------------------------------------------------------------ seats

    def _seat_of(self, user: int) -> int:
        seat = self.table.seat_of(str(user))
        if seat is None:
            raise NotSeated(f"user {user} has no seat at table {self.table_id}")
        return seat

    def _away(self, seat: int) -> bool:
        """Whether the seat's player has no connection joined to the table."""
        player = self.table.players[seat]
        return player is not None and not self.conns.get(int(player))

    def _grace_left(self, seat: int) -> float:
        return self.graces.get(seat, self.times.reconnect_grace_s)

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
