"""Benchmark of a table server's settlement of a finished hand: CPU per settled hand in the
settling process, through a session (SQLAlchemy's asyncio layer), in a transaction on a raw
connection, and in one statement on a raw connection.

``./dev bench settle [--hands N] [--rounds R]`` plays one 6-handed hand with the engine
(its ~30 events, 6 players, rake) and settles it N times under new hand numbers at one table,
one hand after another in one uvloop task (as a table's owner does), each settlement its own
transaction: the hand's rows, the ledger's ``ledger_post`` with the table's fencing token, the
commit. Three paths, in turn (the order reversed every other round), R rounds each:

* ``session`` — the settlement as `TableMoney.settle` wrote it before it moved to a raw
  connection: ``BEGIN``, the hand's rows, ``ledger_post``, ``COMMIT`` through a pooled
  SQLAlchemy session (the path kept here as the reference);
* ``transaction`` — the same four round trips on a raw psycopg connection of the process's
  `StatementPool` (`Settlements.transaction`: the settlement before the twelfth session, and
  still the path that raises a refused post's error);
* ``statement`` — `TableMoney.settle` as the table servers run it (`Settlements.at_once`: the
  hand's rows and ``ledger_post`` in one statement, one round trip).

Prints CPU ms and wall ms per hand of this process (PostgreSQL's own CPU is not counted: the
paths send it the same work) and the median ratios. A private PostgreSQL (not durable,
as the tests') is started unless ``DATABASE_URL`` names a server. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from fractions import Fraction
from pathlib import Path
from typing import cast

import uvloop
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from devstack import migrate
from devstack.services import PostgresServer
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import Container, bootstrap
from holdem.config import Settings
from holdem.engine.dealing import stacked_deck
from holdem.engine.events import HandEnded
from holdem.engine.rake import RakeRule
from holdem.engine.table import Table, TableConfig
from holdem.protocol.views import event_to_wire
from holdem.services import ledger
from holdem.services.ledger.posting import Standalone
from holdem.services.table_runtime import TableMoney
from holdem.session.settlement import HandSettlement, build_settlement
from loadtest.bench_ledger import seat_bench_table

PLAYERS = 6
STACK = 10**12
HOLES = {0: "AsAd", 1: "KsKd", 2: "QsQd", 3: "JsJd", 4: "Tc9c", 5: "8h7h"}

Settle = Callable[[HandSettlement], Awaitable[None]]


def _played_hand(table_id: int, users: list[int]) -> HandSettlement:
    """A 6-handed hand to showdown: a raise and five calls, then the first to act on each
    street bets and everyone calls."""
    rake = RakeRule(Fraction(5, 100), 6_000)
    table = Table(TableConfig(seats=PLAYERS, small_blind=1_000, big_blind=2_000, rake=rake))
    for seat, user in enumerate(users):
        table.sit_down(seat, str(user), 200_000)
    hand = table.start_hand(deck=stacked_deck(PLAYERS, HOLES, "2c7d9hJc3s"), button=0)
    hand.raise_to(hand.to_act, 6_000)
    while hand.result is None:
        seat = hand.to_act
        legal = hand.legal_actions(seat)
        if legal.can_bet:
            hand.bet(seat, 4_000)
        elif legal.call_amount:
            hand.call(seat)
        else:
            hand.check(seat)
    events = table.drain_events()
    ended = next(e for e in events if isinstance(e, HandEnded))
    return build_settlement(
        table_id=table_id,
        fence=1,
        hand=hand,
        result=ended.result,
        started_at=time.time() - 60,
        ended_at=time.time(),
        events=[event_to_wire(e) for e in events],
    )


async def _seated_table(container: Container) -> tuple[int, list[int]]:
    """A table and six players with their chips on it."""
    return await seat_bench_table(container, container.ledger, f"s{time.time_ns()}", STACK)


async def _post(session: AsyncSession, settlement: HandSettlement, hand_id: int) -> None:
    """The ledger's settle-hand of a hand whose rows were written (as the old paths posted it)."""
    await ledger.settle_hand(
        session,
        table_id=settlement["table_id"],
        hand_id=hand_id,
        fencing_token=settlement["fence"],
        nets={p["user_id"]: p["net"] for p in settlement["players"]},
        rake=settlement["rake"],
        rake_shares={p["user_id"]: p["rake_share"] for p in settlement["players"]},
    )


def _in_a_transaction(container: Container) -> Settle:
    """The settlement as `TableMoney.settle` runs it when the one statement was refused: four
    round trips on a raw connection."""

    async def settle(settlement: HandSettlement) -> None:
        async with container.settlements.transaction() as tx:
            hand_id = await tx.add_hand_rows(settlement)
            assert hand_id is not None
            await _post(cast(AsyncSession, Standalone(tx)), settlement, hand_id)

    return settle


def _through_a_session(container: Container) -> Settle:
    """The settlement through a SQLAlchemy session: the same statements, as `TableMoney.settle`
    sent them before the raw connection."""

    async def settle(settlement: HandSettlement) -> None:
        async with container.sessions() as session, session.begin():
            hand_id = await SqlTransaction(session).table_records.add_hand_rows(settlement)
            assert hand_id is not None
            await _post(session, settlement, hand_id)

    return settle


async def _measure(
    settle: Settle, hand: HandSettlement, first: int, hands: int
) -> tuple[float, float]:
    """CPU and wall ms per hand of `hands` settlements."""
    cpu, wall = time.process_time(), time.perf_counter()
    for number in range(first, first + hands):
        await settle({**hand, "hand_no": number})
    return (
        (time.process_time() - cpu) * 1000 / hands,
        (time.perf_counter() - wall) * 1000 / hands,
    )


async def _bench(url: str, hands: int, rounds: int) -> None:
    container = bootstrap(Settings(database_url=url, redis_url="redis://127.0.0.1:1/0"))
    try:
        table, users = await _seated_table(container)
        hand = _played_hand(table, users)
        money = TableMoney(container.transactions, container.settlements)
        paths: dict[str, Settle] = {
            "session": _through_a_session(container),
            "transaction": _in_a_transaction(container),
            "statement": money.settle,
        }
        print(
            f"  one hand: {len(hand['events'])} events, {len(hand['players'])} players, "
            f"rake {hand['rake']}; {hands} hands per round, {rounds} rounds, in turn"
        )
        number = 1
        for settle in paths.values():  # warm up: connections, prepared statements, plans
            await _measure(settle, hand, number, 50)
            number += 50
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for round_no in range(rounds):
            order = list(paths) if round_no % 2 == 0 else list(reversed(paths))
            for name in order:
                figures[name].append(await _measure(paths[name], hand, number, hands))
                number += hands
        for name, runs in figures.items():
            cpu = " / ".join(f"{c:.3f}" for c, _ in runs)
            wall = statistics.median(w for _, w in runs)
            median = statistics.median(c for c, _ in runs)
            print(
                f"  {name:11} CPU ms per hand {cpu} (median {median:.3f});"
                f" wall median {wall:.3f} ms"
            )
        medians = {name: statistics.median(c for c, _ in runs) for name, runs in figures.items()}
        for name, reference in (("transaction", "session"), ("statement", "transaction")):
            ratio = medians[name] / medians[reference]
            print(f"  {name} / {reference}, CPU per hand (medians): {ratio:.2f}")
        async with container.sessions() as session:
            settled = await session.scalar(
                text("select count(*) from hands where table_id = :t"), {"t": table}
            )
        print(f"  hands settled: {settled}")
    finally:
        await container.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hands", type=int, default=1_000, help="hands per round (1000)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per path (4)")
    args = parser.parse_args(argv)
    print(f"settlement benchmark: {os.cpu_count()} CPU(s), load average {_load()}")
    url = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        if not url:
            server = PostgresServer(Path(tmp), durable=False)
            server.start()
            url = server.create_database("bench")
        try:
            migrate.upgrade(url)
            uvloop.run(_bench(url, args.hands, args.rounds))
        finally:
            if server is not None:
                server.remove()
    print(f"  load average at the end: {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
