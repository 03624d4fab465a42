"""An idle table (watched, no hand to deal) costs its owner nothing until a command comes:
its actor waits with no timer, and still sees at once that it must stop or hand over."""

from __future__ import annotations

from tests.edge.conftest import url_of
from tests.edge.test_edge_failover import wait_until


async def test_an_idle_tables_actor_waits_without_a_deadline_and_stops_when_told(
    start_edge, make_players, make_table, clients, container
):
    server = await start_edge()
    table_id = await make_table()
    [player] = await make_players(1)
    client = clients(url_of(server), player.token)
    await client.connect()
    await client.join(table_id, as_="spectator")

    async def waiting():
        actor = server.tables.actors.get(table_id)
        mailbox = None if actor is None else actor.mailbox
        return actor if mailbox is not None and mailbox._waiter is not None else None

    actor = await wait_until(waiting)  # restored, checkpointed, waiting for a command
    assert actor.session is not None
    assert actor._wait_s(actor.session) is None  # nothing to wait for but a command
    task = actor.task

    await server.tables.stop()

    assert task.done()
    assert not task.cancelled()  # it returned on its own: told, not cancelled after a grace
    assert await container.redis.get(f"ws:table:{table_id}:lease") is None  # released
