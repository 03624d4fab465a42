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
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.config import GameSettings, IntegritySettings
from holdem.ports.table_money import AtOnce, Settlements, TableRow
from holdem.ports.transaction import Transaction, Transactions
from holdem.services import integrity, ledger, protection, rathole
from holdem.services.errors import NotFound, TableNotOpen
from holdem.services.ledger.posting import Standalone
from holdem.session.settlement import HandSettlement

__all__ = ["RUN_STATUSES", "HandSettlement", "TableMoney"]

RUN_STATUSES = ("open", "closing")
"""The statuses of a table a table server runs: a closing one until its players are out."""


class TableMoney:
    """Seat money and settlement for the table servers (each call: one transaction).

    Every buy-in and top-up passes the player's protection (`protection.check_buy_in`:
    no chips for an excluded player, none over a loss limit), and every buy-in the rathole
    rule (`rathole.check_buy_in`, with `game`'s window), on whichever server runs the table,
    and a seat the integrity check (`integrity.check_sit`, when `integrity` blocks shared
    identities). `clock` is the time those rules are read at.

    Args:
        transactions: Begins the transaction of each call but the settlement's
            (`Container.transaction`).
        settlements: Settles a finished hand (`Container.settlements`: one statement on a
            raw connection, the hot path of every finished hand).
    """

    def __init__(
        self,
        transactions: Transactions,
        settlements: Settlements,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        integrity: IntegritySettings | None = None,
        game: GameSettings | None = None,
    ) -> None:
        self._transactions = transactions
        self._settlements = settlements
        self._clock = clock
        self._integrity = integrity or IntegritySettings()
        self._game = game or GameSettings()

    async def table_rules(
        self, user_id: int, default_check_minutes: int, session_break_s: int
    ) -> protection.TableRules:
        """The player's session limit, reality-check interval and session so far."""
        async with self._transactions() as tx:
            return await protection.table_rules(
                tx,
                user_id,
                default_check_minutes,
                self._clock(),
                timedelta(seconds=session_break_s),
            )

    async def _buy_chips(
        self, tx: Transaction, key: str, user_id: int, table_id: int, amount: int
    ) -> ledger.Posted:
        """The buy-in's ledger post, then the protection check in the same transaction: a
        refusal rolls the post back. Checked after the post so that a replay (a new owner
        applying again a buy-in that committed) is never refused by its own chips."""
        posted = await ledger.buy_in(
            tx.session, key=key, user_id=user_id, table_id=table_id, amount=amount
        )
        if not posted.replayed:
            await protection.check_buy_in(tx, user_id, amount, self._clock(), posted=True)
        return posted

    async def table_row(self, table_id: int) -> TableRow:
        """The table's stakes, limits and status; raises `TableNotOpen` unless it is open or
        closing (an operator closed it while players sat: it is run until they are out)."""
        async with self._transactions() as tx:
            row = await tx.table_records.table(table_id)
        if row is None or row.status not in RUN_STATUSES:
            raise TableNotOpen(f"table {table_id} is not open")
        return row

    async def finish_closing(self, table_id: int) -> TableRow | None:
        """Mark a closing table closed (its players are out); None unless it was closing."""
        async with self._transactions() as tx:
            row = await tx.table_records.table(table_id, for_update=True)
            if row is None or row.status != "closing":
                return None
            row.status = "closed"
            row.closed_at = datetime.now(UTC)
        return row

    async def open_seats(self, table_id: int) -> list[tuple[int, int, int]]:
        """``(seat_no, user_id, seat balance)`` of everybody sitting at the table."""
        async with self._transactions() as tx:
            found = []
            for seat_no, user_id in await tx.table_records.open_seats(table_id):
                held = await ledger.balances(tx.ledger, user_id)
                found.append((seat_no, user_id, held.seats.get(table_id, 0)))
        return found

    async def fence_floor(self, table_id: int) -> int:
        """The highest fencing token that settled a hand at the table (0: none yet)."""
        async with self._transactions() as tx:
            return await tx.table_records.fence_floor(table_id)

    async def last_hand_number(self, table_id: int) -> int:
        """The highest hand number settled at the table, hot or archived (0: none yet)."""
        async with self._transactions() as tx:
            return await tx.table_records.last_hand_number(table_id)

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
        async with self._transactions() as tx:
            posted = await self._buy_chips(tx, key, user_id, table_id, amount)
            if posted.replayed:
                return
            await integrity.check_sit(tx, self._integrity, table_id, user_id, self._clock())
            table = await tx.table_records.table(table_id)
            assert table is not None  # the post above names it
            game = self._game
            await rathole.check_buy_in(
                tx,
                user_id,
                table,
                amount,
                self._clock(),
                timedelta(seconds=game.rathole_window_s),
                capped_at_max=game.rathole_capped_at_max_buy_in,
            )
            await tx.table_records.add_seat(table_id, seat_no, user_id)

    async def top_up(self, table_id: int, user_id: int, amount: int, *, key: str) -> None:
        """Move more chips from the wallet to the seat (same checks as a buy-in)."""
        async with self._transactions() as tx:
            await self._buy_chips(tx, key, user_id, table_id, amount)

    async def cash_out(
        self, table_id: int, seat_no: int, user_id: int, amount: int, *, key: str
    ) -> None:
        """Move the stack back to the wallet and close the seat row."""
        async with self._transactions() as tx:
            if not await tx.table_records.close_seat(table_id, user_id, self._clock(), amount):
                raise NotFound(f"user {user_id} has no open seat at table {table_id}")
            if amount > 0:
                await ledger.cash_out(
                    tx.session, key=key, user_id=user_id, table_id=table_id, amount=amount
                )

    async def settle(self, settlement: HandSettlement) -> None:
        """The finished hand in one transaction: ledger settle-hand + hand, events, players.

        Idempotent: a hand already written (same table and hand number, hot or archived) is
        left as it is.
        One round trip (`Settlements.at_once`: one statement writes the hand's rows and posts
        it). When the ledger refuses the post, that statement has changed nothing, and the
        settlement runs again as a transaction of its own (``BEGIN``, the hand's rows, the
        ledger's ``ledger_post``, ``COMMIT``), which raises the refusal as the ledger's error.

        Raises:
            InvalidLedgerRequest: the settlement breaks a money rule; nothing was sent.
            StaleFencingToken, InsufficientFunds, IdempotencyKeyReused: the ledger refused;
                nothing was written.
        """
        table_id, fence, rake = settlement["table_id"], settlement["fence"], settlement["rake"]
        nets = {p["user_id"]: p["net"] for p in settlement["players"]}
        shares = {p["user_id"]: p["rake_share"] for p in settlement["players"]}
        post = None
        if rake or any(nets.values()):  # else nothing changed hands (e.g. a walk with a dead
            # small blind): the hand is recorded, nothing is posted
            post = ledger.hand_post(
                table_id=table_id, fencing_token=fence, nets=nets, rake=rake, rake_shares=shares
            )
        if await self._settlements.at_once(settlement, post) is not AtOnce.REFUSED:
            return
        async with self._settlements.transaction() as tx:
            hand_id = await tx.add_hand_rows(settlement)
            if hand_id is None:
                return  # written meanwhile (by another owner), or archived
            await ledger.settle_hand(
                # The ledger posts through the settlement's own transaction.
                cast(AsyncSession, Standalone(tx)),
                table_id=table_id,
                hand_id=hand_id,
                fencing_token=fence,
                nets=nets,
                rake=rake,
                rake_shares=shares,
            )
