"""The money ledger's use cases: the only way money moves (SPEC §3).

Every operation exists in two forms:

* a module function taking an `AsyncSession` — it posts inside the caller's database
  transaction, so a caller can compose (create a withdrawal row *and* reserve its funds;
  write a hand *and* settle it) and commit once;
* a method of `LedgerService`, which is its own transaction (a single post runs as one
  autocommit statement; the withdrawal finishes, which read the reservation first, open a
  transaction).

Each operation is one balanced ledger transaction, posted by the database function
``ledger_post`` in one round trip: account rows locked in id order, funds checked, entries
and cached balances written, and the audit record chained, all in the caller's transaction.
Each is idempotent by its key: the same key with the same parameters returns the original
result (``replayed=True``); the same key with other parameters raises
`IdempotencyKeyReused`. Refusals (`holdem.services.ledger_errors`) happen before anything
is written, so the caller's transaction stays usable.

Example::

    ledger = LedgerService(container.sessions, container.statements)
    await ledger.credit_deposit(key="deposit:BTC:ab12:0", user_id=7, amount=1_000_000,
                                coin="BTC", crypto_amount=Decimal("0.01"),
                                rate_krw=Decimal("100000000"), tx_hash="ab12", address="bc1…")
    async with container.sessions.begin() as session:      # composed with other writes
        session.add(hand_row)
        await session.flush()
        await settle_hand(session, table_id=3, hand_id=hand_row.id, fencing_token=12,
                          nets={7: 5_700, 8: -6_000}, rake=300)
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import and_, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from holdem.adapters.database import ColumnReader, StatementPool
from holdem.adapters.orm.base import MAX_BIGINT
from holdem.adapters.orm.ledger import (
    AuditLane,
    AuditRecord,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
)
from holdem.ledger import conservation
from holdem.ledger import transactions as legs_of
from holdem.ledger.accounts import PLAYER_KINDS, AccountKind
from holdem.ledger.amounts import (
    LedgerRuleError,
    require_crypto,
    require_key,
    require_won,
)
from holdem.ledger.audit import (
    AuditedEntry,
    AuditedTransaction,
    LaneVerifier,
    StoredRecord,
    canonical_content,
    canonical_metadata,
    canonical_request,
)
from holdem.ledger.transactions import (
    WITHDRAWAL_FINISHES,
    Leg,
    TransactionKind,
    entry_label,
)
from holdem.services.ledger_errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidCursor,
    InvalidLedgerRequest,
    StaleFencingToken,
    UnknownAccountOwner,
    WithdrawalAlreadyFinished,
    WithdrawalNotFound,
)

__all__ = [
    "AuditReport",
    "Balances",
    "ConservationReport",
    "LedgerService",
    "Posted",
    "PostedEntry",
    "StatementLine",
    "StatementPage",
    "adjust",
    "balances",
    "buy_in",
    "cash_out",
    "complete_withdrawal",
    "conservation_report",
    "credit_deposit",
    "credit_rakeback",
    "release_locked",
    "reserve_withdrawal",
    "return_withdrawal",
    "settle_hand",
    "transactions",
    "verify_audit_chain",
]

_POST_SQL = (
    "select ledger_post(%s, %s, %s, %s, %s::bigint, %s::bigint, %s::bigint, %s::bigint, "
    "%s::bigint, %s::bigint, %s::jsonb)"
)


class _Standalone:
    """Stands in for a session when an operation is its own database transaction.

    ``ledger_post`` is one statement, so in autocommit mode it *is* the transaction: one
    round trip instead of BEGIN, the call and COMMIT, sent as a prepared statement on a raw
    connection of the process's `StatementPool` (no session, no ORM, no pre-ping). Idempotent
    by its key, so the pool may send it again when a kept connection turns out dead: if the
    first one had committed, the second returns its result (``replayed``). Used by
    `LedgerService` for every operation that is a single post.
    """

    def __init__(self, statements: StatementPool) -> None:
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
    if isinstance(session, _Standalone):
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


def _rule(check: Any, *args: Any) -> Any:
    try:
        return check(*args)
    except LedgerRuleError as exc:
        raise InvalidLedgerRequest(str(exc)) from exc


def _legs_json(legs: list[Leg]) -> str:
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


async def _post(
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
    _rule(require_key, key)
    request_hash = _rule(canonical_request, str(kind), request)
    args = (
        str(kind),
        key,
        request_hash,
        _rule(canonical_metadata, metadata),
        user_id,
        table_id,
        hand_id,
        related_id,
        fence[0] if fence else None,
        fence[1] if fence else None,
        _legs_json(legs),
    )
    row = await _call_post(session, args)
    status = row["status"]
    if status in ("ok", "replayed"):
        return _posted(row, replayed=status == "replayed")
    if status == "key_conflict":
        raise IdempotencyKeyReused(
            f"idempotency key {key!r} was used for a different {row['kind']} request",
            {"key": key, "transaction_id": row["id"]},
        )
    if status == "insufficient_funds":
        raise InsufficientFunds(
            f"{row['account']} holds {row['balance']} won, {row['needed']} needed",
            {"account": row["account"], "balance": row["balance"], "needed": row["needed"]},
        )
    if status == "stale_fence":
        raise StaleFencingToken(
            f"table {table_id} is owned by fencing token {row['token']} or later",
            {"table_id": table_id, "token": row["token"]},
        )
    if status == "already_finished":
        raise WithdrawalAlreadyFinished(
            f"withdrawal {related_id} was already completed or returned",
            {"reserve_transaction_id": related_id},
        )
    if status in ("unknown_user", "unknown_table"):
        raise UnknownAccountOwner(status.replace("_", " "), {"user_id": user_id})
    raise AssertionError(f"ledger_post returned an unknown status {status!r}")


# --- operations ---------------------------------------------------------------------------


def _rate_text(coin: str, rate_krw: Decimal) -> str:
    return f"1 {coin} = {format(rate_krw, 'f')} KRW"


async def credit_deposit(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    coin: str,
    crypto_amount: Decimal,
    rate_krw: Decimal,
    tx_hash: str,
    address: str,
    deposit_id: int | None = None,
    locked: int = 0,
) -> Posted:
    """Credit a confirmed crypto deposit to the wallet (gateway clearing → wallet).

    `amount` is the KRW credited, converted at `rate_krw` (KRW per coin); both are kept with
    the coin amount, chain transaction hash and address. `locked` of it (over the player's
    deposit limit, or during an exclusion) goes to the locked account instead: withdrawable,
    not playable (`holdem.ledger.protection`).
    """
    _rule(require_crypto, crypto_amount)
    _rule(require_crypto, rate_krw)
    meta = {
        "coin": coin,
        "crypto_amount": crypto_amount,
        "rate_krw": rate_krw,
        "rate": _rate_text(coin, rate_krw),
        "tx_hash": tx_hash,
        "address": address,
        "deposit_id": deposit_id,
    }
    if locked:  # only when some is locked: the request hash of every other deposit is as before
        meta["locked"] = locked
    return await _post(
        session,
        kind=TransactionKind.CRYPTO_DEPOSIT,
        key=key,
        request={"user_id": user_id, "amount": amount, **meta},
        metadata=meta,
        legs=_rule(legs_of.deposit_legs, user_id, amount, coin, locked),
        user_id=user_id,
    )


async def reserve_withdrawal(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    coin: str,
    address: str,
    withdrawal_id: int | None = None,
    from_locked: int = 0,
) -> Posted:
    """Move a withdrawal's amount from the wallet to pending-withdrawal, at once.

    `from_locked` of it comes from the locked account (locked funds are withdrawable); a
    returned withdrawal puts that part back there.
    """
    meta: dict[str, Any] = {
        "amount": amount,
        "coin": coin,
        "address": address,
        "withdrawal_id": withdrawal_id,
    }
    if from_locked:
        meta["from_locked"] = from_locked
    return await _post(
        session,
        kind=TransactionKind.WITHDRAWAL_RESERVE,
        key=key,
        request={"user_id": user_id, **meta},
        metadata=meta,
        legs=_rule(legs_of.reserve_legs, user_id, amount, from_locked),
        user_id=user_id,
    )


async def _reservation(session: AsyncSession, reserve_transaction_id: int) -> LedgerTransaction:
    found = await session.get(LedgerTransaction, reserve_transaction_id)
    if found is None or found.kind != TransactionKind.WITHDRAWAL_RESERVE:
        raise WithdrawalNotFound(
            f"no reserved withdrawal {reserve_transaction_id}",
            {"reserve_transaction_id": reserve_transaction_id},
        )
    return found


async def complete_withdrawal(
    session: AsyncSession,
    *,
    key: str,
    reserve_transaction_id: int,
    crypto_amount: Decimal,
    rate_krw: Decimal,
    tx_hash: str,
) -> Posted:
    """Record a paid withdrawal: its reserved amount leaves pending for the gateway."""
    _rule(require_crypto, crypto_amount)
    _rule(require_crypto, rate_krw)
    reserved = await _reservation(session, reserve_transaction_id)
    user_id, coin = reserved.user_id, str(reserved.metadata_["coin"])
    amount = int(reserved.metadata_["amount"])
    assert user_id is not None
    meta = {
        "amount": amount,
        "coin": coin,
        "address": reserved.metadata_["address"],
        "crypto_amount": crypto_amount,
        "rate_krw": rate_krw,
        "rate": _rate_text(coin, rate_krw),
        "tx_hash": tx_hash,
        "withdrawal_id": reserved.metadata_.get("withdrawal_id"),
    }
    return await _post(
        session,
        kind=TransactionKind.WITHDRAWAL_COMPLETE,
        key=key,
        request={"reserve_transaction_id": reserve_transaction_id, **meta},
        metadata=meta,
        legs=_rule(legs_of.complete_legs, user_id, amount, coin),
        user_id=user_id,
        related_id=reserve_transaction_id,
    )


async def return_withdrawal(
    session: AsyncSession, *, key: str, reserve_transaction_id: int, reason: str
) -> Posted:
    """Return a rejected, failed or cancelled withdrawal's amount to the wallet."""
    if not reason.strip():
        raise InvalidLedgerRequest("a returned withdrawal needs a reason")
    reserved = await _reservation(session, reserve_transaction_id)
    user_id, amount = reserved.user_id, int(reserved.metadata_["amount"])
    assert user_id is not None
    meta = {
        "amount": amount,
        "coin": reserved.metadata_["coin"],
        "reason": reason,
        "withdrawal_id": reserved.metadata_.get("withdrawal_id"),
    }
    return await _post(
        session,
        kind=TransactionKind.WITHDRAWAL_RETURN,
        key=key,
        request={"reserve_transaction_id": reserve_transaction_id, **meta},
        metadata=meta,
        legs=_rule(
            legs_of.return_legs, user_id, amount, int(reserved.metadata_.get("from_locked", 0))
        ),
        user_id=user_id,
        related_id=reserve_transaction_id,
    )


async def release_locked(session: AsyncSession, *, key: str, user_id: int, amount: int) -> Posted:
    """Move locked funds to the wallet, where they are playable (locked account → wallet)."""
    meta = {"amount": amount}
    return await _post(
        session,
        kind=TransactionKind.LOCKED_RELEASE,
        key=key,
        request={"user_id": user_id, **meta},
        metadata=meta,
        legs=_rule(legs_of.release_legs, user_id, amount),
        user_id=user_id,
    )


async def buy_in(
    session: AsyncSession, *, key: str, user_id: int, table_id: int, amount: int
) -> Posted:
    """Move chips from the wallet to the player's seat at a table (buy-in or top-up)."""
    meta = {"amount": amount}
    return await _post(
        session,
        kind=TransactionKind.BUY_IN,
        key=key,
        request={"user_id": user_id, "table_id": table_id, **meta},
        metadata=meta,
        legs=_rule(legs_of.buy_in_legs, user_id, table_id, amount),
        user_id=user_id,
        table_id=table_id,
    )


async def cash_out(
    session: AsyncSession, *, key: str, user_id: int, table_id: int, amount: int
) -> Posted:
    """Move chips from the player's seat back to the wallet."""
    meta = {"amount": amount}
    return await _post(
        session,
        kind=TransactionKind.CASH_OUT,
        key=key,
        request={"user_id": user_id, "table_id": table_id, **meta},
        metadata=meta,
        legs=_rule(legs_of.cash_out_legs, user_id, table_id, amount),
        user_id=user_id,
        table_id=table_id,
    )


def settlement_key(table_id: int, hand_id: int) -> str:
    """The idempotency key of a hand's settlement."""
    return f"hand:{table_id}:{hand_id}"


async def settle_hand(
    session: AsyncSession,
    *,
    table_id: int,
    hand_id: int,
    fencing_token: int,
    nets: Mapping[int, int],
    rake: int,
    rake_shares: Mapping[int, int] | None = None,
) -> Posted:
    """Settle a hand in one transaction: every seat's net result and the rake.

    Keyed by (table, hand): settling the same hand again returns the original result, even
    from a new table owner. Refused with `StaleFencingToken` when a higher fencing token has
    already settled a hand at this table (the highest token seen per table is kept in
    PostgreSQL and compared under its row lock).

    Args:
        nets: user id → net chips won (+) or lost (−) in the hand, after rake.
        rake: the rake, credited to the house; ``sum(nets) + rake`` must be 0.
        rake_shares: user id → the part of the rake attributed to them (for rakeback);
            must add up to `rake` when given.
    """
    _rule(require_won, fencing_token)
    shares = dict(rake_shares or {})
    if shares and sum(shares.values()) != rake:
        raise InvalidLedgerRequest("rake shares must add up to the rake")
    meta: dict[str, Any] = {"rake": rake}
    if shares:
        meta["rake_shares"] = json.dumps({str(k): v for k, v in sorted(shares.items())})
    params = {
        "table_id": table_id,
        "hand_id": hand_id,
        "nets": json.dumps({str(k): v for k, v in sorted(nets.items())}),
        **meta,
    }
    return await _post(
        session,
        kind=TransactionKind.HAND_SETTLEMENT,
        key=settlement_key(table_id, hand_id),
        request=params,
        metadata=meta,
        legs=_rule(legs_of.settlement_legs, table_id, nets, rake),
        table_id=table_id,
        hand_id=hand_id,
        fence=(table_id, fencing_token),
    )


async def credit_rakeback(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    week_start: date | None = None,
    rake_paid: int | None = None,
    level: str | None = None,
) -> Posted:
    """Credit rakeback to the wallet (house rakeback expense → wallet)."""
    meta = {
        "week_start": week_start.isoformat() if week_start else None,
        "rake_paid": rake_paid,
        "level": level,
    }
    return await _post(
        session,
        kind=TransactionKind.RAKEBACK,
        key=key,
        request={"user_id": user_id, "amount": amount, **meta},
        metadata=meta,
        legs=_rule(legs_of.rakeback_legs, user_id, amount),
        user_id=user_id,
    )


async def adjust(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    amount: int,
    reason: str,
    operator_id: int,
    account: AccountKind = AccountKind.WALLET,
    table_id: int | None = None,
) -> Posted:
    """An operator's correction: credit (amount > 0) or debit a player account.

    A reason is required; it and the operator are part of the audited record.
    """
    if not reason.strip():
        raise InvalidLedgerRequest("an adjustment needs a reason")
    meta = {"reason": reason, "operator_id": operator_id, "account": str(account)}
    return await _post(
        session,
        kind=TransactionKind.ADJUSTMENT,
        key=key,
        request={"user_id": user_id, "amount": amount, "table_id": table_id, **meta},
        metadata=meta,
        legs=_rule(legs_of.adjustment_legs, user_id, amount, account, table_id),
        user_id=user_id,
        table_id=table_id,
    )


# --- views --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Balances:
    """What a player holds: wallet, pending withdrawals, locked funds and chips on each table."""

    user_id: int
    wallet: int
    pending_withdrawal: int
    seats: Mapping[int, int] = field(default_factory=dict)
    locked: int = 0
    """Credited over a deposit limit or during an exclusion: withdrawable, not playable."""

    @property
    def total(self) -> int:
        return self.wallet + self.pending_withdrawal + self.locked + sum(self.seats.values())


_BALANCES = select(LedgerAccount.kind, LedgerAccount.table_id, LedgerAccount.balance).where(
    LedgerAccount.user_id == bindparam("user_id")
)  # built once


async def balances(session: ColumnReader, user_id: int) -> Balances:
    """A player's balances (zero for accounts that do not exist yet)."""
    rows = await session.execute(_BALANCES, {"user_id": user_id})
    wallet = pending = locked = 0
    seats: dict[int, int] = {}
    for kind, table_id, balance in rows:
        if kind == AccountKind.WALLET:
            wallet = balance
        elif kind == AccountKind.PENDING_WITHDRAWAL:
            pending = balance
        elif kind == AccountKind.LOCKED:
            locked = balance
        elif balance and table_id is not None:
            seats[table_id] = balance
    return Balances(user_id, wallet, pending, seats, locked)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of a player's statement: one entry on one of their accounts."""

    entry_id: int
    transaction_id: int
    kind: str
    """SPEC §3's kind: crypto_deposit, crypto_withdrawal, buy_in, cash_out, win, lose, …"""
    transaction_kind: TransactionKind
    account: AccountKind
    table_id: int | None
    amount_krw: int
    balance_after: int
    created_at: datetime
    completed_at: datetime | None
    """When the movement finished: a reserved withdrawal completes when paid or returned."""
    metadata: Mapping[str, Any]
    """Crypto details where relevant: coin, crypto_amount, rate ("1 BTC = X KRW"), tx_hash,
    address; the reason of an adjustment or a return."""


@dataclass(frozen=True, slots=True)
class StatementPage:
    items: list[StatementLine]
    next_cursor: str | None


_LABEL_FILTERS: dict[str, tuple[tuple[TransactionKind, ...], int]] = {
    "crypto_deposit": ((TransactionKind.CRYPTO_DEPOSIT,), 0),
    "crypto_withdrawal": (
        (TransactionKind.WITHDRAWAL_RESERVE, *sorted(WITHDRAWAL_FINISHES)),
        0,
    ),
    "buy_in": ((TransactionKind.BUY_IN,), 0),
    "cash_out": ((TransactionKind.CASH_OUT,), 0),
    "win": ((TransactionKind.HAND_SETTLEMENT,), 1),
    "lose": ((TransactionKind.HAND_SETTLEMENT,), -1),
    "rakeback": ((TransactionKind.RAKEBACK,), 0),
    "adjustment": ((TransactionKind.ADJUSTMENT,), 0),
    "locked_release": ((TransactionKind.LOCKED_RELEASE,), 0),
}
STATEMENT_KINDS = frozenset(_LABEL_FILTERS)
"""The `kind` values `transactions` filters on."""


def _encode_cursor(entry_id: int) -> str:
    return base64.urlsafe_b64encode(f"e{entry_id}".encode()).decode().rstrip("=")


_CURSOR = re.compile(r"e([1-9][0-9]{0,18})")


def _decode_cursor(cursor: str) -> int:
    """The entry id of a cursor `_encode_cursor` made: a positive bigint, written canonically
    (so a forged one never reaches PostgreSQL as a number out of its range)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as exc:  # not base64, or not UTF-8 (both ValueErrors)
        raise InvalidCursor("the cursor is not one this statement issued") from exc
    found = _CURSOR.fullmatch(raw)
    if found is None or int(found[1]) > MAX_BIGINT:
        raise InvalidCursor("the cursor is not one this statement issued")
    return int(found[1])


_FINISH = aliased(LedgerTransaction)
# Built once (a statement is immutable; each call adds its filters to a copy).
_STATEMENT = (
    select(
        LedgerEntry.id,
        LedgerEntry.amount,
        LedgerEntry.balance_after,
        LedgerAccount.kind,
        LedgerAccount.table_id,
        LedgerTransaction.id,
        LedgerTransaction.kind,
        LedgerTransaction.metadata_,
        LedgerTransaction.created_at,
        _FINISH.created_at,
    )
    .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
    .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
    .outerjoin(
        _FINISH,
        and_(
            LedgerTransaction.kind == TransactionKind.WITHDRAWAL_RESERVE,
            _FINISH.related_id == LedgerTransaction.id,
            _FINISH.kind.in_([str(k) for k in WITHDRAWAL_FINISHES]),
        ),
    )
    .order_by(LedgerEntry.id.desc())
)
# A player's statement from the newest line, and before a cursor's line (the hot pages:
# built once, so a request neither builds a statement nor computes its cache key).
_MY_STATEMENT = _STATEMENT.where(LedgerEntry.user_id == bindparam("user_id")).limit(
    bindparam("limit")
)
_MY_STATEMENT_BEFORE = _MY_STATEMENT.where(LedgerEntry.id < bindparam("before"))


async def transactions(
    session: ColumnReader,
    user_id: int,
    *,
    cursor: str | None = None,
    limit: int = 50,
    kind: str | None = None,
) -> StatementPage:
    """A player's statement, newest first, by keyset pagination (`next_cursor`).

    Args:
        kind: only lines of this SPEC kind (see `STATEMENT_KINDS`).
        limit: 1–200 lines.
    """
    if not 1 <= limit <= 200:
        raise InvalidLedgerRequest("limit must be between 1 and 200")
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    query = _MY_STATEMENT
    if cursor is not None:
        params["before"] = _decode_cursor(cursor)
        query = _MY_STATEMENT_BEFORE
    if kind is not None:
        if kind not in _LABEL_FILTERS:
            raise InvalidLedgerRequest(f"kind must be one of {sorted(_LABEL_FILTERS)}")
        kinds, sign = _LABEL_FILTERS[kind]
        query = query.where(LedgerTransaction.kind.in_([str(k) for k in kinds]))
        if sign:
            query = query.where(
                LedgerAccount.kind == AccountKind.SEAT,
                LedgerEntry.amount > 0 if sign > 0 else LedgerEntry.amount < 0,
            )
    rows = (await session.execute(query, params)).all()
    items = []
    for row in rows[:limit]:
        (entry_id, amount, after, account, table_id, tx_id, tx_kind, meta, created, done) = row
        tkind, akind = TransactionKind(tx_kind), AccountKind(account)
        completed = done if tkind is TransactionKind.WITHDRAWAL_RESERVE else created
        items.append(
            StatementLine(
                entry_id=entry_id,
                transaction_id=tx_id,
                kind=entry_label(tkind, akind, amount),
                transaction_kind=tkind,
                account=akind,
                table_id=table_id,
                amount_krw=amount,
                balance_after=after,
                created_at=created,
                completed_at=completed,
                metadata=meta,
            )
        )
    next_cursor = _encode_cursor(items[-1].entry_id) if len(rows) > limit else None
    return StatementPage(items, next_cursor)


@dataclass(frozen=True)
class ConservationReport:
    """The conservation check of one snapshot: its totals and every violation found."""

    totals: conservation.LedgerTotals
    violations: list[conservation.Violation]

    @property
    def ok(self) -> bool:
        return not self.violations


_PLAYER = [str(k) for k in PLAYER_KINDS]


async def conservation_report(session: AsyncSession) -> ConservationReport:
    """Check every conservation rule (`holdem.ledger.conservation`) on one snapshot.

    Must be the first statement of the session's transaction: it makes the transaction
    REPEATABLE READ and read-only, so every sum comes from the same instant.
    """
    await session.execute(text("set transaction isolation level repeatable read, read only"))
    by_kind: dict[str, int] = {
        kind: int(total)
        for kind, total in await session.execute(
            select(LedgerAccount.kind, func.sum(LedgerAccount.balance)).group_by(LedgerAccount.kind)
        )
    }
    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    summed = func.coalesce(sums.c.total, 0)
    mismatches = [
        (int(a), int(b), int(c))
        for a, b, c in await session.execute(
            select(LedgerAccount.id, LedgerAccount.balance, summed)
            .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
            .where(LedgerAccount.balance != summed)
            .order_by(LedgerAccount.id)
        )
    ]
    running = (
        select(
            LedgerEntry.id,
            LedgerEntry.balance_after,
            func.sum(LedgerEntry.amount)
            .over(partition_by=LedgerEntry.account_id, order_by=LedgerEntry.id)
            .label("running"),
        )
    ).subquery()
    running_bad = [
        int(i)
        for (i,) in await session.execute(
            select(running.c.id)
            .where(running.c.running != running.c.balance_after)
            .order_by(running.c.id)
            .limit(1000)
        )
    ]
    entry_sums = (
        select(
            LedgerEntry.transaction_id,
            func.sum(LedgerEntry.amount).label("total"),
            func.count().label("n"),
        )
        .group_by(LedgerEntry.transaction_id)
        .subquery()
    )
    unbalanced = [
        (int(t), int(s or 0))
        for t, s in await session.execute(
            select(LedgerTransaction.id, entry_sums.c.total)
            .outerjoin(entry_sums, entry_sums.c.transaction_id == LedgerTransaction.id)
            .where(
                or_(
                    entry_sums.c.total.is_(None),
                    entry_sums.c.total != 0,
                    entry_sums.c.n < 2,
                )
            )
            .order_by(LedgerTransaction.id)
        )
    ]
    negative = [
        (int(a), int(b))
        for a, b in await session.execute(
            select(LedgerAccount.id, LedgerAccount.balance).where(
                LedgerAccount.kind.in_(_PLAYER), LedgerAccount.balance < 0
            )
        )
    ]
    flows: dict[tuple[str, str], int] = {
        (tk, ak): int(total)
        for tk, ak, total in await session.execute(
            select(LedgerTransaction.kind, LedgerAccount.kind, func.sum(LedgerEntry.amount))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .group_by(LedgerTransaction.kind, LedgerAccount.kind)
        )
    }
    totals = conservation.LedgerTotals(
        sum_of_balances=sum(by_kind.values()),
        player_balances=sum(v for k, v in by_kind.items() if k in _PLAYER),
        player_balances_by_kind={k: v for k, v in by_kind.items() if k in _PLAYER},
        house_balances_by_kind={k: v for k, v in by_kind.items() if k not in _PLAYER},
        credited_deposits=flows.get(("crypto_deposit", "wallet"), 0)
        + flows.get(("crypto_deposit", "locked"), 0),
        paid_withdrawals=-flows.get(("withdrawal_complete", "pending_withdrawal"), 0),
        rake=flows.get(("hand_settlement", "house_rake"), 0),
        rakeback=flows.get(("rakeback", "wallet"), 0),
        adjustments=sum(v for (tk, ak), v in flows.items() if tk == "adjustment" and ak in _PLAYER),
        balance_mismatches=mismatches,
        running_balance_mismatches=running_bad,
        unbalanced_transactions=unbalanced,
        negative_player_accounts=negative,
    )
    return ConservationReport(totals, conservation.violations(totals))


@dataclass(frozen=True)
class AuditReport:
    """The audit chain recomputed from the ledger rows themselves."""

    records: int
    heads: Mapping[int, tuple[int, str]]
    """lane → (last seq, last hash)."""
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_audit_chain(session: AsyncSession, batch: int = 2000) -> AuditReport:
    """Recompute every lane's hash chain from the transactions and entries.

    An edit to an entry or a transaction changes its rebuilt content; an edit to an audit
    record breaks its hash or the next record's link; a deleted record leaves a gap or a
    head that does not match. Also reports transactions that have no audit record. Call it
    first in its transaction (it switches to one REPEATABLE READ snapshot).
    """
    await session.execute(text("set transaction isolation level repeatable read, read only"))
    heads = {
        int(lane): (int(seq), str(hash_))
        for lane, seq, hash_ in await session.execute(
            select(AuditLane.lane, AuditLane.seq, AuditLane.hash).order_by(AuditLane.lane)
        )
    }
    problems: list[str] = []
    count = 0
    for lane, (head_seq, head_hash) in heads.items():
        verifier = LaneVerifier(lane)
        after = 0
        while True:
            records = [
                StoredRecord(r.lane, r.seq, r.transaction_id, r.prev_hash, r.hash, r.content)
                for r in (
                    await session.scalars(
                        select(AuditRecord)
                        .where(AuditRecord.lane == lane, AuditRecord.seq > after)
                        .order_by(AuditRecord.seq)
                        .limit(batch)
                    )
                )
            ]
            if not records:
                break
            rebuilt = await _rebuild_contents(session, [r.transaction_id for r in records])
            for record in records:
                verifier.check(record, rebuilt.get(record.transaction_id))
            count += len(records)
            after = records[-1].seq
        problems += verifier.finish(head_seq, head_hash)
    orphans = await session.scalars(
        select(LedgerTransaction.id)
        .outerjoin(AuditRecord, AuditRecord.transaction_id == LedgerTransaction.id)
        .where(AuditRecord.transaction_id.is_(None))
        .order_by(LedgerTransaction.id)
        .limit(1000)
    )
    problems += [f"transaction {tx_id} has no audit record" for tx_id in orphans]
    session.expunge_all()
    return AuditReport(count, heads, problems)


async def _rebuild_contents(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    entries: dict[int, list[AuditedEntry]] = {}
    for tx_id, account_id, amount, after in await session.execute(
        select(
            LedgerEntry.transaction_id,
            LedgerEntry.account_id,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
        ).where(LedgerEntry.transaction_id.in_(ids))
    ):
        entries.setdefault(tx_id, []).append(AuditedEntry(account_id, amount, after))
    contents: dict[int, str] = {}
    for tx in await session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.kind,
            LedgerTransaction.idempotency_key,
            LedgerTransaction.request_hash,
            LedgerTransaction.created_at,
            LedgerTransaction.user_id,
            LedgerTransaction.table_id,
            LedgerTransaction.hand_id,
            LedgerTransaction.related_id,
            LedgerTransaction.metadata_,
        ).where(LedgerTransaction.id.in_(ids))
    ):
        audited = AuditedTransaction(*tx)
        contents[audited.id] = canonical_content(audited, entries.get(audited.id, []))
    return contents


# --- the service object -------------------------------------------------------------------


class LedgerService:
    """The ledger operations, each in its own database transaction (committed on return).

    Use the module functions instead to post inside a transaction of your own.

    Args:
        sessions: for the views and the operations that read before they post.
        statements: for the operations that are a single post (`Container.statements`).
    """

    def __init__(self, sessions: async_sessionmaker[Any], statements: StatementPool) -> None:
        self._sessions = sessions
        self._standalone = cast(AsyncSession, _Standalone(statements))

    async def _single(self, operation: Any, **kwargs: Any) -> Any:
        return await operation(self._standalone, **kwargs)

    async def _run(self, operation: Any, **kwargs: Any) -> Any:
        async with self._sessions() as session, session.begin():
            return await operation(session, **kwargs)

    async def credit_deposit(self, **kwargs: Any) -> Posted:
        """See `credit_deposit`."""
        posted: Posted = await self._single(credit_deposit, **kwargs)
        return posted

    async def reserve_withdrawal(self, **kwargs: Any) -> Posted:
        """See `reserve_withdrawal`."""
        posted: Posted = await self._single(reserve_withdrawal, **kwargs)
        return posted

    async def complete_withdrawal(self, **kwargs: Any) -> Posted:
        """See `complete_withdrawal`."""
        posted: Posted = await self._run(complete_withdrawal, **kwargs)
        return posted

    async def return_withdrawal(self, **kwargs: Any) -> Posted:
        """See `return_withdrawal`."""
        posted: Posted = await self._run(return_withdrawal, **kwargs)
        return posted

    async def release_locked(self, **kwargs: Any) -> Posted:
        """See `release_locked`."""
        posted: Posted = await self._single(release_locked, **kwargs)
        return posted

    async def buy_in(self, **kwargs: Any) -> Posted:
        """See `buy_in`."""
        posted: Posted = await self._single(buy_in, **kwargs)
        return posted

    async def cash_out(self, **kwargs: Any) -> Posted:
        """See `cash_out`."""
        posted: Posted = await self._single(cash_out, **kwargs)
        return posted

    async def settle_hand(self, **kwargs: Any) -> Posted:
        """See `settle_hand`."""
        posted: Posted = await self._single(settle_hand, **kwargs)
        return posted

    async def credit_rakeback(self, **kwargs: Any) -> Posted:
        """See `credit_rakeback`."""
        posted: Posted = await self._single(credit_rakeback, **kwargs)
        return posted

    async def adjust(self, **kwargs: Any) -> Posted:
        """See `adjust`."""
        posted: Posted = await self._single(adjust, **kwargs)
        return posted

    async def balances(self, user_id: int) -> Balances:
        """See `balances`."""
        async with self._sessions() as session:
            return await balances(session, user_id)

    async def transactions(
        self, user_id: int, *, cursor: str | None = None, limit: int = 50, kind: str | None = None
    ) -> StatementPage:
        """See `transactions`."""
        async with self._sessions() as session:
            return await transactions(session, user_id, cursor=cursor, limit=limit, kind=kind)

    async def conservation_report(self) -> ConservationReport:
        """See `conservation_report`."""
        async with self._sessions() as session, session.begin():
            return await conservation_report(session)

    async def verify_audit_chain(self) -> AuditReport:
        """See `verify_audit_chain`."""
        async with self._sessions() as session, session.begin():
            return await verify_audit_chain(session)
