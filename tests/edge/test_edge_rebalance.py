"""Tables spread over the fleet: a server that joins later (a restarted or a new one) gets
tables handed over between hands by a server with two more, and play goes on at every table
with no decision lost and every won accounted for."""

from __future__ import annotations

import asyncio

from holdem.adapters.leases import LeaseStore
from tests.edge.conftest import assert_every_won_kept, url_of
from tests.edge.test_edge_failover import FUNDS, hands_written, seat_bots, wait_until

TABLES = 4


async def test_a_server_that_starts_later_gets_tables_handed_over_between_hands(
    start_edge, make_players, fund, make_table, clients, container
):
    first = await start_edge()
    players, tables, tasks = [], [], []
    for _ in range(TABLES):
        seated, table_id, bots = await seat_bots(
            2, make_players, fund, make_table, clients, [url_of(first)], think_s=0.02
        )
        players += seated
        tables.append(table_id)
        tasks += [asyncio.create_task(bot.play()) for bot in bots]
    leases = LeaseStore(container.redis, "test-observer", 1)

    async def owners() -> dict[str, int]:
        held = await leases.holders(tables)
        counts: dict[str, int] = {}
        for lease in held.values():
            if lease is not None:
                counts[lease.worker_id] = counts.get(lease.worker_id, 0) + 1
        return counts

    try:
        assert await owners() == {first.worker_id: TABLES}
        second = await start_edge()

        async def spread() -> bool:
            return await owners() == {first.worker_id: 2, second.worker_id: 2}

        await wait_until(spread, 30)
        # Every table deals again after its handover (its clients stayed on the first server).
        dealt = {t: await hands_written(container, t) for t in tables}

        async def all_dealt() -> bool:
            return all([await hands_written(container, t) > dealt[t] for t in tables])

        await wait_until(all_dealt, 30)
        assert await owners() == {first.worker_id: 2, second.worker_id: 2}  # and it stays
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await assert_every_won_kept(container, [p.user_id for p in players], FUNDS)
