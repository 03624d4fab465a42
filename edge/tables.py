"""Table ownership: the host of owned tables and the one task per table that runs them.

`TableHost` takes leases (on a player's join, and by scanning ``ws:tables:active`` for tables
whose owner died), renews them, and runs one `TableActor` per owned table. The actor is the
I/O loop around the table's `holdem.session.TableSession` (the game-time rules, pure): it
takes the commands of the table's relay stream in order from its mailbox (one reader per
server reads every owned table's stream, see `edge.inbox`; acts from this server's own
sockets come straight in), applies them to the session, carries out the money steps the
session asks for, checkpoints the session to Redis (fenced by the lease), then delivers the
resulting messages to this server's connections and publishes them for the other
servers'. No PostgreSQL round trip per action:
PostgreSQL is touched to seat / top up / cash out (the ledger) and once per finished hand
(write-behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from edge import logs
from edge.inbox import Inbox, Mailbox
from edge.lobby import LivePace
from edge.metrics import Metrics
from edge.table_steps import MoneySteps, table_from_ledger
from holdem.adapters.checkpoints import CheckpointStore, LeaseLostError
from holdem.adapters.fleet import Fleet
from holdem.adapters.leases import Lease, LeaseStore
from holdem.adapters.relay import Relay, pack_live, pack_many
from holdem.bootstrap import Container
from holdem.cancellation import cancel_and_wait
from holdem.engine import shuffle
from holdem.engine.table import Table
from holdem.protocol.messages import ServerType
from holdem.services.errors import TableNotOpen
from holdem.services.lobby import TableSummary, announce, live_figures
from holdem.services.table_runtime import TableMoney
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
from holdem.session.table_session import COMMAND_MAX_AGE_S

__all__ = ["COMMAND_MAX_AGE_S", "TableActor", "TableHost"]

log = logging.getLogger("edge.tables")

STOP_GRACE_S = 5.0
CLAIM_DEFER_S = 1.0
"""A released table (handed over, or left by a draining server) is left this long to the live
server with the fewest tables before a busier one takes it. A dead owner's tables are taken
at once by whoever sees them first."""
HANDOVER_EVERY_S = 2.0
"""A server with two tables more than the lightest live one hands one over between hands, at
most once per this many seconds."""
HANDOVER_HOLD_S = 2.0
"""A table handed over is not taken back by its last owner for this long."""


class TableHost:
    """The tables this server owns."""

    def __init__(
        self, container: Container, worker_id: str, relay: Relay, fleet: Fleet, metrics: Metrics
    ) -> None:
        self.container = container
        self.settings = container.settings
        self.worker_id = worker_id
        self.relay = relay
        self.fleet = fleet
        self.metrics = metrics
        ttl_s = self.settings.ws.table_lease_ttl_s
        # The lease expires after 80% of the takeover bound; scans run every 10% of it, so a
        # dead owner's table is taken within the bound.
        self.leases = LeaseStore(container.redis, worker_id, int(ttl_s * 800))
        self.checkpoints = CheckpointStore(container.redis)
        self.inbox = Inbox(relay, worker_id)
        self.money = TableMoney(
            container.sessions, integrity=container.settings.integrity, game=self.settings.game
        )
        self.actors: dict[int, TableActor] = {}
        self.deliver: Callable[[int, list[tuple[int | None, str | None, dict[str, Any]]]], None] = (
            lambda table_id, batch: None
        )
        """Hands an actor's checkpointed messages to this server's own connections,
        ``(user or None for the table, connection or None, message)`` in order (set by the
        server; the published copies are skipped when they come back)."""
        self.clock: Callable[[], float] = time.time
        """The time player protection is measured in (session length, reality checks)."""
        self.draining = False
        self._lock = asyncio.Lock()
        self._absent: set[str] = set()
        """Lease holders the last scan found gone from Redis (see `scan_forever`)."""
        self._ownerless_since: dict[int, float] = {}
        """Tables the scans found without a live owner, and since when (monotonic)."""
        self._handed_over: dict[int, float] = {}
        """Tables this server handed to a lighter one, and when (monotonic)."""
        self._next_handover = 0.0

    async def ensure_owners(self, table_ids: list[int]) -> None:
        """Make sure somebody runs each table: take those whose lease nobody holds.

        Two round trips for any number of tables (a SADD and an MGET).
        """
        await self.fleet.mark_active(*table_ids)
        if self.draining:
            return
        others = [t for t in table_ids if t not in self.actors]
        for table_id in await self.leases.unowned(others):
            await self._try_take(table_id)

    async def _try_take(self, table_id: int, dead: Lease | None = None) -> None:
        """Run the table if its lease is free (or `dead`: held by a worker that died)."""
        async with self._lock:
            if table_id in self.actors or self.draining:
                return
            if (
                time.monotonic()
                < self._handed_over.get(table_id, -HANDOVER_HOLD_S) + HANDOVER_HOLD_S
            ):
                return  # handed to a lighter server: let it take the table
            if dead is not None:
                log.info("taking the table of a dead server", extra={"table": table_id})
                await self.leases.depose(dead)
            # Tokens stay above the ledger's: Redis may have lost the fence key.
            try:
                floor = await self.money.fence_floor(table_id)
            except Exception:  # PostgreSQL down: a checkpointed hand can still go on
                log.warning("fence floor unavailable", exc_info=True)
                floor = 0
            lease = await self.leases.acquire(table_id, floor)
            if lease is None:
                return
            log.info("table taken", extra={"table": table_id, "fence": lease.token})
            actor = TableActor(self, lease)
            self.actors[table_id] = actor
            self.metrics.tables.set(len(self.actors))
            actor.start()

    async def store(
        self,
        lease: Lease,
        session: TableSession,
        outgoing: list[Publish],
        live: dict[str, Any] | None,
    ) -> None:
        """Checkpoint a table's session (its hand log apart) and publish `outgoing` (named as
        this server's) and the `live` lobby figures if any, in one fenced round trip; then
        hand `outgoing` to this server's own connections."""
        batch = [(p.user, p.conn, p.message) for p in outgoing]
        publish = pack_many([(lease.table_id, *m) for m in batch], source=self.worker_id)
        hset = None
        if live is not None:
            hset, lobby = pack_live(live)
            publish.append(lobby)
        # (The hand's events are stored apart: the checkpoint store appends the new ones.)
        state = session.packed_checkpoint()
        started = time.perf_counter()
        await self.checkpoints.save(lease, state, session.hand_events, publish, hset)
        self.metrics.redis_latency.observe(time.perf_counter() - started)
        self.deliver(lease.table_id, batch)

    def forget(self, actor: TableActor) -> None:
        if self.actors.get(actor.table_id) is actor:
            del self.actors[actor.table_id]
            self.metrics.tables.set(len(self.actors))

    async def renew_forever(self) -> None:
        """Renew every lease this server holds, all in one call, 4 times per lease TTL.

        One round trip per period for the whole server (a call per table was ~40% of the
        Redis commands per action at 1,000 players). An actor whose lease was lost stops.
        """
        every = self.leases.ttl_ms / 4000
        while True:
            await asyncio.sleep(every)
            actors = list(self.actors.values())
            try:
                lost = set(await self.leases.renew_all([actor.lease for actor in actors]))
            except RedisError as exc:
                log.warning("lease renewal failed (%r)", exc)
                continue
            except Exception:
                log.warning("lease renewal failed", exc_info=True)
                continue
            for actor in actors:
                if actor.lease in lost:
                    actor.lease_lost()

    async def scan_forever(self) -> None:
        """Take over active tables whose lease expired (their owner handed over) or whose
        owner died.

        A killed server's Redis connections close with it, so its presence subscription is
        gone at once (`Fleet.absent`); seen gone by two scans in a row, its leases are taken
        without waiting for them to expire. Two scans, so an owner whose pub/sub connection
        is only being re-established keeps its tables (and if it loses one anyway, the fencing
        token stops it from touching the table again).
        """
        interval = self.settings.ws.table_lease_ttl_s / 10
        while True:
            try:
                if not self.draining:
                    await self._scan()
            except asyncio.CancelledError:
                raise
            except RedisError as exc:
                log.warning("takeover scan failed (%r)", exc)
            except Exception:
                log.warning("takeover scan failed", exc_info=True)
            await asyncio.sleep(interval)

    async def _scan(self) -> None:
        """Take the tables whose owner left or died, the lightest live server first; hand one
        over to a lighter server when this one has two more than it.

        One MGET for every lease (not a GET per table), one ZRANGEBYSCORE for the workers that
        take tables, one PUBSUB NUMSUB for their presence and the leases' holders.
        """
        others = [t for t in await self.fleet.active_tables() if t not in self.actors]
        held = await self.leases.holders(others)
        workers = await self.fleet.workers()
        holders = {lease.worker_id for lease in held.values() if lease is not None}
        absent = await self.fleet.absent(sorted((holders | set(workers)) - {self.worker_id}))
        dead, self._absent = absent & self._absent, absent
        load = {w: 0 for w in workers if w not in absent}
        for lease in held.values():
            if lease is not None and lease.worker_id in load:
                load[lease.worker_id] += 1
        load[self.worker_id] = len(self.actors)
        lightest = min(load.values())
        now = time.monotonic()
        ownerless = {}
        for table_id, lease in held.items():
            if lease is None or lease.worker_id == self.worker_id or lease.worker_id in dead:
                ownerless[table_id] = self._ownerless_since.get(table_id, now)
        self._ownerless_since = ownerless
        for table_id, since in ownerless.items():
            lease = held[table_id]
            if lease is not None and lease.worker_id in dead:
                # A dead owner's table: whoever sees it first, at once (a hand may be
                # waiting); the tables spread out again later, between hands.
                await self._try_take(table_id, dead=lease)
            elif len(self.actors) <= lightest or now - since >= CLAIM_DEFER_S:
                await self._try_take(table_id)  # a released one: the lightest server first
        self._hand_over_one(lightest)

    def _hand_over_one(self, lightest: int) -> None:
        """Hand one table over, between hands, when a live server has two fewer than this
        one: after a server died and came back (or a new one started) the tables spread out
        again instead of staying with the servers that took them over."""
        now = time.monotonic()
        if self.draining or now < self._next_handover or len(self.actors) < lightest + 2:
            return
        idle = [
            a
            for a in self.actors.values()
            if a.table is not None and not (a.busy or a.draining or a.closing)
        ]
        if not idle:
            return
        actor = min(idle, key=lambda a: a.table_id)
        self._next_handover = now + HANDOVER_EVERY_S
        self._handed_over = {
            t: at for t, at in self._handed_over.items() if now < at + HANDOVER_HOLD_S
        }
        self._handed_over[actor.table_id] = now
        log.info(
            "handing a table over to a lighter server",
            extra={"table": actor.table_id, "tables": len(self.actors), "lightest": lightest},
        )
        actor.draining = True  # returns between hands: checkpoint, lease released

    async def drain(self, bound_s: float) -> None:
        """Stop dealing; wait up to `bound_s` for running hands; hand the rest over."""
        self.draining = True
        for actor in list(self.actors.values()):
            actor.draining = True
        # A draining actor returns on its own once its hand is over and settled.
        tasks = [a.task for a in self.actors.values() if a.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=bound_s)
        await self.stop()

    async def stop(self) -> None:
        """Take no more tables and stop every actor; each checkpoints and releases its lease
        on the way out.

        An actor notices `stopping` between steps; one still waiting (on its mailbox or a
        settlement retry) after `STOP_GRACE_S` is cancelled, which runs the same checkpoint
        and release on its way out, so stopping a server is always bounded.
        """
        async with self._lock:  # no table is taken from here on (scan, ensure_owners)
            self.draining = True
            actors = list(self.actors.values())
        for actor in actors:
            actor.stopping = True
        tasks = [a.task for a in actors if a.task is not None]
        if not tasks:
            return
        _, waiting = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        await cancel_and_wait(waiting)


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
        self.stopping = False
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
    def draining(self) -> bool:
        """Handing the table over: no new hand; the actor returns once the table is idle."""
        return self._draining

    @draining.setter
    def draining(self, value: bool) -> None:
        self._draining = value
        if self.session is not None:
            self.session.draining = value

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
            # At least 1 ms: the loop always yields to the event loop.
            for entry_id, fields in await mailbox.take(max(0.001, self._wait_s(session))):
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

    def _wait_s(self, session: TableSession) -> float:
        now = time.time()
        due = (session.next_deadline(now), self.live.due)
        waits = [0.5, *(t - now for t in due if t is not None)]
        return max(0.0, min(waits))

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
