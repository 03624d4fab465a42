"""What each answer of the database function ``ledger_post`` means, in one table.

``ledger_post`` (the newest ``migrations/sql/ledger_post_v*.sql``) answers every call with
a JSON object whose ``status`` says what happened. Two statuses are a posted transaction (a
new one, or the original one of a repeated key); every other status is a refusal, raised as
the ledger error in `OUTCOMES` (``holdem.services.ledger_errors``). A test parses the SQL
file and checks that every status it can return has its row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from holdem.services.errors import ServiceError
from holdem.services.ledger_errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    StaleFencingToken,
    UnknownAccountOwner,
    WithdrawalAlreadyFinished,
)

__all__ = ["OUTCOMES", "Outcome", "PostContext", "PostStatus", "outcome_of"]


class PostStatus(StrEnum):
    """The ``status`` of a ``ledger_post`` answer."""

    OK = "ok"
    REPLAYED = "replayed"
    KEY_CONFLICT = "key_conflict"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    STALE_FENCE = "stale_fence"
    ALREADY_FINISHED = "already_finished"
    UNKNOWN_USER = "unknown_user"
    UNKNOWN_TABLE = "unknown_table"


@dataclass(frozen=True, slots=True)
class PostContext:
    """What the caller asked for, named in a refusal's message and details."""

    key: str
    user_id: int | None
    table_id: int | None
    related_id: int | None


Describe = Callable[[Mapping[str, Any], PostContext], tuple[str, dict[str, Any]]]
"""(the answer, the request) → the refusal's message and details."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One status: posted (``error`` is None), or refused with ``error``.

    Attributes:
        error: The ledger error a refusal raises; None when the transaction is posted.
        describe: The refusal's message and details.
        replayed: Posted earlier under the same key and parameters (the original result).
    """

    error: type[ServiceError] | None = None
    describe: Describe | None = None
    replayed: bool = False

    def refusal(self, row: Mapping[str, Any], context: PostContext) -> ServiceError:
        """The error to raise for this answer (only for a refusal)."""
        assert self.error is not None
        assert self.describe is not None
        message, details = self.describe(row, context)
        return self.error(message, details)


def _unknown_owner(row: Mapping[str, Any], context: PostContext) -> tuple[str, dict[str, Any]]:
    return str(row["status"]).replace("_", " "), {"user_id": context.user_id}


OUTCOMES: Mapping[PostStatus, Outcome] = {
    PostStatus.OK: Outcome(),
    PostStatus.REPLAYED: Outcome(replayed=True),
    PostStatus.KEY_CONFLICT: Outcome(
        IdempotencyKeyReused,
        lambda row, ctx: (
            f"idempotency key {ctx.key!r} was used for a different {row['kind']} request",
            {"key": ctx.key, "transaction_id": row["id"]},
        ),
    ),
    PostStatus.INSUFFICIENT_FUNDS: Outcome(
        InsufficientFunds,
        lambda row, ctx: (
            f"{row['account']} holds {row['balance']} won, {row['needed']} needed",
            {"account": row["account"], "balance": row["balance"], "needed": row["needed"]},
        ),
    ),
    PostStatus.STALE_FENCE: Outcome(
        StaleFencingToken,
        lambda row, ctx: (
            f"table {ctx.table_id} is owned by fencing token {row['token']} or later",
            {"table_id": ctx.table_id, "token": row["token"]},
        ),
    ),
    PostStatus.ALREADY_FINISHED: Outcome(
        WithdrawalAlreadyFinished,
        lambda row, ctx: (
            f"withdrawal {ctx.related_id} was already completed or returned",
            {"reserve_transaction_id": ctx.related_id},
        ),
    ),
    PostStatus.UNKNOWN_USER: Outcome(UnknownAccountOwner, _unknown_owner),
    PostStatus.UNKNOWN_TABLE: Outcome(UnknownAccountOwner, _unknown_owner),
}


def outcome_of(status: str) -> Outcome:
    """The outcome of a status; a status this table lacks is a bug (the SQL and the table
    disagree), never a client's mistake."""
    try:
        return OUTCOMES[PostStatus(status)]
    except (ValueError, KeyError) as exc:
        raise AssertionError(f"ledger_post returned an unknown status {status!r}") from exc
