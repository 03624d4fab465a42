"""The action clock: whose turn it is and until when (the clock, then the reconnect grace for a
player who disconnected, then the time bank), a turn given back after a takeover, who is
connected, and what follows each move of the engine (its events published, the next turn,
a finished hand into the settlement outbox).
"""

from __future__ import annotations

from typing import Any

from holdem.engine.events import HandEnded, HandStarted, audience
from holdem.protocol.messages import ServerType
from holdem.protocol.views import event_to_wire, result_to_wire
from holdem.session.effects import HandFinished
from holdem.session.protection import PlayerProtection
from holdem.session.settlement import build_settlement, with_think_time
from holdem.session.values import RECENT_HANDS_KEPT, Turn, log

__all__ = ["TableClock"]


class TableClock(PlayerProtection):
    """Turns and their clocks, presence, and what follows each move of the engine."""

    # ------------------------------------------------------------------ turns

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
