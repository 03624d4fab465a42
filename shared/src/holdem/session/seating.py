"""Seats and money: sitting down (the buy-in), topping up, sitting out and in, leaving (now, or
cashed out once the hand is over and settled), the settlement outbox, the wait list, an
operator closing the table, a player's exclusion. Money moves only through money steps
(`holdem.session.effects.MoneyStep`) yielded by the rules here.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from holdem.engine.errors import PlayerAlreadySeatedError
from holdem.engine.views import seat_status_name
from holdem.protocol.errors import (
    InvalidMessage,
    NotBetweenHands,
    RealityCheckPending,
    SeatAvailable,
    SeatReserved,
    WaitListFull,
)
from holdem.protocol.messages import ServerType
from holdem.session.clock import TableClock
from holdem.session.commands import (
    Exclude,
    Failed,
    Leave,
    Outcome,
    Sit,
    SitIn,
    SitOut,
    TopUp,
    WaitListJoin,
)
from holdem.session.effects import (
    BuyIn,
    CashOut,
    FinishClosing,
    MoneyStep,
    SeatTaken,
    Settle,
    TableClosed,
    TopUpChips,
)
from holdem.session.values import OUTBOX_RETRY_S, Flow, Refused, expect, log

__all__ = ["Seating"]


class Seating(TableClock):
    """Seats and the money that moves with them."""

    # ------------------------------------------------------------------ seats and chips

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
            rules = expect(outcome).rules
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
        expect((yield TopUpChips(user=command.user, amount=command.amount, key=key)))
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
        expect((yield CashOut(seat=seat, user=user, amount=table.stacks[seat], key=key)))
        table.leave(seat)
        self.seqs.pop(user, None)
        self.guards.pop(user, None)
        self.answers.pop(user, None)
        self.conns.pop(user, None)  # its servers part its connections
        self._send(user, None, {"type": "_parted", "table_id": self.table_id})
        self._broadcast_snapshots()

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
        expect((yield FinishClosing()))
        self._notice_all("table_closed", "the table is closed")
        # Every server parts the table's remaining connections (spectators), so none of
        # them asks for an owner of the closed table again.
        self._send(None, None, {"type": "_closed", "table_id": self.table_id})
        self._out.append(TableClosed())
        return None

    def _exclude(self, command: Exclude) -> Flow:
        """The player began a break or self-exclusion (REST): they leave this table at the
        end of the hand running, or now if they are not in it."""
        table, user = self.table, command.user
        self.wait_list.remove(user)
        seat = table.seat_of(str(user))
        if seat is None:
            return None
        table.sit_out(seat)  # dealt no more hands, whatever happens next
        hand = table.hand
        if hand is None or hand.result is not None or not hand.dealt[seat]:
            try:
                # Keyed by the command's stream id, as a leave is: a new owner applying it
                # again replays it, and no other cash-out shares it (a hand count and seat
                # would: the next player excluded from this seat before a hand is dealt
                # would be "replayed", left unpaid).
                yield from self._cash_out(seat, f"exclude:{self.table_id}:{command.entry_id}")
                return None
            except Refused as exc:  # PostgreSQL unavailable: cashed out after the next hand
                log.warning("cash-out deferred (%s)", exc)
        if seat not in self.leaving:
            self.leaving.append(seat)
        if hand is not None and hand.result is None and hand.to_act == seat:
            hand.fold(seat)  # as a leave does: the table does not wait for a player now barred
            self._after_engine()
        return None
