"""The betting rules of a hand: what a seat may do now (POKER_RULES.md, "Betting").

``legal_actions`` lists it; ``verify_x(seat, ...)`` raises an
:class:`~holdem.engine.errors.ActionError` with a stable code and ``can_x(seat, ...)`` answers
yes or no. The rules themselves are listed in :mod:`holdem.engine.hand`.
"""

from __future__ import annotations

from collections.abc import Callable

from holdem.engine.actions import LegalActions
from holdem.engine.errors import (
    AmountExceedsStackError,
    BettingNotReopenedError,
    BetTooSmallError,
    CannotBetError,
    CannotCheckError,
    EngineError,
    HandNotRunningError,
    InvalidAmountError,
    InvalidSeatError,
    NoOpponentToRaiseError,
    NothingToCallError,
    NothingToRaiseError,
    NotYourTurnError,
    RaiseTooSmallError,
)
from holdem.engine.hand_state import HandState

__all__ = ["HandRules"]


class HandRules(HandState):
    """What each seat may do now; nothing here changes the hand."""

    __slots__ = ()

    def legal_actions(self, seat: int) -> LegalActions:
        """What ``seat`` may do now; everything false/``None`` when it is not their turn."""
        if seat != self.to_act or seat < 0:
            return LegalActions(seat, False, False, 0, None, None, False, False)
        bet = self.bets[seat]
        stack = self.stacks[seat]
        current = self.current_bet
        to_call = current - bet
        call_amount = (to_call if to_call < stack else stack) if to_call > 0 else 0
        most = bet + stack
        acted = self.acted[seat]
        if (
            most > current
            and (acted < 0 or current - acted >= self.min_raise)
            and self._raise_can_be_called(seat)
        ):
            least = current + self.min_raise
            return LegalActions(
                seat,
                True,
                to_call <= 0,
                call_amount,
                min(least, most),
                most,
                current == 0,
                current > 0,
            )
        return LegalActions(seat, True, to_call <= 0, call_amount, None, None, False, False)

    # ------------------------------------------------------------------ verify_*

    def _check_turn(self, seat: int) -> None:
        if seat != self.to_act or seat < 0 or type(seat) is not int:
            if self.result is not None:
                raise HandNotRunningError(f"hand {self.number} is over")
            if type(seat) is not int or not 0 <= seat < self.size:
                raise InvalidSeatError(f"no seat {seat!r} at a {self.size}-seat table")
            raise NotYourTurnError(f"seat {seat} may not act; seat {self.to_act} is to act")

    def verify_fold(self, seat: int) -> None:
        """Raise unless ``seat`` may fold (it is their turn)."""
        self._check_turn(seat)

    def verify_check(self, seat: int) -> None:
        """Raise unless ``seat`` may check (their turn, no bet to call)."""
        self._check_turn(seat)
        if self.bets[seat] < self.current_bet:
            raise CannotCheckError(
                f"seat {seat} faces a bet of {self.current_bet}: call, raise or fold"
            )

    def verify_call(self, seat: int) -> None:
        """Raise unless ``seat`` may call (their turn, a bet to call)."""
        self._check_turn(seat)
        if self.bets[seat] >= self.current_bet:
            raise NothingToCallError(f"seat {seat} has nothing to call: check or bet")

    def _check_may_raise(self, seat: int) -> None:
        acted = self.acted[seat]
        if acted >= 0 and self.current_bet - acted < self.min_raise:
            raise BettingNotReopenedError(
                f"seat {seat} already acted and faces no full raise since: call or fold"
            )
        if not self._raise_can_be_called(seat):
            raise NoOpponentToRaiseError(
                "no opponent could put in more than the current bet: call or fold"
            )

    def _raise_can_be_called(self, seat: int) -> bool:
        """Whether an opponent still in the hand could put in more than the current bet.

        When every opponent has folded, is all-in, or is covered by the current bet, a raise
        could never be called (it would all come back as an uncalled bet): only call or fold.
        """
        current, bets, stacks = self.current_bet, self.bets, self.stacks
        folded, is_all_in = self.folded, self.is_all_in
        for s in range(self.size):  # (a loop, not `any` over a generator: asked every turn)
            if s != seat and not folded[s] and not is_all_in[s] and bets[s] + stacks[s] > current:
                return True
        return False

    def verify_raise_to(self, seat: int, amount: int) -> None:
        """Raise unless ``seat`` may bet or raise to a street total of ``amount``."""
        self._check_turn(seat)
        if type(amount) is not int:
            raise InvalidAmountError(f"amount must be an int of won: {amount!r}")
        self._check_may_raise(seat)
        bet = self.bets[seat]
        most = bet + self.stacks[seat]
        if amount > most:
            raise AmountExceedsStackError(f"seat {seat} can bet at most {most} this street")
        current = self.current_bet
        least = current + self.min_raise
        if amount < least and (amount != most or amount <= current):
            if current == 0:
                raise BetTooSmallError(f"the minimum bet is {least} (or all-in)")
            raise RaiseTooSmallError(f"the minimum raise is to {least} (or all-in)")

    def verify_bet(self, seat: int, amount: int) -> None:
        """Raise unless ``seat`` may open the betting of the street with a bet of ``amount``.

        A bet when somebody bet already (preflop: the blinds) is refused, never taken as a
        raise: the player meant something else.
        """
        self._check_turn(seat)
        if self.current_bet > 0:
            raise CannotBetError(
                f"seat {seat} faces a bet of {self.current_bet}: raise, call or fold"
            )
        self.verify_raise_to(seat, amount)

    def verify_raise(self, seat: int, amount: int) -> None:
        """Raise unless ``seat`` may raise a bet already made on the street to ``amount``.

        A raise when nobody bet yet is refused, never taken as a bet.
        """
        self._check_turn(seat)
        if self.current_bet == 0:
            raise NothingToRaiseError(f"nobody bet yet: seat {seat} may bet or check")
        self.verify_raise_to(seat, amount)

    def verify_all_in(self, seat: int) -> None:
        """Raise unless ``seat`` may put their whole stack in."""
        self._check_turn(seat)
        if self.bets[seat] + self.stacks[seat] > self.current_bet:
            self._check_may_raise(seat)

    # ------------------------------------------------------------------ can_*

    @staticmethod
    def _passes(check: Callable[[], None]) -> bool:
        try:
            check()
        except EngineError:
            return False
        return True

    def can_fold(self, seat: int) -> bool:
        """Whether ``seat`` may fold now."""
        return self._passes(lambda: self.verify_fold(seat))

    def can_check(self, seat: int) -> bool:
        """Whether ``seat`` may check now."""
        return self._passes(lambda: self.verify_check(seat))

    def can_call(self, seat: int) -> bool:
        """Whether ``seat`` may call now."""
        return self._passes(lambda: self.verify_call(seat))

    def can_raise_to(self, seat: int, amount: int) -> bool:
        """Whether ``seat`` may bet or raise to ``amount`` now."""
        return self._passes(lambda: self.verify_raise_to(seat, amount))

    def can_bet(self, seat: int, amount: int) -> bool:
        """Whether ``seat`` may open the street's betting with ``amount`` now."""
        return self._passes(lambda: self.verify_bet(seat, amount))

    def can_raise(self, seat: int, amount: int) -> bool:
        """Whether ``seat`` may raise the street's bet to ``amount`` now."""
        return self._passes(lambda: self.verify_raise(seat, amount))

    def can_all_in(self, seat: int) -> bool:
        """Whether ``seat`` may go all-in now."""
        return self._passes(lambda: self.verify_all_in(seat))
