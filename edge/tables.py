"""Table ownership: the host of owned tables and the one task per table that runs the engine.

`TableHost` takes leases (on a player's join, and by scanning ``ws:tables:active`` for tables
whose owner died), renews them, and runs one `TableActor` per owned table. The actor is the
only caller of the engine for its table: it takes the commands of the table's relay stream
in order from its mailbox (one reader per server reads every owned table's stream, see
`edge.inbox`), applies them, checkpoints the engine state to Redis (fenced by the lease),
then publishes the resulting messages. No PostgreSQL round trip per action: PostgreSQL is
touched to seat / top up / cash out (the ledger) and once per finished hand (write-behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from redis.exceptions import RedisError

from edge import logs
from edge.inbox import Inbox, Mailbox
from edge.metrics import Metrics
from holdem.adapters.checkpoints import CheckpointStore, LeaseLostError
from holdem.adapters.fleet import Fleet
from holdem.adapters.leases import Lease, LeaseStore
from holdem.adapters.relay import Relay, pack_live, pack_many
from holdem.bootstrap import Container
from holdem.cancellation import cancel_and_wait
from holdem.engine import shuffle
from holdem.engine.blinds import SeatStatus
from holdem.engine.errors import EngineError
from holdem.engine.events import Event, HandEnded, HandStarted, audience
from holdem.engine.rake import RakeRule
from holdem.engine.table import Table, TableConfig
from holdem.engine.views import seat_status_name, view_for
from holdem.protocol import errors as perr
from holdem.protocol.messages import ServerType
from holdem.protocol.outgoing import Result
from holdem.protocol.views import event_to_wire, result_to_wire, view_to_wire
from holdem.services.errors import NotFound, ServiceError, TableNotOpen
from holdem.services.lobby import LIVE_MAX_HANDS, TableSummary, announce, live_figures
from holdem.services.protection import TableRules
from holdem.services.table_runtime import (
    HandSettlement,
    TableMoney,
    build_settlement,
    recorded_event,
)

log = logging.getLogger("edge.tables")

COMMAND_MAX_AGE_S = 30.0
"""Commands older than this when read are refused (``stale_action``; e.g. left in the stream of
a dead table), except a player's exclusion (``exclude``), applied however late."""
OUTBOX_RETRY_S = 1.0
ANSWERS_KEPT = 16
"""The results of a user's last state-changing commands kept in the checkpoint, to answer a
resend (after a reconnect or a takeover) with the original result instead of acting twice."""
COMMANDS = frozenset(["act", "sit", "top_up", "sit_out", "sit_in", "leave", "reality_check_ack"])
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
        self.money = TableMoney(container.sessions, integrity=container.settings.integrity)
        self.actors: dict[int, TableActor] = {}
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
    """The single writer of one table (one asyncio task)."""

    def __init__(self, host: TableHost, lease: Lease) -> None:
        self.host = host
        self.lease = lease
        self.table_id = lease.table_id
        self.relay = host.relay
        self.settings = host.settings
        self.metrics = host.metrics
        self.table: Table | None = None
        self.rt: dict[str, Any] = {}
        self.mailbox: Mailbox | None = None
        self.outgoing: list[tuple[int | None, str | None, dict[str, Any]]] = []
        self.draining = host.draining
        self.stopping = False
        self.lost = False
        self.task: asyncio.Task[None] | None = None
        # The lobby's live figures: the last published, when the next may go out (at most one
        # per WS__LOBBY_INTERVAL_S), and when a withheld change is due.
        self._lobby_sent: dict[str, Any] | None = None
        self._lobby_next = 0.0
        self._lobby_due: float | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.task = asyncio.create_task(self._main(), name=f"table-{self.table_id}")

    @property
    def closing(self) -> bool:
        """An operator closed the table: no more hands; everybody is cashed out after this one."""
        return bool(self.rt.get("closing"))

    @property
    def busy(self) -> bool:
        """A hand is running or a settlement waits: draining should wait for it."""
        table = self.table
        running = table is not None and table.hand_running
        return bool(running or self.rt.get("outbox"))

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
                with contextlib.suppress(Exception):
                    await self.host.leases.release(self.lease)
            self.host.forget(self)

    def lease_lost(self) -> None:
        """The lease expired or was taken over: stop without touching the table again."""
        self.lost = True
        self.stopping = True

    # ------------------------------------------------------------------ restore

    async def _restore(self) -> None:
        row = await self.host.money.table_row(self.table_id)
        config = TableConfig(
            seats=row.max_seats,
            small_blind=row.small_blind,
            big_blind=row.big_blind,
            min_buy_in=row.min_buy_in,
            max_buy_in=row.max_buy_in,
            rake=RakeRule(Fraction(row.rake_rate_bps, 10_000), row.rake_cap),
        )
        saved = await self.host.checkpoints.load(self.table_id)
        if saved is not None:
            self.table = Table.from_state(saved["engine"])
            self.rt = saved["rt"]
            if self.table.hand is not None:
                logs.hand_no.set(self.table.hand.number)  # the log lines of the resumed hand
            self.metrics.takeovers.inc()
            log.info("resumed from checkpoint", extra={"hand_running": self.table.hand_running})
            self._give_turn_back()
        else:
            # No checkpoint: a brand new table, or Redis lost the state. PostgreSQL holds every
            # seat's balance as of the last settled hand, so a hand in progress is void and
            # every stack is back to its start-of-hand value.
            table = Table(config)
            seated = await self.host.money.open_seats(self.table_id)
            for seat_no, user_id, balance in seated:
                if balance > 0:
                    _sit_restored(table, seat_no, str(user_id), balance)
            self.table = table
            # A restored table skips one hand number: the voided hand's number is never
            # reused, so a click meant for the voided hand cannot act in the next one.
            last_hand = await self.host.money.last_hand_number(self.table_id)
            table.hand_count = last_hand + 1 if seated else last_hand
            self.rt = {
                # From the start of the stream: commands sent while this owner was being
                # chosen are applied; older ones are dropped by their age.
                "cursor": "0-0",
                "seqs": {},
                "timeouts": {},
                "banks": {},
                "graces": {},
                "conns": {},
                "turn": None,
                "outbox": [],
                "leaving": [],
                "hand_started_at": None,
                "hand_events": [],
                "recent": [],
                "answers": {},
                "next_hand_at": time.time() + self.settings.game.between_hands_s,
            }
            if seated:
                self._notice_all("table_restored", "the table was restored from the ledger")
        if row.status == "closing":
            self.rt["closing"] = True
        self.mailbox = self.host.inbox.open(self.table_id, self.rt["cursor"])
        self._broadcast_snapshots()
        await self._checkpoint()

    # ------------------------------------------------------------------ main loop

    async def _loop(self) -> None:
        mailbox = self.mailbox
        assert mailbox is not None
        while not self.stopping:
            # At least 1 ms: the loop always yields to the event loop.
            commands = await mailbox.take(max(0.001, self._seconds_to_next_deadline()))
            changed = False
            for entry_id, command in commands:
                self.rt["cursor"] = entry_id
                started = time.perf_counter()
                await self._apply(entry_id, command)
                changed = True
                if command.get("kind") == "act":
                    self.metrics.action_latency.observe(time.perf_counter() - started)
            if await self._tick():
                changed = True
            if changed:
                await self._checkpoint()
            elif self._lobby_due is not None and time.time() >= self._lobby_due:
                await self._checkpoint()  # the live figures that were held back
            if self.draining and not self.busy:
                return
            if self.closing and not self.busy and await self._finish_closing():
                return

    def _seconds_to_next_deadline(self) -> float:
        now = time.time()
        waits = [0.5]
        turn = self.rt.get("turn")
        if turn is not None:
            waits.append(turn["deadline"] - now)
        if self._lobby_due is not None:
            waits.append(self._lobby_due - now)
        if self.rt.get("outbox"):
            waits.append(OUTBOX_RETRY_S)
        elif self.table is not None and self._may_deal() and self.table.can_start_hand():
            # Only a table that can deal waits for the next hand: an idle table (fewer than
            # two players ready) blocks on its inbox instead of polling it every millisecond.
            waits.append(self.rt["next_hand_at"] - now)
        return max(0.0, min(waits))

    async def _tick(self) -> bool:
        """Deadlines: the action clock, settlement retries, the next hand."""
        table = self.table
        assert table is not None
        changed = False
        turn = self.rt.get("turn")
        hand = table.hand
        if (
            turn is not None
            and hand is not None
            and hand.result is None
            and time.time() >= turn["deadline"]
        ):
            seat = turn["seat"]
            key = str(seat)
            log.info("turn timed out", extra={"seat": seat})
            self.rt["banks"][key] = 0.0
            if turn.get("grace"):
                self.rt.setdefault("graces", {})[key] = 0.0
            hand.timeout(seat)
            count = self.rt["timeouts"].get(key, 0) + 1
            self.rt["timeouts"][key] = count
            if count >= self.settings.game.timeouts_before_sit_out:
                table.sit_out(seat)
                self._notice_seat(seat, "sat_out", "three timeouts in a row: sat out")
            await self._after_engine()
            changed = True
        if self.rt.get("outbox"):
            if await self._settle_pending():
                changed = True
            return changed
        if (
            not table.hand_running
            and self._may_deal()
            and time.time() >= self.rt["next_hand_at"]
            and table.can_start_hand()
        ):
            table.start_hand(seed=shuffle.new_seed())
            self.rt["hand_started_at"] = time.time()
            self.rt["graces"] = {}  # the reconnect grace is a per-hand allowance
            self.rt["hand_events"] = []
            await self._after_engine()
            changed = True
        return changed

    def _may_deal(self) -> bool:
        return not self.draining and not self.closing

    # ------------------------------------------------------------------ closing

    def _begin_closing(self) -> None:
        """The operator closed the table (REST): the hand running is the last one."""
        if not self.closing:
            self.rt["closing"] = True
            self._notice_all("table_closing", "the table is closing: no more hands")

    async def _finish_closing(self) -> bool:
        """The last hand is over and settled: cash everybody out, mark the table closed and
        take it off the lobby. False while PostgreSQL cannot be reached (tried again on the
        next turn of the loop; each cash-out is idempotent)."""
        table = self.table
        assert table is not None
        try:
            for seat, player in enumerate(table.players):
                if player is not None:
                    await self._cash_out(seat, key=f"close:{self.table_id}:{seat}")
            row = await self.host.money.finish_closing(self.table_id)
        except Exception:
            log.warning("closing deferred", exc_info=True)
            return False
        self._notice_all("table_closed", "the table is closed")
        # Every server parts the table's remaining connections (spectators), so none of
        # them asks for an owner of the closed table again.
        self.outgoing.append((None, None, {"type": "_closed", "table_id": self.table_id}))
        await self._checkpoint()
        if row is not None:
            await announce(self.relay, TableSummary(row, 0))
        await self.host.fleet.mark_idle(self.table_id)
        log.info("table closed")
        return True

    # ------------------------------------------------------------------ commands

    async def _apply(self, entry_id: str, command: dict[str, Any]) -> None:
        kind = command.get("kind")
        user = int(command.get("user", 0))
        conn = command.get("conn")
        rid = command.get("rid")
        logs.action_id.set(entry_id)
        if kind != "exclude" and time.time() - float(command.get("at", 0)) > COMMAND_MAX_AGE_S:
            # Answered, not dropped: the player decides again. (An exclusion is never stale:
            # it reaches a table nobody ran for a while.)
            if kind in COMMANDS:
                waited = f"the command waited over {COMMAND_MAX_AGE_S:.0f} s for the table"
                self._reply_error(user, conn, rid, "stale_action", waited)
            return
        try:
            if kind == "join":
                self._connected(user, conn)
                self.outgoing.append((user, conn, {**self._snapshot_for(user), "id": rid}))
                return
            if kind == "disconnected":
                self._disconnected(user, conn)
                return
            if kind == "close":
                self._begin_closing()
                return
            if kind == "exclude":
                await self._exclude(user)
                return
            handler = _HANDLERS.get(str(kind))
            if handler is None:
                raise perr.UnknownMessageType(f"unknown command {kind!r}")
            # The result goes out before the messages the command caused (its `action`
            # event, the next `turn`, snapshots): a client hears its click was taken before
            # it hears what followed. A resend causes nothing and gets the original result.
            caused_from = len(self.outgoing)
            done = self._answer_of(user, command)
            if done is None:
                done = await handler(self, user, command, entry_id) or {}
                self._remember_answer(user, command, done)
            result: Result = {
                "type": "result",
                "id": rid,
                "table_id": self.table_id,
                "ok": True,
            }
            self.outgoing.insert(caused_from, (user, conn, {**result, **done}))
        except (perr.ProtocolError, EngineError, ServiceError) as exc:
            self._reply_error(user, conn, rid, exc.code, str(exc))
        except (LeaseLostError, asyncio.CancelledError):
            raise
        except Exception:
            # A bug must not turn one command into a poison message that kills every owner.
            log.exception("command failed", extra={"kind": kind})
            self._reply_error(user, conn, rid, "internal_error", "the command failed")
        finally:
            logs.action_id.set(None)

    def _reply_error(
        self, user: int, conn: str | None, rid: str | None, code: str, text: str
    ) -> None:
        self.metrics.count_error(code)
        self.outgoing.append(
            (
                user,
                conn,
                {
                    "type": ServerType.ERROR,
                    "id": rid,
                    "table_id": self.table_id,
                    "code": code,
                    "message": text,
                },
            )
        )

    @staticmethod
    def _answer_key(command: dict[str, Any]) -> str | None:
        """What makes a command the same command again: an act's sequence number (unique per
        user and table), another command's client id."""
        kind = command.get("kind")
        if kind == "act":
            return f"act:{command.get('seq')}"
        rid = command.get("rid")
        return f"{kind}:{rid}" if kind in COMMANDS and rid is not None else None

    def _answer_of(self, user: int, command: dict[str, Any]) -> dict[str, Any] | None:
        """The original result of a command applied already (a resend), else None."""
        key = self._answer_key(command)
        if key is None:
            return None
        for kept, answer in self.rt.setdefault("answers", {}).get(str(user), []):
            if kept == key:
                return dict(answer)
        return None

    def _remember_answer(self, user: int, command: dict[str, Any], answer: dict[str, Any]) -> None:
        """Keep the result of an applied command (in the checkpoint, with the state it made)."""
        key = self._answer_key(command)
        if key is None or self.table is None or self.table.seat_of(str(user)) is None:
            return  # a player who left has nothing left to resend to this table
        mine = self.rt.setdefault("answers", {}).setdefault(str(user), [])
        mine.append([key, answer])
        del mine[:-ANSWERS_KEPT]

    # ------------------------------------------------------------------ presence

    def _connected(self, user: int, conn: str | None) -> None:
        """A connection of a seated user joined the table (a reconnect) or took the seat.
        Spectators are not tracked: the checkpoint stays small however many watch."""
        assert self.table is not None
        if self.table.seat_of(str(user)) is None:
            return
        conns: dict[str, list[str]] = self.rt.setdefault("conns", {})
        mine = conns.setdefault(str(user), [])
        if conn is not None and conn not in mine:
            mine.append(conn)

    def _disconnected(self, user: int, conn: str | None) -> None:
        """A connection that had joined closed. When it was the user's last one, a seated
        player to act gets the reconnect grace on top of the clock."""
        conns: dict[str, list[str]] = self.rt.setdefault("conns", {})
        mine = conns.get(str(user), [])
        if conn in mine:
            mine.remove(conn)
        if mine:
            return
        conns.pop(str(user), None)
        assert self.table is not None
        seat = self.table.seat_of(str(user))
        turn = self.rt.get("turn")
        if seat is None or turn is None or turn["seat"] != seat or turn.get("grace"):
            return
        grace = self._grace_left(seat)
        if grace > 0:
            turn["grace"] = grace
            turn["deadline"] += grace
            self._turn_event("turn_extended", seat, turn)

    def _away(self, seat: int) -> bool:
        """Whether the seat's player has no connection joined to the table."""
        assert self.table is not None
        player = self.table.players[seat]
        return player is not None and not self.rt.get("conns", {}).get(player)

    def _grace_left(self, seat: int) -> float:
        graces = self.rt.get("graces", {})
        return float(graces.get(str(seat), self.settings.game.reconnect_grace_s))

    def _seat_of(self, user: int) -> int:
        assert self.table is not None
        seat = self.table.seat_of(str(user))
        if seat is None:
            raise perr.NotSeated(f"user {user} has no seat at table {self.table_id}")
        return seat

    async def _act(self, user: int, command: dict[str, Any], entry_id: str) -> dict[str, Any]:
        table = self.table
        assert table is not None
        seat = self._seat_of(user)
        hand = table.hand
        if hand is None or hand.result is not None or command["hand"] != hand.number:
            current = hand.number if hand is not None and hand.result is None else None
            raise perr.StaleAction(f"hand {command['hand']} is not running (current: {current})")
        last = self.rt["seqs"].get(str(user), 0)
        if command["seq"] <= last:
            raise perr.StaleAction(
                f"sequence number {command['seq']} was already used (last {last})"
            )
        decision = command.get("decision")
        if decision is not None and decision != hand.seq:
            # A click for a decision already made (a double click, or an act chosen before
            # the turn was given back after a takeover and answered meanwhile by a resend).
            raise perr.StaleAction(f"decision {decision} was made already (now {hand.seq})")
        action = command["action"]
        amount = command.get("amount")
        if action == "fold":
            done = hand.fold(seat)
        elif action == "check":
            done = hand.check(seat)
        elif action == "call":
            done = hand.call(seat)
        elif amount is None:
            raise perr.InvalidMessage(f"{action} needs an amount (the raise-to total)")
        elif action == "bet":
            done = hand.bet(seat, amount)
        else:
            done = hand.raise_bet(seat, amount)
        self.rt["seqs"][str(user)] = command["seq"]
        self._spend_clock(seat)
        self.rt["timeouts"][str(seat)] = 0
        await self._after_engine()
        return {
            "hand": hand.number,
            "seq": command["seq"],
            "action": done.kind.value,
            "amount": done.amount,
        }

    async def _sit(self, user: int, command: dict[str, Any], entry_id: str) -> dict[str, Any]:
        table = self.table
        assert table is not None
        if self.closing:
            raise TableNotOpen("the table is closing")
        seat, amount = command["seat"], command["buy_in"]
        # Seat in the engine first (its checks: seat free, not seated yet, buy-in range), so
        # no money moves for a request the table refuses; undo it if the ledger refuses.
        table.sit_down(seat, str(user), amount, post=bool(command.get("post", False)))
        try:
            # The player's session rules are read first: nothing has moved if that fails.
            guard = self.settings.protection
            rules = await self.host.money.table_rules(
                user, guard.reality_check_minutes, guard.session_break_s
            )
            await self.host.money.sit(
                self.table_id, seat, user, amount, key=f"sit:{self.table_id}:{entry_id}"
            )
        except BaseException:
            table.leave(seat)
            raise
        self.rt["seqs"].setdefault(str(user), 0)
        self._start_session(user, rules)
        self._connected(user, command.get("conn"))
        self._broadcast_snapshots()
        return {"seat": seat, "stack": amount, "status": seat_status_name(table.status[seat])}

    async def _top_up(self, user: int, command: dict[str, Any], entry_id: str) -> dict[str, Any]:
        table = self.table
        assert table is not None
        if self.closing:
            raise TableNotOpen("the table is closing")
        seat = self._seat_of(user)
        amount = command["amount"]
        hand = table.hand
        if hand is not None and hand.result is None and hand.dealt[seat]:
            raise perr.NotBetweenHands("top up between hands: your hand is running")
        high = table.config.buy_in_range[1]
        if table.stacks[seat] + amount > high:
            raise perr.InvalidMessage(f"a stack may not exceed {high} after a top-up")
        await self.host.money.top_up(
            self.table_id, user, amount, key=f"topup:{self.table_id}:{entry_id}"
        )
        table.top_up(seat, amount)
        self._broadcast_snapshots()
        return {"seat": seat, "stack": table.stacks[seat]}

    async def _sit_out(self, user: int, command: dict[str, Any], entry_id: str) -> dict[str, Any]:
        assert self.table is not None
        seat = self._seat_of(user)
        self.table.sit_out(seat)
        self._broadcast_snapshots()
        return {"seat": seat}

    async def _sit_in(self, user: int, command: dict[str, Any], entry_id: str) -> dict[str, Any]:
        assert self.table is not None
        seat = self._seat_of(user)
        if self._guard(user).get("check_due"):
            raise perr.RealityCheckPending("acknowledge the reality check first")
        self.table.sit_in(seat, post=bool(command.get("post", False)))
        self.rt["timeouts"][str(seat)] = 0
        self._broadcast_snapshots()
        return {"seat": seat, "status": seat_status_name(self.table.status[seat])}

    async def _leave(self, user: int, command: dict[str, Any], entry_id: str) -> dict[str, Any]:
        table = self.table
        assert table is not None
        seat = table.seat_of(str(user))
        if seat is None:
            self._disconnected(user, command.get("conn"))
            return {"left": True}  # a spectator stops watching (handled by its server)
        hand = table.hand
        if hand is not None and hand.result is None and hand.dealt[seat]:
            table.sit_out(seat)
            if seat not in self.rt["leaving"]:
                self.rt["leaving"].append(seat)
            if hand.to_act == seat:
                hand.fold(seat)
                await self._after_engine()
            return {"seat": seat, "left": False, "after_hand": True}
        await self._cash_out(seat, key=f"leave:{self.table_id}:{entry_id}")
        return {"seat": seat, "left": True}

    async def _cash_out(self, seat: int, key: str) -> None:
        table = self.table
        assert table is not None
        player = table.players[seat]
        assert player is not None
        try:
            await self.host.money.cash_out(
                self.table_id, seat, int(player), table.stacks[seat], key=key
            )
        except NotFound:
            # The seat row is closed already, and its cash-out committed with it: a new owner
            # repeating a cash-out its checkpoint did not record yet.
            log.info("seat already cashed out", extra={"seat": seat})
        table.leave(seat)
        self.rt["seqs"].pop(player, None)
        self.rt.setdefault("guards", {}).pop(player, None)
        self.rt.get("answers", {}).pop(player, None)
        self.rt.get("conns", {}).pop(player, None)  # its servers part its connections
        self.outgoing.append((int(player), None, {"type": "_parted", "table_id": self.table_id}))
        self._broadcast_snapshots()

    # ------------------------------------------------------------------ player protection

    def _guard(self, user: int) -> dict[str, Any]:
        """The player's session at this table (kept in the checkpoint: a takeover keeps the
        session clock, the net result and a reality check waiting for its acknowledgement)."""
        return dict(self.rt.setdefault("guards", {}).get(str(user)) or {})

    def _start_session(self, user: int, rules: TableRules) -> None:
        """A player sat down: their session here starts now, with their own session limit
        (counted from the start of their session at any table) and reality-check interval."""
        now = self.host.clock()
        limit = rules.session_minutes
        every = rules.reality_check_minutes * 60
        self.rt.setdefault("guards", {})[str(user)] = {
            "started": now,
            "ends": None if limit is None else now - rules.played_s + limit * 60,
            "every": every,
            "next_check": now + every,
            "net": 0,
            "check_due": False,
        }

    def _guard_after_hand(self, settlement: HandSettlement) -> None:
        """A hand ended: count each player's result; a session past its length is ended
        (cashed out once the hand is settled), and a reality check that is due is sent and
        sits the player out until they acknowledge it."""
        table = self.table
        assert table is not None
        guards: dict[str, dict[str, Any]] = self.rt.setdefault("guards", {})
        for part in settlement["players"]:
            guard = guards.get(str(part["user_id"]))
            if guard is not None:
                guard["net"] += part["net"]
        now = self.host.clock()
        for seat, player in enumerate(table.players):
            if player is None or (guard := guards.get(player)) is None:
                continue
            if guard["ends"] is not None and now >= guard["ends"]:
                table.sit_out(seat)
                if seat not in self.rt["leaving"]:
                    self.rt["leaving"].append(seat)
                self._notice_seat(seat, "session_limit_reached", "your session limit is reached")
            elif not guard["check_due"] and now >= guard["next_check"]:
                guard["check_due"] = True
                table.sit_out(seat)
                self.outgoing.append(
                    (
                        int(player),
                        None,
                        {
                            "type": ServerType.REALITY_CHECK,
                            "table_id": self.table_id,
                            "played_s": round(now - guard["started"]),
                            "net": guard["net"],
                        },
                    )
                )

    async def _reality_check_ack(
        self, user: int, command: dict[str, Any], entry_id: str
    ) -> dict[str, Any]:
        table = self.table
        assert table is not None
        seat = self._seat_of(user)
        guards: dict[str, dict[str, Any]] = self.rt.setdefault("guards", {})
        guard = guards.get(str(user))
        if guard is None or not guard["check_due"]:
            return {"seat": seat, "acknowledged": False}
        guard["check_due"] = False
        guard["next_check"] = self.host.clock() + guard["every"]
        if table.stacks[seat] > 0:
            table.sit_in(seat)
        self._broadcast_snapshots()
        return {"seat": seat, "acknowledged": True}

    async def _exclude(self, user: int) -> None:
        """The player began a break or self-exclusion (REST): they leave this table at the
        end of the hand running, or now if they are not in it."""
        table = self.table
        assert table is not None
        seat = table.seat_of(str(user))
        if seat is None:
            return
        table.sit_out(seat)  # dealt no more hands, whatever happens next
        hand = table.hand
        if hand is None or hand.result is not None or not hand.dealt[seat]:
            try:
                await self._cash_out(seat, key=f"exclude:{self.table_id}:{table.hand_count}:{seat}")
                return
            except Exception:  # PostgreSQL unavailable: cashed out after the next hand
                log.warning("cash-out deferred", exc_info=True)
        if seat not in self.rt["leaving"]:
            self.rt["leaving"].append(seat)
        if hand is not None and hand.result is None and hand.to_act == seat:
            hand.fold(seat)  # as a leave does: the table does not wait for a player now barred
            await self._after_engine()

    # ------------------------------------------------------------------ after the engine moved

    async def _after_engine(self) -> None:
        table = self.table
        assert table is not None
        events = table.drain_events()
        for event in events:
            self._publish_event(event)
        hand = table.hand
        if hand is None:
            return
        if hand.result is None:
            self._start_turn(hand.to_act)
            return
        self.rt["turn"] = None
        ended = [e for e in events if isinstance(e, HandEnded)]
        if ended:
            settlement = build_settlement(
                table_id=self.table_id,
                fence=self.lease.token,
                hand=hand,
                result=ended[0].result,
                started_at=float(self.rt.get("hand_started_at") or time.time()),
                events=self.rt["hand_events"],
            )
            self.rt["outbox"].append(settlement)
            self.rt["hand_events"] = []
            recent = self.rt.setdefault("recent", [])
            recent.append([settlement["started_at"], time.time(), settlement["total_pot"]])
            del recent[:-LIVE_MAX_HANDS]
            self.metrics.hands.inc()
            self._guard_after_hand(settlement)
            result = ended[0].result
            log.info(
                "hand ended",
                extra={
                    "board": settlement["board"],
                    "pot": settlement["total_pot"],
                    "rake": result.rake,
                    "net": {p["user_id"]: p["net"] for p in settlement["players"]},
                },
            )
            self.outgoing.append(
                (
                    None,
                    None,
                    {
                        "type": ServerType.HAND_RESULT,
                        "table_id": self.table_id,
                        **result_to_wire(ended[0].result),
                    },
                )
            )
            self.rt["next_hand_at"] = time.time() + self.settings.game.between_hands_s

    def _publish_event(self, event: Event) -> None:
        table = self.table
        assert table is not None
        wire = event_to_wire(event)
        hand_no = table.hand.number if table.hand is not None else None
        self.rt["hand_events"].append(recorded_event(wire, self.rt))
        if isinstance(event, HandStarted):
            logs.hand_no.set(event.hand_number)
            log.info("hand started", extra={"seats": list(event.seats)})
        if isinstance(event, HandEnded):
            return
        owner = audience(event)
        msg = {"type": ServerType.EVENT, "table_id": self.table_id, "hand": hand_no, **wire}
        if owner is None:
            self.outgoing.append((None, None, msg))
        else:
            player = table.players[owner]
            if player is not None:
                msg["type"] = ServerType.HOLE_CARDS
                self.outgoing.append((int(player), None, msg))

    def _start_turn(self, seat: int) -> None:
        if seat < 0:
            self.rt["turn"] = None
            return
        turn = self.rt.get("turn")
        if (
            turn is not None
            and turn["seat"] == seat
            and turn.get("street_seq") == self._street_seq()
        ):
            return
        clock = self.settings.game.action_clock_s
        bank = float(self.rt["banks"].get(str(seat), self.settings.game.time_bank_s))
        # A disconnected player gets the reconnect grace too, spent before the time bank.
        grace = self._grace_left(seat) if self._away(seat) else 0.0
        now = time.time()
        turn = {
            "seat": seat,
            "started": now,
            "deadline": now + clock + bank + grace,
            "clock": clock,
            "grace": grace,
            "street_seq": self._street_seq(),
        }
        self.rt["turn"] = turn
        self._turn_event("turn", seat, turn)

    def _give_turn_back(self) -> None:
        """After a takeover: the player to act hears it is their turn again, with at least
        `takeover_min_clock_s` left. The action they may have sent to the server that died is
        either in the inbox (applied next, once) or resent by their client after it reconnects;
        either way the fault costs them no decision. The added time is clock, not time bank."""
        table = self.table
        turn = self.rt.get("turn")
        if turn is None or table is None or table.hand is None or table.hand.result is not None:
            return
        floor = time.time() + self.settings.game.takeover_min_clock_s
        if turn["deadline"] < floor:
            turn["clock"] += floor - turn["deadline"]
            turn["deadline"] = floor
        self._turn_event("turn", turn["seat"], turn)

    def _turn_event(self, name: str, seat: int, turn: dict[str, Any]) -> None:
        """Publish whose turn it is and its clock (``turn``; ``turn_extended`` when the player
        disconnected during the turn and got the reconnect grace)."""
        assert self.table is not None
        assert self.table.hand is not None
        bank = float(self.rt["banks"].get(str(seat), self.settings.game.time_bank_s))
        self.outgoing.append(
            (
                None,
                None,
                {
                    "type": ServerType.EVENT,
                    "event": name,
                    "table_id": self.table_id,
                    "hand": self.table.hand.number,
                    "seat": seat,
                    "clock_s": turn["clock"],
                    "time_bank_s": bank,
                    "grace_s": turn["grace"],
                    "deadline": turn["deadline"],
                    "decision": turn["street_seq"],
                    "legal": self.table.hand.legal_actions(seat)._asdict(),
                },
            )
        )

    def _street_seq(self) -> int:
        assert self.table is not None
        assert self.table.hand is not None
        return self.table.hand.seq

    def _spend_clock(self, seat: int) -> None:
        turn = self.rt.get("turn")
        if turn is None or turn["seat"] != seat:
            return
        used = time.time() - turn["started"]
        key = str(seat)
        over = max(0.0, used - turn["clock"])
        # Time beyond the clock comes out of the reconnect grace first (when it was granted
        # this turn), then out of the time bank.
        grace = float(turn.get("grace", 0.0))
        if grace:
            from_grace = min(over, grace)
            self.rt.setdefault("graces", {})[key] = self._grace_left(seat) - from_grace
            over -= from_grace
        bank = float(self.rt["banks"].get(key, self.settings.game.time_bank_s))
        self.rt["banks"][key] = max(0.0, bank - over)
        self.rt["turn"] = None
        self.rt["decided"] = [seat, round(used * 1000)]  # the action's think_ms, when stored

    # ------------------------------------------------------------------ settlement

    async def _settle_pending(self) -> bool:
        """Write the oldest unsettled hands to PostgreSQL; False while it is unreachable."""
        table = self.table
        assert table is not None
        progressed = False
        while self.rt["outbox"]:
            settlement: HandSettlement = self.rt["outbox"][0]
            started = time.perf_counter()
            try:
                await self.host.money.settle(settlement)
            except Exception:
                self.metrics.settlement_failures.inc()
                log.warning("settlement deferred (PostgreSQL unavailable?)", exc_info=True)
                self.rt["next_hand_at"] = time.time() + OUTBOX_RETRY_S
                return progressed
            self.metrics.postgres_latency.observe(time.perf_counter() - started)
            self.rt["outbox"].pop(0)
            progressed = True
        for seat in list(self.rt["leaving"]):
            self.rt["leaving"].remove(seat)
            if table.players[seat] is not None:
                try:
                    await self._cash_out(
                        seat, key=f"leave-after:{self.table_id}:{table.hand_count}:{seat}"
                    )
                except Exception:
                    log.warning("cash-out deferred", exc_info=True)
                    self.rt["leaving"].append(seat)
        self._broadcast_snapshots()
        return progressed

    # ------------------------------------------------------------------ output

    async def _checkpoint(self) -> None:
        """Store the state, then publish what the last commands produced, in order: one
        fenced Redis round trip."""
        table = self.table
        if table is None:
            return
        outgoing, self.outgoing = self.outgoing, []
        publish = pack_many([(self.table_id, user, conn, msg) for user, conn, msg in outgoing])
        live = None
        figures = self._lobby_update()
        if figures is not None:
            live, announce = pack_live(figures)
            publish.append(announce)
        started = time.perf_counter()
        await self.host.checkpoints.save(
            self.lease, {"engine": table.to_state(), "rt": self.rt}, publish, live
        )
        self.metrics.redis_latency.observe(time.perf_counter() - started)

    def _lobby_update(self) -> dict[str, Any] | None:
        """The live figures if they changed and may go out now (else remember they are due)."""
        table = self.table
        assert table is not None
        now = time.time()
        seated = sum(1 for p in table.players if p is not None)
        figures = live_figures(self.table_id, seated, self.rt.get("recent", []), now)
        if figures == self._lobby_sent:
            self._lobby_due = None
            return None
        if now < self._lobby_next:
            self._lobby_due = self._lobby_next
            return None
        self._lobby_sent = figures
        self._lobby_next = now + self.settings.ws.lobby_interval_s
        self._lobby_due = None
        return figures

    def _snapshot_for(self, user: int | None) -> dict[str, Any]:
        table = self.table
        assert table is not None
        seat = table.seat_of(str(user)) if user is not None else None
        view = view_to_wire(view_for(table, seat))
        turn = self.rt.get("turn")
        clock = None
        if turn is not None:
            remaining = max(0.0, turn["deadline"] - time.time())
            clock = {
                "seat": turn["seat"],
                "remaining_s": round(remaining, 3),
                "deadline": turn["deadline"],
                "grace_s": turn.get("grace", 0.0),
                "decision": turn["street_seq"],
            }
        return {
            "type": ServerType.SNAPSHOT,
            "table_id": self.table_id,
            "clock": clock,
            "last_seq": self.rt["seqs"].get(str(user), 0) if user is not None else 0,
            "settling": bool(self.rt.get("outbox")),
            "disconnected": [s for s in range(table.size) if self._away(s)],
            **view,
        }

    def _broadcast_snapshots(self) -> None:
        """Seating changed: everybody gets a fresh view (players their own, with cards)."""
        table = self.table
        assert table is not None
        self.outgoing.append((None, None, {**self._snapshot_for(None), "public": True}))
        for player in table.players:
            if player is not None:
                self.outgoing.append((int(player), None, self._snapshot_for(int(player))))

    def _notice_all(self, code: str, text: str) -> None:
        self.outgoing.append(
            (
                None,
                None,
                {
                    "type": ServerType.NOTICE,
                    "table_id": self.table_id,
                    "code": code,
                    "message": text,
                },
            )
        )

    def _notice_seat(self, seat: int, code: str, text: str) -> None:
        assert self.table is not None
        player = self.table.players[seat]
        if player is not None:
            self.outgoing.append(
                (
                    int(player),
                    None,
                    {
                        "type": ServerType.NOTICE,
                        "table_id": self.table_id,
                        "code": code,
                        "message": text,
                    },
                )
            )


def _sit_restored(table: Table, seat: int, player: str, stack: int) -> None:
    """Seat a player whose chips are already on the table (restored from the ledger)."""
    table.players[seat] = player
    table.stacks[seat] = stack
    table.status[seat] = SeatStatus.ACTIVE
    table.owes_big[seat] = False
    table.owes_small[seat] = False


_HANDLERS = {
    "act": TableActor._act,
    "sit": TableActor._sit,
    "top_up": TableActor._top_up,
    "sit_out": TableActor._sit_out,
    "sit_in": TableActor._sit_in,
    "leave": TableActor._leave,
    "reality_check_ack": TableActor._reality_check_ack,
}
