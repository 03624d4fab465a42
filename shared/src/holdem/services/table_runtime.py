"""The use cases a table's owner calls: seating money through the ledger, and write-behind
settlement of a finished hand.

Money moves only through the ledger (`holdem.services.ledger`): buy-in and top-up move won
from the wallet to the player's seat account at the table, cash-out moves the seat balance
back, and a finished hand is settled by the ledger's settle-hand, which checks the table
lease's fencing token so a deposed owner can never settle. `TableMoney.settle` writes the
ledger's settle-hand, the ``hands`` row, its ``hand_events`` and ``hand_players`` in ONE
PostgreSQL transaction; it is idempotent (keyed by table and hand number), so the owner may
retry it from its Redis outbox until PostgreSQL answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from holdem.adapters.database import violated_constraint
from holdem.adapters.orm.hands import Hand as HandRow
from holdem.adapters.orm.ledger import LedgerTableFence
from holdem.adapters.orm.tables import PokerTable, Seat
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.config import GameSettings, IntegritySettings
from holdem.engine.errors import SeatTakenError
from holdem.services import integrity, ledger, protection, rathole
from holdem.services.errors import NotFound, TableNotOpen
from holdem.session.settlement import HandSettlement

__all__ = ["RUN_STATUSES", "HandSettlement", "TableMoney"]

RUN_STATUSES = ("open", "closing")
_OPEN_SEAT_INDEXES = ("uq_seats_table_seat_open", "uq_seats_table_user_open")
"""The statuses of a table a table server runs: a closing one until its players are out."""


class TableMoney:
    """Seat money and settlement for the table servers (each call: one transaction).

    Every buy-in and top-up passes the player's protection (`protection.check_buy_in`:
    no chips for an excluded player, none over a loss limit), and every buy-in the rathole
    rule (`rathole.check_buy_in`, with `game`'s window), on whichever server runs the table,
    and a seat the integrity check (`integrity.check_sit`, when `integrity` blocks shared
    identities). `clock` is the time those rules are read at.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        integrity: IntegritySettings | None = None,
        game: GameSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._integrity = integrity or IntegritySettings()
        self._game = game or GameSettings()

    async def table_rules(
        self, user_id: int, default_check_minutes: int, session_break_s: int
    ) -> protection.TableRules:
        """The player's session limit, reality-check interval and session so far."""
        async with self._sessions() as session:
            return await protection.table_rules(
                SqlTransaction(session),
                user_id,
                default_check_minutes,
                self._clock(),
                timedelta(seconds=session_break_s),
            )

    async def _buy_chips(
        self, session: AsyncSession, key: str, user_id: int, table_id: int, amount: int
    ) -> ledger.Posted:
        """The buy-in's ledger post, then the protection check in the same transaction: a
        refusal rolls the post back. Checked after the post so that a replay (a new owner
        applying again a buy-in that committed) is never refused by its own chips."""
        posted = await ledger.buy_in(
            session, key=key, user_id=user_id, table_id=table_id, amount=amount
        )
        if not posted.replayed:
            await protection.check_buy_in(
                SqlTransaction(session), user_id, amount, self._clock(), posted=True
            )
        return posted

    async def table_row(self, table_id: int) -> PokerTable:
        """The table's stakes, limits and status; raises `TableNotOpen` unless it is open or
        closing (an operator closed it while players sat: it is run until they are out)."""
        async with self._sessions() as session:
            row = await session.get(PokerTable, table_id)
        if row is None or row.status not in RUN_STATUSES:
            raise TableNotOpen(f"table {table_id} is not open")
        return row

    async def finish_closing(self, table_id: int) -> PokerTable | None:
        """Mark a closing table closed (its players are out); None unless it was closing."""
        async with self._sessions() as session, session.begin():
            row = await session.get(PokerTable, table_id, with_for_update=True)
            if row is None or row.status != "closing":
                return None
            row.status = "closed"
            row.closed_at = datetime.now(UTC)
        return row

    async def open_seats(self, table_id: int) -> list[tuple[int, int, int]]:
        """``(seat_no, user_id, seat balance)`` of everybody sitting at the table."""
        async with self._sessions() as session:
            seats = (
                await session.execute(
                    select(Seat.seat_no, Seat.user_id)
                    .where(Seat.table_id == table_id, Seat.left_at.is_(None))
                    .order_by(Seat.seat_no)
                )
            ).all()
            found = []
            for seat_no, user_id in seats:
                held = await ledger.balances(session, user_id)
                found.append((seat_no, user_id, held.seats.get(table_id, 0)))
        return found

    async def fence_floor(self, table_id: int) -> int:
        """The highest fencing token that settled a hand at the table (0: none yet)."""
        async with self._sessions() as session:
            token = await session.scalar(
                select(LedgerTableFence.token).where(LedgerTableFence.table_id == table_id)
            )
        return int(token or 0)

    async def last_hand_number(self, table_id: int) -> int:
        async with self._sessions() as session:
            number = await session.scalar(
                select(func.max(HandRow.hand_no)).where(HandRow.table_id == table_id)
            )
        return int(number or 0)

    async def sit(
        self, table_id: int, seat_no: int, user_id: int, amount: int, *, key: str
    ) -> None:
        """Move the buy-in from the wallet to the seat account and record the seat.

        Idempotent by `key` (the sit command's): a new owner applying again a sit that had
        committed (its old owner lost the lease before checkpointing it) finds the buy-in
        replayed and the seat recorded with it, and changes nothing.

        Raises:
            SeatTakenError: PostgreSQL has this seat, or another seat of this player, open at
                the table; nothing changed.
            SelfExcluded, LossLimitReached: the player's protection refuses; nothing changed.
            SharedIdentity: the operator blocks shared identities at a table and a seated
                player shares this one's address or device; nothing changed.
            RatholeMinimum: the player left these stakes a short while ago with more than
                `amount`; nothing changed.
        """
        async with self._sessions() as session, session.begin():
            posted = await self._buy_chips(session, key, user_id, table_id, amount)
            if posted.replayed:
                return
            await integrity.check_sit(session, self._integrity, table_id, user_id, self._clock())
            table = await session.get(PokerTable, table_id)
            assert table is not None  # the post above names it
            game = self._game
            await rathole.check_buy_in(
                session,
                user_id,
                table,
                amount,
                self._clock(),
                timedelta(seconds=game.rathole_window_s),
                capped_at_max=game.rathole_capped_at_max_buy_in,
            )
            session.add(Seat(table_id=table_id, seat_no=seat_no, user_id=user_id))
            try:
                await session.flush()
            except IntegrityError as exc:
                if violated_constraint(exc) not in _OPEN_SEAT_INDEXES:
                    raise  # not a seat conflict: a bug, with nothing changed
                raise SeatTakenError(
                    f"seat {seat_no} or user {user_id} is already seated at table {table_id}"
                ) from exc

    async def top_up(self, table_id: int, user_id: int, amount: int, *, key: str) -> None:
        """Move more chips from the wallet to the seat (same checks as a buy-in)."""
        async with self._sessions() as session, session.begin():
            await self._buy_chips(session, key, user_id, table_id, amount)

    async def cash_out(
        self, table_id: int, seat_no: int, user_id: int, amount: int, *, key: str
    ) -> None:
        """Move the stack back to the wallet and close the seat row."""
        async with self._sessions() as session, session.begin():
            closed = await session.execute(
                update(Seat)
                .where(
                    Seat.table_id == table_id,
                    Seat.user_id == user_id,
                    Seat.left_at.is_(None),
                )
                .values(left_at=self._clock(), left_with=amount)
            )
            if closed.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"user {user_id} has no open seat at table {table_id}")
            if amount > 0:
                await ledger.cash_out(
                    session, key=key, user_id=user_id, table_id=table_id, amount=amount
                )

    async def settle(self, settlement: HandSettlement) -> None:
        """The finished hand in one transaction: ledger settle-hand + hand, events, players.

        Idempotent: a hand already written (same table and hand number) is left as it is.
        Three statements: the hand's rows (one statement), the ledger's ``ledger_post`` and
        the commit.
        """
        async with self._sessions() as session, session.begin():
            hand_id = await add_hand_rows(session, settlement)
            if hand_id is None:
                return  # written before (a retry after a lost answer, or a new owner's)
            nets = {p["user_id"]: p["net"] for p in settlement["players"]}
            if not settlement["rake"] and not any(nets.values()):
                return  # nothing changed hands (e.g. a walk with a dead small blind)
            await ledger.settle_hand(
                session,
                table_id=settlement["table_id"],
                hand_id=hand_id,
                fencing_token=settlement["fence"],
                nets=nets,
                rake=settlement["rake"],
                rake_shares={p["user_id"]: p["rake_share"] for p in settlement["players"]},
            )


# One statement for a finished hand's rows: the hand (nothing when the table already has
# that hand number), its events in order and each player's part, from two JSON arrays.
# Per hand it replaces an existence check, the hand's INSERT and two bulk inserts (one
# round trip instead of four, and none of the ORM's per-row work).
_HAND_ROWS = text(
    """
    with hand as (
      insert into hands (table_id, hand_no, started_at, ended_at, small_blind, big_blind,
                         button_seat, board, total_pot, rake, deck_commitment, deck_seed,
                         result, chat)
      values (:table_id, :hand_no, :started_at, :ended_at, :small_blind, :big_blind,
              :button_seat, :board, :total_pot, :rake, :deck_commitment, :deck_seed,
              cast(:result as jsonb), cast(:chat as jsonb))
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
    )
    select id from hand
    """
)


async def add_hand_rows(session: AsyncSession, settlement: HandSettlement) -> int | None:
    """Add a finished hand's rows (the hand, its events in order, each player's part) in one
    statement; returns the hand's id, or None when the table already has that hand number
    (nothing is written then)."""
    started = datetime.fromtimestamp(settlement["started_at"], UTC)
    hand_id = await session.scalar(
        _HAND_ROWS,
        {
            "table_id": settlement["table_id"],
            "hand_no": settlement["hand_no"],
            "started_at": started,
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
        },
    )
    return None if hand_id is None else int(hand_id)
