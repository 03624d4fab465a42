"""The table servers' repositories (`holdem.ports.table_money`): `SqlTableRecords` over a
SQLAlchemy session, and the settlement on raw psycopg connections (`RawSettlements`: one
statement per hand, or a transaction).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.database import violated_constraint
from holdem.adapters.orm.economy import ArchivedHand
from holdem.adapters.orm.hands import Hand
from holdem.adapters.orm.ledger import LedgerTableFence
from holdem.adapters.orm.tables import PokerTable, Seat
from holdem.adapters.statement_pool import RawTransaction, StatementPool
from holdem.engine.errors import SeatTakenError
from holdem.ledger.transactions import TransactionKind
from holdem.ports.table_money import (
    AtOnce,
    Departure,
    HandPost,
    SettlementTransaction,
    TableRow,
)
from holdem.session.settlement import HandSettlement

__all__ = ["LEDGER_REFUSED_SQLSTATE", "RawSettlement", "RawSettlements", "SqlTableRecords"]

LEDGER_REFUSED_SQLSTATE = "LG001"
"""The SQLSTATE ``ledger_require_accepted`` raises when ``ledger_post`` refused a post
(migration 0014): how `RawSettlements.at_once` tells a refusal from any other error."""

_OPEN_SEAT_INDEXES = ("uq_seats_table_seat_open", "uq_seats_table_user_open")

# A finished hand's rows in one statement: the hand (nothing when the table already has that
# hand number, hot or archived), its events in order and each player's part, from two JSON
# arrays. Per hand it replaces an existence check, the hand's INSERT and two bulk inserts (one
# round trip instead of four, and none of the ORM's per-row work). The archiver deletes a
# hand's hot rows after 7 days, keeping its number in `archived_hands`: `hand_archived`
# (migration 0014) finds it there, so an owner's outbox retrying the hand after that writes
# nothing, and posts nothing under the new id the hand would have got.
_HAND_ROWS_CTES = """
    with hand as (
      insert into hands (table_id, hand_no, started_at, ended_at, small_blind, big_blind,
                         button_seat, board, total_pot, rake, deck_commitment, deck_seed,
                         result, chat)
      select :table_id, :hand_no, :started_at, :ended_at, :small_blind, :big_blind,
             :button_seat, :board, :total_pot, :rake, :deck_commitment, :deck_seed,
             cast(:result as jsonb), cast(:chat as jsonb)
      where not hand_archived(cast(:table_id as bigint), cast(:hand_no as bigint))
      on conflict (table_id, hand_no) do nothing
      returning id
    ), events as (
      insert into hand_events (hand_id, seq_no, type, seat_no, payload)
      select hand.id, e.n - 1, e.payload ->> 'event', (e.payload ->> 'seat')::smallint,
             e.payload
      from hand, jsonb_array_elements(cast(:events as jsonb)) with ordinality as e(payload, n)
    ), players as (
      insert into hand_players (hand_id, seat_no, user_id, started_at, hole_cards, shown,
                                net, rake_share)
      select hand.id, p.seat, p.user_id, :started_at, p.hole_cards, p.shown, p.net,
             p.rake_share
      from hand, jsonb_to_recordset(cast(:players as jsonb))
        as p(seat smallint, user_id bigint, hole_cards text, shown boolean, net bigint,
             rake_share bigint)
    )"""

_HAND_ROWS = text(_HAND_ROWS_CTES + "\n    select id from hand")

# The whole settlement in one statement, its own transaction (one round trip instead of
# BEGIN, the hand's rows, ledger_post and COMMIT): the hand's rows as above, then, only when
# the hand was inserted and something changed hands, ledger_post with the id the hand just
# got, in the key and in the request hash as `holdem.services.ledger.settle_hand` makes them
# (`HandPost`: the texts around the id). ledger_post answers a refusal instead of raising,
# and may have stored a fence advance by then: `ledger_require_accepted` (migration 0014)
# raises `LEDGER_REFUSED_SQLSTATE` unless the post was accepted, so a refusal fails the
# statement and nothing of it is committed.
_SETTLE_AT_ONCE = text(
    _HAND_ROWS_CTES
    + """, posted as materialized (
      select ledger_post(
               cast(:kind as text),
               cast(:key_before as text) || hand.id::text || cast(:key_after as text),
               encode(sha256(convert_to(cast(:request_before as text) || hand.id::text
                                        || cast(:request_after as text), 'UTF8')), 'hex'),
               cast(:metadata as text), null::bigint, cast(:table_id as bigint), hand.id,
               null::bigint, cast(:table_id as bigint), cast(:fencing_token as bigint),
               cast(:legs as jsonb)) as answer
      from hand
      where cast(:post as boolean)
    )
    select (select id from hand) as hand_id,
           (select ledger_require_accepted(answer) ->> 'status' from posted) as status
    """
)
_HAND_SETTLEMENT = str(TransactionKind.HAND_SETTLEMENT)


def _hand_rows_params(settlement: HandSettlement) -> dict[str, Any]:
    """`_HAND_ROWS`'s parameters for a finished hand."""
    return {
        "table_id": settlement["table_id"],
        "hand_no": settlement["hand_no"],
        "started_at": datetime.fromtimestamp(settlement["started_at"], UTC),
        "ended_at": datetime.fromtimestamp(settlement["ended_at"], UTC),
        "small_blind": settlement["small_blind"],
        "big_blind": settlement["big_blind"],
        "button_seat": settlement["button"],
        "board": settlement["board"],
        "total_pot": settlement["total_pot"],
        "rake": settlement["rake"],
        "deck_commitment": settlement["commitment"],
        "deck_seed": settlement["seed"],
        "result": orjson.dumps(settlement["result"]).decode(),
        "events": orjson.dumps(settlement["events"]).decode(),
        # A settlement from a server of the previous version carries no chat.
        "chat": orjson.dumps(settlement.get("chat") or []).decode(),
        "players": orjson.dumps(settlement["players"]).decode(),
    }


class SqlTableRecords:
    """`holdem.ports.table_money.TableRecords` over one session in a transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def table(self, table_id: int, *, for_update: bool = False) -> TableRow | None:
        return await self._session.get(PokerTable, table_id, with_for_update=for_update)

    async def open_seats(self, table_id: int) -> list[tuple[int, int]]:
        seats = await self._session.execute(
            select(Seat.seat_no, Seat.user_id)
            .where(Seat.table_id == table_id, Seat.left_at.is_(None))
            .order_by(Seat.seat_no)
        )
        return [(seat_no, user_id) for seat_no, user_id in seats]

    async def add_seat(self, table_id: int, seat_no: int, user_id: int) -> None:
        self._session.add(Seat(table_id=table_id, seat_no=seat_no, user_id=user_id))
        try:
            await self._session.flush()
        except IntegrityError as exc:
            if violated_constraint(exc) not in _OPEN_SEAT_INDEXES:
                raise  # not a seat conflict: a bug, with nothing changed
            raise SeatTakenError(
                f"seat {seat_no} or user {user_id} is already seated at table {table_id}"
            ) from exc

    async def close_seat(
        self, table_id: int, user_id: int, left_at: datetime, left_with: int
    ) -> bool:
        closed = await self._session.execute(
            update(Seat)
            .where(Seat.table_id == table_id, Seat.user_id == user_id, Seat.left_at.is_(None))
            .values(left_at=left_at, left_with=left_with)
        )
        return bool(closed.rowcount)  # type: ignore[attr-defined]

    async def last_departure(
        self, user_id: int, small_blind: int, big_blind: int, since: datetime
    ) -> Departure | None:
        left = (
            await self._session.execute(
                select(Seat.left_with, Seat.left_at)
                .join(PokerTable, PokerTable.id == Seat.table_id)
                .where(
                    Seat.user_id == user_id,
                    Seat.left_at > since,
                    PokerTable.small_blind == small_blind,
                    PokerTable.big_blind == big_blind,
                )
                .order_by(Seat.left_at.desc())
                .limit(1)
            )
        ).first()
        if left is None or left.left_at is None:
            return None
        return Departure(left.left_at, left.left_with)

    async def fence_floor(self, table_id: int) -> int:
        token = await self._session.scalar(
            select(LedgerTableFence.token).where(LedgerTableFence.table_id == table_id)
        )
        return int(token or 0)

    async def last_hand_number(self, table_id: int) -> int:
        hot = select(func.max(Hand.hand_no)).where(Hand.table_id == table_id)
        archived = select(func.max(ArchivedHand.hand_no)).where(ArchivedHand.table_id == table_id)
        number = await self._session.scalar(
            select(func.greatest(hot.scalar_subquery(), archived.scalar_subquery()))
        )
        return int(number or 0)

    async def add_hand_rows(self, settlement: HandSettlement) -> int | None:
        hand_id = await self._session.scalar(_HAND_ROWS, _hand_rows_params(settlement))
        return None if hand_id is None else int(hand_id)


class RawSettlement:
    """`holdem.ports.table_money.SettlementTransaction` on a raw psycopg connection.

    The same statements as through a session (`_HAND_ROWS`, then the ledger's
    ``ledger_post``), in one transaction, without SQLAlchemy's per-statement work: at full
    speed a table server spent ≈ 11 % of its samples in SQLAlchemy's asyncio layer settling.
    """

    __slots__ = ("_tx",)

    def __init__(self, tx: RawTransaction) -> None:
        self._tx = tx

    async def add_hand_rows(self, settlement: HandSettlement) -> int | None:
        rows = (await self._tx.execute(_HAND_ROWS, _hand_rows_params(settlement))).all()
        return int(rows[0].id) if rows else None

    async def run_idempotent(self, query: str, params: Sequence[Any]) -> tuple[Any, ...]:
        row = await self._tx.first(query, params)
        assert row is not None, "the ledger's statements return a row"
        return row


def _at_once_params(settlement: HandSettlement, post: HandPost | None) -> dict[str, Any]:
    """`_SETTLE_AT_ONCE`'s parameters."""
    params = _hand_rows_params(settlement)
    if post is None:  # nothing changed hands: the statement posts nothing, reads none of these
        return params | dict.fromkeys(_POST_PARAMETERS) | {"post": False}
    assert post.table_id == settlement["table_id"], "a table's post, at that table"
    return params | {
        "post": True,
        "kind": _HAND_SETTLEMENT,
        "key_before": post.key.before,
        "key_after": post.key.after,
        "request_before": post.request.before,
        "request_after": post.request.after,
        "metadata": post.metadata,
        "fencing_token": post.fencing_token,
        "legs": post.legs,
    }


_POST_PARAMETERS = (
    "kind",
    "key_before",
    "key_after",
    "request_before",
    "request_after",
    "metadata",
    "fencing_token",
    "legs",
)


class RawSettlements:
    """`holdem.ports.table_money.Settlements` on `pool`'s raw connections: one statement per
    hand, or a transaction (committed when its block ends)."""

    def __init__(self, pool: StatementPool) -> None:
        self._pool = pool

    async def at_once(self, settlement: HandSettlement, post: HandPost | None) -> AtOnce:
        try:
            hand_id, _ = await self._pool.run_idempotent_statement(
                _SETTLE_AT_ONCE, _at_once_params(settlement, post)
            )
        except psycopg.DatabaseError as error:
            if error.sqlstate != LEDGER_REFUSED_SQLSTATE:
                raise
            return AtOnce.REFUSED  # the statement's own check: nothing was committed
        return AtOnce.ALREADY_WRITTEN if hand_id is None else AtOnce.WRITTEN

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SettlementTransaction]:
        async with self._pool.transaction() as tx:
            yield RawSettlement(tx)
