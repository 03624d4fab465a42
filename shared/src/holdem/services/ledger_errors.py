"""The ledger's errors: a branch of the services' exception tree, each with a stable code.

::

    InvalidInput                     invalid_input
    ├── InvalidLedgerRequest         invalid_ledger_request   (bad amount, key, legs …)
    └── InvalidCursor                invalid_cursor
    NotFound                         not_found
    ├── UnknownAccountOwner          unknown_account_owner    (no such user / table)
    └── WithdrawalNotFound           withdrawal_not_found
    Conflict                         conflict
    ├── InsufficientFunds            insufficient_funds
    ├── IdempotencyKeyReused         idempotency_key_reused   (same key, other parameters)
    ├── StaleFencingToken            stale_fencing_token      (a newer table owner exists)
    └── WithdrawalAlreadyFinished    withdrawal_already_finished

Every one of them is raised before the ledger writes anything: the caller's transaction is
still usable (only a valid fencing-token advance may have been stored).
"""

from __future__ import annotations

from holdem.services.errors import Conflict, InvalidInput, NotFound


class InvalidLedgerRequest(InvalidInput):
    """An amount, key or set of legs breaks a money rule."""

    code = "invalid_ledger_request"


class InvalidCursor(InvalidInput):
    """A statement cursor that this service did not issue."""

    code = "invalid_cursor"


class UnknownAccountOwner(NotFound):
    """The user or table an account would belong to does not exist."""

    code = "unknown_account_owner"


class WithdrawalNotFound(NotFound):
    """No reserved withdrawal has that transaction id."""

    code = "withdrawal_not_found"


class InsufficientFunds(Conflict):
    """A player account would go below zero."""

    code = "insufficient_funds"


class IdempotencyKeyReused(Conflict):
    """The key was already used for a request with different parameters."""

    code = "idempotency_key_reused"


class StaleFencingToken(Conflict):
    """The table has been taken over by an owner with a higher fencing token."""

    code = "stale_fencing_token"


class WithdrawalAlreadyFinished(Conflict):
    """The withdrawal was already completed or returned (under another key)."""

    code = "withdrawal_already_finished"
