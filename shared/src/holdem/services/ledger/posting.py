"""Posting: one balanced ledger transaction, in one call of the database function.

``ledger_post`` (the newest ``migrations/sql/ledger_post_v*.sql``) locks the account rows in
id order, checks funds, writes the entries and cached balances and chains the audit record,
all in the caller's transaction; its answer becomes a `Posted`, or the refusal
`outcomes.OUTCOMES` names. The operations (`holdem.services.ledger.operations`) build the
legs and call `post`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.ledger.accounts import AccountKind
from holdem.ledger.amounts import LedgerRuleError, require_key
from holdem.ledger.audit import canonical_metadata, canonical_request
from holdem.ledger.transactions import Leg, TransactionKind
from holdem.ports import IdempotentStatements
from holdem.services.ledger.outcomes import PostContext, outcome_of
from holdem.services.ledger_errors import InvalidLedgerRequest

__all__ = ["Posted", "PostedEntry", "Standalone", "legs_json", "post", "rule"]

_T = TypeVar("_T")


_POST_SQL = (
    "select ledger_post(%s, %s, %s, %s, %s::bigint, %s::bigint, %s::bigint, %s::bigint, "
    "%s::bigint, %s::bigint, %s::jsonb)"
)


class Standalone:
    """Stands in for a session when an operation is its own database transaction.

    ``ledger_post`` is one statement, so in autocommit mode it *is* the transaction: one
    round trip instead of BEGIN, the call and COMMIT, sent as a prepared statement on a raw
    connection of the process's `StatementPool` (no session, no ORM, no pre-ping). Idempotent
    by its key, so the pool may send it again when a kept connection turns out dead: if the
    first one had committed, the second returns its result (``replayed``). Used by
    `LedgerService` for every operation that is a single post.
    """

    def __init__(self, statements: IdempotentStatements) -> None:
        self._statements = statements

    async def post(self, params: tuple[Any, ...]) -> dict[str, Any]:
        (result,) = await self._statements.run_idempotent(_POST_SQL, params)
        return cast(dict[str, Any], result)


async def _call_post(session: AsyncSession, params: tuple[Any, ...]) -> dict[str, Any]:
    """Run ledger_post on the session's own connection, inside its transaction.

    The statement goes straight to the psycopg connection under the session: posting is
    the ledger's hot path (every hand), and SQLAlchemy's per-statement machinery costs more
    than the database work. The session has begun the transaction; its commit or rollback
    covers this statement as any other.
    """
    if isinstance(session, Standalone):
        return await session.post(params)
    await session.flush()  # the caller's pending rows (a new user, a hand) come first
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    cursor = await driver.execute(_POST_SQL, params)
    found = await cursor.fetchone()
    assert found is not None
    result: dict[str, Any] = found[0]
    return result


@dataclass(frozen=True, slots=True)
class PostedEntry:
    """One entry of a posted transaction."""

    account_id: int
    account_kind: AccountKind
    user_id: int | None
    table_id: int | None
    amount: int
    balance_after: int


@dataclass(frozen=True, slots=True)
class Posted:
    """The result of an operation: the ledger transaction (the original one when replayed)."""

    transaction_id: int
    kind: TransactionKind
    created_at: datetime
    metadata: Mapping[str, Any]
    entries: tuple[PostedEntry, ...]
    replayed: bool
    audit_lane: int
    audit_seq: int
    audit_hash: str

    def balance_after(
        self, kind: AccountKind, user_id: int | None = None, table_id: int | None = None
    ) -> int | None:
        """The balance after this transaction of one of its accounts (None if not touched)."""
        for entry in self.entries:
            if (entry.account_kind, entry.user_id, entry.table_id) == (kind, user_id, table_id):
                return entry.balance_after
        return None


def rule(check: Callable[..., _T], *args: Any) -> _T:
    """``check(*args)``, a broken money rule raised as `InvalidLedgerRequest`."""
    try:
        return check(*args)
    except LedgerRuleError as exc:
        raise InvalidLedgerRequest(str(exc)) from exc


def legs_json(legs: list[Leg]) -> str:
    """The legs as ``ledger_post`` reads them (``p_legs``)."""
    return json.dumps(
        [
            {
                "k": leg.key,
                "kind": str(leg.kind),
                "u": leg.user_id,
                "t": leg.table_id,
                "c": leg.coin,
                "a": leg.amount,
                "s": leg.striped,
            }
            for leg in legs
        ]
    )


def _posted(row: Mapping[str, Any], replayed: bool) -> Posted:
    return Posted(
        transaction_id=int(row["id"]),
        kind=TransactionKind(row["kind"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        metadata=row["metadata"],
        entries=tuple(
            PostedEntry(
                account_id=e["account_id"],
                account_kind=AccountKind(e["kind"]),
                user_id=e["user_id"],
                table_id=e["table_id"],
                amount=e["amount"],
                balance_after=e["balance_after"],
            )
            for e in row["entries"] or ()
        ),
        replayed=replayed,
        audit_lane=int(row["lane"]),
        audit_seq=int(row["seq"]),
        audit_hash=str(row["hash"]),
    )


async def post(
    session: AsyncSession,
    *,
    kind: TransactionKind,
    key: str,
    request: Mapping[str, Any],
    metadata: Mapping[str, Any],
    legs: list[Leg],
    user_id: int | None = None,
    table_id: int | None = None,
    hand_id: int | None = None,
    related_id: int | None = None,
    fence: tuple[int, int] | None = None,
) -> Posted:
    """Post one transaction; the original one when `key` was posted with this `request`.

    Args:
        request: what makes two calls with one key the same request (hashed).
        metadata: kept with the transaction and audited.
        fence: (table id, fencing token) when an owner of that table posts.

    Raises:
        InvalidLedgerRequest: a key, a request or metadata that breaks a money rule.
        IdempotencyKeyReused, InsufficientFunds, StaleFencingToken, WithdrawalAlreadyFinished,
        UnknownAccountOwner: the refusals of `outcomes.OUTCOMES`; nothing was written.
    """
    rule(require_key, key)
    request_hash = rule(canonical_request, str(kind), request)
    args = (
        str(kind),
        key,
        request_hash,
        rule(canonical_metadata, metadata),
        user_id,
        table_id,
        hand_id,
        related_id,
        fence[0] if fence else None,
        fence[1] if fence else None,
        legs_json(legs),
    )
    row = await _call_post(session, args)
    outcome = outcome_of(row["status"])
    if outcome.error is None:
        return _posted(row, replayed=outcome.replayed)
    raise outcome.refusal(row, PostContext(key, user_id, table_id, related_id))
