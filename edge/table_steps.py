"""What a table's owner does in PostgreSQL for its session: the money steps, and the table
rebuilt from the ledger when Redis has no checkpoint of it.

Each step is one transaction of `holdem.services.table_runtime.TableMoney`, idempotent by
its key (buy-in, top-up, cash-out) or by the hand's number (settlement), so the next owner
may take again a step whose outcome a dead owner never checkpointed.
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction

from edge.metrics import Metrics
from holdem.config import ProtectionSettings
from holdem.engine.blinds import SeatStatus
from holdem.engine.rake import RakeRule
from holdem.engine.table import Table, TableConfig
from holdem.ports.table_money import TableRow
from holdem.services.errors import NotFound, ServiceError
from holdem.services.table_runtime import TableMoney
from holdem.session.commands import Done, Failed, Outcome, PlayerRules
from holdem.session.effects import BuyIn, CashOut, MoneyStep, Settle, TopUpChips

__all__ = ["MoneySteps", "table_from_ledger"]

log = logging.getLogger("edge.tables")


class MoneySteps:
    """Takes one table's money steps and answers each with its outcome."""

    def __init__(
        self, money: TableMoney, table_id: int, guard: ProtectionSettings, metrics: Metrics
    ) -> None:
        self._money = money
        self._table_id = table_id
        self._guard = guard
        self._metrics = metrics
        self.closed_row: TableRow | None = None
        """The table's row as `FinishClosing` left it (for the lobby's announcement)."""

    async def take(self, step: MoneyStep) -> Outcome:
        """`Done`, or `Failed` with the refusal's code (None: PostgreSQL failed); never
        raises but for a cancellation."""
        money, table_id, started = self._money, self._table_id, time.perf_counter()
        try:
            if isinstance(step, BuyIn):
                # The player's session rules are read first: nothing has moved if that fails.
                guard = self._guard
                rules = await money.table_rules(
                    step.user, guard.reality_check_minutes, guard.session_break_s
                )
                await money.sit(table_id, step.seat, step.user, step.amount, key=step.key)
                return Done(
                    PlayerRules(rules.session_minutes, rules.reality_check_minutes, rules.played_s)
                )
            if isinstance(step, TopUpChips):
                await money.top_up(table_id, step.user, step.amount, key=step.key)
            elif isinstance(step, CashOut):
                await self._cash_out(step)
            elif isinstance(step, Settle):
                await money.settle(step.settlement)
                self._metrics.postgres_latency.observe(time.perf_counter() - started)
            else:
                # The SQL repository's row (the lobby's summary still names the ORM class).
                self.closed_row = await money.finish_closing(table_id)
        except ServiceError as exc:
            return Failed(exc.code, str(exc))
        except Exception:
            if isinstance(step, Settle):
                self._metrics.settlement_failures.inc()
            log.warning("%s deferred (PostgreSQL unavailable?)", type(step).__name__, exc_info=True)
            return Failed(None, "the command failed")
        return Done()

    async def _cash_out(self, step: CashOut) -> None:
        try:
            await self._money.cash_out(
                self._table_id, step.seat, step.user, step.amount, key=step.key
            )
        except NotFound:
            # The seat row is closed already, and its cash-out committed with it: a new owner
            # repeating a cash-out its checkpoint did not record yet.
            log.info("seat already cashed out", extra={"seat": step.seat})


async def table_from_ledger(money: TableMoney, table_id: int, row: TableRow) -> Table:
    """The table PostgreSQL knows (no checkpoint: a brand new table, or Redis lost the state).

    PostgreSQL holds every seat's balance as of the last settled hand, so a hand in progress
    is void and every stack is back to its start-of-hand value.
    """
    config = TableConfig(
        seats=row.max_seats,
        small_blind=row.small_blind,
        big_blind=row.big_blind,
        min_buy_in=row.min_buy_in,
        max_buy_in=row.max_buy_in,
        rake=RakeRule(Fraction(row.rake_rate_bps, 10_000), row.rake_cap),
    )
    table = Table(config)
    seated = await money.open_seats(table_id)
    for seat_no, user_id, balance in seated:
        if balance > 0:
            _sit_restored(table, seat_no, str(user_id), balance)
    # A restored table skips one hand number: the voided hand's number is never reused, so a
    # click meant for the voided hand cannot act in the next one.
    last_hand = await money.last_hand_number(table_id)
    table.hand_count = last_hand + 1 if seated else last_hand
    return table


def _sit_restored(table: Table, seat: int, player: str, stack: int) -> None:
    """Seat a player whose chips are already on the table (restored from the ledger)."""
    table.players[seat] = player
    table.stacks[seat] = stack
    table.status[seat] = SeatStatus.ACTIVE
    table.owes_big[seat] = False
    table.owes_small[seat] = False
