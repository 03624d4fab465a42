"""The one task per owned table: `TableActor`, the I/O loop around the table's session.

It takes the commands of the table's relay stream in order from its mailbox (one reader per
server reads every owned table's stream, see `edge.inbox`; acts from this server's own
sockets come straight in), applies them to the table's `holdem.session.TableSession` (the
game-time rules, pure), carries out the money steps the session asks for, and checkpoints
the session to Redis (fenced by the lease, through its `edge.tables.TableHost`), which then
delivers the resulting messages to this server's connections and publishes them for the
other servers'. No PostgreSQL round trip per action: PostgreSQL is touched to seat / top up /
cash out (the ledger) and once per finished hand (write-behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from edge import logs
from edge.inbox import Mailbox
from edge.lobby import LivePace
from edge.table_steps import MoneySteps, table_from_ledger
from holdem.adapters.checkpoints import LeaseLostError
from holdem.adapters.leases import Lease
from holdem.engine import shuffle
from holdem.engine.table import Table
from holdem.protocol.messages import ServerType
from holdem.services.errors import TableNotOpen
from holdem.services.lobby import TableSummary, announce, live_figures
from holdem.session import TableSession, TableTimes
from holdem.session.chat import ChatRules
from holdem.session.commands import Act, command_from_stream
from holdem.session.effects import (
    Checkpoint,
    Effect,
    HandFinished,
    Publish,
    SeatTaken,
    TableClosed,
)

if TYPE_CHECKING:
    from edge.tables import TableHost

__all__ = ["TableActor"]

log = logging.getLogger("edge.tables")  # (the name the table's logs always had)


class TableActor:
    """The single writer of one table (one asyncio task): the I/O loop around its session.

    Take the commands waiting → `TableSession.apply` each → carry out the effects (a money
    step at once, its outcome fed back) → one fenced checkpoint that stores the session and
    publishes what it produced; `TableSession.tick` when its next deadline comes.
    """

    def __init__(self, host: TableHost, lease: Lease) -> None:
        self.host = host
        self.lease = lease
        self.table_id = lease.table_id
        self.metrics = host.metrics
        self.session: TableSession | None = None
        self.mailbox: Mailbox | None = None
        self.outgoing: list[Publish] = []
        self._stopping = False
        self.lost = False
        self.task: asyncio.Task[None] | None = None
        self.steps = MoneySteps(host.money, self.table_id, host.settings.protection, self.metrics)
        self.live = LivePace(host.settings.ws.lobby_interval_s)
        self._draining = host.draining
        self._dirty = False
        self._closed = False

    def start(self) -> None:
        self.task = asyncio.create_task(self._main(), name=f"table-{self.table_id}")

    @property
    def table(self) -> Table | None:
        return None if self.session is None else self.session.table

    @property
    def stopping(self) -> bool:
        """Told to stop: the actor returns before its next step (checkpoint, lease released)."""
        return self._stopping

    @stopping.setter
    def stopping(self, value: bool) -> None:
        self._stopping = value
        self._nudge()

    @property
    def draining(self) -> bool:
        """Handing the table over: no new hand; the actor returns once the table is idle."""
        return self._draining

    @draining.setter
    def draining(self, value: bool) -> None:
        self._draining = value
        if self.session is not None:
            self.session.draining = value
        self._nudge()

    def _nudge(self) -> None:
        """The loop waits only for a command or the session's next deadline: a change made
        from outside (stop, hand over) ends the wait, so it is seen at once."""
        if self.mailbox is not None:
            self.mailbox.nudge()

    @property
    def closing(self) -> bool:
        return self.session is not None and self.session.closing

    @property
    def busy(self) -> bool:
        return self.session is not None and self.session.busy

    def lease_lost(self) -> None:
        """The lease expired or was taken over: stop without touching the table again."""
        self.lost = True
        self.stopping = True

    async def _main(self) -> None:
        logs.conn_id.set(None)  # the task was created in a connection's context
        logs.table_id.set(self.table_id)
        try:
            await self._restore()
            await self._loop()
        except LeaseLostError:
            self.lost = True
            log.warning("lease lost; another server runs the table now")
        except TableNotOpen:
            log.info("table is not open; not running it")
            await self.host.fleet.mark_idle(self.table_id)
        except RedisError as exc:
            # Not a bug: the table is taken again (here or elsewhere) from its checkpoint, or
            # rebuilt from PostgreSQL if Redis lost it, once Redis answers.
            log.warning("Redis unavailable (%r); releasing the table", exc)
        except Exception:
            log.exception("table task failed; releasing the table")
        finally:
            if self.mailbox is not None:
                self.host.inbox.close(self.mailbox)
            if not self.lost:
                with contextlib.suppress(Exception):
                    await self._checkpoint()
            if self.mailbox is not None:
                await self.host.inbox.hand_on(self.mailbox)
            if not self.lost:
                with contextlib.suppress(Exception):
                    await self.host.leases.release(self.lease)
            self.host.forget(self)

    async def _restore(self) -> None:
        money, game = self.host.money, self.host.settings.game
        row = await money.table_row(self.table_id)
        times = TableTimes(**game.model_dump(include=set(TableTimes.__dataclass_fields__)))
        chat_settings = self.host.settings.chat
        chat = ChatRules(**chat_settings.model_dump(include=set(ChatRules.__dataclass_fields__)))
        fence, seeds = self.lease.token, shuffle.new_seed
        saved = await self.host.checkpoints.load(self.table_id)
        if saved is not None:
            saved.state["rt"].setdefault("hand_events", saved.log)
            session = TableSession.from_checkpoint(
                self.table_id, saved.state, times=times, fence=fence, seeds=seeds, chat=chat
            )
            self.metrics.takeovers.inc()
            log.info("resumed from checkpoint", extra={"hand_running": session.busy})
        else:
            table = await table_from_ledger(money, self.table_id, row)
            session = TableSession.new(
                self.table_id,
                table,
                times=times,
                fence=fence,
                seeds=seeds,
                now=time.time(),
                chat=chat,
            )
        self.session, session.draining = session, self._draining
        self.mailbox = self.host.inbox.open(self.table_id, session.cursor)
        resumed, closing = saved is not None, row.status == "closing"
        now, guard_now = time.time(), self.host.clock()
        await self._carry_out(
            session.open(now, resumed=resumed, closing=closing, guard_now=guard_now)
        )
        await self._checkpoint()

    async def _loop(self) -> None:
        session, mailbox = self.session, self.mailbox
        assert session is not None
        assert mailbox is not None
        while not self.stopping:
            for entry_id, fields in await mailbox.take(self._wait_s(session)):
                command = command_from_stream(entry_id, fields)
                started = time.perf_counter()
                logs.action_id.set(entry_id or None)
                try:
                    now, guard_now = time.time(), self.host.clock()
                    await self._carry_out(session.apply(command, now, guard_now=guard_now))
                finally:
                    logs.action_id.set(None)
                if isinstance(command, Act):
                    self.metrics.action_latency.observe(time.perf_counter() - started)
            await self._carry_out(session.tick(time.time(), guard_now=self.host.clock()))
            due = self.live.due
            if self._dirty or (due is not None and time.time() >= due):
                await self._checkpoint()  # (or only the live figures that were held back)
                mailbox.saved()
            if self._closed:
                if self.steps.closed_row is not None:
                    await announce(self.host.relay, TableSummary(self.steps.closed_row, 0))
                await self.host.fleet.mark_idle(self.table_id)
                log.info("table closed")
                return
            if self.draining and not session.busy:
                return

    def _wait_s(self, session: TableSession) -> float | None:
        """How long to wait for a command: until the session's next deadline or the live
        figures held back (at least 1 ms: the loop always yields to the event loop), and
        without a timer when there is neither (an idle table costs nothing until a command
        comes; `stopping` and `draining` end the wait)."""
        now = time.time()
        due = [t for t in (session.next_deadline(now), self.live.due) if t is not None]
        return max(0.001, min(due) - now) if due else None

    async def _carry_out(self, effects: list[Effect]) -> None:
        """Collect the messages; take a money step at once and apply its outcome."""
        session = self.session
        assert session is not None
        while effects:
            more: list[Effect] = []
            for effect in effects:
                if isinstance(effect, Publish):
                    if effect.message["type"] == ServerType.ERROR:
                        self.metrics.count_error(effect.message["code"])
                    self.outgoing.append(effect)
                elif isinstance(effect, Checkpoint):
                    self._dirty = True
                elif isinstance(effect, HandFinished):
                    self.metrics.hands.inc()
                    settled = effect.settlement
                    nets = {p["user_id"]: p["net"] for p in settled["players"]}
                    extra = {"board": settled["board"], "pot": settled["total_pot"]}
                    log.info("hand ended", extra={**extra, "rake": effect.rake, "net": nets})
                elif isinstance(effect, TableClosed):
                    self._closed = True
                elif isinstance(effect, SeatTaken):
                    # Rare (a sit): one Redis round trip; a repeat after a takeover is harmless.
                    await self.host.relay.drop_waiting(effect.user, self.table_id)
                else:
                    try:
                        outcome = await self.steps.take(effect)
                    except BaseException:
                        session.abort()  # undone; taken again when the command is applied again
                        raise
                    more = session.apply(outcome, time.time(), guard_now=self.host.clock())
            effects = more
        hand = session.table.hand
        logs.hand_no.set(None if hand is None else hand.number)

    async def _checkpoint(self) -> None:
        """Store the session, then publish what the last commands produced, in order: one
        fenced Redis round trip (with the live lobby figures when they go out)."""
        session = self.session
        if session is None:
            return
        self._dirty = False
        outgoing, self.outgoing = self.outgoing, []
        now = time.time()
        figures = self.live.update(
            live_figures(
                self.table_id, session.seated, session.recent, now, waiting=len(session.wait_list)
            ),
            now,
        )
        await self.host.store(self.lease, session, outgoing, figures)
