"""The engine's exception tree.

Every error carries a stable machine ``code`` (a class attribute): shells map codes to
wire replies and never branch on message text. The tree::

    EngineError                       engine_error
    ├── ConfigError                   invalid_config
    ├── InvalidAmountError            invalid_amount
    ├── DeckError                     invalid_deck
    ├── StateError                    invalid_state
    │   └── UnknownStateVersionError  unknown_state_version
    ├── SeatError                     seat_error
    │   ├── InvalidSeatError          invalid_seat
    │   ├── SeatTakenError            seat_taken
    │   ├── SeatEmptyError            seat_empty
    │   ├── PlayerAlreadySeatedError  player_already_seated
    │   └── BuyInOutOfRangeError      buy_in_out_of_range
    ├── HandStateError                hand_state_error
    │   ├── HandInProgressError       hand_in_progress
    │   ├── HandNotRunningError       hand_not_running
    │   └── NotEnoughPlayersError     not_enough_players
    └── ActionError                   illegal_action
        ├── NotYourTurnError          not_your_turn
        ├── CannotCheckError          cannot_check
        ├── NothingToCallError        nothing_to_call
        ├── CannotBetError            cannot_bet
        ├── NothingToRaiseError       nothing_to_raise
        ├── BetTooSmallError          bet_too_small
        ├── RaiseTooSmallError        raise_too_small
        ├── AmountExceedsStackError   amount_exceeds_stack
        ├── BettingNotReopenedError   betting_not_reopened
        └── NoOpponentToRaiseError    no_opponent_to_raise

>>> try:
...     raise RaiseTooSmallError("raise to at least 4000")
... except ActionError as exc:
...     exc.code
'raise_too_small'
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ActionError",
    "AmountExceedsStackError",
    "BetTooSmallError",
    "BettingNotReopenedError",
    "BuyInOutOfRangeError",
    "CannotBetError",
    "CannotCheckError",
    "ConfigError",
    "DeckError",
    "EngineError",
    "HandInProgressError",
    "HandNotRunningError",
    "HandStateError",
    "InvalidAmountError",
    "InvalidSeatError",
    "NoOpponentToRaiseError",
    "NotEnoughPlayersError",
    "NotYourTurnError",
    "NothingToCallError",
    "NothingToRaiseError",
    "PlayerAlreadySeatedError",
    "RaiseTooSmallError",
    "SeatEmptyError",
    "SeatError",
    "SeatTakenError",
    "StateError",
    "UnknownStateVersionError",
]


class EngineError(Exception):
    """Base class of every error the engine raises on purpose.

    Attributes:
        code: A stable, machine-readable identifier of the error kind.
    """

    code: ClassVar[str] = "engine_error"


class ConfigError(EngineError):
    """A table or rake configuration is inconsistent (e.g. a big blind below the small)."""

    code = "invalid_config"


class InvalidAmountError(EngineError):
    """An amount is not a positive ``int`` of won (floats and bools never count as money)."""

    code = "invalid_amount"


class DeckError(EngineError):
    """An explicit deck has repeated or out-of-range cards, or too few cards."""

    code = "invalid_deck"


class StateError(EngineError):
    """A serialised state is malformed and cannot be restored."""

    code = "invalid_state"


class UnknownStateVersionError(StateError):
    """A serialised state carries a version this engine does not know."""

    code = "unknown_state_version"


class SeatError(EngineError):
    """Base class of seating errors."""

    code = "seat_error"


class InvalidSeatError(SeatError):
    """The seat number is outside ``0 .. seats - 1``."""

    code = "invalid_seat"


class SeatTakenError(SeatError):
    """Someone already sits in the seat (also raised by the table servers' ledger calls when
    PostgreSQL has the seat, or another seat of the player, open: one error, one code)."""

    code = "seat_taken"


class SeatEmptyError(SeatError):
    """Nobody sits in the seat."""

    code = "seat_empty"


class PlayerAlreadySeatedError(SeatError):
    """The player already has a seat at this table."""

    code = "player_already_seated"


class BuyInOutOfRangeError(SeatError):
    """A buy-in or top-up would leave the stack outside the table's buy-in range."""

    code = "buy_in_out_of_range"


class HandStateError(EngineError):
    """Base class of errors about the hand lifecycle."""

    code = "hand_state_error"


class HandInProgressError(HandStateError):
    """The operation is only allowed between hands (or for a seat not in the hand)."""

    code = "hand_in_progress"


class HandNotRunningError(HandStateError):
    """There is no hand in progress to act in."""

    code = "hand_not_running"


class NotEnoughPlayersError(HandStateError):
    """Fewer than two players can be dealt in."""

    code = "not_enough_players"


class ActionError(EngineError):
    """Base class of rejected player actions. Actions are rejected, never coerced."""

    code = "illegal_action"


class NotYourTurnError(ActionError):
    """The seat is not the one to act (or is not in the hand at all)."""

    code = "not_your_turn"


class CannotCheckError(ActionError):
    """The player faces a bet and cannot check."""

    code = "cannot_check"


class NothingToCallError(ActionError):
    """There is no bet to call; the player may check."""

    code = "nothing_to_call"


class CannotBetError(ActionError):
    """Somebody bet on this street already (the blinds count preflop): raise, call or fold."""

    code = "cannot_bet"


class NothingToRaiseError(ActionError):
    """Nobody bet on this street yet: bet (a raise needs a bet to raise)."""

    code = "nothing_to_raise"


class BetTooSmallError(ActionError):
    """An opening bet is below the big blind and is not an all-in."""

    code = "bet_too_small"


class RaiseTooSmallError(ActionError):
    """A raise is below the minimum raise-to and is not an all-in (TDA 43-A)."""

    code = "raise_too_small"


class AmountExceedsStackError(ActionError):
    """The raise-to amount needs more chips than the player has."""

    code = "amount_exceeds_stack"


class BettingNotReopenedError(ActionError):
    """The player already acted and faces no full raise since (TDA 47-A): call or fold."""

    code = "betting_not_reopened"


class NoOpponentToRaiseError(ActionError):
    """Every opponent still in the hand is all-in, so a raise could not be called."""

    code = "no_opponent_to_raise"
