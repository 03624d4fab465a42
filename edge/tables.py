"""Table ownership: `TableHost`, the host of the tables this server owns.

It takes leases (on a player's join, and by scanning ``ws:tables:active`` for tables whose
owner died), renews them, hands tables over to lighter servers, drains, and runs one
`edge.table_actor.TableActor` per owned table (the I/O loop around the table's pure
`holdem.session.TableSession`). It also stores the actors' checkpoints: one fenced Redis
round trip that publishes what the table produced, then the messages handed to this
server's own connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from edge.inbox import Inbox
from edge.metrics import Metrics
from edge.table_actor import TableActor
from holdem.adapters.checkpoints import CheckpointStore
from holdem.adapters.fleet import Fleet
from holdem.adapters.leases import Lease, LeaseStore
from holdem.adapters.relay import Relay, pack_live, pack_many
from holdem.bootstrap import Container
from holdem.cancellation import cancel_and_wait
from holdem.services.table_runtime import TableMoney
from holdem.session import TableSession
from holdem.session.effects import Publish
from holdem.session.table_session import COMMAND_MAX_AGE_S

__all__ = ["COMMAND_MAX_AGE_S", "TableHost"]

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
            container.transactions,
            container.settlements,
            integrity=container.settings.integrity,
            game=self.settings.game,
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
