"""Player protection at the table: a player's session limit (counted from the start of their
session at any table), the reality checks that sit them out until acknowledged, their net
result while seated (`holdem.session.values.Guard`).
"""

from __future__ import annotations

from typing import Any

from holdem.protocol.messages import ServerType
from holdem.session.commands import PlayerRules, RealityCheckAck
from holdem.session.session_state import SessionState
from holdem.session.settlement import HandSettlement
from holdem.session.values import Guard

__all__ = ["PlayerProtection"]


class PlayerProtection(SessionState):
    """A player's session at the table: its limit, its reality checks."""

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
